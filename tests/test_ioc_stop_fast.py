"""The epics-ioc stop does not wait for what cannot obey: an IOC or a procServ found stopped
(state T), or an IOC left a zombie, goes straight to signals instead of the console's stop
command and its shutdown_timeout (here the default 10 s). Real procServ and pythonSoftIOC, as
in test_epics_ioc.py; times are recorded, not asserted."""

import os
import signal
import time

from test_epics_ioc import ioc, started  # noqa: F401  (ioc is the fixture used below)


def stop(resource, record_property):
    began = time.monotonic()
    outcome = resource.run("stop", timeout_ms=30000)
    record_property("stop_s", round(time.monotonic() - began, 2))
    return outcome


def test_a_stopped_ioc_is_not_asked_on_its_console(ioc, record_property):  # noqa: F811
    resource = ioc()
    server, child = started(resource)
    os.kill(child.pid, signal.SIGSTOP)
    outcome = stop(resource, record_property)
    assert outcome.rc == 0, outcome
    log = resource.agent_log()
    assert f"IOC pid {child.pid} is stopped (state T): straight to signals" in log
    assert "exited on" not in log
    assert not server.alive() and not child.alive()


def test_a_stopped_procserv_is_not_asked_either(ioc, record_property):  # noqa: F811
    resource = ioc()
    server, child = started(resource)
    os.kill(server.pid, signal.SIGSTOP)
    outcome = stop(resource, record_property)
    assert outcome.rc == 0, outcome
    assert f"procServ pid {server.pid} is stopped (state T)" in resource.agent_log()
    assert not server.alive() and not child.alive()
    assert resource.run("monitor", 0).rc == 7


def test_a_zombie_ioc_under_a_stopped_procserv(ioc, record_property):  # noqa: F811
    resource = ioc()
    server, child = started(resource)
    os.kill(server.pid, signal.SIGSTOP)  # procServ cannot reap ...
    os.kill(child.pid, signal.SIGKILL)   # ... so its IOC stays a zombie
    until = time.monotonic() + 5
    while child.alive() and time.monotonic() < until:
        time.sleep(0.05)
    with open(f"/proc/{child.pid}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] == "Z"
    outcome = stop(resource, record_property)
    assert outcome.rc == 0, outcome
    assert not server.alive() and not child.alive()
    assert resource.run("monitor", 0).rc == 7
