"""ocf:ocfpy:epics-ioc: one EPICS IOC under procServ, with Pacemaker owning its restarts.

procServ runs in the foreground (-f) as the supervised process, recorded in an ocfpy pidfile, and
with --noautorestart: a procServ that respawns its IOC would hide a crash-looping IOC from the
cluster. The IOC child's identity is recorded next to the pidfile at start, so a child that died,
or was replaced by one procServ respawned (^X/^T on the console), is a failure.

Monitor depths: 0 reads /proc only (procServ and its IOC child are the ones this resource
started); 10 reads the heartbeat PV (and the IOC's pid PV, compared with the local child) over
Channel Access within ca_timeout, with ocfpy.ca (one UDP search, one TCP circuit, no client
library); 20 lists the boot directory and reads the startup script in a forked child with a
deadline, so a stale NFS mount is reported while the IOC still runs rather than when it cannot
restart.
"""

from ocfpy import pidfile
from ocfpy.agent import Agent
from ocfpy.codes import OCF, OCFError
from ocfpy.identity import Identity, children, read_stat
from ocfpy.numbers import PACEMAKER_MAX_MS, PACEMAKER_MAX_S, is_digits, is_dotted_quad
from ocfpy.params import Parameter, absolute_path, command_line, environment_assignments
from ocfpy.service import PidfileService, default_pidfile


def console_endpoint(value):
    """Check a console endpoint: PORT, IP:PORT or unix:PATH (agents.procserv)."""
    from .procserv import parse_console

    parse_console(value)


def ipv4_address(value):
    """Check an IOC's own address: empty, or a numeric IPv4 address (IPaddr2's ip)."""
    if value and not is_dotted_quad(value):
        raise ValueError(f"must be a numeric IPv4 address, not {value!r}")


# The ports an EPICS 7 IOC serves when nothing pins them: Channel Access (TCP and UDP search),
# pvAccess (TCP; UDP search on the broadcast port).
CA_SERVER_PORT, PVA_SERVER_PORT, PVA_BROADCAST_PORT = 5064, 5075, 5076


def server_endpoints(params):
    """(address or '', CA port, pvAccess TCP port) an IOC with these parameters (a dict of
    parameter values as written, defaults for missing ones) serves on.

    The one rule the agent starts the IOC by and ocfgen writes the firewall by: `address`
    binds the CA and pvAccess servers to the IOC's own address (EPICS_CAS_INTF_ADDR_LIST,
    EPICS_PVAS_INTF_ADDR_LIST); `ca_port` and `pva_port` pin the servers' ports
    (EPICS_CAS_SERVER_PORT, EPICS_PVAS_SERVER_PORT); 0 leaves EPICS's default, or what the
    `environment` parameter sets.
    """
    from ocfpy.params import parse_environment

    env = parse_environment(params.get("environment", ""))

    def port(name, variables, default):
        given = int(params.get(name) or 0)
        if given:
            return given
        for variable in variables:
            if is_digits(env.get(variable, "")):
                return int(env[variable])
        return default

    return (params.get("address", ""),
            port("ca_port", ("EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT"), CA_SERVER_PORT),
            port("pva_port", ("EPICS_PVAS_SERVER_PORT", "EPICS_PVA_SERVER_PORT"),
                 PVA_SERVER_PORT))


def pv_name(value):
    if any(c.isspace() for c in value) or not value.isascii() or len(value) > 60:
        raise ValueError(f"is not a Channel Access PV name: {value!r}")


def ioc_name(value):
    if not value or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(f"must be a non-empty name without spaces, not {value!r}")


