'''Read a cluster description (TOML) into the checked model of ocfpy.generators.model.

`load(path)` returns a `Cluster` or raises `DescriptionError`. A description is read to the
end whatever it holds: every mistake is reported in one run, one line each, sorted by place
(line, then column), the first MAX_ERRORS of them then how many more. Each line names the file,
the line and column (see ocfpy.generators.tomlpos for which column), the key path and why:

    cluster.toml:23:32: resources.vip.params.arp_count: parameter 'arp_count' is not an integer: 'x'
    cluster.toml:31:1: order[0].then: unknown resource 'ap' (did you mean 'app'?)

A check that fails ends the item it reads (a node, a resource, a constraint, a cluster option,
a cross-check...); the next item is read as if it had not been there. An item that refers to
one whose reading failed is dropped quietly: the failed one's own error says what is wrong.
A TOML syntax error ends reading at once: tomllib cannot read past it.


The format, by example (examples/*.toml hold complete ones):

    [cluster]
    name = "acs-alma"
    provided_elsewhere = ["ocf:site:Thing"]   # agents the nodes have and this host has not

    [properties]                    # cluster options, Pacemaker's names (crm_config)
    stonith-enabled = true
    placement-strategy = "balanced"

    [defaults]                      # resource defaults (rsc_defaults)
    resource-stickiness = 100
    migration-threshold = 3
    failure-timeout = "10min"

    [op_defaults]
    timeout = "40s"

    [corosync]                      # see ocfpy.generators.corosync (all optional)
    crypto = true
    token = 3000
    token_coefficient = 650         # ms added to the token per node above two
    link_priorities = [255, 1]

    [nodes.alma-a]                  # one table per node, named as the node's host name
    id = 1                          # corosync node id (default: position, from 1)
    addresses = ["192.0.2.11", "198.51.100.11"]      # ring0, ring1
    attributes = { acs-host = true }                 # node attributes, for location rules
    utilization = { cpu = 8, memory = 16384 }        # with placement-strategy

    [[nodes.alma-a.fencing]]        # fencing levels, tried in order (or set level = N)
    agent = "fence_ipmilan"         # the device never runs on the node it fences
    [nodes.alma-a.fencing.params]   # pcmk_host_list defaults to the node
    ip = "10.0.0.11"                # an address or host name; ipport 1-65535; one BMC a node
    username = "admin"
    password_script = "/etc/cluster/ipmi-password"   # never an inline password

With fencing on (stonith-enabled, Pacemaker's default) every node must be fenceable: each
device of a node's level fences that node (pcmk_host_list / pcmk_host_map name it), devices
name only nodes of the cluster, and a node without levels is named by some device. A
two-node cluster (two_node) gets pcmk_delay_base = 10s on the first node's devices unless the
description chose a delay (pcmk_delay_base/_max, priority-fencing-delay): the first node wins
the fence race when the link between them breaks.

    [templates.ioc]                 # shared settings; a resource says template = "ioc"
    agent = "ocf:ocfpy:daemon"
    ops = [{ name = "monitor", interval = "10s", timeout = "20s" }]

    [resources.vip]                 # one table per resource, named by its id
    agent = "ocf:heartbeat:IPaddr2"
    params = { ip = "192.0.2.100", cidr_netmask = 24 }
    meta = { resource-stickiness = 200 }
    utilization = { cpu = 1 }
    ops = [{ name = "monitor", interval = "10s", timeout = "20s", OCF_CHECK_LEVEL = 10 }]
    # op keys: name, interval, timeout, role, OCF_CHECK_LEVEL, on-fail, start-delay, ...
    # Actions not listed get the agent's advertised defaults, as pcs copies them.

    [resources.acs-services.params] # TOML inline tables are one line: longer ones go here
    acsroot = "/alma/ACS-current/ACSSW"

    [groups.acs]                    # members start in order, on one node
    resources = ["acs-services", "acs-containers"]

    [clones.ducc-head-clone]        # clone of a resource or group
    resource = "ducc-head"
    promotable = true
    meta = { promoted-max = 1 }

    [[order]]                       # first, then (or sets = [{ resources = [...] }, ...])
    first = "acs-services"
    then = "acs-containers"

    [[colocation]]                  # resource runs where `with` runs
    resource = "vip"
    with = "acs"
    score = "INFINITY"

    [[location]]                    # prefers = NODE, avoids = NODE, or rule = "..."
    resource = "ioc-bpm"            # or resources = [...]: the same preference for each
    rule = "ioc-host eq true and rack ne r9"
    score = "INFINITY"              # role = "Promoted" for a promotable clone's promoted role

A rule is tests on node attributes joined by `and` or by `or`: `ATTRIBUTE OP VALUE` (OP one of
lt gt lte gte eq ne; VALUE may be typed as integer:5, number:1.5, version:2.1 or string:x;
bare integers compared with lt/gt/lte/gte are integers), `defined ATTRIBUTE` or
`not_defined ATTRIBUTE`. To keep a resource off nodes without an attribute:
`rule = "not_defined ioc-host or ioc-host ne true"` with `score = "-INFINITY"`.

Parameters are checked against the agent's own declarations: ocf:ocfpy agents from
ocfpy.catalogue, every other agent from its meta-data (crm_resource --show-metadata). Keys that
configure Pacemaker itself (properties, meta, defaults, op attributes) use Pacemaker's names.
Ids not given are made the way pcs makes them.
'''

