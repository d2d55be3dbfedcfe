'''Read a cluster description (TOML) into the checked model (generators/model/cluster.py).

`load(path)` returns a `Cluster` or raises `DescriptionError`. A description is read to the
end whatever it holds: every mistake is reported in one run, one line each, sorted by place
(line, then column), the first MAX_ERRORS of them then how many more. Each line names the file,
the line and column (see ocfpy.generators.load.positions for which column), the key path and why:

    cluster.toml:23:32: resources.vip.params.arp_count: parameter 'arp_count' is not an integer: 'x'
    cluster.toml:31:1: order[0].then: unknown resource 'ap' (did you mean 'app'?)

A check that fails ends the item it reads (a node, a resource, a constraint, a cluster option,
a cross-check...); the next item is read as if it had not been there. An item that refers to
one whose reading failed is dropped quietly: the failed one's own error says what is wrong.
A TOML syntax error ends reading at once: tomllib cannot read past it.

Reading is plain functions over the TOML tree sharing one reader.Reader (the one TOML
accessor, which also records the errors), in this order (read_cluster): [cluster],
[properties], [defaults], [op_defaults], [corosync] here; [nodes] in nodes.py; [groups],
[clones], [resources] in resources.py; fencing across nodes (nodes.py); [[order]],
[[colocation]], [[location]] in constraints.py; resources' own addresses (addresses.py);
[alerts] (alerts.py), [remote] (remote.py); then the rules across the whole cluster:
corosync's node rules (model/corosync.Nodelist, also used by the corosync.conf renderer),
placement, and crosschecks (network_checks among them).


The format, by example (examples/*.toml hold complete ones):

    [cluster]
    name = "acs-alma"
    provided_elsewhere = ["ocf:site:Thing"]   # agents the nodes have and this host has not

    [properties]                    # cluster options, Pacemaker's names (crm_config)
    stonith-enabled = true
    placement-strategy = "balanced"

    [defaults]                      # resource defaults (rsc_defaults)
    resource-stickiness = 100
    migration-threshold = 3
    failure-timeout = "10min"

    [op_defaults]
    timeout = "40s"

    [corosync]                      # see ocfpy.generators.render.corosync (all optional)
    crypto = true
    token = 3000
    token_coefficient = 650         # ms added to the token per node above two
    link_priorities = [255, 1]

    [nodes.alma-a]                  # one table per node, named as the node's host name
    id = 1                          # corosync node id (default: position, from 1)
    addresses = ["192.0.2.11", "198.51.100.11"]      # ring0, ring1
    attributes = { acs-host = true }                 # node attributes, for location rules
    utilization = { cpu = 8, memory = 16384 }        # with placement-strategy

    [[nodes.alma-a.fencing]]        # fencing levels, tried in order (or set level = N)
    agent = "fence_ipmilan"         # the device never runs on the node it fences
    [nodes.alma-a.fencing.params]   # pcmk_host_list defaults to the node
    ip = "10.0.0.11"                # an address or host name; ipport 1-65535; one BMC a node
    username = "admin"
    password_script = "/etc/cluster/ipmi-password"   # never an inline password

With fencing on (stonith-enabled, Pacemaker's default) every node must be fenceable: each
device of a node's level fences that node (pcmk_host_list / pcmk_host_map name it), devices
name only nodes of the cluster, and a node without levels is named by some device. A
two-node cluster (two_node) gets pcmk_delay_base = 10s on the first node's devices unless the
description chose a delay (pcmk_delay_base/_max, priority-fencing-delay): the first node wins
the fence race when the link between them breaks.

    [templates.ioc]                 # shared settings; a resource says template = "ioc"
    agent = "ocf:ocfpy:daemon"
    ops = [{ name = "monitor", interval = "10s", timeout = "20s" }]

    [resources.vip]                 # one table per resource, named by its id
    agent = "ocf:heartbeat:IPaddr2"
    params = { ip = "192.0.2.100", cidr_netmask = 24 }
    meta = { resource-stickiness = 200 }
    utilization = { cpu = 1 }
    ops = [{ name = "monitor", interval = "10s", timeout = "20s", OCF_CHECK_LEVEL = 10 }]
    # op keys: name, interval, timeout, role, OCF_CHECK_LEVEL, on-fail, start-delay, ...
    # Actions not listed get the agent's advertised defaults, as pcs copies them.

    [resources.acs-services.params] # TOML inline tables are one line: longer ones go here
    acsroot = "/alma/ACS-current/ACSSW"

    [groups.acs]                    # members start in order, on one node
    resources = ["acs-services", "acs-containers"]

    [clones.ducc-head-clone]        # clone of a resource or group
    resource = "ducc-head"
    promotable = true
    meta = { promoted-max = 1 }

    [[order]]                       # first, then (or sets = [{ resources = [...] }, ...])
    first = "acs-services"
    then = "acs-containers"

    [[colocation]]                  # resource runs where `with` runs
    resource = "vip"
    with = "acs"
    score = "INFINITY"

    [[location]]                    # prefers = NODE, avoids = NODE, or rule = "..."
    resource = "ioc-bpm"            # or resources = [...]: the same preference for each
    rule = "ioc-host eq true and rack ne r9"
    score = "INFINITY"              # role = "Promoted" for a promotable clone's promoted role

A rule is tests on node attributes joined by `and` or by `or`: `ATTRIBUTE OP VALUE` (OP one of
lt gt lte gte eq ne; VALUE may be typed as integer:5, number:1.5, version:2.1 or string:x;
bare integers compared with lt/gt/lte/gte are integers), `defined ATTRIBUTE` or
`not_defined ATTRIBUTE`. To keep a resource off nodes without an attribute:
`rule = "not_defined ioc-host or ioc-host ne true"` with `score = "-INFINITY"`.

Parameters are checked against the agent's own declarations: ocf:ocfpy agents from
ocfpy.catalogue, every other agent from its meta-data (crm_resource --show-metadata). Keys that
configure Pacemaker itself (properties, meta, defaults, op attributes) use Pacemaker's names.
Ids not given are made the way pcs makes them.
'''