class EpicsIocAgent(Agent):
    name = "epics-ioc"
    check_levels = (0, 10, 20)  # the OCF_CHECK_LEVEL depths its monitor tells apart
    shortdesc = "An EPICS IOC run under procServ"
    longdesc = (
        "Starts an EPICS IOC from its boot directory under procServ (console on a local port or "
        "a unix socket, console log), with procServ's automatic restart off so that Pacemaker "
        "owns restarts. Monitor depth 0 checks that procServ and its IOC child are alive and "
        "are the processes this resource started (a dead or respawned IOC is a failure); depth "
        "10 reads the heartbeat PV over Channel Access within ca_timeout (and compares the pid "
        "PV with the local IOC process, if given); depth 20 reads the boot directory and the "
        "startup script within boot_timeout, to report a hung file system while the IOC runs. "
        "Stop types the stop command on the IOC console, then stops procServ and the IOC with "
        "escalating signals inside the stop timeout."
    )
    # An IOC loading large databases, then serving its heartbeat, can take a while to start.
    timeouts = dict(Agent.timeouts, start=60, stop=30)
    parameters = (
        Parameter("ioc_name", required=True, check=ioc_name,
                  shortdesc="Name of the IOC (procServ's -n)",
                  longdesc="The IOC's name, shown by procServ on its console and in its log."),
        Parameter("boot_dir", required=True, check=absolute_path,
                  shortdesc="Boot directory of the IOC",
                  longdesc="The directory the IOC starts in (procServ -c), usually "
                           "iocBoot/ioc<name> of the IOC application."),
        Parameter("startup", default="st.cmd",
                  shortdesc="Startup script, relative to boot_dir or absolute"),
        Parameter("ioc_command", default="", check=command_line,
                  shortdesc="IOC executable and arguments; the startup script is appended",
                  longdesc="The IOC executable (softIoc, an application binary, or an "
                           "interpreter with its script) and arguments, split like a shell "
                           "would but never run by one; the startup script is appended as the "
                           "last argument. Empty: the startup script is executed itself, its #! "
                           "line naming the IOC executable, as makeBaseApp's st.cmd files do."),
        Parameter("console", default="", unique_group="console", check=console_endpoint,
                  shortdesc="procServ console: empty, PORT or unix:PATH",
                  longdesc="Where procServ's console listens, always on the IOC's node: "
                           "procServ binds a TCP console to 127.0.0.1 whatever address it is "
                           "given (IP:PORT is still 127.0.0.1:PORT; start warns). Empty: the "
                           "unix socket /run/ocfpy/epics-ioc/<resource>.console/control, one "
                           "per IOC (as procServ's manage-procs does), reachable by root and "
                           "`user` only. PORT: 127.0.0.1:PORT (each IOC on a node needs its "
                           "own). unix:PATH a socket of your choosing, unix:@NAME an abstract "
                           "one. ocfpy-ioc attach reaches any of them."),
        Parameter("address", default="", check=ipv4_address,
                  shortdesc="The IOC's own IPv4 address (its CA and pvAccess servers bind it)",
                  longdesc="An address that moves with the IOC (an IPaddr2 started before it, "
                           "in the same group: ocfgen makes both from a resource's `address`). "
                           "The IOC's Channel Access and pvAccess servers bind only this "
                           "address (EPICS_CAS_INTF_ADDR_LIST, EPICS_PVAS_INTF_ADDR_LIST), so "
                           "every IOC keeps the standard ports and is reached by its address "
                           "wherever it runs; the agent's own Channel Access check asks this "
                           "address. Empty: the node's addresses."),
        Parameter("ca_port", "integer", default="0", minimum=0, maximum=65535,
                  shortdesc="Channel Access server port (0: EPICS's 5064)",
                  longdesc="EPICS_CAS_SERVER_PORT of the IOC: its UDP search port and the TCP "
                           "port it serves on. Several IOCs sharing a node's addresses each need "
                           "their own: a CA server whose TCP port is taken serves on a random "
                           "one that no firewall rule can name. ocfgen's firewall opens it."),
        Parameter("pva_port", "integer", default="0", minimum=0, maximum=65535,
                  shortdesc="pvAccess server TCP port (0: EPICS's 5075)",
                  longdesc="EPICS_PVAS_SERVER_PORT of the IOC (EPICS 7 IOCs serve pvAccess "
                           "through QSRV; UDP searches arrive on the shared broadcast port "
                           "5076). Like ca_port, one per IOC on shared addresses."),
        Parameter("logfile", default="", check=absolute_path,
                  shortdesc="Console log file of the IOC (procServ -L); empty for none"),
        Parameter("user", default="", shortdesc="User that runs procServ and the IOC (empty: root)"),
        Parameter("environment", default="", check=environment_assignments,
                  shortdesc="Environment of the IOC as NAME=VALUE words (EPICS_CA_* ...)",
                  longdesc="Space-separated NAME=VALUE words, quoted as in a shell, added to a "
                           "clean environment (PATH, LANG, LC_ALL and TZ are inherited). The "
                           "EPICS_CA_* settings among them are also used by the agent's own "
                           "Channel Access client at monitor depth 10."),
        Parameter("heartbeat_pv", default="", check=pv_name, reloadable=True,
                  shortdesc="PV read at monitor depth 10 (e.g. devIocStats' <IOC>:HEARTBEAT)",
                  longdesc="A PV the IOC serves, read over Channel Access by monitors of depth "
                           "10 and by start before it reports success; empty: no CA check."),
        Parameter("heartbeat_stall", "integer", default="0", minimum=0,
                  maximum=PACEMAKER_MAX_S, reloadable=True,
                  shortdesc="Seconds the heartbeat may stay unchanged (0: not checked)",
                  longdesc="A deadlocked IOC can still answer Channel Access while its scan "
                           "threads hang: when the heartbeat PV keeps one value for longer than "
                           "this across depth-10 monitors, the monitor fails. devIocStats' "
                           "HEARTBEAT counts once a second; choose more than the monitor "
                           "interval. 0 turns the check off."),
        Parameter("pid_pv", default="", check=pv_name, reloadable=True,
                  shortdesc="PV holding the IOC's process id (devIocStats' <IOC>:PROCESS_ID)",
                  longdesc="At depth 10 its value must equal the pid of the local IOC process, "
                           "which catches another host serving the same PV names."),
        Parameter("ca_timeout", "integer", default="2000", minimum=100,
                  maximum=PACEMAKER_MAX_MS, reloadable=True,
                  shortdesc="Milliseconds a Channel Access read may take"),
        Parameter("boot_timeout", "integer", default="3000", minimum=100,
                  maximum=PACEMAKER_MAX_MS, reloadable=True,
                  shortdesc="Milliseconds reading the boot directory and startup script may take"),
        Parameter("stop_command", default="exit", reloadable=True,
                  shortdesc="Console line that shuts the IOC down",
                  longdesc="Typed on the IOC console at stop: 'exit' for the IOC shell, "
                           "'exit()' for a pythonSoftIOC shell; empty: go straight to signals."),
        Parameter("shutdown_timeout", "integer", default="10", minimum=0,
                  maximum=PACEMAKER_MAX_S, reloadable=True,
                  shortdesc="Seconds the IOC gets to exit after the stop command",
                  longdesc="At most half of the stop timeout; then procServ and the IOC are "
                           "sent SIGTERM and, if they outlive it, SIGKILL."),
        Parameter("procserv", default="procServ", shortdesc="The procServ executable"),
        Parameter("pidfile", unique_group="pidfile", check=absolute_path, default="",
                  shortdesc="Pidfile of procServ",
                  longdesc="Where procServ's identity is recorded (the IOC child's identity "
                           "goes to the same path plus '.ioc'); empty for "
                           "/run/ocfpy/epics-ioc/<instance>.pid."),
    )

    def __init__(self, request, log):
        super().__init__(request, log)
        path = self.params.pidfile or default_pidfile(self.name, request.instance)
        self.service = PidfileService(path, log)
        self.child_path = path + ".ioc"

    # Where things are.
    def _startup_path(self):
        import os

        return os.path.join(self.params.boot_dir, self.params.startup)

    def _environment(self):
        from ocfpy.service import service_environment

        env = service_environment(self.request.environ, self.params.environment)
        env.update(self._server_settings())
        return env

    def _server_settings(self):
        """The EPICS_CAS_*/EPICS_PVAS_* settings that bind the IOC's servers where the
        `address`, `ca_port` and `pva_port` parameters say (server_endpoints)."""
        settings = {}
        if self.params.address:
            settings["EPICS_CAS_INTF_ADDR_LIST"] = self.params.address
            settings["EPICS_PVAS_INTF_ADDR_LIST"] = self.params.address
        if self.params.ca_port:
            settings["EPICS_CAS_SERVER_PORT"] = str(self.params.ca_port)
        if self.params.pva_port:
            settings["EPICS_PVAS_SERVER_PORT"] = str(self.params.pva_port)
        return settings

    def _ca_client_settings(self):
        """EPICS_CA_* for the agent's own Channel Access check: the `environment` parameter's,
        and, when the IOC has its own address or port, a search of exactly that server."""
        from ocfpy.params import parse_environment

        settings = {name: value for name, value in
                    parse_environment(self.params.environment).items()
                    if name.startswith("EPICS_CA_")}
        if self.params.address or self.params.ca_port:
            address, port, _ = server_endpoints(self.params.as_dict())
            settings["EPICS_CA_ADDR_LIST"] = f"{address or '127.0.0.1'}:{port}"
            settings["EPICS_CA_AUTO_ADDR_LIST"] = "NO"
        return settings

    def _console(self):
        from .procserv import console_of

        return console_of(self.params.console, self.request.instance)

    def _argv(self, env):
        import shlex

        from ocfpy.service import find_executable

        from .procserv import command

        procserv = find_executable(self.params.procserv, env["PATH"])
        if procserv is None:
            raise OCFError(OCF.ERR_INSTALLED,
                           f"procServ ({self.params.procserv!r}) is not an executable on this node")
        ioc = shlex.split(self.params.ioc_command) if self.params.ioc_command else []
        return command(procserv, self.params.ioc_name, self.params.boot_dir, self.params.logfile,
                       self._console(), [*ioc, self._startup_path()])

    def _listening_console(self, leader):
        """Where the running procServ `leader` listens: the endpoint on its command line, which
        may be older than the console parameter (changed since, or a default of an older
        agent); the parameter's when the command line does not say."""
        from ocfpy.identity import arguments

        from .procserv import endpoint_of

        return endpoint_of(arguments(leader.pid)) or self._console()

    # Node-local checks.
    def validate(self):
        import os

        from ocfpy.nodecheck import require_user

        env = self._environment()
        self._argv(env)
        if self.params.ioc_command:
            import shlex

            from ocfpy.service import find_executable

            executable = shlex.split(self.params.ioc_command)[0]
            if find_executable(executable, env["PATH"]) is None:
                raise OCFError(OCF.ERR_INSTALLED,
                               f"ioc_command {executable!r} is not an executable on this node")
        problem = self._boot_problem(validating=True)
        if problem:
            raise OCFError(OCF.ERR_INSTALLED, problem)
        require_user(self.params.user)
        if self.params.logfile and not os.path.isdir(os.path.dirname(self.params.logfile)):
            raise OCFError(OCF.ERR_INSTALLED,
                           f"logfile directory {os.path.dirname(self.params.logfile)} does not exist")
        self.service.check_usable()

    def _boot_problem(self, validating=False):
        """Why the boot directory or startup script cannot be read in time; '' when they can."""
        from ocfpy.agents.fsprobe import probe

        checks = [("list", self.params.boot_dir), ("read", self._startup_path())]
        if validating and not self.params.ioc_command:
            checks.append(("exec", self._startup_path()))
        timeout = min(self.params.boot_timeout / 1000.0, max(0.1, self.remaining()))
        return probe(checks, timeout)

    # Life cycle.
    def start(self):
        env = self._environment()
        if self.params.logfile and self.params.user:
            self._create_log_for_user()
        from . import procserv

        if not self.params.console:
            self._create_console_directory()
        elif procserv.console_elsewhere(self.params.console):
            self.log.warning(f"console {self.params.console}: procServ listens on "
                             f"{procserv.console_text(self._console())}, not on "
                             f"{procserv.console_elsewhere(self.params.console)}: it binds its "
                             f"console to 127.0.0.1 whatever address it names")
        leader = self.service.launch(self, self._argv(env), settle=0.2, cwd=self.params.boot_dir,
                                     user=self.params.user, env=env,
                                     logfile=self.params.logfile or "/dev/null")
        try:
            self._record_child(leader)
        except OCFError:
            self.service.terminate(self, leader=leader)
            raise

    def _create_console_directory(self):
        """The directory of the default console socket: root's, or `user`'s when procServ runs
        as `user`, so that procServ can create the socket in it; nobody else may enter it. One
        that an earlier `user` owned is given to the current one."""
        from ocfpy import safefile
        from ocfpy.nodecheck import user_ids
        from ocfpy.service import run_path

        from .procserv import console_socket

        directory = console_socket(self.request.instance).rpartition("/")[0]
        try:
            run_path(self.name, self.request.instance, "", create=True)
            safefile.claim_directory(directory, 0o700, user_ids(self.params.user) or (0, 0))
        except OSError as exc:
            raise OCFError(OCF.ERR_GENERIC, f"cannot create the console directory {directory}: "
                                            f"{exc}") from None

    def _create_log_for_user(self):
        """procServ opens its log as `user`: create a missing log file owned by that user.

        The agent (root) also appends procServ's own messages to it; an existing file is left
        exactly as it is.
        """
        import os

        from ocfpy.nodecheck import user_ids

        uid, gid = user_ids(self.params.user)
        try:
            fd = os.open(self.params.logfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         0o640)
        except FileExistsError:
            return
        except OSError as exc:
            raise OCFError(OCF.ERR_GENERIC, f"cannot create logfile {self.params.logfile}: "
                                            f"{exc.strerror}") from None
        try:
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)

    def _record_child(self, leader):
        """Find the IOC that procServ forked and record its identity next to the pidfile."""
        import time

        from ocfpy import wait

        def ioc_child():
            pids = _children(leader.pid)
            child = Identity.of(pids[0]) if pids else None
            if child is None and not leader.alive():
                raise OCFError(OCF.ERR_GENERIC, f"procServ exited during start{self._log_hint()}")
            return child

        child = wait.until(ioc_child, min(self.deadline, time.monotonic() + 5.0), 0.02)
        if child is None:
            raise OCFError(OCF.ERR_GENERIC,
                           f"procServ pid {leader.pid} started no IOC child{self._log_hint()}")
        pidfile.write(self.child_path, child)
        self.log.info(f"IOC {self.params.ioc_name} runs as pid {child.pid} "
                      f"under procServ {leader.pid}")

    def _log_hint(self):
        return f" (console log: {self.params.logfile})" if self.params.logfile else ""

    def start_failure_hint(self):
        return self._log_hint()

    def _recorded_child(self):
        try:
            return pidfile.read(self.child_path)
        except pidfile.ForeignFileError as exc:
            self.log.warning(f"{exc}: no IOC child of ours is recorded")
            return None

    def stop(self):
        import time

        from ocfpy.process import STOPPED_GRACE, cannot_obey, terminate

        leader = self.service.leader()
        iocs = self._live_iocs(leader)
        deaf = [(ioc, why) for ioc in iocs for why in (cannot_obey(ioc),) if why]
        why = cannot_obey(leader) if leader is not None else None
        if why:
            self.log.warning(f"procServ pid {leader.pid} is {why}: its console cannot pass the "
                             "stop command on; straight to signals")
            deaf.append((leader, why))
        for ioc, why in deaf:
            if ioc is leader:
                continue  # stopped below, with its session
            # A stopped IOC cannot read the stop command and procServ's own SIGTERM to it would
            # stay pending: signal it first (SIGTERM with SIGCONT, then SIGKILL).
            self.log.warning(f"IOC pid {ioc.pid} is {why}: straight to signals")
            terminate(ioc, kill_at=time.monotonic() + min(STOPPED_GRACE,
                                                          max(0.0, self.remaining()) / 4),
                      give_up_at=self.deadline, log=self.log)
        if leader is not None and iocs and not deaf and self.params.stop_command:
            self._stop_on_console(iocs, self._listening_console(leader))
        self.service.terminate(self)
        for ioc in iocs:
            if ioc.alive():
                # procServ is gone (or was SIGKILLed) and left the IOC behind: stop it directly.
                left = terminate(ioc, kill_at=time.monotonic() + max(0.0, self.remaining()) / 2,
                                 give_up_at=self.deadline, log=self.log)
                if left:
                    raise OCFError(OCF.ERR_GENERIC, f"IOC processes {left} survived SIGKILL")
        pidfile.remove(self.child_path)
        _remove_heartbeat(self.service.path + ".heartbeat")
        from ocfpy.agents.bootwatch import BootWatch

        BootWatch(self.service.path, self.request.instance, self.log).forget()

    def _stop_on_console(self, iocs, endpoint):
        """Type the stop command on the console at `endpoint` (a parse_console tuple) and give
        the IOC shutdown_timeout to exit; give up early when the console sends nothing back at
        all (procServ itself hung)."""
        import time

        from ocfpy import wait

        from .procserv import CONSOLE_ANSWER, console_text, drain

        grace = min(self.params.shutdown_timeout, max(0.0, self.remaining()) / 2)
        console = self._type_on_console(self.params.stop_command, endpoint)
        if console is None:
            return
        # Stay connected while the IOC shuts down: closing a socket with unread data resets
        # it, and procServ may then drop the line before the IOC has read it.
        with console:
            began = time.monotonic()
            heard, silent = 0, False

            def gone_or_silent():
                nonlocal heard, silent
                if not any(i.alive() for i in iocs):
                    return True
                heard += drain(console)
                silent = not heard and time.monotonic() > began + CONSOLE_ANSWER
                return silent

            wait.until(gone_or_silent, began + grace, 0.05)
            if silent:
                self.log.warning(f"the IOC console {console_text(endpoint)} sent nothing in "
                                 f"{CONSOLE_ANSWER:.0f}s: straight to signals")
                return
            drain(console)
        if not any(i.alive() for i in iocs):
            self.log.info(f"IOC {self.params.ioc_name} exited on {self.params.stop_command!r}")

    def _live_iocs(self, leader):
        """Identities of the recorded IOC child and any child procServ runs now (a respawn)."""
        iocs = []
        recorded = self._recorded_child()
        if recorded is not None and recorded.alive():
            iocs.append(recorded)
        for pid in _children(leader.pid) if leader is not None else ():
            identity = Identity.of(pid)
            if identity is not None and identity not in iocs:
                iocs.append(identity)
        return iocs

    def _type_on_console(self, line, endpoint):
        """Send one line to the IOC through procServ's console at `endpoint`: the connection,
        or None."""
        from .procserv import connect, console_text

        conn = None
        try:
            conn = connect(endpoint, 1.0)
            # A blank line first ends anything half-typed on the console.
            conn.sendall(f"\r\n{line}\r\n".encode())
            conn.setblocking(False)
        except OSError as exc:
            if conn is not None:
                conn.close()
            self.log.warning(f"cannot reach the IOC console {console_text(endpoint)}: {exc}")
            return None
        return conn

    def monitor(self):
        leader = self.service.leader()
        child = self._recorded_child()
        if leader is None:
            if child is not None and child.alive():
                raise OCFError(OCF.ERR_GENERIC, f"IOC pid {child.pid} outlived its procServ")
            return OCF.NOT_RUNNING
        if child is None:
            raise OCFError(OCF.ERR_GENERIC,
                           f"procServ pid {leader.pid} runs but no IOC child of it is recorded")
        stat = child.stat()
        if stat is None or stat.ppid != leader.pid:
            current = _children(leader.pid)
            if current:
                raise OCFError(OCF.ERR_GENERIC, f"IOC pid {child.pid} was replaced by pid "
                                                f"{current[0]} (respawned by procServ)")
            if self.request.action == "start":
                # The IOC died while starting: the start fails at once (NOT_RUNNING), and the
                # start path stops the procServ left behind. A monitor only observes.
                self.log.warning(f"IOC pid {child.pid} died during start; procServ pid "
                                 f"{leader.pid} runs without it")
                return OCF.NOT_RUNNING
            raise OCFError(OCF.ERR_GENERIC, f"IOC pid {child.pid} is gone; procServ pid "
                                            f"{leader.pid} runs without it")
        level = self.request.check_level
        if self.params.heartbeat_pv and (level >= 10 or self.request.action == "start"):
            self._check_channel_access(child)
        if level >= 20:
            self._check_boot_health()
        return OCF.SUCCESS

    def _check_boot_health(self):
        """Depth 20: a boot directory that stops answering marks this node unhealthy for the
        IOC (agents.bootwatch) and leaves the running IOC alone; Pacemaker's node health moves
        it. Without a cluster to tell (not run by Pacemaker, or attrd_updater fails) the monitor
        fails instead."""
        from ocfpy.agents.bootwatch import GREEN, RED, BootWatch

        watch = BootWatch(self.service.path, self.request.instance, self.log)
        checks = [("list", self.params.boot_dir), ("read", self._startup_path())]
        healthy, why = watch.check(checks, min(self.params.boot_timeout / 1000.0,
                                               max(0.1, self.remaining() / 2)))
        if "OCF_RESKEY_crm_feature_set" not in self.request.environ:
            # Not run by Pacemaker (ocf-tester, a shell): no cluster to tell, so no
            # attrd_updater; an unhealthy boot directory fails the monitor itself.
            if not healthy:
                raise OCFError(OCF.ERR_GENERIC, why)
            return
        problem = watch.report(GREEN if healthy else RED,
                               interval=self.request.interval_ms / 1000.0,
                               timeout=max(0.5, self.remaining() / 2))
        if healthy:
            if problem:
                self.log.warning(f"cannot mark the node healthy ({watch.attribute}): {problem}")
            return
        if problem:
            self.log.warning(f"cannot mark the node unhealthy ({watch.attribute}): {problem}")
            raise OCFError(OCF.ERR_GENERIC, why)
        self.log.warning(f"{why}: node marked unhealthy ({watch.attribute}=red); the IOC keeps "
                         f"running")

    def _check_channel_access(self, child):
        """Read the heartbeat PV (and the pid PV) in one Channel Access exchange."""
        timeout = min(self.params.ca_timeout / 1000.0, max(0.1, self.remaining() / 3))
        values = self._ca_read([self.params.heartbeat_pv, self.params.pid_pv], timeout, child)
        value = values[self.params.heartbeat_pv]
        self.log.debug(f"{self.params.heartbeat_pv} = {value}")
        if self.params.heartbeat_stall and self.request.action == "monitor":
            self._check_heartbeat_moves(value, child)
        if self.params.pid_pv:
            served = values[self.params.pid_pv]
            try:
                served_pid = int(served)
            except (TypeError, ValueError):
                served_pid = None
            if served_pid != child.pid:
                raise OCFError(OCF.ERR_GENERIC, f"{self.params.pid_pv} is {served!r}, not the pid "
                                                f"{child.pid} of the IOC this resource runs")

    def _check_heartbeat_moves(self, value, child):
        """Fail when the heartbeat has kept one value for longer than heartbeat_stall seconds.

        The last value, when it was first seen and the IOC pid are kept next to the pidfile,
        in a file with a marker line, so a file that is not ours is never rewritten.
        """
        import time

        from ocfpy import safefile

        path = self.service.path + ".heartbeat"
        now = time.time()
        directory, name = safefile.split(path)
        try:
            # Read and replaced through one open directory only root can write (safefile).
            with safefile.Directory(directory) as handle:
                seen = _parse_heartbeat(handle.read(name, 4096))
                if seen is _FOREIGN:
                    raise OCFError(OCF.ERR_GENERIC, f"{path} exists and is not ours; cannot "
                                                    "track the heartbeat")
                if seen and seen[0] == str(value) and seen[2] == child.pid:
                    stalled = now - seen[1]
                    if stalled > self.params.heartbeat_stall:
                        raise OCFError(OCF.ERR_GENERIC, f"{self.params.heartbeat_pv} has stayed "
                                                        f"at {value} for {stalled:.0f}s (a hung "
                                                        "IOC?)")
                    return
                text = f"{HEARTBEAT_MARKER}\n{value}\n{now}\n{child.pid}\n"
                handle.replace(name, text.encode())
        except OSError as exc:
            raise OCFError(OCF.ERR_GENERIC, f"cannot track the heartbeat in {path}: "
                                            f"{exc}") from None

    def _ca_read(self, pvs, timeout, child):
        """{pv: first element of its value} for the non-empty names in `pvs`, read by
        ocfpy.ca within `timeout`; OCFError(ERR_GENERIC) naming the PV and why not."""
        from ocfpy import ca

        # The agent's CA client follows the IOC's EPICS_CA_* settings (ports, address list).
        environ = dict(self.request.environ)
        environ.update(self._ca_client_settings())
        names = [pv for pv in pvs if pv]
        try:
            values = ca.read_many(names, timeout, environ, count=1)
        except ca.CAError as exc:
            pv = exc.name or names[0]
            if isinstance(exc, ca.CATimeout):
                stat = child.stat()
                hint = " (the IOC process is stopped)" if stat is not None and stat.state == "T" \
                    else ""
                raise OCFError(OCF.ERR_GENERIC, f"Channel Access read of {pv} timed out after "
                                                f"{timeout:.1f}s{hint}") from None
            code = OCF.ERR_CONFIGURED if isinstance(exc, ca.ConfigError) else OCF.ERR_GENERIC
            raise OCFError(code, f"Channel Access read of {pv} failed: {exc}") from None
        return {pv: values[pv].value for pv in names}

    def reload_agent(self):
        # Every reloadable parameter is read afresh by each operation: nothing to apply.
        return OCF.SUCCESS


HEARTBEAT_MARKER = "ocfpy-heartbeat 1"
_FOREIGN = object()


def _parse_heartbeat(data):
    if data is None:
        return None
    lines = data.decode(errors="replace").splitlines()
    if len(lines) != 4 or lines[0] != HEARTBEAT_MARKER:
        return _FOREIGN
    try:
        return lines[1], float(lines[2]), int(lines[3])
    except ValueError:
        return _FOREIGN


def _remove_heartbeat(path):
    """Delete the heartbeat file at `path` if it is ours: what is checked is what is removed."""
    from ocfpy import safefile

    def ours(data):
        if _parse_heartbeat(data) in (None, _FOREIGN):
            raise ValueError("not a heartbeat file of ours")

    try:
        safefile.remove(path, ours)
    except (OSError, ValueError):
        pass


def _children(pid):
    """Pids of the live children of `pid`."""
    return [p for p in children(pid) if _alive(read_stat(p))]


def _alive(stat):
    return stat is not None and stat.alive


def main():
    import sys

    sys.exit(EpicsIocAgent.main())


if __name__ == "__main__":
    main()
