"""A CIB becomes a cluster description: where every site starts, from the cluster it has.

`import_cib(cib_bytes)` returns the description TOML and the list of what it could not
express, each naming the CIB element by id and path. Nothing is dropped silently: after
writing the TOML, the importer loads it, renders its CIB and compares it with the original
the way `ocfgen diff` does; every item that would come out differently is reported too.

Operator state is left out on purpose (it stays the operators' under ocfgen's ownership rule,
docs/ocfgen-live.md) and reported as such: maintenance-mode, node standby/maintenance,
run-time target-role/is-managed/maintenance of resources, cli-ban-*/cli-prefer-* constraints.

Resources that share an agent and the same operations become one template.
"""

import json
import re
import shlex
from dataclasses import dataclass, field

from ..load.values import (
    CLONE_META,
    IDENTIFIER,
    OP_ATTRIBUTES,
    OP_DEFAULTS,
    RESOURCE_META,
    RULE_TYPES,
    is_inline_secret,
)
from . import history, ownership

# Cluster options Pacemaker maintains (never in a description) and operator state.
MAINTAINED = ("dc-version", "cluster-infrastructure", "cluster-name", "have-watchdog",
              "last-lrm-refresh")
OPERATOR_OPTIONS = ("maintenance-mode",)
OPERATOR_NODE_ATTRIBUTES = ("standby", "maintenance")
BOOLEAN_META = ("is-managed", "maintenance", "critical", "allow-migrate", "notify",
                "globally-unique", "ordered", "interleave", "allow-unhealthy-nodes")
INTEGER_META = ("clone-max", "clone-node-max", "clone-min", "promoted-max", "promoted-node-max")
BOOLEAN_OP = ("enabled", "record-pending")
PRIMITIVE_ATTRIBUTES = ("id", "class", "provider", "type", "description")


@dataclass
class Imported:
    text: str
    problems: list = field(default_factory=list)     # one line each: what, where, why
    left_out: list = field(default_factory=list)     # operator state, deliberately


class ImportError_(ValueError):
    pass


def _q(value):
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _key(name):
    return name if re.match(r"[A-Za-z0-9_-]+\Z", name) else _q(name)


def _value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return _q(value)


def _where(element):
    """An element's place in the CIB: its path with ids."""
    parts = []
    while element is not None and element.tag != "cib":
        ident = element.get("id")
        parts.append(f"{element.tag}[@id='{ident}']" if ident else element.tag)
        element = element.getparent()
    return "/".join(reversed(parts))


