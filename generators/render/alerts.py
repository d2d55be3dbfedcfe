"""The CIB <alerts> section of the description's alerts (read by load/alerts.py)."""

from ..load.alerts import SELECT


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
            ids.nvset(element, tag, f"{alert.id}-{tag}", values)
        if set(alert.select) != set(SELECT):
            select = E(element, "select")
            for kind in alert.select:
                E(select, f"select_{kind}")
        for recipient in alert.recipients:
            E(element, "recipient", id=ids.claim(recipient.id), value=recipient.value)
    return section
