"""The text of `ocfgen explain [KEY]` (the command: cli/explain.py): the reference of every
key of a cluster description and of its hosts file, printed from the loaders' own
declarations (generators/load/keys.py).

The same declarations make docs/description-reference.md (`ocfgen explain --markdown`; a test
checks the committed page is what this prints) and a section of ocfgen(8) (generators/cli/manpage.py
calls `manual_lines`). The secret rules come first, with the loaders' own limits.
"""

import json

from ..load.keys import DOCUMENTS

MARKDOWN_PAGE = "docs/description-reference.md"
REGENERATE = f"ocfgen explain --markdown > {MARKDOWN_PAGE}"

TYPE_WORDS = {
    "strings": "list of strings",
    "integers": "list of integers",
    "id": "id (a letter or '_', then letters, digits, '.', '-', '_')",
    "duration": "duration (10s, 500ms, 2min; an integer is seconds)",
    "score": "score (an integer, INFINITY or -INFINITY)",
    "ports": "list of ports and [first, last] ranges",
}


def secret_rules():
    """(the keys a rule is about, the rule): every secret rule of both files, with the limits
    the checks use."""
    from ..load.values import SECRET_FILE_MAX, SECRET_WORDS
    from .keepalived import PASS_LENGTH, WELL_KNOWN_SECRETS

    words = ", ".join(SECRET_WORDS)
    known = ", ".join(sorted(WELL_KNOWN_SECRETS)[:4])
    return [
        (("nodes.fencing.params", "remote_nodes.fencing.params"),
         f"No inline secrets in a description: a fence device parameter whose name contains "
         f"{words} (in any case) is refused unless its name ends in _script, because the CIB "
         f"is copied to every node and into every report. Name a script that prints the "
         f"secret instead: password_script = \"/etc/cluster/ipmi-password\"."),
        (("keepalived.secret_file",),
         "keepalived without secret_file runs VRRPv3 without authentication, unicast to the "
         "peer, and `ocfgen firewall` admits VRRP from that peer only (VRRPv2 PASS travels in "
         "clear and never protected anything). secret_file asks for VRRPv2 PASS with the "
         f"file's content, which must pass every one of these at once: the file is a regular "
         f"file that group and others cannot read (chmod 600), at most {SECRET_FILE_MAX} "
         f"bytes of UTF-8 text, never quoted in errors; the secret, surrounding whitespace "
         f"stripped, is exactly {PASS_LENGTH} characters (keepalived cuts longer ones); "
         f"printable ASCII without spaces, quotes, backslash, '#', '!' or braces; at least 5 "
         f"distinct characters and not a simple sequence (abcdefgh, 13579;=?); at least three "
         f"of digits, lower case, upper case and symbols; none of the "
         f"{len(WELL_KNOWN_SECRETS)} well-known defaults ({known}, ...). keepalived.conf then "
         f"holds it and is written mode 0600."),
        (("corosync.crypto", "corosync.keyfile", "remote"),
         "Keys are files ocfgen writes, never keys of a description: with crypto (the "
         "default) corosync reads its authkey, which `ocfgen corosync DESCRIPTION -o DIR` "
         "writes mode 0400 (keyfile only names its path); remote nodes share "
         "/etc/pacemaker/authkey, which `ocfgen remote DESCRIPTION -o DIR` writes."),
    ]


def _toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" \
            if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _type(document, path, key):
    if key.table is not None and key.table.shape != "table":
        header = document.header(path)
        return f"tables {header}, one per NAME" if key.table.shape == "named" else (
            f"array of tables {header}")
    return TYPE_WORDS.get(key.type, key.type)


def _default(key):
    if key.required:
        return "required" + (f" {key.otherwise}" if key.otherwise else "")
    if key.otherwise:
        return key.otherwise
    return "none" if key.default is None else _toml(key.default)


def _values(key):
    if not key.values:
        return ""
    label = "names" if key.type == "table" else "one of"
    return f"{label}: {', '.join(key.values)}"


def _sentence(text):
    return f"{text[0].upper()}{text[1:]}."


def _path(prefix, key):
    return f"{prefix}.{key.name}" if prefix else key.name


# Plain text: `ocfgen explain` and `ocfgen explain KEY`.
def _key_text(document, prefix, key, indent="  "):
    path = _path(prefix, key)
    facts = [_type(document, path, key), _default(key)]
    lines = [f"{indent}{path}  ({'; '.join(facts)})", f"{indent}    {key.about}"]
    if key.values:
        lines.append(f"{indent}    {_values(key)}")
    return lines