class _Importer:
    def __init__(self, root):
        self.root = root
        self.conf = root.find("configuration")
        self.problems = []
        self.left_out = []

    def problem(self, element, why):
        self.problems.append(f"{_where(element)}: {why}")

    def leave(self, element, what):
        self.left_out.append(f"{_where(element)}: {what}")

    # nvpair sets -------------------------------------------------------------------------------
    def plain(self, parent, tag):
        """{name: value} of `parent`'s rule-less `tag` sets; the others reported."""
        values = {}
        for block in parent.findall(tag):
            if block.get("id") == ownership.PROVENANCE_SET:
                continue
            if block.find("rule") is not None or block.get("id-ref") or block.get("score"):
                self.problem(block, "a set with a rule, score or reference: not expressible; "
                                    "it stays in the cluster as the operators'")
                continue
            for nv in block.findall("nvpair"):
                if nv.get("value") is None:
                    self.problem(nv, "an nvpair without a value")
                    continue
                values.setdefault(nv.get("name"), (nv.get("value"), nv))
        return values

    def meta(self, element, allowed, runtime_out=True):
        out = {}
        for name, (value, nv) in self.plain(element, "meta_attributes").items():
            if runtime_out and name in ownership.RUNTIME_META:
                self.leave(nv, f"{name}={value} set at run time (operator state)")
                continue
            typed = self.typed(nv, name, value, allowed)
            if typed is not None:
                out[name] = typed
        return out

    def typed(self, nv, name, value, allowed):
        if name not in allowed:
            self.problem(nv, f"meta attribute {name!r} is not one a description takes")
            return None
        if name in BOOLEAN_META or name in BOOLEAN_OP:
            if value not in ("true", "false"):
                self.problem(nv, f"{name}={value!r}: a description writes true or false")
                return None
            return value == "true"
        if name in INTEGER_META:
            if not re.match(r"(?a)\d+\Z", value):
                self.problem(nv, f"{name}={value!r} is not an integer")
                return None
            return int(value)
        return value

    # sections ---------------------------------------------------------------------------------
    def properties(self):
        crm = self.conf.find("crm_config")
        out = {}
        if crm is None:
            return out
        for name, (value, nv) in self.plain(crm, "cluster_property_set").items():
            if name in MAINTAINED:
                continue
            if name in OPERATOR_OPTIONS:
                self.leave(nv, f"{name}={value} (operator state)")
                continue
            out[name] = value
        return out

    def defaults(self, section, allowed):
        holder = self.conf.find(section)
        if holder is None:
            return {}
        out = {}
        for name, (value, nv) in self.plain(holder, "meta_attributes").items():
            typed = self.typed(nv, name, value, allowed)
            if typed is not None:
                out[name] = typed
        return out

    def ops(self, primitive):
        out = []
        rid = primitive.get("id")
        for op in primitive.iterfind("operations/op"):
            spec = {"name": op.get("name")}
            if op.get("interval") is not None:
                spec["interval"] = op.get("interval")
            for name in ("timeout", "role"):
                if op.get(name) is not None:
                    spec[name] = op.get(name)
            for name, value in op.attrib.items():
                if name in ("id", "name", "interval", "timeout", "role"):
                    continue
                if name not in OP_ATTRIBUTES:
                    self.problem(op, f"operation attribute {name!r} is not one a description "
                                     f"takes")
                    continue
                spec[name] = value == "true" if name in BOOLEAN_OP else value
            for name, (value, nv) in self.plain(op, "instance_attributes").items():
                if name == "OCF_CHECK_LEVEL" and re.match(r"(?a)\d+\Z", value):
                    spec["OCF_CHECK_LEVEL"] = int(value)
                else:
                    self.problem(nv, f"operation attribute {name}={value!r} is not expressible")
            if op.find("meta_attributes") is not None:
                self.problem(op, "operation meta attributes are not expressible")
            expected = f"{rid}-{op.get('name')}-interval-{op.get('interval', '0s')}"
            if op.get("id") != expected and not op.get("id", "").startswith(expected + "-"):
                self.problem(op, f"id {op.get('id')!r}: the description names it {expected!r}")
            out.append(spec)
        return out

    def primitive(self, element):
        spec = {}
        for name in element.attrib:
            if name not in PRIMITIVE_ATTRIBUTES:
                self.problem(element, f"attribute {name!r} is not expressible")
        standard, provider, kind = element.get("class"), element.get("provider"), \
            element.get("type")
        if element.get("template") or not standard:
            self.problem(element, "a primitive made from a CIB <template> is not expressible")
            return None
        spec["agent"] = f"{standard}:{provider}:{kind}" if provider else f"{standard}:{kind}"
        if element.get("description"):
            spec["description"] = element.get("description")
        params = {k: v for k, (v, _) in self.plain(element, "instance_attributes").items()}
        if params:
            spec["params"] = params
        meta = self.meta(element, RESOURCE_META)
        if meta:
            spec["meta"] = meta
        utilization = {}
        for name, (value, nv) in self.plain(element, "utilization").items():
            if re.match(r"(?a)\d+\Z", value):
                utilization[name] = int(value)
            else:
                self.problem(nv, f"utilization {name}={value!r} is not a whole number")
        if utilization:
            spec["utilization"] = utilization
        spec["ops"] = self.ops(element)
        return spec

    def resources(self):
        prims, groups, clones = {}, {}, {}
        holder = self.conf.find("resources")
        for top in holder if holder is not None else ():
            if not isinstance(top.tag, str):
                continue
            if not IDENTIFIER.match(top.get("id", "")):
                self.problem(top, "the id is not one a description can name")
                continue
            if top.tag == "primitive":
                if top.get("class") == "stonith":
                    continue                      # fencing belongs to nodes (see fencing())
                spec = self.primitive(top)
                if spec is not None:
                    prims[top.get("id")] = spec
            elif top.tag == "group":
                groups[top.get("id")] = self.group(top, prims)
            elif top.tag == "clone":
                self.clone(top, prims, groups, clones)
            else:
                self.problem(top, f"<{top.tag}> resources are not expressible")
        return prims, groups, clones

    def group(self, element, prims):
        members = []
        for member in element.findall("primitive"):
            spec = self.primitive(member)
            if spec is not None:
                prims[member.get("id")] = spec
                members.append(member.get("id"))
        spec = {"resources": members}
        meta = self.meta(element, RESOURCE_META)
        if meta:
            spec["meta"] = meta
        return spec

    def clone(self, element, prims, groups, clones):
        child = next((c for c in element if isinstance(c.tag, str)
                      and c.tag in ("primitive", "group")), None)
        if child is None:
            self.problem(element, "a clone of nothing a description can hold")
            return
        if child.tag == "primitive":
            spec = self.primitive(child)
            if spec is None:
                return
            prims[child.get("id")] = spec
        else:
            groups[child.get("id")] = self.group(child, prims)
        meta = self.meta(element, RESOURCE_META + CLONE_META + ("promotable",))
        spec = {"resource": child.get("id")}
        promotable = meta.pop("promotable", "false")
        if promotable == "true":
            spec["promotable"] = True
        elif promotable != "false":
            self.problem(element, f"promotable={promotable!r}")
        if meta:
            spec["meta"] = meta
        clones[element.get("id")] = spec

    def fencing(self, nodes):
        """[[nodes.X.fencing]] from the fencing levels and their stonith devices."""
        devices = {p.get("id"): p for p in self.conf.iterfind("resources/primitive")
                   if p.get("class") == "stonith"}
        used = {}
        for level in self.conf.iterfind("fencing-topology/fencing-level"):
            target = level.get("target")
            if target is None or target not in nodes:
                self.problem(level, "a fencing level for a node pattern, an attribute or a "
                                    "node the CIB does not list is not expressible")
                continue
            try:
                index = int(level.get("index"))
            except (TypeError, ValueError):
                self.problem(level, "index is not a number")
                continue
            for did in level.get("devices", "").split(","):
                device = devices.get(did)
                if device is None:
                    self.problem(level, f"device {did!r} is not a stonith resource")
                    continue
                if did in used:
                    self.problem(level, f"device {did} already fences {used[did]}: a description "
                                        f"gives each node its own devices")
                    continue
                used[did] = target
                spec = {"agent": device.get("type")}
                short = device.get("type", "").removeprefix("fence_")
                if did != f"fence-{target}-{short}":
                    spec["id"] = did
                spec["level"] = index
                params = {k: v for k, (v, _) in self.plain(device, "instance_attributes").items()}
                if list(params)[-1:] == ["pcmk_host_list"] and params["pcmk_host_list"] == target:
                    del params["pcmk_host_list"]       # the default, added back last
                for name in [name for name in params if is_inline_secret(name)]:
                    self.problem(device, f"inline secret {name!r}: a description names a "
                                         f"script (password_script) instead")
                    del params[name]
                if params:
                    spec["params"] = params
                nodes[target].setdefault("fencing", []).append(spec)
        for did, device in devices.items():
            if did not in used:
                self.problem(device, "a fence device in no fencing level: a description's "
                                     "devices belong to the node they fence")
        return used

    def nodes(self):
        out = {}
        for node in self.conf.iterfind("nodes/node"):
            name = node.get("uname")
            spec = {}
            try:
                spec["id"] = int(node.get("id"))
            except (TypeError, ValueError):
                self.problem(node, f"node id {node.get('id')!r} is not a number")
            if node.get("type") not in (None, "member"):
                self.problem(node, f"node type {node.get('type')!r} is not expressible")
            attributes = {}
            for key, (value, nv) in self.plain(node, "instance_attributes").items():
                if key in OPERATOR_NODE_ATTRIBUTES:
                    self.leave(nv, f"{key}={value} (operator state)")
                else:
                    attributes[key] = value
            if attributes:
                spec["attributes"] = attributes
            utilization = {}
            for key, (value, nv) in self.plain(node, "utilization").items():
                if re.match(r"(?a)\d+\Z", value):
                    utilization[key] = int(value)
                else:
                    self.problem(nv, f"utilization {key}={value!r} is not a whole number")
            if utilization:
                spec["utilization"] = utilization
            out[name] = spec
        return out

    # constraints ------------------------------------------------------------------------------
    def constraints(self, fenced):
        orders, colocations, locations = [], [], []
        holder = self.conf.find("constraints")
        for c in holder if holder is not None else ():
            if not isinstance(c.tag, str):
                continue
            cid = c.get("id", "")
            if cid.startswith(ownership.OPERATOR_CONSTRAINTS):
                self.leave(c, "a ban or preference set at run time (operator state)")
            elif c.tag == "rsc_order":
                spec = self.order(c)
                if spec:
                    orders.append(spec)
            elif c.tag == "rsc_colocation":
                spec = self.colocation(c)
                if spec:
                    colocations.append(spec)
            elif c.tag == "rsc_location":
                rsc, node = c.get("rsc"), c.get("node")
                if rsc in fenced and node == fenced[rsc] and c.get("score") == "-INFINITY" \
                        and cid == f"location-{rsc}-{node}--INFINITY":
                    continue                  # a description adds it for every device
                spec = self.location(c)
                if spec:
                    locations.append(spec)
            else:
                self.problem(c, f"<{c.tag}> constraints are not expressible")
        return orders, colocations, locations

    def extra(self, element, allowed):
        for name in element.attrib:
            if name not in allowed:
                self.problem(element, f"attribute {name!r} is not expressible")
                return True
        return False

    def sets(self, element, kind):
        out = []
        for rset in element.findall("resource_set"):
            if self.extra(rset, ("id", "sequential", "require-all", "role", "action")):
                return None
            spec = {"id": rset.get("id"),
                    "resources": [r.get("id") for r in rset.findall("resource_ref")]}
            for attribute, key in (("sequential", "sequential"), ("require-all", "require_all")):
                if rset.get(attribute) is not None:
                    if rset.get(attribute) not in ("true", "false"):
                        self.problem(rset, f"{attribute}={rset.get(attribute)!r}")
                        return None
                    spec[key] = rset.get(attribute) == "true"
            for key in ("role", "action"):
                if rset.get(key) is not None:
                    spec[key] = rset.get(key)
            out.append(spec)
        return out

    def order(self, c):
        if self.extra(c, ("id", "first", "then", "first-action", "then-action", "kind",
                          "symmetrical")):
            return None
        spec = {"id": c.get("id")}
        if c.find("resource_set") is not None:
            sets = self.sets(c, "order")
            if sets is None:
                return None
            spec["sets"] = sets
        else:
            spec["first"], spec["then"] = c.get("first"), c.get("then")
            for attribute in ("first-action", "then-action"):
                if c.get(attribute):
                    spec[attribute.replace("-", "_")] = c.get(attribute)
        if c.get("kind"):
            spec["kind"] = c.get("kind")
        if c.get("symmetrical") in ("true", "false"):
            spec["symmetrical"] = c.get("symmetrical") == "true"
        return spec

    def colocation(self, c):
        if self.extra(c, ("id", "rsc", "with-rsc", "score", "rsc-role", "with-rsc-role")):
            return None
        spec = {"id": c.get("id")}
        if c.find("resource_set") is not None:
            sets = self.sets(c, "colocation")
            if sets is None:
                return None
            spec["sets"] = sets
        else:
            spec["resource"], spec["with"] = c.get("rsc"), c.get("with-rsc")
            if c.get("rsc-role"):
                spec["role"] = c.get("rsc-role")
            if c.get("with-rsc-role"):
                spec["with_role"] = c.get("with-rsc-role")
        if c.get("score") is None:
            self.problem(c, "a colocation without a score is not expressible")
            return None
        spec["score"] = c.get("score")
        return spec

    def location(self, c):
        if self.extra(c, ("id", "rsc", "node", "score", "role")) or c.get("rsc") is None:
            if c.get("rsc") is None:
                self.problem(c, "a location for a resource pattern or set is not expressible")
            return None
        spec = {"id": c.get("id"), "resource": c.get("rsc")}
        if c.get("role"):
            spec["role"] = c.get("role")
        rules = c.findall("rule")
        if c.get("node") is not None:
            spec["prefers"], spec["score"] = c.get("node"), c.get("score")
            return spec
        if len(rules) != 1:
            self.problem(c, "a location with several rules (or none) is not expressible")
            return None
        text = self.rule(rules[0])
        if text is None:
            return None
        spec["rule"] = text
        spec["score"] = rules[0].get("score")
        return spec

    def rule(self, rule):
        if self.extra(rule, ("id", "score", "boolean-op", "role")) or rule.get("score") is None:
            if rule.get("score") is None:
                self.problem(rule, "a rule without a score (score-attribute) is not expressible")
            return None
        tests = []
        for expression in rule:
            if not isinstance(expression.tag, str):
                continue
            if expression.tag != "expression" or self.extra(
                    expression, ("id", "attribute", "operation", "value", "type")):
                if expression.tag != "expression":
                    self.problem(expression, f"<{expression.tag}> in a rule is not expressible")
                return None
            attribute, operation = expression.get("attribute"), expression.get("operation")
            value, kind = expression.get("value"), expression.get("type")
            if operation in ("defined", "not_defined"):
                tests.append(f"{operation} {attribute}")
                continue
            if value is None:
                self.problem(expression, "a comparison without a value")
                return None
            if kind is None and (value.partition(":")[0] in RULE_TYPES and ":" in value or (
                    operation in ("lt", "gt", "lte", "gte")
                    and re.match(r"(?a)-?\d+\Z", value))):
                self.problem(expression, f"{attribute} {operation} {value} without a type reads "
                                         f"differently in a description")
                return None
            shown = f"{kind}:{value}" if kind else value
            tests.append(f"{attribute} {operation} {shlex.quote(shown)}")
        join = " or " if rule.get("boolean-op") == "or" else " and "
        return join.join(tests)


