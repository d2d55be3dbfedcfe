"""Constraints of a description: orders, colocations, locations (node preferences and
rules on node attributes), resource sets, and the check that orderings form no cycle. A mixin
of description._Reader."""

import re

from .description_values import (
    ATTRIBUTE,
    ORDER_ACTIONS,
    ORDER_KINDS,
    RULE_OPS,
    RULE_TYPES,
    suggest,
)
from .keys import DESCRIPTION
from .model import CLONE, Colocation, Expression, Location, Order, ResourceSet, Rule


class ConstraintReader:
    def unknown(self, name, known, what="resource"):
        return f"unknown {what} {name!r}{suggest(name, known)}"

    def reference(self, path, value, roles_needed=False):
        name = self.string(path, value, what="a resource id")
        if name not in self.kinds:
            self.no_such(path, name, self.kinds)
        parent = self.parent.get(name)
        if parent is not None and self.kinds.get(parent) == CLONE:
            self.fail(path, f"{name!r} is inside clone {parent!r}: constrain the clone")
        if roles_needed and name not in self.promotable_clones:
            self.fail(path, f"{name!r} is not a promotable clone, so it has no Promoted or "
                            f"Unpromoted role")
        return name

    def resource_sets(self, path, raw, kind):
        if not isinstance(raw, list) or not raw:
            self.fail(path, "must be a non-empty list of sets ({ resources = [...] })")
        sets = []
        for index, spec in enumerate(raw):
            where = path + (index,)
            allowed = DESCRIPTION.allowed(f"{kind}.sets")
            spec = self.table(where, spec, allowed)
            if "resources" not in spec:
                self.fail(where, "missing key 'resources'")
            self.strings(where + ("resources",), spec["resources"])
            rset = ResourceSet("", [], origin=self.where(where))
            role = None
            if "role" in spec:
                role = rset.role = self.role(where + ("role",), spec["role"])
            rset.resources = [self.reference(where + ("resources", i), r,
                                             role in ("Promoted", "Unpromoted"))
                              for i, r in enumerate(spec["resources"])]
            if "sequential" in spec:
                rset.sequential = self.boolean(where + ("sequential",), spec["sequential"])
            if "require_all" in spec:
                rset.require_all = self.boolean(where + ("require_all",), spec["require_all"])
            if "action" in spec:
                if kind != "order":
                    self.fail(where + ("action",), "only ordering sets have an action")
                rset.action = self.choice(where + ("action",), spec["action"], ORDER_ACTIONS)
            if "id" in spec:
                rset.id = self.claim(where + ("id",), self.identifier(where + ("id",), spec["id"]))
            else:
                rset.id = self.unique("pcs_rsc_set_" + "_".join(rset.resources), where)
            sets.append(rset)
        return sets

    def choice(self, path, value, choices):
        text = self.string(path, value)
        if text not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}, not {text!r}")
        return text

    def constraint_id(self, path, spec, base):
        if "id" in spec:
            return self.claim(path + ("id",), self.identifier(path + ("id",), spec["id"]))
        return self.unique(re.sub(r"[^A-Za-z0-9_.-]", "", base), path)

    def order(self, index, raw):
        path = ("order", index)
        spec = self.table(path, raw, DESCRIPTION.allowed("order"))
        order = Order("", origin=self.where(path))
        if "kind" in spec:
            order.kind = self.choice(path + ("kind",), spec["kind"], ORDER_KINDS)
        if "symmetrical" in spec:
            order.symmetrical = self.boolean(path + ("symmetrical",), spec["symmetrical"])
        if "sets" in spec:
            for key in ("first", "then", "first_action", "then_action"):
                if key in spec:
                    self.fail(path + (key,), "an order has either first/then or sets, not both")
            order.sets = self.resource_sets(path + ("sets",), spec["sets"], "order")
            names = "_set_".join("_".join(s.resources) for s in order.sets)
            order.id = self.constraint_id(path, spec, f"pcs_rsc_order_set_{names}")
            return order
        for key in ("first", "then"):
            if key not in spec:
                self.fail(path, f"missing key {key!r} (or sets = [...])")
        for key in ("first_action", "then_action"):
            if key in spec:
                setattr(order, key, self.choice(path + (key,), spec[key], ORDER_ACTIONS))
        order.first = self.reference(path + ("first",), spec["first"],
                                     order.first_action in ("promote", "demote"))
        order.then = self.reference(path + ("then",), spec["then"],
                                    order.then_action in ("promote", "demote"))
        order.id = self.constraint_id(path, spec, f"order-{order.first}-{order.then}-"
                                                  f"{order.kind.lower()}")
        return order

    def colocation(self, index, raw):
        path = ("colocation", index)
        spec = self.table(path, raw, DESCRIPTION.allowed("colocation"))
        col = Colocation("", origin=self.where(path))
        if "score" in spec:
            col.score = self.score(path + ("score",), spec["score"])
        if "sets" in spec:
            for key in ("resource", "with", "role", "with_role"):
                if key in spec:
                    self.fail(path + (key,), "a colocation has either resource/with or sets, "
                                             "not both")
            col.sets = self.resource_sets(path + ("sets",), spec["sets"], "colocation")
            names = "_set_".join("_".join(s.resources) for s in col.sets)
            col.id = self.constraint_id(path, spec, f"pcs_rsc_colocation_set_{names}")
            return col
        for key in ("resource", "with"):
            if key not in spec:
                self.fail(path, f"missing key {key!r} (or sets = [...])")
        if "role" in spec:
            col.resource_role = self.role(path + ("role",), spec["role"])
        if "with_role" in spec:
            col.with_role = self.role(path + ("with_role",), spec["with_role"])
        col.resource = self.reference(path + ("resource",), spec["resource"],
                                      col.resource_role in ("Promoted", "Unpromoted"))
        col.with_resource = self.reference(path + ("with",), spec["with"],
                                           col.with_role in ("Promoted", "Unpromoted"))
        if col.resource == col.with_resource:
            self.fail(path + ("with",), "a resource cannot be colocated with itself")
        col.id = self.constraint_id(path, spec, f"colocation-{col.resource}-{col.with_resource}-"
                                                f"{col.score}")
        return col

    def locations(self, index, raw, cluster):
        """One location per resource: `resource = ID` or `resources = [ID, ...]`."""
        path = ("location", index)
        spec = self.table(path, raw, DESCRIPTION.allowed("location"))
        if ("resource" in spec) == ("resources" in spec):
            self.fail(path, "a location needs exactly one of resource = ID or resources = [...]")
        if "resource" in spec:
            return [self.location(path, spec, path + ("resource",), spec["resource"], cluster)]
        if "id" in spec:
            self.fail(path + ("id",), "a location for several resources gets one id per "
                                      "resource: leave id out")
        names = self.strings(path + ("resources",), spec["resources"])
        return [self.location(path, spec, path + ("resources", i), name, cluster)
                for i, name in enumerate(names)]

    def location(self, path, spec, resource_path, resource, cluster):
        loc = Location("", "", origin=self.where(path))
        if "role" in spec:
            loc.role = self.role(path + ("role",), spec["role"])
        loc.resource = self.reference(resource_path, resource,
                                      loc.role in ("Promoted", "Unpromoted"))
        given = [k for k in ("prefers", "avoids", "rule") if k in spec]
        if len(given) != 1:
            self.fail(path, "a location needs exactly one of prefers, avoids or rule" +
                      (f", not {' and '.join(given)}" if given else ""))
        score = self.score(path + ("score",), spec["score"]) if "score" in spec else "INFINITY"
        node_names = [n.name for n in cluster.nodes]
        if given[0] in ("prefers", "avoids"):
            where = path + (given[0],)
            node = self.string(where, spec[given[0]], what="a node name")
            if node not in node_names:
                self.no_such(where, node, node_names, "node", ("nodes",))
            if given[0] == "avoids":
                score = "-" + score.lstrip("+-")  # avoids: always a negative preference
            loc.node, loc.score = node, score
            loc.id = self.constraint_id(path, spec, f"location-{loc.resource}-{node}-{score}")
            return loc
        loc.id = self.constraint_id(path, spec, f"location-{loc.resource}")
        rule_path = path + ("rule",)
        text = self.string(rule_path, spec["rule"], what="a rule such as 'ioc-host eq true'")
        rule = self.rule(rule_path, text, f"{loc.id}-rule", score, cluster)
        rule.role = loc.role
        loc.rules = [rule]
        return loc

    def rule(self, path, text, rule_id, score, cluster):
        import shlex

        try:
            words = shlex.split(text)
        except ValueError as exc:
            self.fail(path, f"cannot split the rule into words: {exc}")
        if not words:
            self.fail(path, "the rule is empty")
        clauses, joins, current = [], set(), []
        for word in words:
            if word in ("and", "or"):
                if not current:
                    self.fail(path, f"{word!r} without a test before it in {text!r}")
                clauses.append(current)
                current = []
                joins.add(word)
            else:
                current.append(word)
        if not current:
            self.fail(path, f"the rule {text!r} ends with {words[-1]!r}")
        clauses.append(current)
        if len(joins) > 1:
            self.fail(path, "a rule joins its tests with 'and' or with 'or', not both: write "
                            "two locations")
        rule_id = self.unique(rule_id, path)
        defined = {a for n in cluster.nodes for a in n.attributes}
        expressions = []
        for clause in clauses:
            expr_id = self.unique(f"{rule_id}-expr", path)
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
                    self.fail(path, f"{value!r} is not an integer in {' '.join(clause)!r}")
            else:
                self.fail(path, f"cannot read {' '.join(clause)!r}: a test is 'ATTRIBUTE OP "
                                f"VALUE' (OP one of {', '.join(RULE_OPS)}) or 'defined "
                                f"ATTRIBUTE'")
            if not ATTRIBUTE.match(attribute):
                self.fail(path, f"{attribute!r} is not a node attribute name")
            if not attribute.startswith("#") and attribute not in defined:
                self.warn(path, f"no node in the description sets attribute {attribute!r}: the "
                                f"rule depends on attributes set at run time")
            expressions.append(Expression(expr_id, attribute, operation, value, vtype))
        return Rule(rule_id, score, expressions, "or" if "or" in joins else "and")

    def check_cycles(self, cluster):
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
                    self.fail(path, "orderings form a cycle: " + " -> ".join(loop))
                if target not in state:
                    state[target] = 1
                    trail.append(target)
                    pending.append(successors(target))
