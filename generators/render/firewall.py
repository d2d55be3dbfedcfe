"""An nftables ruleset per node that opens exactly what the described cluster uses.

The ACS paper reports sites turning firewalls off because nobody could say which ports ACS
needs; ocfgen can, because it knows the services. Input: NodeFirewall, a list of Opening (what
one service needs: protocol, ports, who may connect). The helpers below build the openings of
each service kind from its documented ports (docs/services.md, corosync's knet defaults).
Output: the text of a `nft -f` file. Nothing here reads or writes files.

The ruleset lives in its own table (`inet ocfpy`), replaced as a whole on every load (the
`table`/`delete table` pair makes a reload atomic and idempotent). Its input chain drops what it
does not accept; established traffic, loopback and ICMP pass. Another table with its own drop
policy (firewalld, a site ruleset) still applies: a packet must be accepted by every base chain.
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Union

from ocfpy import __version__

from ..model.hosts import PROTOCOLS
from .output_files import MARK

# corosync 3 with knet: link N listens on UDP 5405 + N unless mcastport is set (totemconfig.c).
COROSYNC_KNET_PORT = 5405
PACEMAKER_REMOTE_PORT = 3121
PCSD_PORT = 2224
# ACS ports come from the ACS agents' own table (ocfpy.agents.acs_env), never listed twice.
EPICS_CA_SERVER_PORT = 5064
EPICS_CA_REPEATER_PORT = 5065
EPICS_PVA_SERVER_PORT = 5075
EPICS_PVA_BROADCAST_PORT = 5076
ARCHIVER_HTTP_PORTS = {"mgmt": 17665, "engine": 17666, "etl": 17667, "retrieval": 17668}
ARCHIVER_CLUSTER_PORT = 16670
DUCC_BROKER_PORT = 61617
DUCC_WS_PORT = 42133

Port = Union[int, tuple[int, int]]
_TEXT = re.compile(r"^[A-Za-z0-9 _.,:/@()+=-]*$")


class FirewallError(ValueError):
    """An opening that cannot be written soundly; the message names the service and why."""


@dataclass(frozen=True)
class Opening:
    """What one service needs from the network.

    service: what it is for (becomes the rule's comment); protocol: tcp, udp or vrrp;
    ports: single ports or (first, last) ranges (none for vrrp); sources: addresses or networks
    allowed to connect (empty: anyone); loopback_only: the service listens on 127.0.0.1 only, so
    nothing is opened for it beyond loopback (kept in the ruleset as a comment); source_port:
    match the packets' source port instead of the destination (answers that conntrack cannot
    pair with a request, such as replies to a broadcast Channel Access search).
    """

    service: str
    protocol: str
    ports: tuple[Port, ...] = ()
    sources: tuple[str, ...] = ()
    loopback_only: bool = False
    source_port: bool = False


@dataclass(frozen=True)
class NodeFirewall:
    """One node's ruleset. admin_ports stay open (ssh by default) from admin_sources (empty:
    anyone), so loading the ruleset never locks its administrators out."""

    node: str
    openings: tuple[Opening, ...]
    admin_ports: tuple[int, ...] = (22,)
    admin_sources: tuple[str, ...] = ()
    table: str = "ocfpy"


# The openings of each kind of service.

def corosync(peers, links=1, port=COROSYNC_KNET_PORT):
    """corosync knet between the cluster nodes: UDP port + link for each link."""
    return Opening("corosync knet", "udp", tuple(port + link for link in range(links)),
                   tuple(peers))


def pacemaker_remote(peers):
    return Opening("pacemaker-remote", "tcp", (PACEMAKER_REMOTE_PORT,), tuple(peers))


def pcsd(peers):
    return Opening("pcsd", "tcp", (PCSD_PORT,), tuple(peers))


def acs_instance(instance, sources=()):
    """ACS instance N: the manager and ORB services at 3000 + 100 N + offsets, and the
    containers' range, as the ACS agents know them."""
    from ocfpy.agents import acs_env

    if isinstance(instance, bool) or not isinstance(instance, int) or not (
            0 <= instance <= acs_env.MAX_INSTANCE):
        raise FirewallError(f"ACS instance must be 0-{acs_env.MAX_INSTANCE}, not {instance!r}")
    return Opening(f"ACS instance {instance}", "tcp", tuple(acs_env.port_ranges(instance)),
                   tuple(sources))


def acs_daemons(sources=()):
    from ocfpy.agents import acs_env

    return Opening("ACS container and services daemons", "tcp",
                   tuple(sorted(acs_env.DAEMON_PORTS.values())), tuple(sources))


