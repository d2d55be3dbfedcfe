"""The cluster description model: what one cluster is, as plain dataclasses.

`ocfpy.generators.load.description.load(path)` reads a TOML description into a `Cluster` and checks
it; renderers (CIB, corosync.conf, graph, ...) read only this model, never the file. Every object
that came from the file carries `origin` ("cluster.toml:12 resources.web.params"), so a renderer
or a later check can point back at what the user wrote.

Ids follow pcs's naming (`web-monitor-interval-10s`, `order-a-b-mandatory`,
`colocation-a-b-INFINITY`, `location-a-n1-INFINITY`) and are fixed here, at load time, so
every renderer and every check sees the same names.

Values that go into the CIB are strings already (TOML true becomes "true", 100 becomes "100");
`Cluster.digest` is the sha256 of the description's bytes, for provenance comments.
"""

from dataclasses import dataclass, field
from typing import Optional

# The renderer's own qdevice record serves the model too: the same three fields, not a copy.
from .corosync import QuorumDevice

# Pacemaker's kinds of resource container.
PRIMITIVE, GROUP, CLONE = "primitive", "group", "clone"


@dataclass
class Op:
    """One operation of a primitive (<op>). interval and timeout are Pacemaker durations."""

    id: str
    name: str
    interval: str = "0s"
    timeout: Optional[str] = None
    role: Optional[str] = None            # Promoted / Unpromoted (monitors of promotable clones)
    check_level: Optional[int] = None     # OCF_CHECK_LEVEL: 0, 10, 20
    extra: dict[str, str] = field(default_factory=dict)   # other <op> attributes (on-fail...)
    origin: str = ""


@dataclass
class Primitive:
    """A resource: standard:provider:type or standard:type, with its settings.

    params go to instance_attributes (checked against the agent's declarations), meta to
    meta_attributes, utilization to utilization (used with placement-strategy).
    """

    id: str
    standard: str                         # ocf, stonith, systemd, lsb, service
    type: str
    provider: Optional[str] = None        # ocf only
    params: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    utilization: dict[str, str] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    description: str = ""
    template: Optional[str] = None        # the [templates.NAME] it was made from
    address: str = ""                     # its own "IP[/prefix]" (load/addresses.py)
    accept_node_loss: str = ""            # why it may stay stopped when a node is lost
    origin: str = ""

    @property
    def agent(self):
        """The agent spec as pcs and crm_resource spell it (ocf:heartbeat:IPaddr2)."""
        if self.provider:
            return f"{self.standard}:{self.provider}:{self.type}"
        return f"{self.standard}:{self.type}"


@dataclass
class Group:
    """Members (primitive ids) start in order, stop in reverse, and run on one node."""

    id: str
    members: list[str]
    meta: dict[str, str] = field(default_factory=dict)
    origin: str = ""


@dataclass
class Clone:
    """A clone of one primitive or group; promotable for Promoted/Unpromoted pairs."""

    id: str
    child: str                            # a primitive or group id
    promotable: bool = False
    meta: dict[str, str] = field(default_factory=dict)
    origin: str = ""


@dataclass
class ResourceSet:
    """A resource set inside an order or colocation (<resource_set>)."""

    id: str
    resources: list[str]
    sequential: Optional[bool] = None
    require_all: Optional[bool] = None
    role: Optional[str] = None
    action: Optional[str] = None
    origin: str = ""


@dataclass
class Order:
    """first then then; or, with sets, each set before the next."""

    id: str
    first: Optional[str] = None
    then: Optional[str] = None
    first_action: Optional[str] = None
    then_action: Optional[str] = None
    kind: str = "Mandatory"               # Mandatory, Optional, Serialize
    symmetrical: Optional[bool] = None
    sets: list[ResourceSet] = field(default_factory=list)
    origin: str = ""


@dataclass
class Colocation:
    """resource runs where with_resource runs (score INFINITY: must; -INFINITY: never)."""

    id: str
    resource: Optional[str] = None
    with_resource: Optional[str] = None
    score: str = "INFINITY"
    resource_role: Optional[str] = None
    with_role: Optional[str] = None
    sets: list[ResourceSet] = field(default_factory=list)
    origin: str = ""


