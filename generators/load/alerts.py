"""Alerts: the description's [alerts] tables (their CIB <alerts> section: render/alerts.py;
`ocfgen alerts --apply`: live/alerts.py).

    [alerts.history]                                 # one table per alert, named by its id
    recipients = ["/var/log/ocfpy/history.jsonl"]    # default: ocfpy.alert.DEFAULT_LOG
    # path = "/usr/libexec/ocfpy/ocfpy-alert"        # default: ocfpy's alert agent
    # select = ["nodes", "fencing", "resources"]     # default: these three (or "attributes")
    # timeout = "30s"                                # meta attribute: the agent's time limit
    # params = { syslog = false }                    # the agent's instance attributes

With ocfpy's agent, a recipient is the path of a history log (JSON lines, `ocfgen report` reads
them); another agent gets its recipients as it expects them. `ocfgen push` keeps the live
alerts as the operators' (generators/live/ownership.py): `ocfgen alerts DESCRIPTION --apply` puts the
description's alerts into the live CIB, replacing only the alerts it names.
"""

from dataclasses import dataclass, field

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

    from .keys import DESCRIPTION  # not at the top: keys.py reads SELECT from here
    from .values import PARAM_NAME

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
