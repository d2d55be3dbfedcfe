"""Nodes of a description and their fencing: [nodes.NAME] tables (ids, ring addresses,
attributes, utilization), [[nodes.NAME.fencing]] devices, and the checks across them (every
node fenceable, one BMC a node, the two-node fence race, ring addresses on every link). Plain
functions of the reader (reader.Reader) and the TOML value they read."""

import ipaddress
import re

from ..model.cluster import FenceDevice, Location, Node, Op
from ..model.corosync import MAX_NODEID, Nodelist, links_problem, two_node_problem
from . import resources
from .keys import DESCRIPTION
from .positions import dotted, line_of
from .values import ATTRIBUTE, HOSTNAME, PARAM_NAME, is_inline_secret, kind, suggest

# Fencing of the first node of a two-node cluster waits this long, so it wins a fence race.
TWO_NODE_DELAY = "10s"
DEFAULT_FENCE_PORTS = {"fence_ipmilan": "623", "fence_ipmilanplus": "623", "fence_idrac": "623",
                       "fence_ilo3": "623", "fence_ilo4": "623", "fence_ilo5": "623",
                       "fence_imm": "623"}


def read_nodes(reader, value):
    table = reader.table(("nodes",), value)
    nodes, nodelist = [], Nodelist()
    for index, (name, spec) in enumerate(table.items()):
        with reader.collect(("nodes", name)):
            nodes.append(read_node(reader, index, name, spec, nodelist))
    return nodes


def read_node(reader, index, name, spec, nodelist):
    """One [nodes.NAME] table; `nodelist` (corosync.Nodelist) holds the node ids and ring
    addresses of the nodes read before it."""
    path = ("nodes", name)
    reader.string(path, name, HOSTNAME, "a node name (a host name)")
    spec = reader.table(path, spec, DESCRIPTION.allowed("nodes"))
    nodeid = reader.integer(path + ("id",), spec["id"], 1, MAX_NODEID) if (
        "id" in spec) else index + 1
    problem = nodelist.nodeid(name, nodeid) or nodelist.name(name, nodeid)
    if problem:
        reader.fail(path + ("id",), problem)
    node = Node(name=name, id=nodeid, origin=reader.where(path))
    if "addresses" in spec:
        node.addresses = reader.strings(path + ("addresses",), spec["addresses"])
        problem = nodelist.ring_count(node.addresses)
        if problem:
            reader.fail(path + ("addresses",), problem)
        for ring, address in enumerate(node.addresses):
            problem = nodelist.address(name, address)
            if problem:
                reader.fail(path + ("addresses", ring), problem)
    for key in ("attributes", "utilization"):
        attrs = reader.table(path + (key,), spec.get(key, {}))
        for attr, raw in attrs.items():
            where = path + (key, attr)
            reader.string(where, attr, ATTRIBUTE, "an attribute name")
            if attr.startswith("#"):
                reader.fail(where, "names starting with '#' are Pacemaker's built-in "
                                   "node attributes")
            if key == "utilization":
                reader.integer(where, raw, minimum=0)
            getattr(node, key)[attr] = reader.scalar(where, raw)
    if "fencing" in spec:
        node.fencing = read_fencing(reader, path + ("fencing",), spec["fencing"], name)
    return node


def read_fencing(reader, path, value, node):
    if not isinstance(value, list):
        reader.fail(path, f"must be an array of tables ([[{dotted(path)}]]), not {kind(value)}")
    devices = []
    for index, raw in enumerate(value):
        with reader.collect(path + (index,)):
            devices.append(fence_device(reader, path + (index,), index, raw, node))
    return devices