def epics_ca(sources=(), server_port=EPICS_CA_SERVER_PORT, repeater_port=EPICS_CA_REPEATER_PORT,
             client=False):
    """Channel Access: server TCP and UDP search on 5064, beacons to the repeater on UDP 5065.
    A node that is also a CA client searching by broadcast (an archiver, a gateway) gets the
    servers' UDP replies, which come from 5064 and which conntrack cannot tie to the
    broadcast they answer."""
    openings = (Opening("EPICS CA server", "tcp", (server_port,), tuple(sources)),
                Opening("EPICS CA search", "udp", (server_port,), tuple(sources)),
                Opening("EPICS CA repeater (beacons)", "udp", (repeater_port,), tuple(sources)))
    if client:
        openings += (Opening("EPICS CA search replies", "udp", (server_port,), tuple(sources),
                             source_port=True),)
    return openings


def epics_ioc_servers(sources=(), ca_port=EPICS_CA_SERVER_PORT, pva_port=EPICS_PVA_SERVER_PORT):
    """One IOC's servers: Channel Access on ca_port (TCP circuits and UDP searches; the IOC's
    EPICS_CAS_SERVER_PORT), pvAccess on pva_port (TCP, EPICS_PVAS_SERVER_PORT) with its UDP
    searches on the broadcast port every pvAccess server on a host shares."""
    return (Opening(f"EPICS CA server {ca_port}", "tcp", (ca_port,), tuple(sources)),
            Opening(f"EPICS CA search {ca_port}", "udp", (ca_port,), tuple(sources)),
            Opening(f"EPICS PVA server {pva_port}", "tcp", (pva_port,), tuple(sources)),
            Opening("EPICS PVA search", "udp", (EPICS_PVA_BROADCAST_PORT,), tuple(sources)))


def ioc_openings(iocs, sources=()):
    """The openings of the IOC resources `iocs` (model Primitives of ocf:ocfpy:epics-ioc).

    Each IOC is reached on the ports the agent binds its servers to (the one rule both follow:
    agents.epics_ioc.server_endpoints). CA servers on one host share the UDP search port, but a
    TCP port serves one of them only: the next one serves on a random port no rule can name.
    So every IOC without an address of its own needs ports of its own, distinct from those of
    every other IOC (an IOC bound to its own address still holds its port on the node's
    wildcard address); that is checked here, naming both IOCs. Consoles are on loopback or unix
    sockets, whatever the IOC's address (agents.procserv.console_of): nothing is opened.
    """
    from ocfpy.agents.epics_ioc import server_endpoints
    from ocfpy.agents.procserv import console_of

    openings, keys = [], set()
    used = {}  # (protocol word, port) -> (IOC id, has an address of its own)
    for ioc in iocs:
        where = ioc.origin or ioc.id
        address, ca_port, pva_port = server_endpoints(ioc.params)
        for word, port in (("Channel Access", ca_port), ("pvAccess", pva_port)):
            other = used.get((word, port))
            if other is not None and not (address and other[1]):
                raise FirewallError(
                    f"{where}: {ioc.id} and {other[0]} both serve {word} on port {port}, and "
                    f"{'they do not' if not address and not other[1] else 'not both'} have an "
                    f"address of their own: on one node the second would serve on a random TCP "
                    f"port that no rule opens; give each IOC an `address` or its own "
                    f"{'ca_port' if word == 'Channel Access' else 'pva_port'}")
            used.setdefault((word, port), (ioc.id, bool(address)))
        for opening in epics_ioc_servers(sources, ca_port, pva_port):
            key = (opening.protocol, opening.ports)
            if key not in keys:
                keys.add(key)
                openings.append(opening)
        try:
            kind, _, port = console_of(ioc.params.get("console", ""), ioc.id)
        except ValueError as exc:
            raise FirewallError(f"{where}: console {exc}") from None
        if kind == "tcp":
            openings.append(procserv_console(ioc.id, port))
    # Beacons to the CA repeater: for CA clients on this node (the archiver, a gateway).
    openings.append(Opening("EPICS CA repeater (beacons)", "udp", (EPICS_CA_REPEATER_PORT,),
                            tuple(sources)))
    return tuple(openings)


def procserv_console(name, port):
    """A procServ console on a TCP port: procServ binds it to 127.0.0.1 whatever address it is
    given, so nothing is opened (the ruleset says so in a comment)."""
    return Opening(f"procServ console {name}", "tcp", (port,), loopback_only=True)


