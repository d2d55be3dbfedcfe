"""Manual pages in roff, made from the same declarations as the meta-data.

resource-agents ships one page per agent in section 7, `ocf_heartbeat_<agent>(7)`; ocfpy's are
`ocf_ocfpy_<agent>(7)`, written from each agent's parameter and action declarations, so a page
cannot say anything the meta-data does not. `write_pages(directory)` writes them all (the RPM
build does; `ocfgen`'s page comes from generators/cli/manpage.py).
"""

import gzip
import os

from . import __version__, catalogue


def text(value):
    """One roff text line's worth of `value`: backslashes doubled, no leading control dot."""
    value = " ".join(str(value).split()).replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + value if value[:1] in (".", "'") else value


def header(title, section, summary):
    return [f'.TH "{title.upper()}" "{section}" "" "ocfpy {__version__}" "ocfpy"',
            ".SH NAME", text(f"{title} - {summary}")]


def section(title):
    return [f".SH {title}"]


def item(tag, body):
    return [".TP", f"\\fB{text(tag)}\\fR", text(body)]


def _parameter_lines(declaration):
    facts = [declaration.kind]
    if declaration.required:
        facts.append("required")
    if declaration.default is not None:
        facts.append(f"default {declaration.default!r}")
    if declaration.kind == "integer":
        facts.append(declaration.range_text())
    if declaration.kind == "select":
        facts.append("one of " + ", ".join(declaration.choices))
    short, long = declaration.shortdesc.rstrip("."), declaration.longdesc
    body = f"{long if long.startswith(short) else short + '. ' + long} ({'; '.join(facts)})"
    return item(declaration.name, body)


def _action_line(entry):
    name, timeout, interval, depth, role = entry
    facts = [f"timeout {timeout}s"]
    if interval is not None:
        facts.append(f"interval {interval}s")
    if depth:
        facts.append(f"OCF_CHECK_LEVEL {depth}")
    if role:
        facts.append(f"role {role}")
    return [".TP", f"\\fB{text(name)}\\fR", text(", ".join(facts))]


def agent_page(name):
    """The roff source of ocf_ocfpy_<name>(7)."""
    agent = catalogue.load(name)
    title = f"ocf_ocfpy_{name}"
    lines = header(title, 7, agent.shortdesc)
    lines += section("SYNOPSIS")
    lines += [text(f"pcs resource create RESOURCE ocf:ocfpy:{name} [parameter=value ...]"),
              ".br", text(f"crm_resource --show-metadata ocf:ocfpy:{name}")]
    lines += section("DESCRIPTION") + [text(agent.longdesc)]
    lines += section("PARAMETERS")
    for declaration in agent.parameters:
        lines += _parameter_lines(declaration)
    lines += section("ACTIONS")
    lines += [text("Default timeouts and intervals advised to Pacemaker:")]
    for entry in agent.action_table():
        lines += _action_line(entry)
    lines += section("SEE ALSO")
    lines += [text("ocfgen(8), crm_resource(8), pcs(8), ocf-tester(8)")]
    return "\n".join(lines) + "\n"


def write(directory, name, source):
    """Write `source` gzipped, reproducibly (no name or time in the gzip header); the path."""
    path = os.path.join(directory, name + ".gz")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                mtime=0) as f:
        f.write(source.encode())
    return path


def write_pages(directory):
    """Write every agent's page into `directory` (man7); return the paths."""
    os.makedirs(directory, exist_ok=True)
    return [write(directory, f"ocf_ocfpy_{name}.7", agent_page(name))
            for name in catalogue.names()]


def main(argv=None):
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python3 -m ocfpy.manpage DIRECTORY", file=sys.stderr)
        return 2
    for path in write_pages(args[0]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
