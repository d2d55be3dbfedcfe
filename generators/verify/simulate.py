"""What-if simulation of a generated CIB with crm_simulate; no cluster needed.

`simulate(cib_path, nodes)` computes where every resource runs with all nodes up, then, for
each node, what happens when that node is lost. It uses only `crm_simulate -R` (compute the
transition), never `-S` (execute it), which grows steeply with the number of resources. The
placement is found by recording each computed start as a successful probe in the CIB's status
section and recomputing until nothing more starts (writing the status directly: crm_simulate's
own `-i` injection costs O(n^2), 85 s for 1,000 resources). A lost node is then recorded as
gone without a clean shutdown, so the answer shows fencing, moves and stops as the cluster
would plan them after a crash. The losses are computed side by side (one crm_simulate each);
`Simulation.after` holds where every resource runs once each loss's transition is carried out
(what `ocfgen simulate --graph` draws, generators/render/placement_graph.py).

`n_minus_1(cib_path, nodes)` answers only which resources each loss leaves stopped (the N-1
verdict, judged in generators/verify/capacity.py): the same computation on a copy of the CIB whose
orders are Optional, which makes it fast for large clusters, with the Mandatory orders applied
to the result afterwards.
Returns data; prints nothing.
"""

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field

_LINE = re.compile(r"^\s*\* (?P<action>[A-Z][a-z]+(?: \([a-z]+\))?)\s+(?P<rsc>\S+)\s*"
                   r"(?:\(\s*(?P<detail>[^)]*?)\s*\))?(?P<why>.*)$")


@dataclass
class Change:
    action: str          # Start, Stop, Move, Recover, Promote, Fence (reboot) ...
    resource: str        # a resource id (clone instances as "rsc:0"), or a node for Fence
    detail: str = ""     # "n1", "n1 -> n2", "Unpromoted -> Promoted n1"
    why: str = ""


@dataclass
class Simulation:
    placement: dict = field(default_factory=dict)    # resource -> ["n1", "n2 (Promoted)"]
    losses: dict = field(default_factory=dict)       # node -> [Change]
    after: dict = field(default_factory=dict)        # lost node -> placement once it is lost
    rounds: int = 0


class SimulationError(RuntimeError):
    pass


def _run(cib_path, args, timeout):
    try:
        done = subprocess.run(["crm_simulate", "-x", cib_path, "-R", "-q", "true", *args],
                              capture_output=True, text=True, timeout=timeout,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})
    except FileNotFoundError:
        raise SimulationError("crm_simulate is not installed") from None
    except subprocess.TimeoutExpired:
        raise SimulationError(f"crm_simulate did not finish within {timeout}s") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise SimulationError(f"crm_simulate exited {done.returncode}: {' '.join(last)}")
    return _summary(done.stdout)


def _digest(primitive):
    """Pacemaker's op-digest of a probe: md5 of the sorted instance attributes as it
    serialises them. With it, recorded probes match the configuration and Pacemaker does not
    plan restarts "due to resource definition change"."""
    import hashlib

    from lxml import etree

    params = {}
    block = primitive.find("instance_attributes")
    if block is not None:
        params = {nv.get("name"): nv.get("value", "") for nv in block.iter("nvpair")}
    element = etree.Element("parameters")
    for name in sorted(params):
        element.set(name, params[name])
    text = " " + etree.tostring(element, encoding="unicode") + "\n"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class _StatusWriter:
    """Copies of the CIB whose status says which instances run where (as probe results)."""

    def __init__(self, cib_path, directory):
        from lxml import etree

        self.root = etree.parse(cib_path).getroot()
        self.directory = directory
        self.node_ids = {n.get("uname"): n.get("id") for n in self.root.iter("node")}
        # Nothing to simulate without quorum; stated here, as crm_simulate applies -q only
        # together with node changes.
        self.root.set("have-quorum", "1")
        self.agents, self.digests = {}, {}
        for prim in self.root.iter("primitive"):
            attrs = {"class": prim.get("class"), "type": prim.get("type")}
            if prim.get("provider"):
                attrs["provider"] = prim.get("provider")
            self.agents[prim.get("id")] = attrs
            self.digests[prim.get("id")] = _digest(prim)
        self.count = 0

    def write(self, nodes, running, lost=None):
        """A CIB file with `running` recorded; node `lost` has vanished without a clean
        shutdown (expected a member, now out of membership), as a crashed node does."""
        from lxml import etree

        status = self.root.find("status")
        if status is not None:
            self.root.remove(status)
        status = etree.SubElement(self.root, "status")
        lrms = {}
        for name in nodes:
            node_id = self.node_ids.get(name, name)
            up = name != lost
            state = etree.SubElement(status, "node_state", id=node_id, uname=name,
                                     in_ccm="true" if up else "false",
                                     crmd="online" if up else "offline",
                                     join="member" if up else "down", expected="member")
            lrms[name] = etree.SubElement(etree.SubElement(state, "lrm", id=node_id),
                                          "lrm_resources")
        key = "1:-1:0:00000000-0000-0000-0000-000000000000"
        for instance, (node, rc) in sorted(running.items()):
            resource = etree.SubElement(lrms[node], "lrm_resource", id=instance,
                                        **self.agents[_base(instance)])
            etree.SubElement(resource, "lrm_rsc_op", {
                "id": f"{instance}_last_0", "operation_key": f"{instance}_monitor_0",
                "operation": "monitor", "transition-key": key,
                "transition-magic": f"0:{rc};{key}", "call-id": "1", "rc-code": str(rc),
                "op-status": "0", "interval": "0", "last-rc-change": "1", "exec-time": "0",
                "queue-time": "0", "op-digest": self.digests[_base(instance)]})
        self.count += 1
        path = os.path.join(self.directory, f"status-{self.count}.xml")
        etree.ElementTree(self.root).write(path)
        return path


