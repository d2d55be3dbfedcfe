"""keepalived configurations for a VIP pair (e.g. DUCC's reliable head nodes).

Input: VipPair (two VrrpPeer, an optional TrackedAgent, an optional secret) and a Layout (where
the generated scripts and state files live on the nodes). Output: per node, the files to write
(path, text, mode): keepalived.conf, the track wrapper and the notify script. Nothing here reads
or writes files; the CLI reads the secret file the description names and writes the outputs.

Choices, and why:
- Authentication. VRRPv2 `auth_type PASS` sends the password in clear in every advertisement
  and keepalived accepts any value, including the Reliable DUCC document's `1111`; VRRPv3
  (RFC 5798) removed authentication because it never protected anything. Default: VRRPv3 without
  authentication, unicast to the one peer, and the firewall (generators/render/firewall.py) admitting
  VRRP only from that peer. A site that wants PASS anyway names a secret file; ocfgen then
  writes VRRPv2 with that secret, after refusing weak or well-known ones (check_secret), and the
  config (which then holds the secret) is written mode 0600.
- Tracking. A vrrp_script runs a small generated wrapper that sets the OCF environment
  Pacemaker would give the agent and execs `/usr/lib/ocf/resource.d/ocfpy/<agent> monitor`:
  exit 0 (running) keeps the node eligible, anything else (7 not running, 1 failed) counts as
  a failure; after `fall` failures the instance goes to FAULT and the peer takes the VIP.
- Notify: one script for every transition, recording the state in
  <state_dir>/<instance>.state and syslog, then running the site's command if one is named.
"""

import ipaddress
import re
import shlex
from dataclasses import dataclass, field

from ocfpy import __version__

from ..model.hosts import TrackedAgent, VipPair, VrrpPeer

# Secrets seen in documentation and defaults; a secret on this list is refused whatever its form.
WELL_KNOWN_SECRETS = frozenset((
    "1111", "11111111", "1234", "12345678", "123456", "password", "passw0rd", "secret",
    "keepalived", "vrrp", "changeme", "admin", "default", "qwerty", "letmein", "abcd1234",
    "abcdefgh", "pass", "passwd", "test", "testtest", "ducc", "ducc1234", "vrrppass",
))
PASS_LENGTH = 8          # keepalived truncates auth_pass to 8 characters (and -t fails on more)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


class KeepalivedError(ValueError):
    """A VIP pair that cannot be configured soundly; the message names the field and why."""


@dataclass(frozen=True)
class Layout:
    """Where things live on the nodes. keepalived's script security wants every directory on a
    script's path writable by root only."""

    config: str = "/etc/keepalived/keepalived.conf"
    script_dir: str = "/etc/keepalived/ocfpy"
    state_dir: str = "/run/ocfpy/keepalived"
    agent_dir: str = "/usr/lib/ocf/resource.d/ocfpy"


@dataclass(frozen=True)
class OutputFile:
    path: str
    text: str
    mode: int = field(default=0o644)


def check_secret(secret, origin="the secret file"):
    """Refuse a VRRP PASS secret that is weak or well known. Returns the secret, stripped."""
    value = secret.strip()
    where = f"VRRP secret from {origin}"
    if not value:
        raise KeepalivedError(f"{where} is empty")
    if value.lower() in WELL_KNOWN_SECRETS:
        raise KeepalivedError(f"{where} is a well-known default; generate a random one")
    if len(value) != PASS_LENGTH:
        raise KeepalivedError(
            f"{where} has {len(value)} characters: VRRP PASS uses exactly {PASS_LENGTH} (keepalived "
            "truncates longer ones and shorter ones are weaker); use 8 random printable characters")
    if not all(33 <= ord(c) < 127 for c in value) or any(c in "\"'\\#!{}" for c in value):
        raise KeepalivedError(f"{where} must be printable ASCII without spaces, quotes, "
                              "backslash, '#', '!' or braces (keepalived's config syntax)")
    if len(set(value)) < 5:
        raise KeepalivedError(f"{where} repeats characters too much (fewer than 5 distinct)")
    steps = {ord(b) - ord(a) for a, b in zip(value, value[1:])}
    if len(steps) == 1:
        raise KeepalivedError(f"{where} is a simple sequence")
    classes = sum(any(test(c) for c in value) for test in (str.isdigit, str.islower, str.isupper))
    classes += any(not c.isalnum() for c in value)
    if classes < 3:
        raise KeepalivedError(f"{where} must mix at least three of digits, lower case, upper case "
                              "and symbols")
    return value


