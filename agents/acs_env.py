"""What the ACS agents share: an instance's fixed ports, the ACS environment, the commands.

ACS (ALMA Common Software) numbers its instances: instance N uses the ports 3000 + 100*N onwards
(Manager +0, NameService +1, ...; containers +50..+100) and keeps its lock directory
$ACS_TMP/ACS_INSTANCE.N. The acsstartup scripts are found on $INTROOT/bin:$ACSROOT/bin, and a
site's environment file (e.g. .bash_profile.acs) may be sourced before each of them.
"""

import os

from ocfpy.codes import OCF, OCFError
from ocfpy.params import Parameter, ParameterError, absolute_path

# Offsets from 3000 + 100*N, as ACS's acsstartup assigns them.
SERVICE_OFFSETS = {
    "manager": 0, "naming": 1, "notify": 2, "logging": 3, "ifr": 4, "logging_notify": 5,
    "archive_notify": 6, "alarm_notify": 7, "acs_log": 11, "cdb": 12, "alarm": 13,
}
CONTAINER_OFFSETS = (50, 100)  # containers: base+50 .. base+100 inclusive
# Fixed, instance-independent daemons (acsContainerDaemon, acsServicesDaemon).
DAEMON_PORTS = {"container_daemon": 2970, "services_daemon": 2980}
MAX_INSTANCE = 99
MARKER = "OCFPY_RESOURCE"

# acsstartup's exit codes (and 5, the agent's own for an environment file bash cannot source).
EXIT_MEANINGS = {
    5: "environment_file could not be sourced",
    40: "cannot create the instance",
    41: "cannot use the instance (in use or stale lock)",
    42: "failure",
    43: "bad arguments",
    44: "no free port",
    45: "timeout",
}


def exit_meaning(status):
    """What an acsstartup exit status means, in words."""
    return EXIT_MEANINGS.get(status, f"unexpected exit status {status}")
# Seconds validate-all gives the resolver to find `host`.
RESOLVE_TIMEOUT = 5.0


def base_port(instance):
    return 3000 + 100 * int(instance)


def ports(instance):
    """{name: port} of ACS instance `instance`: the services and the container range bounds."""
    base = base_port(instance)
    table = {name: base + offset for name, offset in SERVICE_OFFSETS.items()}
    table["containers_first"] = base + CONTAINER_OFFSETS[0]
    table["containers_last"] = base + CONTAINER_OFFSETS[1]
    return table


def port_ranges(instance, daemons=False):
    """Sorted, merged (first, last) TCP port ranges instance `instance` listens on: what a
    firewall must open for it (the generators use this). daemons adds 2970 and 2980."""
    table = ports(instance)
    singles = sorted(table[name] for name in SERVICE_OFFSETS)
    if daemons:
        singles = sorted(singles + list(DAEMON_PORTS.values()))
    ranges = []
    for port in singles:
        if ranges and port == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], port)
        else:
            ranges.append((port, port))
    ranges.append((table["containers_first"], table["containers_last"]))
    return sorted(ranges)


def host_name(value):
    """An IP address or a DNS host name (RFC 1123 labels)."""
    import ipaddress
    import re

    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    label = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    if len(value) > 253 or not re.fullmatch(rf"(?a){label}(\.{label})*\.?", value):
        raise ValueError(f"must be an IP address or a host name, not {value!r}")


def _instance_directory_given(values):
    """ACS keeps its instance lock directory in ACS_TMP, by default ACSDATA/tmp/<host>."""
    if not values.acs_tmp and not values.acsdata:
        raise ParameterError("acs_tmp", "or acsdata must be set: ACS needs a place for its "
                                        "instance directory")


# The rules across parameters every ACS agent keeps (Agent.rules).
RULES = (_instance_directory_given,)


def parameters():
    """The parameters every ACS agent takes (the instance and where ACS lives)."""
    return (
        Parameter("instance", "integer", default="0", minimum=0, maximum=MAX_INSTANCE,
                  shortdesc="ACS instance number (ACS_INSTANCE, acsStart -b)",
                  longdesc="The ACS instance number N; its ports are 3000+100*N onwards "
                           "(Manager +0, NameService +1, containers +50..+100)."),
        Parameter("acsroot", required=True, check=absolute_path,
                  shortdesc="ACSROOT: the ACS installation",
                  longdesc="The ACS installation (ACSROOT); acsstartup scripts are looked for "
                           "in INTROOT/bin, then ACSROOT/bin."),
        Parameter("introot", default="", check=absolute_path,
                  shortdesc="INTROOT: the integration area (optional)"),
        Parameter("acsdata", default="", check=absolute_path,
                  shortdesc="ACSDATA (the default ACS_TMP is ACSDATA/tmp/<short hostname>)"),
        Parameter("acs_tmp", default="", check=absolute_path,
                  shortdesc="ACS_TMP, where the instance lock directory lives (optional)"),
        Parameter("environment_file", default="", check=absolute_path,
                  shortdesc="Site environment file sourced by bash before each ACS command",
                  longdesc="A file such as ~almamgr/.acs/.bash_profile.acs, sourced by bash "
                           "before each acsstartup command; the agent's ACS_INSTANCE, ACSROOT, "
                           "INTROOT, ACSDATA and ACS_TMP are applied after it."),
        Parameter("user", default="", shortdesc="User that runs ACS (empty: root)"),
        Parameter("host", default="127.0.0.1", check=host_name,
                  shortdesc="Address the CORBA checks connect to",
                  longdesc="Host or address where this node's ACS services listen; the monitor "
                           "sends its GIOP requests there."),
        Parameter("check_timeout", "integer", default="2000", minimum=50, maximum=60000,
                  reloadable=True, shortdesc="Milliseconds a GIOP check may take",
                  longdesc="Bound on each CORBA aliveness check; an ORB that accepts the "
                           "connection but does not answer within it is reported hung."),
    )