import contextlib
import hashlib
import ipaddress
import os
import re

from .alerts import read_alerts
from .description_constraints import ConstraintReader
from .description_resources import ResourceReader
from .description_values import (
    ATTRIBUTE,
    CLONE_META,
    DURATION,
    HOSTNAME,
    IDENTIFIER,
    MANAGED_PROPERTIES,
    MULTIPLE_ACTIVE,
    NOT_XML,
    OLD_ROLES,
    PARAM_NAME,
    PLACEMENT,
    REQUIRES,
    RESOURCE_META,
    ROLES,
    SCORE,
    SECRET_WORDS,
    Reported,
    kind,
    suggest,
)
from .keys import DESCRIPTION
from .model import Cluster, Corosync, FenceDevice, Node, Op, QuorumDevice
from .remote import read_remote
from .tomlpos import dotted, key_positions, line_of, position_of, syntax_position

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from . import agentinfo, crosschecks, description_addresses

# Errors shown of one description; the rest are counted.
MAX_ERRORS = 20


def place(source, line=None, column=None):
    """file, file:line or file:line:column"""
    if line is None:
        return source
    return f"{source}:{line}" if column is None else f"{source}:{line}:{column}"


class DescriptionError(ValueError):
    """A description that cannot become a cluster: str() is one located line,
    `file:line:column: key.path: why`."""

    def __init__(self, source, line, path, why, column=None):
        self.source, self.line, self.column = source, line, column
        self.path, self.why = tuple(path), why
        key = dotted(self.path)
        where = place(source, line, column)
        message = f"{where}: {key}: {why}" if key else f"{where}: {why}"
        # One line whatever the file holds: control characters (even in key names) are escaped.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))

    def sort_key(self):
        return (self.line or 0, self.column or 0, str(self))


class DescriptionErrors(DescriptionError):
    """Every error of one description: str() is one located line each (joined by newlines),
    sorted by line and column, the first MAX_ERRORS of them and then how many more there are.
    Its own attributes (line, path, why...) are those of the first."""

    def __init__(self, errors):
        unique = {str(error): error for error in errors}
        self.errors = sorted(unique.values(), key=DescriptionError.sort_key)
        first = self.errors[0]
        super().__init__(first.source, first.line, first.path, first.why, first.column)
        shown = [str(error) for error in self.errors[:MAX_ERRORS]]
        rest = len(self.errors) - len(shown)
        if rest:
            shown.append(f"... and {rest} more error{'s' if rest > 1 else ''}")
        self.args = ("\n".join(shown),)


