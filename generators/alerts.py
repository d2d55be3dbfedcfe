"""Alerts: the description's [alerts] tables, their CIB <alerts> section, and `ocfgen alerts`.

    [alerts.history]                                 # one table per alert, named by its id
    recipients = ["/var/log/ocfpy/history.jsonl"]    # default: ocfpy.alert.DEFAULT_LOG
    # path = "/usr/libexec/ocfpy/ocfpy-alert"        # default: ocfpy's alert agent
    # select = ["nodes", "fencing", "resources"]     # default: these three (or "attributes")
    # timeout = "30s"                                # meta attribute: the agent's time limit
    # params = { syslog = false }                    # the agent's instance attributes

With ocfpy's agent, a recipient is the path of a history log (JSON lines, `ocfgen report` reads
them); another agent gets its recipients as it expects them. `ocfgen push` keeps the live
alerts as the operators' (generators/ownership.py): `ocfgen alerts DESCRIPTION --apply` puts the
description's alerts into the live CIB, replacing only the alerts it names.
"""

from dataclasses import dataclass, field

import click

from .clirun import (
    BAD_INPUT,
    FAILED,
    CommandFailed,
    description_argument,
    guarded,
    load_description,
)

SELECT = ("nodes", "fencing", "resources", "attributes")


@dataclass
class Recipient:
    id: str
    value: str


@dataclass
class Alert:
    id: str
    path: str
    recipients: list = field(default_factory=list)
    select: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    description: str = ""
    origin: str = ""


def read_alerts(reader, value):
    """The [alerts] tables as Alerts, checked with the description reader's located errors."""
    from ocfpy.alert import ALERT_PATH, DEFAULT_LOG

    from .description_values import PARAM_NAME
    from .keys import DESCRIPTION  # not at the top: keys.py reads SELECT from here

    alerts = []
    for aid, raw in reader.table(("alerts",), value).items():
        path = ("alerts", aid)
        reader.claim(path, reader.identifier(path, aid))
        spec = reader.table(path, raw, DESCRIPTION.allowed("alerts"))
        program = reader.string(path + ("path",), spec.get("path", ALERT_PATH))
        if not program.startswith("/"):
            reader.fail(path + ("path",), f"{program!r} is not an absolute path (Pacemaker runs "
                                          f"the alert agent by its path on every node)")
        values = reader.strings(path + ("recipients",), spec.get("recipients", [DEFAULT_LOG]),
                                nonempty=False)
        if program == ALERT_PATH:
            for index, item in enumerate(values):
                if not item.startswith("/"):
                    reader.fail(path + ("recipients", index), f"{item!r} is not an absolute "
                                "path: ocfpy's alert agent appends to the file a recipient names")
        select = reader.strings(path + ("select",), spec.get("select", list(SELECT[:3])))
        for index, item in enumerate(select):
            if item not in SELECT:
                reader.fail(path + ("select", index), f"{item!r} is not one of {', '.join(SELECT)}")
        meta = {}
        if "timeout" in spec:
            meta["timeout"] = reader.duration(path + ("timeout",), spec["timeout"])
        params = {}
        for key, item in reader.table(path + ("params",), spec.get("params", {})).items():
            reader.string(path + ("params", key), key, PARAM_NAME, "a parameter name")
            params[key] = reader.scalar(path + ("params", key), item)
        recipients = [Recipient(reader.unique(f"{aid}-recipient", path + ("recipients", i)), v)
                      for i, v in enumerate(values)]
        alerts.append(Alert(aid, program, recipients, select, meta, params,
                            reader.string(path + ("description",), spec.get("description", "")),
                            reader.where(path)))
    return alerts


def render_alerts(configuration, alerts, ids):
    """Append the <alerts> section of `alerts` to an lxml <configuration> (nothing if none)."""
    from lxml import etree

    if not alerts:
        return None
    E = etree.SubElement
    section = E(configuration, "alerts")
    for alert in alerts:
        attrs = {"id": ids.claim(alert.id), "path": alert.path}
        if alert.description:
            attrs["description"] = alert.description
        element = E(section, "alert", attrs)
        for tag, values in (("meta_attributes", alert.meta), ("instance_attributes",
                                                             alert.params)):
            if values:
                block = E(element, tag, id=ids(f"{alert.id}-{tag}"))
                for name, value in values.items():
                    E(block, "nvpair", id=ids(f"{block.get('id')}-{name}"), name=name,
                      value=value)
        if set(alert.select) != set(SELECT):
            select = E(element, "select")
            for kind in alert.select:
                E(select, f"select_{kind}")
        for recipient in alert.recipients:
            E(element, "recipient", id=ids.claim(recipient.id), value=recipient.value)
    return section


def merged(live_xml, desired):
    """The live <alerts> (text, or None when the CIB has none) with the description's alerts
    in place of the live ones of the same ids, the others kept: an lxml element."""
    import copy

    from lxml import etree

    section = etree.fromstring(live_xml) if live_xml else etree.Element("alerts")
    new = {alert.get("id"): alert for alert in desired}
    for alert in list(section):
        if alert.get("id") in new:
            section.replace(alert, copy.deepcopy(new.pop(alert.get("id"))))
    for alert in new.values():
        section.append(copy.deepcopy(alert))
    return section


def apply(cluster_model, run):
    """Put the description's alerts into the live CIB through `run(argv) -> CompletedProcess`
    (a command on a cluster node); the alert ids applied."""
    from lxml import etree

    from .cib import render

    root = etree.fromstring(render(cluster_model))
    desired = root.find("configuration/alerts")
    if desired is None:
        raise CommandFailed(BAD_INPUT, f"{cluster_model.source}: nothing to apply: the "
                                       f"description has no [alerts.NAME] table")
    live = run(["cibadmin", "--query", "--scope", "alerts"])
    present = live.returncode == 0 and live.stdout.strip().startswith("<alerts")
    section = merged(live.stdout if present else None, list(desired))
    text = etree.tostring(section, encoding="unicode")
    argv = (["cibadmin", "--replace", "--scope", "alerts", "--xml-text", text] if present else
            ["cibadmin", "--create", "--scope", "configuration", "--xml-text", text])
    done = run(argv)
    if done.returncode != 0:
        raise CommandFailed(FAILED, f"alerts: {' '.join(argv[:4])} failed: "
                                    f"{(done.stderr or done.stdout).strip()}")
    return [alert.get("id") for alert in desired]


@click.command("alerts")
@description_argument
@click.option("--apply", "do_apply", is_flag=True,
              help="Put the alerts into the live CIB of this node's cluster (only those named).")
@guarded
def cmd(description, do_apply):
    """Print the description's <alerts> section, or put it into the live cluster (--apply)."""
    import subprocess

    from lxml import etree

    from .cib import render

    model = load_description(description)
    if not do_apply:
        parser = etree.XMLParser(remove_blank_text=True)
        section = etree.fromstring(render(model), parser).find("configuration/alerts")
        if section is None:
            raise CommandFailed(BAD_INPUT, f"{description}: nothing to print: the description "
                                           f"has no [alerts.NAME] table")
        click.echo(etree.tostring(section, pretty_print=True, encoding="unicode"), nl=False)
        return

    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise CommandFailed(FAILED, f"alerts: cannot run {argv[0]}: {exc.strerror}") from None

    for aid in apply(model, run):
        click.echo(f"alert {aid} applied")
