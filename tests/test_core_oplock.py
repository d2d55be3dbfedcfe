"""The operation lock (ocfpy.oplock): concurrent operations on one resource run one after the
other, as when `crm_resource --force-start` runs beside the cluster. Real agents, real
processes; every path is a scratch file."""

import fcntl
import os
import signal
import subprocess
import time

import pytest
from ocfrun import AGENT_DIR, Outcome, pacemaker_environment, run_agent

from ocfpy.agents import ducc_env, procscan
from ocfpy.service import run_path

pytestmark = pytest.mark.timeout(180)
STANDIN_DUCC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ducc_standin", "admin",
                            "ducc.py")
HEAD = ("broker", "or", "rm", "pm", "sm", "ws")


def launch(agent, action, instance, params, **kwargs):
    env = pacemaker_environment(instance, params, **kwargs)
    return subprocess.Popen([f"{AGENT_DIR}/{agent}", action], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def finish(process):
    stdout, stderr = process.communicate(timeout=120)
    return Outcome(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))


def processes_with(token):
    """Identities of the live processes a test started: their environment has OCFPY_TOKEN."""
    return procscan.with_environment("OCFPY_TOKEN", token)


def kill_all(token):
    for identity in processes_with(token):
        try:
            os.kill(identity.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def token(tmp_path):
    word = f"oplock-{os.getpid()}-{tmp_path.name}"
    yield word
    kill_all(word)


def daemon_params(tmp_path, token, settle_ms):
    return {"command": "sleep 600", "environment": f"OCFPY_TOKEN={token}",
            "pidfile": str(tmp_path / "d.pid"), "start_settle": str(settle_ms)}


def epics_params(tmp_path, token, settle_ms):
    """An IOC under procServ whose startup script sleeps (settle_ms does not apply: procServ
    settles 0.2 s); procServ and the IOC both carry the token in their environment."""
    boot = tmp_path / "iocBoot"
    boot.mkdir()
    script = boot / "st.cmd"
    script.write_text("#!/bin/sh\nexec sleep 600\n")
    script.chmod(0o755)
    return {"ioc_name": "oplock", "boot_dir": str(boot), "pidfile": str(tmp_path / "ioc.pid"),
            "console": f"unix:{tmp_path}/console.sock", "stop_command": "",
            "environment": f"OCFPY_TOKEN={token}"}


def archiver_params(tmp_path, token, settle_ms):
    """The archiver stand-in (a real HTTP server answering the management BPL) on this test's
    own loopback ports, as tests/test_epics_archiver.py runs it."""
    from test_epics_archiver import Appliance

    params = Appliance(tmp_path).params
    params["environment"] += f" OCFPY_TOKEN={token}"
    return params


# agent: (its parameters, how many processes of one started instance carry the token)
SUBJECTS = {"daemon": (daemon_params, 1), "epics-ioc": (epics_params, 2),
            "archiver": (archiver_params, 1)}


def log_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def line_of(lines, process, text):
    """Index of the first log line of agent `process` (a Popen) that contains text."""
    tag = f"[{process.pid}]:"
    found = [i for i, line in enumerate(lines) if tag in line and text in line]
    assert found, (process.pid, text, lines)
    return found[0]


@pytest.mark.parametrize("agent", sorted(SUBJECTS))
def test_two_concurrent_starts_leave_one_tracked_process(tmp_path, token, agent):
    make, count = SUBJECTS[agent]
    params = make(tmp_path, token, 1500)
    log = {"HA_LOGFILE": str(tmp_path / "ha.log")}
    first = launch(agent, "start", token, params, extra=log)
    time.sleep(0.1 if agent == "epics-ioc" else 0.3)  # the first start is still running
    second = launch(agent, "start", token, params, extra=log)
    results = [finish(first), finish(second)]
    assert [r.rc for r in results] == [0, 0], results
    lines = log_lines(log["HA_LOGFILE"])
    # The second start ran only once the first had finished: it found the service running.
    assert line_of(lines, first, "INFO: started") < line_of(lines, second, "already running")
    assert len(processes_with(token)) == count
    assert run_agent(agent, "stop", token, params).rc == 0
    assert processes_with(token) == [], "a started process escaped the stop"


def test_a_stop_during_a_start_waits_and_leaves_nothing(tmp_path, token):
    params = daemon_params(tmp_path, token, 1500)
    log = {"HA_LOGFILE": str(tmp_path / "ha.log")}
    start = launch("daemon", "start", token, params, extra=log)
    time.sleep(0.3)
    stop = launch("daemon", "stop", token, params, extra=log)
    started, stopped = finish(start), finish(stop)
    assert (started.rc, stopped.rc) == (0, 0), (started, stopped)
    lines = log_lines(log["HA_LOGFILE"])
    assert line_of(lines, start, "INFO: started") < line_of(lines, stop, "INFO: stopped")
    assert processes_with(token) == []
    assert run_agent("daemon", "monitor", token, params).rc == 7


def test_an_operation_waits_for_the_lock_only_until_its_deadline(tmp_path, token):
    params = daemon_params(tmp_path, token, 0)
    path = run_path("daemon", token, ".lock", create=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held = run_agent("daemon", "monitor", token, params, timeout_ms=1500)
        assert held.rc == 1 and "another operation on this resource" in held.reason, held
        # validate-all changes nothing and does not wait.
        assert run_agent("daemon", "validate-all", token, params, timeout_ms=1500).rc == 0
    finally:
        os.close(fd)
    assert run_agent("daemon", "monitor", token, params, timeout_ms=1500).rc == 7


def test_the_service_never_inherits_the_lock(tmp_path, token):
    params = daemon_params(tmp_path, token, 0)
    assert run_agent("daemon", "start", token, params).rc == 0
    try:
        from ocfpy import pidfile

        leader = pidfile.read(params["pidfile"])
        lock = os.path.realpath(run_path("daemon", token, ".lock"))
        held = {os.path.realpath(f"/proc/{leader.pid}/fd/{fd}")
                for fd in os.listdir(f"/proc/{leader.pid}/fd")}
        assert lock not in held
        assert run_agent("daemon", "monitor", token, params, timeout_ms=2000,
                         interval_ms=10000).rc == 0
    finally:
        assert run_agent("daemon", "stop", token, params).rc == 0


@pytest.mark.parametrize("agent, components, after", [
    ("ducc-head", HEAD, 0.4), ("ducc-agent", ("ag",), 0.1)])
def test_a_stop_during_a_ducc_start_leaves_no_daemons(tmp_path, agent, components, after):
    home = tmp_path / "ducc"
    (home / "admin").mkdir(parents=True)
    os.symlink(STANDIN_DUCC, home / "admin" / "ducc.py")
    home = str(home)
    params = {"ducc_home": home, "logfile": str(tmp_path / "agent.log")}
    instance = f"oplock-{agent}-{os.getpid()}"
    log = {"HA_LOGFILE": str(tmp_path / "ha.log")}
    try:
        start = launch(agent, "start", instance, params, extra=log)
        time.sleep(after)  # ducc.py is starting a daemon
        stop = launch(agent, "stop", instance, params, extra=log)
        started, stopped = finish(start), finish(stop)
        # The stop waited for the whole start, which nothing disturbed, then stopped it all.
        assert (started.rc, stopped.rc) == (0, 0), (started, stopped)
        lines = log_lines(log["HA_LOGFILE"])
        assert line_of(lines, start, "INFO: started") < line_of(lines, stop, "INFO: stopped")
        assert not any(ducc_env.running(home, components).values())
    finally:
        run_agent(agent, "stop", instance, params)
        for identity, _ in procscan.with_arguments(
                lambda argv: any(home in word for word in argv)):
            try:
                os.kill(identity.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
