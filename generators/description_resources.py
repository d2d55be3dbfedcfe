"""Resources of a description: primitives (with templates, parameters checked against the
agent's declarations, operations), groups and clones. A mixin of description._Reader."""

import re

from . import agentinfo, description_addresses
from .description_values import (
    ATTRIBUTE,
    CLONE_META,
    DEFAULT_OPS,
    ON_FAIL,
    OP_ATTRIBUTES,
    OPERATIONS,
    PARAM_NAME,
    RESOURCE_META,
    Reported,
    kind,
    normal,
    seconds,
    suggest,
)
from .keys import DESCRIPTION
from .model import Clone, Group, Location, Op, Primitive
from .tomlpos import dotted, line_of

# Clone instances a description may ask for in all (per clone).
MAX_INSTANCES = 1024
# Fencing of the first node of a two-node cluster waits this long, so it wins a fence race.
TWO_NODE_DELAY = "10s"
DEFAULT_FENCE_PORTS = {"fence_ipmilan": "623", "fence_ipmilanplus": "623", "fence_idrac": "623",
                       "fence_ilo3": "623", "fence_ilo4": "623", "fence_ilo5": "623",
                       "fence_imm": "623"}


def fence_targets(params):
    """(node names a fence device fences, the parameter naming them), or (None, None) when
    the device itself is asked (pcmk_host_check dynamic-list or status, no list or map)."""
    if "pcmk_host_list" in params:
        return [t for t in re.split(r"[\s,;]+", params["pcmk_host_list"]) if t], \
            "pcmk_host_list"
    if "pcmk_host_map" in params:
        pairs = [p for p in re.split(r"[\s,;]+", params["pcmk_host_map"]) if p]
        return [re.split(r"[:=]", pair, maxsplit=1)[0] for pair in pairs], "pcmk_host_map"
    return None, None


def bmc_of(device):
    """(address, port, plug) of the management controller a device drives, or None."""
    address = device.params.get("ip") or device.params.get("ipaddr")
    if not address:
        return None
    port = device.params.get("ipport") or DEFAULT_FENCE_PORTS.get(device.agent, "")
    plug = device.params.get("plug") or device.params.get("port") or ""
    return (address.strip().lower(), port.strip(), plug)


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


