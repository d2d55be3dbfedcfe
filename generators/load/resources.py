"""Resources of a description: primitives (with templates, parameters checked against the
agent's declarations, operations, meta attributes), groups and clones. Plain functions of the
reader (reader.Reader) and the TOML value they read."""

import re

from ..model.cluster import Clone, Group, Op, Primitive
from . import addresses, agents
from .keys import DESCRIPTION
from .values import (
    ATTRIBUTE,
    CLONE_META,
    DEFAULT_OPS,
    MULTIPLE_ACTIVE,
    ON_FAIL,
    OP_ATTRIBUTES,
    OPERATIONS,
    PARAM_NAME,
    REQUIRES,
    RESOURCE_META,
    Reported,
    kind,
    normal,
    seconds,
    suggest,
)

# Clone instances a description may ask for in all (per clone).
MAX_INSTANCES = 1024


def read(reader, doc, cluster):
    """[templates], [resources], [groups] and [clones] into `cluster`: ids claimed first, then
    groups and clones (a resource needs to know whether it is promotable), then primitives."""
    templates, declared = {}, {}
    with reader.collect(("templates",)):
        templates = reader.table(("templates",), doc.get("templates", {}))
    for section in ("resources", "groups", "clones"):
        with reader.collect((section,)):
            declared[section] = reader.table((section,), doc.get(section, {}))
            for rid in declared[section]:
                with reader.collect((section, rid)):
                    reader.claim((section, rid), reader.identifier((section, rid), rid))
    resource_tables = declared.get("resources", {})

    def readable(section):
        return {rid: spec for rid, spec in declared.get(section, {}).items()
                if not reader.broken_at((section, rid))}

    node_count = reader.node_count
    with reader.collect():
        cluster.groups = read_groups(reader, readable("groups"), resource_tables)
    with reader.collect():
        cluster.clones = read_clones(reader, readable("clones"), resource_tables,
                                     cluster.groups, node_count)
    promotable = set()
    for clone in cluster.clones:
        if clone.promotable:
            promotable.add(clone.child)
            promotable.update(next((g.members for g in cluster.groups if g.id == clone.child),
                                   ()))
    for rid, spec in readable("resources").items():
        with reader.collect(("resources", rid)):
            cluster.primitives.append(read_primitive(
                reader, rid, spec, templates, rid in promotable))
    drop_incomplete(reader, cluster)


def drop_incomplete(reader, cluster):
    """Groups and clones holding a resource that failed to read are left out as well
    (quietly: that resource's error says what is wrong), so that every later check sees
    only complete resources."""
    read = {p.id for p in cluster.primitives}
    for group in list(cluster.groups):
        if not set(group.members) <= read:
            cluster.groups.remove(group)
            reader.broken.add(("groups", group.id))
    read.update(g.id for g in cluster.groups)
    for clone in list(cluster.clones):
        if clone.child not in read:
            cluster.clones.remove(clone)
            reader.broken.add(("clones", clone.id))


def type_mismatch(declared, value):
    """Why a TOML value cannot stand for a parameter of the declared type; '' when it can.

    Text and integers are checked by the parameter's own syntax check, as the agent will see
    them. A TOML boolean stands only for a boolean parameter: anywhere else (user = true) it is
    refused rather than turned into the word "true"; a fraction is no integer or boolean.
    """
    if isinstance(value, bool):
        return "" if declared == "boolean" else f"is declared {declared}, not a boolean " \
                                                  f"(write it as a string if you mean the text)"
    if isinstance(value, float):
        return "" if declared not in ("integer", "boolean") else (
            f"is declared {declared}, not a number with a fraction")
    return ""


