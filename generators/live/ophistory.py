"""The operations history: failures, recoveries, drills and changes as JSON lines, and the
figures made from it (per resource the time to recovery of each failure and the MTTR, the
change failure rate of rollouts).

Writers:
- ocfpy's alert agent (ocfpy/alert.py) on every node: failure, start/stop/..., node, fencing;
- `ocfgen drill` (record_drill): the fault it caused and the recovery time it measured;
- `ocfgen rollout` (record_rollout): each rollout, its nodes and its outcome.
Every line is one JSON object with at least "event" and "time" (seconds since the epoch, UTC).

Reading (incidents): a resource's incident opens at its first failure, or when the node it ran
on is lost or fenced (or at the drill's fault when a drill of that resource came before it,
since the last recovery: the drill knows when the fault happened, the monitor only when it
noticed), and closes at its next successful start or promote on any node; its time to recovery
is the difference. Node and fencing events are reported by every node that saw them: the
copies within DUPLICATE_WINDOW seconds count once.
"""

import json
import os
import time
from dataclasses import dataclass, field
from typing import Optional

from ocfpy.alert import DEFAULT_LOG, append

RECOVERED = ("start", "promote")
DUPLICATE_WINDOW = 2.0


class HistoryError(ValueError):
    """A history file could not be read (one line: which and why)."""


def record(path, event, **fields):
    """Append one history line {"event": event, "time": now, **fields} to `path`."""
    entry = {"event": event, "time": round(fields.pop("time", None) or time.time(), 6),
             **fields}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o750, exist_ok=True)
    append(path, json.dumps(entry, sort_keys=True, separators=(",", ":")))
    return entry


def record_drill(result, path=None, fault_time=None):
    """Record an `ocfgen drill` result (generators.live.drill.DrillResult). fault_time: when the
    fault was caused (epoch seconds); by default now minus the measured seconds, right for a
    call made as soon as run_drill returned."""
    if fault_time is None:
        fault_time = time.time() - (result.seconds or 0.0)
    return record(path or DEFAULT_LOG, "drill", time=fault_time, resource=result.resource,
                  scenario=result.scenario, node=result.node_before,
                  node_after=result.node_after, seconds=result.seconds,
                  detected=result.detected)


def record_rollout(path, outcome, **fields):
    """Record one rollout: outcome "success" or "failed", with command, nodes, reason..."""
    return record(path or DEFAULT_LOG, "rollout", outcome=outcome, **fields)


def load(paths, since=None, until=None):
    """Every event of the files, oldest first, within [since, until] (epoch seconds); the
    number of lines that were not history (skipped) as second value."""
    events, skipped = [], 0
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as exc:
            raise HistoryError(f"{path}: cannot read the history: {exc.strerror}") from None
        for line in lines:
            try:
                entry = json.loads(line)
                moment = float(entry["time"])
                entry["event"]
            except (ValueError, KeyError, TypeError):
                skipped += 1
                continue
            if (since is None or moment >= since) and (until is None or moment <= until):
                entry["time"] = moment
                events.append(entry)
    events.sort(key=lambda e: e["time"])
    return _deduplicated(events), skipped


def _deduplicated(events):
    out, seen = [], {}
    for entry in events:
        if entry["event"] in ("node", "fencing"):
            key = (entry["event"], entry.get("node"), entry.get("desc"), entry.get("operation"))
            if key in seen and entry["time"] - seen[key] <= DUPLICATE_WINDOW:
                continue
            seen[key] = entry["time"]
        out.append(entry)
    return out


@dataclass
class Incident:
    resource: str
    began: float                         # the failure (or the drill's fault)
    failures: list = field(default_factory=list)
    recovered: Optional[float] = None
    node: str = ""                       # where it failed first
    node_after: str = ""                 # where it ran again
    drill: Optional[dict] = None         # the drill that caused it, if any

    @property
    def seconds(self):
        return None if self.recovered is None else self.recovered - self.began


