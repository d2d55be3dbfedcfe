"""Shared vocabulary of the description reader: Pacemaker's names, value patterns, helpers."""

import re

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9-]+)*\Z")
ATTRIBUTE = re.compile(r"#?[A-Za-z_][A-Za-z0-9_.:-]*\Z")
DURATION = re.compile(r"(?a)(\d+)\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?\Z|P[0-9YMWDTHS]+\Z")
SCORE = re.compile(r"(?a)[+-]?(\d+|INFINITY)\Z")
# Characters XML (so the CIB) cannot hold: control characters but tab and newlines, U+FFFE/F.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Names of instance attributes (OCF_RESKEY_<name> in the agent's environment).
PARAM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*\Z")

# Pacemaker's resource meta-attributes (Pacemaker Explained, 2.1), and the clone-only ones.
RESOURCE_META = ("priority", "critical", "target-role", "is-managed", "maintenance",
                 "resource-stickiness", "requires", "migration-threshold", "failure-timeout",
                 "multiple-active", "allow-migrate", "allow-unhealthy-nodes",
                 "container-attribute-target", "remote-node", "remote-port", "remote-addr",
                 "remote-connect-timeout", "remote-allow-migrate")
CLONE_META = ("clone-max", "clone-node-max", "clone-min", "notify", "globally-unique", "ordered",
              "interleave", "promoted-max", "promoted-node-max")
OP_ATTRIBUTES = ("on-fail", "start-delay", "interval-origin", "record-pending", "enabled")
OP_DEFAULTS = ("timeout", "interval", "requires") + OP_ATTRIBUTES
# Values Pacemaker's schema or scheduler accepts for these (anything else fails the CIB).
ON_FAIL = ("ignore", "block", "demote", "stop", "restart", "standby", "fence", "restart-container")
REQUIRES = ("nothing", "quorum", "fencing", "unfencing")
MULTIPLE_ACTIVE = ("block", "stop_only", "stop_start", "stop_unexpected")
ROLES = ("Started", "Stopped", "Promoted", "Unpromoted")
OLD_ROLES = {"Master": "Promoted", "Slave": "Unpromoted"}
ORDER_KINDS = ("Mandatory", "Optional", "Serialize")
ORDER_ACTIONS = ("start", "stop", "promote", "demote")
RULE_OPS = ("lt", "gt", "lte", "gte", "eq", "ne")
RULE_TYPES = ("string", "integer", "number", "version")
PLACEMENT = ("default", "utilization", "minimal", "balanced")
OPERATIONS = ("start", "stop", "monitor", "promote", "demote", "notify", "reload", "reload-agent",
              "migrate_to", "migrate_from")
# Agent actions copied into every primitive's operations, as pcs does.
DEFAULT_OPS = ("start", "stop", "monitor", "promote", "demote")
# Cluster options the cluster maintains itself or that the description sets elsewhere.
MANAGED_PROPERTIES = {"dc-version": "is maintained by Pacemaker",
                      "cluster-infrastructure": "is maintained by Pacemaker",
                      "cluster-name": "comes from [cluster] name"}
SECRET_WORDS = ("password", "passwd", "secret")


def is_inline_secret(name):
    """A parameter that holds a secret itself (a *_script one names a program that prints it)."""
    return any(word in name.lower() for word in SECRET_WORDS) and not name.endswith("_script")
# A VRRP secret is 8 characters: a secret file larger than this is not one (nor is /dev/zero).
SECRET_FILE_MAX = 4096


class Reported(Exception):
    """Ends reading an item whose errors are recorded already, or that depends on an item
    whose reading failed (whose own error says what is wrong): the description reader's
    collect() ends the item without recording anything more."""


def suggest(name, choices, cutoff=0.6):
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def kind(value):
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


_UNITS = {"ms": 0.001, "msec": 0.001, "us": 1e-6, "usec": 1e-6, "s": 1, "sec": 1, "m": 60,
          "min": 60, "h": 3600, "hr": 3600, None: 1, "": 1}


def seconds(duration):
    found = re.match(r"(?a)(\d+)\s*([a-z]*)\Z", duration or "0")
    if not found:
        return duration  # ISO 8601: compared as text
    return int(found.group(1)) * _UNITS.get(found.group(2), 1)


def normal(duration):
    text = str(duration)
    return f"{text}s" if text.isascii() and text.isdigit() else text
