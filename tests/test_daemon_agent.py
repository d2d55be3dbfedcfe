"""ocf:ocfpy:daemon against real processes: life cycle, escalation, faults, safety of paths."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from ocfrun import AGENT_DIR, run_agent

from ocfpy import pidfile
from ocfpy.identity import Identity, read_stat

TOY = os.path.join(os.path.dirname(__file__), "peers", "toy_service.py")
PYTHON = "/usr/bin/python3"


@pytest.fixture
def scratch(tmp_path):
    """Every path the agent is given lives here; whatever it starts is stopped afterwards."""
    started = []
    yield tmp_path, started
    for params in started:
        run_agent("daemon", "stop", params=params, timeout_ms=10000)


def daemon_params(scratch, *toy_args, **extra):
    tmp_path, started = scratch
    params = {
        "command": " ".join([PYTHON, TOY, *toy_args]),
        "pidfile": str(tmp_path / "svc.pid"),
        "logfile": str(tmp_path / "svc.log"),
    }
    params.update({k: str(v) for k, v in extra.items()})
    started.append(params)
    return params


def leader_pid(params):
    return pidfile.read(params["pidfile"]).pid


def session_pids(sid):
    pids = []
    for entry in os.listdir("/proc"):
        stat = read_stat(entry) if entry.isdigit() else None
        if stat and stat.alive and stat.session == sid:
            pids.append(stat.pid)
    return pids


def test_ocf_tester_passes():
    done = subprocess.run(
        ["ocf-tester", "-n", "ocftest", "-o", f"command={PYTHON} {TOY}",
         f"{AGENT_DIR}/daemon"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed all tests" in done.stdout


def test_life_cycle_with_pacemaker_environment(scratch):
    params = daemon_params(scratch)
    assert run_agent("daemon", "monitor", params=params).rc == 7          # probe: stopped
    assert run_agent("daemon", "start", params=params).rc == 0
    pid = leader_pid(params)
    assert read_stat(pid).session == pid                                   # own session
    assert run_agent("daemon", "monitor", params=params, interval_ms=10000).rc == 0
    assert run_agent("daemon", "start", params=params).rc == 0             # idempotent
    assert leader_pid(params) == pid
    assert run_agent("daemon", "stop", params=params).rc == 0
    assert read_stat(pid) is None or not read_stat(pid).alive
    assert not os.path.exists(params["pidfile"])
    assert run_agent("daemon", "stop", params=params).rc == 0              # idempotent
    assert run_agent("daemon", "monitor", params=params, interval_ms=10000).rc == 7


def test_shell_metacharacters_are_never_interpreted(scratch):
    tmp_path, _ = scratch
    record = tmp_path / "argv.json"
    evil = f"$(touch {tmp_path}/pwned1); touch {tmp_path}/pwned2 | `touch {tmp_path}/pwned3` &&"
    params = daemon_params(scratch, "--record", str(record), f"'{evil}'", "*",
                           environment=f"GREETING='$(touch {tmp_path}/pwned4)' HOME=/nowhere")
    assert run_agent("daemon", "start", params=params).rc == 0
    seen = json.loads(record.read_text())
    assert seen["argv"][-2:] == [evil, "*"]
    assert seen["env"]["GREETING"] == f"$(touch {tmp_path}/pwned4)"
    assert not list(tmp_path.glob("pwned*"))


def test_cwd_umask_user_and_clean_environment(scratch):
    # pytest's tmp_path lives under a 0700 directory: give the user 'nobody' one it can enter.
    import tempfile
    from pathlib import Path

    shared = Path(tempfile.mkdtemp(prefix="ocfpy-daemon-user-"))
    os.chmod(shared, 0o777)
    record = shared / "seen.json"
    params = daemon_params(scratch, "--record", str(record), cwd=shared, umask="027",
                           user="nobody", environment="A=1")
    try:
        assert run_agent("daemon", "start", params=params, extra={"SECRET_OF_AGENT": "x"}).rc == 0
        seen = json.loads(record.read_text())
    finally:
        run_agent("daemon", "stop", params=params)
        import shutil

        shutil.rmtree(shared)
    assert seen["cwd"] == str(shared) and seen["umask"] == 0o027
    assert seen["uid"] == 65534 and seen["env"]["A"] == "1"
    assert not any(k.startswith(("OCF_", "SECRET")) for k in seen["env"])


def test_stop_escalates_to_sigkill_for_the_whole_session(scratch):
    params = daemon_params(scratch, "--ignore-term", "--child", kill_after=1)
    assert run_agent("daemon", "start", params=params).rc == 0
    pid = leader_pid(params)
    assert len(session_pids(pid)) == 2
    began = time.monotonic()
    outcome = run_agent("daemon", "stop", params=params, timeout_ms=20000)
    assert outcome.rc == 0, outcome
    assert 1.0 <= time.monotonic() - began < 10
    assert session_pids(pid) == []
    assert "SIGKILL" in (scratch[0] / "svc.log").read_text() + outcome.stderr


def test_stop_inside_a_short_timeout_still_kills(scratch):
    params = daemon_params(scratch, "--ignore-term")
    assert run_agent("daemon", "start", params=params).rc == 0
    pid = leader_pid(params)
    began = time.monotonic()
    assert run_agent("daemon", "stop", params=params, timeout_ms=4000).rc == 0
    assert time.monotonic() - began < 4
    assert session_pids(pid) == []


def test_service_that_exits_during_start(scratch):
    params = daemon_params(scratch, "--exit-after", "0.1:3")
    outcome = run_agent("daemon", "start", params=params)
    assert outcome.rc == 1
    assert "exited with status 3 during start" in outcome.reason
    assert params["logfile"] in outcome.reason
    assert len(outcome.exit_reasons) == 1
    assert not os.path.exists(params["pidfile"])
    assert run_agent("daemon", "monitor", params=params).rc == 7


def test_stale_pidfile_is_not_running_and_start_replaces_it(scratch):
    params = daemon_params(scratch)
    gone = subprocess.Popen(["true"])
    gone.wait()
    pidfile.write(params["pidfile"], Identity(gone.pid, 12345, ""))
    assert run_agent("daemon", "monitor", params=params, interval_ms=5000).rc == 7
    assert run_agent("daemon", "start", params=params).rc == 0
    assert leader_pid(params) != gone.pid


def test_pidfile_naming_another_process_never_harms_it(scratch):
    params = daemon_params(scratch)
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        real = Identity.of(bystander.pid)
        # Same pid, other start time: what a reused pid looks like.
        pidfile.write(params["pidfile"], Identity(bystander.pid, real.start_ticks - 1, real.boot))
        assert run_agent("daemon", "monitor", params=params, interval_ms=5000).rc == 7
        assert run_agent("daemon", "stop", params=params).rc == 0
        assert bystander.poll() is None
        assert not os.path.exists(params["pidfile"])
    finally:
        bystander.kill()
        bystander.wait()


def test_a_foreign_file_at_the_pidfile_path_is_never_touched(scratch):
    params = daemon_params(scratch)
    foreign = scratch[0] / "svc.pid"
    foreign.write_text("precious data\n")
    outcome = run_agent("daemon", "start", params=params)
    assert outcome.rc == 5 and "is not an ocfpy pidfile" in outcome.reason
    assert run_agent("daemon", "stop", params=params).rc == 0
    assert run_agent("daemon", "monitor", params=params).rc == 7
    assert foreign.read_text() == "precious data\n"


def test_a_killed_service_is_reported_not_running(scratch):
    params = daemon_params(scratch)
    assert run_agent("daemon", "start", params=params).rc == 0
    os.kill(leader_pid(params), signal.SIGKILL)
    time.sleep(0.2)
    assert run_agent("daemon", "monitor", params=params, interval_ms=5000).rc == 7


def test_deep_monitor_runs_the_health_command(scratch):
    tmp_path, _ = scratch
    flag = tmp_path / "healthy"
    flag.write_text("")
    params = daemon_params(scratch, monitor_command=f"test -e {flag}")
    assert run_agent("daemon", "start", params=params).rc == 0
    deep = {"OCF_CHECK_LEVEL": "10"}
    assert run_agent("daemon", "monitor", params=params, interval_ms=5000, extra=deep).rc == 0
    flag.unlink()
    outcome = run_agent("daemon", "monitor", params=params, interval_ms=5000, extra=deep)
    assert outcome.rc == 1 and "monitor_command exited with 1" in outcome.reason
    assert run_agent("daemon", "monitor", params=params, interval_ms=5000).rc == 0


@pytest.mark.parametrize("params,code,fragment", [
    ({}, 6, "parameter 'command' is required"),
    ({"command": "sleep 1", "kill_after": "soon"}, 6, "parameter 'kill_after' is not an integer"),
    ({"command": "sleep 1", "stop_signal": "STOP"}, 6, "parameter 'stop_signal' must be one of"),
    ({"command": "sleep 'unclosed"}, 6, "parameter 'command' cannot be split"),
    ({"command": "sleep 1", "pidfile": "relative.pid"}, 6, "parameter 'pidfile' must be an absolute path"),
    ({"command": "sleep 1", "umask": "999"}, 6, "parameter 'umask' must be an octal mode"),
    ({"command": "sleep 1", "environment": "NOT-A-NAME=1"}, 6, "parameter 'environment' has"),
    ({"command": "sleep 1", "colour": "blue"}, 6, "parameter 'colour' is unknown"),
    ({"command": "no-such-binary-here"}, 5, "command 'no-such-binary-here' is not an executable"),
    ({"command": "sleep 1", "user": "no-such-user"}, 5, "user 'no-such-user' does not exist"),
])
def test_validate_all_names_the_problem(params, code, fragment):
    outcome = run_agent("daemon", "validate-all", params=params)
    assert outcome.rc == code and fragment in outcome.reason, outcome
    assert len(outcome.exit_reasons) == 1 and "Traceback" not in outcome.stderr


def test_pcs_and_crm_resource_accept_the_agent():
    shown = subprocess.run(["crm_resource", "--show-metadata", "ocf:ocfpy:daemon"],
                           capture_output=True, text=True, check=True).stdout
    assert "<version>1.1</version>" in shown and 'name="reload-agent"' in shown
    done = subprocess.run(["xmllint", "--noout", "--relaxng", "/usr/share/pcs/data/ocf-1.1.rng",
                           "-"], input=shown, text=True, capture_output=True)
    assert done.returncode == 0, done.stderr
    ok = subprocess.run(["crm_resource", "--validate", "--class", "ocf", "--provider", "ocfpy",
                         "--agent", "daemon", "--option", "command=sleep 1"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(["crm_resource", "--validate", "--class", "ocf", "--provider", "ocfpy",
                          "--agent", "daemon", "--option", "command=sleep 1",
                          "--option", "kill_after=x"], capture_output=True, text=True)
    assert bad.returncode != 0 and "parameter 'kill_after' is not an integer" in bad.stdout + bad.stderr


def test_logging_goes_to_ha_logfile_tagged_with_the_instance(scratch):
    tmp_path, _ = scratch
    log = tmp_path / "ha.log"
    params = daemon_params(scratch)
    extra = {"HA_LOGFILE": str(log), "HA_debug": "1", "HA_DEBUGLOG": str(tmp_path / "debug.log")}
    assert run_agent("daemon", "start", instance="web", params=params, extra=extra).rc == 0
    assert run_agent("daemon", "monitor", instance="web", params=params, extra=extra).rc == 0
    text = log.read_text()
    assert "daemon(web)[" in text and "INFO: started" in text
    assert "monitor returned SUCCESS" in (tmp_path / "debug.log").read_text()
    assert sys.executable  # the agent ran under its own interpreter, not ours


def test_syslog_through_ha_logfacility(scratch):
    """HA_LOGFACILITY sends the agent's lines to syslog (/dev/log), tagged and with the facility."""
    import socket

    if os.path.exists("/dev/log"):
        pytest.skip("a syslog daemon owns /dev/log here; this test needs to be the listener")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("/dev/log")
    listener.settimeout(5)
    try:
        params = daemon_params(scratch)
        extra = {"HA_LOGFACILITY": "local3"}
        assert run_agent("daemon", "start", instance="sys", params=params, extra=extra).rc == 0
        datagrams = []
        while True:
            try:
                datagrams.append(listener.recv(4096).decode())
            except socket.timeout:
                break
            if any("INFO: started" in d for d in datagrams) and len(datagrams) >= 2:
                break
    finally:
        listener.close()
        os.unlink("/dev/log")
    started = [d for d in datagrams if "daemon(sys)[" in d and "INFO: started" in d]
    assert started, datagrams
    assert started[0].startswith(f"<{19 * 8 + 6}>")  # facility local3, priority info


