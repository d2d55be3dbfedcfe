"""A boot directory that stops answering moves the IOC instead of killing it (real three-node
cluster, real FUSE mount whose reads hang in the kernel as a hard NFS mount's do).

The IOC (a real soft IOC under procServ) runs on one node with a depth-20 monitor; its boot
directory there is a FUSE mount (tests/peers/hangfs.py) that the test makes hang. The agent
marks that node unhealthy (#health-ioc-<resource> red) and the running IOC keeps running;
with node-health-strategy progressive (base and red scores as ocfgen sets them), Pacemaker:
- leaves the IOC where it is while no node is healthier (the other two marked red too), the
  one probe stuck in the mount never repeated by the monitors that keep coming;
- moves it, with exactly one restart and no failed operation, once another node is healthy;
and the stuck probe, when the mount answers again, marks its node healthy and ends.
"""

import os
import subprocess
import time

import pytest
from ocfrun import PYTHON, REPO
from test_epics_ioc import IOC_SCRIPT

HANGFS = os.path.join(REPO, "tests", "peers", "hangfs.py")
SYSTEM_PYTHON = "/usr/bin/python3"   # Debian's python3-fusepy
# What ocfgen sets for one IOC with a depth-20 check (generators/load/addresses.py).
PROPERTIES = {"node-health-strategy": "progressive", "node-health-red": "-1000",
              "node-health-base": "1000"}


def attribute(cluster, on, name, node):
    done = cluster.run(on, ["attrd_updater", "-Q", "-n", name, "-N", node], check=False)
    for word in done.stdout.split():
        if word.startswith("value="):
            return word[len("value="):].strip('"')
    return None


def set_attribute(cluster, on, name, node, value):
    cluster.run(on, ["attrd_updater", "-n", name, "-U", value, "-N", node])


def probe_sessions(cluster, node):
    """Pids of the agent's boot-directory probes on `node` (forks of the agent that lead
    their own session)."""
    rows = cluster.run(node, ["ps", "-eo", "pid=,sid=,args="]).stdout.splitlines()
    return sorted(int(row.split()[0]) for row in rows
                  if len(row.split()) > 2 and row.split()[0] == row.split()[1]
                  and "epics-ioc" in row)


@pytest.mark.cluster
def test_a_hung_boot_directory_moves_the_ioc_with_one_restart(cluster3, tmp_path):
    rid = f"ioc-nfs-{os.getpid()}"
    name = f"E4N{os.getpid()}"
    health = f"#health-ioc-{rid}"
    boot = tmp_path / "iocBoot"
    boot.mkdir()
    (boot / "st.cmd").write_text(f'epicsEnvSet("IOCNAME", "{name}")\n')
    tmp_path.chmod(0o755)
    flag = tmp_path / "hang"
    params = {"ioc_name": name, "boot_dir": str(boot), "ioc_command": f"{PYTHON} {IOC_SCRIPT}",
              "console": "17995", "stop_command": "exit()", "boot_timeout": "1000"}
    ops = [{"name": "monitor", "interval": "3s", "timeout": "20s", "OCF_CHECK_LEVEL": "20"},
           {"name": "start", "timeout": "40s"}]
    nodes = cluster3.nodes
    for key, value in PROPERTIES.items():
        cluster3.run(nodes[0], ["crm_attribute", "-t", "crm_config", "-n", key, "-v", value])
    fuse = None
    home = None
    try:
        home = cluster3.create_resource(id=rid, agent="ocf:ocfpy:epics-ioc", params=params,
                                        monitor="2s", ops=ops, timeout=90)[0]
        others = [n for n in nodes if n != home]
        # The boot directory on the IOC's node becomes a FUSE mount of itself.
        fuse = subprocess.Popen(["nsenter", "-t", str(cluster3.node(home).ns.pid), "-m",
                                 SYSTEM_PYTHON, HANGFS, str(boot), str(flag)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cluster3.wait_until(lambda: cluster3.run(home, ["findmnt", "-n", str(boot)],
                                                 check=False).returncode == 0, 20, "the mount")
        set_attribute(cluster3, home, health, home, "yellow")   # the next monitor says green
        cluster3.wait_until(lambda: attribute(cluster3, home, health, home) == "green", 30,
                            "a depth-20 monitor through the FUSE mount")
        for other in others:               # no node healthier than the IOC's, once it hangs
            set_attribute(cluster3, home, health, other, "red")
        pid_before = cluster3.pidfile_pid(home, f"/run/ocfpy/epics-ioc/{rid}.pid.ioc")

        flag.touch()                                          # the mount stops answering
        cluster3.wait_until(lambda: attribute(cluster3, home, health, home) == "red", 30,
                            f"{home} marked unhealthy")
        stuck = cluster3.pidfile_pid(home, f"/run/ocfpy/epics-ioc/{rid}.pid.bootprobe")
        state = cluster3.run(home, ["ps", "-o", "stat=,wchan=", "-p", str(stuck)]).stdout
        assert "request_wait_answer" in state            # waiting in the kernel for the mount
        for _ in range(4):                     # monitors keep coming: never a second probe
            time.sleep(3)
            assert probe_sessions(cluster3, home) == [stuck]
            assert cluster3.where(rid) == [home], (                # no node is healthier
                cluster3.crm_mon() + cluster3.run(home, ["crm_simulate", "-Ls"]).stdout[-6000:])
        assert cluster3.pidfile_pid(home, f"/run/ocfpy/epics-ioc/{rid}.pid.ioc") == pid_before
        assert not [op for op in cluster3.status().failures if op.resource == rid]

        set_attribute(cluster3, home, health, others[0], "green")
        cluster3.wait_until(lambda: cluster3.where(rid) == [others[0]], 90,
                            f"{rid} to move to {others[0]}")
        status = cluster3.status()
        assert not [op for op in status.failures if op.resource == rid]
        # One restart: stopped where it ran (history there now ends with the stop), started
        # once on the healthy node.
        assert [node for node, _ in status.starts(rid)] == [others[0]]
        assert cluster3.pidfile_pid(others[0], f"/run/ocfpy/epics-ioc/{rid}.pid.ioc")

        flag.unlink()                                         # the mount answers again
        cluster3.wait_until(lambda: attribute(cluster3, home, health, home) == "green", 30,
                            f"{home} marked healthy by the probe that was stuck")
        cluster3.wait_until(lambda: not probe_sessions(cluster3, home), 10, "the probe to end")
    finally:
        if flag.exists():
            flag.unlink()
        if home is not None:
            cluster3.delete_resource(rid, timeout=90)
        if fuse is not None:
            fuse.kill()
            fuse.wait(10)
            if home is not None:
                cluster3.run(home, ["umount", "-l", str(boot)], check=False)
        for node in nodes:
            cluster3.run(nodes[0], ["attrd_updater", "-D", "-n", health, "-N", node],
                         check=False)
        for key in PROPERTIES:
            cluster3.run(nodes[0], ["crm_attribute", "-t", "crm_config", "-n", key, "-D"],
                         check=False)
