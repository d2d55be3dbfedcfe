"""The alert agent and `ocfgen report` on a real cluster: Pacemaker runs ocfpy's alert agent
(configured by `ocfgen alerts --apply` from a description) for a killed resource, the history
holds the failure/recovery pair with the agent's exit reason, and the report's time to
recovery agrees with the drill's own measurement."""

import json
import os
import subprocess
import time

import pytest
from ocfrun import OCFGEN, PYTHON

from ocfpy import install
from ocfpy.alert import ALERT_PATH, record
from ocfpy.generators.live.drill import run_drill
from ocfpy.generators.live.ophistory import record_drill
from ocfpy.testbed import services


def _alert_env(**values):
    return {f"CRM_alert_{key}": str(value) for key, value in values.items()}


def test_alert_records_failures_and_state_changes_only():
    failure = record(_alert_env(kind="resource", node="n1", rsc="r", task="monitor",
                                interval=2000, rc=7, target_rc=0, status=0,
                                timestamp_epoch=100, timestamp_usec=500000))
    assert failure["event"] == "failure" and failure["time"] == 100.5
    assert failure["resource"] == "r" and failure["rc"] == 7 and failure["interval_ms"] == 2000
    timeout = record(_alert_env(kind="resource", node="n1", rsc="r", task="start", rc=1,
                                target_rc=0, status=2))  # PCMK_EXEC_TIMEOUT
    assert timeout["event"] == "failure"
    start = record(_alert_env(kind="resource", node="n1", rsc="r", task="start", rc=0,
                              target_rc=0, status=0))
    assert start["event"] == "start"
    # A successful monitor, a probe that finds the resource stopped, a cancelled monitor:
    # nothing worth a line.
    for quiet in (dict(task="monitor", interval=2000, rc=0, target_rc=0, status=0),
                  dict(task="monitor", interval=0, rc=7, target_rc=7, status=0),
                  dict(task="monitor", interval=0, rc=0, target_rc=7, status=0),
                  dict(task="monitor", interval=2000, rc=0, target_rc=0, status=1)):
        assert record(_alert_env(kind="resource", node="n1", rsc="r", **quiet)) is None, quiet
    lost = record(_alert_env(kind="node", node="n2", desc="lost", nodeid=2))
    assert lost["event"] == "node" and lost["desc"] == "lost"
    fenced = record(_alert_env(kind="fencing", node="n2", task="off", rc=0,
                               desc="Operation off of n2 by n1: OK"))
    assert fenced["event"] == "fencing" and fenced["operation"] == "off"
    assert record(_alert_env(kind="attribute", node="n1")) is None


