"""Fencing that is exercised: `ocfgen check` refuses a cluster it cannot fence, and the real
fence_ipmilan fences test nodes through their simulated BMCs (ipmi_sim, ocfpy/testbed/bmc.py):
topology levels, a wrong password, `ocfgen drill --scenario fence`."""

import os
import subprocess
import time

import pytest
from ocfrun import OCFGEN

from ocfpy.generators.load.nodes import TWO_NODE_DELAY
from ocfpy.testbed import cluster as testbed

# ---- ocfgen check: an unfenceable cluster is refused, located, exit 2 --------------------------

BASE = """\
[cluster]
name = "fc"

[nodes.ctl1]
addresses = ["192.0.2.1"]
[[nodes.ctl1.fencing]]
agent = "fence_ipmilan"
params = { ip = "10.0.0.1", username = "admin", password_script = "/etc/cluster/pw", lanplus = true }

[nodes.ctl2]
addresses = ["192.0.2.2"]
[[nodes.ctl2.fencing]]
agent = "fence_ipmilan"
params = { ip = "10.0.0.2", username = "admin", password_script = "/etc/cluster/pw", lanplus = true }

[nodes.ctl3]
addresses = ["192.0.2.3"]
[[nodes.ctl3.fencing]]
agent = "fence_ipmilan"
params = { ip = "10.0.0.3", username = "admin", password_script = "/etc/cluster/pw", lanplus = true }
"""
CTL2 = 'params = { ip = "10.0.0.2", username = "admin", password_script = "/etc/cluster/pw", ' \
       'lanplus = true }'
CTL3 = CTL2.replace("10.0.0.2", "10.0.0.3")


def ctl2(new):
    return BASE.replace(CTL2, new)


