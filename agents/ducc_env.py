"""What the DUCC agents share: DUCC_HOME, starting a component with DUCC's ducc.py, and finding
the running daemons by the marks DUCC puts on their command lines.

DUCC starts each daemon as `$DUCC_HOME/admin/ducc.py -c <component> -b --nodup`; the daemons are
java processes carrying -Dducc.deploy.components=<rm|pm|sm|orchestrator|ws|agent>, the broker
carries -DDUCC_BROKER_CREDENTIALS_FILE= and the database ends with CassandraDaemon. A process
belongs to this DUCC_HOME when one of its arguments names a path under it.
"""

import os

from ocfpy.codes import OCF, OCFError
from ocfpy.nodecheck import require_directory, require_user
from ocfpy.params import Parameter, absolute_path, environment_assignments

# ducc.py -c name -> how its daemon is recognised.
DEPLOY = "-Dducc.deploy.components="
MARKS = {
    "broker": ("prefix", "-DDUCC_BROKER_CREDENTIALS_FILE="),
    "or": ("equal", DEPLOY + "orchestrator"),
    "rm": ("equal", DEPLOY + "rm"),
    "pm": ("equal", DEPLOY + "pm"),
    "sm": ("equal", DEPLOY + "sm"),
    "ws": ("equal", DEPLOY + "ws"),
    "db": ("last", "org.apache.cassandra.service.CassandraDaemon"),
    "ag": ("equal", DEPLOY + "agent"),
}
HEAD_COMPONENTS = ("broker", "or", "rm", "pm", "sm", "ws", "db")


def components_check(allowed):
    def check(value):
        words = value.split()
        if not words:
            raise ValueError("must name at least one component")
        unknown = [w for w in words if w not in allowed]
        if unknown:
            raise ValueError(f"has unknown component(s) {', '.join(unknown)} "
                             f"(known: {', '.join(allowed)})")
        if len(set(words)) != len(words):
            raise ValueError("names a component twice")
    return check


def parameters():
    return (
        Parameter("ducc_home", required=True, check=absolute_path,
                  shortdesc="DUCC_HOME: the DUCC installation",
                  longdesc="The DUCC installation; components are started with "
                           "DUCC_HOME/admin/ducc.py -c <component> -b --nodup."),
        Parameter("user", default="", shortdesc="User that runs DUCC (empty: root)"),
        Parameter("environment", default="",
                  check=environment_assignments,
                  shortdesc="Extra environment as NAME=VALUE words (e.g. JAVA_HOME=...)"),
        Parameter("logfile", default="", check=absolute_path,
                  shortdesc="File that receives ducc.py output (appended)",
                  longdesc="Empty for /run/ocfpy/<agent>/<resource>.log."),
    )


def _mentions_home(word, home):
    index = word.find(home)
    while index >= 0:
        end = index + len(home)
        before_ok = index == 0 or word[index - 1] in "=:"
        if before_ok and (end == len(word) or word[end] in "/:"):
            return True
        index = word.find(home, index + 1)
    return False


def _is(component, argv):
    how, mark = MARKS[component]
    if how == "equal":
        return mark in argv
    if how == "prefix":
        return any(word.startswith(mark) for word in argv)
    return argv[-1] == mark


def running(ducc_home, components):
    """{component: [Identity]} of this DUCC_HOME's daemons among `components`."""
    from . import procscan

    home = os.path.normpath(ducc_home)
    wanted = tuple(components)
    found = {component: [] for component in wanted}

    def belongs(argv):
        return any(_mentions_home(word, home) for word in argv) and any(
            _is(component, argv) for component in wanted)

    for identity, argv in procscan.with_arguments(belongs):
        for component in wanted:
            if _is(component, argv):
                found[component].append(identity)
                break
    return found


class DuccEnvironment:
    def __init__(self, agent):
        self.agent = agent
        self.params = agent.params
        # Empty only with an invalid configuration, which dispatch handles before any action.
        home = self.params.ducc_home
        self.home = os.path.normpath(home) if home else ""
        self.script = os.path.join(self.home, "admin", "ducc.py")

    def validate(self):
        require_directory(self.home, "ducc_home")
        if not (os.path.isfile(self.script) and os.access(self.script, os.X_OK)):
            raise OCFError(OCF.ERR_INSTALLED, f"{self.script} is not an executable here")
        require_user(self.params.user)

    def logfile(self):
        if self.params.logfile:
            return self.params.logfile
        from ocfpy.service import run_path

        return run_path(self.agent.name, self.agent.request.instance, ".log", create=True)

    def environment(self):
        from ocfpy.service import service_environment

        env = service_environment(self.agent.request.environ, self.params.environment)
        env.setdefault("DUCC_HOME", self.home)  # the environment parameter may set its own
        return env

    def start(self, component, timeout):
        """Run ducc.py -c component -b --nodup and wait for it to return."""

        from ocfpy.process import SpawnError, run_to_completion

        argv = [self.script, "-c", component, "-b", "--nodup"]
        try:
            status = run_to_completion(argv, timeout=timeout, log=self.agent.log, cwd=self.home,
                                       user=self.params.user, env=self.environment(),
                                       logfile=self.logfile())
        except SpawnError as exc:
            raise OCFError(OCF.ERR_GENERIC, str(exc)) from None
        if status is None:
            raise OCFError(OCF.ERR_GENERIC, f"ducc.py -c {component} did not return in time "
                                            f"(log: {self.logfile()})")
        if status != 0:
            raise OCFError(OCF.ERR_GENERIC, f"ducc.py -c {component} exited {status} "
                                            f"(log: {self.logfile()})")

    def stop(self, components):
        """SIGTERM (then SIGKILL) every daemon of ours among `components`."""
        import time

        from . import procscan

        found = [identity for identities in running(self.home, components).values()
                 for identity in identities]
        if not found:
            return
        now = time.monotonic()
        left = procscan.stop_all(found, kill_at=now + max(0.0, self.agent.remaining()) / 2,
                                 give_up_at=self.agent.deadline, log=self.agent.log)
        if left:
            raise OCFError(OCF.ERR_GENERIC, f"DUCC processes {left} survived SIGKILL")