def read_primitive(reader, rid, raw, templates, promotable):
    path = ("resources", rid)
    keys = DESCRIPTION.allowed("resources")
    spec = reader.table(path, raw, keys)
    merged = {}
    if "template" in spec:
        tname = reader.string(path + ("template",), spec["template"])
        if tname not in templates:
            reader.fail(path + ("template",), f"unknown template {tname!r}"
                                              f"{suggest(tname, templates)}")
        tpath = ("templates", tname)
        template = reader.table(tpath, templates[tname], DESCRIPTION.allowed("templates"))
        for key, value in template.items():
            merged[key] = (tpath + (key,), value)
    for key, value in spec.items():
        if key in ("params", "meta", "utilization") and key in merged:
            base = reader.table(merged[key][0], merged[key][1])
            combined = dict(base)
            combined.update(reader.table(path + (key,), value))
            merged[key] = (path + (key,), combined)
        elif key != "template":
            merged[key] = (path + (key,), value)
    if "agent" not in merged:
        reader.fail(path, "missing key 'agent' (such as ocf:heartbeat:IPaddr2 or systemd:httpd)")
    apath, agent = merged["agent"]
    standard, provider, agent_type = agent_spec(reader, apath, agent)
    prim = Primitive(id=rid, standard=standard, provider=provider, type=agent_type,
                     template=spec.get("template"), origin=reader.where(path))
    if "description" in merged:
        prim.description = reader.string(*merged["description"])
    typed = {}
    if "params" in merged:
        ppath, params = merged["params"]
        for key, value in reader.table(ppath, params).items():
            reader.string(ppath + (key,), key, PARAM_NAME, "a parameter name")
            prim.params[key] = reader.scalar(ppath + (key,), value)
            typed[key] = value
    addresses.read_keys(reader, merged, prim)
    info = check_params(reader, path if "params" not in merged else merged["params"][0],
                                standard, provider, agent_type, prim.params, apath, typed)
    if "meta" in merged:
        prim.meta = read_meta(reader, merged["meta"][0], merged["meta"][1], RESOURCE_META)
    if "utilization" in merged:
        upath, util = merged["utilization"]
        for key, value in reader.table(upath, util).items():
            reader.string(upath + (key,), key, ATTRIBUTE, "a utilization name")
            prim.utilization[key] = str(reader.integer(upath + (key,), value, minimum=0))
    prim.ops = read_ops(reader, rid, merged.get("ops"), info, standard, promotable)
    return prim


def agent_spec(reader, path, value):
    text = reader.string(path, value, what="an agent such as ocf:heartbeat:IPaddr2")
    parts = text.split(":")
    # A provider or type names a directory or file under /usr/lib/ocf: never "." or "..".
    word = re.compile(r"(?!\.+\Z)[A-Za-z0-9_.@-]+\Z")
    if len(parts) == 3 and parts[0] == "ocf" and all(word.match(p) for p in parts[1:]):
        return "ocf", parts[1], parts[2]
    if len(parts) == 2 and parts[0] in ("systemd", "lsb", "service") and word.match(parts[1]):
        return parts[0], None, parts[1]
    if len(parts) == 2 and parts[0] == "stonith":
        reader.fail(path, "fencing devices belong to their node: [[nodes.NAME.fencing]]")
    reader.fail(path, f"{text!r} is not an agent (ocf:PROVIDER:TYPE, systemd:UNIT, lsb:NAME "
                      f"or service:NAME)")


def check_params(reader, path, standard, provider, agent_type, params, agent_path=None,
                 typed=None):
    """Check params ({name: text}) against the agent's declarations: names, each value's
    type (`typed` holds the values as the TOML gave them) and syntax, required ones, and
    the agent's rules across parameters. The AgentInfo, or None for an unknown agent."""
    agent_path = agent_path or path + ("agent",)
    spec = f"{standard}:{provider}:{agent_type}" if provider else f"{standard}:{agent_type}"
    if standard in ("systemd", "lsb", "service"):
        if params:
            reader.fail(path, f"{spec} takes no parameters")
        return None
    try:
        info = agents.agent_info(standard, provider, agent_type)
    except LookupError as exc:
        reader.fail(agent_path, str(exc))
    if info is None:
        missing = agents.not_installed(standard, provider, agent_type)
        if missing and spec not in reader.elsewhere:
            reader.fail(agent_path, f"{missing}; if the cluster nodes have it, list "
                                    f"{spec!r} in [cluster] provided_elsewhere")
        reader.unchecked.add(spec)
        return None
    recorded = len(reader.errors)
    for key, raw in params.items():
        with reader.collect():
            where = path + (key,) if path[-1] == "params" else path + ("params", key)
            known = info.params.get(key)
            if known is None:
                if key in info.extra_names:
                    continue
                reader.fail(where, f"unknown parameter {key!r} for {spec}"
                                   f"{suggest(key, list(info.params) + list(info.extra_names))}")
            if typed is not None and key in typed:
                mismatch = type_mismatch(known.kind, typed[key])
                if mismatch:
                    reader.fail(where, f"parameter {key!r} {mismatch}")
            if known.check is not None:
                try:
                    known.check(raw)
                except ValueError as exc:
                    reader.fail(where, f"parameter {key!r} {exc}")
    if len(reader.errors) > recorded:  # each bad parameter is reported: the item ends here
        raise Reported()
    for name, known in info.params.items():
        if known.required and name not in params:
            reader.fail(path, f"missing required parameter {name!r} of {spec}")
    if info.check_set is not None:
        for name, why in info.check_set(params):
            where = path + (name,) if path[-1] == "params" else path + ("params", name)
            reader.fail(where if name in params else path,
                        f"parameter {name!r} {why} ({spec}'s rule)")
    return info