def archiver(sources=(), appliances=(), webapps=("mgmt", "retrieval"), ports=None,
             name="archiver appliance"):
    """EPICS Archiver Appliance: the webapps' HTTP ports for clients, the cluster port between
    appliances (and every webapp port too, which the appliances call among themselves).
    ports: {webapp: port} of this appliance (default: the documented ones)."""
    ports = dict(ARCHIVER_HTTP_PORTS, **(ports or {}))
    openings = [Opening(f"{name} HTTP", "tcp", tuple(ports[w] for w in webapps),
                        tuple(sources))]
    if appliances:
        openings.append(Opening(f"{name} cluster", "tcp",
                                (ARCHIVER_CLUSTER_PORT, *ports.values()), tuple(appliances)))
    return tuple(openings)


def archiver_ports(params):
    """{webapp: port} of an ocf:ocfpy:archiver resource's parameters."""
    return {app: int(params.get(f"{app}_port") or default)
            for app, default in ARCHIVER_HTTP_PORTS.items()}


def ducc(broker_sources=(), ws_sources=(), broker_port=DUCC_BROKER_PORT, ws_port=DUCC_WS_PORT):
    return (Opening("DUCC broker", "tcp", (broker_port,), tuple(broker_sources)),
            Opening("DUCC web server", "tcp", (ws_port,), tuple(ws_sources)))


def vrrp(peers):
    """keepalived's VRRP advertisements, from the pair's other node only."""
    return Opening("VRRP (keepalived)", "vrrp", (), tuple(peers))


# Rendering.

def _intervals(ports, where):
    """Ports and ranges as sorted, merged (first, last) intervals (nft refuses overlaps)."""
    spans = []
    for port in ports:
        first, last = (port, port) if isinstance(port, int) else tuple(port)
        for value in (first, last):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise FirewallError(f"{where}: port {value!r} is not 1-65535")
        if first > last:
            raise FirewallError(f"{where}: range {first}-{last} runs backwards")
        spans.append((first, last))
    merged = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def _port_expression(intervals):
    words = [str(a) if a == b else f"{a}-{b}" for a, b in intervals]
    return words[0] if len(words) == 1 else "{ " + ", ".join(words) + " }"


def _sources(sources, where):
    """(IPv4, IPv6) sources as set elements, overlaps collapsed (nft refuses overlapping
    intervals: 192.0.2.31 inside 192.0.2.0/24 is covered by the network)."""
    networks = []
    for source in sources:
        try:
            networks.append(ipaddress.ip_network(source, strict=False))
        except ValueError:
            raise FirewallError(f"{where}: source {source!r} is not an address or network") from None
    out = []
    for version in (4, 6):
        family = sorted({n for n in networks if n.version == version})
        kept = [n for n in family if not any(n != m and n.subnet_of(m) for m in family)]
        out.append([str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)
                    for n in kept])
    return out[0], out[1]


def _set(items):
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _rules(opening):
    where = f"opening {opening.service!r}"
    if not opening.service or not _TEXT.match(opening.service) or len(opening.service) > 100:
        raise FirewallError(f"{where}: the service name must be short plain text")
    if opening.protocol not in PROTOCOLS:
        raise FirewallError(f"{where}: protocol {opening.protocol!r} is not one of {PROTOCOLS}")
    comment = f'comment "{opening.service}"'
    if opening.protocol == "vrrp":
        if opening.ports:
            raise FirewallError(f"{where}: VRRP has no ports")
        if not opening.sources:
            raise FirewallError(f"{where}: VRRP must name the peer it comes from")
        v4, v6 = _sources(opening.sources, where)
        rules = [f"ip saddr {_set(v4)} ip protocol vrrp accept {comment}"] if v4 else []
        rules += [f"ip6 saddr {_set(v6)} meta l4proto vrrp accept {comment}"] if v6 else []
        return rules
    if not opening.ports:
        raise FirewallError(f"{where}: no ports")
    direction = "sport" if opening.source_port else "dport"
    match = f"{opening.protocol} {direction} {_port_expression(_intervals(opening.ports, where))}"
    if opening.loopback_only:
        return [f"# {opening.service}: {match} listens on loopback only; nothing opened"]
    if not opening.sources:
        return [f"{match} accept {comment}"]
    v4, v6 = _sources(opening.sources, where)
    rules = [f"ip saddr {_set(v4)} {match} accept {comment}"] if v4 else []
    rules += [f"ip6 saddr {_set(v6)} {match} accept {comment}"] if v6 else []
    return rules