def _summary(text):
    changes, inside = [], False
    for line in text.splitlines():
        if line.startswith("Transition Summary:"):
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            found = _LINE.match(line)
            if found:
                changes.append(Change(found["action"], found["rsc"], found["detail"] or "",
                                      found["why"].strip()))
    return changes


def _node_of(detail):
    return detail.split()[-1] if detail else ""


def _base(resource):
    return resource.split(":")[0]


def _without_digest_noise(change):
    """A restart "due to resource definition change" that also changes role or node is,
    without the digest artefact, that promotion or move."""
    if change.action == "Restart" and "definition change" in change.why:
        action = "Promote" if "-> Promoted" in change.detail else "Move"
        return Change(action, change.resource, change.detail, "")
    return change


def simulate(cib_path, nodes, timeout=120, max_rounds=6):
    """A Simulation of the CIB at cib_path on `nodes` (node names)."""
    with tempfile.TemporaryDirectory(prefix="ocfgen-simulate-") as directory:
        return _simulate(_StatusWriter(cib_path, directory), nodes, timeout, max_rounds)


def _place(writer, nodes, timeout, max_rounds, result):
    """{instance: (node, probe result: 0 running, 8 running promoted)} with every node up.
    A round records what the last one started; a CIB without promotable clones is placed in
    one (a transition plans every start at once; a promotion needs the start recorded)."""
    running = {}
    promotable = any(nv.get("name") == "promotable" and nv.get("value") == "true"
                     for nv in writer.root.iter("nvpair"))
    for _ in range(max_rounds if promotable else 1):
        result.rounds += 1
        new = False
        for change in _run(writer.write(nodes, running), [], timeout):
            node = _node_of(change.detail)
            if change.action == "Start" and change.resource not in running:
                running[change.resource], new = (node, 0), True
            elif change.action == "Promote" and running.get(change.resource) != (node, 8):
                running[change.resource], new = (node, 8), True
        if not new:
            break
    return running


def _losses(writer, nodes, running, timeout, workers=2):
    """{lost node: crm_simulate's changes}: the loss of each node from the placement
    `running`, each on its own crm_simulate, `workers` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    paths = {lost: writer.write(nodes, running, lost) for lost in nodes}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(paths, pool.map(lambda p: _run(p, [], timeout), paths.values())))


def _simulate(writer, nodes, timeout, max_rounds):
    result = Simulation()
    running = _place(writer, nodes, timeout, max_rounds, result)
    for instance, (node, rc) in sorted(running.items()):
        shown = f"{node} (Promoted)" if rc == 8 else node
        result.placement.setdefault(_base(instance), []).append(shown)
    for resource in result.placement:
        result.placement[resource].sort()
    computed = _losses(writer, nodes, running, timeout)
    for lost in nodes:
        # Recorded probes carry no parameter digest: Pacemaker restarts them "due to resource
        # definition change", which a real cluster would not do.
        result.losses[lost] = [_without_digest_noise(c) for c in computed[lost] if not (
            c.action == "Restart" and "definition change" in c.why and "->" not in c.detail)]
        after = {}
        for (resource, node), role in sorted(_after(running, result.losses[lost], lost).items()):
            after.setdefault(resource, []).append(f"{node} ({role})" if role == PROMOTED else node)
        result.after[lost] = after
    return result


# The N-1 verdict: which resources the loss of each node leaves stopped.

@dataclass
class Verdict:
    """stopped_up: resources that run nowhere with every node up; stopped: lost node ->
    resources left stopped by its loss (besides stopped_up); blocked: lost node -> resources
    among those stopped only because a Mandatory order's first resource is stopped."""

    stopped_up: list = field(default_factory=list)
    stopped: dict = field(default_factory=dict)
    blocked: dict = field(default_factory=dict)