def read_ops(reader, rid, entry, info, standard, promotable):
    given, written_at = [], {}
    if entry is not None:
        path, raw = entry
        if not isinstance(raw, list):
            reader.fail(path, f"must be a list of tables, not {kind(raw)}")
        recorded = len(reader.errors)
        for index, spec in enumerate(raw):
            with reader.collect():
                given.append(read_op(reader, path + (index,), spec, info, promotable))
                written_at[id(given[-1])] = path + (index,)
        if len(reader.errors) > recorded:  # each bad operation is reported: the item ends here
            raise Reported()
    names = {op.name for op in given}
    ops = []
    for op in default_ops(reader, info, standard, promotable):
        if op.name not in names:
            ops.append(op)
    ops.extend(given)
    order = {name: i for i, name in enumerate(DEFAULT_OPS)}
    ops.sort(key=lambda op: order.get(op.name, len(order)))
    seen = set()
    for op in ops:
        where = written_at.get(id(op), ("resources", rid))
        key = (op.name, seconds(op.interval))
        if key in seen:
            reader.fail(where, f"two {op.name} operations with interval {op.interval}: "
                               f"Pacemaker tells operations apart by name and interval")
        seen.add(key)
        op.id = reader.unique(f"{rid}-{op.name}-interval-{op.interval}", where)
    return ops


def read_op(reader, path, raw, info, promotable):
    spec = reader.table(path, raw, DESCRIPTION.allowed("resources.ops"))
    if "name" not in spec:
        reader.fail(path, "missing key 'name' (start, stop, monitor, ...)")
    name = reader.string(path + ("name",), spec["name"])
    actions = [a.name for a in info.actions] if info is not None else OPERATIONS
    actions = list(dict.fromkeys(actions))
    if name not in actions or name in ("meta-data", "validate-all"):
        usable = [a for a in actions if a not in ("meta-data", "validate-all")]
        reader.fail(path + ("name",), f"operation {name!r} is not one the agent has "
                                      f"({', '.join(usable)}){suggest(name, usable)}")
    op = Op(id="", name=name, origin=reader.where(path))
    if "interval" in spec:
        op.interval = reader.duration(path + ("interval",), spec["interval"])
    if name != "monitor" and seconds(op.interval) != 0:
        reader.fail(path + ("interval",), f"only monitors repeat: {name} has interval 0")
    if name == "monitor" and "interval" not in spec:
        reader.fail(path, "a monitor needs an interval")
    if "timeout" in spec:
        op.timeout = reader.duration(path + ("timeout",), spec["timeout"])
    if "role" in spec:
        op.role = reader.role(path + ("role",), spec["role"])
        if op.role in ("Promoted", "Unpromoted") and not promotable:
            reader.fail(path + ("role",), f"role {op.role} needs the resource in a promotable "
                                          f"clone")
    if "OCF_CHECK_LEVEL" in spec:
        if name != "monitor":
            reader.fail(path + ("OCF_CHECK_LEVEL",), "only monitors have a check level")
        op.check_level = reader.integer(path + ("OCF_CHECK_LEVEL",), spec["OCF_CHECK_LEVEL"],
                                        0, 100)
    for key in OP_ATTRIBUTES:
        if key in spec:
            op.extra[key] = op_attribute(reader, path + (key,), key, spec[key])
    if "start-delay" in spec and "interval-origin" in spec:
        reader.fail(path + ("interval-origin",), "an operation has start-delay or "
                                                 "interval-origin, not both")
    return op


def op_attribute(reader, path, key, raw):
    """An operation attribute (also in [op_defaults]) as the CIB schema takes it."""
    if key == "on-fail":
        return reader.choice(path, raw, ON_FAIL)
    if key in ("enabled", "record-pending"):
        return reader.scalar(path, reader.boolean(path, raw))
    if key == "start-delay":
        return reader.duration(path, raw)
    return reader.scalar(path, raw)


