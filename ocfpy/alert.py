"""ocfpy's Pacemaker alert agent: every failure, recovery, fencing and node event as one JSON
line in a local history log and in syslog.

Pacemaker runs the agent (as hacluster) for each event and recipient with CRM_alert_* in the
environment (Pacemaker Explained, "Alerts"; Pacemaker 2.1 sets CRM_alert_kind, _node, _rsc,
_task, _interval, _rc, _target_rc, _status, _desc, _exec_time, _timestamp_epoch/_usec, ...).
`ocfgen` configures it from the description's [alerts] tables; `ocfpy-agents install` writes its
entry script (ALERT_PATH). Where the line goes:
- the recipient's value, an absolute path (one file per recipient), else
- the alert's instance attribute `logfile`, else DEFAULT_LOG;
- and syslog (facility daemon, ident ocfpy-alert) unless the instance attribute `syslog` is
  "false". The log's directory must be writable by hacluster (`ocfpy-agents install` makes
  /var/log/ocfpy so).

One line (keys sorted), for example:
    {"event":"failure","exit_reason":"process 812 is gone","interval_ms":2000,"kind":"resource",
     "node":"node1","operation":"monitor","rc":7,"resource":"ioc1","status":0,
     "target_rc":0,"time":1764547200.123456,...}
event is failure, start, stop, promote, demote, migrate_to, migrate_from (successful state
changes: the report pairs a failure with the next start as its recovery), node (desc member or
lost) or fencing. Successful monitors and probes that find what they expect are not recorded.

It runs on every event, so it stays cheap: the standard library only, no subprocess except for
a failure (one local CIB query for the exit reason the agent gave, which Pacemaker does not pass
to alerts).
"""

import os
import sys

from .numbers import int_or

DEFAULT_LOG = "/var/log/ocfpy/history.jsonl"
ALERT_PATH = "/usr/libexec/ocfpy/ocfpy-alert"
STATE_CHANGES = ("start", "stop", "promote", "demote", "migrate_to", "migrate_from")
# Pacemaker's execution status codes (lrmd PCMK_EXEC_*) that are not a failure of the agent:
# -1 pending (record-pending), 0 done (then rc decides), 1 cancelled (a monitor at stop).
NOT_FAILED = (-1, 0, 1)
PROBE_RESULTS = (0, 7, 8)  # running, not running, promoted: what a probe may find


def _int(value, default=0):
    """The whole number `value` spells (ocfpy.numbers' rule), else `default`."""
    return int_or(value, default)


def _time(env):
    import time

    epoch = int_or(env.get("CRM_alert_timestamp_epoch"), None, 0)
    if epoch is not None:
        return round(epoch + _int(env.get("CRM_alert_timestamp_usec")) / 1e6, 6)
    return round(time.time(), 6)


def record(env):
    """The history record (a dict) of the alert in `env`; None when it is not worth a line."""
    kind = env.get("CRM_alert_kind", "")
    base = {"kind": kind, "node": env.get("CRM_alert_node", ""), "time": _time(env),
            "desc": env.get("CRM_alert_desc", "")}
    if kind == "node":
        return {**base, "event": "node", "nodeid": env.get("CRM_alert_nodeid", "")}
    if kind == "fencing":
        return {**base, "event": "fencing", "operation": env.get("CRM_alert_task", ""),
                "rc": _int(env.get("CRM_alert_rc"))}
    if kind != "resource":
        return None
    task = env.get("CRM_alert_task", "")
    interval = _int(env.get("CRM_alert_interval"))
    rc, target = _int(env.get("CRM_alert_rc")), _int(env.get("CRM_alert_target_rc"))
    status = _int(env.get("CRM_alert_status"))
    probe = task == "monitor" and interval == 0
    failed = status not in NOT_FAILED or (status == 0 and rc != target and not (
        probe and rc in PROBE_RESULTS))
    if failed:
        event = "failure"
    elif status == 0 and rc == 0 and task in STATE_CHANGES:
        event = task
    else:
        return None
    return {**base, "event": event, "resource": env.get("CRM_alert_rsc", ""),
            "operation": task, "interval_ms": interval, "rc": rc, "target_rc": target,
            "status": status, "exec_ms": _int(env.get("CRM_alert_exec_time"))}


def exit_reason(resource, operation, when, tries=5):
    """The exit reason of the failure just recorded in the local CIB ("" if none shows up):
    the resource's last_failure entry, if it is this operation's (within 5 s of `when`)."""
    import subprocess
    import time
    import xml.etree.ElementTree as ET

    xpath = f"//lrm_resource[@id='{resource}']/lrm_rsc_op[@id='{resource}_last_failure_0']"
    for attempt in range(tries):
        try:
            done = subprocess.run(["cibadmin", "--query", "--local", "--xpath", xpath],
                                  capture_output=True, text=True, timeout=5,
                                  stdin=subprocess.DEVNULL)
            if done.returncode == 0:
                op = ET.fromstring(done.stdout)
                changed = _int(op.get("last-rc-change"), -1)
                if op.get("operation") == operation and abs(changed - when) <= 5:
                    return op.get("exit-reason", "")
        except (OSError, subprocess.SubprocessError, ET.ParseError):
            return ""
        time.sleep(0.1 * (attempt + 1))
    return ""


def destination(env):
    recipient = env.get("CRM_alert_recipient", "")
    if recipient.startswith("/"):
        return recipient
    return env.get("logfile") or DEFAULT_LOG


def append(path, line):
    """One write of the whole line with O_APPEND: concurrent agents never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def main(env=None):
    env = os.environ if env is None else env
    entry = record(env)
    if entry is None:
        return 0
    import json

    if entry["event"] == "failure" and entry.get("resource"):
        entry["exit_reason"] = exit_reason(entry["resource"], entry["operation"], entry["time"])
    line = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    path = destination(env)
    code = 0
    try:
        append(path, line)
    except OSError as exc:
        code = 1
        problem = f"cannot append to {path}: {exc.strerror}"
    if env.get("syslog", "true").lower() not in ("false", "no", "0", "off"):
        import syslog

        syslog.openlog("ocfpy-alert", 0, syslog.LOG_DAEMON)
        priority = syslog.LOG_WARNING if entry["event"] in ("failure", "fencing") or (
            entry["event"] == "node" and entry["desc"] == "lost") else syslog.LOG_INFO
        syslog.syslog(priority, line)
        if code:
            syslog.syslog(syslog.LOG_ERR, problem)
    if code:
        sys.stderr.write(f"ocfpy-alert: {problem}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
