"""ocfgen drill against real test clusters: kill, hang and node loss, each recovered by Pacemaker."""

import json
import os
import sys
import time

import pytest

from ocfpy.generators.live.drill import DrillError, run_drill
from ocfpy.testbed import services

pytestmark = pytest.mark.cluster


def test_kill_and_hang_on_one_node(cluster1, record_property):
    rid = "drill-web"
    cluster1.create_resource(**services.web(rid))
    try:
        old = cluster1.pidfile_pid("node1", f"/run/ocfpy/daemon/{rid}.pid")
        killed = run_drill(cluster1, rid, "kill", timeout=60)
        assert killed.seconds is not None and killed.node_after == "node1", killed.line()
        middle = cluster1.pidfile_pid("node1", f"/run/ocfpy/daemon/{rid}.pid")
        assert middle != old
        cluster1.wait_until(lambda: cluster1.run("node1", ["python3", "-I", "-c",
                            "import urllib.request as r; r.urlopen('http://127.0.0.1:5480/', "
                            "timeout=1)"], check=False).returncode == 0, 20, "web to answer")
        hung = run_drill(cluster1, rid, "hang", timeout=60)
        assert hung.seconds is not None and hung.node_after == "node1", hung.line()
        new = cluster1.pidfile_pid("node1", f"/run/ocfpy/daemon/{rid}.pid")
        assert new != middle
        # The stopped server was killed by the stop's escalation, not left stopped behind.
        assert cluster1.run("node1", ["kill", "-0", str(middle)], check=False).returncode != 0
        assert any(op.resource == rid and op.interval_ms == 3000
                   for op in cluster1.status().failures)
        record_property("mttr_kill_seconds", round(killed.seconds, 2))
        record_property("mttr_hang_seconds", round(hung.seconds, 2))
        print(f"\n{killed.line()}\n{hung.line()}")
    finally:
        cluster1.delete_resource(rid)


def test_hang_without_a_deep_monitor_is_refused(cluster1):
    rid = "drill-shallow"
    cluster1.create_resource(**services.sleeper(rid))
    try:
        pid = cluster1.pidfile_pid("node1", f"/run/ocfpy/daemon/{rid}.pid")
        with pytest.raises(DrillError, match="OCF_CHECK_LEVEL >= 10"):
            run_drill(cluster1, rid, "hang")
        with pytest.raises(DrillError, match="not running anywhere"):
            run_drill(cluster1, "drill-absent", "kill")
        # Refused means untouched: the process was never stopped.
        state = cluster1.run("node1", ["ps", "-o", "stat=", "-p", str(pid)]).stdout.strip()
        assert not state.startswith("T")
    finally:
        cluster1.delete_resource(rid)


def test_ocfgen_drill_command_on_the_node(cluster1, tmp_path):
    """The command prints the MTTR and records it in the operations history it is given,
    dated from the fault, as `ocfgen report` reads it."""
    rid = "drill-cli"
    cluster1.create_resource(**services.sleeper(rid))
    ocfgen = os.path.join(os.path.dirname(sys.executable), "ocfgen")
    history = tmp_path / "history.jsonl"
    try:
        before = time.time()
        done = cluster1.run("node1", [ocfgen, "drill", rid, "--scenario", "kill",
                                      "--history", str(history)], timeout=90)
        assert done.stdout.startswith(f"kill  {rid} on node1: running again on node1 after ")
        measured = float(done.stdout.split(" after ")[1].split("s")[0])
        (entry,) = [json.loads(line) for line in history.read_text().splitlines()]
        assert entry["event"] == "drill" and entry["resource"] == rid
        assert entry["scenario"] == "kill" and entry["node"] == "node1"
        assert round(entry["seconds"], 2) == measured
        assert before <= entry["time"] <= time.time() - measured + 1
        refused = cluster1.run("node1", [ocfgen, "drill", rid, "--scenario", "hang"],
                               check=False, timeout=60)
        assert refused.returncode == 1 and "OCF_CHECK_LEVEL >= 10" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        cluster1.delete_resource(rid)


def test_node_loss_on_three_nodes(cluster3, record_property):
    """Cut off -> fenced through its BMC -> running elsewhere -> powered on and rejoined."""
    rid = "drill-node"
    cluster3.create_resource(**services.sleeper(rid))
    try:
        result = run_drill(cluster3, rid, "node", timeout=90)
        assert result.seconds is not None, result.line()
        assert result.node_after != result.node_before
        assert result.fenced is not None, result.line()
        assert result.detected <= result.fenced <= result.seconds <= result.rejoined
        assert result.fenced_by in cluster3.nodes and result.fenced_by != result.node_before
        # The BMC switched the node off once (the survivors' fence device), the drill's
        # restore switched it on again.
        events = [(e.on, e.by) for e in cluster3.power_events(result.node_before)]
        assert events[-2:] == [(False, "bmc"), (True, "bmc")], events
        history = cluster3.fence_history(result.node_before)
        assert (history[-1].action, history[-1].status) == ("off", "success")
        record_property("mttr_node_seconds", round(result.seconds, 2))
        record_property("fenced_seconds", round(result.fenced, 2))
        print(f"\n{result.line()}")
        line = result.line()
        assert line.index("cut off") < line.index("fenced (BMC power off)") < line.index(
            "running on") < line.index("powered on, rejoined")
        # restore=True brought the lost node back.
        assert cluster3.status().online == ["node1", "node2", "node3"]
    finally:
        cluster3.delete_resource(rid)