import hashlib
import re

from ..model.cluster import Cluster, Corosync, QuorumDevice
from ..verify import crosschecks
from . import addresses, agents, constraints, nodes, resources
from .alerts import read_alerts
from .keys import DESCRIPTION
from .reader import (  # noqa: F401 (the entry points other modules use)
    MAX_BYTES,
    MAX_ERRORS,
    DescriptionError,
    DescriptionErrors,
    Reader,
    read_regular,
)
from .remote import read_remote
from .values import (
    MANAGED_PROPERTIES,
    PLACEMENT,
    REQUIRES,
    RESOURCE_META,
    suggest,
)


def load(path):
    """The checked Cluster of the description at `path`; DescriptionError otherwise."""
    try:
        data = read_regular(path)
    except OSError as exc:
        raise DescriptionError(str(path), None, (), f"cannot read the description: "
                                                    f"{exc.strerror}") from None
    return loads(data, str(path))


def loads(data, source="<description>"):
    """The checked Cluster of description bytes (or text); `source` names it in errors."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    reader = Reader(source)
    doc = reader.parse(data)
    cluster = Cluster(name="", source=source, digest=hashlib.sha256(data).hexdigest())
    with reader.collect():
        read_cluster(reader, doc, cluster)
    reader.raise_errors()
    for spec in sorted(reader.unchecked):
        reader.warnings.append(f"{source}: parameters of {spec} not checked: no meta-data "
                               f"for it on this host")
    cluster.warnings = tuple(reader.warnings)
    return cluster


def read_cluster(reader, doc, cluster):
    """Read every item of the document into `cluster`, recording each item's error."""
    with reader.collect():
        reader.table((), doc, DESCRIPTION.allowed(""))
    with reader.collect(("cluster",)):
        cluster.name = cluster_name(reader, doc)
    with reader.collect(("properties",)):
        cluster.properties = read_properties(reader, doc.get("properties", {}))
    with reader.collect(("defaults",)):
        cluster.rsc_defaults = resources.read_meta(reader, ("defaults",),
                                                   doc.get("defaults", {}), RESOURCE_META)
    for section, read in (("op_defaults", read_op_defaults), ("corosync", read_corosync),
                          ("nodes", nodes.read_nodes)):
        with reader.collect((section,)):
            setattr(cluster, section, read(reader, doc.get(section, {})))
    node_tables = doc.get("nodes", {})
    reader.node_count = len(node_tables) if isinstance(node_tables, dict) else len(cluster.nodes)
    resources.read(reader, doc, cluster)
    for check in (resources.check_promotable, resources.check_unique, resources.check_consoles,
                  nodes.fencing_devices):
        with reader.collect():
            check(reader, cluster)
    constraints.read(reader, doc, cluster)
    with reader.collect():
        addresses.own_addresses(reader, cluster)
    addresses.health_settings(cluster)
    with reader.collect():
        constraints.check_cycles(reader, cluster)
    with reader.collect(("alerts",)):
        cluster.alerts = read_alerts(reader, doc.get("alerts", {}))
    with reader.collect(("remote",)):
        cluster.remote = read_remote(reader, doc.get("remote", {}),
                                     doc.get("remote_nodes", {}), cluster.nodes)
    with reader.collect():
        nodes.check_links(reader, cluster)
    check_placement(reader, cluster)
    with reader.collect():
        crosschecks.check(reader, cluster)