def fence_device(reader, where, index, raw, node):
    """One [[nodes.NODE.fencing]] device, the `index`th of its node."""
    spec = reader.table(where, raw, DESCRIPTION.allowed("nodes.fencing"))
    if "agent" not in spec:
        reader.fail(where, "missing key 'agent' (a fence agent such as fence_ipmilan)")
    agent = reader.string(where + ("agent",), spec["agent"])
    agent = agent[len("stonith:"):] if agent.startswith("stonith:") else agent
    if not re.match(r"fence_[A-Za-z0-9_-]+\Z", agent):
        reader.fail(where + ("agent",), f"{agent!r} is not a fence agent (fence_...)")
    short = agent[len("fence_"):]
    if "id" in spec:
        did = reader.claim(where + ("id",), reader.identifier(where + ("id",), spec["id"]))
    else:
        did = reader.unique(f"fence-{node}-{short}", where)
    level = reader.integer(where + ("level",), spec["level"], 1, 9) if (
        "level" in spec) else index + 1
    params = {}
    for key, given in reader.table(where + ("params",), spec.get("params", {})).items():
        ppath = where + ("params", key)
        reader.string(ppath, key, PARAM_NAME, "a parameter name")
        if is_inline_secret(key):
            reader.fail(ppath, f"inline secret {key!r}: the CIB is copied to every node "
                               f"and into every report; name a script that prints it "
                               f"with password_script instead")
        params[key] = reader.scalar(ppath, given)
    bmc_address(reader, where + ("params",), params)
    if "pcmk_host_list" not in params and "pcmk_host_map" not in params:
        params["pcmk_host_list"] = node
    resources.check_params(reader, where, "stonith", None, agent, params)
    monitor = Op(reader.unique(f"{did}-monitor-interval-60s", where), "monitor", "60s")
    return FenceDevice(did, agent, node, level, params, [monitor], reader.where(where))


def bmc_address(reader, path, params):
    """A fence device's management address is an IP address or a host name, its port
    (ipport) a UDP/TCP port."""
    for key in ("ip", "ipaddr"):
        if key in params:
            text = params[key].strip()
            try:
                ipaddress.ip_address(text)
            except ValueError:
                if re.match(r"[0-9.]+\Z", text) or not HOSTNAME.match(text):
                    reader.fail(path + (key,), f"{params[key]!r} is not an IP address or a "
                                               f"host name")
    if "ipport" in params:
        text = params["ipport"].strip()
        if not text.isdigit() or not 1 <= int(text) <= 65535:
            reader.fail(path + ("ipport",), f"port {params['ipport']!r} is out of range: a "
                                            f"port is 1 to 65535")

# Resources.


def fence_targets(params):
    """(node names a fence device fences, the parameter naming them), or (None, None) when
    the device itself is asked (pcmk_host_check dynamic-list or status, no list or map)."""
    if "pcmk_host_list" in params:
        return [t for t in re.split(r"[\s,;]+", params["pcmk_host_list"]) if t], \
            "pcmk_host_list"
    if "pcmk_host_map" in params:
        pairs = [p for p in re.split(r"[\s,;]+", params["pcmk_host_map"]) if p]
        return [re.split(r"[:=]", pair, maxsplit=1)[0] for pair in pairs], "pcmk_host_map"
    return None, None


def bmc_of(device):
    """(address, port, plug) of the management controller a device drives, or None."""
    address = device.params.get("ip") or device.params.get("ipaddr")
    if not address:
        return None
    port = device.params.get("ipport") or DEFAULT_FENCE_PORTS.get(device.agent, "")
    plug = device.params.get("plug") or device.params.get("port") or ""
    return (address.strip().lower(), port.strip(), plug)


