"""ocf:ocfpy:acs-container: one ACS container (java, cpp or py) of an ACS instance.

acsStartContainer runs in the foreground, so the agent keeps it as a recorded process (pid,
start time, boot). The monitor checks that this process lives and that the container is
registered: its name resolves in the instance's naming service (a CosNaming resolve sent as a
GIOP Request, no ORB) and the object it resolves to answers a GIOP LocateRequest, so a hung
container and a stale registration left by a dead one are both failures. Order it after the
acs-services resource of the same instance.
"""

from ocfpy.agent import Agent
from ocfpy.codes import OCF, OCFError
from ocfpy.params import Parameter, absolute_path, command_line
from ocfpy.service import PidfileService, default_pidfile

from . import acs_env

LANGUAGE_FLAGS = {"java": "--java", "cpp": "--cpp", "py": "--py"}


def _container_name(value):
    if not value.strip() or any(c.isspace() for c in value) or value.startswith("/") \
            or value.endswith("/") or "//" in value:
        raise ValueError(f"must be an ACS container name such as CONTROL/ACC/javaContainer, "
                         f"not {value!r}")


class AcsContainerAgent(Agent):
    name = "acs-container"
    shortdesc = "One ACS container of an ACS instance"
    longdesc = (
        "Runs acsStartContainer {--java|--cpp|--py} -b N NAME in the foreground as a recorded "
        "process and stops it with acsStopContainer -b N NAME, then SIGTERM/SIGKILL of its "
        "session inside the stop timeout. The monitor requires the process to live and the "
        "container to be registered: NAME resolves in the instance's NameService and the "
        "object it resolves to answers a GIOP LocateRequest."
    )
    parameters = acs_env.parameters() + (
        Parameter("container", required=True, check=_container_name,
                  shortdesc="Container name (as in the CDB)"),
        Parameter("language", "select", default="java", choices=tuple(LANGUAGE_FLAGS),
                  shortdesc="Container implementation language"),
        Parameter("start_options", default="", check=command_line,
                  shortdesc="Extra acsStartContainer options"),
        Parameter("registration_name", default="",
                  shortdesc="Naming-service name that shows the container registered",
                  longdesc="The name (id.kind/id.kind...) the monitor resolves in the "
                           "instance's NameService; empty for the container name. Set it to "
                           "'-' to check only that the process lives."),
        Parameter("pidfile", default="", check=absolute_path, unique_group="pidfile",
                  shortdesc="Pidfile path (empty: /run/ocfpy/acs-container/<resource>.pid)"),
        Parameter("logfile", default="", check=absolute_path,
                  shortdesc="File that receives the container's output (appended)",
                  longdesc="Empty for /run/ocfpy/acs-container/<resource>.log."),
        Parameter("start_settle", "integer", default="500", minimum=0, reloadable=True,
                  shortdesc="Milliseconds the container must stay up for start to succeed"),
    )
    timeouts = dict(Agent.timeouts, start=120, stop=60)

    def __init__(self, request, log):
        super().__init__(request, log)
        self.acs = acs_env.AcsEnvironment(self.params, request)
        path = self.params.pidfile or default_pidfile(self.name, request.instance)
        self.service = PidfileService(path, log)

    def validate(self):
        self.acs.validate(("acsStartContainer", "acsStopContainer"))
        self.service.check_usable()

    def _logfile(self):
        return self.params.logfile or acs_env.default_logfile(self.name, self.request.instance)

    def start(self):
        import shlex

        argv = ["acsStartContainer", LANGUAGE_FLAGS[self.params.language], "-b",
                str(self.acs.instance), *shlex.split(self.params.start_options),
                self.params.container]
        argv[0] = self.acs.find(argv[0])
        env = self.acs.environment(acs_env.marker(self))
        if self.params.environment_file:
            env["OCFPY_ACS_PATH"] = self.acs.path_prefix()
        self.service.launch(self, self.acs.command(argv), settle=self.params.start_settle / 1000.0,
                            user=self.params.user, env=env, logfile=self._logfile())

    def start_failure_hint(self):
        return f" (log: {self._logfile()})"

    def stop(self):
        import time

        leader = self.service.leader()
        if leader is not None:
            stat = leader.stat()
            if stat is not None and stat.state in ("T", "t"):
                import os
                import signal

                # A stopped (hung) container cannot act on a shutdown request: let it run.
                self.log.warning(f"container pid {leader.pid} is stopped; sending SIGCONT")
                try:
                    os.kill(leader.pid, signal.SIGCONT)
                except ProcessLookupError:  # it died meanwhile: nothing to wake
                    pass
        if leader is not None and self.acs.find("acsStopContainer"):
            argv = ["acsStopContainer", "-b", str(self.acs.instance), self.params.container]
            self.acs.run_before_signals(self, argv, self._logfile(), self.remaining() / 3,
                                        "terminating the container process")
            until = time.monotonic() + max(0.0, self.remaining() / 3)
            while leader.alive() and time.monotonic() < until:
                time.sleep(0.05)
        self.service.terminate(self)

    def reload_agent(self):
        # Every reloadable parameter is read afresh by each operation: nothing to apply.
        return OCF.SUCCESS

    def monitor(self):
        if self.service.leader() is None:
            return OCF.NOT_RUNNING
        name = self.params.registration_name or self.params.container
        if name == "-":
            return OCF.SUCCESS
        from ocfpy import giop

        timeout = min(self.params.check_timeout / 1000.0, max(0.05, self.remaining() / 2))
        base = acs_env.base_port(self.acs.instance)
        bound = giop.resolve(self.params.host, base + 1, "NameService", name, timeout)
        if bound.status == giop.UNKNOWN:
            raise OCFError(OCF.ERR_GENERIC, f"container {self.params.container} runs but is not "
                                            f"registered: {bound.detail}")
        if not bound.alive:
            raise OCFError(OCF.ERR_GENERIC, f"cannot check the registration of "
                                            f"{self.params.container}: {bound.detail}")
        try:
            _, profiles = giop.decode_ior(bound.body.decode())
        except ValueError as exc:
            raise OCFError(OCF.ERR_GENERIC, f"{name} is bound to an unreadable IOR: {exc}") from None
        where = profiles[0]
        answer = giop.locate(where.host, where.port, where.key, timeout, where.version)
        if not answer.alive:
            raise OCFError(OCF.ERR_GENERIC, f"container {self.params.container} is registered "
                                            f"but its object does not answer: {answer.detail}")
        return OCF.SUCCESS


def main():
    import sys

    sys.exit(AcsContainerAgent.main())


if __name__ == "__main__":
    main()
