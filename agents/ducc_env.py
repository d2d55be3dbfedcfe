"""What the DUCC agents share: DUCC_HOME, starting a component with DUCC's ducc.py, and finding
the running daemons by the marks DUCC puts on their command lines.

DUCC starts each daemon as `$DUCC_HOME/admin/ducc.py -c <component> -b --nodup`; the daemons are
java processes carrying -Dducc.deploy.components=<rm|pm|sm|orchestrator|ws|agent>, the broker
carries -DDUCC_BROKER_CREDENTIALS_FILE= and the database ends with CassandraDaemon. A process
belongs to this DUCC_HOME when one of its arguments names a path under it.
"""

from ocfpy.codes import OCF, OCFError
from ocfpy.params import Parameter, absolute_path, environment_assignments
from ocfpy.safefile import absolute

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
# How DUCC's admin scripts (python2) end, in words: 1 is their usage/refusal exit, the others
# come from the interpreter or the shell that runs them.
EXIT_MEANINGS = {
    1: "refused (usage, bad arguments or a node check)",
    2: "python could not run the script",
    126: "not executable",
    127: "interpreter not found (DUCC's admin scripts need python2)",
}


def exit_meaning(status):
    """What an exit status of DUCC's admin scripts means, in words."""
    if status < 0:
        return f"killed by signal {-status}"
    return EXIT_MEANINGS.get(status, f"unexpected exit status {status}")


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


def _belongs(argv, home, components):
    """Whether argv is one of `components`' daemons of the DUCC_HOME `home`."""
    return any(_mentions_home(word, home) for word in argv) and any(
        _is(component, argv) for component in components)


def running(ducc_home, components):
    """{component: [Identity]} of this DUCC_HOME's daemons among `components`; ducc_home as
    DuccEnvironment.home holds it (normalized)."""
    from . import procscan

    wanted = tuple(components)
    found = {component: [] for component in wanted}
    for identity, argv in procscan.with_arguments(lambda argv: _belongs(argv, ducc_home, wanted)):
        for component in wanted:
            if _is(component, argv):
                found[component].append(identity)
                break
    return found


def still_running(ducc_home, component, identity):
    """Whether the process `identity` (found by running() earlier) lives and is still that
    component's daemon: two /proc reads instead of a scan. ducc_home as for running()."""
    from ocfpy.identity import arguments

    if not identity.alive():
        return False
    argv = arguments(identity.pid)
    return bool(argv) and _belongs(argv, ducc_home, (component,)) and \
        identity.alive()


class DuccEnvironment:
    def __init__(self, agent):
        self.agent = agent
        self.params = agent.params
        # Empty only with an invalid configuration, which dispatch handles before any action.
        home = self.params.ducc_home
        self.home = absolute(home) if home else ""  # normalized: it is matched in command lines
        self.script = f"{self.home}/admin/ducc.py"

    def validate(self):
        import os

        from ocfpy.nodecheck import require_directory, require_user

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
            status, lines = run_to_completion(argv, timeout=timeout, log=self.agent.log,
                                              cwd=self.home, user=self.params.user,
                                              env=self.environment(), logfile=self.logfile())
        except SpawnError as exc:
            raise OCFError(OCF.ERR_GENERIC, str(exc)) from None
        said = f": {lines[-1][:200]}" if lines else ""
        if status is None:
            raise OCFError(OCF.ERR_GENERIC, f"ducc.py -c {component} did not return in time"
                                            f"{said} (log: {self.logfile()})")
        if status != 0:
            raise OCFError(OCF.ERR_GENERIC, f"ducc.py -c {component}: {exit_meaning(status)} "
                                            f"(exit {status}, log {self.logfile()}){said}")

    def stop(self, components):
        """DUCC's own orderly shutdown first, then signals, all inside the stop timeout.

        A node agent ("ag") is quiesced first, as `stop_ducc -q -c agent@HOST` does (when
        DUCC_HOME/admin/stop_ducc exists), and gets up to a quarter of the time for the work it
        runs to finish. Every daemon then gets SIGINT, what `stop_ducc -c COMPONENT@HOST` sends
        (DUCC's shutdown hook), and up to half of what is left; whatever outlives it gets
        SIGTERM, then SIGKILL. A daemon that cannot act on a request (stopped, state T) goes
        straight to the signals.
        """
        import signal
        import time

        from ocfpy import wait
        from ocfpy.process import STOPPED_GRACE, cannot_obey

        from . import procscan

        found = running(self.home, components)
        daemons = [identity for identities in found.values() for identity in identities]
        hung = [identity for identity in daemons if cannot_obey(identity)]
        if hung:
            self.agent.log.warning(f"DUCC daemons {[i.pid for i in hung]} are stopped (state T): "
                                   "straight to signals")
            now = time.monotonic()
            procscan.stop_all(hung, kill_at=now + min(STOPPED_GRACE, self.agent.remaining() / 4),
                              give_up_at=self.agent.deadline, log=self.agent.log)
        if found.get("ag") and not any(i in hung for i in found["ag"]):
            self._quiesce_agent(found["ag"])
        polite = [identity for identity in daemons if identity not in hung]
        if polite:
            self.agent.log.info(f"asking DUCC daemons {[i.pid for i in polite]} to shut down "
                                f"(SIGINT, as stop_ducc does)")
            procscan.signal_all(polite, signal.SIGINT)
            wait.within(lambda: not any(i.alive() for i in polite), self.agent.remaining() / 2)
        left = [identity for identity in daemons if identity.alive()]
        if not left:
            return
        now = time.monotonic()
        left = procscan.stop_all(left, kill_at=now + max(0.0, self.agent.remaining()) / 2,
                                 give_up_at=self.agent.deadline, log=self.agent.log)
        if left:
            raise OCFError(OCF.ERR_GENERIC, f"DUCC processes {left} survived SIGKILL")

    def _quiesce_agent(self, agents):
        """stop_ducc -q -c agent@HOST, then wait (a quarter of the time left at most) until the
        agent runs no work (no child process). A failed quiesce is a warning: signals follow."""
        import os
        import time

        from ocfpy import wait
        from ocfpy.process import SpawnError, run_to_completion

        stop_ducc = f"{self.home}/admin/stop_ducc"
        if not os.access(stop_ducc, os.X_OK):
            return
        budget = max(0.0, self.agent.remaining()) / 4
        until = time.monotonic() + budget
        node = os.uname().nodename
        argv = [stop_ducc, "-q", "-c", f"agent@{node}"]
        try:
            status, lines = run_to_completion(argv, timeout=budget, log=self.agent.log,
                                              cwd=self.home, user=self.params.user,
                                              env=self.environment(), logfile=self.logfile())
        except SpawnError as exc:
            self.agent.log.warning(f"cannot quiesce the DUCC agent ({exc}); stopping it")
            return
        if status != 0:
            how = "timed out" if status is None else exit_meaning(status)
            said = f": {lines[-1]}" if lines else ""
            self.agent.log.warning(f"stop_ducc -q {how}{said}; stopping the agent without it")
            return
        self.agent.log.info(f"quiesced the DUCC agent on {node}")
        wait.until(lambda: not any(_children(i) for i in agents), until, 0.1)


def _children(identity):
    """Pids of the live children of a process (the work a DUCC agent runs)."""
    from ocfpy.identity import all_stats

    if not identity.alive():
        return []
    return [stat.pid for stat in all_stats() if stat.ppid == identity.pid and stat.alive]