class ResourceReader:
    def primitive(self, rid, raw, templates, promotable):
        path = ("resources", rid)
        keys = DESCRIPTION.allowed("resources")
        spec = self.table(path, raw, keys)
        merged = {}
        if "template" in spec:
            tname = self.string(path + ("template",), spec["template"])
            if tname not in templates:
                self.fail(path + ("template",), f"unknown template {tname!r}"
                                                f"{suggest(tname, templates)}")
            tpath = ("templates", tname)
            template = self.table(tpath, templates[tname], DESCRIPTION.allowed("templates"))
            for key, value in template.items():
                merged[key] = (tpath + (key,), value)
        for key, value in spec.items():
            if key in ("params", "meta", "utilization") and key in merged:
                base = self.table(merged[key][0], merged[key][1])
                combined = dict(base)
                combined.update(self.table(path + (key,), value))
                merged[key] = (path + (key,), combined)
            elif key != "template":
                merged[key] = (path + (key,), value)
        if "agent" not in merged:
            self.fail(path, "missing key 'agent' (such as ocf:heartbeat:IPaddr2 or systemd:httpd)")
        apath, agent = merged["agent"]
        standard, provider, agent_type = self.agent_spec(apath, agent)
        prim = Primitive(id=rid, standard=standard, provider=provider, type=agent_type,
                         template=spec.get("template"), origin=self.where(path))
        if "description" in merged:
            prim.description = self.string(*merged["description"])
        typed = {}
        if "params" in merged:
            ppath, params = merged["params"]
            for key, value in self.table(ppath, params).items():
                self.string(ppath + (key,), key, PARAM_NAME, "a parameter name")
                prim.params[key] = self.scalar(ppath + (key,), value)
                typed[key] = value
        description_addresses.read_keys(self, merged, prim)
        info = self.check_params(path if "params" not in merged else merged["params"][0],
                                 standard, provider, agent_type, prim.params, apath, typed)
        if "meta" in merged:
            prim.meta = self.meta(merged["meta"][0], merged["meta"][1], RESOURCE_META)
        if "utilization" in merged:
            upath, util = merged["utilization"]
            for key, value in self.table(upath, util).items():
                self.string(upath + (key,), key, ATTRIBUTE, "a utilization name")
                prim.utilization[key] = str(self.integer(upath + (key,), value, minimum=0))
        prim.ops = self.ops(rid, merged.get("ops"), info, standard, promotable)
        return prim

    def agent_spec(self, path, value):
        text = self.string(path, value, what="an agent such as ocf:heartbeat:IPaddr2")
        parts = text.split(":")
        # A provider or type names a directory or file under /usr/lib/ocf: never "." or "..".
        word = re.compile(r"(?!\.+\Z)[A-Za-z0-9_.@-]+\Z")
        if len(parts) == 3 and parts[0] == "ocf" and all(word.match(p) for p in parts[1:]):
            return "ocf", parts[1], parts[2]
        if len(parts) == 2 and parts[0] in ("systemd", "lsb", "service") and word.match(parts[1]):
            return parts[0], None, parts[1]
        if len(parts) == 2 and parts[0] == "stonith":
            self.fail(path, "fencing devices belong to their node: [[nodes.NAME.fencing]]")
        self.fail(path, f"{text!r} is not an agent (ocf:PROVIDER:TYPE, systemd:UNIT, lsb:NAME "
                        f"or service:NAME)")

    def check_params(self, path, standard, provider, agent_type, params, agent_path=None,
                     typed=None):
        """Check params ({name: text}) against the agent's declarations: names, each value's
        type (`typed` holds the values as the TOML gave them) and syntax, required ones, and
        the agent's rules across parameters. The AgentInfo, or None for an unknown agent."""
        agent_path = agent_path or path + ("agent",)
        spec = f"{standard}:{provider}:{agent_type}" if provider else f"{standard}:{agent_type}"
        if standard in ("systemd", "lsb", "service"):
            if params:
                self.fail(path, f"{spec} takes no parameters")
            return None
        try:
            info = agentinfo.agent_info(standard, provider, agent_type)
        except LookupError as exc:
            self.fail(agent_path, str(exc))
        if info is None:
            missing = agentinfo.not_installed(standard, provider, agent_type)
            if missing and spec not in self.elsewhere:
                self.fail(agent_path, f"{missing}; if the cluster nodes have it, list "
                                      f"{spec!r} in [cluster] provided_elsewhere")
            self.unchecked.add(spec)
            return None
        recorded = len(self.errors)
        for key, raw in params.items():
            with self.collect():
                where = path + (key,) if path[-1] == "params" else path + ("params", key)
                known = info.params.get(key)
                if known is None:
                    if key in info.extra_names:
                        continue
                    self.fail(where, f"unknown parameter {key!r} for {spec}"
                                     f"{suggest(key, list(info.params) + list(info.extra_names))}")
                if typed is not None and key in typed:
                    mismatch = type_mismatch(known.kind, typed[key])
                    if mismatch:
                        self.fail(where, f"parameter {key!r} {mismatch}")
                if known.check is not None:
                    try:
                        known.check(raw)
                    except ValueError as exc:
                        self.fail(where, f"parameter {key!r} {exc}")
        if len(self.errors) > recorded:  # each bad parameter is reported: the item ends here
            raise Reported()
        for name, known in info.params.items():
            if known.required and name not in params:
                self.fail(path, f"missing required parameter {name!r} of {spec}")
        if info.check_set is not None:
            for name, why in info.check_set(params):
                where = path + (name,) if path[-1] == "params" else path + ("params", name)
                self.fail(where if name in params else path,
                          f"parameter {name!r} {why} ({spec}'s rule)")
        return info

    def ops(self, rid, entry, info, standard, promotable):
        given, written_at = [], {}
        if entry is not None:
            path, raw = entry
            if not isinstance(raw, list):
                self.fail(path, f"must be a list of tables, not {kind(raw)}")
            recorded = len(self.errors)
            for index, spec in enumerate(raw):
                with self.collect():
                    given.append(self.op(path + (index,), spec, info, promotable))
                    written_at[id(given[-1])] = path + (index,)
            if len(self.errors) > recorded:  # each bad operation is reported: the item ends here
                raise Reported()
        names = {op.name for op in given}
        ops = []
        for op in self.default_ops(info, standard, promotable):
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
                self.fail(where, f"two {op.name} operations with interval {op.interval}: "
                                 f"Pacemaker tells operations apart by name and interval")
            seen.add(key)
            op.id = self.unique(f"{rid}-{op.name}-interval-{op.interval}", where)
        return ops

    def op(self, path, raw, info, promotable):
        spec = self.table(path, raw, DESCRIPTION.allowed("resources.ops"))
        if "name" not in spec:
            self.fail(path, "missing key 'name' (start, stop, monitor, ...)")
        name = self.string(path + ("name",), spec["name"])
        actions = [a.name for a in info.actions] if info is not None else OPERATIONS
        actions = list(dict.fromkeys(actions))
        if name not in actions or name in ("meta-data", "validate-all"):
            usable = [a for a in actions if a not in ("meta-data", "validate-all")]
            self.fail(path + ("name",), f"operation {name!r} is not one the agent has "
                                        f"({', '.join(usable)}){suggest(name, usable)}")
        op = Op(id="", name=name, origin=self.where(path))
        if "interval" in spec:
            op.interval = self.duration(path + ("interval",), spec["interval"])
        if name != "monitor" and seconds(op.interval) != 0:
            self.fail(path + ("interval",), f"only monitors repeat: {name} has interval 0")
        if name == "monitor" and "interval" not in spec:
            self.fail(path, "a monitor needs an interval")
        if "timeout" in spec:
            op.timeout = self.duration(path + ("timeout",), spec["timeout"])
        if "role" in spec:
            op.role = self.role(path + ("role",), spec["role"])
            if op.role in ("Promoted", "Unpromoted") and not promotable:
                self.fail(path + ("role",), f"role {op.role} needs the resource in a promotable "
                                            f"clone")
        if "OCF_CHECK_LEVEL" in spec:
            if name != "monitor":
                self.fail(path + ("OCF_CHECK_LEVEL",), "only monitors have a check level")
            op.check_level = self.integer(path + ("OCF_CHECK_LEVEL",), spec["OCF_CHECK_LEVEL"],
                                          0, 100)
        for key in OP_ATTRIBUTES:
            if key in spec:
                op.extra[key] = self.op_attribute(path + (key,), key, spec[key])
        if "start-delay" in spec and "interval-origin" in spec:
            self.fail(path + ("interval-origin",), "an operation has start-delay or "
                                                   "interval-origin, not both")
        return op

    def op_attribute(self, path, key, raw):
        """An operation attribute (also in [op_defaults]) as the CIB schema takes it."""
        if key == "on-fail":
            return self.choice(path, raw, ON_FAIL)
        if key in ("enabled", "record-pending"):
            return self.scalar(path, self.boolean(path, raw))
        if key == "start-delay":
            return self.duration(path, raw)
        return self.scalar(path, raw)

    def default_ops(self, info, standard, promotable):
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

    def groups(self, value, resources):
        groups, member_of = [], {}
        for gid, raw in self.table(("groups",), value).items():
            path = ("groups", gid)
            with self.collect(path):
                spec = self.table(path, raw, DESCRIPTION.allowed("groups"))
                if "resources" not in spec:
                    self.fail(path, "missing key 'resources' (the member resources, in start order)")
                members = self.strings(path + ("resources",), spec["resources"])
                for index, member in enumerate(members):
                    where = path + ("resources", index)
                    if member not in resources:
                        self.fail(where, self.unknown(member, resources, "resource"))
                    if member in member_of:
                        self.fail(where, f"{member!r} is already a member of group {member_of[member]!r}")
                    member_of[member] = gid
                groups.append(Group(gid, members, self.meta(path + ("meta",), spec.get("meta", {}),
                                                            RESOURCE_META), self.where(path)))
        return groups

    def clones(self, value, resources, groups, node_count):
        group_ids = {g.id: g for g in groups}
        in_group = {m: g.id for g in groups for m in g.members}
        clones, cloned = [], {}
        for cid, raw in self.table(("clones",), value).items():
            path = ("clones", cid)
            with self.collect(path):
                spec = self.table(path, raw, DESCRIPTION.allowed("clones"))
                if "resource" not in spec:
                    self.fail(path, "missing key 'resource' (the resource or group to clone)")
                child = self.string(path + ("resource",), spec["resource"])
                where = path + ("resource",)
                if child not in resources and child not in group_ids:
                    self.no_such(where, child, list(resources) + list(group_ids),
                                 "resource or group", ("resources", "groups"))
                if child in in_group:
                    self.fail(where, f"{child!r} is a member of group {in_group[child]!r}: clone "
                                     f"the group")
                if child in cloned:
                    self.fail(where, f"{child!r} is already cloned by {cloned[child]!r}")
                cloned[child] = cid
                promotable = self.boolean(path + ("promotable",), spec.get("promotable", False))
                meta = self.meta(path + ("meta",), spec.get("meta", {}), RESOURCE_META + CLONE_META)
                if not promotable and any(k.startswith("promoted-") for k in meta):
                    self.fail(path + ("meta",), "promoted-max and promoted-node-max need "
                                                "promotable = true")
                self.check_clone_counts(path + ("meta",), meta, node_count)
                clones.append(Clone(cid, child, promotable, meta, self.where(path)))
        return clones

    def check_clone_counts(self, path, meta, node_count):
        """Instances beyond what the nodes can run only cost: Pacemaker creates every one
        (a clone-max in the hundreds of thousands stalls the scheduler)."""
        per_node = int(meta.get("clone-node-max", "1"))
        if per_node > MAX_INSTANCES:
            self.fail(path + ("clone-node-max",), f"clone-node-max {per_node} is more than "
                                                  f"{MAX_INSTANCES} instances")
        limit = min(node_count * per_node, MAX_INSTANCES) if node_count else MAX_INSTANCES
        clone_max = int(meta.get("clone-max", str(max(node_count, 1))))
        if clone_max > limit:
            self.fail(path + ("clone-max",), f"clone-max {clone_max} is more instances than "
                                             f"{node_count} node(s) with clone-node-max "
                                             f"{per_node} can run (at most {limit})")
        promoted = int(meta.get("promoted-max", "1"))
        if promoted > clone_max:
            self.fail(path + ("promoted-max",), f"promoted-max {promoted} is more than clone-max "
                                                f"{clone_max}")

    def check_unique(self, cluster):
        """Values of an agent's unique parameters may not repeat across its resources."""
        seen = {}
        for prim in cluster.primitives:
            try:
                info = agentinfo.agent_info(prim.standard, prim.provider, prim.type)
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
                    self.fail(path, f"{shown} is also used by resource {seen[key]!r}: "
                                    f"{prim.agent} needs it unique to each resource")
                seen[key] = prim.id

    def check_promotable(self, cluster):
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
                    info = agentinfo.agent_info(prim.standard, prim.provider, prim.type)
                except LookupError:
                    info = None
                if prim.standard != "ocf" or (info is not None and not info.promotable):
                    self.fail(("clones", clone.id, "promotable"),
                              f"{prim.agent} (resource {member!r}) has no promote and demote "
                              f"actions, so it cannot be promotable")

    def fencing_devices(self, cluster):
        """Every device avoids the node it fences (a node never fences itself). With fencing on
        (stonith-enabled, Pacemaker's default) every node must be fenceable: each device of a
        node's level fences that node, every node is covered, a device names only nodes of this
        cluster, and no BMC serves two nodes."""
        devices = cluster.fence_devices()
        for device in devices:
            cluster.locations.append(Location(
                self.unique(f"location-{device.id}-{device.node}--INFINITY", ("nodes", device.node)),
                device.id, node=device.node, score="-INFINITY", origin=device.origin))
        from ocfpy.params import parse_boolean

        try:
            enabled = parse_boolean(cluster.properties.get("stonith-enabled", "true"))
        except ValueError:
            enabled = True
        # What failed to read says nothing about fencing: its own errors are reported.
        enabled = enabled and not self.broken_at(("properties", "stonith-enabled"))
        if enabled and not devices and not self.broken_at(("nodes",)):
            self.fail(("properties",) if ("properties",) in self.lines else ("nodes",),
                      "no node has fencing and stonith-enabled is not false: Pacemaker would "
                      "start nothing; add [[nodes.NAME.fencing]] (or, for a test cluster only, "
                      "stonith-enabled = false)")
        names = [node.name for node in cluster.nodes]
        covered = set()
        bmcs = {}
        for node in cluster.nodes:
            for index, device in enumerate(node.fencing):
                path = ("nodes", node.name, "fencing", index)
                targets, key = fence_targets(device.params)
                if targets is None:  # the device is asked which nodes it can fence
                    covered.add(node.name)
                    continue
                for target in targets:
                    if target not in names and not self.broken_at(("nodes", target)):
                        self.fail(path + ("params", key),
                                  f"{key} names {target!r}, which is not a node of this "
                                  f"cluster{suggest(target, names)} (nodes: {', '.join(names)})")
                covered.update(targets)
                if node.name not in targets:
                    self.fail(path + ("params", key),
                              f"device {device.id} is at level {device.level} of {node.name} "
                              f"but does not fence {node.name}: its {key} names "
                              f"{', '.join(targets)}")
                bmc = bmc_of(device)
                if bmc is None:
                    continue
                if bmc in bmcs and bmcs[bmc][0] != node.name:
                    other_node, other_path = bmcs[bmc]
                    line = line_of(self.lines, other_path)
                    self.fail(path + ("params",), f"BMC {bmc[0]} port {bmc[1] or '(default)'} is also the "
                              f"fence device of {other_node} ({dotted(other_path)}"
                              f"{f', line {line}' if line else ''}): one BMC powers one node, "
                              f"so fencing {node.name} would switch {other_node} off")
                bmcs.setdefault(bmc, (node.name, path))
        self.two_nodes(cluster, enabled)
        if enabled:
            for node in cluster.nodes:
                # A device that failed to read may have fenced any node.
                if node.name not in covered and not self.broken_at(("nodes",)):
                    self.fail(("nodes", node.name),
                              f"no fence device can fence {node.name} and stonith-enabled is "
                              f"not false: if it fails, its resources never start elsewhere; "
                              f"add [[nodes.{node.name}.fencing]]")

    def two_nodes(self, cluster, enabled):
        """Two nodes that lose each other both keep quorum (two_node) and race to fence each
        other: unless the description chose a delay, fencing the first node waits
        TWO_NODE_DELAY (pcmk_delay_base on its devices), so the first node always wins and
        exactly one survives. two_node also implies wait_for_all: said in a warning (with
        fencing on) unless the description set wait_for_all itself."""
        corosync = cluster.corosync
        two_node = corosync.two_node if corosync.two_node is not None else (
            len(cluster.nodes) == 2 and corosync.qdevice is None)
        if not two_node:
            return
        delays = ("pcmk_delay_base", "pcmk_delay_max")
        chosen = "priority-fencing-delay" in cluster.properties or any(
            key in device.params for device in cluster.fence_devices() for key in delays)
        if enabled and not chosen:
            for device in cluster.nodes[0].fencing:
                device.params["pcmk_delay_base"] = TWO_NODE_DELAY
        where = ("corosync",) if ("corosync",) in self.lines else ("nodes",)
        if corosync.wait_for_all is None and enabled:
            self.warn(where, "two nodes: corosync's two_node implies wait_for_all, so after "
                             "both were down a node that comes back alone runs nothing until "
                             "it sees the other; to let it start alone set wait_for_all = false "
                             "(it then fences the other node first: startup fencing), or set "
                             "wait_for_all = true to say this is meant")
        elif corosync.wait_for_all is False:
            startup = cluster.properties.get("startup-fencing", "true")
            if startup.lower() in ("false", "no", "off", "0", "n"):
                self.fail(("properties", "startup-fencing"),
                          "wait_for_all = false with startup-fencing = false: a node that "
                          "comes back alone would run the services without knowing the other "
                          "node is down (split brain)")

    # Constraints.