def check(pair):
    """Raise KeepalivedError naming the field at fault."""
    where = f"vip pair {pair.name!r}"
    if not _NAME.match(pair.name or ""):
        raise KeepalivedError(f"{where}: name must be a letter then letters, digits or '_' "
                              "(at most 32)")
    if not isinstance(pair.virtual_router_id, int) or not 1 <= pair.virtual_router_id <= 255:
        raise KeepalivedError(f"{where}: virtual_router_id must be 1-255, not "
                              f"{pair.virtual_router_id!r}")
    if not isinstance(pair.advert_int, int) or not 1 <= pair.advert_int <= 255:
        raise KeepalivedError(f"{where}: advert_int must be 1-255 seconds")
    try:
        vip = ipaddress.ip_interface(pair.vip)
    except ValueError:
        raise KeepalivedError(f"{where}: vip {pair.vip!r} is not address/prefix") from None
    if "/" not in pair.vip:
        raise KeepalivedError(f"{where}: vip {pair.vip!r} needs its prefix length (/24)")
    if len(pair.peers) != 2:
        raise KeepalivedError(f"{where}: exactly two peers, not {len(pair.peers)}")
    a, b = pair.peers
    if a.node == b.node:
        raise KeepalivedError(f"{where}: both peers are node {a.node!r}")
    for peer in pair.peers:
        at = f"{where}, node {peer.node!r}"
        if not _IFNAME.match(peer.interface or "") or peer.interface == "lo":
            raise KeepalivedError(f"{at}: interface {peer.interface!r} is not a usable interface "
                                  "name (loopback cannot carry VRRP)")
        try:
            address = ipaddress.ip_address(peer.address)
        except ValueError:
            raise KeepalivedError(f"{at}: address {peer.address!r} is not an IP address") from None
        if address.version != vip.version:
            raise KeepalivedError(f"{at}: address {peer.address} and vip {pair.vip} differ in family")
        if address == vip.ip:
            raise KeepalivedError(f"{at}: the vip must not be the node's own address")
        if address.is_loopback:
            raise KeepalivedError(f"{at}: a loopback address cannot carry VRRP")
        if not isinstance(peer.priority, int) or not 1 <= peer.priority <= 254:
            raise KeepalivedError(f"{at}: priority must be 1-254 (255 is the address owner's)")
    if a.priority == b.priority:
        raise KeepalivedError(f"{where}: both peers have priority {a.priority}; they must differ, "
                              "or the election falls to address order")
    if a.address == b.address:
        raise KeepalivedError(f"{where}: both peers have address {a.address}")
    if pair.secret is not None:
        check_secret(pair.secret, pair.secret_origin)
    if pair.track is not None:
        _check_track(pair.track, where)
    if pair.notify_command and not pair.notify_command[0].startswith("/"):
        raise KeepalivedError(f"{where}: notify_command must start with an absolute path")


