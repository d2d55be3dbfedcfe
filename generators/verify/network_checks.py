"""Network sanity of a description: every address a resource or a keepalived instance uses lies
on a subnet the cluster's hosts are on, and each address has one manager.

Which prefixes a description knows. Ring addresses (`[nodes.X] addresses`) and remote nodes'
addresses (`[remote_nodes.X] address`) carry none: corosync and pacemaker_remote need none. A
prefix comes only with an address that is put on an interface: an IPaddr2's `cidr_netmask`
(IPaddr2 takes a prefix length, never a dotted netmask), a resource's `address = "IP/N"`, a
ducc-head's `vip_prefix` (with `vip_interface`, the agent adds the VIP itself) and a keepalived
`vip = "IP/N"`. A /32 (/128) prefix says nothing about the subnet and counts as none.

The rule, for each address A of a resource (IPaddr2 / IPaddr `ip`, ducc-head `vip`, epics-ioc
`address`, archiver `http_host` and ACS `host` when they are IP addresses other than loopback;
see ADDRESS_PARAMS):
- with a prefix N: the subnet A/N must hold some host address (a ring address of a node, or a
  remote node's address): A then is on that host's ring, with N saying how large the ring's
  subnet is. A resource that names its interface (IPaddr2 `nic`, ducc-head `vip_interface`) is
  taken at its word: the description says the subnet A/N is on that interface of the nodes.
- without a prefix: A must lie in a known subnet: a ring's subnet (sized by any prefixed
  address above that holds one of its addresses, else ASSUMED: /24 for IPv4, /64 for IPv6), or
  the subnet A/N of an address that names its interface. A site whose ring subnet is larger
  than /24 says so by giving a prefix to one address on it (cidr_netmask = 16).
- a keepalived instance puts its VIP on `interface`, whose own address is the peer's ring0
  address (keepalived.pairs_from_model makes it the unicast source): `vip` (IP/N) must hold the
  ring0 address of both peers.
Without any host address (nodes without ring addresses, no remote nodes) the description says
nothing about the networks: no subnet check is made.

One manager per address: Pacemaker manages the `ip` of IPaddr2 / IPaddr resources and a
ducc-head's `vip` when it has a `vip_interface`; keepalived manages each instance's `vip`. An
address managed twice (two resources, a resource and a keepalived instance, two keepalived
instances) or also a host's own address is refused, naming both places. An address only used
(an IOC's `address` parameter, a ducc-head `vip` without `vip_interface`, which observes the
address keepalived or an IPaddr2 moves) has no manager of its own.

`check(reader, cluster)` runs on the description alone (the loader calls it through
crosschecks, so every command sees it); `hosts_problems(cluster, outputs)` is the keepalived
side, run wherever the hosts file is loaded with its description (units, keepalived, firewall;
check with the hosts file). Both report located lines: `file:line: key.path: reason`.
"""

import contextlib
import ipaddress
from dataclasses import dataclass
from typing import Optional

from ..load.addresses import ADDRESSED
from .crosschecks import ADDRESS_AGENTS

# The parameters that hold an address a resource uses, by agent (ADDRESSED's are set from a
# resource's `address` key too).
ADDRESS_PARAMS = {**{agent: "ip" for agent in ADDRESS_AGENTS}, **ADDRESSED,
                  "ocf:ocfpy:ducc-head": "vip", "ocf:ocfpy:acs-services": "host",
                  "ocf:ocfpy:acs-container": "host"}
# The prefix assumed for a ring's subnet when nothing in the description gives one.
ASSUMED = {4: 24, 6: 64}


@dataclass
class Use:
    """One address a resource uses: its prefix and interface when given, whether it manages
    the address (adds and removes it), where it is in the description."""

    address: object                      # ipaddress.IPv4Address / IPv6Address
    prefix: Optional[int]
    interface: str
    managed: bool
    path: tuple                          # key path, for reader.fail
    place: str                           # "resource vip (ocf:heartbeat:IPaddr2) at f.toml:12"

    @property
    def network(self):
        if self.prefix is None or self.prefix == self.address.max_prefixlen:
            return None
        return ipaddress.ip_network(f"{self.address}/{self.prefix}", strict=False)


