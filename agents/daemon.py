"""ocf:ocfpy:daemon: run any command as a supervised daemon.

Like heartbeat's `anything`, but the command is split into words and executed without a shell,
the pidfile records the process identity (a reused pid is never taken for the service), and stop
escalates from the stop signal to SIGKILL of the whole session inside the stop timeout.
"""

from ocfpy.agent import Agent
from ocfpy.codes import OCF, OCFError
from ocfpy.numbers import PACEMAKER_MAX_MS, PACEMAKER_MAX_S
from ocfpy.params import (
    Parameter,
    absolute_path,
    command_line,
    environment_assignments,
    octal_mode,
    split_words,
)
from ocfpy.service import PidfileService, default_pidfile

STOP_SIGNALS = {"TERM": 15, "INT": 2, "HUP": 1, "QUIT": 3, "USR1": 10, "USR2": 12}


class DaemonAgent(Agent):
    name = "daemon"
    check_levels = (0, 10)  # the OCF_CHECK_LEVEL depths its monitor tells apart
    shortdesc = "Runs a command as a supervised daemon"
    longdesc = (
        "Starts a command in its own session, records its identity (pid, start time, boot) in a "
        "pidfile, monitors that exact process and stops it and everything in its session, first "
        "with the stop signal and then with SIGKILL, inside the stop timeout. The command is "
        "split into words like a shell would but is never run by a shell."
    )
    parameters = (
        Parameter("command", required=True, check=command_line,
                  shortdesc="Command line of the daemon",
                  longdesc="The daemon's command line, run in the foreground (the daemon must "
                           "not fork away). Quoting works as in a shell; nothing is expanded."),
        Parameter("pidfile", unique_group="pidfile", check=absolute_path, default="",
                  shortdesc="Pidfile path",
                  longdesc="Where the process identity is recorded; empty for "
                           "/run/ocfpy/daemon/<instance>.pid. A file there that ocfpy did not "
                           "write is never overwritten or removed."),
        Parameter("cwd", default="/", check=absolute_path,
                  shortdesc="Working directory of the daemon"),
        Parameter("user", default="", shortdesc="User to run the daemon as (empty: root)"),
        Parameter("umask", default="022", check=octal_mode, shortdesc="umask of the daemon"),
        Parameter("environment", default="", check=environment_assignments,
                  shortdesc="Extra environment as NAME=VALUE words",
                  longdesc="Space-separated NAME=VALUE words, quoted as in a shell, added to a "
                           "clean environment (PATH, LANG, LC_ALL and TZ are inherited)."),
        Parameter("logfile", default="/dev/null", check=absolute_path,
                  shortdesc="File that receives the daemon's stdout and stderr (appended)"),
        Parameter("stop_signal", "select", default="TERM", choices=tuple(STOP_SIGNALS),
                  shortdesc="Signal that asks the daemon to stop"),
        Parameter("kill_after", "integer", default="0", minimum=0, maximum=PACEMAKER_MAX_S,
                  reloadable=True,
                  shortdesc="Seconds before SIGKILL follows the stop signal",
                  longdesc="Seconds to wait after the stop signal before SIGKILL; 0 waits half "
                           "of the stop timeout."),
        Parameter("start_settle", "integer", default="500", minimum=0,
                  maximum=PACEMAKER_MAX_MS, reloadable=True,
                  shortdesc="Milliseconds the daemon must stay up for start to succeed"),
        Parameter("monitor_command", default="", check=command_line, reloadable=True,
                  shortdesc="Health check for OCF_CHECK_LEVEL 10 and up",
                  longdesc="A command run (without a shell) by monitors of depth 10 or more, "
                           "as the daemon's user, in its cwd, with its environment and umask; "
                           "a non-zero exit or running past the monitor timeout is a failure, "
                           "reported with the last line it printed."),
    )

    def __init__(self, request, log):
        super().__init__(request, log)
        path = self.params.pidfile or default_pidfile(self.name, request.instance)
        self.service = PidfileService(path, log)

    def _argv_and_env(self):
        from ocfpy.service import service_environment

        env = service_environment(self.request.environ, self.params.environment)
        return split_words(self.params.command), env

    def validate(self):
        import os

        from ocfpy.nodecheck import require_directory, require_user
        from ocfpy.service import find_executable

        argv, env = self._argv_and_env()
        if find_executable(argv[0], env["PATH"]) is None:
            raise OCFError(OCF.ERR_INSTALLED,
                           f"command {argv[0]!r} is not an executable on this node")
        require_directory(self.params.cwd, "cwd")
        require_user(self.params.user)
        log_dir = os.path.dirname(self.params.logfile)
        if not os.path.isdir(log_dir):
            raise OCFError(OCF.ERR_INSTALLED, f"logfile directory {log_dir} does not exist")
        self.service.check_usable()

    def start(self):
        argv, env = self._argv_and_env()
        self.service.launch(
            self, argv, settle=self.params.start_settle / 1000.0, cwd=self.params.cwd,
            umask=int(self.params.umask, 8), user=self.params.user, env=env,
            logfile=self.params.logfile,
        )

    def start_failure_hint(self):
        return f" (log: {self.params.logfile})"

    def stop(self):
        self.service.terminate(self, stop_signal=STOP_SIGNALS[self.params.stop_signal],
                               kill_after=self.params.kill_after)

    def monitor(self):
        if self.service.leader() is None:
            return OCF.NOT_RUNNING
        if self.request.check_level >= 10 and self.params.monitor_command:
            self._health_check()
        return OCF.SUCCESS

    def _health_check(self):
        """monitor_command as the daemon's user, in its cwd, with its environment and umask,
        within the time left; its last output lines are logged, the last one is the reason."""
        from ocfpy.command import SpawnError, run

        argv = split_words(self.params.monitor_command)
        _, env = self._argv_and_env()
        budget = max(0.5, self.remaining())
        try:
            finished = run(argv, timeout=budget, log=self.log, cwd=self.params.cwd,
                           umask=int(self.params.umask, 8), user=self.params.user, env=env)
        except SpawnError as exc:
            raise OCFError(OCF.ERR_GENERIC, f"monitor_command cannot run: {exc}") from None
        if finished.status != 0:
            how = (f"did not answer within {budget:.1f}s" if finished.status is None
                   else finished.how)
            said = f": {finished.gist}" if finished.gist else ""
            raise OCFError(OCF.ERR_GENERIC, f"monitor_command {how}{said}")

    def reload_agent(self):
        # Every reloadable parameter is read afresh by each operation: nothing to apply.
        return OCF.SUCCESS


def main():
    import sys

    sys.exit(DaemonAgent.main())


if __name__ == "__main__":
    main()
