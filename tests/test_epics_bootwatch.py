"""The depth-20 boot-directory probe of ocf:ocfpy:epics-ioc (agents/bootwatch.py) on its own:
one probe per resource at most, never waited for past the deadline, accounted for when it
returns, and re-checking a directory that failed until it answers. Real files, a real FIFO
(opening it blocks, as a stale NFS read does); no cluster, so the health attribute cannot be
set here (tests/test_cluster_stale_mount.py does that, and test_cluster_health_record.py shows
when it is asserted again)."""

import os
import time

import pytest

from ocfpy.agents import bootwatch


class Log:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    warning = debug = info


@pytest.fixture
def watch(tmp_path, monkeypatch):
    monkeypatch.setattr(bootwatch, "RECHECK", 0.2)   # inherited by the forked probes
    made = bootwatch.BootWatch(str(tmp_path / "ioc.pid"), "ioc-t", Log())
    yield made
    probe = _probe(made)
    if probe is not None and probe.alive():
        os.kill(probe.pid, 9)


def _probe(watch):
    from ocfpy import pidfile

    return pidfile.read(watch.path)


def _checks(directory):
    return [("list", str(directory)), ("read", str(directory / "st.cmd"))]


def _wait_gone(identity, timeout=10):
    until = time.monotonic() + timeout
    while identity.alive() and time.monotonic() < until:
        time.sleep(0.02)
    assert not identity.alive()


def test_a_directory_that_answers_leaves_nothing_behind(watch, tmp_path):
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "st.cmd").write_text("x")
    assert watch.check(_checks(tmp_path / "boot"), 2.0) == (True, "")
    assert _probe(watch) is None and not os.path.exists(watch.result_path)
    assert bootwatch.attribute_name("ioc:0") == "#health-ioc-ioc_0"


def test_a_hung_read_is_probed_once_and_accounted_for_when_it_returns(watch, tmp_path):
    boot = tmp_path / "boot"
    boot.mkdir()
    os.mkfifo(boot / "st.cmd")
    began = time.monotonic()
    healthy, why = watch.check(_checks(boot), 0.5)
    assert time.monotonic() - began < 2                    # never waited past its deadline
    assert not healthy and why == (f"reading {boot / 'st.cmd'} did not complete within 0.5s "
                                   f"(hung file system?)")
    stuck = _probe(watch)
    assert stuck is not None and stuck.alive()
    for _ in range(3):                                     # never a second probe
        healthy, why = watch.check(_checks(boot), 0.5)
        assert not healthy and f"probe pid {stuck.pid} has not returned" in why
        assert _probe(watch) == stuck
    writer = os.open(boot / "st.cmd", os.O_WRONLY | os.O_NONBLOCK)   # the read returns
    os.write(writer, b"#")
    os.close(writer)
    _wait_gone(stuck)
    os.unlink(boot / "st.cmd")
    (boot / "st.cmd").write_text("x")
    assert watch.check(_checks(boot), 0.5) == (True, "")
    assert f"the boot-directory probe pid {stuck.pid} returned: ok" in watch.log.lines


def test_a_failed_directory_is_rechecked_until_it_answers(watch, tmp_path):
    boot = tmp_path / "boot"
    healthy, why = watch.check(_checks(boot), 1.0)
    assert not healthy and why == f"{boot} cannot be listed: No such file or directory"
    rechecking = _probe(watch)
    assert rechecking is not None and rechecking.alive()   # it checks again on its own
    boot.mkdir()
    (boot / "st.cmd").write_text("x")
    _wait_gone(rechecking)                                 # ... and ends once it answers
    assert watch.check(_checks(boot), 1.0) == (True, "")
    assert f"the boot-directory probe pid {rechecking.pid} returned: ok" in watch.log.lines


def test_a_monitor_checks_afresh_instead_of_waiting_for_a_recheck(watch, tmp_path, monkeypatch):
    monkeypatch.setattr(bootwatch, "RECHECK", 60.0)
    boot = tmp_path / "boot"
    assert not watch.check(_checks(boot), 1.0)[0]
    sleeping = _probe(watch)
    boot.mkdir()
    (boot / "st.cmd").write_text("x")
    assert watch.check(_checks(boot), 1.0) == (True, "")   # not 60 s later
    assert not sleeping.alive() and _probe(watch) is None


def test_outside_pacemaker_there_is_no_attrd_and_nothing_is_recorded(watch):
    """Run by the test (not by pacemaker-execd) no attrd is found, and the real attrd_updater
    cannot reach one: report says why, and records no assertion, so the next monitor tries
    again rather than trusting a value attrd never took."""
    assert bootwatch.attrd_identity() == ""
    problem = watch.report(bootwatch.GREEN, interval=10.0, timeout=5.0)
    assert problem.startswith("attrd_updater exited with "), problem
    assert not os.path.exists(watch.health_path)
    assert watch._asserted() == {}
