"""What a description owns in a live CIB, and the configuration a push leaves behind.

The rule (docs/ocfgen-live.md): the description owns what it names, and only that.
- cluster options, resource defaults and operation defaults: the names it sets;
- nodes: the nodes it lists, and of each only the node attributes and utilization it sets;
- resources: the top-level resources it defines (primitives, groups, clones, with their
  members), but not the run-time meta attributes RUNTIME_META an operator sets on them
  (`crm_resource --meta`, `pcs resource disable/unmanage`) unless it sets them itself;
- constraints and fencing levels: the ids it generates.
Everything else in the live configuration is the operators' and is kept as it is: other cluster
options (maintenance-mode), node attributes (standby, maintenance), cli-ban-*/cli-prefer-*
constraints, alerts, tags, ACLs, and resources and constraints the description does not
mention ("not managed by this description"; removed only by a prune). The status section
(fail counts, failed actions, tickets) is never part of a change.

`Scope` records what a description owned, so that a rollback to a checkpoint touches exactly
what the push it undoes touched. `merge(live, desired, scope)` is the configuration after a
push; `changes(old, new)` lists what differs, item by item, as add/change/remove.
"""

import copy
from dataclasses import asdict, dataclass, field

from lxml import etree

from ..render.cib import Ids

# Meta attributes operators set at run time: a push keeps them unless the description sets them.
RUNTIME_META = ("target-role", "is-managed", "maintenance")
# Where ocfgen records which description a cluster runs (crm_config; Pacemaker ignores it).
PROVENANCE_SET = "ocfgen-provenance"
PROVENANCE_DIGEST = "ocfgen-description-sha256"
PROVENANCE_VERSION = "ocfgen-version"
RESOURCE_TAGS = ("primitive", "group", "clone", "bundle")
NVSET_TAGS = ("instance_attributes", "meta_attributes", "utilization", "cluster_property_set")
BLOCK_ORDER = {"instance_attributes": 0, "meta_attributes": 1, "utilization": 2, "operations": 3}
CONSTRAINT_TAGS = ("rsc_location", "rsc_order", "rsc_colocation", "rsc_ticket")
# The constraints crm_resource --ban/--move/--prefer writes.
OPERATOR_CONSTRAINTS = ("cli-ban-", "cli-prefer-")
# Sections made of name=value pairs: (section path, set tag, default set id).
NVSECTIONS = {"properties": ("crm_config", "cluster_property_set", "cib-bootstrap-options"),
              "rsc_defaults": ("rsc_defaults", "meta_attributes", "rsc_defaults-meta_attributes"),
              "op_defaults": ("op_defaults", "meta_attributes", "op_defaults-meta_attributes")}


class OwnershipError(ValueError):
    """The description and the live configuration cannot be merged (one line, why)."""


@dataclass
class Scope:
    """The names a description owns: kept with every checkpoint."""

    properties: list = field(default_factory=list)
    rsc_defaults: list = field(default_factory=list)
    op_defaults: list = field(default_factory=list)
    nodes: dict = field(default_factory=dict)        # uname -> {"attributes": [...], ...}
    resources: list = field(default_factory=list)    # top-level ids
    constraints: list = field(default_factory=list)
    fencing_levels: list = field(default_factory=list)

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**{key: data.get(key, default.default_factory())
                      for key, default in cls.__dataclass_fields__.items()})


def parse(data):
    """A configuration or CIB element from bytes, without blank text or comments."""
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True)
    return etree.fromstring(data, parser)


def _nvsets(configuration, section):
    path, tag, _ = NVSECTIONS[section]
    holder = configuration.find(path)
    if holder is None:
        return []
    return [s for s in holder.findall(tag) if s.get("id") != PROVENANCE_SET
            and s.find("rule") is None]


def _nvpairs(sets):
    """{name: value} of plain (rule-less) sets, first set wins."""
    values = {}
    for block in sets:
        for nv in block.findall("nvpair"):
            values.setdefault(nv.get("name"), nv.get("value"))
    return values


