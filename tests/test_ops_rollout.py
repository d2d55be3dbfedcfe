"""`ocfgen rollout` on the real three-node cluster: another version of the agents goes onto
every node one at a time (standby, install, unstandby, healthy), and a change that fails on
the second node stops there, leaves that node in standby and never touches the third. Both
rollouts land in the history, and `ocfgen report` gives their change failure rate."""

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from ocfrun import OCFGEN, PYTHON, REPO

from ocfpy.install import PROVIDER_DIR
from ocfpy.testbed import services

pytestmark = pytest.mark.cluster
NEW_VERSION = "0.1.0+rollout"


def _new_agents(scratch):
    """Another version of ocfpy's agents: a copy of the package under its own version, with
    entry scripts for it written by its own `ocfpy-agents install` under scratch/root/agents."""
    site = os.path.join(scratch, "site")
    shutil.copytree(os.path.join(REPO, "ocfpy"), os.path.join(site, "ocfpy"),
                    ignore=shutil.ignore_patterns("__pycache__", "testbed", "generators"))
    init = os.path.join(site, "ocfpy", "__init__.py")
    with open(init) as f:
        text = f.read()
    with open(init, "w") as f:
        f.write(text.replace('__version__ = "', f'__version__ = "{NEW_VERSION}" or "', 1))
    root = os.path.join(scratch, "root")
    subprocess.run([PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                    "from ocfpy.install import main; sys.exit(main())", site, "install",
                    "--root", root, "--python", PYTHON, "--site", site, "--dir", "/agents",
                    "--alert", "/libexec/ocfpy-alert"], check=True, capture_output=True)
    return os.path.join(root, "agents")


def _rollout(cluster, command, log, *extra):
    pids = [f"--pid={node}={cluster.node(node).ns.pid}" for node in cluster.nodes]
    return subprocess.run([*OCFGEN, "rollout", "--command", command, "--runner", "nsenter",
                           *pids, "--timeout", "120", "--history", log, *extra],
                          capture_output=True, text=True, timeout=900)


def _standby_and_active(snapshot):
    """(nodes in standby, nodes with an active resource) in a crm_mon XML snapshot."""
    root = ET.fromstring(snapshot)
    standby = sorted(n.get("name") for n in root.iterfind("nodes/node")
                     if n.get("standby") == "true")
    active = {node.get("name") for r in root.iter("resource") if r.get("active") == "true"
              for node in r.iterfind("node")}
    return standby, active


@pytest.fixture
def cluster3(cluster3, record_property):
    """The shared cluster, without the fence devices' failed monitors that earlier tests'
    fencing may have left: rollout refuses a cluster with any failed action (its own test
    checks that), and these are not this module's. What was cleaned is in the report."""
    cleaned = cluster3.clear_fence_device_failures()
    if cleaned:
        record_property("fence device failures cleaned before the test", "; ".join(cleaned))
    return cluster3


