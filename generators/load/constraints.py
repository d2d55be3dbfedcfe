"""Constraints of a description: orders, colocations, locations (node preferences and
rules on node attributes), resource sets, and the check that orderings form no cycle. Plain
functions of the reader (reader.Reader), the resources they may name
(`Targets`) and the TOML value they read."""

import re
from typing import NamedTuple

from ..model.cluster import CLONE, Colocation, Expression, Location, Order, ResourceSet, Rule
from .keys import DESCRIPTION
from .values import (
    ATTRIBUTE,
    ORDER_ACTIONS,
    ORDER_KINDS,
    RULE_OPS,
    RULE_TYPES,
)


class Targets(NamedTuple):
    """What constraints may name: resource id -> kind, id -> parent, promotable clones."""

    kinds: dict
    parent: dict
    promotable_clones: set

    @classmethod
    def of(cls, cluster):
        return cls(cluster.resource_kinds(), cluster.parents(),
                   {c.id for c in cluster.clones if c.promotable})


def read(reader, doc, cluster):
    """[[order]], [[colocation]] and [[location]] into `cluster`, each entry read on its own."""
    targets = Targets.of(cluster)
    for name in ("order", "colocation", "location"):
        with reader.collect((name,)):
            for index, spec in enumerate(reader.array(name, doc)):
                with reader.collect((name, index)):
                    if name == "order":
                        cluster.orders.append(read_order(reader, targets, index, spec))
                    elif name == "colocation":
                        cluster.colocations.append(read_colocation(
                            reader, targets, index, spec))
                    else:
                        cluster.locations += read_locations(reader, targets, index, spec, cluster)


def reference(reader, targets, path, value, roles_needed=False):
    name = reader.string(path, value, what="a resource id")
    if name not in targets.kinds:
        reader.no_such(path, name, targets.kinds)
    parent = targets.parent.get(name)
    if parent is not None and targets.kinds.get(parent) == CLONE:
        reader.fail(path, f"{name!r} is inside clone {parent!r}: constrain the clone")
    if roles_needed and name not in targets.promotable_clones:
        reader.fail(path, f"{name!r} is not a promotable clone, so it has no Promoted or "
                          f"Unpromoted role")
    return name


def resource_sets(reader, targets, path, raw, kind):
    if not isinstance(raw, list) or not raw:
        reader.fail(path, "must be a non-empty list of sets ({ resources = [...] })")
    sets = []
    for index, spec in enumerate(raw):
        where = path + (index,)
        allowed = DESCRIPTION.allowed(f"{kind}.sets")
        spec = reader.table(where, spec, allowed)
        if "resources" not in spec:
            reader.fail(where, "missing key 'resources'")
        reader.strings(where + ("resources",), spec["resources"])
        rset = ResourceSet("", [], origin=reader.where(where))
        role = None
        if "role" in spec:
            role = rset.role = reader.role(where + ("role",), spec["role"])
        rset.resources = [reference(reader, targets, where + ("resources", i), r,
                                            role in ("Promoted", "Unpromoted"))
                          for i, r in enumerate(spec["resources"])]
        if "sequential" in spec:
            rset.sequential = reader.boolean(where + ("sequential",), spec["sequential"])
        if "require_all" in spec:
            rset.require_all = reader.boolean(where + ("require_all",), spec["require_all"])
        if "action" in spec:
            if kind != "order":
                reader.fail(where + ("action",), "only ordering sets have an action")
            rset.action = reader.choice(where + ("action",), spec["action"], ORDER_ACTIONS)
        if "id" in spec:
            rset.id = reader.claim(where + ("id",), reader.identifier(where + ("id",), spec["id"]))
        else:
            rset.id = reader.unique("pcs_rsc_set_" + "_".join(rset.resources), where)
        sets.append(rset)
    return sets


def constraint_id(reader, path, spec, base):
    if "id" in spec:
        return reader.claim(path + ("id",), reader.identifier(path + ("id",), spec["id"]))
    return reader.unique(re.sub(r"[^A-Za-z0-9_.-]", "", base), path)


