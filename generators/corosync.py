"""corosync.conf from a small cluster description, and the cluster's authkey.

A pure renderer: `render(CorosyncCluster(...))` validates the input and returns the file's text
plus warnings; it prints nothing and writes nothing. The same text serves every node (corosync
finds its own entry in the nodelist by the host's addresses). `write_authkey(path)` is the one
function here that touches the file system.

The input is three small dataclasses. A richer cluster description (ocfgen's model) maps onto
them; each carries an optional `origin` ("cluster.toml:12", "node n2") that prefixes its
validation errors so they point back into the description the user wrote.

    cluster = CorosyncCluster(
        name="ioc-cluster",
        nodes=[CorosyncNode(1, "n1", ("192.0.2.1",)), CorosyncNode(2, "n2", ("192.0.2.2",))],
    )
    result = render(cluster)        # result.text, result.warnings
"""

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

DEFAULT_LOGFILE = "/var/log/corosync/corosync.log"
AUTHKEY_BYTES = 256  # what corosync-keygen writes by default
CIPHERS = ("aes256", "aes192", "aes128")
HASHES = ("sha256", "sha384", "sha512", "sha1", "md5")
QDEVICE_ALGORITHMS = ("ffsplit", "lms")
MAX_LINKS = 2
MAX_NODEID = 2**32 - 1


class CorosyncConfigError(ValueError):
    """A description corosync cannot run from; the message is one line naming the culprit."""


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


@dataclass
class Rendered:
    text: str
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _fail(origin, message):
    raise CorosyncConfigError(f"{origin}: {message}" if origin else message)