def test_a_pidfile_path_climbing_out_of_run_ocfpy_creates_no_directory(scratch):
    """Review fix: a pidfile under /run/ocfpy gets its directory made, but '..' must not lead
    that makedirs out of /run/ocfpy to create directories anywhere as root."""
    tmp_path, _ = scratch
    target = tmp_path / "made-by-agent"
    climbing = f"/run/ocfpy/../..{target}/svc.pid"
    params = daemon_params(scratch, pidfile=climbing)
    outcome = run_agent("daemon", "validate-all", params=params)
    assert outcome.rc == 5 and "pidfile directory" in outcome.reason, outcome
    assert not target.exists()


def test_a_fifo_nobody_reads_as_logfile_fails_start_in_time(scratch):
    """Review fix: the log was opened with a blocking open(2), which waits for a reader of a
    FIFO for ever: start overran its own timeout and left the executor to kill it, without a
    reason. A FIFO that somebody reads still works (the service's writes then block normally)."""
    tmp_path, _ = scratch
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    params = daemon_params(scratch, logfile=fifo)
    began = time.monotonic()
    outcome = run_agent("daemon", "start", params=params, timeout_ms=5000, wait=15)
    assert outcome.rc == 1 and "cannot open log file" in outcome.reason, outcome
    assert time.monotonic() - began < 5
    assert not os.path.exists(params["pidfile"])
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert run_agent("daemon", "start", params=params, timeout_ms=5000, wait=15).rc == 0
        assert run_agent("daemon", "stop", params=params).rc == 0
    finally:
        os.close(reader)


def test_a_log_that_cannot_be_written_never_changes_the_outcome(scratch):
    """Review fix: an error writing HA_LOGFILE (a full disk; /dev/full stands for it) escaped the
    logger, so every action, stop included, ended in a traceback and exit 1: a failed stop on a
    full /var/log gets the node fenced. The line goes to stderr instead."""
    params = daemon_params(scratch)
    full = {"HA_LOGFILE": "/dev/full"}
    seen = {}
    for action, rc in (("start", 0), ("monitor", 0), ("stop", 0), ("stop", 0), ("monitor", 7)):
        outcome = seen[action] = run_agent("daemon", action, params=params, extra=full)
        assert outcome.rc == rc and "Traceback" not in outcome.stderr, (action, outcome)
    assert "INFO: stopped" in seen["stop"].stderr
