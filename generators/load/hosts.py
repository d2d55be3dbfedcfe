'''What ocfgen writes for the hosts besides the cluster's own configuration: systemd units,
keepalived VIP pairs and firewall settings, read from a small TOML file next to the cluster
description (`ocfgen units|keepalived|firewall CLUSTER.toml --hosts HOSTS.toml`).

The cluster description says what runs and where (nodes, addresses, resources); this file adds
only what the cluster description has no words for. Everything it names is checked against the
description by the mapping functions (units.units_from_model, keepalived.pairs_from_model,
firewall.firewall_from_model), with errors located in this file. It is read as the description
is (generators/load/reader.Reader, the one TOML accessor): every error in one run, one
line each, `hosts.toml:12:1: keepalived.DUCC_HEAD.vip: why`.

    [firewall]
    clients = ["192.0.2.0/24"]    # who may use the services (CA, ACS, archiver, DUCC); [] anyone
    admin = ["192.0.2.200"]       # ssh (IOC consoles are reached through it); [] anyone
                                  # (the ports themselves come from the description: each
                                  # IOC's CA/pvAccess ports or own address, each appliance's)
    admin_ports = [22]
    acs_daemons = false           # also open the ACS container/services daemons (2970, 2980)
    [[firewall.extra]]            # a port of something the description does not model
    service = "site web"
    protocol = "tcp"
    ports = [8080]
    sources = ["192.0.2.0/24"]

    [units.ioc-llrf]              # a unit ocfgen writes; Pacemaker-managed when the description
    exec_start = ["/usr/bin/procServ", "-f", "-q", "unix:/run/llrf", "/opt/ioc/st.cmd"]
    user = "epics-ioc"            # has a systemd:ioc-llrf resource, else run by systemd
    enabled = true                # [Install]: refused for a Pacemaker-managed unit
    realtime = true               # every ServiceUnit field may be given (generators/render/units.py)

    [keepalived.DUCC_HEAD]        # a VIP pair: two nodes of the description
    virtual_router_id = 51
    vip = "192.0.2.30/24"
    interface = "eth0"            # or a table: { ducc-h1 = "eth0", ducc-h2 = "ens3" }
    priorities = { ducc-h1 = 150, ducc-h2 = 100 }
    track = "ducc-head"           # a resource of the description with an ocf:ocfpy agent
    secret_file = "/etc/ocfpy/vrrp.secret"   # optional: VRRPv2 PASS; absent: VRRPv3, no auth
'''

from dataclasses import dataclass, field
from typing import Optional

from .keys import HOSTS
from .positions import dotted, position_of
from .reader import DescriptionError, Reader, place, read_regular

# The keys of each table, declared in generators/load/keys.py (where `ocfgen explain` reads them).
UNIT_FIELDS = {
    # name: (kind, default) as in units.ServiceUnit; `pacemaker` comes from the description.
    key.name: (key.type, key.default) for key in HOSTS.tables["units"].keys
}
PAIR_KEYS = HOSTS.allowed("keepalived")
FIREWALL_KEYS = HOSTS.allowed("firewall")
EXTRA_KEYS = HOSTS.allowed("firewall.extra")

# One error type for every TOML file ocfgen reads: one located line per error.
HostOutputsError = DescriptionError


@dataclass
class Located:
    """Where a table came from, to locate errors found later (by the mapping functions)."""

    source: str = "<outputs>"
    positions: dict[tuple, tuple[int, int]] = field(default_factory=dict, repr=False)
    path: tuple = ()

    @classmethod
    def of(cls, reader, path):
        return cls(reader.source, reader.positions, tuple(path))

    def at(self, *keys):
        """`file:line:column: key.path` of a key of this table (or the table itself)."""
        path = self.path + keys
        return f"{place(self.source, *(position_of(self.positions, path) or ()))}: {dotted(path)}"


@dataclass
class UnitDescription:
    name: str
    fields: dict[str, object]
    where: Located


@dataclass
class PairDescription:
    name: str
    virtual_router_id: int
    vip: str
    interfaces: dict[str, str]          # node -> interface ("*" for every node)
    priorities: dict[str, int]
    track: Optional[str]
    secret_file: Optional[str]
    unicast: bool
    advert_int: int
    notify_command: tuple[str, ...]
    track_settings: dict[str, int]
    where: Located


@dataclass
class ExtraOpening:
    service: str
    protocol: str
    ports: tuple[object, ...]
    sources: tuple[str, ...]
    where: Located


@dataclass
class FirewallDescription:
    clients: tuple[str, ...] = ()
    admin: tuple[str, ...] = ()
    admin_ports: tuple[int, ...] = (22,)
    acs_daemons: bool = False
    extra: list[ExtraOpening] = field(default_factory=list)
    where: Located = field(default_factory=Located)


@dataclass
class HostOutputs:
    units: list[UnitDescription] = field(default_factory=list)
    pairs: list[PairDescription] = field(default_factory=list)
    firewall: FirewallDescription = field(default_factory=FirewallDescription)
    source: str = ""


def load(path):
    try:
        data = read_regular(path)
    except OSError as exc:
        raise HostOutputsError(str(path), None, (), f"cannot read: {exc.strerror}") from None
    return loads(data, str(path))


