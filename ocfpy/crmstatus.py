"""What `crm_mon -1 --output-as=xml` says about a cluster, as plain data.

Shared by the harness, the failover drill and the benchmarks: one reading of Pacemaker's XML
(pacemaker 2.1: <summary>/<current_dc>, <nodes>/<node>, <resources> with nested <group>,
<clone> and <bundle>, <node_history>/<node>/<resource_history>/<operation_history>).
"""

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Optional

ACTIVE_ROLES = frozenset(("Started", "Promoted", "Unpromoted", "Master", "Slave"))


class StatusError(Exception):
    """crm_mon's output could not be read."""


@dataclass
class Instance:
    """One resource (or clone instance) as crm_mon reports it."""

    id: str
    agent: str
    role: str
    active: bool
    failed: bool
    nodes: tuple[str, ...]
    parents: tuple[str, ...] = ()

    @property
    def running(self):
        return self.active and not self.failed and self.role in ACTIVE_ROLES


@dataclass
class Operation:
    node: str
    resource: str
    task: str
    call: int
    rc: int
    interval_ms: int
    exec_ms: int = 0  # how long the agent ran (exec-time), 0 when not reported
    exit_reason: str = ""  # a failure's exit reason, as crm_mon shows it

    def summary(self):
        """`resource task on node (rc N)`, how a failed action is named to people."""
        return f"{self.resource} {self.task} on {self.node} (rc {self.rc})"


@dataclass
class Status:
    dc: Optional[str]
    quorum: bool
    nodes: dict[str, bool]
    instances: list[Instance] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    failures: list[Operation] = field(default_factory=list)
    standby: set[str] = field(default_factory=set)  # nodes in standby

    @property
    def online(self):
        return sorted(name for name, up in self.nodes.items() if up)

    def matching(self, resource):
        """Instances of `resource`, or of every member of the group/clone named `resource`."""
        return [i for i in self.instances if i.id == resource or resource in i.parents]

    def where(self, resource):
        """Sorted node names where `resource` (or a member of it) is running and not failed."""
        return sorted({node for i in self.matching(resource) if i.running for node in i.nodes})

    def starts(self, resource):
        """{(node, call id)} of the successful start/promote operations in the history."""
        return {(op.node, op.call) for op in self.operations
                if op.resource == resource and op.task in ("start", "promote") and op.rc == 0}


def _interval(text):
    """Milliseconds: "2000ms" in 2.1's crm_mon, plain "2000" elsewhere; 0 when unreadable."""
    from .numbers import int_or

    return int_or((text or "0").removesuffix("ms"), 0, 0)


def parse(xml_text):
    """Status from crm_mon's XML text; StatusError when it is not crm_mon output."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise StatusError(f"crm_mon output is not XML: {exc}") from None
    summary = root.find("summary")
    if summary is None:
        raise StatusError("crm_mon output has no <summary> (is the cluster running?)")
    dc = summary.find("current_dc")
    present = dc is not None and dc.get("present") == "true"
    status = Status(
        dc=dc.get("name") if present else None,
        quorum=present and dc.get("with_quorum") == "true",
        nodes={n.get("name"): n.get("online") == "true" for n in root.iterfind("nodes/node")},
        standby={n.get("name") for n in root.iterfind("nodes/node") if n.get("standby") == "true"},
    )
    resources = root.find("resources")
    if resources is not None:
        _collect(resources, (), status.instances)
    for node in root.iterfind("node_history/node"):
        for history in node.iterfind("resource_history"):
            for op in history.iterfind("operation_history"):
                status.operations.append(Operation(
                    node.get("name"), history.get("id"), op.get("task"),
                    int(op.get("call", "0")), int(op.get("rc", "0")),
                    _interval(op.get("interval")), _interval(op.get("exec-time"))))
    for failure in root.iterfind("failures/failure"):
        status.failures.append(Operation(
            failure.get("node", ""), failure.get("op_key", "").rsplit("_", 2)[0],
            failure.get("task", ""), int(failure.get("call", "0")),
            int(failure.get("exitcode", "0")), _interval(failure.get("interval")),
            exit_reason=failure.get("exitreason", "")))
    return status


def _collect(element, parents, out):
    for child in element:
        if child.tag == "resource":
            rid = child.get("id", "")
            out.append(Instance(
                id=rid.split(":")[0] if parents else rid,
                agent=child.get("resource_agent", ""),
                role=child.get("role", ""),
                active=child.get("active") == "true",
                failed=child.get("failed") == "true",
                nodes=tuple(n.get("name") for n in child.iterfind("node")),
                parents=parents,
            ))
        elif child.tag in ("group", "clone", "bundle", "replica"):
            _collect(child, parents + ((child.get("id"),) if child.get("id") else ()), out)


@dataclass
class FenceEvent:
    """One fencing action as `stonith_admin --history NODE --verbose --output-as=xml` lists it."""

    target: str
    action: str
    status: str            # success, failed, pending
    delegate: str = ""     # the node that ran the device
    completed: str = ""
    reason: str = ""       # exit-reason (why it failed), when the fencer recorded one


def fence_history(xml_text):
    """FenceEvents from stonith_admin's XML, oldest first; StatusError if it is not that."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise StatusError(f"stonith_admin output is not XML: {exc}") from None
    events = [FenceEvent(e.get("target", ""), e.get("action", ""), e.get("status", ""),
                         e.get("delegate", ""), e.get("completed", ""),
                         e.get("exit-reason", "") or e.get("exit_reason", ""))
              for e in root.iter("fence_event")]
    return events[::-1]  # stonith_admin lists the newest first