def cluster_name(reader, doc):
    """[cluster]: the cluster's name, and the agents provided elsewhere."""
    if "cluster" not in doc:
        reader.fail((), "missing [cluster] table with the cluster's name")
    cluster_table = reader.table(("cluster",), doc["cluster"],
                                 DESCRIPTION.allowed("cluster"))
    # Agents the cluster nodes have but this host has not: used unchecked, not refused.
    reader.elsewhere = set(reader.strings(("cluster", "provided_elsewhere"),
                                          cluster_table.get("provided_elsewhere", []),
                                          nonempty=False))
    if "name" not in cluster_table:
        reader.fail(("cluster",), "missing key 'name'")
    return reader.string(("cluster", "name"), cluster_table["name"],
                         re.compile(r"[A-Za-z0-9_.-]{1,32}\Z"),
                         "a cluster name (up to 32 letters, digits, '.', '-', '_')")


def read_properties(reader, value):
    table = reader.table(("properties",), value)
    known = agents.cluster_options()
    out = {}
    for key, raw in table.items():
        with reader.collect(("properties", key)):
            out[key] = read_property(reader, known, key, raw)
    return out


def read_property(reader, known, key, raw):
    path = ("properties", key)
    if key in MANAGED_PROPERTIES:
        reader.fail(path, f"{key} {MANAGED_PROPERTIES[key]}")
    if known is not None and key not in known:
        reader.fail(path, f"unknown cluster option {key!r}{suggest(key, known)}")
    text = reader.scalar(path, raw)
    if key == "placement-strategy" and text not in PLACEMENT:
        reader.fail(path, f"must be one of {', '.join(PLACEMENT)}, not {text!r}")
    check = known[key].check if known else None
    if check is not None:
        try:
            check(text)
        except ValueError as exc:
            reader.fail(path, f"cluster option {key!r} {exc}")
    return text


def read_op_defaults(reader, value):
    table = reader.table(("op_defaults",), value, DESCRIPTION.allowed("op_defaults"))
    out = {}
    for key, raw in table.items():
        path = ("op_defaults", key)
        if key in ("timeout", "interval"):
            out[key] = reader.duration(path, raw)
        elif key == "requires":
            out[key] = reader.choice(path, raw, REQUIRES)
        else:
            out[key] = resources.op_attribute(reader, path, key, raw)
    return out


def read_corosync(reader, value):
    table = reader.table(("corosync",), value, DESCRIPTION.allowed("corosync"))
    # Without a [corosync] table, corosync's own checks point at [cluster].
    out = Corosync(origin=reader.where(("corosync",) if ("corosync",) in reader.positions
                                       else ("cluster",)))
    path = ("corosync",)
    if "transport" in table:
        out.transport = reader.string(path + ("transport",), table["transport"])
        if out.transport != "knet":
            reader.fail(path + ("transport",), f"transport {out.transport!r}: ocfgen "
                                               f"generates knet (corosync 3's transport) only")
    for key in ("crypto", "two_node", "wait_for_all", "debug"):
        if key in table:
            setattr(out, key, reader.boolean(path + (key,), table[key]))
    for key in ("cipher", "hash", "keyfile", "logfile"):
        if key in table:
            setattr(out, key, reader.string(path + (key,), table[key]))
    # corosync reads its totem times as 32-bit unsigned integers.
    for key in ("token", "consensus"):
        if key in table:
            setattr(out, key, reader.integer(path + (key,), table[key], 1, 2**32 - 1))
    if "token_coefficient" in table:
        out.token_coefficient = reader.integer(path + ("token_coefficient",),
                                               table["token_coefficient"], 0, 2**32 - 1)
    if "link_priorities" in table:
        out.link_priorities = reader.integers(path + ("link_priorities",),
                                              table["link_priorities"], 0, 255, nonempty=False)
    if "qdevice" in table:
        qpath = path + ("qdevice",)
        qd = reader.table(qpath, table["qdevice"], DESCRIPTION.allowed("corosync.qdevice"))
        if "host" not in qd:
            reader.fail(qpath, "missing key 'host'")
        out.qdevice = QuorumDevice(reader.string(qpath + ("host",), qd["host"]),
                                   reader.string(qpath + ("algorithm",),
                                                 qd.get("algorithm", "ffsplit")),
                                   reader.where(qpath))
    return out

# Nodes and their fencing.


def check_placement(reader, cluster):
    """Utilization and placement-strategy go together."""
    placement = cluster.properties.get("placement-strategy", "default")
    used = any(n.utilization for n in cluster.nodes) or any(
        p.utilization for p in cluster.primitives)
    if used and placement == "default":
        reader.warn(("properties",), "utilization is set but placement-strategy is default, "
                                     "so Pacemaker ignores it")
    if placement != "default" and not any(n.utilization for n in cluster.nodes):
        reader.warn(("properties", "placement-strategy"), "no node has utilization: the "
                                                          "strategy has nothing to balance")
