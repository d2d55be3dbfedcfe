"""Pacemaker runs ocf:ocfpy:archiver on the real single-node test cluster, against the STAND-IN
appliance (tests/peers/archiver_standin.py: the real Archiver Appliance is not installable here).
The mgmt BPL answers inside the node; a killed JVM is noticed and Pacemaker restarts it."""

import os

import pytest
from ocfrun import PYTHON
from test_epics_archiver import Appliance

GET = ("import sys, urllib.request; "
       "print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())")


@pytest.mark.cluster
def test_pacemaker_runs_an_archiver_and_restarts_a_killed_jvm(cluster1, tmp_path):
    appliance = Appliance(tmp_path)
    rid = appliance.instance
    pid_path = f"/run/ocfpy/archiver/{rid}.pid"
    info = (f"http://127.0.0.1:{appliance.ports['mgmt']}/mgmt/bpl/getApplianceInfo"
            f"?id={appliance.identity}")
    try:
        where = cluster1.create_resource(
            id=rid, agent="ocf:ocfpy:archiver", params=appliance.params, monitor="2s",
            ops=[{"name": "start", "timeout": "60s"}], timeout=90)
        assert where == ["node1"]
        answer = cluster1.run("node1", [PYTHON, "-c", GET, info]).stdout
        assert appliance.identity in answer
        jvm = cluster1.pidfile_pid("node1", pid_path)
        cluster1.signal("node1", jvm, "KILL")

        cluster1.wait_restarted(rid, "node1", pid_path, jvm)
    finally:
        cluster1.delete_resource(rid, timeout=90)
    left = cluster1.run("node1", ["pgrep", "-f", str(appliance.base)], check=False)
    assert left.returncode == 1, left.stdout
    assert os.path.isdir(appliance.base)  # its own directories are left as they were


@pytest.mark.cluster
def test_an_archiver_whose_storage_comes_back_runs_again_without_cleanup(cluster1, tmp_path,
                                                                          record_property):
    """Storage that stops taking writes (its long-term folder remounted read-only inside the
    node, as an NFS server going read-only would) fails the depth-20 monitor; after
    migration-threshold failures Pacemaker gives up on the node and the archiver stops. When
    the storage takes writes again, the failures expire (failure-timeout) and Pacemaker starts
    the archiver again by itself: no crm_resource --cleanup."""
    import time

    appliance = Appliance(tmp_path)
    rid = appliance.instance
    lts = appliance.base / "lts"
    lts.mkdir()
    meta = {"migration-threshold": "2", "failure-timeout": "15s"}
    ops = [{"name": "start", "timeout": "60s"},
           {"name": "monitor", "interval": "3s", "timeout": "20s", "OCF_CHECK_LEVEL": "20"}]
    try:
        cluster1.create_resource(id=rid, agent="ocf:ocfpy:archiver", params=appliance.params,
                                 monitor="2s", ops=ops, meta=meta, timeout=90)
        cluster1.run("node1", ["mount", "--bind", str(lts), str(lts)])
        cluster1.run("node1", ["mount", "-o", "remount,bind,ro", str(lts)])
        broken = time.monotonic()

        def fail_count():
            done = cluster1.run("node1", ["crm_failcount", "--query", "--resource", rid,
                                          "--node", "node1"], check=False)
            value = done.stdout.rsplit("value=", 1)[-1].strip()
            return 1_000_000 if value == "INFINITY" else int(value) if value.isdigit() else 0

        def given_up():
            status = cluster1.status()
            return not status.where(rid) and fail_count() >= 2 and status

        status = cluster1.wait_until(given_up, 90, f"{rid} to stop after "
                                     f"{meta['migration-threshold']} storage failures")
        failures = [op for op in status.failures if op.resource == rid]
        assert all("storage" in op.exit_reason for op in failures), failures
        time.sleep(5)                                # while the storage is broken it stays off
        assert not cluster1.where(rid)

        cluster1.run("node1", ["umount", str(lts)])            # the storage takes writes again
        back = time.monotonic()
        cluster1.wait_until(lambda: cluster1.where(rid) == ["node1"], 120,
                            f"{rid} to run again once its failures expired")
        recovered = time.monotonic()
        record_property("archiver_stopped_after_seconds", round(back - broken, 1))
        record_property("archiver_running_again_after_seconds", round(recovered - back, 1))
        print(f"\nstorage read-only: stopped within {back - broken:.1f} s; storage back: "
              f"running again after {recovered - back:.1f} s (failure-timeout 15s)")
    finally:
        cluster1.run("node1", ["umount", str(lts)], check=False)
        cluster1.delete_resource(rid, timeout=90)
