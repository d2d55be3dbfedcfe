"""systemd units for described services, rendered from jinja2 templates.

Input: ServiceUnit (one per service; documented field by field below). Output: unit text, the
drop-in that keeps a Pacemaker-managed unit from being started by systemd itself, and a preset
file. Nothing here reads or writes files: the CLI does (generators/cli/hosts.py).

Every unit gets the hardening directives its kind of service tolerates: the sandbox is strict
by default (read-only system, no home, private /tmp and /dev, no kernel tuning, a system-call
allow-list) and a service opts out only of what it really needs: `jit` for Java (DUCC, the
archiver appliance's Tomcats) lifts MemoryDenyWriteExecute, `realtime` for IOCs that set
real-time priorities lifts RestrictRealtime, `devices` for IOCs that talk to hardware replaces
PrivateDevices with an allow-list, `network=False` cuts the network off entirely.

A unit that Pacemaker manages (a `systemd:` resource) must not also be enabled in systemd: the
manager would start it at boot behind the cluster's back. ServiceUnit refuses that combination
(UnitConflict), and a managed unit carries a condition that lets only Pacemaker's starts through.
"""

import re
from dataclasses import dataclass

from ocfpy import __version__

from ..model.hosts import RESTART_POLICIES, SERVICE_TYPES
from .output_files import MARK

# Pacemaker (lib/services/systemd.c) writes a runtime drop-in before every start it makes and
# removes it after a stop. 2.1 names its directory after the agent as written in the CIB plus
# ".service.d" (systemd:x.service gives x.service.service.d); later releases use the unit name.
# A managed unit's condition accepts either (`|`: any one of them suffices).
PACEMAKER_OVERRIDES = ("/run/systemd/system/{unit}.d/50-pacemaker.conf",
                       "/run/systemd/system/{unit}.service.d/50-pacemaker.conf")


def pacemaker_conditions(unit_name):
    """The ConditionPathExists= lines that let only Pacemaker's starts of `unit_name` through."""
    return "\n".join(f"ConditionPathExists=|{path.format(unit=unit_name)}"
                     for path in PACEMAKER_OVERRIDES)

_NAME = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]+)?$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]*[$]?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnitError(ValueError):
    """A described service that cannot become a sound unit; the message says which and why."""


class UnitConflict(UnitError):
    """A unit both managed by Pacemaker and enabled in systemd."""


@dataclass(frozen=True)
class ServiceUnit:
    """One service's unit.

    name: the unit's name without ".service" (an instance like "epics-ioc@llrf" is allowed).
    exec_start: the command as argv words; the first is an absolute path. Quoted for systemd
        (no shell, no variable expansion: `$` and `%` are escaped).
    description: the Description= line (default: the name).
    user, group: who runs it (empty: root). Non-root units lose every capability except
        CAP_NET_BIND_SERVICE when bind_privileged_port is set.
    working_directory, environment ((NAME, VALUE) pairs), service_type (SERVICE_TYPES),
    pid_file (for forking services).
    restart, restart_sec: policy for units systemd supervises; a Pacemaker-managed unit always
        gets Restart=no (the cluster restarts it and must see the failure).
    timeout_start, timeout_stop: seconds. For a Pacemaker-managed unit keep them inside the
        resource's start/stop operation timeouts.
    read_write_paths: the only paths the service may write (ProtectSystem=strict elsewhere).
    network, jit, realtime, devices, bind_privileged_port: what the service needs (see module
        docstring).
    after: units to order after (and want), e.g. ("network-online.target",).
    pacemaker: the unit is run by Pacemaker as a systemd: resource.
    enabled: the unit is started by systemd at boot ([Install] WantedBy=multi-user.target).
    """

    name: str
    exec_start: tuple[str, ...]
    description: str = ""
    user: str = ""
    group: str = ""
    working_directory: str = ""
    environment: tuple[tuple[str, str], ...] = ()
    service_type: str = "exec"
    pid_file: str = ""
    restart: str = "on-failure"
    restart_sec: int = 5
    timeout_start: int = 90
    timeout_stop: int = 30
    read_write_paths: tuple[str, ...] = ()
    network: bool = True
    jit: bool = False
    realtime: bool = False
    devices: tuple[str, ...] = ()
    bind_privileged_port: bool = False
    after: tuple[str, ...] = ("network-online.target",)
    pacemaker: bool = False
    enabled: bool = False

    def __post_init__(self):
        check(self)

    @property
    def unit_name(self):
        return f"{self.name}.service"