def render(firewall):
    """The nft -f text of `firewall`. Raises FirewallError naming the opening at fault."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,31}$", firewall.table):
        raise FirewallError(f"table name {firewall.table!r} is not an nftables identifier")
    admin = Opening("administration (ssh)", "tcp", tuple(firewall.admin_ports),
                    tuple(firewall.admin_sources))
    body = []
    if firewall.admin_ports:
        body += _rules(admin)
    for opening in firewall.openings:
        body += _rules(opening)
    table = f"inet {firewall.table}"
    lines = [
        "#!/usr/sbin/nft -f",
        f"# Firewall of {firewall.node}: generated by ocfgen {__version__}; do not edit. {MARK}",
        "# Opens what the cluster description uses and drops the rest of the inbound traffic.",
        f"table {table}",
        f"delete table {table}",
        f"table {table} {{",
        "    chain input {",
        "        type filter hook input priority filter; policy drop;",
        "        ct state established,related accept",
        "        ct state invalid drop",
        '        iifname "lo" accept',
        "        meta l4proto { icmp, ipv6-icmp } accept",
    ]
    lines += [f"        {rule}" for rule in body]
    lines += ["    }", "}"]
    return "\n".join(lines) + "\n"


def firewall_from_model(cluster, outputs, node):
    """The NodeFirewall of `node` for a description (model.Cluster) and its host outputs
    (load/hosts.HostOutputs).

    Resources may fail over to any node, so every node opens the ports of every resource;
    cluster-internal traffic (corosync, pacemaker-remote, archiver cluster, VRRP) is admitted
    from the cluster's own addresses only, services from [firewall] clients (anyone if empty).
    """
    names = [n.name for n in cluster.nodes]
    if node not in names:
        raise FirewallError(f"{node!r} is not a node of the description ({', '.join(names)})")
    settings = outputs.firewall
    addresses = [a for n in cluster.nodes for a in n.addresses]
    clients = tuple(settings.clients)
    openings = [corosync(addresses, links=max((len(n.addresses) for n in cluster.nodes),
                                              default=1))]
    seen = set()
    iocs = []
    # Appliances with an address of their own call each other there.
    appliance_addresses = [p.params["http_host"] for p in cluster.primitives
                           if p.agent == "ocf:ocfpy:archiver" and getattr(p, "address", "")]

    def add(key, made):
        if key not in seen:
            seen.add(key)
            openings.extend(made if isinstance(made, tuple) else (made,))

    for primitive in cluster.primitives:
        agent, params = primitive.agent, primitive.params
        if agent == "ocf:pacemaker:remote" or "remote-node" in primitive.meta:
            add("remote", pacemaker_remote(addresses))
        elif agent in ("ocf:ocfpy:acs-services", "ocf:ocfpy:acs-container"):
            instance = params.get("instance", "0")
            if not instance.isdigit():
                raise FirewallError(f"{primitive.origin or primitive.id}: ACS instance "
                                    f"{instance!r} is not a number")
            add(("acs", int(instance)), acs_instance(int(instance), clients))
        elif agent == "ocf:ocfpy:epics-ioc":
            iocs.append(primitive)
        elif agent == "ocf:ocfpy:archiver":
            # Every appliance's own ports: a second appliance on 17675-17678 is reached there.
            ports = archiver_ports(params)
            add(("archiver", tuple(sorted(ports.items()))),
                archiver(clients, appliances=addresses + appliance_addresses, ports=ports,
                         name=f"archiver {primitive.id}"))
            # The engine is a CA client: the servers' replies to its broadcast searches.
            add("ca-client", epics_ca(clients, client=True)[-1])
        elif agent == "ocf:ocfpy:ducc-head":
            add("ducc", ducc(tuple(addresses) + clients if clients else (), clients))
    if iocs:
        add("iocs", ioc_openings(iocs, clients))
    if settings.acs_daemons:
        add("acs-daemons", acs_daemons(clients))
    for pair in outputs.pairs:
        if node in pair.priorities:
            peers = [a for n in cluster.nodes if n.name in pair.priorities and n.name != node
                     for a in n.addresses[:1]]
            add(("vrrp", pair.name), vrrp(peers))
    for extra in settings.extra:
        opening = Opening(extra.service, extra.protocol, extra.ports, extra.sources)
        try:
            _rules(opening)
        except FirewallError as exc:
            raise FirewallError(f"{extra.where.at()}: {exc}") from None
        openings.append(opening)
    return NodeFirewall(node, tuple(openings), admin_ports=tuple(settings.admin_ports),
                        admin_sources=tuple(settings.admin))
