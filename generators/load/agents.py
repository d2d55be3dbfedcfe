"""What an agent accepts: its parameters and actions, from the one place that declares them.

ocfpy agents (ocf:ocfpy:*) come from ocfpy.catalogue: their Parameter objects convert and
check values exactly as the agent will at start, and their rules across parameters (the agent's
`rules`) run on the whole parameter set through the same ocfpy.params.problems the agent
calls. Every other agent is described by its own meta-data (`crm_resource --show-metadata
SPEC`, and the Pacemaker daemons' meta-data for cluster options and the fencer's pcmk_*
parameters), cached on disk by the agent file's modification time so a description with a
thousand resources runs crm_resource once per agent, and not again until the agent changes.
"""

import os
from dataclasses import dataclass, field
from typing import Callable, Optional

from .values import suggest

OCF_ROOT = "/usr/lib/ocf/resource.d"
PACEMAKER_DAEMONS = "/usr/lib/pacemaker"


@dataclass
class ParamInfo:
    name: str
    required: bool = False
    # Converts-and-checks a string value; raises ValueError with the reason. None: any string.
    check: Optional[Callable[[str], None]] = None
    default: Optional[str] = None
    # Parameters in one unique group must not repeat a combination of values across resources.
    unique_group: Optional[str] = None
    # The declared content type (string, integer, boolean, select, time, ...).
    kind: str = "string"


@dataclass
class ActionInfo:
    name: str
    timeout: Optional[str] = None
    interval: Optional[str] = None
    role: Optional[str] = None
    depth: Optional[str] = None


@dataclass
class AgentInfo:
    spec: str
    params: dict[str, ParamInfo] = field(default_factory=dict)
    actions: list[ActionInfo] = field(default_factory=list)
    # Names accepted besides params (the fencer's pcmk_* options for stonith agents).
    extra_names: tuple[str, ...] = ()
    # {name: text} -> [(parameter, why)] for the rules across parameters; None: no rules known.
    check_set: Optional[Callable[[dict], list]] = None

    @property
    def action_names(self):
        return {a.name for a in self.actions}

    @property
    def promotable(self):
        return "promote" in self.action_names and "demote" in self.action_names


_memo = {}


def _cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ocfgen", "metadata")


def _ocfpy_info(agent_type):
    """AgentInfo of a catalogue agent, or None when the catalogue does not know it."""
    from ocfpy import catalogue

    if agent_type not in catalogue.AGENTS:
        return None
    cls = catalogue.load(agent_type)
    info = AgentInfo(f"ocf:ocfpy:{agent_type}")
    for parameter in cls.parameters:
        info.params[parameter.name] = ParamInfo(parameter.name, parameter.required,
                                                _declared_check(parameter), parameter.default,
                                                parameter.unique_group, parameter.kind)
    info.check_set = _declared_rules(cls)
    for name, timeout, interval, depth, role in cls.action_table():
        info.actions.append(ActionInfo(name, f"{timeout}s",
                                       None if interval is None else f"{interval}s", role, depth))
    return info


def _declared_check(parameter):
    def check(raw):
        from ocfpy.params import ParameterError

        if raw == "":  # as the agent reads it (ocfpy.params.convert_all): not set
            if parameter.required:
                raise ValueError("is required but not set")
            return
        try:
            parameter.run_check(parameter.convert(raw))
        except ParameterError as exc:
            raise ValueError(exc.why) from None
    return check


def _declared_rules(cls):
    """The whole-set check of an ocfpy agent: conversion, each parameter's check, then the
    agent's rules, exactly as its validate-all runs them."""
    def check_set(raw):
        from ocfpy.params import Values, convert_all, problems

        values, errors = convert_all(cls.parameters, raw)
        errors = errors or problems(cls.parameters, cls.rules, Values(values))
        return [(error.parameter, error.why) for error in errors]
    return check_set


def _agent_file(standard, provider, agent_type):
    if standard == "ocf":
        return os.path.join(OCF_ROOT, provider or "", agent_type)
    if standard == "stonith":
        for directory in ("/usr/sbin", "/usr/bin", "/sbin"):
            path = os.path.join(directory, agent_type)
            if os.path.exists(path):
                return path
    return None


