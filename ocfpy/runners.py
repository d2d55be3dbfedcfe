"""How ocfpy runs a command on a cluster node (ocfgen rollout, ocfpy-ioc):
`run(node, argv, timeout)` -> CompletedProcess (text, stdout/stderr captured), or
`command(node, argv)`, the argv that runs it there (for a command that keeps the terminal).
argv is a list, never a shell line; a runner that must pass it through a remote shell (ssh)
quotes it word by word.

- SshRunner (the default): `ssh -o BatchMode=yes NODE -- 'quoted argv'`, as root or the user
  ssh is configured for; the node name is the ssh destination (ssh_config maps it).
- LocalRunner: this host, whatever the node (a one-node cluster, or a test).
- NamespaceRunner: nodes that are namespaces of this host (ocfpy.testbed), entered by the pid
  of a process inside each (`nsenter -t PID -m -u -i -n -p`).
"""

import shlex
import subprocess

from .numbers import is_digits


class RunnerError(Exception):
    """The command could not be run at all (not: it ran and failed); one line why."""


class Runner:
    name = "runner"

    def command(self, node, argv):
        raise NotImplementedError

    def run(self, node, argv, timeout=60):
        full = self.command(node, list(argv))
        try:
            return subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RunnerError(f"{node}: {shlex.join(argv)} did not finish within "
                              f"{timeout:.0f} s") from None
        except OSError as exc:
            raise RunnerError(f"{node}: cannot run {full[0]}: {exc.strerror}") from None


class LocalRunner(Runner):
    name = "local"

    def command(self, node, argv):
        return argv


class SshRunner(Runner):
    name = "ssh"

    def __init__(self, options=()):
        self.options = list(options)

    def command(self, node, argv):
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", *self.options, node,
                "--", shlex.join(argv)]


class NamespaceRunner(Runner):
    name = "nsenter"

    def __init__(self, pids):
        self.pids = dict(pids)

    def command(self, node, argv):
        if node not in self.pids:
            raise RunnerError(f"no namespace pid for node {node} (have "
                              f"{', '.join(sorted(self.pids)) or 'none'})")
        return ["nsenter", "-t", str(self.pids[node]), "-m", "-u", "-i", "-n", "-p", "--wd=/",
                *argv]


def parse_pids(items):
    """{node: pid} from "NODE=PID" strings; ValueError naming the bad one."""
    pids = {}
    for item in items:
        node, _, pid = item.partition("=")
        if not node or not is_digits(pid):
            raise ValueError(f"{item!r} is not NODE=PID")
        pids[node] = int(pid)
    return pids


def make(name, pids=(), ssh_options=()):
    """The runner called `name` (ssh, local, nsenter)."""
    if name == "ssh":
        return SshRunner(ssh_options)
    if name == "local":
        return LocalRunner()
    if name == "nsenter":
        if not pids:
            raise ValueError("the nsenter runner needs --pid NODE=PID for every node")
        return NamespaceRunner(parse_pids(pids))
    raise ValueError(f"unknown runner {name!r} (ssh, local, nsenter)")