def _check_track(track, where):
    from ocfpy import catalogue

    at = f"{where}, track"
    if track.agent not in catalogue.AGENTS:
        raise KeepalivedError(f"{at}: agent {track.agent!r} is not an ocfpy agent "
                              f"({', '.join(catalogue.names())})")
    declared = {p.name: p for p in catalogue.load(track.agent).parameters}
    given = dict(track.params)
    for name in given:
        if name not in declared:
            raise KeepalivedError(f"{at}: ocf:ocfpy:{track.agent} has no parameter {name!r}")
    for name, declaration in declared.items():
        if declaration.required and not given.get(name):
            raise KeepalivedError(f"{at}: ocf:ocfpy:{track.agent} requires parameter {name!r}")
    if not re.match(r"^[A-Za-z0-9_.:-]+$", track.instance or ""):
        raise KeepalivedError(f"{at}: instance {track.instance!r} is not a resource id")
    for key in ("interval", "timeout", "fall", "rise"):
        value = getattr(track, key)
        if not isinstance(value, int) or not 1 <= value <= 3600:
            raise KeepalivedError(f"{at}: {key} must be 1-3600, not {value!r}")
    if track.timeout < 2:
        raise KeepalivedError(f"{at}: timeout must leave the monitor at least 2 s")
    if track.check_level not in (0, 10, 20):
        raise KeepalivedError(f"{at}: check_level must be 0, 10 or 20")


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from .output_files import MARK

    env = Environment(loader=PackageLoader("ocfpy.generators.render", "templates"),
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.globals["mark"] = MARK     # the generated-file marker (output_files.MARK)
    return env


def script_paths(pair, layout):
    return (f"{layout.script_dir}/{pair.name}-track", f"{layout.script_dir}/{pair.name}-notify")


def render_node(pair, node, layout=None):
    """The files of `node` (one of the pair's peers) as a list of OutputFile."""
    layout = layout or Layout()
    check(pair)
    for name in ("config", "script_dir", "state_dir", "agent_dir"):
        path = getattr(layout, name)
        if not path.startswith("/") or any(c.isspace() or c in "\"'\\$`" for c in path):
            raise KeepalivedError(f"layout {name} {path!r} must be an absolute path without spaces, "
                                  "quotes, '$' or backslashes")
    mine = [p for p in pair.peers if p.node == node]
    if not mine:
        raise KeepalivedError(f"vip pair {pair.name!r}: node {node!r} is not one of its peers")
    me = mine[0]
    other = [p for p in pair.peers if p.node != node][0]
    track_path, notify_path = script_paths(pair, layout)
    env = _environment()
    config = env.get_template("keepalived.conf.j2").render(
        pair=pair, me=me, other=other, version=__version__, track_path=track_path,
        notify_path=notify_path, state="MASTER" if me.priority > other.priority else "BACKUP",
        secret=check_secret(pair.secret) if pair.secret is not None else None,
    )
    files = [OutputFile(layout.config, config, 0o600 if pair.secret is not None else 0o644)]
    if pair.track is not None:
        track = pair.track
        assignments = [
            ("OCF_ROOT", "/usr/lib/ocf"), ("OCF_RA_VERSION_MAJOR", "1"),
            ("OCF_RA_VERSION_MINOR", "1"), ("OCF_RESOURCE_INSTANCE", track.instance),
            ("OCF_RESOURCE_TYPE", track.agent), ("OCF_RESOURCE_PROVIDER", "ocfpy"),
            ("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:"),
            ("OCF_RESKEY_CRM_meta_interval", str(track.interval * 1000)),
            ("OCF_RESKEY_CRM_meta_timeout", str(track.timeout * 1000)),
            ("OCF_CHECK_LEVEL", str(track.check_level)),
        ] + [(f"OCF_RESKEY_{name}", value) for name, value in track.params]
        text = env.get_template("keepalived-track.sh.j2").render(
            pair=pair, track=track, version=__version__, quote=shlex.quote,
            assignments=assignments, agent_path=f"{layout.agent_dir}/{track.agent}")
        # The parameters may name credentials: readable by root only.
        files.append(OutputFile(track_path, text, 0o700))
    notify = env.get_template("keepalived-notify.sh.j2").render(
        pair=pair, version=__version__, quote=shlex.quote, state_dir=layout.state_dir,
        command=" ".join(shlex.quote(word) for word in pair.notify_command))
    files.append(OutputFile(notify_path, notify, 0o700))
    return files


def render(pair, layout=None):
    """{node: [OutputFile]} for both peers."""
    return {peer.node: render_node(pair, peer.node, layout) for peer in pair.peers}


def pairs_from_model(cluster, outputs, secrets=None):
    """VipPair list from a description (model.Cluster) and its host outputs
    (load/hosts.HostOutputs). `secrets` maps each secret_file named to its contents (the CLI
    reads them). Errors are located in the outputs file."""
    nodes = {node.name: node for node in cluster.nodes}
    primitives = {p.id: p for p in cluster.primitives}
    secrets = secrets or {}
    pairs = []
    for described in outputs.pairs:
        where = described.where
        if len(described.priorities) != 2:
            raise KeepalivedError(f"{where.at('priorities')}: name exactly two nodes, not "
                                  f"{len(described.priorities)}")
        for name in described.interfaces:
            if name != "*" and name not in described.priorities:
                raise KeepalivedError(f"{where.at('interface', name)}: {name!r} is not one of the "
                                      "pair's nodes (the keys of priorities)")
        peers = []
        for name, priority in described.priorities.items():
            node = nodes.get(name)
            if node is None:
                raise KeepalivedError(f"{where.at('priorities', name)}: {name!r} is not a node of "
                                      f"the description ({', '.join(sorted(nodes))})")
            if not node.addresses:
                raise KeepalivedError(f"{where.at('priorities', name)}: node {name} has no address "
                                      "in the description")
            interface = described.interfaces.get(name, described.interfaces.get("*"))
            if interface is None:
                raise KeepalivedError(f"{where.at('interface')}: no interface for node {name}")
            peers.append(VrrpPeer(name, interface, node.addresses[0], priority))
        track = None
        if described.track is not None:
            primitive = primitives.get(described.track)
            if primitive is None:
                raise KeepalivedError(f"{where.at('track')}: {described.track!r} is not a resource "
                                      "of the description")
            if primitive.standard != "ocf" or primitive.provider != "ocfpy":
                raise KeepalivedError(f"{where.at('track')}: resource {primitive.id} runs "
                                      f"{primitive.agent}; only ocf:ocfpy agents can be tracked")
            settings = described.track_settings
            track = TrackedAgent(primitive.type, primitive.id, tuple(primitive.params.items()),
                                 interval=settings.get("track_interval", 5),
                                 timeout=settings.get("track_timeout", 10),
                                 fall=settings.get("track_fall", 2),
                                 rise=settings.get("track_rise", 1),
                                 check_level=settings.get("check_level", 0))
        secret = None
        if described.secret_file is not None:
            if described.secret_file not in secrets:
                raise KeepalivedError(f"{where.at('secret_file')}: {described.secret_file} was not "
                                      "read")
            secret = secrets[described.secret_file]
        pair = VipPair(described.name, described.virtual_router_id, described.vip, tuple(peers),
                       track=track, advert_int=described.advert_int, unicast=described.unicast,
                       secret=secret, secret_origin=described.secret_file or "the secret file",
                       notify_command=described.notify_command)
        try:
            check(pair)
        except KeepalivedError as exc:
            raise KeepalivedError(f"{where.at()}: {exc}") from None
        pairs.append(pair)
    return pairs