def _one(reader):
    """Report what goes wrong with one address and go on with the next, where the reader
    collects errors (a reader without `collect` stops at the first)."""
    collect = getattr(reader, "collect", None)
    return collect() if collect else contextlib.nullcontext()


def _ip(text):
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None


def _at(origin):
    """'f.toml:12' of an origin 'f.toml:12: resources.x'."""
    return origin.split(": ", 1)[0]


def hosts(cluster):
    """[(address, what)] of every host: ring addresses of nodes, remote nodes' addresses."""
    found = [(_ip(a), f"{n.name} ring{i}") for n in cluster.nodes for i, a in
             enumerate(n.addresses)]
    remote = getattr(cluster.remote, "nodes", None) or ()
    found += [(_ip(r.address), f"remote node {r.name}") for r in remote]
    return [(a, what) for a, what in found if a is not None]


def _path(reader, prim, key):
    """The key path of parameter `key` of `prim`: the resource's params, or the `address`
    key of the resource a generated IPaddr2 was made for."""
    defined = getattr(reader, "ids", {}).get(prim.id, ("resources", prim.id))
    if defined != ("resources", prim.id):
        return tuple(defined)
    return ("resources", prim.id, "params", key)


def uses(cluster, reader=None):
    """The Use of every address a resource's parameters name; `reader.fail` hears about a
    prefix that is no prefix."""
    found = []
    for prim in cluster.primitives:
        key = ADDRESS_PARAMS.get(prim.agent)
        if key is None or (prim.address and prim.agent in ADDRESSED):
            continue   # an own `address` is the IPaddr2 made for it, checked as that
        path = _path(reader, prim, key)
        address = _ip(prim.params.get(key, ""))
        if address is None and prim.agent in ADDRESS_AGENTS and prim.params.get(key) and (
                reader is not None):
            with _one(reader):
                reader.fail(path, f"{prim.params.get(key, '')!r} is not an IP address")
        if address is None or address.is_loopback or address.is_unspecified:
            continue   # a host name, empty, or this host only
        prefix, interface, managed = None, "", False
        if prim.agent in ADDRESS_AGENTS:
            managed, interface = True, prim.params.get("nic", "").split(":")[0]
            mask = prim.params.get("cidr_netmask", "").strip()
            if mask:
                if mask.isdigit() and 1 <= int(mask) <= address.max_prefixlen:
                    prefix = int(mask)
                elif reader is not None:
                    with _one(reader):
                        reader.fail(path[:-1] + ("cidr_netmask",) if path[-1] == key else path,
                                    f"cidr_netmask {mask!r} is not a prefix length 1-"
                                    f"{address.max_prefixlen} (IPaddr2 takes 24, not "
                                    f"255.255.255.0)")
        elif prim.agent == "ocf:ocfpy:ducc-head" and prim.params.get("vip_interface"):
            managed, interface = True, prim.params["vip_interface"]
            mask = prim.params.get("vip_prefix", "")
            prefix = int(mask) if mask.isdigit() else None
        place = f"resource {prim.id} ({prim.agent}) at {_at(prim.origin)}"
        found.append(Use(address, prefix, interface, managed, path, place))
    return found


def _subnets(host_list, known):
    """The subnets of the hosts: for each host address, every prefixed subnet in `known` that
    holds it, else its ASSUMED one. [(network, why)]."""
    out = []
    for address, what in host_list:
        sized = [n for n in known if address in n]
        if sized:
            out += [(n, f"{what} {address}") for n in sized]
        else:
            prefix = ASSUMED[address.version]
            out.append((ipaddress.ip_network(f"{address}/{prefix}", strict=False),
                        f"{what} {address}, /{prefix} assumed"))
    return out


def _names(subnets, limit=4):
    """The subnets, each once (named by the first host or interface on it)."""
    first = {}
    for network, why in subnets:
        first.setdefault(network, why)
    shown = [f"{n} ({why})" for n, why in list(first.items())[:limit]]
    more = f" and {len(first) - limit} more" if len(first) > limit else ""
    return ", ".join(shown) + more