def _run_metadata(argv, cache_name, source_file):
    """Meta-data XML text from a command, cached by the source file's mtime; None if unavailable."""
    import subprocess

    try:
        stamp = os.stat(source_file).st_mtime_ns
    except OSError:
        return None
    cache = os.path.join(_cache_dir(), f"{cache_name}.{stamp}.xml")
    try:
        with open(cache, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        pass
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or "<resource-agent" not in done.stdout:
        return None
    from ocfpy import safefile

    try:
        safefile.replace(cache, done.stdout.encode("utf-8"), 0o644, parents=True)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return done.stdout


_ROLES = {"Master": "Promoted", "Slave": "Unpromoted"}


def _parse_metadata(spec, text):
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    info = AgentInfo(spec)
    for node in root.iterfind("./parameters/parameter"):
        name = node.get("name")
        if not name:
            continue
        content = node.find("content")
        kind = content.get("type") if content is not None else "string"
        choices = tuple(o.get("value") for o in content.iterfind("option")) if (
            content is not None and kind == "select") else ()
        unique = node.get("unique-group") or (name if node.get("unique") in ("1", "true")
                                              else None)
        # Meta-data defaults are left out: many are computed from the instance name of the
        # meta-data call itself (Dummy's state=/var/run/Dummy-Dummy.state), not real values.
        # A deprecated name (fence agents' ipaddr, login) is required only as its successor.
        required = node.get("required") in ("1", "true") and node.get("deprecated") not in (
            "1", "true")
        info.params[name] = ParamInfo(name, required, _type_check(kind, choices), None, unique,
                                      kind or "string")
    for node in root.iterfind("./actions/action"):
        role = node.get("role")
        info.actions.append(ActionInfo(node.get("name", ""), node.get("timeout"),
                                       node.get("interval"), _ROLES.get(role, role),
                                       node.get("depth")))
    return info


def _type_check(kind, choices):
    if kind == "boolean":
        def check(raw):
            from ocfpy.params import parse_boolean

            parse_boolean(raw)
        return check
    if kind == "integer":
        def check(raw):
            from ocfpy.numbers import parse_int

            parse_int(raw)
        return check
    if kind in ("time", "second"):
        def check(raw):
            import re

            if not re.match(r"(?a)\s*\d+\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?\s*\Z"
                            r"|P[0-9YMWDTHS]+\Z", raw):
                raise ValueError(f"is not a duration (such as 60s, 500ms, 2min): {raw!r}")
        return check
    if kind == "percentage":
        def check(raw):
            import re

            if not re.match(r"(?a)\s*\d+(\.\d+)?\s*%?\s*\Z", raw):
                raise ValueError(f"is not a percentage: {raw!r}")
        return check
    if kind == "select" and choices:
        def check(raw):
            if raw not in choices:
                raise ValueError(f"must be one of {', '.join(choices)}, not {raw!r}")
        return check
    return None


def agent_info(standard, provider, agent_type):
    """AgentInfo for an agent, None when nothing describes it (not installed, no meta-data).

    Raises LookupError for an ocf:ocfpy agent the catalogue does not know.
    """
    spec = f"{standard}:{provider}:{agent_type}" if provider else f"{standard}:{agent_type}"
    if spec in _memo:
        return _memo[spec]
    if standard == "ocf" and provider == "ocfpy":
        info = _ocfpy_info(agent_type)
        if info is None:
            from ocfpy import catalogue

            from .values import suggest

            raise LookupError(f"no ocfpy agent {agent_type!r}{suggest(agent_type, catalogue.names())}"
                              f" (the catalogue has: {', '.join(catalogue.names())})")
    else:
        info = None
        source = _agent_file(standard, provider, agent_type)
        if source:
            text = _run_metadata(["crm_resource", "--show-metadata", spec],
                                 spec.replace(":", "_").replace("/", "_"), source)
            info = _parse_metadata(spec, text) if text else None
        if info is not None and standard == "stonith":
            fencer = fencer_options()
            info.extra_names = tuple(sorted(fencer))
    _memo[spec] = info
    return info


def _daemon_options(daemon):
    path = os.path.join(PACEMAKER_DAEMONS, daemon)
    text = _run_metadata([path, "metadata"], daemon, path)
    if not text:
        return None
    info = _parse_metadata(daemon, text)
    return None if info is None else info.params


def cluster_options():
    """{name: ParamInfo} of every cluster option Pacemaker's daemons declare; None if unknown."""
    if "cluster-options" in _memo:
        return _memo["cluster-options"]
    options = {}
    for daemon in ("pacemaker-schedulerd", "pacemaker-controld", "pacemaker-based"):
        params = _daemon_options(daemon)
        if params is None:
            options = None
            break
        options.update(params)
    _memo["cluster-options"] = options
    return options


def fencer_options():
    """{name: ParamInfo} of the fencer's per-device pcmk_* options (empty if unknown)."""
    if "fencer" not in _memo:
        _memo["fencer"] = _daemon_options("pacemaker-fenced") or {}
    return _memo["fencer"]


def not_installed(standard, provider, agent_type):
    """Why an ocf or stonith agent is not installed on this host (with a did-you-mean among
    the installed ones), or '' when it is (or is of a class that is not looked up here)."""
    if standard not in ("ocf", "stonith"):
        return ""
    source = _agent_file(standard, provider, agent_type)
    if source and os.path.exists(source):
        return ""
    if standard == "stonith":
        installed = sorted({name for directory in ("/usr/sbin", "/usr/bin", "/sbin")
                            if os.path.isdir(directory)
                            for name in os.listdir(directory) if name.startswith("fence_")})
        what = f"unknown fence agent {agent_type!r}: no {agent_type} on this host"
    else:
        directory = os.path.join(OCF_ROOT, provider or "")
        installed = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        what = (f"unknown agent ocf:{provider}:{agent_type}: no {agent_type} in {directory}"
                if installed else f"unknown agent ocf:{provider}:{agent_type}: no OCF "
                                  f"provider {provider!r} on this host ({OCF_ROOT})")
    return what + suggest(agent_type, installed, cutoff=0.75)