def _node_sets(node, tag):
    return [s for s in node.findall(tag) if s.find("rule") is None]


def scope_of(configuration):
    """What a generated configuration names."""
    scope = Scope()
    for section in NVSECTIONS:
        setattr(scope, section, list(_nvpairs(_nvsets(configuration, section))))
    for node in configuration.iterfind("nodes/node"):
        scope.nodes[node.get("uname")] = {
            "attributes": list(_nvpairs(_node_sets(node, "instance_attributes"))),
            "utilization": list(_nvpairs(_node_sets(node, "utilization")))}
    scope.resources = [r.get("id") for r in configuration.iterfind("resources/*")]
    scope.constraints = [c.get("id") for c in configuration.iterfind("constraints/*")]
    scope.fencing_levels = [f.get("id") for f in configuration.iterfind(
        "fencing-topology/fencing-level")]
    return scope


def _ids_of(root):
    """The ids of a tree (a resource_ref's id is a reference, not an id of its own)."""
    return {e.get("id") for e in root.iter() if e.get("id") and e.tag != "resource_ref"}


def _section(configuration, path):
    element = configuration.find(path)
    if element is None:
        element = etree.SubElement(configuration, path)
    return element


def _set_nvpair(parent, tag, default_id, name, value, ids):
    """Set `name` to `value` (None: remove it) in the plain sets of `tag` under `parent`."""
    sets = [s for s in parent.findall(tag) if s.find("rule") is None
            and s.get("id") != PROVENANCE_SET]
    found = [nv for block in sets for nv in block.findall("nvpair") if nv.get("name") == name]
    if value is None:
        for nv in found:
            nv.getparent().remove(nv)
        return
    if found:
        found[0].set("value", value)
        for nv in found[1:]:
            nv.getparent().remove(nv)
        return
    target = next((s for s in sets if s.get("id") == default_id), sets[0] if sets else None)
    if target is None:
        target = etree.Element(tag, id=ids.free(default_id))
        parent.insert(len(parent.findall(tag)), target)
    etree.SubElement(target, "nvpair", id=ids.free(f"{target.get('id')}-{name}"), name=name,
                     value=value)


def _resource_index(resources):
    """{id: (element, top-level ancestor)} for every resource element under <resources>."""
    index = {}
    for top in resources:
        for element in top.iter(*RESOURCE_TAGS):
            index[element.get("id")] = (element, top)
    return index


def _meta(element):
    return _nvpairs([s for s in element.findall("meta_attributes") if s.find("rule") is None])


def _keep_runtime_meta(new_top, live_index, ids):
    """Copy the run-time meta attributes operators set on the live resources into `new_top`."""
    for element in new_top.iter(*RESOURCE_TAGS):
        live = live_index.get(element.get("id"))
        if live is None:
            continue
        live_meta = {nv.get("name"): nv for block in live[0].findall("meta_attributes")
                     if block.find("rule") is None for nv in block.findall("nvpair")}
        mine = _meta(element)
        for name in RUNTIME_META:
            if name in mine or name not in live_meta:
                continue
            block = next((b for b in element.findall("meta_attributes")
                          if b.find("rule") is None), None)
            if block is None:
                block = etree.Element("meta_attributes",
                                      id=ids.free(f"{element.get('id')}-meta_attributes"))
                after = element.find("instance_attributes")
                position = 0 if after is None or element.tag != "primitive" else (
                    element.index(after) + 1)
                element.insert(position, block)
            nv = copy.deepcopy(live_meta[name])
            nv.set("id", ids.free(nv.get("id")))
            block.append(nv)


def _references(constraint):
    refs = {constraint.get(a) for a in ("rsc", "with-rsc", "first", "then") if constraint.get(a)}
    refs |= {ref.get("id") for ref in constraint.iter("resource_ref")}
    return refs