def check(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    done = subprocess.run([*OCFGEN, "check", path.name], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path)
    return done.returncode, done.stderr.strip().splitlines() + done.stdout.strip().splitlines()


REFUSED = [
    ("host-list-typo", BASE.replace(CTL3, CTL3.replace(" }", ', pcmk_host_list = "clt3" }')),
     "c.toml:20:102: nodes.ctl3.fencing[0].params.pcmk_host_list: pcmk_host_list names 'clt3', "
     "which is not a node of this cluster (did you mean 'ctl3'?) (nodes: ctl1, ctl2, ctl3)"),
    ("device-for-another-node", BASE.replace(CTL3, CTL3.replace(
        " }", ', pcmk_host_list = "ctl2" }')),
     "c.toml:20:102: nodes.ctl3.fencing[0].params.pcmk_host_list: device fence-ctl3-ipmilan is at "
     "level 1 of ctl3 but does not fence ctl3: its pcmk_host_list names ctl2"),
    ("map-to-nonexistent-node", BASE.replace(CTL3, CTL3.replace(
        " }", ', pcmk_host_map = "ctl3:1;ctl9:2" }')),
     "c.toml:20:102: nodes.ctl3.fencing[0].params.pcmk_host_map: pcmk_host_map names 'ctl9', which "
     "is not a node of this cluster (did you mean 'ctl3'?) (nodes: ctl1, ctl2, ctl3)"),
    ("node-without-fencing", BASE[:BASE.index("[[nodes.ctl3.fencing]]")],
     "c.toml:16:8: nodes.ctl3: no fence device can fence ctl3 and stonith-enabled is not false: "
     "if it fails, its resources never start elsewhere; add [[nodes.ctl3.fencing]]"),
    ("unknown-fence-agent", BASE.replace('agent = "fence_ipmilan"\n' + CTL2,
                                         'agent = "fence_ipmi"\n' + CTL2),
     "c.toml:13:1: nodes.ctl2.fencing[0].agent: unknown fence agent 'fence_ipmi': no fence_ipmi "
     "on this host (did you mean 'fence_ipmilan'?); if the cluster nodes have it, list "
     "'stonith:fence_ipmi' in [cluster] provided_elsewhere"),
    ("unknown-ocf-agent", BASE + '\n[resources.vip]\nagent = "ocf:heartbeat:IPadr2"\n'
                                 'params = { ip = "192.0.2.100" }\n',
     "c.toml:23:1: resources.vip.agent: unknown agent ocf:heartbeat:IPadr2: no IPadr2 in "
     "/usr/lib/ocf/resource.d/heartbeat (did you mean 'IPaddr2'?); if the cluster nodes have "
     "it, list 'ocf:heartbeat:IPadr2' in [cluster] provided_elsewhere"),
    ("unknown-option", ctl2(CTL2.replace("lanplus = true", "lanpluss = true")),
     "c.toml:14:86: nodes.ctl2.fencing[0].params.lanpluss: unknown parameter 'lanpluss' for "
     "stonith:fence_ipmilan (did you mean 'lanplus'?)"),
    ("wrong-type", ctl2(CTL2.replace("lanplus = true", 'lanplus = "maybe"')),
     "c.toml:14:86: nodes.ctl2.fencing[0].params.lanplus: parameter 'lanplus' is not a boolean "
     "(use true or false): 'maybe'"),
    ("missing-required", BASE.replace('agent = "fence_ipmilan"\n' + CTL2,
                                      'agent = "fence_apc"\n'
                                      'params = { username = "apc", password_script = "/p" }'),
     "c.toml:12:14: nodes.ctl2.fencing[0]: missing required parameter 'ip' of stonith:fence_apc"),
    ("inline-password", ctl2(CTL2.replace('password_script = "/etc/cluster/pw"',
                                          'password = "hunter2"')),
     "c.toml:14:49: nodes.ctl2.fencing[0].params.password: inline secret 'password': the CIB is "
     "copied to every node and into every report; name a script that prints it with "
     "password_script instead"),
    ("bad-bmc-address", ctl2(CTL2.replace("10.0.0.2", "10.0.0.300")),
     "c.toml:14:12: nodes.ctl2.fencing[0].params.ip: '10.0.0.300' is not an IP address or a "
     "host name"),
    ("bmc-port-out-of-range", ctl2(CTL2.replace("lanplus = true", "ipport = 70000")),
     "c.toml:14:86: nodes.ctl2.fencing[0].params.ipport: port '70000' is out of range: a port is "
     "1 to 65535"),
    ("duplicate-bmc", ctl2(CTL2.replace("10.0.0.2", "10.0.0.1")),
     "c.toml:14:1: nodes.ctl2.fencing[0].params: BMC 10.0.0.1 port 623 is also the fence device "
     "of ctl1 (nodes.ctl1.fencing[0], line 6): one BMC powers one node, so fencing ctl2 would "
     "switch ctl1 off"),
]


@pytest.mark.parametrize("text,message", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_check_refuses_an_unfenceable_cluster(tmp_path, text, message):
    rc, lines = check(tmp_path, text)
    assert (rc, lines) == (2, [message])
    assert not (tmp_path / "cib.xml").exists()


def test_check_accepts_what_the_cluster_nodes_provide(tmp_path):
    """An agent only the cluster nodes have is declared, then used unchecked (a warning)."""
    text = BASE.replace('name = "fc"', 'name = "fc"\nprovided_elsewhere = '
                                       '["stonith:fence_site", "ocf:site:Thing"]')
    text = text.replace('agent = "fence_ipmilan"\n' + CTL2, 'agent = "fence_site"\n' + CTL2)
    text += '\n[resources.thing]\nagent = "ocf:site:Thing"\n'
    rc, lines = check(tmp_path, text)
    assert rc == 0, lines
    assert "warning: c.toml: parameters of ocf:site:Thing not checked: no meta-data for it on " \
           "this host" in lines
    rc, lines = check(tmp_path, BASE)
    assert (rc, lines) == (0, ["c.toml: ok (3 nodes, 0 resources; relax-ng and crm_verify "
                                 "pass; corosync settings valid)"])


# ---- the real cluster: BMCs, topology, failures of fencing ------------------------------------

def push(cluster, path, *extra):
    """`ocfgen push` of a description on node1 (its checkpoints in the scratch directory)."""
    return cluster.run("node1", ["env", f"OCFGEN_STATE_DIR={cluster.dir}/ocfgen-state",
                                 *OCFGEN, "push", "-y", *extra, str(path)], timeout=120)


@pytest.fixture
def own_description(cluster3, tmp_path):
    """Put the cluster's own fencing back after a test that pushed a variant of it."""
    yield
    path = tmp_path / "own.toml"
    path.write_text(cluster3.description())
    push(cluster3, path, "--prune")


@pytest.mark.cluster
def test_fencing_is_on_with_ocfgens_devices(cluster1, cluster3):
    for cluster in (cluster1, cluster3):
        cib = cluster.run("node1", ["cibadmin", "--query"]).stdout
        assert 'name="stonith-enabled" value="true"' in cib
        for node in cluster.nodes:
            assert f'<primitive id="fence-{node}-ipmilan" class="stonith" ' \
                   f'type="fence_ipmilan">' in cib
        # The BMC password is read through password_script, never written into the CIB.
        password = open(os.path.join(cluster.dir, "bmc", "password")).read().strip()
        assert password not in cib and 'name="password"' not in cib
    # Every node reaches every BMC over the management network, with the real agent. A node
    # an earlier test fenced may still be booting, and an IPMI session may time out on a busy
    # machine (fence_ipmilan retries it): each answer is awaited, and must be "Status: ON".
    for node in cluster3.nodes:
        for target in cluster3.nodes:
            bmc = cluster3.bmc_params(target)
            argv = ["fence_ipmilan", "-a", bmc["ip"], "-u", "623", "-l", "admin",
                    "-S", bmc["password_script"], "-P", "-C", "3", "-o", "status"]
            answers = []

            def status_on(node=node, argv=argv, answers=answers):
                done = cluster3.run(node, argv, check=False, timeout=60)
                answers.append((done.returncode, done.stdout.strip(), done.stderr.strip()[-200:]))
                return done.stdout.strip() == "Status: ON"

            try:
                cluster3.wait_until(status_on, 120, f"{target}'s BMC to answer {node}")
            except testbed.TestbedError:
                raise AssertionError(f"{node} -> {target}'s BMC: {answers}") from None


@pytest.mark.cluster
def test_topology_dead_bmc_then_working_one(cluster3, tmp_path, own_description):
    """Level 1 a BMC that does not answer, level 2 the node's own: `ocfgen drill --scenario
    fence` reports each, and fencing goes through level 2 after level 1 failed."""
    dead = dict(cluster3.bmc_params("node3"), ip="10.254.1.199", pcmk_off_timeout="8s",
                pcmk_monitor_timeout="8s")
    fencing = {"node3": [{"agent": "fence_ipmilan", "id": "fence-node3-dead", "params": dead},
                         {"agent": "fence_ipmilan", "params": cluster3.bmc_params("node3")}]}
    path = tmp_path / "topology.toml"
    path.write_text(cluster3.description(fencing=fencing))
    push(cluster3, path)
    cluster3.wait_until(lambda: "fence-node3-dead" in cluster3.run(
        "node1", ["stonith_admin", "--list", "node3"]).stdout, 60, "the dead BMC's device")

    before = len(cluster3.power_events("node3"))
    done = cluster3.run("node1", [*OCFGEN, "drill", "node3", "--scenario", "fence"],
                        check=False, timeout=120)
    lines = sorted(done.stdout.splitlines())
    assert done.returncode == 1, done.stderr
    assert lines[0].startswith("fence node3: device fence-node3-dead: FAILED: ")
    assert lines[1] == "fence node3: device fence-node3-ipmilan: ok (Status: ON)"
    assert len(lines) == 2 and "Traceback" not in done.stderr
    assert len(cluster3.power_events("node3")) == before  # asked, not fenced

    levels = cluster3.run("node1", ["cibadmin", "--query", "--scope", "fencing-topology"]).stdout
    assert 'index="1" devices="fence-node3-dead"' in levels
    assert 'index="2" devices="fence-node3-ipmilan"' in levels
    done = cluster3.run("node1", [*OCFGEN, "drill", "node3", "--scenario", "fence", "--fence"],
                        check=False, timeout=180)
    try:
        assert done.stdout.splitlines()[-1] == "fence node3: fenced", done.stdout + done.stderr
        offs = [(e.on, e.by) for e in cluster3.power_events("node3")[before:]]
        assert offs == [(False, "bmc")]
        history = cluster3.fence_history("node3")
        assert (history[-1].action, history[-1].status) == ("off", "success")
        # Both attempts, in order: Pacemaker 2.1.5 keeps one history entry per fencing request,
        # the attempts of each level are in the log of the fencer that ran them.
        log = sorted(line for node in ("node1", "node2") for line in cluster3.read_file(
            node, "/var/log/pacemaker/pacemaker.log").splitlines())  # "Dec 01 00:09:15.969 ..."
        attempts = [line for line in log if "targeting node3 using" in line
                    and "pacemaker-fenced" in line and ("returned" in line or
                                                        "timed out" in line.lower())]
        devices = [("fence-node3-dead" if "fence-node3-dead" in line else "fence-node3-ipmilan")
                   for line in attempts]
        assert devices[-2:] == ["fence-node3-dead", "fence-node3-ipmilan"], attempts
    finally:
        cluster3.restart_node("node3")


@pytest.mark.cluster
def test_wrong_password_leaves_the_node_unclean(cluster3, tmp_path, own_description):
    """A device that cannot log in: the lost node stays UNCLEAN, its resource is not started
    anywhere else, crm_mon says why; fixed, the node is fenced and the resource moves."""
    from ocfpy.testbed import services

    wrong = tmp_path / "wrong-password.sh"
    wrong.write_text("#!/bin/sh\necho not-the-password\n")
    wrong.chmod(0o700)
    fencing = {"node2": [{"agent": "fence_ipmilan",
                          "params": dict(cluster3.bmc_params("node2"),
                                         password_script=str(wrong))}]}
    path = tmp_path / "wrong.toml"
    path.write_text(cluster3.description(fencing=fencing))
    push(cluster3, path)
    rid = "fencing-stays"
    spec = services.sleeper(rid)
    cluster3.create_resource(**spec, meta={"resource-stickiness": "100"})
    cluster3.run("node1", ["crm_resource", "--resource", rid, "--move", "--node", "node2"])
    cluster3.wait_until(lambda: cluster3.where(rid) == ["node2"], 60, f"{rid} on node2")
    cluster3.run("node1", ["crm_resource", "--resource", rid, "--clear"])
    started = cluster3.status("node1").starts(rid)
    try:
        cluster3.isolate("node2")

        def unclean():
            text = cluster3.crm_mon("node1")
            return "Node node2: UNCLEAN (offline)" in text and "Failed Fencing Actions" in text \
                and text
        text = cluster3.wait_until(unclean, 90, "node2 UNCLEAN with failed fencing")
        assert "turning off of node2 by " in text and " failed at " in text
        assert "fence-node2-ipmilan start on " in text  # the device cannot log in to its BMC
        # The survivors keep trying; meanwhile nothing of node2 is started elsewhere.
        cluster3.wait_until(lambda: len([e for e in cluster3.fence_history("node2", on="node1")
                                         if e.status == "failed"]) >= 3, 60,
                            "three failed attempts to fence node2")
        status = cluster3.status("node1")
        # No start since the cut on a survivor (crm_mon shows no history of the lost node).
        elsewhere = {(node, call) for node, call in status.starts(rid) if node != "node2"}
        assert elsewhere == {(node, call) for node, call in started if node != "node2"}
        assert [n for n in status.where(rid) if n != "node2"] == []
        assert cluster3.node("node2").powered  # its BMC never switched it off

        # The right password again: fenced through the BMC, the resource moves.
        own = tmp_path / "own.toml"
        own.write_text(cluster3.description())
        push(cluster3, own)
        # Its failed starts keep the device off node1 and node3 until cleaned up; the
        # controller gives up after stonith-max-attempts: the operator fences, as the fencer's
        # device comes back (the controller's own retry may be first).
        cluster3.run("node1", ["crm_resource", "--cleanup", "--resource", "fence-node2-ipmilan"])

        def fenced():
            if cluster3.node("node2").powered:
                cluster3.run("node1", ["stonith_admin", "--fence", "node2", "--timeout", "30"],
                             check=False, timeout=60)
            return not cluster3.node("node2").powered
        cluster3.wait_until(fenced, 120, "node2 fenced through its BMC", interval=2)
        assert [e.by for e in cluster3.power_events("node2") if not e.on][-1:] == ["bmc"]
        cluster3.wait_until(lambda: [n for n in cluster3.where(rid, on="node1")
                                     if n != "node2"], 60, f"{rid} elsewhere")
    finally:
        cluster3.rejoin("node2")
        cluster3.restart_node("node2")
        cluster3.delete_resource(rid, on="node1")


# ---- two nodes: a fence race with exactly one survivor ----------------------------------------

TWO_NODES = BASE[:BASE.index("[nodes.ctl3]")]


def test_two_nodes_get_a_fence_delay_and_the_wait_for_all_warning(tmp_path):
    rc, lines = check(tmp_path, TWO_NODES)
    assert rc == 0
    assert lines[0] == (
        "warning: c.toml:4:2: nodes: two nodes: corosync's two_node implies wait_for_all, so "
        "after both were down a node that comes back alone runs nothing until it sees the "
        "other; to let it start alone set wait_for_all = false (it then fences the other node "
        "first: startup fencing), or set wait_for_all = true to say this is meant")
    from ocfpy.generators.load.description import loads

    model = loads(TWO_NODES)
    assert [d.params.get("pcmk_delay_base") for d in model.fence_devices()] == ["10s", None]
    # A delay the description chose is kept as it is, and none is added.
    chosen = loads(TWO_NODES.replace("lanplus = true }", 'lanplus = true, '
                                     'pcmk_delay_max = "10s" }', 1))
    assert [d.params.get("pcmk_delay_base") for d in chosen.fence_devices()] == [None, None]


def test_two_nodes_may_choose_to_start_alone(tmp_path):
    """wait_for_all = false: no warning, corosync.conf says so; never without startup fencing."""
    text = TWO_NODES + "\n[corosync]\nwait_for_all = false\n"
    rc, lines = check(tmp_path, text)
    assert rc == 0 and not [line for line in lines if line.startswith("warning")], lines
    done = subprocess.run([*OCFGEN, "corosync", "c.toml", "-o", "out"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    conf = (tmp_path / "out" / "corosync.conf").read_text()
    assert "\ttwo_node: 1\n\twait_for_all: 0\n" in conf
    rc, lines = check(tmp_path, text + "\n[properties]\nstartup-fencing = false\n")
    assert (rc, lines) == (2, [
        "c.toml:21:1: properties.startup-fencing: wait_for_all = false with startup-fencing = "
        "false: a node that comes back alone would run the services without knowing the "
        "other node is down (split brain)"])


@pytest.mark.cluster
def test_two_nodes_cut_apart_leave_exactly_one_survivor(record_property):
    """The link between two nodes is cut three times (from either side): both keep quorum
    (two_node) and both fence, and every time exactly one node is left, the same one."""
    from ocfpy.testbed import Cluster

    with Cluster(nodes=2) as cluster:
        cib = cluster.run("node1", ["cibadmin", "--query", "--scope", "resources"]).stdout
        assert 'name="pcmk_delay_base" value="10s"' in cib  # ocfgen's default, on node1's device
        survivors = []
        for cut in ("node2", "node1", "node2"):
            dc = cluster.status().dc
            began = time.monotonic()
            cluster.isolate(cut)
            cluster.wait_until(lambda b=began: [e for e in cluster.power_events(since=b)
                                                if not e.on], 90, "a node to be fenced")
            # A second fence (the other side's) would come after the delay: wait past it.
            time.sleep(int(TWO_NODE_DELAY.rstrip("s")) + 3)
            alive = [n for n in cluster.nodes if cluster.node(n).powered]
            fenced = [e.node for e in cluster.power_events(since=began) if not e.on]
            survivors.append(alive)
            print(f"cut {cut} (DC {dc}): fenced {fenced} after "
                  f"{cluster.power_events(since=began)[0].at - began:.2f} s")
            assert len(alive) == 1 and fenced == [n for n in cluster.nodes if n not in alive]
            record_property(f"fenced_after_cut_of_{cut}", round(time.monotonic() - began, 1))
            loser = fenced[0]
            cluster.rejoin(cut)
            cluster.restart_node(loser)
            # Cut again only a settled cluster (the rejoined node's probes done).
            cluster.run(alive[0], ["crm_resource", "--wait", "--timeout", "60s"], timeout=90)
        assert survivors == [["node1"]] * 3