@dataclass
class Expression:
    """One node-attribute test of a rule: `attribute operation value` or `defined attribute`."""

    id: str
    attribute: str
    operation: str                        # lt gt lte gte eq ne defined not_defined
    value: Optional[str] = None
    type: Optional[str] = None            # string, integer, number, version


@dataclass
class Rule:
    id: str
    score: str
    expressions: list[Expression]
    boolean_op: str = "and"
    role: Optional[str] = None


@dataclass
class Location:
    """A preference of a resource for a node (node + score) or for nodes matching rules."""

    id: str
    resource: str
    node: Optional[str] = None
    score: Optional[str] = None
    rules: list[Rule] = field(default_factory=list)
    role: Optional[str] = None
    origin: str = ""


@dataclass
class FenceDevice:
    """A fencing device for one node; `level` orders devices in the fencing topology.

    Credentials are references (password_script), never inline passwords.
    """

    id: str
    agent: str                            # fence_ipmilan (the stonith:type)
    node: str
    level: int = 1
    params: dict[str, str] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    origin: str = ""


@dataclass
class Node:
    """A cluster node: the name and id shared by corosync.conf and the CIB."""

    name: str
    id: int
    addresses: list[str] = field(default_factory=list)   # ring0_addr, ring1_addr
    attributes: dict[str, str] = field(default_factory=dict)
    utilization: dict[str, str] = field(default_factory=dict)
    fencing: list[FenceDevice] = field(default_factory=list)
    origin: str = ""


@dataclass
class Corosync:
    """The [corosync] section (maps onto ocfpy.generators.render.corosync.CorosyncCluster)."""

    transport: str = "knet"
    crypto: bool = True
    cipher: str = "aes256"
    hash: str = "sha256"
    token: int = 3000
    token_coefficient: Optional[int] = None   # None: corosync's default (650 ms per node > 2)
    consensus: Optional[int] = None
    two_node: Optional[bool] = None       # None: decided from the node count
    wait_for_all: Optional[bool] = None   # None: corosync's default (on with two_node)
    link_priorities: list[int] = field(default_factory=list)
    qdevice: Optional[QuorumDevice] = None
    keyfile: Optional[str] = None
    logfile: Optional[str] = None
    debug: bool = False
    origin: str = ""


@dataclass
class Cluster:
    name: str
    nodes: list[Node] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)     # crm_config cluster options
    rsc_defaults: dict[str, str] = field(default_factory=dict)
    op_defaults: dict[str, str] = field(default_factory=dict)
    corosync: Corosync = field(default_factory=Corosync)
    primitives: list[Primitive] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    clones: list[Clone] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    colocations: list[Colocation] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    alerts: list = field(default_factory=list)               # generators.load.alerts.Alert
    remote: object = None                                    # generators.load.remote.Remote
    source: str = ""                      # the description's path, as given
    digest: str = ""                      # sha256 hex of the description's bytes
    warnings: tuple[str, ...] = ()        # located, one line each

    # Lookups used by renderers and checks.
    def resource_kinds(self):
        """{id: PRIMITIVE|GROUP|CLONE} for every resource."""
        kinds = {p.id: PRIMITIVE for p in self.primitives}
        kinds.update((g.id, GROUP) for g in self.groups)
        kinds.update((c.id, CLONE) for c in self.clones)
        return kinds

    def parents(self):
        """{child id: group or clone id} for every contained resource."""
        parent = {}
        for group in self.groups:
            parent.update((member, group.id) for member in group.members)
        parent.update((clone.child, clone.id) for clone in self.clones)
        return parent

    def top_level(self):
        """Resource ids not inside a group or clone, in description order."""
        parent = self.parents()
        ordered = [p.id for p in self.primitives] + [g.id for g in self.groups] + [
            c.id for c in self.clones]
        return [rid for rid in ordered if rid not in parent]

    def fence_devices(self):
        return [device for node in self.nodes for device in node.fencing]
