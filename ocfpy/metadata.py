"""The meta-data XML of an agent, made from its declarations.

Callers that announce OCF 1.1 (Pacemaker sets OCF_RA_VERSION_MAJOR/MINOR) get a document for the
1.1 RELAX NG schema: select parameters, reloadable, unique-group, reload-agent, Promoted and
Unpromoted roles. Callers that announce nothing or 1.0 (ocf-tester validates against the 1.0 DTD
its DOCTYPE names) get the 1.0 form of the same declarations: selects become strings with their
choices in the description, 1.1-only attributes and actions are left out, roles are Master/Slave.
"""

_ROLES_1_0 = {"Promoted": "Master", "Unpromoted": "Slave"}
_ACTIONS_1_0 = frozenset((
    "start", "stop", "monitor", "promote", "demote", "notify", "reload", "migrate_to",
    "migrate_from", "meta-data", "validate-all",
))


def escape(text):
    return (
        str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def _attributes(pairs):
    return "".join(f' {key}="{escape(value)}"' for key, value in pairs if value is not None)


def _parameter(declaration, ocf_1_1):
    p = declaration
    attrs = [("name", p.name), ("required", "1" if p.required else "0")]
    if p.unique_group:
        attrs.append(("unique", "1"))
        if ocf_1_1:
            attrs.append(("unique-group", p.unique_group))
    if ocf_1_1 and p.reloadable:
        attrs.append(("reloadable", "1"))
    longdesc = p.longdesc
    if p.kind == "integer":
        longdesc = f"{longdesc} An integer {p.range_text()}."
    kind = p.kind
    if kind == "select" and not ocf_1_1:
        kind = "string"
        longdesc = f"{longdesc} One of: {', '.join(p.choices)}."
    content_attrs = _attributes([("type", kind), ("default", p.default)])
    lines = [
        f"<parameter{_attributes(attrs)}>",
        f'<longdesc lang="en">{escape(longdesc)}</longdesc>',
        f'<shortdesc lang="en">{escape(p.shortdesc)}</shortdesc>',
    ]
    if kind == "select":
        lines.append(f"<content{content_attrs}>")
        lines.extend(f'<option value="{escape(choice)}"/>' for choice in p.choices)
        lines.append("</content>")
    else:
        lines.append(f"<content{content_attrs}/>")
    lines.append("</parameter>")
    return "\n".join("  " + line for line in lines)


def _action(entry, ocf_1_1):
    name, timeout, interval, depth, role = entry
    if not ocf_1_1:
        if name not in _ACTIONS_1_0:
            return None
        role = _ROLES_1_0.get(role, role)
    attrs = [("name", name), ("timeout", f"{timeout}s")]
    if interval is not None:
        attrs.append(("interval", f"{interval}s"))
    attrs += [("depth", depth), ("role", role)]
    return f"  <action{_attributes(attrs)}/>"


def render(agent_class, ocf_1_1):
    """The meta-data document of `agent_class` for an OCF 1.1 caller or an older one."""
    head = ['<?xml version="1.0"?>']
    if not ocf_1_1:
        head.append('<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">')
    parameters = "\n".join(_parameter(p, ocf_1_1) for p in agent_class.parameters)
    actions = [_action(entry, ocf_1_1) for entry in agent_class.action_table()]
    return "\n".join(head + [
        f'<resource-agent name="{escape(agent_class.name)}"'
        f' version="{escape(agent_class.version)}">',
        f"<version>{'1.1' if ocf_1_1 else '1.0'}</version>",
        f'<longdesc lang="en">{escape(agent_class.longdesc)}</longdesc>',
        f'<shortdesc lang="en">{escape(agent_class.shortdesc)}</shortdesc>',
        "<parameters>",
        parameters,
        "</parameters>",
        "<actions>",
        "\n".join(a for a in actions if a),
        "</actions>",
        "</resource-agent>",
        "",
    ])
