"""corosync's input and its rules across a nodelist: what a cluster description's corosync
settings become (model/corosync_map.py), what the corosync renderer (render/corosync.py) takes.

Three small dataclasses; each carries an optional `origin` ("cluster.toml:12", "node n2") that
prefixes its validation errors so they point back into the description the user wrote. The
node rules (`Nodelist`, `links_problem`, `two_node_problem`) are checked in one place, by the
description reader and by the renderer's validate().
"""

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

DEFAULT_LOGFILE = "/var/log/corosync/corosync.log"
CIPHERS = ("aes256", "aes192", "aes128")
HASHES = ("sha256", "sha384", "sha512", "sha1", "md5")
QDEVICE_ALGORITHMS = ("ffsplit", "lms")
MAX_LINKS = 2
MAX_NODEID = 2**32 - 1


@dataclass
class CorosyncNode:
    """One cluster node: the id and name Pacemaker's CIB uses, and its ring addresses.

    addresses: one or two IP addresses (ring0_addr, ring1_addr), each on its knet link.
    """

    nodeid: int
    name: str
    addresses: Sequence[str]
    origin: str = ""


@dataclass
class QuorumDevice:
    """An optional corosync-qnetd arbiter (model net)."""

    host: str
    algorithm: str = "ffsplit"
    origin: str = ""


@dataclass
class CorosyncCluster:
    """The cluster-wide settings and the nodelist.

    crypto: True (default) sets crypto_cipher/crypto_hash; False turns encryption and
      authentication off, which `render` accepts only with a warning in its result.
    token, consensus: totem timeouts in ms; consensus None lets corosync use 1.2 * token.
    token_coefficient: ms corosync adds to the token per node above two (None: its default,
      650); the token corosync runs with is token + (nodes - 2) * token_coefficient.
    two_node: None decides from the node count; True for anything but two nodes is an error.
    wait_for_all: votequorum's wait_for_all (None: corosync's default, which two_node turns
      on; False with two_node writes wait_for_all: 0).
    link_priorities: knet_link_priority per link (passive mode: the highest number wins).
    keyfile: authkey path written into totem (None: corosync's default /etc/corosync/authkey).
    """

    name: str
    nodes: Sequence[CorosyncNode]
    crypto: bool = True
    cipher: str = "aes256"
    hash: str = "sha256"
    token: int = 3000
    token_coefficient: Optional[int] = None
    consensus: Optional[int] = None
    two_node: Optional[bool] = None
    wait_for_all: Optional[bool] = None
    link_priorities: Sequence[int] = ()
    qdevice: Optional[QuorumDevice] = None
    keyfile: Optional[str] = None
    logfile: str = DEFAULT_LOGFILE
    debug: bool = False
    origin: str = ""


class Nodelist:
    """corosync's rules across the nodes of one nodelist, the one place they are checked: the
    description reader (which locates each why at the key written, nodes.n2.id) and validate()
    (at the node's origin) both add the nodes in nodelist order. Each method returns why the
    node breaks the rule, '' when it does not, and remembers what it accepted."""

    def __init__(self):
        self.ids, self.names, self.addresses = {}, {}, {}

    def nodeid(self, name, nodeid):
        if nodeid in self.ids:
            return f"node id {nodeid} is already used by node {self.ids[nodeid]}"
        self.ids[nodeid] = name
        return ""

    def name(self, name, nodeid):
        if name in self.names:
            return f"node name {name!r} is already used by node id {self.names[name]}"
        self.names[name] = nodeid
        return ""

    @staticmethod
    def ring_count(addresses):
        if isinstance(addresses, str) or not addresses:
            return "has no ring addresses: corosync needs one for every node (one per knet link)"
        if len(addresses) > MAX_LINKS:
            return "a node has one or two ring addresses (one per knet link)"
        return ""

    def address(self, name, address):
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return f"{address!r} is not an IP address"
        if parsed in self.addresses:
            return f"address {address} is already used by node {self.addresses[parsed]}"
        self.addresses[parsed] = name
        return ""


def links_problem(nodes):
    """(node name, why) of the first node that breaks the rule that every node has a ring
    address on each link, or None; `nodes` is (name, addresses) pairs in nodelist order."""
    with_addresses = [(name, addresses) for name, addresses in nodes if addresses]
    if not with_addresses:
        return None
    if len(with_addresses) != len(nodes):
        missing = next(name for name, addresses in nodes if not addresses)
        return missing, ("has no addresses while other nodes have: corosync needs a ring "
                         "address for every node")
    first, links = with_addresses[0][0], len(with_addresses[0][1])
    for name, addresses in with_addresses:
        if len(addresses) != links:
            return name, (f"{len(addresses)} ring addresses, node {first} has {links}: every "
                          f"node needs one on each link")
    return None


def two_node_problem(two_node, count):
    """Why two_node cannot be set for `count` nodes, or ''."""
    if two_node and count != 2:
        return f"two_node is set but the cluster has {count} node(s), not two"
    return ""