@dataclass
class Report:
    incidents: dict = field(default_factory=dict)     # resource -> [Incident]
    rollouts: list = field(default_factory=list)
    nodes: list = field(default_factory=list)         # node and fencing events
    events: int = 0
    skipped: int = 0

    def mttr(self, resource=None):
        times = [i.seconds for r, found in self.incidents.items() if resource in (None, r)
                 for i in found if i.seconds is not None]
        return sum(times) / len(times) if times else None

    @property
    def change_failure_rate(self):
        if not self.rollouts:
            return None
        return sum(1 for r in self.rollouts if r.get("outcome") != "success") / len(self.rollouts)

    def to_dict(self):
        return {
            "events": self.events, "skipped": self.skipped,
            "resources": {r: {"failures": sum(len(i.failures) for i in found),
                              "incidents": [{"began": i.began, "recovered": i.recovered,
                                             "seconds": i.seconds, "node": i.node,
                                             "node_after": i.node_after,
                                             "operations": [f.get("operation") for f in
                                                            i.failures],
                                             "exit_reasons": [f.get("exit_reason", "") for f in
                                                              i.failures],
                                             "drill": i.drill} for i in found],
                              "mttr": self.mttr(r)} for r, found in self.incidents.items()},
            "mttr": self.mttr(),
            "rollouts": self.rollouts,
            "change_failure_rate": self.change_failure_rate,
            "nodes": self.nodes,
        }


def analyse(events, skipped=0):
    """The Report of time-ordered, deduplicated events."""
    report = Report(events=len(events), skipped=skipped)
    open_incident, drills, where = {}, {}, {}

    def begin(resource, entry, node):
        drill = drills.pop(resource, None)
        if drill is not None and entry["time"] - drill["time"] > (drill.get("seconds") or 300) + 1:
            drill = None  # an older drill that this failure has nothing to do with
        incident = Incident(resource, drill["time"] if drill else entry["time"], node=node,
                            drill=drill)
        open_incident[resource] = incident
        report.incidents.setdefault(resource, []).append(incident)
        return incident

    for entry in events:
        kind, resource = entry["event"], entry.get("resource")
        if kind == "drill" and resource:
            drills[resource] = entry
        elif kind == "failure" and resource:
            incident = open_incident.get(resource) or begin(resource, entry, entry.get("node", ""))
            incident.failures.append(entry)
        elif kind in RECOVERED and resource:
            where[resource] = entry.get("node", "")
            if resource in open_incident:
                incident = open_incident.pop(resource)
                incident.recovered, incident.node_after = entry["time"], entry.get("node", "")
        elif kind == "stop" and resource:
            where.pop(resource, None)
        elif kind == "rollout":
            report.rollouts.append(entry)
        elif kind in ("node", "fencing"):
            report.nodes.append(entry)
            lost = (kind == "node" and entry.get("desc") == "lost") or (
                kind == "fencing" and entry.get("rc") == 0)
            if lost:
                # What ran on a lost or fenced node fails with it: no failure event comes from
                # there (whichever of the two is seen first opens the incidents).
                for rid, node in list(where.items()):
                    if node == entry.get("node") and rid not in open_incident:
                        begin(rid, entry, node).failures.append(
                            {**entry, "operation": "node lost" if kind == "node" else
                             "node fenced", "exit_reason": ""})
                        del where[rid]
    return report


def parse_moment(text, now=None):
    """Epoch seconds of an ISO 8601 time ("2026-12-01T10:00", UTC unless it says otherwise) or
    of an age before now ("90s", "30min", "24h", "7d"); ValueError saying why otherwise."""
    import datetime
    import re

    now = time.time() if now is None else now
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)", text.strip())
    if found:
        unit = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}[found.group(2)]
        return now - float(found.group(1)) * unit
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither an ISO 8601 time (2026-12-01T10:00) nor an age "
                         f"(90s, 30min, 24h, 7d)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def iso(moment):
    import datetime

    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
