"""Pacemaker runs ocf:ocfpy:epics-ioc on the real single-node test cluster: a real soft IOC under
procServ, read over Channel Access inside the node; a killed IOC is noticed by the recurring
monitor and Pacemaker (not procServ) restarts it.
"""

import os

import pytest
from test_epics_ioc import IOC_SCRIPT, PYTHON, ca_environment

CA_PORT = 15900  # inside the node's own network namespace; still within this area's range
READ = ("import sys; from caproto.sync.client import read; "
        "print(int(read(sys.argv[1], timeout=2, repeater=False).data[0]))")


@pytest.mark.cluster
def test_pacemaker_runs_an_ioc_and_restarts_it_after_a_crash(cluster1, tmp_path):
    rid = f"t-epics-ioc-{os.getpid()}"
    name = f"E4C{os.getpid()}"
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "st.cmd").write_text(f'epicsEnvSet("IOCNAME", "{name}")\n')
    env = ca_environment(CA_PORT)
    params = {
        "ioc_name": name, "boot_dir": str(boot), "ioc_command": f"{PYTHON} {IOC_SCRIPT}",
        "console": "17990", "logfile": str(tmp_path / "console.log"),
        "heartbeat_pv": f"{name}:HEARTBEAT", "pid_pv": f"{name}:PID", "stop_command": "exit()",
        "environment": " ".join(f"{k}={v}" for k, v in env.items()),
    }
    child_file = f"/run/ocfpy/epics-ioc/{rid}.pid.ioc"
    ca_read = ["env", *(f"{k}={v}" for k, v in env.items()), PYTHON, "-c", READ]
    try:
        where = cluster1.create_resource(
            id=rid, agent="ocf:ocfpy:epics-ioc", params=params, monitor="2s",
            ops=[{"name": "monitor", "interval": "5s", "timeout": "20s", "OCF_CHECK_LEVEL": "10"},
                 {"name": "start", "timeout": "40s"}], timeout=90)
        assert where == ["node1"]
        child = cluster1.pidfile_pid("node1", child_file)
        served = cluster1.run("node1", ca_read + [f"{name}:PID"]).stdout.strip()
        assert served == str(child)                        # the IOC answers CA inside the node

        cluster1.signal("node1", child, "KILL")

        cluster1.wait_restarted(rid, "node1", child_file, child)
        failure = [op for op in cluster1.status().failures if op.resource == rid][0]
        assert failure.rc == 1                              # a failure, not "not running"
        heartbeat = cluster1.run("node1", ca_read + [f"{name}:HEARTBEAT"]).stdout.strip()
        assert heartbeat.isdigit()
    finally:
        cluster1.delete_resource(rid, timeout=90)
    left = cluster1.run("node1", ["pgrep", "-f", f"procServ.*{name}"], check=False)
    assert left.returncode == 1, left.stdout                # nothing of it remains on the node