def _templates(prims):
    """{name: {agent, ops}}: one for each agent and operation list shared by 2+ resources."""
    shared = {}
    for rid, spec in prims.items():
        if spec["ops"] and not spec["agent"].startswith("stonith:"):
            key = (spec["agent"], json.dumps(spec["ops"], sort_keys=True))
            shared.setdefault(key, []).append(rid)
    templates, taken = {}, set(prims)
    for (agent, _), rids in shared.items():
        if len(rids) < 2:
            continue
        base = re.sub(r"[^A-Za-z0-9_-]", "-", agent.rsplit(":", 1)[-1]) or "template"
        name, n = base, 1
        while name in templates or name in taken:
            n += 1
            name = f"{base}-{n}"
        templates[name] = {"agent": agent, "ops": prims[rids[0]]["ops"]}
        for rid in rids:
            del prims[rid]["agent"]
            del prims[rid]["ops"]
            prims[rid]["template"] = name
    return templates


def _table(out, header, spec, subtables=("params", "meta", "utilization")):
    out += ["", f"[{header}]"]
    for key, value in spec.items():
        if key in subtables or key in ("ops", "fencing"):
            continue
        out.append(f"{_key(key)} = {_value(value)}")
    if spec.get("ops"):
        out.append("ops = [")
        out += [f"  {_value(op)}," for op in spec["ops"]]
        out.append("]")
    for key in subtables:
        if spec.get(key):
            out += [f"[{header}.{key}]"]
            out += [f"{_key(k)} = {_value(v)}" for k, v in spec[key].items()]


