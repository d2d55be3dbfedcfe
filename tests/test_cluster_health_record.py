"""A depth-20 epics-ioc monitor tells attrd its node's health only when that is news (real
single-node cluster, real soft IOC under procServ, real attrd).

agents/bootwatch.py records each assertion (value, boot, which pacemaker-attrd took it, when)
and runs attrd_updater again only when the value changes, attrd is not the one that took it,
or the assertion is REASSERT_INTERVALS monitor intervals old. Here:
- steady monitors leave the record alone (no attrd_updater between two of them);
- pacemaker-attrd killed (pacemakerd starts a new one, which on a single node has lost every
  value): the next monitor asserts green again at once, to the new attrd;
- the value deleted behind the agent's back: asserted again within the bound.
"""

import os
import time

import pytest
from ocfrun import PYTHON
from test_epics_ioc import IOC_SCRIPT

from ocfpy.agents import bootwatch

INTERVAL = 6   # seconds between depth-20 monitors
BOUND = min(bootwatch.REASSERT_MAX, bootwatch.REASSERT_INTERVALS * INTERVAL)


def attribute(cluster, node, name):
    done = cluster.run(node, ["attrd_updater", "-Q", "-n", name, "-N", node], check=False)
    for word in done.stdout.split():
        if word.startswith("value="):
            return word[len("value="):].strip('"') or None
    return None


def record(cluster, node, rid):
    """The monitor's record of its last assertion ({} when there is none)."""
    path = f"/run/ocfpy/epics-ioc/{rid}.pid.bootprobe.health"
    done = cluster.run(node, ["cat", path], check=False)
    lines = done.stdout.splitlines() if done.returncode == 0 else []
    assert not lines or lines[0] == bootwatch.HEALTH_MARKER, done.stdout
    return dict(line.partition("=")[::2] for line in lines[1:])


def attrd_pid(cluster, node):
    done = cluster.run(node, ["pgrep", "-x", "pacemaker-attrd"], check=False)
    pids = done.stdout.split()
    return int(pids[0]) if len(pids) == 1 else None


@pytest.mark.cluster
def test_health_is_asserted_again_only_when_attrd_may_have_lost_it(cluster1, tmp_path):
    rid = f"ioc-health-{os.getpid()}"
    name = f"E4H{os.getpid()}"
    health = bootwatch.attribute_name(rid)
    boot = tmp_path / "iocBoot"
    boot.mkdir()
    (boot / "st.cmd").write_text(f'epicsEnvSet("IOCNAME", "{name}")\n')
    tmp_path.chmod(0o755)
    params = {"ioc_name": name, "boot_dir": str(boot), "ioc_command": f"{PYTHON} {IOC_SCRIPT}",
              "console": "17996", "stop_command": "exit()", "boot_timeout": "2000"}
    ops = [{"name": "monitor", "interval": f"{INTERVAL}s", "timeout": "20s",
            "OCF_CHECK_LEVEL": "20"},
           {"name": "start", "timeout": "40s"}]
    node = cluster1.nodes[0]
    created = False
    try:
        cluster1.create_resource(id=rid, agent="ocf:ocfpy:epics-ioc", params=params, ops=ops,
                                 timeout=90)
        created = True
        cluster1.wait_until(lambda: attribute(cluster1, node, health) == "green", 30,
                            "the first depth-20 monitor to mark the node green")
        cluster1.wait_until(lambda: record(cluster1, node, rid).get("value") == "green", 10,
                            "the record of that assertion")
        first = record(cluster1, node, rid)
        assert first["attrd"].startswith(f"{attrd_pid(cluster1, node)}:")   # the one attrd here

        # Steady: two more monitors run, and neither asks attrd again.
        time.sleep(2 * INTERVAL + 1)
        assert record(cluster1, node, rid) == first

        # attrd restarts and forgets: asserted again to the new one, without waiting the bound.
        old = attrd_pid(cluster1, node)
        cluster1.run(node, ["kill", "-KILL", str(old)])
        cluster1.wait_until(lambda: attrd_pid(cluster1, node) not in (None, old), 60,
                            "pacemakerd to start a new pacemaker-attrd")
        new = attrd_pid(cluster1, node)
        cluster1.wait_until(lambda: record(cluster1, node, rid).get("attrd", "")
                            .startswith(f"{new}:"), BOUND / 2,
                            "an assertion to the new attrd, sooner than the bound")
        cluster1.wait_until(lambda: attribute(cluster1, node, health) == "green", 30,
                            "the new attrd to hold green")

        # Deleted behind the agent's back: asserted again within the bound.
        asserted = record(cluster1, node, rid)["at"]
        cluster1.run(node, ["attrd_updater", "-D", "-n", health, "-N", node])
        cluster1.wait_until(lambda: attribute(cluster1, node, health) is None, 30,
                            "the deletion")
        cluster1.wait_until(lambda: attribute(cluster1, node, health) == "green",
                            BOUND + 3 * INTERVAL, "green asserted again")
        assert record(cluster1, node, rid)["at"] != asserted
        assert not [op for op in cluster1.status().failures if op.resource == rid]
    finally:
        if created:
            cluster1.delete_resource(rid, timeout=90)
        cluster1.run(node, ["attrd_updater", "-D", "-n", health, "-N", node], check=False)
