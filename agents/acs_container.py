"""ocf:ocfpy:acs-container: one ACS container (java, cpp or py) of an ACS instance.

acsStartContainer runs in the foreground, so the agent keeps it as a recorded process (pid,
start time, boot). The monitor checks that this process lives and that the container is
registered: its name resolves in the instance's naming service (a CosNaming resolve sent as a
GIOP Request, no ORB) and the object it resolves to answers a GIOP LocateRequest, so a hung
container and a stale registration left by a dead one are both failures. Order it after the
acs-services resource of the same instance.

Services down are not a container failure: while the NameService refuses, does not answer or
drops the connection before its reply, the monitor reports the container running (with a
warning) as long as its process lives. The acs-services monitor reports the dead services, and
the order constraint makes Pacemaker stop the containers, restart the services, then start the
containers again, whatever the two monitor intervals are. A container start while the
services do not answer fails at once with that cause first in its reason.
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
    check_levels = (0,)  # the OCF_CHECK_LEVEL depths its monitor tells apart
    shortdesc = "One ACS container of an ACS instance"
    longdesc = (
        "Runs acsStartContainer {--java|--cpp|--py} -b N NAME in the foreground as a recorded "
        "process and stops it with acsStopContainer -b N NAME, then SIGTERM/SIGKILL of its "
        "session inside the stop timeout. The monitor requires the process to live and the "
        "container to be registered: NAME resolves in the instance's NameService and the "
        "object it resolves to answers a GIOP LocateRequest. While the NameService itself "
        "refuses, does not answer or drops the connection before its reply, the container is "
        "reported running as long as its process lives: the services' own monitor reports "
        "them, and the order constraint restarts the containers after them."
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
        Parameter("start_settle", "integer", default="500", minimum=0, maximum=600000,
                  reloadable=True,
                  shortdesc="Milliseconds the container must stay up for start to succeed"),
    )
    timeouts = dict(Agent.timeouts, start=120, stop=60)
    rules = acs_env.RULES

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

        self._require_services()
        argv = ["acsStartContainer", LANGUAGE_FLAGS[self.params.language], "-b",
                str(self.acs.instance), *shlex.split(self.params.start_options),
                self.params.container]
        argv[0] = self.acs.find(argv[0])
        env = self.acs.environment(acs_env.marker(self))
        if self.params.environment_file:
            env["OCFPY_ACS_PATH"] = self.acs.path_prefix()
        self.service.launch(self, self.acs.command(argv), settle=self.params.start_settle / 1000.0,
                            user=self.params.user, env=env, logfile=self._logfile(),
                            name="acsStartContainer", exit_meaning=acs_env.exit_meaning)

    def _require_services(self):
        """Fail a start at once, cause first, when the instance's NameService does not answer:
        acsStartContainer could only fail later with a less telling exit status."""
        from ocfpy import giop

        timeout = min(self.params.check_timeout / 1000.0, max(0.05, self.remaining() / 4))
        naming = giop.locate(self.params.host, acs_env.base_port(self.acs.instance) + 1,
                             "NameService", timeout)
        if not naming.alive:
            raise OCFError(OCF.ERR_GENERIC, f"ACS instance {self.acs.instance} services down "
                                            f"(start acs-services first): {naming.detail}")

    def start_failure_hint(self):
        return f" (log: {self._logfile()})"

    def stop(self):

        leader = self.service.leader()
        if leader is not None:
            from ocfpy.process import cannot_obey

            why = cannot_obey(leader)
            if why:
                # It cannot act on acsStopContainer's request: straight to signals.
                self.log.warning(f"container pid {leader.pid} is {why}; skipping acsStopContainer")
                leader = None
        if leader is not None and self.acs.find("acsStopContainer"):
            from ocfpy import wait

            argv = ["acsStopContainer", "-b", str(self.acs.instance), self.params.container]
            self.acs.run_before_signals(self, argv, self._logfile(), self.remaining() / 3,
                                        "terminating the container process")
            wait.within(lambda: not leader.alive(), self.remaining() / 3)
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
        if bound.status in giop.UNREACHABLE:
            # The services are down, hung or dying (killed while they answered this very
            # request): their own resource's monitor reports that, and
            # Pacemaker's ordering restarts this container after them. Failing here instead
            # would restart the container alone against dead services, fail its start and ban
            # it from the node until a manual cleanup.
            self.log.warning(f"container {self.params.container} runs; its registration cannot "
                             f"be checked while the NameService is unreachable ({bound.detail})")
            return OCF.SUCCESS
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