def _positive_int(value, what, origin, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (
            maximum is not None and value > maximum):
        bound = f" and at most {maximum}" if maximum is not None else ""
        _fail(origin, f"{what} must be an integer of at least 1{bound}, not {value!r}")


def _token(value, what, origin):
    """Names and keys go into corosync's own syntax: no spaces, braces, colons or '#'."""
    if not isinstance(value, str) or not value or any(c in value for c in " \t\n{}:#\"'"):
        _fail(origin, f"{what} {value!r} must be a non-empty word without spaces, braces, "
                      f"colons, quotes or '#'")


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


def validate(cluster):
    """Raise CorosyncConfigError for the first problem found; return the warnings otherwise."""
    origin = cluster.origin
    _token(cluster.name, "cluster name", origin)
    if len(cluster.name) > 32:
        # corosync derives the knet cluster id from it; pcs and crmsh cap it at 32 characters.
        _fail(origin, f"cluster name {cluster.name!r} is longer than 32 characters")
    if not cluster.nodes:
        _fail(origin, "the cluster has no nodes")
    nodelist = Nodelist()
    for index, node in enumerate(cluster.nodes):
        where = node.origin or f"node {index + 1}"
        _positive_int(node.nodeid, "nodeid", where, MAX_NODEID)
        _token(node.name, "node name", where)
        problem = (nodelist.nodeid(node.name, node.nodeid) or
                   nodelist.name(node.name, node.nodeid) or nodelist.ring_count(node.addresses))
        if problem:
            _fail(where, f"node {node.name}: {problem}")
        for ring, address in enumerate(node.addresses):
            problem = nodelist.address(node.name, address)
            if problem:
                _fail(where, f"ring{ring}_addr of node {node.name}: {problem}")
    odd = links_problem([(node.name, node.addresses) for node in cluster.nodes])
    if odd:
        index = next(i for i, node in enumerate(cluster.nodes) if node.name == odd[0])
        _fail(cluster.nodes[index].origin or f"node {index + 1}", f"node {odd[0]}: {odd[1]}")
    links = len(cluster.nodes[0].addresses)
    _positive_int(cluster.token, "totem token", origin)
    if cluster.token_coefficient is not None and (
            isinstance(cluster.token_coefficient, bool) or
            not isinstance(cluster.token_coefficient, int) or cluster.token_coefficient < 0):
        _fail(origin, f"totem token_coefficient must be an integer of at least 0, not "
                      f"{cluster.token_coefficient!r}")
    if cluster.consensus is not None:
        _positive_int(cluster.consensus, "totem consensus", origin)
        if len(cluster.nodes) > 2 and cluster.consensus < cluster.token * 1.2:
            _fail(origin, f"totem consensus {cluster.consensus} must be at least 1.2 * token "
                          f"({cluster.token}) for more than two nodes")
    problem = two_node_problem(cluster.two_node, len(cluster.nodes))
    if problem:
        _fail(origin, problem)
    if cluster.two_node and cluster.qdevice is not None:
        _fail(origin, "two_node and a quorum device exclude each other: the device breaks ties")
    if cluster.link_priorities:
        if len(cluster.link_priorities) != links:
            _fail(origin, f"{len(cluster.link_priorities)} link priorities for {links} link(s)")
        for priority in cluster.link_priorities:
            if isinstance(priority, bool) or not isinstance(priority, int) or not (
                    0 <= priority <= 255):
                _fail(origin, f"link priority {priority!r} must be an integer from 0 to 255")
    if cluster.qdevice is not None:
        qd = cluster.qdevice
        _token(qd.host, "quorum device host", qd.origin or origin)
        if qd.algorithm not in QDEVICE_ALGORITHMS:
            _fail(qd.origin or origin, f"quorum device algorithm {qd.algorithm!r} is not one "
                                       f"of {', '.join(QDEVICE_ALGORITHMS)}")
    for path, what in ((cluster.logfile, "logfile"), (cluster.keyfile, "keyfile")):
        if path is not None and (not path.startswith("/") or any(c in path for c in " \n{}#")):
            _fail(origin, f"{what} {path!r} must be an absolute path without spaces or braces")
    warnings = []
    if cluster.crypto:
        if cluster.cipher not in CIPHERS:
            _fail(origin, f"crypto cipher {cluster.cipher!r} is not one of {', '.join(CIPHERS)}")
        if cluster.hash not in HASHES:
            _fail(origin, f"crypto hash {cluster.hash!r} is not one of {', '.join(HASHES)}")
    else:
        warnings.append(f"{origin + ': ' if origin else ''}crypto is off: cluster traffic is "
                        f"neither encrypted nor authenticated, any host on the ring network "
                        f"can join or forge membership messages")
    return tuple(warnings)


def _section(name, lines, indent=0):
    # corosync's parser wants a newline after every '{'.
    pad = "\t" * indent
    return [f"{pad}{name} {{", *lines, f"{pad}}}"]


def _kv(key, value, indent):
    return "\t" * indent + f"{key}: {value}"


def render(cluster):
    """Validate `cluster` and return Rendered(text, warnings); raises CorosyncConfigError."""
    warnings = validate(cluster)
    links = len(cluster.nodes[0].addresses)
    totem = [
        _kv("version", 2, 1),
        _kv("cluster_name", cluster.name, 1),
        _kv("transport", "knet", 1),
        _kv("crypto_cipher", cluster.cipher if cluster.crypto else "none", 1),
        _kv("crypto_hash", cluster.hash if cluster.crypto else "none", 1),
        _kv("token", cluster.token, 1),
    ]
    if cluster.token_coefficient is not None:
        totem.append(_kv("token_coefficient", cluster.token_coefficient, 1))
    if cluster.consensus is not None:
        totem.append(_kv("consensus", cluster.consensus, 1))
    if cluster.crypto and cluster.keyfile:
        totem.append(_kv("keyfile", cluster.keyfile, 1))
    if links > 1 or cluster.link_priorities:
        totem.append(_kv("link_mode", "passive", 1))
    for link, priority in enumerate(cluster.link_priorities):
        totem += _section("interface", [_kv("linknumber", link, 2),
                                        _kv("knet_link_priority", priority, 2)], 1)
    nodelist = []
    for node in cluster.nodes:
        entries = [_kv(f"ring{ring}_addr", address, 2) for ring, address in
                   enumerate(node.addresses)]
        entries += [_kv("name", node.name, 2), _kv("nodeid", node.nodeid, 2)]
        nodelist += _section("node", entries, 1)
    quorum = [_kv("provider", "corosync_votequorum", 1)]
    two_node = cluster.two_node if cluster.two_node is not None else len(cluster.nodes) == 2
    if two_node and cluster.qdevice is None:
        quorum.append(_kv("two_node", 1, 1))
    if cluster.wait_for_all:
        quorum.append(_kv("wait_for_all", 1, 1))
    elif cluster.wait_for_all is False and two_node and cluster.qdevice is None:
        quorum.append(_kv("wait_for_all", 0, 1))  # two_node would turn it on
    if cluster.qdevice is not None:
        net = _section("net", [_kv("host", cluster.qdevice.host, 3),
                               _kv("algorithm", cluster.qdevice.algorithm, 3)], 2)
        quorum += _section("device", [_kv("model", "net", 2), *net], 1)
    logging = [
        _kv("to_logfile", "yes", 1),
        _kv("logfile", cluster.logfile, 1),
        _kv("to_syslog", "no", 1),
        _kv("to_stderr", "no", 1),
        _kv("timestamp", "on", 1),
        _kv("debug", "on" if cluster.debug else "off", 1),
    ]
    from .output_files import MARK

    lines = [f"# Generated by ocfgen from the cluster description; edit the description instead. "
             f"{MARK}"]
    for name, body in (("totem", totem), ("nodelist", nodelist), ("quorum", quorum),
                       ("logging", logging)):
        lines += _section(name, body)
    return Rendered("\n".join(lines) + "\n", warnings)


def write_authkey(path, *, replace=False):
    """Write a fresh corosync authkey (256 bytes from os.urandom) at `path`, mode 0400.

    Never prints or returns the key. An existing file is an error unless `replace`, and then it
    is swapped atomically (a new file renamed over it), so a reader never sees half a key.
    """
    import errno

    from ocfpy import safefile

    if not replace and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "exists (a running cluster needs its key)", path)
    safefile.replace(path, os.urandom(AUTHKEY_BYTES), 0o400, private=False)