def default_ops(reader, info, standard, promotable):
    """The agent's advertised actions, as pcs copies them into a new resource."""
    if info is None:
        if standard in ("systemd", "service", "lsb"):
            return [Op("", "start", "0s", "100s"), Op("", "stop", "0s", "100s"),
                    Op("", "monitor", "60s", "100s")]
        return [Op("", "monitor", "10s", "20s")]
    ops, monitors = [], []
    for action in info.actions:
        if action.name not in DEFAULT_OPS:
            continue
        if action.name in ("promote", "demote") and not promotable:
            continue
        if action.name == "monitor":
            monitors.append(action)
            continue
        ops.append(Op("", action.name, "0s", action.timeout))
    plain = [m for m in monitors if m.role not in ("Promoted", "Unpromoted")]
    if promotable and any(m.role for m in monitors):
        chosen = [m for m in monitors if m.role in ("Promoted", "Unpromoted")]
    else:
        chosen = plain[:1] or [m for m in monitors if m.role == "Unpromoted"][:1]
        chosen = [type(m)(m.name, m.timeout, m.interval, None, m.depth) for m in chosen]
    for m in chosen:
        interval = m.interval if m.interval and seconds(m.interval) else "10s"
        ops.append(Op("", "monitor", normal(interval), m.timeout,
                      m.role if promotable else None))
    return ops


def read_meta(reader, path, value, allowed):
    table = reader.table(path, value)
    out = {}
    for key, raw in table.items():
        with reader.collect(path + (key,)):
            out[key] = meta_attribute(reader, path + (key,), key, raw, allowed)
    return out


def meta_attribute(reader, where, key, raw, allowed):
    if key not in allowed:
        hint = " (a clone option: put it in the clone's meta)" if key in CLONE_META else ""
        reader.fail(where, f"unknown meta attribute {key!r}{suggest(key, allowed)}{hint}")
    text = reader.scalar(where, raw)
    if key == "target-role":
        reader.role(where, text)
    elif key in ("resource-stickiness", "priority"):
        reader.score(where, raw)
    elif key == "migration-threshold":
        text = reader.score(where, raw)
    elif key == "failure-timeout":
        text = reader.duration(where, raw)
    elif key == "requires":
        text = reader.choice(where, raw, REQUIRES)
    elif key == "multiple-active":
        text = reader.choice(where, raw, MULTIPLE_ACTIVE)
    elif key in ("is-managed", "maintenance", "critical", "allow-migrate", "notify",
                 "globally-unique", "ordered", "interleave", "allow-unhealthy-nodes"):
        reader.boolean(where, raw)
    elif key in ("clone-max", "clone-node-max", "clone-min", "promoted-max",
                 "promoted-node-max"):
        reader.integer(where, raw, minimum=0)
    return text


def read_groups(reader, value, resources):
    groups, member_of = [], {}
    for gid, raw in reader.table(("groups",), value).items():
        path = ("groups", gid)
        with reader.collect(path):
            spec = reader.table(path, raw, DESCRIPTION.allowed("groups"))
            if "resources" not in spec:
                reader.fail(path, "missing key 'resources' (the member resources, in start order)")
            members = reader.strings(path + ("resources",), spec["resources"])
            for index, member in enumerate(members):
                where = path + ("resources", index)
                if member not in resources:  # every resource written, read or not
                    reader.no_such(where, member, resources, "resource", sections=())
                if member in member_of:
                    reader.fail(where, f"{member!r} is already a member of group {member_of[member]!r}")
                member_of[member] = gid
            groups.append(Group(gid, members, read_meta(reader, path + ("meta",), spec.get("meta", {}),
                                                        RESOURCE_META), reader.where(path)))
    return groups


def read_clones(reader, value, resources, groups, node_count):
    group_ids = {g.id: g for g in groups}
    in_group = {m: g.id for g in groups for m in g.members}
    clones, cloned = [], {}
    for cid, raw in reader.table(("clones",), value).items():
        path = ("clones", cid)
        with reader.collect(path):
            spec = reader.table(path, raw, DESCRIPTION.allowed("clones"))
            if "resource" not in spec:
                reader.fail(path, "missing key 'resource' (the resource or group to clone)")
            child = reader.string(path + ("resource",), spec["resource"])
            where = path + ("resource",)
            if child not in resources and child not in group_ids:
                reader.no_such(where, child, list(resources) + list(group_ids),
                               "resource or group", ("resources", "groups"))
            if child in in_group:
                reader.fail(where, f"{child!r} is a member of group {in_group[child]!r}: clone "
                                   f"the group")
            if child in cloned:
                reader.fail(where, f"{child!r} is already cloned by {cloned[child]!r}")
            cloned[child] = cid
            promotable = reader.boolean(path + ("promotable",), spec.get("promotable", False))
            meta = read_meta(reader, path + ("meta",), spec.get("meta", {}), RESOURCE_META + CLONE_META)
            if not promotable and any(k.startswith("promoted-") for k in meta):
                reader.fail(path + ("meta",), "promoted-max and promoted-node-max need "
                                              "promotable = true")
            check_clone_counts(reader, path + ("meta",), meta, node_count)
            clones.append(Clone(cid, child, promotable, meta, reader.where(path)))
    return clones