def check(unit):
    """Raise UnitError (or UnitConflict) naming the service and the field at fault."""
    where = f"service {unit.name!r}"
    if not _NAME.match(unit.name or ""):
        raise UnitError(f"{where}: not a valid systemd unit name (letters, digits, ':_.\\-', "
                        "one optional @instance)")
    if any(c in unit.description for c in "\n\r\0"):
        raise UnitError(f"{where}: description must be one line")
    if unit.pacemaker and unit.enabled:
        raise UnitConflict(
            f"{where} is managed by Pacemaker (systemd:{unit.name}) and also enabled in systemd: "
            "systemd would start it at boot behind the cluster's back. Set enabled = false, or "
            "take it out of the cluster")
    if not unit.exec_start or not unit.exec_start[0].startswith("/"):
        raise UnitError(f"{where}: exec_start must be argv words starting with an absolute path, "
                        f"not {list(unit.exec_start)!r}")
    if any("\n" in word or "\0" in word for word in unit.exec_start):
        raise UnitError(f"{where}: exec_start words must not contain newlines or NUL")
    if unit.service_type not in SERVICE_TYPES:
        raise UnitError(f"{where}: service_type {unit.service_type!r} is not one of {SERVICE_TYPES}")
    if unit.service_type == "forking" and not unit.pid_file.startswith("/"):
        raise UnitError(f"{where}: a forking service needs an absolute pid_file")
    if unit.restart not in RESTART_POLICIES:
        raise UnitError(f"{where}: restart {unit.restart!r} is not one of {RESTART_POLICIES}")
    for field in ("restart_sec", "timeout_start", "timeout_stop"):
        value = getattr(unit, field)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 86400:
            raise UnitError(f"{where}: {field} must be whole seconds between 1 and 86400, not {value!r}")
    for field in ("user", "group"):
        value = getattr(unit, field)
        if value and not _USER.match(value):
            raise UnitError(f"{where}: {field} {value!r} is not a valid user/group name")
    for field in ("working_directory", "pid_file"):
        value = getattr(unit, field)
        if value and (not value.startswith("/") or _unsafe(value)):
            raise UnitError(f"{where}: {field} must be an absolute path without spaces, not {value!r}")
    for path in unit.read_write_paths + unit.devices:
        if not path.startswith("/") or _unsafe(path):
            raise UnitError(f"{where}: {path!r} in read_write_paths/devices must be an absolute path "
                            "without spaces")
    for name, value in unit.environment:
        if not _ENV_NAME.match(name):
            raise UnitError(f"{where}: environment name {name!r} is not a valid variable name")
        if "\n" in value or "\0" in value:
            raise UnitError(f"{where}: environment {name} must not contain newlines or NUL")
    for dependency in unit.after:
        if not re.match(r"^[A-Za-z0-9:_.@\\-]+\.(service|target|socket|mount|path)$", dependency):
            raise UnitError(f"{where}: after entry {dependency!r} is not a unit name")


def check_all(units):
    """Check a set of units together: names must be unique."""
    seen = set()
    for unit in units:
        if unit.name in seen:
            raise UnitError(f"service {unit.name!r} is described twice")
        seen.add(unit.name)


def _unsafe(text):
    return any(c.isspace() for c in text) or "\0" in text