def loads(data, source="<outputs>"):
    """The HostOutputs of hosts-file bytes (or text); HostOutputsError with every error."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    reader = Reader(source)
    outputs = read(reader, reader.parse(data))
    reader.raise_errors()
    return outputs


def read(reader, doc):
    """Every table of the hosts file, each item read on its own (its error recorded)."""
    outputs = HostOutputs(source=reader.source)
    with reader.collect():
        reader.table((), doc, HOSTS.allowed(""))
    for section, read_item, items in (("units", read_unit, outputs.units),
                                      ("keepalived", read_pair, outputs.pairs)):
        with reader.collect((section,)):
            for name, body in reader.table((section,), doc.get(section, {})).items():
                with reader.collect((section, name)):
                    items.append(read_item(reader, (section, name), name, body))
    if "firewall" in doc:
        with reader.collect(("firewall",)):
            outputs.firewall = read_firewall(reader, ("firewall",), doc["firewall"])
    return outputs


def value(reader, path, raw, kind):
    """`raw` read as a key of the declared `kind` (generators/load/keys.py)."""
    if kind == "string":
        return reader.string(path, raw)
    if kind == "integer":
        return reader.integer(path, raw)
    if kind == "boolean":
        return reader.boolean(path, raw)
    if kind == "strings":
        return tuple(reader.strings(path, raw, nonempty=False))
    if kind == "integers":
        return tuple(reader.integers(path, raw, nonempty=False))
    if kind == "table":
        return tuple((key, reader.string(path + (key,), text))
                     for key, text in reader.table(path, raw).items())
    raise ValueError(f"no reader for keys of type {kind!r}")


def read_unit(reader, path, name, body):
    reader.table(path, body, tuple(UNIT_FIELDS))
    if "exec_start" not in body:
        reader.fail(path, "missing key 'exec_start' (the command as a list of words)")
    fields = {key: value(reader, path + (key,), body[key], UNIT_FIELDS[key][0]) for key in body}
    return UnitDescription(name, fields, Located.of(reader, path))


def read_pair(reader, path, name, body):
    reader.table(path, body, PAIR_KEYS)
    for key in ("virtual_router_id", "vip", "interface", "priorities"):
        if key not in body:
            reader.fail(path, f"missing key {key!r}")
    interface = body["interface"]
    if isinstance(interface, str):
        interfaces = {"*": interface}
    else:
        interfaces = dict(value(reader, path + ("interface",), interface, "table"))
    priorities = reader.table(path + ("priorities",), body["priorities"])
    for node, priority in priorities.items():
        reader.integer(path + ("priorities", node), priority)
    settings = {}
    for key in ("track_interval", "track_timeout", "track_fall", "track_rise", "check_level"):
        if key in body:
            settings[key] = reader.integer(path + (key,), body[key])

    def optional(key, kind, default):
        return value(reader, path + (key,), body[key], kind) if key in body else default

    return PairDescription(
        name=name,
        virtual_router_id=reader.integer(path + ("virtual_router_id",),
                                         body["virtual_router_id"]),
        vip=reader.string(path + ("vip",), body["vip"]),
        interfaces=interfaces, priorities=dict(priorities),
        track=optional("track", "string", None),
        secret_file=optional("secret_file", "string", None),
        unicast=optional("unicast", "boolean", True),
        advert_int=optional("advert_int", "integer", 1),
        notify_command=optional("notify_command", "strings", ()),
        track_settings=settings, where=Located.of(reader, path))


def networks(reader, path, raw):
    import ipaddress

    items = value(reader, path, raw, "strings")
    for i, item in enumerate(items):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            reader.fail(path + (i,), f"{item!r} is not an address or network")
    return items


def read_extra(reader, where, item):
    """One [[firewall.extra]] opening."""
    reader.table(where, item, EXTRA_KEYS)
    for key in ("service", "protocol", "ports"):
        if key not in item:
            reader.fail(where, f"missing key {key!r}")
    ports = item["ports"]
    if not isinstance(ports, list) or not all(
            (isinstance(p, int) and not isinstance(p, bool)) or (
                isinstance(p, list) and len(p) == 2) for p in ports):
        reader.fail(where + ("ports",), "must be a list of ports and [first, last] ranges")
    return ExtraOpening(
        reader.string(where + ("service",), item["service"]),
        reader.string(where + ("protocol",), item["protocol"]),
        tuple(p if isinstance(p, int) else tuple(p) for p in ports),
        value(reader, where + ("sources",), item.get("sources", []), "strings"),
        Located.of(reader, where))


def read_firewall(reader, path, body):
    reader.table(path, body, FIREWALL_KEYS)
    if not isinstance(body.get("extra", []), list):
        reader.fail(path + ("extra",), "must be an array of tables ([[firewall.extra]])")
    extra = []
    for i, item in enumerate(body.get("extra", [])):
        with reader.collect(path + ("extra", i)):
            extra.append(read_extra(reader, path + ("extra", i), item))
    admin_ports = value(reader, path + ("admin_ports",), body.get("admin_ports", [22]), "integers")
    for i, port in enumerate(admin_ports):
        if not 1 <= port <= 65535:
            reader.fail(path + ("admin_ports", i), f"port {port} is not 1-65535")
    return FirewallDescription(
        clients=networks(reader, path + ("clients",), body.get("clients", [])),
        admin=networks(reader, path + ("admin",), body.get("admin", [])),
        admin_ports=admin_ports,
        acs_daemons=reader.boolean(path + ("acs_daemons",), body.get("acs_daemons", False)),
        extra=extra, where=Located.of(reader, path))