def check_clone_counts(reader, path, meta, node_count):
    """Instances beyond what the nodes can run only cost: Pacemaker creates every one
    (a clone-max in the hundreds of thousands stalls the scheduler)."""
    per_node = int(meta.get("clone-node-max", "1"))
    if per_node > MAX_INSTANCES:
        reader.fail(path + ("clone-node-max",), f"clone-node-max {per_node} is more than "
                                                f"{MAX_INSTANCES} instances")
    limit = min(node_count * per_node, MAX_INSTANCES) if node_count else MAX_INSTANCES
    clone_max = int(meta.get("clone-max", str(max(node_count, 1))))
    if clone_max > limit:
        reader.fail(path + ("clone-max",), f"clone-max {clone_max} is more instances than "
                                           f"{node_count} node(s) with clone-node-max "
                                           f"{per_node} can run (at most {limit})")
    promoted = int(meta.get("promoted-max", "1"))
    if promoted > clone_max:
        reader.fail(path + ("promoted-max",), f"promoted-max {promoted} is more than clone-max "
                                              f"{clone_max}")


def check_unique(reader, cluster):
    """Values of an agent's unique parameters may not repeat across its resources."""
    seen = {}
    for prim in cluster.primitives:
        try:
            info = agents.agent_info(prim.standard, prim.provider, prim.type)
        except LookupError:
            info = None
        if info is None:
            continue
        groups = {}
        for name, param in info.params.items():
            if param.unique_group:
                groups.setdefault(param.unique_group, []).append(name)
        for group, names in sorted(groups.items()):
            values = tuple(prim.params.get(n, info.params[n].default or "") for n in names)
            if not any(values):
                continue
            key = (prim.agent, group, values)
            path = ("resources", prim.id, "params", names[0]) if names[0] in prim.params else (
                "resources", prim.id)
            if key in seen:
                shown = ", ".join(f"{n}={v}" for n, v in zip(names, values))
                reader.fail(path, f"{shown} is also used by resource {seen[key]!r}: "
                                  f"{prim.agent} needs it unique to each resource")
            seen[key] = prim.id


def check_consoles(reader, cluster):
    """ocf:ocfpy:epics-ioc consoles as procServ binds them (agents.procserv.console_of): on
    127.0.0.1 whatever address a value names, so such a value is refused, and no two IOCs may
    share a console port, however they spell it (the second procServ on a node would exit)."""
    from ocfpy.agents.procserv import console_elsewhere, parse_console

    ports = {}  # port -> (resource, console value)
    for prim in cluster.primitives:
        value = prim.params.get("console", "") if prim.agent == addresses.IOC_AGENT else ""
        if not value:
            continue
        path = ("resources", prim.id, "params", "console")
        with reader.collect():
            if console_elsewhere(value):
                reader.fail(path, f"{value!r} names {console_elsewhere(value)}, but procServ binds "
                                  f"its console to 127.0.0.1 whatever address it names: leave "
                                  f"console out (the IOC's own unix socket) or give a PORT")
            try:
                kind, _, port = parse_console(value)
            except ValueError:
                continue  # the parameter's own check says why
            if kind != "tcp":
                continue
            other, spelled = ports.setdefault(port, (prim.id, value))
            if other != prim.id and spelled != value:  # the same text: check_unique says so
                reader.fail(path, f"console port {port} is also {other!r}'s ({spelled!r}): "
                                  f"procServ binds both to 127.0.0.1, so on one node the second "
                                  f"IOC could not start; give each its own port")


def check_promotable(reader, cluster):
    prims = {p.id: p for p in cluster.primitives}
    groups = {g.id: g for g in cluster.groups}
    for clone in cluster.clones:
        if not clone.promotable:
            continue
        members = groups[clone.child].members if clone.child in groups else [clone.child]
        for member in members:
            prim = prims.get(member)
            if prim is None:  # its reading failed: its own error is reported
                continue
            try:
                info = agents.agent_info(prim.standard, prim.provider, prim.type)
            except LookupError:
                info = None
            if prim.standard != "ocf" or (info is not None and not info.promotable):
                reader.fail(("clones", clone.id, "promotable"),
                            f"{prim.agent} (resource {member!r}) has no promote and demote "
                            f"actions, so it cannot be promotable")
