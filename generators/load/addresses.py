"""What a description says about a resource beyond its agent: its own address, what it accepts
when a node is lost, and the node-health settings its boot-directory check needs.

    [resources.ioc-gun-01]
    template = "ioc"
    address = "192.0.2.101/24"   # an IOC or archiver appliance of its own address
    accept_node_loss = "spare appliance: archiving pauses until its host is back"

`address`: the resource gets an ocf:heartbeat:IPaddr2 `<id>-ip` started before it in one group
(`<id>-group`, or its own group when it is in one already; constraints naming the resource then
name that group, which is what runs together), and the agent is told the address: an
ocf:ocfpy:epics-ioc binds its Channel Access and pvAccess servers to it (`address` parameter;
its procServ console stays on the node, which procServ binds to 127.0.0.1 whatever it is
given), an ocf:ocfpy:archiver is checked there (`http_host`).

`accept_node_loss`: `ocfgen simulate` and `check --n-1` fail when the loss of a node leaves a
resource stopped, unless that resource says why this is acceptable here.

An ocf:ocfpy:epics-ioc monitored at OCF_CHECK_LEVEL 20 marks its node unhealthy when the boot
directory stops answering (a `#health-ioc-<resource>` node attribute, red), rather than failing
the running IOC: the cluster then needs a node-health-strategy that moves resources off a red
node and leaves them where they are when no node is healthier. Pacemaker runs nothing where
the score is negative, so the red score cannot simply be subtracted: unless the description
sets its own strategy, ocfgen sets `progressive` with node-health-red = -HEALTH_STEP and
node-health-base = HEALTH_STEP for each IOC that is checked. A node's score is then the base
less a step per red IOC attribute: never negative, highest where the fewest boot directories
hang, and equal (so the IOCs stay put) when every node has as many. HEALTH_STEP is far above
any stickiness a description gives.
"""

import ipaddress

from ..model.cluster import Group, Primitive
from . import resources

# The parameter each addressable agent takes its address in.
ADDRESSED = {"ocf:ocfpy:epics-ioc": "address", "ocf:ocfpy:archiver": "http_host"}
IOC_AGENT = "ocf:ocfpy:epics-ioc"
HEALTH_STEP = 1000
INFINITY = 1000000   # Pacemaker's; larger scores are clamped to it


def split_address(text):
    """(IPv4Address, prefix or None) of 'A.B.C.D[/N]'; ValueError saying why not."""
    address, slash, prefix = text.partition("/")
    parsed = ipaddress.IPv4Address(address.strip())
    if not slash:
        return parsed, None
    if not prefix.isdigit() or not 1 <= int(prefix) <= 32:
        raise ValueError(f"prefix {prefix!r} is not 1-32")
    return parsed, int(prefix)


def read_keys(reader, merged, prim):
    """The resource keys `address` and `accept_node_loss` (merged: key -> (path, value), as
    templates and the resource give them), checked and put on `prim` before its parameters
    are checked against the agent."""
    if "address" in merged:
        path, raw = merged["address"]
        text = reader.string(path, raw, what="an IPv4 address with an optional /prefix")
        param = ADDRESSED.get(prim.agent)
        if param is None:
            reader.fail(path, f"only {' and '.join(ADDRESSED)} resources have an address of "
                              f"their own; for {prim.agent} describe an ocf:heartbeat:IPaddr2 "
                              f"resource and a group")
        try:
            address, _ = split_address(text)
        except ValueError as exc:
            reader.fail(path, f"{text!r} is not an IPv4 address with an optional /prefix: {exc}")
        if prim.params.get(param, str(address)) != str(address) and not (
                param == "http_host" and prim.params[param] == "127.0.0.1"):
            reader.fail(path, f"parameter {param!r} is {prim.params[param]!r}: the resource's "
                              f"address sets it; leave it out")
        prim.params[param] = str(address)
        prim.address = text
    if "accept_node_loss" in merged:
        path, raw = merged["accept_node_loss"]
        prim.accept_node_loss = reader.string(path, raw, what="a reason")
        if not prim.accept_node_loss.strip():
            reader.fail(path, "must say why the resource may stay stopped when a node is lost")


def own_addresses(reader, cluster):
    """An IPaddr2 before every resource with an address, in one group with it."""
    taken = {ipaddress.ip_address(a): f"node {n.name}" for n in cluster.nodes
             for a in n.addresses}
    kinds = cluster.resource_kinds()
    for prim in list(cluster.primitives):
        if not prim.address:
            continue
        path = ("resources", prim.id, "address")
        address, prefix = split_address(prim.address)
        if address in taken:
            reader.fail(path, f"{address} is already the address of {taken[address]}")
        taken[address] = f"resource {prim.id}"
        parents = cluster.parents()
        parent = parents.get(prim.id)
        if parent is not None and (kinds.get(parent) == "clone" or parent in parents):
            reader.fail(path, f"{prim.id!r} is cloned: one address cannot run on several "
                              f"nodes at once")
        params = {"ip": str(address)}
        if prefix is not None:
            params["cidr_netmask"] = str(prefix)
        ip_id = reader.unique(f"{prim.id}-ip", path)
        info = resources.check_params(reader, path, "ocf", "heartbeat", "IPaddr2",
                                                  params)
        ip = Primitive(id=ip_id, standard="ocf", provider="heartbeat", type="IPaddr2",
                       params=params, description=f"The own address of {prim.id}",
                       origin=reader.where(path))
        ip.ops = resources.read_ops(reader, ip_id, None, info, "ocf", False)
        cluster.primitives.insert(cluster.primitives.index(prim), ip)
        if parent is not None:
            group = next(g for g in cluster.groups if g.id == parent)
            group.members.insert(group.members.index(prim.id), ip_id)
            continue
        group_id = reader.unique(f"{prim.id}-group", path)
        cluster.groups.append(Group(group_id, [ip_id, prim.id], {}, reader.where(path)))
        _retarget(cluster, prim.id, group_id)


def _retarget(cluster, old, new):
    """Constraints naming `old` name `new` (the group that now holds it) instead."""
    def swap(name):
        return new if name == old else name

    for location in cluster.locations:
        location.resource = swap(location.resource)
    for constraint in cluster.orders + cluster.colocations:
        for attribute in ("first", "then", "resource", "with_resource"):
            if hasattr(constraint, attribute):
                setattr(constraint, attribute, swap(getattr(constraint, attribute)))
        for rset in constraint.sets:
            rset.resources = [swap(r) for r in rset.resources]


def health_settings(cluster):
    """Set the node-health options IOCs with a depth-20 check need, unless the description
    sets a strategy of its own."""
    checked = sum(prim.agent == IOC_AGENT and any(
        op.name == "monitor" and (op.check_level or 0) >= 20 for op in prim.ops)
        for prim in cluster.primitives)
    if checked and "node-health-strategy" not in cluster.properties:
        cluster.properties["node-health-strategy"] = "progressive"
        cluster.properties.setdefault("node-health-red", str(-HEALTH_STEP))
        cluster.properties.setdefault("node-health-base",
                                      str(min(INFINITY, HEALTH_STEP * checked)))