class _Relaxed(_StatusWriter):
    """The CIB with every order Optional: where resources run does not depend on orders, but
    a Mandatory chain makes Pacemaker plan (and crm_simulate compute) a restart of everything
    after each moved resource, which costs seconds for a thousand resources. The Mandatory
    orders are kept as (first, then) pairs and applied to the result afterwards."""

    def __init__(self, cib_path, directory):
        super().__init__(cib_path, directory)
        self.mandatory = []
        for order in self.root.iter("rsc_order"):
            if order.get("kind", "Mandatory") != "Mandatory" or order.get("score") == "0":
                continue
            order.set("kind", "Optional")
            sets = [[ref.get("id") for ref in rset.iter("resource_ref")] + [rset]
                    for rset in order.iter("resource_set")]
            if not sets:
                self.mandatory.append((order.get("first"), order.get("then")))
            for index, members in enumerate(sets):
                rset, members = members[-1], members[:-1]
                if rset.get("sequential", "true") == "true":
                    self.mandatory += list(zip(members, members[1:]))
                if index + 1 < len(sets) and rset.get("require-all", "true") == "true":
                    self.mandatory += [(a, b) for a in members for b in sets[index + 1][:-1]]
        self.members = {}   # group or clone id -> its primitives
        for container in list(self.root.iter("group")) + list(self.root.iter("clone")):
            self.members[container.get("id")] = [p.get("id") for p in container.iter("primitive")]


PROMOTED, STARTED = "Promoted", "Started"
ROLES = ("Started", "Promoted", "Unpromoted", "Stopped")


def _side(text):
    """(role or None, node or None) of one side of a change's detail: "n1", "Promoted n1",
    "Unpromoted"."""
    words = text.split()
    role = words[0] if words and words[0] in ROLES else None
    node = words[-1] if words and words[-1] not in ROLES else None
    return role, node


def _after(running, changes, lost):
    """{(resource, node): role} running once `changes` (a loss's transition) are carried out;
    role is Promoted or Started. Clone instances are told apart by node, not by number:
    Pacemaker renumbers them."""
    state = {(_base(instance), node): PROMOTED if rc == 8 else STARTED
             for instance, (node, rc) in running.items() if node != lost}
    for change in changes:
        if change.action.startswith("Fence") or not change.detail:
            continue
        base = _base(change.resource)
        left, arrow, right = change.detail.partition("->")
        (role, source), (new_role, target) = _side(left), _side(right)
        target = target or source
        shown = PROMOTED if (new_role or role) == PROMOTED else STARTED
        if change.action == "Stop":
            state.pop((base, source), None)
        elif change.action == "Start":
            state[(base, source)] = shown
        elif change.action in ("Promote", "Demote") and target:
            state[(base, target)] = shown
        elif change.action in ("Move", "Recover", "Migrate") and arrow and target:
            state.pop((base, source), None)
            state[(base, target)] = shown
    return state


def n_minus_1(cib_path, nodes, timeout=120, max_rounds=6, workers=2):
    """The Verdict of the CIB at cib_path on `nodes`: placement with every node up, then the
    loss of each node in turn (crm_simulate -R only, the losses computed side by side)."""
    with tempfile.TemporaryDirectory(prefix="ocfgen-n-1-") as directory:
        writer = _Relaxed(cib_path, directory)
        running = _place(writer, nodes, timeout, max_rounds, Simulation())
        changes = _losses(writer, nodes, running, timeout, workers)
    primitives = [p.get("id") for p in writer.root.iter("primitive")]
    verdict = Verdict()
    up = {_base(instance) for instance in running}
    verdict.stopped_up = [p for p in primitives if p not in up]
    for lost in nodes:
        runs = {resource for resource, _ in _after(running, changes[lost], lost)}
        stopped = {p for p in primitives if p not in runs}
        blocked = set()
        grew = True
        while grew:   # a Mandatory order's then cannot start while its first is stopped
            grew = False
            for first, then in writer.mandatory:
                firsts = writer.members.get(first, [first])
                if firsts and all(p in stopped for p in firsts):
                    for member in writer.members.get(then, [then]):
                        if member not in stopped:
                            stopped.add(member)
                            blocked.add(member)
                            grew = True
        verdict.stopped[lost] = [p for p in primitives if p in stopped and p in up]
        verdict.blocked[lost] = [p for p in primitives if p in blocked]
    return verdict
