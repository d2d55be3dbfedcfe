"""The remote nodes of a description (load/remote.py) in the CIB, and the remote hosts' nftables
rules."""

import ipaddress


def _remote_kind(cluster, agents):
    """{top-level resource id: True if it runs on remote nodes} (all its primitives are of
    the remote agents)."""
    prims = {p.id: p for p in cluster.primitives}
    members = {g.id: list(g.members) for g in cluster.groups}
    children = {c.id: c.child for c in cluster.clones}

    def primitives(rid):
        if rid in prims:
            return [prims[rid]]
        if rid in members:
            return [prims[m] for m in members[rid]]
        return primitives(children[rid])

    return {rid: all(p.agent in agents for p in primitives(rid)) for rid in cluster.top_level()}


def render_remote(configuration, cluster, ids):
    """Add the remote nodes to an lxml <configuration>: connection resources, node entries,
    fence devices and levels, and the #kind location rules. Nothing without remote nodes."""
    from lxml import etree

    remote = getattr(cluster, "remote", None)
    if remote is None:
        return
    E = etree.SubElement

    def section(tag):
        found = configuration.find(tag)
        return found if found is not None else E(configuration, tag)

    nodes, resources = section("nodes"), section("resources")
    for node in remote.nodes:
        entry = E(nodes, "node", id=node.name, uname=node.name, type="remote")
        if node.attributes:
            ids.nvset(entry, "instance_attributes", f"nodes-{node.name}", node.attributes)
        primitive = E(resources, "primitive", {"id": ids.claim(node.name), "class": "ocf",
                                               "provider": "pacemaker", "type": "remote"})
        ids.nvset(primitive, "instance_attributes", f"{node.name}-instance_attributes",
              {"server": node.address, "port": str(node.port),
               "reconnect_interval": node.reconnect_interval})
        operations = E(primitive, "operations")
        E(operations, "op", id=ids(f"{node.name}-start-interval-0s"), name="start",
          interval="0s", timeout=remote.connect_timeout)
        E(operations, "op", id=ids(f"{node.name}-monitor-interval-{remote.monitor}"),
          name="monitor", interval=remote.monitor, timeout="30s")
        for device in node.fencing:
            element = E(resources, "primitive", {"id": ids.claim(device.id), "class": "stonith",
                                                 "type": device.agent})
            ids.nvset(element, "instance_attributes", f"{device.id}-instance_attributes",
                  device.params)
            ops = E(element, "operations")
            for op in device.ops:
                E(ops, "op", id=ids.claim(op.id), name=op.name, interval=op.interval)
    levels = [(node.name, d.level, d.id) for node in remote.nodes for d in node.fencing]
    if levels:
        from .cib import fencing_levels  # cib renders the rest and calls this module

        fencing_levels(section("fencing-topology"), levels, ids)
    constraints = section("constraints")
    for rid, on_remote in _remote_kind(cluster, remote.agents).items():
        where = "remote" if on_remote else "cluster"
        # resource-discovery never: no probes where it may not run. A probe pending on a
        # remote node whose connection cannot come back would hold up every start after it.
        element = E(constraints, "rsc_location", id=ids(f"location-{rid}-on-{where}-nodes"),
                    rsc=rid, **{"resource-discovery": "never"})
        rule = E(element, "rule", id=ids(f"location-{rid}-on-{where}-nodes-rule"),
                 score="-INFINITY")
        E(rule, "expression", id=ids(f"location-{rid}-on-{where}-nodes-expr"),
          attribute="#kind", operation="ne", value=where)


def nftables(cluster):
    """nftables rules for a remote host: TCP 3121 (each remote node's port) from full nodes."""
    from ..render.output_files import MARK

    sources = sorted({a for n in cluster.nodes for a in n.addresses},
                     key=lambda a: ipaddress.ip_address(a))
    ports = sorted({n.port for n in cluster.remote.nodes})
    v4 = [a for a in sources if ipaddress.ip_address(a).version == 4]
    v6 = [a for a in sources if ipaddress.ip_address(a).version == 6]
    lines = [f"# {MARK} pacemaker_remote on the remote hosts of cluster {cluster.name}:",
             "# only the full nodes reach pacemaker_remoted.",
             "table inet ocfgen_pacemaker_remote {", "  chain input {",
             "    type filter hook input priority filter - 1; policy accept;"]
    port_set = ", ".join(str(p) for p in ports)
    if v4:
        lines.append(f"    ip saddr {{ {', '.join(v4)} }} tcp dport {{ {port_set} }} accept")
    if v6:
        lines.append(f"    ip6 saddr {{ {', '.join(v6)} }} tcp dport {{ {port_set} }} accept")
    lines += [f"    tcp dport {{ {port_set} }} drop", "  }", "}"]
    return "\n".join(lines) + "\n"
