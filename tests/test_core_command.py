"""ocfpy.command: programs run from an agent without the subprocess module (real processes).

run: exit statuses as numbers, signals as negatives, an overrun as None with everything of its
process group and session killed; output through one pipe, only its tail kept; a command that
cannot run is a SpawnError with a message, never a traceback. start: a daemon in its own
session, polled and waited for like a Popen.
"""

import os
import subprocess
import sys
import time

import pytest
from ocfrun import PYTHON

from ocfpy import command
from ocfpy.command import SpawnError, run, start
from ocfpy.identity import read_stat

pytestmark = pytest.mark.timeout(60)


def _gone(pid, within=5.0):
    """Whether `pid` has ended (gone, or a zombie waiting for init) within `within` seconds."""
    until = time.monotonic() + within
    while time.monotonic() < until:
        stat = read_stat(pid)
        if stat is None or not stat.alive:
            return True
        time.sleep(0.02)
    return False


def test_exit_statuses_and_output():
    assert run(["/bin/true"], timeout=10).status == 0
    done = run(["sh", "-c", "echo one; echo two >&2; exit 3"], timeout=10)
    assert (done.status, done.lines, done.how, done.gist) == (3, ["one", "two"], "exited with 3",
                                                              "two")
    done = run(["sh", "-c", "kill -TERM $$"], timeout=10)
    assert (done.status, done.how) == (-15, "was killed by signal 15")


def test_environment_cwd_umask_and_user(tmp_path):
    tmp_path.chmod(0o755)
    done = run(["sh", "-c", 'pwd; umask; echo "$GREETING"; echo "${HOME-unset}"'], timeout=10,
               cwd=str(tmp_path), umask=0o027, env={"GREETING": "hello"})
    assert done.lines == [str(tmp_path), "0027", "hello", "unset"]
    done = run(["id", "-un"], timeout=10, user="nobody", env={"PATH": "/usr/bin:/bin"})
    assert done.lines == ["nobody"]


def test_output_is_capped_to_its_tail():
    script = ("import sys\nfor i in range(20000): print('x' * 50, i)\n"
              "print('y' * 1000)\nprint('last')")
    done = run([PYTHON, "-c", script], timeout=30)
    assert done.status == 0
    assert len(done.lines) == command.OUTPUT_LINES
    assert done.lines[-1] == "last"
    assert done.lines[-2] == "y" * command.LINE_WIDTH
    assert done.lines[0].endswith(str(20000 - command.OUTPUT_LINES + 2))


def test_an_overrun_is_killed_with_its_process_group():
    began = time.monotonic()
    done = run(["sh", "-c", "sleep 300 & echo $!; sleep 300"], timeout=0.5)
    assert done.status is None and done.how == "did not finish in time and was killed"
    assert time.monotonic() - began < 30          # bounded (generously: a loaded machine)
    assert _gone(int(done.lines[0]))


def test_what_it_leaves_running_is_killed_with_it():
    """A background process in its group, and one in a group of its own that still holds the
    output pipe (its session's): both are killed once the command exits."""
    done = run(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"], timeout=10)
    assert done.status == 0 and _gone(int(done.lines[0]))
    regrouped = ("import os\npid = os.fork()\nif pid == 0:\n    os.setpgid(0, 0)\n"
                 "    os.execvp('sleep', ['sleep', '300'])\nprint(pid, flush=True)")
    done = run([PYTHON, "-c", regrouped], timeout=10)
    assert done.status == 0
    assert _gone(int(done.lines[0]))


def test_a_command_that_cannot_run_is_a_clear_error(tmp_path):
    for argv, message in (
            (["/nonexistent/tool"], "cannot run /nonexistent/tool: No such file or directory"),
            (["no-such-tool-here"], "cannot run no-such-tool-here: No such file or directory"),
            ([str(tmp_path)], f"cannot run {tmp_path}: Permission denied")):
        with pytest.raises(SpawnError) as caught:
            run(argv, timeout=10, env={"PATH": "/usr/bin:/bin"})
        assert str(caught.value) == message
    with pytest.raises(SpawnError, match=r"^cannot run /bin/true: cwd /nonexistent: No such "):
        run(["/bin/true"], timeout=10, cwd="/nonexistent")
    with pytest.raises(SpawnError, match=r"^user 'no-such-user-x' does not exist on this node$"):
        run(["/bin/true"], timeout=10, user="no-such-user-x")


def test_no_descriptor_of_the_agent_leaks_into_the_command():
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    try:
        done = run(["sh", "-c", "ls /proc/self/fd"], timeout=10)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert sorted(int(fd) for fd in done.lines) == [0, 1, 2, 3]  # 3: the one ls reads


def test_sigpipe_is_at_its_default_in_the_command():
    done = run(["sh", "-c", "yes | head -n 1"], timeout=10)
    assert done.status == 0 and done.lines == ["y"]


def test_start_runs_a_daemon_in_its_own_session(tmp_path):
    log = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        child = start(["sh", "-c", "echo started; exec sleep 300"], output=log)
    finally:
        os.close(log)
    try:
        stat = read_stat(child.pid)
        assert stat.session == child.pid and stat.pgrp == child.pid
        assert child.poll() is None and child.wait(0.1) is None
    finally:
        os.kill(child.pid, 9)
    assert child.wait(10) == -9 and child.returncode == -9
    assert (tmp_path / "log").read_text() == "started\n"
    quick = start(["sh", "-c", "exit 4"], output=1)
    assert quick.wait(10) == 4


def test_no_traceback_from_an_agent_whose_health_check_cannot_run(tmp_path):
    """Through the daemon agent: a missing monitor_command is an exit reason, not a crash."""
    from ocfrun import run_agent

    params = {"command": "sleep 300", "pidfile": str(tmp_path / "d.pid"),
              "monitor_command": "/nonexistent/check --quick"}
    assert run_agent("daemon", "start", "cmd-t", params).rc == 0
    try:
        outcome = run_agent("daemon", "monitor", "cmd-t", params, interval_ms=10000,
                            extra={"OCF_CHECK_LEVEL": "10"})
        assert outcome.rc == 1
        assert outcome.reason == ("monitor_command cannot run: cannot run /nonexistent/check: "
                                  "No such file or directory")
        assert "Traceback" not in outcome.stderr
    finally:
        assert run_agent("daemon", "stop", "cmd-t", params).rc == 0


def test_the_module_loads_no_subprocess():
    done = subprocess.run([PYTHON, "-I", "-S", "-c",
                           "import sys; sys.path[:0] = [sys.argv[1]]; import ocfpy.command; "
                           "print(sorted(m for m in sys.modules if m in ('subprocess', "
                           "'threading', 'signal', 'selectors')))", os.path.dirname(
                               os.path.dirname(os.path.abspath(command.__file__)))],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert sys.modules.get("ocfpy.command") is command