def fencing_devices(reader, cluster):
    """Every device avoids the node it fences (a node never fences itself). With fencing on
    (stonith-enabled, Pacemaker's default) every node must be fenceable: each device of a
    node's level fences that node, every node is covered, a device names only nodes of this
    cluster, and no BMC serves two nodes."""
    devices = cluster.fence_devices()
    for device in devices:
        cluster.locations.append(Location(
            reader.unique(f"location-{device.id}-{device.node}--INFINITY", ("nodes", device.node)),
            device.id, node=device.node, score="-INFINITY", origin=device.origin))
    from ocfpy.params import parse_boolean

    try:
        enabled = parse_boolean(cluster.properties.get("stonith-enabled", "true"))
    except ValueError:
        enabled = True
    # What failed to read says nothing about fencing: its own errors are reported.
    enabled = enabled and not reader.broken_at(("properties", "stonith-enabled"))
    if enabled and not devices and not reader.broken_at(("nodes",)):
        reader.fail(("properties",) if ("properties",) in reader.positions else ("nodes",),
                    "no node has fencing and stonith-enabled is not false: Pacemaker would "
                    "start nothing; add [[nodes.NAME.fencing]] (or, for a test cluster only, "
                    "stonith-enabled = false)")
    names = [node.name for node in cluster.nodes]
    covered = set()
    bmcs = {}
    for node in cluster.nodes:
        for index, device in enumerate(node.fencing):
            path = ("nodes", node.name, "fencing", index)
            targets, key = fence_targets(device.params)
            if targets is None:  # the device is asked which nodes it can fence
                covered.add(node.name)
                continue
            for target in targets:
                if target not in names and not reader.broken_at(("nodes", target)):
                    reader.fail(path + ("params", key),
                                f"{key} names {target!r}, which is not a node of this "
                                f"cluster{suggest(target, names)} (nodes: {', '.join(names)})")
            covered.update(targets)
            if node.name not in targets:
                reader.fail(path + ("params", key),
                            f"device {device.id} is at level {device.level} of {node.name} "
                            f"but does not fence {node.name}: its {key} names "
                            f"{', '.join(targets)}")
            bmc = bmc_of(device)
            if bmc is None:
                continue
            if bmc in bmcs and bmcs[bmc][0] != node.name:
                other_node, other_path = bmcs[bmc]
                line = line_of(reader.positions, other_path)
                reader.fail(path + ("params",), f"BMC {bmc[0]} port {bmc[1] or '(default)'} is also the "
                            f"fence device of {other_node} ({dotted(other_path)}"
                            f"{f', line {line}' if line else ''}): one BMC powers one node, "
                            f"so fencing {node.name} would switch {other_node} off")
            bmcs.setdefault(bmc, (node.name, path))
    two_nodes(reader, cluster, enabled)
    if enabled:
        for node in cluster.nodes:
            # A device that failed to read may have fenced any node.
            if node.name not in covered and not reader.broken_at(("nodes",)):
                reader.fail(("nodes", node.name),
                            f"no fence device can fence {node.name} and stonith-enabled is "
                            f"not false: if it fails, its resources never start elsewhere; "
                            f"add [[nodes.{node.name}.fencing]]")


def two_nodes(reader, cluster, enabled):
    """Two nodes that lose each other both keep quorum (two_node) and race to fence each
    other: unless the description chose a delay, fencing the first node waits
    TWO_NODE_DELAY (pcmk_delay_base on its devices), so the first node always wins and
    exactly one survives. two_node also implies wait_for_all: said in a warning (with
    fencing on) unless the description set wait_for_all itreader."""
    corosync = cluster.corosync
    two_node = corosync.two_node if corosync.two_node is not None else (
        len(cluster.nodes) == 2 and corosync.qdevice is None)
    if not two_node:
        return
    delays = ("pcmk_delay_base", "pcmk_delay_max")
    chosen = "priority-fencing-delay" in cluster.properties or any(
        key in device.params for device in cluster.fence_devices() for key in delays)
    if enabled and not chosen:
        for device in cluster.nodes[0].fencing:
            device.params["pcmk_delay_base"] = TWO_NODE_DELAY
    where = ("corosync",) if ("corosync",) in reader.positions else ("nodes",)
    if corosync.wait_for_all is None and enabled:
        reader.warn(where, "two nodes: corosync's two_node implies wait_for_all, so after "
                           "both were down a node that comes back alone runs nothing until "
                           "it sees the other; to let it start alone set wait_for_all = false "
                           "(it then fences the other node first: startup fencing), or set "
                           "wait_for_all = true to say this is meant")
    elif corosync.wait_for_all is False:
        startup = cluster.properties.get("startup-fencing", "true")
        if startup.lower() in ("false", "no", "off", "0", "n"):
            reader.fail(("properties", "startup-fencing"),
                        "wait_for_all = false with startup-fencing = false: a node that "
                        "comes back alone would run the services without knowing the other "
                        "node is down (split brain)")

# Constraints.


def check_links(reader, cluster):
    """corosync's rules over all the nodes read: two_node with two nodes (those that failed
    to read count: the count is what the description says), a ring address on each link."""
    problem = two_node_problem(cluster.corosync.two_node, reader.node_count)
    if problem:
        reader.fail(("corosync", "two_node"), problem)
    odd = links_problem([(node.name, node.addresses) for node in cluster.nodes])
    if odd:
        name, why = odd
        node = next(n for n in cluster.nodes if n.name == name)
        reader.fail(("nodes", name, "addresses") if node.addresses else ("nodes", name), why)
