"""ocf:ocfpy:acs-services: the ORB services and Manager of one ACS instance.

Start runs acsStart -b N (which returns once the Manager is up) and stop acsStop -b N, with the
site's ACS environment. Monitor asks the naming service and the Manager themselves: a GIOP
LocateRequest to corbaloc::HOST:BASE+1/NameService and corbaloc::HOST:BASE/Manager, bounded in
time, so a hung ORB (which the kernel still accepts connections for) is told from a live one.
"""

from ocfpy.agent import Agent
from ocfpy.codes import OCF, OCFError
from ocfpy.params import Parameter, absolute_path, command_line

from . import acs_env

# acsstartup's exit codes in words (shared with acs-container).
EXIT_MEANINGS = acs_env.EXIT_MEANINGS
exit_meaning = acs_env.exit_meaning


def ports(instance):
    """The instance's ports by service name (see acs_env.ports)."""
    return acs_env.ports(instance)


def port_ranges(instance, daemons=False):
    """The TCP port ranges to open for instance `instance` (see acs_env.port_ranges)."""
    return acs_env.port_ranges(instance, daemons)


class AcsServicesAgent(Agent):
    name = "acs-services"
    check_levels = (0,)  # the OCF_CHECK_LEVEL depths its monitor tells apart
    shortdesc = "ACS services and Manager of one ACS instance"
    longdesc = (
        "Starts the CORBA services and the Manager of ACS instance N with acsStart -b N and "
        "stops them with acsStop -b N, in the ACS environment (ACS_INSTANCE, ACSROOT, INTROOT, "
        "ACSDATA, ACS_TMP and an optional site environment file). The monitor sends a GIOP "
        "LocateRequest to the NameService (port 3001+100*N) and the Manager (3000+100*N) and "
        "fails on a refused, unknown or hung object. Instance N listens on 3000+100*N..+13 and "
        "its containers on +50..+100."
    )
    parameters = acs_env.parameters() + (
        Parameter("start_options", default="", check=command_line,
                  shortdesc="Extra acsStart options (e.g. --noloadifr)"),
        Parameter("logfile", default="", check=absolute_path,
                  shortdesc="File that receives acsStart/acsStop output (appended)",
                  longdesc="Empty for /run/ocfpy/acs-services/<resource>.log."),
    )
    timeouts = dict(Agent.timeouts, start=300, stop=120)
    rules = acs_env.RULES
    # Exposed for the generators: which ports instance N needs opened.
    ports = staticmethod(ports)
    port_ranges = staticmethod(port_ranges)

    def __init__(self, request, log):
        super().__init__(request, log)
        self.acs = acs_env.AcsEnvironment(self.params, request)

    def validate(self):
        self.acs.validate(("acsStart", "acsStop"))

    def _logfile(self):
        return self.params.logfile or acs_env.default_logfile(self.name, self.request.instance)

    def start(self):
        import shlex

        argv = ["acsStart", "-b", str(self.acs.instance), *shlex.split(self.params.start_options)]
        status, tail = self.acs.run(self, argv, self._logfile(), self.remaining())
        if status == 0:
            return
        if status is None:
            raise OCFError(OCF.ERR_GENERIC, f"acsStart -b {self.acs.instance} did not finish "
                                            f"within the start timeout (log: {self._logfile()})")
        # Cause first (the meaning of the status), then where to look, then the details:
        # Pacemaker keeps only the first 128 characters.
        detail = self._ports_in_use() if status == 44 else ""
        detail += f"; {tail}" if tail else ""
        code = OCF.ERR_CONFIGURED if status == 43 else OCF.ERR_GENERIC
        raise OCFError(code, f"acsStart: {exit_meaning(status)} (exit {status}, log "
                             f"{self._logfile()}){detail}")

    def _ports_in_use(self):
        """'; ports in use: 5001 (naming)' for the instance ports that something listens on."""
        import socket

        busy = []
        for name, port in ports(self.acs.instance).items():
            if name.startswith("containers_"):
                continue
            try:
                socket.create_connection((self.params.host, port), timeout=0.2).close()
                busy.append(f"{port} ({name})")
            except OSError:
                continue
        return f"; ports in use: {', '.join(busy)}" if busy else ""

    def start_failure_hint(self):
        return f" (log: {self._logfile()})"

    def stop(self):
        import os
        import time

        from ocfpy.process import STOPPED_GRACE, cannot_obey

        from . import procscan

        ours = procscan.with_environment(acs_env.MARKER, acs_env.marker(self))
        hung = [(i.pid, why) for i in ours for why in (cannot_obey(i),) if why]
        if hung:
            # A stopped ORB cannot take part in acsStop's orderly shutdown: straight to signals.
            self.log.warning(f"instance processes {hung} cannot shut down cleanly; not running "
                             "acsStop")
        elif os.path.isdir(self.acs.instance_dir):
            self.acs.run_before_signals(self, ["acsStop", "-b", str(self.acs.instance)],
                                        self._logfile(), self.remaining() / 2,
                                        "killing the instance's processes")
        # Whatever acsStop left behind of ours carries our marker in its environment.
        left = procscan.with_environment(acs_env.MARKER, acs_env.marker(self))
        if left:
            now = time.monotonic()
            grace = max(0.0, self.remaining()) / 2
            alive = procscan.stop_all(left, kill_at=now + (min(grace, STOPPED_GRACE) if hung
                                                          else grace),
                                      give_up_at=self.deadline, log=self.log)
            if alive:
                raise OCFError(OCF.ERR_GENERIC, f"processes {alive} survived SIGKILL")
            # A killed multi-threaded ORB shows as a zombie while its other threads still close
            # its sockets: stop is done when its ports refuse.
            self.wait_for(self._ports_closed, "the instance's ports to close")

    def _ports_closed(self):
        from ocfpy import giop

        base = acs_env.base_port(self.acs.instance)
        return all(giop.locate(self.params.host, port, key, 0.2).status == giop.REFUSED
                   for port, key in ((base + 1, "NameService"), (base, "Manager")))

    def reload_agent(self):
        # Every reloadable parameter is read afresh by each operation: nothing to apply.
        return OCF.SUCCESS

    def monitor(self):
        import os

        if not os.path.isdir(self.acs.instance_dir):
            return OCF.NOT_RUNNING
        from ocfpy import giop

        timeout = min(self.params.check_timeout / 1000.0, max(0.05, self.remaining() / 2))
        base = acs_env.base_port(self.acs.instance)
        naming = giop.locate(self.params.host, base + 1, "NameService", timeout)
        manager = giop.locate(self.params.host, base, "Manager", timeout)
        if naming.alive and manager.alive:
            return OCF.SUCCESS
        if naming.status == giop.REFUSED and manager.status == giop.REFUSED:
            # Lock directory left but nothing listens: the instance died (acsStart clears it).
            self.log.warning(f"instance {self.acs.instance}: {self.acs.instance_dir} exists but "
                             "neither the NameService nor the Manager listens")
            return OCF.NOT_RUNNING
        failed = [f"{what} {result.detail}" for what, result in
                  (("NameService", naming), ("Manager", manager)) if not result.alive]
        raise OCFError(OCF.ERR_GENERIC, "; ".join(failed))


def main():
    import sys

    sys.exit(AcsServicesAgent.main())


if __name__ == "__main__":
    main()