def check(reader, cluster):
    """Every resource address on a subnet of the hosts, one manager per address."""
    found = uses(cluster, reader)
    host_list = hosts(cluster)
    owners = {address: what for address, what in host_list}
    managers = {}
    for use in found:
        if use.managed:
            with _one(reader):
                _one_manager(reader, use, owners, managers)
    if not host_list:
        return
    declared = [u.network for u in found if u.network is not None]
    anchored = [n for n in declared if any(a in n for a, _ in host_list)]
    named = [(u.network, f"interface {u.interface} named by {u.place}") for u in found
             if u.network is not None and u.interface]
    subnets = _subnets(host_list, anchored)
    for use in found:
        with _one(reader):
            _on_subnet(reader, use, host_list, anchored, subnets + named)


def _one_manager(reader, use, owners, managers):
    if use.address in owners:
        reader.fail(use.path, f"{use.address} is the address of {owners[use.address]}: a "
                              f"resource that moves it takes it from that host")
    elif use.address in managers:
        other = managers[use.address]
        reader.fail(use.path, f"{use.address} is also managed by {other.place}: two resources "
                              f"would add and remove one address")
    else:
        managers[use.address] = use


def _on_subnet(reader, use, host_list, anchored, subnets):
    network = use.network
    if network is not None:
        if not use.interface and network not in anchored:
            hosts_text = ", ".join(f"{w} {a}" for a, w in host_list[:6])
            reader.fail(use.path, f"{use.address}/{use.prefix} is on no host's subnet: no host "
                                  f"has an address in {network} ({hosts_text}); put it on a "
                                  f"ring's subnet, or name the interface that carries {network} "
                                  f"(IPaddr2 nic)")
    elif not any(use.address in n for n, _ in subnets):
        reader.fail(use.path, f"{use.address} is on no subnet of the cluster: {_names(subnets)};"
                              f" give its prefix if a ring's subnet is larger (cidr_netmask), or "
                              f"name the interface that carries it (nic with cidr_netmask)")


def hosts_problems(cluster, outputs):
    """Located lines (in the hosts file) of keepalived instances whose VIP is off its peers'
    subnet or managed by someone else too; empty when all is well."""
    problems = []
    managed = {u.address: f"Pacemaker: {u.place}" for u in uses(cluster) if u.managed}
    owners = dict(hosts(cluster))
    nodes = {n.name: n for n in cluster.nodes}
    for pair in outputs.pairs:
        where = pair.where.at("vip")
        try:
            vip = ipaddress.ip_interface(pair.vip.strip())
        except ValueError:
            continue   # keepalived.check says why
        address = vip.ip
        if address in managed:
            problems.append(f"{where}: {address} is also managed by {managed[address]}; "
                            f"the two would each add and remove it behind the other's back: "
                            f"keep one of them")
        elif address in owners:
            problems.append(f"{where}: {address} is the address of {owners[address]}")
        else:
            managed[address] = f"keepalived instance {pair.name} at {_at(where)}"
        peers = [(name, nodes[name].addresses[0]) for name in pair.priorities
                 if name in nodes and nodes[name].addresses]
        if "/" not in pair.vip or vip.network.prefixlen == address.max_prefixlen:
            subnets = _subnets([(_ip(a), f"{name} ring0") for name, a in peers], [])
            if peers and not any(address in n for n, _ in subnets):
                problems.append(f"{where}: {address} is on no subnet of its peers: "
                                f"{_names(subnets)}; give the vip the prefix of "
                                f"interface {_interfaces(pair)}")
            continue
        off = [f"{name} {a}" for name, a in peers if _ip(a) not in vip.network]
        if off:
            problems.append(f"{where}: {vip} is not the subnet of interface "
                            f"{_interfaces(pair)}: the peers' ring0 addresses (keepalived's "
                            f"unicast sources there) {', '.join(off)} are not in {vip.network}")
    return problems


def _interfaces(pair):
    return ", ".join(sorted(set(pair.interfaces.values())))