def _render(name, properties, rsc_defaults, op_defaults, nodes, templates, prims, groups,
            clones, orders, colocations, locations, notes):
    out = ["# Imported by ocfgen import from a running cluster's CIB: check it, then keep it as "
           "the", "# cluster's description (ocfgen diff shows what a push would change)."]
    out += [f"# {line}" for line in notes]
    out += ["", "[cluster]", f"name = {_q(name)}"]
    for header, values in (("properties", properties), ("defaults", rsc_defaults),
                           ("op_defaults", op_defaults)):
        if values:
            out += ["", f"[{header}]"] + [f"{_key(k)} = {_value(v)}" for k, v in values.items()]
    for node, spec in nodes.items():
        _table(out, f"nodes.{_key(node)}", spec, ("attributes", "utilization"))
        for device in spec.get("fencing", []):
            out += ["", f"[[nodes.{_key(node)}.fencing]]"]
            out += [f"{_key(k)} = {_value(v)}" for k, v in device.items() if k != "params"]
            if device.get("params"):
                out.append(f"[nodes.{_key(node)}.fencing.params]")
                out += [f"{_key(k)} = {_value(v)}" for k, v in device["params"].items()]
    for section, table in (("templates", templates), ("resources", prims), ("groups", groups),
                           ("clones", clones)):
        for rid, spec in table.items():
            _table(out, f"{section}.{_key(rid)}", spec)
    for header, items in (("order", orders), ("colocation", colocations),
                          ("location", locations)):
        for spec in items:
            out += ["", f"[[{header}]]"] + [f"{_key(k)} = {_value(v)}" for k, v in spec.items()]
    return "\n".join(out) + "\n"