def read_order(reader, targets, index, raw):
    path = ("order", index)
    spec = reader.table(path, raw, DESCRIPTION.allowed("order"))
    order = Order("", origin=reader.where(path))
    if "kind" in spec:
        order.kind = reader.choice(path + ("kind",), spec["kind"], ORDER_KINDS)
    if "symmetrical" in spec:
        order.symmetrical = reader.boolean(path + ("symmetrical",), spec["symmetrical"])
    if "sets" in spec:
        order.sets, order.id = set_constraint(reader, targets, path, spec, "order",
                                              ("first", "then", "first_action", "then_action"))
        return order
    for key in ("first", "then"):
        if key not in spec:
            reader.fail(path, f"missing key {key!r} (or sets = [...])")
    for key in ("first_action", "then_action"):
        if key in spec:
            setattr(order, key, reader.choice(path + (key,), spec[key], ORDER_ACTIONS))
    order.first = reference(reader, targets, path + ("first",), spec["first"],
                                    order.first_action in ("promote", "demote"))
    order.then = reference(reader, targets, path + ("then",), spec["then"],
                                   order.then_action in ("promote", "demote"))
    order.id = constraint_id(reader, path, spec, f"order-{order.first}-{order.then}-"
                                                 f"{order.kind.lower()}")
    return order


def set_constraint(reader, targets, path, spec, kind, pair_keys):
    """(sets, id) of an order or colocation written with `sets`; the keys of its pair form
    (`pair_keys`, the two it names first) are refused beside them. The id defaults to pcs's
    pcs_rsc_<kind>_set_<members>."""
    for key in pair_keys:
        if key in spec:
            reader.fail(path + (key,), f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} has either "
                                       f"{pair_keys[0]}/{pair_keys[1]} or sets, not both")
    sets = resource_sets(reader, targets, path + ("sets",), spec["sets"], kind)
    names = "_set_".join("_".join(s.resources) for s in sets)
    return sets, constraint_id(reader, path, spec, f"pcs_rsc_{kind}_set_{names}")


def read_colocation(reader, targets, index, raw):
    path = ("colocation", index)
    spec = reader.table(path, raw, DESCRIPTION.allowed("colocation"))
    col = Colocation("", origin=reader.where(path))
    if "score" in spec:
        col.score = reader.score(path + ("score",), spec["score"])
    if "sets" in spec:
        col.sets, col.id = set_constraint(reader, targets, path, spec, "colocation",
                                          ("resource", "with", "role", "with_role"))
        return col
    for key in ("resource", "with"):
        if key not in spec:
            reader.fail(path, f"missing key {key!r} (or sets = [...])")
    if "role" in spec:
        col.resource_role = reader.role(path + ("role",), spec["role"])
    if "with_role" in spec:
        col.with_role = reader.role(path + ("with_role",), spec["with_role"])
    col.resource = reference(reader, targets, path + ("resource",), spec["resource"],
                                     col.resource_role in ("Promoted", "Unpromoted"))
    col.with_resource = reference(reader, targets, path + ("with",), spec["with"],
                                          col.with_role in ("Promoted", "Unpromoted"))
    if col.resource == col.with_resource:
        reader.fail(path + ("with",), "a resource cannot be colocated with itself")
    col.id = constraint_id(reader, path, spec, f"colocation-{col.resource}-{col.with_resource}-"
                                               f"{col.score}")
    return col


def read_locations(reader, targets, index, raw, cluster):
    """One location per resource: `resource = ID` or `resources = [ID, ...]`."""
    path = ("location", index)
    spec = reader.table(path, raw, DESCRIPTION.allowed("location"))
    if ("resource" in spec) == ("resources" in spec):
        reader.fail(path, "a location needs exactly one of resource = ID or resources = [...]")
    if "resource" in spec:
        return [read_location(reader, targets, path, spec, path + ("resource",), spec["resource"], cluster)]
    if "id" in spec:
        reader.fail(path + ("id",), "a location for several resources gets one id per "
                                    "resource: leave id out")
    names = reader.strings(path + ("resources",), spec["resources"])
    return [read_location(reader, targets, path, spec, path + ("resources", i), name, cluster)
            for i, name in enumerate(names)]


def read_location(reader, targets, path, spec, resource_path, resource, cluster):
    loc = Location("", "", origin=reader.where(path))
    if "role" in spec:
        loc.role = reader.role(path + ("role",), spec["role"])
    loc.resource = reference(reader, targets, resource_path, resource,
                                     loc.role in ("Promoted", "Unpromoted"))
    given = [k for k in ("prefers", "avoids", "rule") if k in spec]
    if len(given) != 1:
        reader.fail(path, "a location needs exactly one of prefers, avoids or rule" +
                    (f", not {' and '.join(given)}" if given else ""))
    score = reader.score(path + ("score",), spec["score"]) if "score" in spec else "INFINITY"
    node_names = [n.name for n in cluster.nodes]
    if given[0] in ("prefers", "avoids"):
        where = path + (given[0],)
        node = reader.string(where, spec[given[0]], what="a node name")
        if node not in node_names:
            reader.no_such(where, node, node_names, "node", ("nodes",))
        if given[0] == "avoids":
            score = "-" + score.lstrip("+-")  # avoids: always a negative preference
        loc.node, loc.score = node, score
        loc.id = constraint_id(reader, path, spec, f"location-{loc.resource}-{node}-{score}")
        return loc
    loc.id = constraint_id(reader, path, spec, f"location-{loc.resource}")
    rule_path = path + ("rule",)
    text = reader.string(rule_path, spec["rule"], what="a rule such as 'ioc-host eq true'")
    rule = read_rule(reader, rule_path, text, f"{loc.id}-rule", score, cluster)
    rule.role = loc.role
    loc.rules = [rule]
    return loc