def test_rollout_one_node_at_a_time_then_stop_at_the_failing_node(cluster3, record_property):
    scratch = os.path.join(cluster3.dir, "rollout-test")
    os.makedirs(scratch)
    agents = _new_agents(scratch)
    log = os.path.join(scratch, "history.jsonl")
    rids = [f"t-roll-{i}" for i in range(1, 4)]
    seen = os.path.join(scratch, "seen")
    os.makedirs(seen)
    # Each node, while the command runs on it, writes what the cluster looks like then.
    look = f"crm_mon -1 --output-as=xml > {seen}/$ROUND-$(hostname).xml"
    install_agents = f"mount --bind {agents} {PROVIDER_DIR}"
    mounted = set()
    try:
        for rid in rids:
            cluster3.create_resource(**services.sleeper(rid))
        done = _rollout(cluster3, f"ROUND=1; {look} && {install_agents}", log)
        mounted.update(cluster3.nodes)
        assert done.returncode == 0, done.stderr
        steps = [line for line in done.stdout.splitlines() if ": " in line]
        for index, node in enumerate(cluster3.nodes):
            assert [s.split(": ")[1].split(" ")[0] for s in steps[4 * index:4 * index + 4]] == [
                "standby", "running", "leaving", "done"], steps
            assert all(s.startswith(f"{node}: ") for s in steps[4 * index:4 * index + 4])
            with open(os.path.join(seen, f"1-{node}.xml")) as f:
                standby, active = _standby_and_active(f.read())
            assert standby == [node] and node not in active  # only it, drained
            script = cluster3.read_file(node, f"{PROVIDER_DIR}/daemon")
            assert f"ocfpy {NEW_VERSION}" in script.splitlines()[1]
        status = cluster3.status()
        assert not status.failures and all(status.where(rid) for rid in rids)

        failing = (f"ROUND=2; {look}; if [ \"$(hostname)\" = node2 ]; then "
                   f"echo 'package conflict: ocfpy' >&2; exit 3; fi; {install_agents}")
        done = _rollout(cluster3, failing, log)
        assert done.returncode == 1
        assert done.stderr.strip() == ("rollout: stopped at node2 (left in standby): the "
                                       "command exited with 3: package conflict: ocfpy")
        assert "node1: done" in done.stdout and "node3" not in done.stdout
        assert sorted(os.listdir(seen)) == ["1-node1.xml", "1-node2.xml", "1-node3.xml",
                                            "2-node1.xml", "2-node2.xml"]
        standby, active = _standby_and_active(cluster3.run("node1", [
            "crm_mon", "-1", "--output-as=xml"]).stdout)
        assert standby == ["node2"] and "node2" not in active
        assert all(cluster3.where(rid) for rid in rids)

        report = json.loads(subprocess.run([*OCFGEN, "report", log, "--json"],
                                           capture_output=True, text=True, timeout=60).stdout)
        assert [r["outcome"] for r in report["rollouts"]] == ["success", "failed"]
        assert report["rollouts"][1]["failed_node"] == "node2"
        assert report["rollouts"][1]["completed"] == ["node1"]
        assert report["change_failure_rate"] == 0.5
        text = subprocess.run([*OCFGEN, "report", log], capture_output=True, text=True,
                              timeout=60).stdout
        assert "changes: 2 rollouts, 1 failed: change failure rate 50 %" in text
        record_property("rollout_seconds", report["rollouts"][0]["seconds"])
        print(f"\n{done.stdout}{done.stderr}\n{text}")
    finally:
        cluster3.run("node1", ["crm_attribute", "--node", "node2", "--name", "standby",
                               "--update", "off"], check=False)
        for node in mounted:
            while cluster3.run(node, ["umount", PROVIDER_DIR], check=False).returncode == 0:
                pass
        for rid in rids:
            try:
                cluster3.delete_resource(rid)
            except Exception:
                pass


def test_rollout_refuses_what_it_cannot_do_and_records_no_change(cluster3):
    log = os.path.join(cluster3.dir, "refused-history.jsonl")
    done = _rollout(cluster3, "true", log, "--nodes", "node1,node9")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("rollout: not nodes of this cluster: node9 (nodes: ")
    cluster3.run("node1", ["crm_attribute", "--node", "node3", "--name", "standby",
                           "--update", "on"])
    try:
        done = _rollout(cluster3, "true", log)
        assert done.returncode == 1
        assert done.stderr.strip() == ("rollout: the cluster is not healthy before the rollout: "
                                       "node3 is in standby")
    finally:
        cluster3.run("node1", ["crm_attribute", "--node", "node3", "--name", "standby",
                               "--update", "off"])
    assert not os.path.exists(log)  # a refused rollout changed nothing: not in the history
    for args, error in ((["--runner", "nsenter"], "the nsenter runner needs --pid NODE=PID for "
                                                  "every node"),
                        (["--runner", "nsenter", "--pid", "node1"], "'node1' is not NODE=PID")):
        bad = subprocess.run([*OCFGEN, "rollout", "--command", "true", *args],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and bad.stderr.strip() == f"rollout: {error}"
