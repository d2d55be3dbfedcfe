"""The test harness reports as its leftovers only processes that are really its own.

A namespace's inode number is reused by the kernel once the namespace is gone, so a process
that somebody else starts later in a new namespace can carry an inode the harness once created.
These tests give the harness's records exactly that situation: a foreign process in a fresh
network namespace whose inode the harness believes it made, with that namespace's holder dead.
"""

import os
import subprocess
import time

import pytest

from ocfpy.identity import Identity
from ocfpy.testbed import cluster as testbed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unshare --net needs root")


@pytest.fixture
def foreign():
    """A process in a network namespace of its own, started without the harness."""
    process = subprocess.Popen(["unshare", "--net", "sleep", "300"])  # unshare execs sleep
    deadline = time.monotonic() + 10
    mine = os.stat("/proc/self/ns/net").st_ino
    while time.monotonic() < deadline:
        if os.stat(f"/proc/{process.pid}/ns/net").st_ino != mine and \
                open(f"/proc/{process.pid}/comm").read().strip() == "sleep":
            break
        time.sleep(0.05)
    else:
        pytest.fail("unshare did not start sleep in a new network namespace")
    child = process.pid
    key = ("net", os.stat(f"/proc/{child}/ns/net").st_ino)
    yield child, key
    process.kill()
    process.wait(10)


def reported(pid):
    return [line for line in testbed.leftovers() if line.startswith(f"process {pid} ")]


def a_dead_holder():
    done = subprocess.Popen(["true"])
    identity = Identity.of(done.pid) or Identity(done.pid, 1, "")
    done.wait()
    return identity


def test_a_reused_inode_whose_holder_died_unseen_is_not_ours(foreign):
    pid, key = foreign
    testbed._created[key] = testbed._Made(a_dead_holder())
    try:
        assert reported(pid) == []
    finally:
        del testbed._created[key]


def test_a_process_started_after_we_saw_the_namespace_die_is_not_ours(foreign):
    pid, key = foreign
    made = testbed._Made(a_dead_holder())
    made.died = time.clock_gettime(time.CLOCK_BOOTTIME) - 3600  # long before sleep started
    testbed._created[key] = made
    try:
        assert reported(pid) == []
    finally:
        del testbed._created[key]


def test_a_process_in_a_namespace_we_hold_is_reported(foreign):
    """The control: the same record with a live holder makes the process ours."""
    pid, key = foreign
    testbed._created[key] = testbed._Made(Identity.of(pid))
    try:
        assert len(reported(pid)) == 1 and "sleep 300" in reported(pid)[0]
    finally:
        del testbed._created[key]