def merge(live, desired, scope, prune=False):
    """The configuration after putting `desired`'s owned items (`scope`) into `live`.

    Owned items absent from `desired` are removed (a rollback to before they existed). With
    `prune`, top-level resources and constraints outside the scope go too (cli-* constraints
    only with the resources they name). Raises OwnershipError for a merge that would tear
    apart something the description does not own.
    """
    new = copy.deepcopy(live)
    ids = Ids(_ids_of(new))
    for section, (path, tag, default_id) in NVSECTIONS.items():
        wanted = _nvpairs(_nvsets(desired, section))
        for name in getattr(scope, section):
            if name in wanted or new.find(path) is not None:
                _set_nvpair(_section(new, path), tag, default_id, name, wanted.get(name), ids)
    _merge_nodes(new, desired, scope, ids)
    removed = _merge_resources(new, desired, scope, prune)
    _merge_by_id(new, desired, "constraints", scope.constraints)
    _merge_by_id(new, desired, "fencing-topology", scope.fencing_levels)
    constraints = new.find("constraints")
    if constraints is not None:
        owned = set(scope.constraints)
        for constraint in list(constraints):
            if constraint.get("id") in owned:
                continue
            pruned = prune and not constraint.get("id", "").startswith(OPERATOR_CONSTRAINTS)
            if pruned or _references(constraint) & removed:
                constraints.remove(constraint)
    _same_level_twice(new, scope)
    return new


def _merge_nodes(new, desired, scope, ids):
    nodes = _section(new, "nodes")
    live_nodes = {n.get("uname"): n for n in nodes.findall("node")}
    wanted_nodes = {n.get("uname"): n for n in desired.iterfind("nodes/node")}
    live_ids = {n.get("id"): n.get("uname") for n in nodes.findall("node")}
    for uname, owned in scope.nodes.items():
        wanted, live = wanted_nodes.get(uname), live_nodes.get(uname)
        if live is None:
            if wanted is None:
                continue
            if wanted.get("id") in live_ids:
                raise OwnershipError(f"node {uname}: id {wanted.get('id')} is node "
                                     f"{live_ids[wanted.get('id')]}'s in the live cluster")
            element = copy.deepcopy(wanted)
            for e in element.iter():
                if e.get("id") and e.tag != "node":
                    e.set("id", ids.free(e.get("id")))
            nodes.append(element)
            continue
        for tag, key in (("instance_attributes", "attributes"), ("utilization", "utilization")):
            values = _nvpairs(_node_sets(wanted, tag)) if wanted is not None else {}
            block = wanted.find(tag) if wanted is not None else None
            default_id = block.get("id") if block is not None else f"nodes-{live.get('id')}"
            for name in owned.get(key, []):
                _set_nvpair(live, tag, default_id, name, values.get(name), ids)


def _merge_resources(new, desired, scope, prune):
    """Put the owned top-level resources in place; the ids of resources removed."""
    resources = _section(new, "resources")
    live_index = _resource_index(resources)
    owned = set(scope.resources)
    wanted = {r.get("id"): r for r in desired.iterfind("resources/*") if r.get("id") in owned}
    named = set(owned)
    for top in wanted.values():
        for element in top.iter(*RESOURCE_TAGS):
            named.add(element.get("id"))
            found = live_index.get(element.get("id"))
            if found is None or found[1] is found[0]:
                continue
            live_top = found[1].get("id")
            if live_top not in named and live_top not in wanted:
                raise OwnershipError(
                    f"resource {element.get('id')} is inside {live_top} in the live cluster, "
                    f"which this description does not name: add {live_top} to the description "
                    f"or take {element.get('id')} out of it first")
    # Take every top-level resource out, then put back the operators' and the owned ones in
    # the live order (new ones last), with ids free in what stays.
    order = []
    for top in list(resources):
        rid = top.get("id")
        if rid in wanted:
            order.append(rid)
        elif not (rid in named or (prune and rid not in owned)):
            order.append(top)
        resources.remove(top)
    order += [rid for rid in wanted if rid not in order]
    ids = Ids(_ids_of(new))
    for entry in order:
        if not isinstance(entry, str):
            ids.used |= _ids_of(entry)
    for entry in order:
        if isinstance(entry, str):
            fresh = copy.deepcopy(wanted[entry])
            for element in fresh.iter():
                if element.get("id") and element.tag != "resource_ref":
                    element.set("id", ids.free(element.get("id")))
            _keep_runtime_meta(fresh, live_index, ids)
            entry = fresh
        resources.append(entry)
    return set(live_index) - set(_resource_index(resources))