def import_cib(cib_bytes, fallback_name="imported"):
    """An Imported (description text, problems, operator state left out) from CIB bytes."""
    from lxml import etree

    try:
        root = ownership.parse(cib_bytes)
    except etree.XMLSyntaxError as exc:
        raise ImportError_(f"not a CIB: {exc}") from None
    if root.tag != "cib" or root.find("configuration") is None:
        raise ImportError_("not a CIB: no <cib><configuration>")
    work = _Importer(root)
    name = history.cluster_name(work.conf) or fallback_name
    properties = work.properties()
    rsc_defaults = work.defaults("rsc_defaults", RESOURCE_META)
    op_defaults = work.defaults("op_defaults", OP_DEFAULTS)
    nodes = work.nodes()
    fenced = work.fencing(nodes)
    prims, groups, clones = work.resources()
    orders, colocations, locations = work.constraints(fenced)
    for section in work.conf:
        if isinstance(section.tag, str) and section.tag not in (
                "crm_config", "rsc_defaults", "op_defaults", "nodes", "resources",
                "constraints", "fencing-topology") and len(section):
            work.problem(section, "kept as the operators' (push never changes it); not in the "
                                  "description")
    templates = _templates(prims)
    text = _render(name, properties, rsc_defaults, op_defaults, nodes, templates, prims, groups,
                   clones, orders, colocations, locations, [])
    imported = Imported(text, work.problems, work.left_out)
    _verify(imported, root)
    return imported


def _verify(imported, root):
    """Load and render the description; every item that comes out differently is a problem."""
    from ..load.description import DescriptionError, loads
    from ..render.cib import RenderError, render

    try:
        cluster = loads(imported.text, "<imported>")
        rebuilt = ownership.parse(render(cluster)).find("configuration")
    except (DescriptionError, RenderError) as exc:
        imported.problems.append(f"the imported description does not load: {exc}")
        return
    live = root.find("configuration")
    try:
        merged = ownership.merge(live, rebuilt, ownership.scope_of(rebuilt))
    except ownership.OwnershipError as exc:
        imported.problems.append(f"the imported description cannot be pushed back: {exc}")
        return
    for change in ownership.changes(live, merged):
        imported.problems.append(f"{change.what}: the description rebuilds it differently "
                                 f"(a push would {change.action} it)")
