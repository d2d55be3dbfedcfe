"""ocfpy.wait, the one bounded wait every agent-side poll goes through, and ocfpy.identity, the
one reader of /proc (stat, command line, environment, command name, children). Agent.wait_for
is this wait with an error at the deadline (tests/test_core_contract.py)."""

import os
import subprocess
import sys
import time

import pytest

from ocfpy import identity, wait
from ocfpy.codes import OCFError


def counter(true_from):
    """A condition that is false until its `true_from`-th call; the calls are counted."""
    calls = []

    def condition():
        calls.append(None)
        return len(calls) >= true_from and f"held at call {len(calls)}"

    return condition, calls


def test_a_condition_that_holds_is_checked_once_and_its_value_returned():
    condition, calls = counter(1)
    assert wait.until(condition, time.monotonic() + 60) == "held at call 1"
    assert len(calls) == 1


def test_the_condition_is_polled_until_it_holds():
    condition, calls = counter(4)
    assert wait.within(condition, 60, interval=0.001) == "held at call 4"
    assert len(calls) == 4


def test_a_deadline_already_passed_still_checks_once_and_returns_false():
    condition, calls = counter(2)
    assert not wait.until(condition, time.monotonic() - 1)
    assert len(calls) == 1
    condition, calls = counter(2)
    assert not wait.within(condition, -5)   # a negative budget is no budget, not an error
    assert len(calls) == 1


def test_the_last_check_is_made_at_the_deadline_not_after_it():
    seen = []

    def condition():
        seen.append(time.monotonic())
        return False

    deadline = time.monotonic() + 0.05
    assert wait.until(condition, deadline, interval=0.02) is False
    assert len(seen) >= 2 and seen[-1] >= deadline   # checked once more when time was up


def test_an_exception_in_the_condition_ends_the_wait():
    def condition():
        raise OCFError(1, "gone")

    with pytest.raises(OCFError, match="gone"):
        wait.within(condition, 60)


def test_reaped_returns_the_wait_status_of_an_ended_child():
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    status = wait.reaped(child.pid, 60)
    assert status is not None and os.waitstatus_to_exitcode(status) == 3


def test_reaped_gives_up_on_a_running_child_and_ignores_a_non_child():
    child = subprocess.Popen(["sleep", "60"])
    try:
        assert wait.reaped(child.pid, 0.02) is None
        assert identity.read_stat(child.pid).alive   # waiting did not harm it
    finally:
        child.kill()
        child.wait()
    assert wait.reaped(1, 60) is None   # init is nobody's child here: no error, no wait


def test_the_proc_readers_describe_a_child_we_started():
    marker = f"OCFPY_WAIT_TEST={os.getpid()}"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OCFPY_WAIT_TEST": str(os.getpid())}
    child = subprocess.Popen(["sleep", "60"], env=env)
    try:
        assert wait.within(lambda: identity.arguments(child.pid) == ["sleep", "60"], 60, 0.01)
        assert child.pid in identity.pids()
        assert marker.encode() in identity.environment(child.pid)
        assert identity.command_name(child.pid) == "sleep"
        assert child.pid in identity.children(os.getpid())
        assert child.pid in {stat.pid for stat in identity.all_stats()}
        assert identity.read_stat(child.pid).ppid == os.getpid()
        assert 0 < identity.uptime()
    finally:
        child.kill()
        child.wait()
    # A process that is gone reads as nothing at all, never as an error.
    assert identity.arguments(child.pid) == [] and identity.environment(child.pid) == [b""]
    assert identity.command_name(child.pid) == "" and identity.children(child.pid) == []
    assert identity.read_stat(child.pid) is None
