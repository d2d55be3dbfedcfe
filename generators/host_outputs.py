'''What ocfgen writes for the hosts besides the cluster's own configuration: systemd units,
keepalived VIP pairs and firewall settings, read from a small TOML file next to the cluster
description (`ocfgen units|keepalived|firewall CLUSTER.toml --hosts HOSTS.toml`).

The cluster description says what runs and where (nodes, addresses, resources); this file adds
only what the cluster description has no words for. Everything it names is checked against the
description by the mapping functions (units.units_from_model, keepalived.pairs_from_model,
firewall.firewall_from_model), with errors located in this file:

    [firewall]
    clients = ["192.0.2.0/24"]    # who may use the services (CA, ACS, archiver, DUCC); [] anyone
    admin = ["192.0.2.200"]       # ssh and procServ consoles bound off loopback; [] anyone
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
    realtime = true               # every ServiceUnit field may be given (generators/units.py)

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
from .tomlpos import dotted, key_lines, line_of, syntax_error

# The keys of each table, declared in generators/keys.py (where `ocfgen explain` reads them).
UNIT_FIELDS = {
    # name: (kind, default) as in units.ServiceUnit; `pacemaker` comes from the description.
    key.name: (key.type, key.default) for key in HOSTS.tables["units"].keys
}
PAIR_KEYS = HOSTS.allowed("keepalived")
KIND_WORDS = {"string": "a string", "integer": "an integer", "boolean": "true or false",
              "strings": "a list of strings", "integers": "a list of integers",
              "table": "a table of strings"}
FIREWALL_KEYS = HOSTS.allowed("firewall")
EXTRA_KEYS = HOSTS.allowed("firewall.extra")


class HostOutputsError(ValueError):
    """One located line: `hosts.toml:12: keepalived.DUCC_HEAD.vip: why`."""


@dataclass
class Located:
    """Where a table came from, to locate errors found later (by the mapping functions)."""

    source: str = "<outputs>"
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)
    path: tuple = ()

    def at(self, *keys):
        path = self.path + keys
        line = line_of(self.lines, path)
        place = self.source if line is None else f"{self.source}:{line}"
        return f"{place}: {dotted(path)}"


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
    from .description import read_regular

    try:
        data = read_regular(path)
    except OSError as exc:
        raise HostOutputsError(f"{path}: cannot read: {exc.strerror}") from None
    return loads(data, str(path))


def loads(data, source="<outputs>"):
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib

    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise HostOutputsError(f"{source}: is not UTF-8 text") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, why = syntax_error(exc, text)
        raise HostOutputsError(f"{source}:{line}: invalid TOML: {why}") from None
    return _Reader(source, key_lines(text)).read(doc)


class _Reader:
    def __init__(self, source, lines):
        self.source, self.lines = source, lines

    def located(self, *path):
        return Located(self.source, self.lines, tuple(path))

    def fail(self, path, why):
        raise HostOutputsError(f"{self.located(*path).at()}: {why}")

    def table(self, path, value, allowed=None):
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
        for key in value:
            if allowed is not None and key not in allowed:
                self.fail(path + (key,), f"unknown key {key!r}; allowed here: {', '.join(allowed)}")
        return value

    def value(self, path, value, kind):
        if kind == "string" and isinstance(value, str):
            return value
        if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind == "strings" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        if kind == "integers" and isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
        if kind == "table" and isinstance(value, dict) and all(
                isinstance(v, str) for v in value.values()):
            return tuple(value.items())
        self.fail(path, f"must be {KIND_WORDS[kind]}")

    def read(self, doc):
        self.table((), doc, HOSTS.allowed(""))
        outputs = HostOutputs(source=self.source)
        for name, body in self.table(("units",), doc.get("units", {})).items():
            path = ("units", name)
            self.table(path, body, tuple(UNIT_FIELDS))
            if "exec_start" not in body:
                self.fail(path, "missing key 'exec_start' (the command as a list of words)")
            fields = {key: self.value(path + (key,), body[key], UNIT_FIELDS[key][0]) for key in body}
            outputs.units.append(UnitDescription(name, fields, self.located(*path)))
        for name, body in self.table(("keepalived",), doc.get("keepalived", {})).items():
            outputs.pairs.append(self.pair(("keepalived", name), name, body))
        if "firewall" in doc:
            outputs.firewall = self.firewall(("firewall",), doc["firewall"])
        return outputs

    def pair(self, path, name, body):
        self.table(path, body, PAIR_KEYS)
        for key in ("virtual_router_id", "vip", "interface", "priorities"):
            if key not in body:
                self.fail(path, f"missing key {key!r}")
        interface = body["interface"]
        if isinstance(interface, str):
            interfaces = {"*": interface}
        else:
            interfaces = dict(self.value(path + ("interface",), interface, "table"))
        priorities = self.table(path + ("priorities",), body["priorities"])
        for node, priority in priorities.items():
            self.value(path + ("priorities", node), priority, "integer")
        settings = {}
        for key in ("track_interval", "track_timeout", "track_fall", "track_rise", "check_level"):
            if key in body:
                settings[key] = self.value(path + (key,), body[key], "integer")
        return PairDescription(
            name=name,
            virtual_router_id=self.value(path + ("virtual_router_id",), body["virtual_router_id"],
                                         "integer"),
            vip=self.value(path + ("vip",), body["vip"], "string"),
            interfaces=interfaces, priorities=dict(priorities),
            track=self.value(path + ("track",), body["track"], "string") if "track" in body else None,
            secret_file=(self.value(path + ("secret_file",), body["secret_file"], "string")
                         if "secret_file" in body else None),
            unicast=self.value(path + ("unicast",), body.get("unicast", True), "boolean"),
            advert_int=self.value(path + ("advert_int",), body.get("advert_int", 1), "integer"),
            notify_command=self.value(path + ("notify_command",), body.get("notify_command", []),
                                      "strings"),
            track_settings=settings, where=self.located(*path))

    def networks(self, path, value):
        import ipaddress

        items = self.value(path, value, "strings")
        for i, item in enumerate(items):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                self.fail(path + (i,), f"{item!r} is not an address or network")
        return items

    def firewall(self, path, body):
        self.table(path, body, FIREWALL_KEYS)
        extra = []
        if not isinstance(body.get("extra", []), list):
            self.fail(path + ("extra",), "must be an array of tables ([[firewall.extra]])")
        for i, item in enumerate(body.get("extra", [])):
            where = path + ("extra", i)
            self.table(where, item, EXTRA_KEYS)
            for key in ("service", "protocol", "ports"):
                if key not in item:
                    self.fail(where, f"missing key {key!r}")
            ports = item["ports"]
            if not isinstance(ports, list) or not all(
                    (isinstance(p, int) and not isinstance(p, bool)) or (
                        isinstance(p, list) and len(p) == 2) for p in ports):
                self.fail(where + ("ports",), "must be a list of ports and [first, last] ranges")
            extra.append(ExtraOpening(
                self.value(where + ("service",), item["service"], "string"),
                self.value(where + ("protocol",), item["protocol"], "string"),
                tuple(p if isinstance(p, int) else tuple(p) for p in ports),
                self.value(where + ("sources",), item.get("sources", []), "strings"),
                self.located(*where)))
        admin_ports = self.value(path + ("admin_ports",), body.get("admin_ports", [22]), "integers")
        for i, port in enumerate(admin_ports):
            if not 1 <= port <= 65535:
                self.fail(path + ("admin_ports", i), f"port {port} is not 1-65535")
        return FirewallDescription(
            clients=self.networks(path + ("clients",), body.get("clients", [])),
            admin=self.networks(path + ("admin",), body.get("admin", [])),
            admin_ports=admin_ports,
            acs_daemons=self.value(path + ("acs_daemons",), body.get("acs_daemons", False),
                                   "boolean"),
            extra=extra, where=self.located(*path))