def test_alert_agent_bad_log_path_fails_cleanly(tmp_path):
    script = install.install_alert(python=PYTHON, path=str(tmp_path / "ocfpy-alert"),
                                   log_dir=str(tmp_path / "logs"))
    env = {"PATH": os.environ["PATH"], "syslog": "false",
           **_alert_env(kind="node", node="n2", desc="lost",
                        recipient=str(tmp_path / "missing" / "h.jsonl"))}
    done = subprocess.run([script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("ocfpy-alert: cannot append to ")
    assert "Traceback" not in done.stderr
    env["CRM_alert_recipient"] = str(tmp_path / "logs" / "h.jsonl")
    done = subprocess.run([script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    line = json.loads((tmp_path / "logs" / "h.jsonl").read_text())
    assert line["event"] == "node" and line["node"] == "n2"


def _history(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f]
    except FileNotFoundError:
        return []


@pytest.fixture(scope="module")
def alerted(cluster1):
    """cluster1 with ocfpy's alert agent applied by `ocfgen alerts --apply`; its log's path."""
    scratch = os.path.join(cluster1.dir, "alerts-test")
    os.makedirs(scratch)
    os.chmod(scratch, 0o755)  # Pacemaker runs alert agents as hacluster
    script = install.install_alert(python=PYTHON, path=os.path.join(scratch, "ocfpy-alert"),
                                   log_dir=os.path.join(scratch, "log"))
    log = os.path.join(scratch, "log", "history.jsonl")
    description = os.path.join(scratch, "cluster.toml")
    with open(description, "w") as f:
        f.write(cluster1.description() + "\n[alerts.t-history]\n"
                f"path = {json.dumps(script)}\nrecipients = [{json.dumps(log)}]\n"
                "params = { syslog = false }\n")
    for _ in range(2):  # the first creates the <alerts> section, the second replaces in it
        applied = cluster1.run("node1", [*OCFGEN, "alerts", description, "--apply"])
        assert applied.stdout.strip() == "alert t-history applied"
    alerts = cluster1.run("node1", ["cibadmin", "--query", "--scope", "alerts"]).stdout
    assert f'path="{script}"' in alerts and f'value="{log}"' in alerts
    assert alerts.count("<alert ") == 1
    yield log
    cluster1.run("node1", ["cibadmin", "--delete", "--xml-text", '<alert id="t-history"/>'],
                 check=False)


def _events(log, rid):
    return [e for e in _history(log) if e.get("resource") == rid]


@pytest.mark.cluster
def test_killed_resource_failure_recovery_and_mttr(cluster1, alerted, record_property):
    log, rid = alerted, "t-alerted"
    try:
        cluster1.create_resource(**services.sleeper(rid, monitor="1s"))
        cluster1.wait_until(lambda: any(e["event"] == "start" for e in _events(log, rid)), 30,
                            "the start's alert")
        result = run_drill(cluster1, rid, "kill", timeout=60)
        record_drill(result, log, fault_time=time.time() - result.seconds)
        assert result.seconds is not None, result.line()

        def pair():
            events = _events(log, rid)
            failed = [i for i, e in enumerate(events) if e["event"] == "failure"]
            return failed and any(e["event"] == "start" for e in events[failed[0]:])

        cluster1.wait_until(pair, 30, "the failure and recovery alerts")
        failure = next(e for e in _events(log, rid) if e["event"] == "failure")
        assert failure["operation"] == "monitor" and failure["rc"] == 7
        assert failure["node"] == "node1" and failure["interval_ms"] == 1000
        assert failure["exit_reason"] == ""  # "not running" needs no reason: the agent gives none
        done = subprocess.run([*OCFGEN, "report", log, "--json"], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        figures = json.loads(done.stdout)["resources"][rid]
        assert figures["failures"] == 1 and len(figures["incidents"]) == 1
        incident = figures["incidents"][0]
        assert incident["drill"]["scenario"] == "kill" and incident["node_after"] == "node1"
        difference = abs(incident["seconds"] - result.seconds)
        record_property("drill_mttr_seconds", round(result.seconds, 3))
        record_property("alert_history_mttr_seconds", round(incident["seconds"], 3))
        print(f"\n{result.line()}\nalert history: recovered after {incident['seconds']:.2f} s "
              f"(difference {difference:.2f} s)")
        assert difference <= 0.5, (incident, result)
        text = subprocess.run([*OCFGEN, "report", log], capture_output=True, text=True,
                              timeout=60).stdout
        assert f"\n{rid} " in text and "(drill kill: measured" in text
    finally:
        cluster1.delete_resource(rid)


@pytest.mark.cluster
def test_failed_start_is_recorded_with_its_exit_reason(cluster1, alerted, tmp_path):
    log, rid = alerted, "t-alerted-broken"
    missing = str(tmp_path / "no-such-program")
    try:
        cluster1.create_resource(id=rid, agent=services.DAEMON, params={"command": missing},
                                 monitor="2s", wait=False)
        cluster1.wait_until(lambda: any(e["event"] == "failure" for e in _events(log, rid)), 30,
                            "the failed start's alert")
        failure = next(e for e in _events(log, rid) if e["event"] == "failure")
        assert failure["operation"] == "start" and failure["rc"] == 5  # OCF_ERR_INSTALLED
        assert missing in failure["exit_reason"], failure
        report = json.loads(subprocess.run([*OCFGEN, "report", log, "--json"],
                                           capture_output=True, text=True, timeout=60).stdout)
        incident = report["resources"][rid]["incidents"][-1]
        assert incident["recovered"] is None and missing in incident["exit_reasons"][0]
    finally:
        cluster1.delete_resource(rid)


DESCRIPTION = """[cluster]
name = "t"
[properties]
stonith-enabled = false
[nodes.n1]
[alerts.history]
recipients = ["/var/log/ocfpy/history.jsonl", "/srv/history.jsonl"]
timeout = "20s"
[alerts.mail]
path = "/usr/share/pacemaker/alerts/alert_smtp.sh.sample"
recipients = ["ops@example.org"]
select = ["fencing", "nodes"]
params = { email_sender = "cluster@example.org" }
"""


def test_description_alerts_become_the_cib_alerts_section(tmp_path):
    from lxml import etree

    path = tmp_path / "c.toml"
    path.write_text(DESCRIPTION)
    done = subprocess.run([*OCFGEN, "build", str(path), "-o", str(tmp_path / "cib.xml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # Pacemaker's RNG schema and crm_verify
    alerts = etree.parse(str(tmp_path / "cib.xml")).find("configuration/alerts")
    history, mail = alerts
    assert history.get("path") == ALERT_PATH
    assert [r.get("value") for r in history.iterfind("recipient")] == [
        "/var/log/ocfpy/history.jsonl", "/srv/history.jsonl"]
    assert history.find("meta_attributes/nvpair[@name='timeout']").get("value") == "20s"
    # The default: nodes, fencing and resources (not attribute changes: too many).
    assert [s.tag for s in history.find("select")] == ["select_nodes", "select_fencing",
                                                        "select_resources"]
    assert [s.tag for s in mail.find("select")] == ["select_fencing", "select_nodes"]
    assert mail.find("instance_attributes/nvpair").get("value") == "cluster@example.org"
    assert mail.find("recipient").get("value") == "ops@example.org"


@pytest.mark.parametrize("body, error", [
    ('recipients = ["history.jsonl"]', "15: alerts.x.recipients[0]: 'history.jsonl' is not an "
                                       "absolute path"),
    ('select = ["resource"]', "11: alerts.x.select[0]: 'resource' is not one of nodes, fencing, "
                              "resources, attributes"),
    ('path = "alert.sh"', "1: alerts.x.path: 'alert.sh' is not an absolute path"),
    ("recipient = 1", "1: alerts.x.recipient: unknown key 'recipient'"),
])
def test_bad_alerts_are_located_errors(tmp_path, body, error):
    path = tmp_path / "c.toml"
    path.write_text(DESCRIPTION.split("[alerts.history]")[0] + f"[alerts.x]\n{body}\n")
    done = subprocess.run([*OCFGEN, "check", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{path}:7:{error}"), done.stderr
