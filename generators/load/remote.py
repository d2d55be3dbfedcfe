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
    from .keys import DESCRIPTION  # not at the top: keys.py reads this module's defaults
    from .values import ATTRIBUTE, HOSTNAME

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
            from .nodes import read_fencing

            node.fencing = read_fencing(reader, path + ("fencing",), spec["fencing"], name)
        remote.nodes.append(node)
    return remote
