"""Remote nodes: hosts that run resources through pacemaker_remote without joining corosync,
so a cluster grows past corosync's 16-32 members (Pacemaker Remote, "Remote nodes").

    [remote]                          # all optional
    agents = ["ocf:ocfpy:epics-ioc"]  # resources of these agents run only on remote nodes,
                                      # every other resource only on full nodes (the default)
    port = 3121                       # pacemaker_remoted's TCP port
    reconnect_interval = "60s"        # how long a lost connection waits before retrying
    monitor = "10s"                   # the connection resource's monitor
    connect_timeout = "20s"           # its start: a connection to a host that is gone takes
                                      # this long to fail, and holds up the transition meanwhile

    [remote_nodes.ioc-host-1]         # one table per remote host, named by its host name
    address = "192.0.2.31"
    attributes = { rack = "r2" }
    [[remote_nodes.ioc-host-1.fencing]]   # through its BMC, as for full nodes
    agent = "fence_ipmilan"
    [remote_nodes.ioc-host-1.fencing.params]
    ip = "10.0.0.31"
    username = "admin"
    password_script = "/etc/cluster/ipmi-password"

In the CIB each remote node is an ocf:pacemaker:remote connection resource of its name
(server, port, reconnect_interval; run by a full node, moved when that node is lost), a
<node type="remote"> with its attributes, its fence devices and fencing level, and location
rules on Pacemaker's built-in node attribute #kind (remote / cluster) that keep the `agents`'
resources on remote hosts and cluster services on full ones (with resource-discovery never:
not even probed on the other kind).

`ocfgen remote DESCRIPTION -o DIR` writes the shared key DIR/etc/pacemaker/authkey (0400;
install it on every full and remote node as root:haclient 0440: the controller reads it as
hacluster) and DIR/etc/nftables.d/pacemaker-remote.nft, which lets only the full nodes reach
pacemaker_remoted's port on a remote host.
"""

import ipaddress
from dataclasses import dataclass, field

import click

from . import cliopts
from .clirun import (
    BAD_INPUT,
    FAILED,
    CommandFailed,
    description_argument,
    guarded,
    load_description,
)

DEFAULT_AGENTS = ("ocf:ocfpy:epics-ioc",)
PORT = 3121
AUTHKEY = "/etc/pacemaker/authkey"
NFT = "/etc/nftables.d/pacemaker-remote.nft"


@dataclass
class RemoteNode:
    name: str
    address: str
    port: int = PORT
    reconnect_interval: str = "60s"
    attributes: dict = field(default_factory=dict)
    fencing: list = field(default_factory=list)      # model.FenceDevice
    origin: str = ""


@dataclass
class Remote:
    nodes: list = field(default_factory=list)
    agents: tuple = DEFAULT_AGENTS
    monitor: str = "10s"
    connect_timeout: str = "20s"