def load(path):
    """The checked Cluster of the description at `path`; DescriptionError otherwise."""
    try:
        data = read_regular(path)
    except OSError as exc:
        raise DescriptionError(str(path), None, (), f"cannot read the description: "
                                                    f"{exc.strerror}") from None
    return loads(data, str(path))


# Far more than any real description (1,000 resources take about 100 kB).
MAX_BYTES = 64 * 2**20


def read_regular(path, limit=MAX_BYTES):
    """The bytes of the regular file at `path`; OSError for anything else (a FIFO would block,
    /dev/zero never ends) or a file larger than `limit`."""
    import errno
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


def loads(data, source="<description>"):
    """The checked Cluster of description bytes (or text); `source` names it in errors."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _Reader(data, source).read()


class _Reader(ResourceReader, ConstraintReader):
    def __init__(self, data, source):
        self.data = data
        self.source = source
        self.positions = {}       # key path -> (line, column)
        self.lines = {}           # key path -> line
        self.errors = []          # DescriptionErrors recorded, reported together at the end
        self.broken = set()       # key paths of items whose reading failed
        self.warnings = []
        self.ids = {}             # id -> key path that defined it
        self.unchecked = set()    # agent specs whose parameters could not be checked
        self.node_count = 0       # [nodes.NAME] tables, read or not
        self.elsewhere = set()    # agent specs declared installed on the nodes only

    # Errors and warnings.
    def where(self, path):
        key = dotted(path)
        at = place(self.source, *(position_of(self.positions, path) or ()))
        return f"{at}: {key}" if key else at

    def error(self, path, why):
        # A problem of the whole document (no key of it to point at) is reported at line 1.
        line, column = position_of(self.positions, path) or (1, 1)
        return DescriptionError(self.source, line, path, why, column)

    def fail(self, path, why):
        """Refuse the item being read: `why` is located at `path`."""
        raise self.error(path, why)

    @contextlib.contextmanager
    def collect(self, path=None):
        """Read one item: an error ends it and is recorded (reading goes on with the next);
        `path` then counts as broken, so that nothing depending on it is refused again."""
        try:
            yield
        except DescriptionError as exc:
            self.errors.extend(getattr(exc, "errors", [exc]))
            if path is not None:
                self.broken.add(tuple(path))
        except Reported:
            if path is not None:
                self.broken.add(tuple(path))

    def broken_at(self, path):
        """Whether reading failed for the item at `path`, one containing it or one inside it."""
        path = tuple(path)
        return any(b[:len(path)] == path or path[:len(b)] == b for b in self.broken)

    def no_such(self, path, name, known, what="resource",
                sections=("resources", "groups", "clones")):
        """Refuse a reference to an unknown `name`, unless an item of that name was written
        in one of `sections` and failed: then end the referring item quietly."""
        if any(self.broken_at((section, name)) for section in sections):
            raise Reported()
        failed = [b[1] for b in self.broken if len(b) == 2 and b[0] in sections]
        self.fail(path, f"unknown {what} {name!r}{suggest(name, list(known) + failed)}")

    def warn(self, path, why):
        self.warnings.append(f"{self.where(path)}: {why}")

    # Typed access.
    def table(self, path, value, allowed=None):
        if not isinstance(value, dict):
            self.fail(path, f"must be a table, not {kind(value)}")
        if allowed is not None:
            unknown = [self.error(path + (key,), f"unknown key {key!r}{suggest(key, allowed)}; "
                                                 f"allowed here: {', '.join(allowed)}")
                       for key in value if key not in allowed]
            if unknown:  # each one reported, then the item ends
                self.errors.extend(unknown)
                raise Reported()
        return value

    def string(self, path, value, pattern=None, what="a string"):
        if not isinstance(value, str):
            self.fail(path, f"must be {what}, not {kind(value)}")
        if NOT_XML.search(value):
            self.fail(path, "contains a control character")
        if pattern is not None and not pattern.match(value):
            self.fail(path, f"{value!r} is not {what}")
        return value

    def integer(self, path, value, minimum=None, maximum=None):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be an integer, not {kind(value)}")
        if minimum is not None and value < minimum:
            self.fail(path, f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            self.fail(path, f"must be at most {maximum}, not {value}")
        return value

    def boolean(self, path, value):
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {kind(value)}")
        return value

    def scalar(self, path, value):
        """A value bound for the CIB as text: strings, integers, floats and booleans."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, str)):
            text = str(value)
            if NOT_XML.search(text) or "\r" in text:
                self.fail(path, "contains a control character")
            return text
        self.fail(path, f"must be a string, number or boolean, not {kind(value)}")

    def identifier(self, path, value):
        return self.string(path, value, IDENTIFIER, "an id (a letter or '_', then letters, digits, "
                                             "'.', '-' or '_')")

    def strings(self, path, value, pattern=None, what="a string", nonempty=True):
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {kind(value)}")
        if nonempty and not value:
            self.fail(path, "must not be empty")
        return [self.string(path + (i,), v, pattern, what) for i, v in enumerate(value)]

    def duration(self, path, value):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return f"{value}s"
        text = self.string(path, value, what="a duration")
        if not DURATION.match(text.strip()):
            self.fail(path, f"{text!r} is not a duration (such as 10s, 500ms, 2min)")
        return text.strip()

    def score(self, path, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        text = self.string(path, value, what="a score")
        if not SCORE.match(text):
            self.fail(path, f"{text!r} is not a score (an integer, INFINITY or -INFINITY)")
        return text

    def role(self, path, value):
        text = self.string(path, value, what="a role")
        if text in OLD_ROLES:
            self.fail(path, f"role {text!r} is Pacemaker 1 naming: use {OLD_ROLES[text]!r}")
        if text not in ROLES:
            self.fail(path, f"role {text!r} is not one of {', '.join(ROLES)}")
        return text

    def claim(self, path, identifier):
        if identifier in self.ids:
            other = self.ids[identifier]
            line = line_of(self.positions, other)
            at = f" (line {line})" if line else ""
            self.fail(path, f"duplicate id {identifier!r}: already used by {dotted(other)}{at}")
        self.ids[identifier] = path
        return identifier

    def unique(self, base, path):
        """A pcs-style generated id: base, or base-1, base-2 ... when taken."""
        candidate, n = base, 0
        while candidate in self.ids:
            n += 1
            candidate = f"{base}-{n}"
        return self.claim(path, candidate)

    # The document.
    def read(self):
        doc = self.document()
        cluster = Cluster(name="", source=self.source,
                          digest=hashlib.sha256(self.data).hexdigest())
        with self.collect():
            self.read_cluster(doc, cluster)
        if self.errors:
            raise DescriptionErrors(self.errors)
        for spec in sorted(self.unchecked):
            self.warnings.append(f"{self.source}: parameters of {spec} not checked: no meta-data "
                                 f"for it on this host")
        cluster.warnings = tuple(self.warnings)
        return cluster

    def document(self):
        """The parsed TOML; text that is no TOML is refused at once (nothing can be read)."""
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self.data[:exc.start].count(b"\n") + 1
            column = exc.start - (self.data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise DescriptionError(self.source, line, (), "is not UTF-8 text", column) from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, column, path, why = syntax_position(exc, text)
            raise DescriptionError(self.source, line, path, f"invalid TOML: {why}",
                                   column) from None
        self.positions = key_positions(text)
        self.lines = {path: line for path, (line, _) in self.positions.items()}
        return doc

    def read_cluster(self, doc, cluster):
        """Read every item of the document into `cluster`, recording each item's error."""
        with self.collect():
            self.table((), doc, DESCRIPTION.allowed(""))
        with self.collect(("cluster",)):
            cluster.name = self.cluster_name(doc)
        with self.collect(("properties",)):
            cluster.properties = self.properties(doc.get("properties", {}))
        with self.collect(("defaults",)):
            cluster.rsc_defaults = self.meta(("defaults",), doc.get("defaults", {}),
                                             RESOURCE_META)
        for section, read in (("op_defaults", self.op_defaults), ("corosync", self.corosync),
                              ("nodes", self.nodes)):
            with self.collect((section,)):
                setattr(cluster, section, read(doc.get(section, {})))
        templates, resources, declared = {}, {}, {}
        with self.collect(("templates",)):
            templates = self.table(("templates",), doc.get("templates", {}))
        for section in ("resources", "groups", "clones"):
            with self.collect((section,)):
                declared[section] = self.table((section,), doc.get(section, {}))
                for rid in declared[section]:
                    with self.collect((section, rid)):
                        self.claim((section, rid), self.identifier((section, rid), rid))
        resources = declared.get("resources", {})

        def readable(section):
            return {rid: spec for rid, spec in declared.get(section, {}).items()
                    if not self.broken_at((section, rid))}

        nodes = doc.get("nodes", {})
        node_count = len(nodes) if isinstance(nodes, dict) else len(cluster.nodes)
        self.node_count = node_count
        with self.collect():
            cluster.groups = self.groups(readable("groups"), resources)
        with self.collect():
            cluster.clones = self.clones(readable("clones"), resources, cluster.groups,
                                         node_count)
        promotable = set()
        for clone in cluster.clones:
            if clone.promotable:
                promotable.add(clone.child)
                promotable.update(next((g.members for g in cluster.groups if g.id == clone.child),
                                       ()))
        for rid, spec in readable("resources").items():
            with self.collect(("resources", rid)):
                cluster.primitives.append(self.primitive(rid, spec, templates, rid in promotable))
        self.drop_incomplete(cluster)
        for check in (self.check_promotable, self.check_unique, self.fencing_devices):
            with self.collect():
                check(cluster)
        self.kinds = cluster.resource_kinds()
        self.parent = cluster.parents()
        self.promotable_clones = {c.id for c in cluster.clones if c.promotable}
        for name, read in (("order", self.order), ("colocation", self.colocation),
                           ("location", self.locations)):
            with self.collect((name,)):
                for index, spec in enumerate(self.array(name, doc)):
                    with self.collect((name, index)):
                        if name == "location":
                            cluster.locations += read(index, spec, cluster)
                        else:
                            getattr(cluster, name + "s").append(read(index, spec))
        with self.collect():
            description_addresses.own_addresses(self, cluster)
        description_addresses.health_settings(cluster)
        with self.collect():
            self.check_cycles(cluster)
        with self.collect(("alerts",)):
            cluster.alerts = read_alerts(self, doc.get("alerts", {}))
        with self.collect(("remote",)):
            cluster.remote = read_remote(self, doc.get("remote", {}),
                                         doc.get("remote_nodes", {}), cluster.nodes)
        with self.collect():
            self.check_cluster(cluster)
        with self.collect():
            crosschecks.check(self, cluster)

    def drop_incomplete(self, cluster):
        """Groups and clones holding a resource that failed to read are left out as well
        (quietly: that resource's error says what is wrong), so that every later check sees
        only complete resources."""
        read = {p.id for p in cluster.primitives}
        for group in list(cluster.groups):
            if not set(group.members) <= read:
                cluster.groups.remove(group)
                self.broken.add(("groups", group.id))
        read.update(g.id for g in cluster.groups)
        for clone in list(cluster.clones):
            if clone.child not in read:
                cluster.clones.remove(clone)
                self.broken.add(("clones", clone.id))

    def cluster_name(self, doc):
        """[cluster]: the cluster's name, and the agents provided elsewhere."""
        if "cluster" not in doc:
            self.fail((), "missing [cluster] table with the cluster's name")
        cluster_table = self.table(("cluster",), doc["cluster"],
                                   DESCRIPTION.allowed("cluster"))
        # Agents the cluster nodes have but this host has not: used unchecked, not refused.
        self.elsewhere = set(self.strings(("cluster", "provided_elsewhere"),
                                          cluster_table.get("provided_elsewhere", []),
                                          nonempty=False))
        if "name" not in cluster_table:
            self.fail(("cluster",), "missing key 'name'")
        return self.string(("cluster", "name"), cluster_table["name"],
                           re.compile(r"[A-Za-z0-9_.-]{1,32}\Z"),
                           "a cluster name (up to 32 letters, digits, '.', '-', '_')")

    def array(self, name, doc):
        value = doc.get(name, [])
        if not isinstance(value, list):
            self.fail((name,), f"must be an array of tables ([[{name}]]), not {kind(value)}")
        return value

    # Cluster-wide settings.
    def properties(self, value):
        table = self.table(("properties",), value)
        known = agentinfo.cluster_options()
        out = {}
        for key, raw in table.items():
            with self.collect(("properties", key)):
                out[key] = self.property(known, key, raw)
        return out

    def property(self, known, key, raw):
        path = ("properties", key)
        if key in MANAGED_PROPERTIES:
            self.fail(path, f"{key} {MANAGED_PROPERTIES[key]}")
        if known is not None and key not in known:
            self.fail(path, f"unknown cluster option {key!r}{suggest(key, known)}")
        text = self.scalar(path, raw)
        if key == "placement-strategy" and text not in PLACEMENT:
            self.fail(path, f"must be one of {', '.join(PLACEMENT)}, not {text!r}")
        check = known[key].check if known else None
        if check is not None:
            try:
                check(text)
            except ValueError as exc:
                self.fail(path, f"cluster option {key!r} {exc}")
        return text

    def meta(self, path, value, allowed):
        table = self.table(path, value)
        out = {}
        for key, raw in table.items():
            with self.collect(path + (key,)):
                out[key] = self.meta_attribute(path + (key,), key, raw, allowed)
        return out

    def meta_attribute(self, where, key, raw, allowed):
        if key not in allowed:
            hint = " (a clone option: put it in the clone's meta)" if key in CLONE_META else ""
            self.fail(where, f"unknown meta attribute {key!r}{suggest(key, allowed)}{hint}")
        text = self.scalar(where, raw)
        if key == "target-role":
            self.role(where, text)
        elif key in ("resource-stickiness", "priority"):
            self.score(where, raw)
        elif key == "migration-threshold":
            text = self.score(where, raw)
        elif key == "failure-timeout":
            text = self.duration(where, raw)
        elif key == "requires":
            text = self.choice(where, raw, REQUIRES)
        elif key == "multiple-active":
            text = self.choice(where, raw, MULTIPLE_ACTIVE)
        elif key in ("is-managed", "maintenance", "critical", "allow-migrate", "notify",
                     "globally-unique", "ordered", "interleave", "allow-unhealthy-nodes"):
            self.boolean(where, raw)
        elif key in ("clone-max", "clone-node-max", "clone-min", "promoted-max",
                     "promoted-node-max"):
            self.integer(where, raw, minimum=0)
        return text

    def op_defaults(self, value):
        table = self.table(("op_defaults",), value, DESCRIPTION.allowed("op_defaults"))
        out = {}
        for key, raw in table.items():
            path = ("op_defaults", key)
            if key in ("timeout", "interval"):
                out[key] = self.duration(path, raw)
            elif key == "requires":
                out[key] = self.choice(path, raw, REQUIRES)
            else:
                out[key] = self.op_attribute(path, key, raw)
        return out

    def corosync(self, value):
        table = self.table(("corosync",), value, DESCRIPTION.allowed("corosync"))
        # Without a [corosync] table, corosync's own checks point at [cluster].
        out = Corosync(origin=self.where(("corosync",) if ("corosync",) in self.lines
                                         else ("cluster",)))
        path = ("corosync",)
        if "transport" in table:
            out.transport = self.string(path + ("transport",), table["transport"])
            if out.transport != "knet":
                self.fail(path + ("transport",), f"transport {out.transport!r}: ocfgen "
                                                 f"generates knet (corosync 3's transport) only")
        for key in ("crypto", "two_node", "wait_for_all", "debug"):
            if key in table:
                setattr(out, key, self.boolean(path + (key,), table[key]))
        for key in ("cipher", "hash", "keyfile", "logfile"):
            if key in table:
                setattr(out, key, self.string(path + (key,), table[key]))
        # corosync reads its totem times as 32-bit unsigned integers.
        for key in ("token", "consensus"):
            if key in table:
                setattr(out, key, self.integer(path + (key,), table[key], 1, 2**32 - 1))
        if "token_coefficient" in table:
            out.token_coefficient = self.integer(path + ("token_coefficient",),
                                                 table["token_coefficient"], 0, 2**32 - 1)
        if "link_priorities" in table:
            raw = table["link_priorities"]
            if not isinstance(raw, list):
                self.fail(path + ("link_priorities",), f"must be a list, not {kind(raw)}")
            out.link_priorities = [self.integer(path + ("link_priorities", i), v, 0, 255)
                                   for i, v in enumerate(raw)]
        if "qdevice" in table:
            qpath = path + ("qdevice",)
            qd = self.table(qpath, table["qdevice"], DESCRIPTION.allowed("corosync.qdevice"))
            if "host" not in qd:
                self.fail(qpath, "missing key 'host'")
            out.qdevice = QuorumDevice(self.string(qpath + ("host",), qd["host"]),
                                       self.string(qpath + ("algorithm",),
                                                   qd.get("algorithm", "ffsplit")),
                                       self.where(qpath))
        return out

    # Nodes and their fencing.
    def nodes(self, value):
        table = self.table(("nodes",), value)
        nodes, ids, addresses = [], {}, {}
        for index, (name, spec) in enumerate(table.items()):
            with self.collect(("nodes", name)):
                nodes.append(self.node(index, name, spec, ids, addresses))
        return nodes

    def node(self, index, name, spec, ids, addresses):
        """One [nodes.NAME] table; `ids` and `addresses` (node id / ring address -> node name)
        gather those of the nodes read before it."""
        path = ("nodes", name)
        self.string(path, name, HOSTNAME, "a node name (a host name)")
        spec = self.table(path, spec, DESCRIPTION.allowed("nodes"))
        nodeid = self.integer(path + ("id",), spec["id"], 1, 2**32 - 1) if (
            "id" in spec) else index + 1
        if nodeid in ids:
            self.fail(path + ("id",), f"node id {nodeid} is already used by node {ids[nodeid]}")
        ids[nodeid] = name
        node = Node(name=name, id=nodeid, origin=self.where(path))
        if "addresses" in spec:
            node.addresses = self.strings(path + ("addresses",), spec["addresses"])
            if len(node.addresses) > 2:
                self.fail(path + ("addresses",), "a node has one or two ring addresses "
                                                 "(one per knet link)")
            for ring, address in enumerate(node.addresses):
                where = path + ("addresses", ring)
                try:
                    parsed = ipaddress.ip_address(address)
                except ValueError:
                    self.fail(where, f"{address!r} is not an IP address")
                if parsed in addresses:
                    self.fail(where, f"address {address} is already used by node "
                                     f"{addresses[parsed]}")
                addresses[parsed] = name
        for key in ("attributes", "utilization"):
            attrs = self.table(path + (key,), spec.get(key, {}))
            for attr, raw in attrs.items():
                where = path + (key, attr)
                self.string(where, attr, ATTRIBUTE, "an attribute name")
                if attr.startswith("#"):
                    self.fail(where, "names starting with '#' are Pacemaker's built-in "
                                     "node attributes")
                if key == "utilization":
                    self.integer(where, raw, minimum=0)
                getattr(node, key)[attr] = self.scalar(where, raw)
        if "fencing" in spec:
            node.fencing = self.fencing(path + ("fencing",), spec["fencing"], name)
        return node

    def fencing(self, path, value, node):
        if not isinstance(value, list):
            self.fail(path, f"must be an array of tables ([[{dotted(path)}]]), not {kind(value)}")
        devices = []
        for index, raw in enumerate(value):
            with self.collect(path + (index,)):
                devices.append(self.fence_device(path + (index,), index, raw, node))
        return devices

    def fence_device(self, where, index, raw, node):
        """One [[nodes.NODE.fencing]] device, the `index`th of its node."""
        spec = self.table(where, raw, DESCRIPTION.allowed("nodes.fencing"))
        if "agent" not in spec:
            self.fail(where, "missing key 'agent' (a fence agent such as fence_ipmilan)")
        agent = self.string(where + ("agent",), spec["agent"])
        agent = agent[len("stonith:"):] if agent.startswith("stonith:") else agent
        if not re.match(r"fence_[A-Za-z0-9_-]+\Z", agent):
            self.fail(where + ("agent",), f"{agent!r} is not a fence agent (fence_...)")
        short = agent[len("fence_"):]
        if "id" in spec:
            did = self.claim(where + ("id",), self.identifier(where + ("id",), spec["id"]))
        else:
            did = self.unique(f"fence-{node}-{short}", where)
        level = self.integer(where + ("level",), spec["level"], 1, 9) if (
            "level" in spec) else index + 1
        params = {}
        for key, given in self.table(where + ("params",), spec.get("params", {})).items():
            ppath = where + ("params", key)
            self.string(ppath, key, PARAM_NAME, "a parameter name")
            if any(word in key.lower() for word in SECRET_WORDS) and not key.endswith(
                    "_script"):
                self.fail(ppath, f"inline secret {key!r}: the CIB is copied to every node "
                                 f"and into every report; name a script that prints it "
                                 f"with password_script instead")
            params[key] = self.scalar(ppath, given)
        self.bmc_address(where + ("params",), params)
        if "pcmk_host_list" not in params and "pcmk_host_map" not in params:
            params["pcmk_host_list"] = node
        self.check_params(where, "stonith", None, agent, params)
        monitor = Op(self.unique(f"{did}-monitor-interval-60s", where), "monitor", "60s")
        return FenceDevice(did, agent, node, level, params, [monitor], self.where(where))

    def bmc_address(self, path, params):
        """A fence device's management address is an IP address or a host name, its port
        (ipport) a UDP/TCP port."""
        for key in ("ip", "ipaddr"):
            if key in params:
                text = params[key].strip()
                try:
                    ipaddress.ip_address(text)
                except ValueError:
                    if re.match(r"[0-9.]+\Z", text) or not HOSTNAME.match(text):
                        self.fail(path + (key,), f"{params[key]!r} is not an IP address or a "
                                                 f"host name")
        if "ipport" in params:
            text = params["ipport"].strip()
            if not text.isdigit() or not 1 <= int(text) <= 65535:
                self.fail(path + ("ipport",), f"port {params['ipport']!r} is out of range: a "
                                              f"port is 1 to 65535")

    # Resources.
    def check_cluster(self, cluster):
        # Nodes that failed to read count: the count is what the description says.
        if cluster.corosync.two_node and self.node_count != 2:
            self.fail(("corosync", "two_node"), f"two_node is set but the cluster has "
                                                f"{self.node_count} node(s), not two")
        with_addresses = [n for n in cluster.nodes if n.addresses]
        if with_addresses and len(with_addresses) != len(cluster.nodes):
            missing = next(n for n in cluster.nodes if not n.addresses)
            self.fail(("nodes", missing.name), "has no addresses while other nodes have: "
                                               "corosync needs a ring address for every node")
        rings = {len(n.addresses) for n in with_addresses}
        if len(rings) > 1:
            odd = next(n for n in with_addresses if len(n.addresses) != len(
                with_addresses[0].addresses))
            self.fail(("nodes", odd.name, "addresses"), f"{len(odd.addresses)} ring addresses, "
                      f"node {with_addresses[0].name} has {len(with_addresses[0].addresses)}: "
                      f"every node needs one on each link")
        placement = cluster.properties.get("placement-strategy", "default")
        used = any(n.utilization for n in cluster.nodes) or any(
            p.utilization for p in cluster.primitives)
        if used and placement == "default":
            self.warn(("properties",), "utilization is set but placement-strategy is default, "
                                       "so Pacemaker ignores it")
        if placement != "default" and not any(n.utilization for n in cluster.nodes):
            self.warn(("properties", "placement-strategy"), "no node has utilization: the "
                                                            "strategy has nothing to balance")