def _escape(text, dollar=True):
    """C-style escapes for a double-quoted systemd word, `%` (specifiers) doubled; `$` doubled
    too on command lines, where it would start a variable expansion."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return text.replace("$", "$$") if dollar else text


def quote_word(word):
    escaped = _escape(word)
    if not word or escaped != word or any(c.isspace() or c in "'\";" for c in word):
        return f'"{escaped}"'
    return word


def quote_env(name, value):
    return f'"{name}={_escape(value, dollar=False)}"'


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("ocfpy.generators.render", "templates"),
                      undefined=StrictUndefined, keep_trailing_newline=True)
    env.globals["mark"] = MARK     # the generated-file marker (output_files.MARK)
    return env


def render_unit(unit):
    """The text of `unit`'s .service file."""
    check(unit)
    capabilities = ["CAP_NET_BIND_SERVICE"] if unit.bind_privileged_port else []
    template = _environment().get_template("service.unit.j2")
    return template.render(
        unit=unit, version=__version__, capabilities=capabilities,
        exec_start=" ".join(quote_word(word) for word in unit.exec_start),
        quote_env=quote_env, pacemaker_conditions=pacemaker_conditions(unit.unit_name),
    )


def render_pacemaker_dropin(unit_name):
    """A drop-in for a unit Pacemaker runs but ocfgen does not write (a vendor unit such as
    activemq.service): install it as /etc/systemd/system/<unit>.d/50-ocfpy-cluster.conf."""
    if not unit_name.endswith(".service"):
        unit_name += ".service"
    if not _NAME.match(unit_name[: -len(".service")]):
        raise UnitError(f"{unit_name!r} is not a valid unit name")
    template = _environment().get_template("pacemaker-dropin.conf.j2")
    return template.render(unit_name=unit_name, version=__version__,
                           pacemaker_conditions=pacemaker_conditions(unit_name))


def render_preset(unit_names):
    """A systemd preset that disables the Pacemaker-managed units: `systemctl preset` (run by
    package installs on preset-aware distributions) then never enables them."""
    lines = [f"# Generated by ocfgen {__version__}: units Pacemaker runs; never enabled by preset. "
             f"{MARK}"]
    for name in sorted(set(unit_names)):
        lines.append(f"disable {name if '.' in name else name + '.service'}")
    return "\n".join(lines) + "\n"


DROPIN_NAME = "50-ocfpy-cluster.conf"


def render_all(units, vendor_units=()):
    """{relative path: text} for every unit, the drop-ins of Pacemaker-managed vendor units and
    the preset. Raises UnitError/UnitConflict before producing anything."""
    units = list(units)
    for unit in units:
        check(unit)
    check_all(units)
    files = {unit.unit_name: render_unit(unit) for unit in units}
    for name in vendor_units:
        name = name if name.endswith(".service") else name + ".service"
        if name in files:
            raise UnitError(f"{name} is both generated by ocfgen and named as a vendor unit")
        files[f"{name}.d/{DROPIN_NAME}"] = render_pacemaker_dropin(name)
    managed = [u.unit_name for u in units if u.pacemaker]
    managed += [n if n.endswith(".service") else n + ".service" for n in vendor_units]
    if managed:
        files["80-ocfpy-cluster.preset"] = render_preset(managed)
    return files


def units_from_model(cluster, outputs):
    """(ServiceUnit list, vendor unit names) for a description (model.Cluster) and its host
    outputs (load/hosts.HostOutputs). A unit is Pacemaker-managed when the description has a
    systemd: resource for it; systemd: resources without a [units] entry are vendor units,
    which get the drop-in and the preset. Errors are located in the outputs file."""
    managed = {}
    for primitive in cluster.primitives:
        if primitive.standard == "systemd":
            name = primitive.type[:-len(".service")] if primitive.type.endswith(".service") else (
                primitive.type)
            managed[name] = primitive
    units = []
    for described in outputs.units:
        fields = dict(described.fields)
        resource = managed.get(described.name)
        if resource is not None and fields.get("enabled"):
            origin = f" (defined at {resource.origin})" if resource.origin else ""
            raise UnitConflict(
                f"{described.where.at('enabled')}: unit {described.name} is managed by Pacemaker "
                f"as resource {resource.id!r}{origin} and must not also be enabled in systemd, "
                "which would start it at boot behind the cluster's back; remove enabled = true")
        if "environment" in fields:
            fields["environment"] = tuple(fields["environment"])
        try:
            units.append(ServiceUnit(name=described.name, pacemaker=resource is not None, **fields))
        except UnitError as exc:
            raise type(exc)(f"{described.where.at()}: {exc}") from None
    vendor = sorted(name for name in managed if name not in {u.name for u in units})
    return units, vendor
