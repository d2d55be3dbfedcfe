"""Commands an agent runs for a service run with the service's privileges, not root's.

The daemon agent's monitor_command is run as the configured user, in the configured directory,
with the service's environment and umask, bounded by the monitor timeout; what it printed last
reaches the exit reason, and nothing it started in the background outlives the check.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

import pytest
from ocfrun import run_agent

TOY = os.path.join(os.path.dirname(__file__), "peers", "toy_service.py")
PYTHON = "/usr/bin/python3"
DEEP = {"OCF_CHECK_LEVEL": "10"}


@pytest.fixture(scope="module")
def service_user():
    """An unprivileged account: 'nobody', or a system user made for this test if it is missing."""
    try:
        entry = pwd.getpwnam("nobody")
        yield entry
        return
    except KeyError:
        pass
    name = "ocfpy-priv-test"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def shared(tmp_path):
    """A scratch directory the service user may enter (pytest's tmp_path is private to root);
    the pidfile and log stay in tmp_path."""
    base = tempfile.mkdtemp(prefix="ocfpy-priv-")
    os.chmod(base, 0o755)
    started = []
    yield tmp_path, base, started
    for params in started:
        run_agent("daemon", "stop", params=params, timeout_ms=10000)
    shutil.rmtree(base)


def params_for(shared, user, **extra):
    tmp_path, base, started = shared
    params = {"command": f"{PYTHON} {TOY}", "pidfile": str(tmp_path / "svc.pid"),
              "logfile": str(tmp_path / "svc.log"), "cwd": base, "user": user.pw_name,
              "umask": "027", "environment": "SERVICE_SETTING=from-the-resource"}
    params.update(extra)
    started.append(params)
    return params


def alive_with_argument(word):
    """Pids of live processes with `word` among their arguments."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if word.encode() in argv:
            found.append(int(entry))
    return found


def test_monitor_command_runs_as_the_configured_user(shared, service_user, record_property):
    tmp_path, base, _ = shared
    record = os.path.join(base, "id-u")
    with open(record, "w"):
        pass
    os.chown(record, service_user.pw_uid, service_user.pw_gid)  # only the user writes it
    params = params_for(shared, service_user,
                        monitor_command=f"sh -c 'id -u > {record}'")
    assert run_agent("daemon", "start", params=params).rc == 0
    outcome = run_agent("daemon", "monitor", params=params, interval_ms=5000, extra=DEEP)
    assert outcome.rc == 0, outcome
    recorded = open(record).read().strip()
    record_property("monitor_command_id_u", recorded)
    assert recorded == str(service_user.pw_uid) != "0"


def test_monitor_command_sees_the_service_cwd_environment_and_umask(shared, service_user):
    _, base, _ = shared
    script = ('echo "uid=$(id -u) cwd=$(pwd) setting=$SERVICE_SETTING umask=$(umask) '
              'secret=${SECRET_OF_AGENT-none}"; exit 3')
    params = params_for(shared, service_user, monitor_command=f"sh -c '{script}'")
    assert run_agent("daemon", "start", params=params).rc == 0
    outcome = run_agent("daemon", "monitor", params=params, interval_ms=5000,
                        extra=dict(DEEP, SECRET_OF_AGENT="x"))
    assert outcome.rc == 1, outcome
    # What it printed last is the essential part of the exit reason.
    assert outcome.reason == (f"monitor_command exited with 3: uid={service_user.pw_uid} "
                              f"cwd={base} setting=from-the-resource umask=0027 secret=none")


def test_monitor_command_output_is_bounded_and_its_last_lines_are_logged(shared, service_user):
    script = "i=0; while [ $i -lt 5000 ]; do echo line $i; i=$((i+1)); done; exit 2"
    params = params_for(shared, service_user, monitor_command=f"sh -c '{script}'")
    assert run_agent("daemon", "start", params=params).rc == 0
    outcome = run_agent("daemon", "monitor", params=params, interval_ms=5000,
                        extra=dict(DEEP, HA_debug="0"))
    assert outcome.rc == 1 and outcome.reason == "monitor_command exited with 2: line 4999"
    logged = [line for line in outcome.stderr.splitlines() if "WARNING: sh: line " in line]
    assert 0 < len(logged) <= 10 and logged[-1].endswith("line 4999"), outcome.stderr[-2000:]


def test_monitor_command_is_bounded_in_time_and_leaves_nothing_behind(shared, service_user):
    mark = f"{uuid.uuid4().int % 10**6}.5"  # a unique `sleep` argument to find its processes
    params = params_for(shared, service_user, monitor_command=f"sleep {mark}")
    assert run_agent("daemon", "start", params=params).rc == 0
    outcome = run_agent("daemon", "monitor", params=params, interval_ms=5000, timeout_ms=4000,
                        extra=DEEP)
    assert outcome.rc == 1 and "monitor_command did not answer within" in outcome.reason
    assert alive_with_argument(mark) == []


def test_a_background_process_of_the_check_does_not_outlive_it(shared, service_user):
    mark = f"{uuid.uuid4().int % 10**6}.25"
    params = params_for(shared, service_user,
                        monitor_command=f"sh -c 'sleep {mark} & echo forked'")
    assert run_agent("daemon", "start", params=params).rc == 0
    outcome = run_agent("daemon", "monitor", params=params, interval_ms=5000, extra=DEEP)
    assert outcome.rc == 0, outcome
    assert alive_with_argument(mark) == []


def test_a_log_planted_as_a_hard_link_to_a_file_of_roots_is_never_appended_to(tmp_path):
    precious = tmp_path / "precious"
    precious.write_text("root's own\n")
    os.link(precious, tmp_path / "svc.log")  # what a writer of a shared log directory could do
    params = {"command": f"{PYTHON} {TOY}", "pidfile": str(tmp_path / "svc.pid"),
              "logfile": str(tmp_path / "svc.log")}
    try:
        outcome = run_agent("daemon", "start", params=params)
    finally:
        run_agent("daemon", "stop", params=params)
    assert outcome.rc == 1 and "has 2 names (hard links)" in outcome.reason, outcome
    assert precious.read_text() == "root's own\n"


def test_a_log_owned_by_another_user_is_not_used(tmp_path, service_user):
    planted = tmp_path / "svc.log"
    planted.write_text("")
    os.chown(planted, service_user.pw_uid, service_user.pw_gid)
    params = {"command": f"{PYTHON} {TOY}", "pidfile": str(tmp_path / "svc.pid"),
              "logfile": str(planted)}
    try:
        outcome = run_agent("daemon", "start", params=params)  # runs as root: not its log
    finally:
        run_agent("daemon", "stop", params=params)
    assert outcome.rc == 1 and f"owned by uid {service_user.pw_uid}" in outcome.reason, outcome
    assert planted.read_text() == ""


@pytest.fixture
def ducc_home(service_user):
    """A scratch DUCC_HOME the service user can enter, whose admin/ducc.py is a failing script
    that says who, where and with what environment it ran (a stand-in for DUCC's script)."""
    base = tempfile.mkdtemp(prefix="ocfpy-priv-ducc-")
    os.chmod(base, 0o755)
    admin = os.path.join(base, "home", "admin")
    os.makedirs(admin, mode=0o755)
    script = os.path.join(admin, "ducc.py")
    with open(script, "w") as f:
        f.write('#!/bin/sh\necho "uid=$(id -u) cwd=$(pwd) home=$DUCC_HOME java=$JAVA_HOME"\n'
                'i=0; while [ $i -lt 100 ]; do echo "noise $i"; i=$((i+1)); done\n'
                'echo "ducc.py: cannot reach the broker" >&2\nexit 3\n')
    os.chmod(script, 0o755)
    yield base
    shutil.rmtree(base)


def test_ducc_script_runs_as_the_user_and_its_last_line_is_the_reason(ducc_home, service_user):
    home = os.path.join(ducc_home, "home")
    log = os.path.join(ducc_home, "ducc.log")
    params = {"ducc_home": home, "user": service_user.pw_name, "logfile": log,
              "environment": "JAVA_HOME=/opt/some-jdk"}
    outcome = run_agent("ducc-agent", "start", instance="priv-ducc", params=params,
                        timeout_ms=20000)
    assert outcome.rc == 1, outcome
    # The exit status, where the whole output is, and its last line: the essential part.
    assert outcome.reason.startswith("ducc.py -c ag") and "exit 3" in outcome.reason, outcome
    assert log in outcome.reason and outcome.reason.endswith("ducc.py: cannot reach the broker")
    written = open(log).read()
    assert f"uid={service_user.pw_uid} cwd={home} home={home} java=/opt/some-jdk" in written
    logged = [line for line in outcome.stderr.splitlines() if "WARNING: ducc.py: " in line]
    assert 0 < len(logged) <= 10 and logged[-1].endswith("cannot reach the broker"), outcome
