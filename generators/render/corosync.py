"""corosync.conf from a small cluster description, and the cluster's authkey.

A pure renderer: `render(CorosyncCluster(...))` validates the input and returns the file's text
plus warnings; it prints nothing and writes nothing. The same text serves every node (corosync
finds its own entry in the nodelist by the host's addresses). `write_authkey(path)` is the one
function here that touches the file system.

The input is three small dataclasses (model/corosync.py: CorosyncCluster, CorosyncNode,
QuorumDevice). A richer cluster description (ocfgen's model) maps onto them; each carries an
optional `origin` ("cluster.toml:12", "node n2") that prefixes its validation errors so they
point back into the description the user wrote.

    cluster = CorosyncCluster(
        name="ioc-cluster",
        nodes=[CorosyncNode(1, "n1", ("192.0.2.1",)), CorosyncNode(2, "n2", ("192.0.2.2",))],
    )
    result = render(cluster)        # result.text, result.warnings
"""

import os
from dataclasses import dataclass, field

from ..model.corosync import (
    CIPHERS,
    HASHES,
    MAX_NODEID,
    QDEVICE_ALGORITHMS,
    Nodelist,
    links_problem,
    two_node_problem,
)

AUTHKEY_BYTES = 256  # what corosync-keygen writes by default


class CorosyncConfigError(ValueError):
    """A description corosync cannot run from; the message is one line naming the culprit."""


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
