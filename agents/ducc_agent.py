"""ocf:ocfpy:ducc-agent: the per-node DUCC agent daemon (ducc.py -c ag).

Started with DUCC_HOME/admin/ducc.py -c ag -b --nodup like DUCC's own start_ducc does on each
worker node, recognised by -Dducc.deploy.components=agent on its command line (and a path under
DUCC_HOME), stopped with SIGTERM and then SIGKILL inside the stop timeout.
"""

from ocfpy.agent import Agent
from ocfpy.codes import OCF
from ocfpy.service import run_path

from . import ducc_env

COMPONENT = "ag"


class DuccAgentAgent(Agent):
    name = "ducc-agent"
    check_levels = (0,)  # the OCF_CHECK_LEVEL depths its monitor tells apart
    shortdesc = "The DUCC agent daemon of one node"
    longdesc = (
        "Runs the node's DUCC agent through DUCC_HOME/admin/ducc.py -c ag -b --nodup and "
        "monitors the agent process by the -Dducc.deploy.components=agent mark DUCC puts on its "
        "command line. Run it as a clone on the worker nodes."
    )
    parameters = ducc_env.parameters()
    timeouts = dict(Agent.timeouts, start=60, stop=60)

    def __init__(self, request, log):
        super().__init__(request, log)
        self.ducc = ducc_env.DuccEnvironment(self)

    def validate(self):
        self.ducc.validate()

    def start(self):
        self.ducc.start(COMPONENT, self.remaining())

    def stop(self):
        from ocfpy import pidfile

        self.ducc.stop((COMPONENT,))
        pidfile.remove(self._found_path())

    def monitor(self):
        """The agent process found last time is checked first (two /proc reads while it
        lives); only when it is gone is /proc scanned, and what is found recorded."""
        from ocfpy import pidfile

        path = self._found_path()
        try:
            known = pidfile.read(path)
        except pidfile.ForeignFileError as exc:
            self.log.warning(f"{exc}: scanning /proc")
            known = None
        if known is not None and ducc_env.still_running(self.ducc.home, COMPONENT, known):
            return OCF.SUCCESS
        found = ducc_env.running(self.ducc.home, (COMPONENT,))[COMPONENT]
        if not found:
            return OCF.NOT_RUNNING
        try:
            pidfile.write(run_path(self.name, self.request.instance, ".found", create=True),
                          found[0])
        except (OSError, pidfile.ForeignFileError) as exc:
            self.log.warning(f"cannot record the agent process in {path}: {exc}")
        return OCF.SUCCESS

    def _found_path(self):
        return run_path(self.name, self.request.instance, ".found")


def main():
    import sys

    sys.exit(DuccAgentAgent.main())


if __name__ == "__main__":
    main()