def tree_text():
    lines = ["Secrets (ocfgen refuses anything else):"]
    lines += [f"  - {rule}" for _, rule in secret_rules()]
    for document in DOCUMENTS:
        lines += ["", f"{document.title} ({document.usage}):"]
        for path, table in document.tables.items():
            depth = "  " * path.count(".") if path else ""
            heading = document.header(path) if path else "top level"
            lines += ["", f"{depth}{heading}: {table.about}"]
            for key in table.keys:
                lines += _key_text(document, path, key, depth + "  ")
    lines += ["", "ocfgen explain KEY prints one key and what it holds, such as "
                  "`ocfgen explain nodes.fencing.agent`."]
    return "\n".join(lines)


def resolve(text):
    """(document, table path, Key or None) for a dotted KEY; None when no key has that path.
    Names and positions a file chooses may be left in: resources.vip.params is
    resources.params, order.0.first is order.first."""
    parts = [p for p in text.strip().split(".") if p]
    for document in DOCUMENTS:
        found = document.find(".".join(parts))
        if found is None and parts:
            declared = document.declared(tuple(int(p) if p.isdigit() else p for p in parts))
            # Only when the last word is a key: resources.parms is a typo, not a NAME.
            if declared and declared.rpartition(".")[2] == parts[-1]:
                found = document.find(declared)
        if found is not None:
            return (document, *found)
    return None


def key_text(text):
    found = resolve(text)
    if found is None:
        raise LookupError(text)
    document, prefix, key = found
    if key is None:
        return tree_text()
    path = _path(prefix, key)
    lines = [f"{path} in {document.header(prefix) if prefix else 'the top level'} of the "
             f"{document.title.lower()} ({document.usage})"]
    lines += [f"  type:    {_type(document, path, key)}",
              f"  default: {_default(key)}"]
    if key.values:
        lines.append(f"  {_values(key)}")
    lines.append(f"  {key.about}")
    for paths, rule in secret_rules():
        if path in paths:
            lines += ["", f"Secrets: {rule}"]
    if key.table is not None:
        lines += ["", f"{document.header(path)}: {key.table.about}"]
        for inner in key.table.keys:
            lines += _key_text(document, path, inner)
    return "\n".join(lines)


def suggestions(text):
    import difflib

    every = [p for document in DOCUMENTS for p in document.paths()]
    close = difflib.get_close_matches(text, every, n=3, cutoff=0.6)
    last = text.rpartition(".")[2]
    close += [p for p in every if p.rpartition(".")[2] == last and p not in close][:3]
    return close


# Markdown: docs/description-reference.md.
def _cell(text):
    return str(text).replace("|", "\\|")


def markdown():
    lines = ["# Cluster description and hosts file: every key", "",
             f"<!-- Generated from generators/load/keys.py by `{REGENERATE}`: edit the "
             f"declarations, not this page. -->", "",
             "Every key the loaders accept, with its type, its default and what it does. "
             "`ocfgen explain KEY` prints one of them (`ocfgen explain nodes.fencing.agent`), "
             "`ocfgen explain` all; ocfgen(8) has the same. A path leaves out the names a file "
             "chooses and array positions: `[resources.vip.params]` is `resources.params`.", "",
             "## Secrets", ""]
    lines += [f"- {rule}" for _, rule in secret_rules()]
    for document in DOCUMENTS:
        lines += ["", f"## {document.title}", "", _sentence(document.usage)]
        for path, table in document.tables.items():
            heading = f"`{document.header(path)}`" if path else "Top level"
            lines += ["", f"### {heading}", "", _cell(_sentence(table.about))]
            lines += ["", "| key | type | default | description |", "| --- | --- | --- | --- |"]
            for key in table.keys:
                about = key.about + (f"; {_values(key)}" if key.values else "")
                lines.append(f"| `{_path(path, key)}` | {_cell(_type(document, _path(path, key), key))} "
                             f"| {_cell(_default(key))} | {_cell(about)} |")
    return "\n".join(lines) + "\n"


# roff: the reference section of ocfgen(8).
def manual_lines():
    from ocfpy import manpage

    lines = manpage.section("SECRETS")
    for _, rule in secret_rules():
        lines += [".PP", manpage.text(rule)]
    for document in DOCUMENTS:
        lines += manpage.section(document.title.upper())
        lines += [manpage.text(f"{_sentence(document.usage)} The same as `ocfgen explain` "
                               f"and {MARKDOWN_PAGE}.")]
        for path, table in document.tables.items():
            heading = document.header(path) if path else "top level"
            lines += [".SS " + manpage.text(heading), manpage.text(_sentence(table.about))]
            for key in table.keys:
                facts = f"{_type(document, _path(path, key), key)}; {_default(key)}"
                values = f" {_values(key)}." if key.values else ""
                lines += manpage.item(_path(path, key), f"{key.about} ({facts}).{values}")
    return lines
