"""The operations history's arithmetic (generators/live/ophistory.py) on hand-made histories: what
counts as an incident, its time to recovery, duplicates from several nodes, node loss, drills,
rollouts and the period."""

import json
import subprocess

from ocfrun import OCFGEN

from ocfpy.generators.live.ophistory import analyse, load, parse_moment, record


def _write(path, entries):
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return str(path)


def _res(event, time, rid="ioc1", node="n1", **extra):
    return {"event": event, "time": time, "resource": rid, "node": node, "kind": "resource",
            "operation": extra.pop("operation", "monitor" if event == "failure" else event),
            **extra}


def test_failure_to_next_start_is_one_incident(tmp_path):
    log = _write(tmp_path / "h.jsonl", [
        _res("start", 10), _res("failure", 100.0, exit_reason="gone"),
        _res("failure", 100.5, operation="stop"),     # the same incident goes on
        _res("stop", 101), _res("start", 103.25, node="n2"),
        _res("failure", 200), _res("start", 201),
        _res("failure", 300, rid="ioc2"),                # never recovered
    ])
    events, skipped = load([log])
    report = analyse(events, skipped)
    first, second = report.incidents["ioc1"]
    assert (first.began, first.seconds, first.node, first.node_after) == (100.0, 3.25, "n1", "n2")
    assert len(first.failures) == 2 and second.seconds == 1.0
    assert report.mttr("ioc1") == (3.25 + 1.0) / 2
    assert report.incidents["ioc2"][0].recovered is None
    assert report.mttr() == report.mttr("ioc1")  # an open incident has no time to recovery yet


def test_node_events_from_every_node_count_once_and_a_lost_node_opens_incidents(tmp_path):
    seen_by = [{"event": "node", "kind": "node", "node": "n2", "desc": "lost", "time": 50 + d}
               for d in (0.0, 0.3)]
    fenced = [{"event": "fencing", "kind": "fencing", "node": "n2", "operation": "off",
               "desc": "ok", "rc": 0, "time": 55 + d} for d in (0.0, 0.1)]
    a = _write(tmp_path / "n1.jsonl", [_res("start", 10, node="n2"), seen_by[0], fenced[0],
                                       _res("start", 58, node="n1")])
    b = _write(tmp_path / "n3.jsonl", [seen_by[1], fenced[1]])
    report = analyse(*load([a, b]))
    assert [e["event"] for e in report.nodes] == ["node", "fencing"]
    (incident,) = report.incidents["ioc1"]
    assert incident.began == 50 and incident.seconds == 8 and incident.node == "n2"
    assert incident.failures[0]["operation"] == "node lost"


def test_a_drill_dates_the_incident_from_its_fault_and_rollouts_give_the_rate(tmp_path):
    log = tmp_path / "h.jsonl"
    record(str(log), "drill", time=99.0, resource="ioc1", scenario="kill", seconds=3.0)
    record(str(log), "drill", time=500.0, resource="ioc2", scenario="kill", seconds=1.0)
    with open(log, "a") as f:
        for entry in (_res("failure", 100.0), _res("start", 102.0),
                      _res("failure", 900.0, rid="ioc2"), _res("start", 901.0, rid="ioc2")):
            f.write(json.dumps(entry) + "\n")
        f.write("not json\n")
    record(str(log), "rollout", time=1000.0, outcome="success", command="x")
    record(str(log), "rollout", time=1100.0, outcome="failed", command="y",
           failed_node="n2", reason="exit 3")
    report = analyse(*load([str(log)]))
    assert report.incidents["ioc1"][0].seconds == 3.0  # from the drill's fault at 99
    assert report.incidents["ioc2"][0].drill is None  # that drill was long over
    assert report.incidents["ioc2"][0].seconds == 1.0
    assert report.change_failure_rate == 0.5 and report.skipped == 1
    text = subprocess.run([*OCFGEN, "report", str(log)], capture_output=True, text=True,
                          timeout=60).stdout
    assert "(1 unreadable lines skipped)" in text
    assert "changes: 2 rollouts, 1 failed: change failure rate 50 %" in text
    assert "'y' failed on n2: exit 3" in text


def test_the_period_bounds_the_events(tmp_path):
    log = _write(tmp_path / "h.jsonl", [_res("failure", 100), _res("start", 101),
                                        _res("failure", 5000), _res("start", 5002)])
    later = analyse(*load([log], since=1000))
    assert [i.seconds for i in later.incidents["ioc1"]] == [2]
    assert parse_moment("2h", now=10000) == 10000 - 7200
    assert parse_moment("1970-01-01T01:00:00Z") == 3600
    done = subprocess.run([*OCFGEN, "report", log, "--since", "1970-01-01T00:10", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["resources"]["ioc1"]["mttr"] == 2
    bad = subprocess.run([*OCFGEN, "report", log, "--until", "yesterday"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("report: --until: 'yesterday' is")
    missing = subprocess.run([*OCFGEN, "report", str(tmp_path / "none.jsonl")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "cannot read the history" in missing.stderr


def test_a_fenced_node_opens_incidents_for_what_ran_there(tmp_path):
    fenced = {"event": "fencing", "kind": "fencing", "node": "r1", "operation": "off",
              "desc": "Operation off of r1 by n2: OK", "rc": 0, "time": 60.0}
    failed = dict(fenced, node="r2", rc=1, time=61.0)  # a failed fencing took nothing away
    log = _write(tmp_path / "h.jsonl", [_res("start", 10, node="r1"),
                                        _res("start", 11, rid="ioc2", node="r2"), fenced, failed,
                                        _res("start", 62.5, node="r3")])
    report = analyse(*load([log]))
    (incident,) = report.incidents["ioc1"]
    assert (incident.began, incident.seconds, incident.node_after) == (60.0, 2.5, "r3")
    assert incident.failures[0]["operation"] == "node fenced"
    assert "ioc2" not in report.incidents