class AcsEnvironment:
    """The ACS settings of one resource, as the agents and the acsstartup scripts see them."""

    def __init__(self, params, request):
        self.params = params
        self.request = request
        self.instance = params.instance

    @property
    def acs_tmp(self):
        if self.params.acs_tmp:
            return self.params.acs_tmp
        if self.params.acsdata:
            return os.path.join(self.params.acsdata, "tmp", os.uname().nodename.split(".")[0])
        return ""

    @property
    def instance_dir(self):
        tmp = self.acs_tmp
        return os.path.join(tmp, f"ACS_INSTANCE.{self.instance}") if tmp else ""

    def path_prefix(self):
        dirs = [os.path.join(root, "bin") for root in (self.params.introot, self.params.acsroot)
                if root]
        return ":".join(dirs)

    def environment(self, marker_value):
        from ocfpy.service import base_environment

        env = base_environment(self.request.environ)
        env["PATH"] = f"{self.path_prefix()}:{env['PATH']}"
        env.update(self.acs_variables())
        env[MARKER] = marker_value
        return env

    def acs_variables(self):
        values = {"ACS_INSTANCE": str(self.instance), "ACSROOT": self.params.acsroot}
        for name, value in (("INTROOT", self.params.introot), ("ACSDATA", self.params.acsdata),
                            ("ACS_TMP", self.params.acs_tmp)):
            if value:
                values[name] = value
        return values

    def command(self, argv):
        """argv to run `argv` (an acsstartup command) with the site environment file applied."""
        if not self.params.environment_file:
            return list(argv)
        assignments = [f"{name}={value}" for name, value in self.acs_variables().items()]
        script = ('. "$1" || exit 5; shift; export PATH="$OCFPY_ACS_PATH:$PATH"; '
                  'exec env "$@"')
        return ["/bin/bash", "-c", script, "acs-environment", self.params.environment_file,
                *assignments, *argv]

    def find(self, command):
        from ocfpy.service import find_executable

        return find_executable(command, self.path_prefix())

    def validate(self, commands):
        """ERR_INSTALLED unless this node has the commands, directories and user ACS needs."""
        from ocfpy.nodecheck import require_user

        for command in commands:
            if self.find(command) is None:
                where = " or ".join(d for d in self.path_prefix().split(":"))
                raise OCFError(OCF.ERR_INSTALLED, f"{command} not found in {where}")
        envfile = self.params.environment_file
        if envfile and not os.path.isfile(envfile):
            raise OCFError(OCF.ERR_INSTALLED, f"environment_file {envfile} does not exist here")
        parent = os.path.dirname(self.instance_dir)
        if not os.path.isdir(parent):
            raise OCFError(OCF.ERR_INSTALLED, f"ACS_TMP {parent} is not a directory on this node")
        require_user(self.params.user)
        _require_resolvable(self.params.host, RESOLVE_TIMEOUT)

    def run(self, agent, argv, logfile, timeout):
        """Run an acsstartup command to completion: (exit status or None on timeout, output tail).

        Output goes to `logfile` (appended), never to a pipe: the services it starts inherit
        its descriptors and would hold a pipe open for their whole life.
        """
        from ocfpy.process import SpawnError, run_to_completion

        full = self.command(argv)
        env = self.environment(marker(agent))
        if self.params.environment_file:
            env["OCFPY_ACS_PATH"] = self.path_prefix()
        try:
            status, lines = run_to_completion(full, timeout=timeout, log=agent.log, cwd="/",
                                              user=self.params.user, env=env, logfile=logfile)
        except SpawnError as exc:
            raise OCFError(OCF.ERR_GENERIC, str(exc)) from None
        return status, lines[-1] if lines else ""

    def run_before_signals(self, agent, argv, logfile, timeout, then):
        """Run a stop command (acsStop, acsStopContainer) whose failure stop survives, because
        signals follow: a warning saying what happened and `then`, never an exception. True
        when it exited 0."""
        what = " ".join(argv[:3])
        try:
            status, tail = self.run(agent, argv, logfile, timeout)
        except OCFError as failure:  # it could not even be launched
            agent.log.warning(f"{what} could not be run ({failure.reason}); {then}")
            return False
        if status != 0:
            how = "timed out" if status is None else f"exited {status}"
            agent.log.warning(f"{what} {how}: {tail}; {then}")
        return status == 0


def _require_resolvable(host, timeout):
    """ERR_INSTALLED unless this node resolves `host` within `timeout` seconds: a name it
    cannot resolve would fail every CORBA check, only after the whole start timeout."""
    import socket
    import threading

    outcome = []

    def resolve():
        try:
            socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            outcome.append("")
        except (OSError, UnicodeError) as exc:
            outcome.append(getattr(exc, "strerror", None) or str(exc))

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise OCFError(OCF.ERR_INSTALLED, f"host {host!r} did not resolve within {timeout:.0f}s")
    if outcome[0]:
        raise OCFError(OCF.ERR_INSTALLED, f"host {host!r} does not resolve here: {outcome[0]}")


def marker(agent):
    """The value of OCFPY_RESOURCE that every process started for this resource inherits."""
    return f"{agent.name}:{agent.request.instance or 'default'}"


def default_logfile(agent_name, instance):
    from ocfpy.service import run_path

    return run_path(agent_name, instance, ".log", create=True)
