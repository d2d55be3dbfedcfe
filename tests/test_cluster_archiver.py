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