def _merge_by_id(new, desired, path, owned_ids):
    wanted = {e.get("id"): e for e in desired.iterfind(f"{path}/*")
              if e.get("id") in owned_ids}
    section = new.find(path)
    if section is None:
        if not any(i in wanted for i in owned_ids):
            return
        section = etree.SubElement(new, path)
    live = {e.get("id"): e for e in section}
    for identifier in owned_ids:
        if identifier in live and identifier in wanted:
            section.replace(live[identifier], copy.deepcopy(wanted[identifier]))
        elif identifier in live:
            section.remove(live[identifier])
        elif identifier in wanted:
            section.append(copy.deepcopy(wanted[identifier]))
    if len(section) == 0:
        new.remove(section)


def _same_level_twice(new, scope):
    """A live fencing level for the same target and index as an owned one is replaced by it."""
    topology = new.find("fencing-topology")
    if topology is None:
        return
    owned = set(scope.fencing_levels)
    mine = {(f.get("target"), f.get("index")) for f in topology if f.get("id") in owned}
    for level in list(topology):
        if level.get("id") not in owned and (level.get("target"), level.get("index")) in mine:
            topology.remove(level)


def set_provenance(configuration, values):
    """Replace ocfgen's provenance set (None: remove it)."""
    crm_config = _section(configuration, "crm_config")
    old = crm_config.find(f"cluster_property_set[@id='{PROVENANCE_SET}']")
    if old is not None:
        crm_config.remove(old)
    if values:
        block = etree.SubElement(crm_config, "cluster_property_set", id=PROVENANCE_SET)
        for name, value in values.items():
            etree.SubElement(block, "nvpair", id=f"{PROVENANCE_SET}-{name}", name=name,
                             value=value)


def provenance(configuration):
    """{name: value} of ocfgen's provenance set ({} when the cluster has none)."""
    block = configuration.find(f"crm_config/cluster_property_set[@id='{PROVENANCE_SET}']")
    return {} if block is None else {nv.get("name"): nv.get("value") for nv in block}


def unmanaged(live, scope, desired):
    """[(kind, id)] of live resources and constraints the description does not name."""
    named = set(scope.resources) | {e.get("id") for e in desired.iterfind("resources//*")
                                     if e.tag in RESOURCE_TAGS}
    out = [("resource", r.get("id")) for r in live.iterfind("resources/*")
           if r.get("id") not in named]
    owned = set(scope.constraints)
    out += [("constraint", c.get("id")) for c in live.iterfind("constraints/*")
            if c.get("id") not in owned]
    return out


# ---- changes ---------------------------------------------------------------------------------

@dataclass
class Change:
    action: str            # add, change, remove
    what: str              # "property maintenance-mode", "resource web"
    old: list              # text lines of the old item ([] when added)
    new: list

    def lines(self):
        import difflib

        head = f"{self.action} {self.what}"
        if self.action == "add":
            return [head] + [f"  + {line}" for line in self.new]
        if self.action == "remove":
            return [head] + [f"  - {line}" for line in self.old]
        body = list(difflib.unified_diff(self.old, self.new, lineterm="", n=2))[2:]
        return [head] + [f"  {line}" for line in body]


