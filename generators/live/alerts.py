"""The description's alerts put into the live CIB (`ocfgen alerts --apply`), replacing only the
alerts it names: the others stay the operators' (live/ownership.py)."""

from ..errors import BAD_INPUT, FAILED, CommandFailed


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

    from ..render.cib import render

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