def read_rule(reader, path, text, rule_id, score, cluster):
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as exc:
        reader.fail(path, f"cannot split the rule into words: {exc}")
    if not words:
        reader.fail(path, "the rule is empty")
    clauses, joins, current = [], set(), []
    for word in words:
        if word in ("and", "or"):
            if not current:
                reader.fail(path, f"{word!r} without a test before it in {text!r}")
            clauses.append(current)
            current = []
            joins.add(word)
        else:
            current.append(word)
    if not current:
        reader.fail(path, f"the rule {text!r} ends with {words[-1]!r}")
    clauses.append(current)
    if len(joins) > 1:
        reader.fail(path, "a rule joins its tests with 'and' or with 'or', not both: write "
                          "two locations")
    rule_id = reader.unique(rule_id, path)
    defined = {a for n in cluster.nodes for a in n.attributes}
    expressions = []
    for clause in clauses:
        expr_id = reader.unique(f"{rule_id}-expr", path)
        if len(clause) == 2 and clause[0] in ("defined", "not_defined"):
            attribute, operation, value, vtype = clause[1], clause[0], None, None
        elif len(clause) == 3 and clause[1] in RULE_OPS:
            attribute, operation, value = clause
            vtype = None
            prefix, sep, rest = value.partition(":")
            if sep and prefix in RULE_TYPES:
                vtype, value = prefix, rest
            elif operation in ("lt", "gt", "lte", "gte") and re.match(r"(?a)-?\d+\Z", value):
                vtype = "integer"
            if vtype == "integer" and not re.match(r"(?a)-?\d+\Z", value):
                reader.fail(path, f"{value!r} is not an integer in {' '.join(clause)!r}")
        else:
            reader.fail(path, f"cannot read {' '.join(clause)!r}: a test is 'ATTRIBUTE OP "
                              f"VALUE' (OP one of {', '.join(RULE_OPS)}) or 'defined "
                              f"ATTRIBUTE'")
        if not ATTRIBUTE.match(attribute):
            reader.fail(path, f"{attribute!r} is not a node attribute name")
        if not attribute.startswith("#") and attribute not in defined:
            reader.warn(path, f"no node in the description sets attribute {attribute!r}: the "
                              f"rule depends on attributes set at run time")
        expressions.append(Expression(expr_id, attribute, operation, value, vtype))
    return Rule(rule_id, score, expressions, "or" if "or" in joins else "and")


def check_cycles(reader, cluster):
    """Orderings must form no loop (groups order their members too)."""
    edges = {}

    def add(a, b, path):
        edges.setdefault(a, []).append((b, path))

    for group in cluster.groups:
        for a, b in zip(group.members, group.members[1:]):
            add(a, b, ("groups", group.id, "resources"))
    for index, order in enumerate(cluster.orders):
        path = ("order", index)
        if order.kind == "Serialize":
            continue
        if order.sets:
            for i, rset in enumerate(order.sets):
                if rset.sequential is not False:
                    for a, b in zip(rset.resources, rset.resources[1:]):
                        add(a, b, path)
                if i + 1 < len(order.sets):
                    for a in rset.resources:
                        for b in order.sets[i + 1].resources:
                            add(a, b, path)
        else:
            add(order.first, order.then, path)
    # Depth-first search without recursion: a chain of thousands of orderings is normal.
    state = {}   # 1: on the current path, 2: done

    def successors(node):
        return iter(sorted(edges.get(node, ()), key=lambda edge: edge[0]))

    for start in sorted(edges):
        if start in state:
            continue
        state[start], trail, pending = 1, [start], [successors(start)]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                state[trail.pop()] = 2
                pending.pop()
                continue
            target, path = step
            if state.get(target) == 1:
                loop = trail[trail.index(target):] + [target]
                reader.fail(path, "orderings form a cycle: " + " -> ".join(loop))
            if target not in state:
                state[target] = 1
                trail.append(target)
                pending.append(successors(target))
