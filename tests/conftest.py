"""Shared fixtures: real test clusters (ocfpy.testbed), started on first use, one per session.

    @pytest.mark.cluster
    def test_mine(cluster1):                       # or cluster3 (three nodes)
        cluster1.create_resource(id="t-mine", agent="ocf:ocfpy:daemon",
                                 params={"command": "sleep 100000"}, monitor="2s")
        assert cluster1.where("t-mine") == ["node1"]
        pid = cluster1.pidfile_pid("node1", "/run/ocfpy/daemon/t-mine.pid")
        cluster1.run("node1", ["kill", "-0", str(pid)])      # inside the node's namespaces
        cluster1.delete_resource("t-mine")                   # stops, waits, removes

The clusters are shared by every test of the session: give resources ids unique to your test
and delete them at the end (a finally or a fixture), so the next test finds a clean cluster.
Scratch files a resource reads can live under tmp_path: nodes share the host's /tmp and /usr,
but each has its own /run, /dev/shm, /etc/corosync, /var/lib/pacemaker and network.
"""

import os
import shutil
import subprocess

import pytest
from ocfrun import AGENT_DIR, PYTHON, REPO

_clusters = {}


def pytest_sessionstart(session):
    """Make every way the tests reach ocfpy run this checkout's code, or stop before testing.

    - imports in this process: pytest's `pythonpath` puts REPO first (pyproject.toml);
    - commands of the venv (ocfgen, ocfpy-agents, python3 -m ...): its editable install must
      point here (dev/bootstrap.sh);
    - agents run by Pacemaker, ocf-tester and the tests: their entry scripts in AGENT_DIR are
      written anew for this checkout.
    """
    import ocfpy

    mine = os.path.join(REPO, "ocfpy")
    if os.path.dirname(os.path.abspath(ocfpy.__file__)) != mine:
        pytest.exit(f"the tests imported ocfpy from {ocfpy.__file__}, not from {mine}", 3)
    where = subprocess.run([PYTHON, "-c", "import ocfpy.agents; print(ocfpy.agents.__file__)"],
                           cwd="/", capture_output=True, text=True, timeout=60)
    if not where.stdout.startswith(mine + os.sep):
        pytest.exit(f"{PYTHON} imports ocfpy from {where.stdout.strip() or where.stderr.strip()}, "
                    f"not from {mine}: run dev/test.sh (it installs this checkout editable)", 3)
    if os.geteuid() == 0:
        from ocfpy import install

        _reachable_by_other_users(REPO)
        install.install(directory=AGENT_DIR)


def _reachable_by_other_users(path):
    """Tests run services as 'nobody' from scripts in this checkout: it, and every directory
    above it, must let other users in (a clone under a 0700 home cannot)."""
    import stat

    while True:
        mode = os.stat(path).st_mode
        if not mode & stat.S_IXOTH or (path == REPO and not mode & stat.S_IROTH):
            pytest.exit(f"{path} is mode {stat.S_IMODE(mode):04o}: the tests run services as "
                        f"'nobody' from {REPO}, which other users must be able to read "
                        f"(chmod o+rx on it and o+x on its parents, or clone it elsewhere)", 3)
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _cluster(request, size):
    if os.geteuid() != 0:
        pytest.skip("a test cluster needs root")
    for tool in ("corosync", "pacemakerd", "unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:  # installed by dev/bootstrap.sh: missing is a failure
            pytest.fail(f"a test cluster needs {tool} (dev/bootstrap.sh installs it)")
    if size not in _clusters:
        from ocfpy.testbed import Cluster

        cluster = Cluster(nodes=size)
        _clusters[size] = cluster  # registered first: stopped at session end even if start fails
        cluster.start()
    return _clusters[size]


@pytest.fixture(scope="session")
def cluster1(request):
    """A running single-node cluster (node1, ring on the node's own loopback)."""
    return _cluster(request, 1)


@pytest.fixture(scope="session")
def cluster3(request):
    """A running three-node cluster (node1..node3 on a private bridge)."""
    return _cluster(request, 3)


def pytest_sessionfinish(session, exitstatus):
    """Stop the session's clusters and fail the run if anything of theirs is left running."""
    if not _clusters:
        return
    from ocfpy import wait
    from ocfpy.testbed.cluster import leftovers

    for cluster in _clusters.values():
        cluster.stop()
    _clusters.clear()
    # A process SIGKILLed with its namespace is gone once the kernel has finished its exit,
    # which a process blocked in a filesystem (the stale-mount tests' FUSE) finishes late: a
    # leftover is what is still there after that.
    wait.within(lambda: not leftovers(), 20, 0.5)
    left = leftovers()
    if left:
        print("\nocfpy.testbed: test clusters left behind:\n  " + "\n  ".join(left))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
