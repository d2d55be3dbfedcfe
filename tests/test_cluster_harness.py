"""The test-cluster harness on real Corosync + Pacemaker: recovery, failover, total teardown."""

import time

import pytest

from ocfpy.testbed import Cluster
from ocfpy.testbed.cluster import leftovers

pytestmark = pytest.mark.cluster

DAEMON = "ocf:ocfpy:daemon"


def _pid(cluster, node, rid):
    return cluster.pidfile_pid(node, f"/run/ocfpy/daemon/{rid}.pid")


def test_single_node_recovers_a_killed_daemon(cluster1, record_property):
    rid = "harness-kill"
    assert cluster1.create_resource(id=rid, agent=DAEMON, params={"command": "sleep 100000"},
                                    monitor="2s") == ["node1"]
    try:
        old = _pid(cluster1, "node1", rid)
        assert cluster1.run("node1", ["ps", "-o", "args=", "-p", str(old)]).stdout.strip() == \
            "sleep 100000"
        cluster1.signal("node1", old, "KILL")
        killed = time.monotonic()

        def recovered():
            if cluster1.where(rid) != ["node1"]:
                return None
            pid = _pid(cluster1, "node1", rid)
            return pid if pid != old else None

        new = cluster1.wait_until(recovered, 30, f"{rid} restarted with a new pid", interval=0.1)
        seconds = time.monotonic() - killed
        record_property("recovery_seconds", round(seconds, 2))
        print(f"\nkilled daemon recovered in {seconds:.2f}s (monitor interval 2s)")
        assert new != old
        # The monitor, not luck, found it: the failure is in the history.
        assert any(op.resource == rid and op.task == "monitor" and op.rc == 7
                   for op in cluster1.status().failures)
        assert cluster1.run("node1", ["kill", "-0", str(old)], check=False).returncode != 0
    finally:
        cluster1.delete_resource(rid)
    assert cluster1.where(rid) == []
    assert cluster1.run("node1", ["test", "-e", f"/run/ocfpy/daemon/{rid}.pid"],
                        check=False).returncode == 1


def test_nodes_are_private(cluster1, cluster3):
    assert cluster1.run("node1", ["hostname"]).stdout.strip() == "node1"
    assert cluster3.run("node2", ["hostname"]).stdout.strip() == "node2"
    # Two clusters, each with its own corosync on its own network: the same node name twice.
    assert "cluster_name: " + cluster1.name in cluster1.read_file("node1", "/etc/corosync/corosync.conf")
    assert cluster3.name != cluster1.name or cluster3.dir != cluster1.dir
    conf = cluster3.read_file("node3", "/etc/corosync/corosync.conf")
    assert "crypto_cipher: aes256" in conf and "ring0_addr: 10.254.0.2" in conf
    addresses = cluster3.run("node3", ["ip", "-o", "-4", "addr", "show"]).stdout
    assert "10.254.0.3/24" in addresses and "10.254.0.1/" not in addresses
    key = cluster3.run("node1", ["stat", "-c", "%a %s", "/etc/corosync/authkey"]).stdout.split()
    assert key == ["400", "256"]


def test_three_nodes_online_and_failover(cluster3, record_property):
    text = cluster3.run("node2", ["crm_mon", "-1"]).stdout
    assert "Online: [ node1 node2 node3 ]" in text
    status = cluster3.status("node2")
    assert status.quorum and status.dc in ("node1", "node2", "node3")

    rid = "harness-move"
    before = cluster3.create_resource(id=rid, agent=DAEMON, params={"command": "sleep 100000"},
                                      monitor="2s")
    assert len(before) == 1
    lost = before[0]
    witness = next(n for n in cluster3.nodes if n != lost)
    try:
        cluster3.kill_node(lost)
        began = time.monotonic()
        after = cluster3.wait_until(
            lambda: [n for n in cluster3.where(rid, on=witness) if n != lost], 60,
            f"{rid} to move off {lost}", interval=0.2)
        seconds = time.monotonic() - began
        record_property("failover_seconds", round(seconds, 2))
        print(f"\n{rid} moved {lost} -> {after[0]} in {seconds:.2f}s (token 3000 ms)")
        assert len(after) == 1 and after[0] != lost
        assert lost not in cluster3.status(witness).online
        cluster3.restart_node(lost)
        assert cluster3.status(lost).online == ["node1", "node2", "node3"]
        # The rejoined node learns the cluster's state a moment later; then, by stickiness, the
        # resource is still where it went.
        seen = cluster3.wait_until(lambda: cluster3.where(rid, on=lost), 30,
                                   f"{lost} to see where {rid} runs")
        assert seen == after
    finally:
        cluster3.delete_resource(rid, on=witness)


def test_isolated_node_is_fenced_and_loses_its_resource(cluster3):
    rid = "harness-isolate"
    before = cluster3.create_resource(id=rid, agent=DAEMON, params={"command": "sleep 100000"},
                                      monitor="2s")
    cut = before[0]
    witness = next(n for n in cluster3.nodes if n != cut)
    began = time.monotonic()
    try:
        cluster3.isolate(cut)
        after = cluster3.wait_until(
            lambda: [n for n in cluster3.where(rid, on=witness) if n != cut], 60,
            f"{rid} to move off the isolated {cut}", interval=0.2)
        assert after and cut not in after
        # It moved because the survivors fenced the cut node: its BMC switched it off (so its
        # copy is gone with it), and the fencer recorded the success.
        offs = [e for e in cluster3.power_events(cut, since=began) if not e.on]
        assert [e.by for e in offs] == ["bmc"]
        assert not cluster3.node(cut).powered
        assert [e.status for e in cluster3.fence_history(cut, on=witness)][-1:] == ["success"]
    finally:
        cluster3.rejoin(cut)
        cluster3.restart_node(cut)
        cluster3.wait_until(lambda: cluster3.status(witness).online == cluster3.nodes, 60,
                            f"{cut} to rejoin")
        cluster3.delete_resource(rid, on=witness)


def test_teardown_leaves_nothing():
    cluster = Cluster(nodes=1)
    with cluster:
        cluster.create_resource(id="harness-left", agent=DAEMON,
                                params={"command": "sleep 100000"}, monitor="5s")
        running = leftovers(cluster)
        assert any("corosync" in line for line in running)
        assert any("sleep 100000" in line for line in running)
        scratch = cluster.dir
    assert leftovers(cluster) == []
    import os

    assert not os.path.exists(scratch)


def test_clone_runs_everywhere_and_is_found_by_either_id(cluster3):
    primitive = cluster3.primitive_xml("harness-cloned", DAEMON, {"command": "sleep 100000"},
                                       monitor="5s")
    cluster3.create_resource(xml=f'<clone id="harness-clone">{primitive}</clone>')
    try:
        cluster3.wait_until(lambda: cluster3.where("harness-clone") == cluster3.nodes, 60,
                            "the clone on every node")
        assert cluster3.where("harness-cloned") == ["node1", "node2", "node3"]
        pids = {node: cluster3.pidfile_pid(node, "/run/ocfpy/daemon/harness-cloned.pid")
                for node in cluster3.nodes}
        assert all(pid > 1 for pid in pids.values())
    finally:
        cluster3.delete_resource("harness-clone")
    assert cluster3.where("harness-cloned") == []
    for node in cluster3.nodes:
        assert cluster3.run(node, ["test", "-e", "/run/ocfpy/daemon/harness-cloned.pid"],
                            check=False).returncode == 1