def _text(element):
    """Pretty XML lines of `element` in a canonical form, so that only meaning shows as a
    change: attributes sorted, the attribute blocks of a resource, its operations and the
    nvpairs of a set in a fixed order, attributes that state Pacemaker's default left out
    (pcs and ocfgen write the same configuration differently)."""
    element = copy.deepcopy(element)
    everything = [e for e in element.iter() if isinstance(e.tag, str)]
    for e in everything:
        if e.tag in RESOURCE_TAGS:
            e[:] = sorted(e, key=lambda child: BLOCK_ORDER.get(child.tag, len(BLOCK_ORDER)))
        elif e.tag == "operations":
            e[:] = sorted(e, key=lambda op: (op.get("name", ""), op.get("interval", ""),
                                             op.get("role", "")))
        elif e.tag in NVSET_TAGS:
            e[:] = sorted(e, key=lambda nv: (nv.tag != "nvpair", nv.get("name", "")))
    for e in everything:
        _drop_defaults(e)
        attributes = sorted(e.attrib.items())
        e.attrib.clear()
        e.attrib.update(attributes)
    return etree.tostring(element, pretty_print=True, encoding="unicode").splitlines()


def _drop_defaults(element):
    """Attributes spelled out with Pacemaker's default value mean the same as left out (pcs
    writes first-action="start" and no kind; ocfgen writes kind="Mandatory")."""
    attrs = element.attrib
    if element.tag == "rsc_order":
        first = attrs.get("first-action", "start")
        if attrs.get("then-action") == first:      # then-action defaults to first-action
            del attrs["then-action"]
        if attrs.get("first-action") == "start":
            del attrs["first-action"]
        if attrs.get("kind") == "Mandatory":
            del attrs["kind"]
    elif element.tag == "rsc_colocation":
        for name in ("rsc-role", "with-rsc-role"):
            if attrs.get(name) == "Started":
                del attrs[name]
    elif element.tag in ("rsc_location", "resource_set") and attrs.get("role") == "Started":
        del attrs["role"]


def _nv_text(nv):
    return [f"{nv.get('name')} = {nv.get('value')!r}"]


def items(configuration):
    """{key: (what, text lines)} of every separately owned item."""
    out = {}
    for section, (path, tag, _) in NVSECTIONS.items():
        label = {"properties": "property", "rsc_defaults": "resource default",
                 "op_defaults": "operation default"}[section]
        holder = configuration.find(path)
        for block in holder.findall(tag) if holder is not None else ():
            if block.get("id") == PROVENANCE_SET:
                continue
            if block.find("rule") is not None:
                out[(label, block.get("id"))] = (f"{label} set {block.get('id')}", _text(block))
                continue
            for nv in block.findall("nvpair"):
                out[(label, nv.get("name"))] = (f"{label} {nv.get('name')}", _nv_text(nv))
    for node in configuration.iterfind("nodes/node"):
        uname = node.get("uname")
        shell = " ".join(f"{k}={v!r}" for k, v in sorted(node.attrib.items()))
        out[("node", uname)] = (f"node {uname}", [f"node {shell}"])
        for tag, label in (("instance_attributes", "node attribute"),
                           ("utilization", "node utilization")):
            for block in node.findall(tag):
                if block.find("rule") is not None:
                    out[(label, uname, block.get("id"))] = (f"{label} set {block.get('id')}",
                                                            _text(block))
                    continue
                for nv in block.findall("nvpair"):
                    out[(label, uname, nv.get("name"))] = (
                        f"{label} {uname} {nv.get('name')}", _nv_text(nv))
    for path, label in (("resources", "resource"), ("constraints", "constraint"),
                        ("fencing-topology", "fencing level")):
        for element in configuration.iterfind(f"{path}/*"):
            out[(label, element.get("id"))] = (f"{label} {element.get('id')}", _text(element))
    for section in configuration:
        if section.tag not in ("crm_config", "rsc_defaults", "op_defaults", "nodes", "resources",
                               "constraints", "fencing-topology"):
            out[("section", section.tag)] = (f"section {section.tag}", _text(section))
    return out


def changes(old, new):
    """[Change] from configuration `old` to `new`, in `new`'s order, then removals."""
    before, after = items(old), items(new)
    out = []
    for key, (what, lines) in after.items():
        if key not in before:
            out.append(Change("add", what, [], lines))
        elif before[key][1] != lines:
            out.append(Change("change", what, before[key][1], lines))
    for key, (what, lines) in before.items():
        if key not in after:
            out.append(Change("remove", what, lines, []))
    return out