def read_remote(reader, settings, nodes, full_nodes):
    """The [remote] and [remote_nodes] tables as a Remote (None without remote nodes)."""
    from .description_values import ATTRIBUTE, HOSTNAME
    from .keys import DESCRIPTION  # not at the top: keys.py reads this module's defaults

    table = reader.table(("remote",), settings, DESCRIPTION.allowed("remote"))
    if not nodes:
        if table:
            reader.fail(("remote",), "there are no [remote_nodes.NAME] tables for it")
        return None
    agents = tuple(reader.strings(("remote", "agents"), table.get("agents",
                                                                 list(DEFAULT_AGENTS))))
    port = reader.integer(("remote", "port"), table.get("port", PORT), 1, 65535)
    reconnect = reader.duration(("remote", "reconnect_interval"),
                                table.get("reconnect_interval", "60s"))
    remote = Remote(agents=agents, monitor=reader.duration(("remote", "monitor"),
                                                           table.get("monitor", "10s")),
                    connect_timeout=reader.duration(("remote", "connect_timeout"),
                                                    table.get("connect_timeout", "20s")))
    taken = {n.name for n in full_nodes}
    addresses = {a: n.name for n in full_nodes for a in n.addresses}
    for name, raw in reader.table(("remote_nodes",), nodes).items():
        path = ("remote_nodes", name)
        reader.string(path, name, HOSTNAME, "a host name")
        if name in taken:
            reader.fail(path, f"{name} is already a full node: a host is one or the other")
        # The connection resource carries the node's name: it shares the resource ids.
        reader.claim(path, reader.identifier(path, name))
        spec = reader.table(path, raw, DESCRIPTION.allowed("remote_nodes"))
        if "address" not in spec:
            reader.fail(path, "missing key 'address' (where pacemaker_remoted listens)")
        address = reader.string(path + ("address",), spec["address"])
        try:
            ipaddress.ip_address(address)
        except ValueError:
            reader.fail(path + ("address",), f"{address!r} is not an IP address")
        if address in addresses:
            reader.fail(path + ("address",), f"address {address} is already used by "
                                             f"{addresses[address]}")
        addresses[address] = name
        node = RemoteNode(name, address, origin=reader.where(path),
                          port=reader.integer(path + ("port",), spec.get("port", port), 1, 65535),
                          reconnect_interval=reader.duration(
                              path + ("reconnect_interval",),
                              spec.get("reconnect_interval", reconnect)))
        for attr, value in reader.table(path + ("attributes",),
                                        spec.get("attributes", {})).items():
            where = path + ("attributes", attr)
            reader.string(where, attr, ATTRIBUTE, "an attribute name")
            if attr.startswith("#"):
                reader.fail(where, "names starting with '#' are Pacemaker's built-in node "
                                   "attributes")
            node.attributes[attr] = reader.scalar(where, value)
        if "fencing" in spec:
            from .description_nodes import read_fencing

            node.fencing = read_fencing(reader, path + ("fencing",), spec["fencing"], name)
        remote.nodes.append(node)
    return remote


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

    def nvset(parent, tag, base, values):
        block = E(parent, tag, id=ids(base))
        for name, value in values.items():
            E(block, "nvpair", id=ids(f"{block.get('id')}-{name}"), name=name, value=value)

    nodes, resources = section("nodes"), section("resources")
    for node in remote.nodes:
        entry = E(nodes, "node", id=node.name, uname=node.name, type="remote")
        if node.attributes:
            nvset(entry, "instance_attributes", f"nodes-{node.name}", node.attributes)
        primitive = E(resources, "primitive", {"id": ids.claim(node.name), "class": "ocf",
                                               "provider": "pacemaker", "type": "remote"})
        nvset(primitive, "instance_attributes", f"{node.name}-instance_attributes",
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
            nvset(element, "instance_attributes", f"{device.id}-instance_attributes",
                  device.params)
            ops = E(element, "operations")
            for op in device.ops:
                E(ops, "op", id=ids.claim(op.id), name=op.name, interval=op.interval)
    levels = [(node.name, d.level, d.id) for node in remote.nodes for d in node.fencing]
    if levels:
        topology = section("fencing-topology")
        grouped = {}
        for name, level, did in levels:
            grouped.setdefault((name, level), []).append(did)
        for (name, level), devices in sorted(grouped.items()):
            E(topology, "fencing-level", id=ids(f"fl-{name}-{level}"), target=name,
              index=str(level), devices=",".join(devices))
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
    from .output_files import MARK

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


@click.command("remote")
@description_argument
@cliopts.output_dir(f"DIR{AUTHKEY} and the remote hosts' nftables rules DIR{NFT}",
                    old="--output")
@click.option("--new-key", is_flag=True, help="Replace an existing authkey (every node then "
                                              "needs the new one).")
@cliopts.verify("nft -c -f", "the nftables rules (root)")
@guarded
def cmd(description, output_dir, new_key, verify):
    """Write the pacemaker_remote key and the remote hosts' firewall rules."""
    import os

    from . import hostverify
    from .corosync import write_authkey
    from .output_files import make_directories, under, write_file

    outdir = output_dir
    model = load_description(description)
    if getattr(model, "remote", None) is None:
        raise CommandFailed(BAD_INPUT, f"{description}: nothing to write: the description has no "
                                       f"[remote_nodes.NAME] tables")
    rules = nftables(model)
    passed = hostverify.nft([(NFT.lstrip("/"), rules, 0o644)]) \
        if cliopts.verifying(verify, hostverify.nft_why_not()) else []
    key = under(outdir, AUTHKEY)
    try:
        make_directories(os.path.dirname(key))
        if os.path.exists(key) and not new_key:
            click.echo(f"{key} kept (--new-key replaces it)")
        else:
            write_authkey(key, replace=os.path.exists(key))
            click.echo(f"{key} written (0400)")
        write_file(under(outdir, NFT), rules)
        click.echo(f"{under(outdir, NFT)} written")
    except OSError as exc:
        raise CommandFailed(FAILED, f"remote: {exc.filename or outdir}: {exc.strerror}") from None
    cliopts.verified((under(outdir, path), tool) for path, tool in passed)
