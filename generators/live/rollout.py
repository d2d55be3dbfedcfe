"""ocfgen rollout: change the cluster's nodes one at a time (an upgrade of the agents, of the
facility software, of the OS) without taking any service down for longer than a failover.

For each node, in order:
1. standby (`crm_attribute --node N --name standby --update on`), and wait until nothing runs
   on it and every resource that ran before runs elsewhere;
2. run the command on it (`sh -c COMMAND` through the runner: ssh by default);
3. leave standby, and wait until the cluster is healthy again within the bound: Pacemaker has
   settled (`crm_resource --wait`), the node is online, every resource that ran before the
   rollout runs (as many instances as before) and there are no failed actions.
The first failure stops the rollout: the node stays (or is put back) in standby, so nothing
runs on a node whose change failed, and the reason is printed. Before it starts, the cluster
must be healthy (quorum, every node to change online and not in standby, no failed actions):
a rollout never hides an earlier problem.

Cluster commands (crm_mon, crm_attribute, crm_resource) run through the same runner on a node
other than the one being changed. Every rollout, with its outcome, is appended to the
operations history (generators/live/ophistory.py), so `ocfgen report` prints the change failure
rate beside the MTTR.
"""

import time
from collections import Counter
from dataclasses import dataclass, field

from ocfpy import wait
from ocfpy.runners import RunnerError

POLL_SECONDS = 1.0


class RolloutFailed(Exception):
    """This step failed; the message says why (one line)."""


@dataclass
class Snapshot:
    quorum: bool
    online: set
    standby: set
    running: Counter                      # resource id -> running instances
    on_node: dict                         # node -> resource ids active there
    failures: list = field(default_factory=list)
    nodes: set = field(default_factory=set)  # every node crm_mon lists (remote nodes too)


class Rollout:
    def __init__(self, runner, command, *, nodes=None, timeout=300.0, command_timeout=1800.0,
                 echo=print):
        self.runner = runner
        self.command = command
        self.requested = list(nodes or ())
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.echo = echo
        self.done = []

    # ---- cluster state ------------------------------------------------------------------

    def control(self, target, argv, timeout=60):
        """Run a cluster command on a node other than `target` (any node if None)."""
        others = [n for n in self.all_nodes if n != target] or self.all_nodes
        last = None
        for node in others:
            try:
                done = self.runner.run(node, argv, timeout=timeout)
            except RunnerError as exc:
                last = str(exc)
                continue
            if done.returncode == 0 or argv[0] != "crm_mon":
                return done
            last = f"{node}: crm_mon exited with {done.returncode}: {done.stderr.strip()}"
        raise RolloutFailed(f"no node answered {argv[0]}: {last}")

    def snapshot(self, target=None):
        from ocfpy.crmstatus import StatusError, parse

        done = self.control(target, ["crm_mon", "-1", "--output-as=xml"])
        try:
            status = parse(done.stdout)
        except StatusError as exc:
            raise RolloutFailed(f"crm_mon: {exc}") from None
        running, on_node = Counter(), {}
        for instance in status.instances:
            if instance.running:
                running[instance.id] += len(instance.nodes)
            if instance.active:
                for node in instance.nodes:
                    on_node.setdefault(node, set()).add(instance.id)
        failures = [op.summary() for op in status.failures]
        return Snapshot(status.quorum, set(status.online), status.standby, running, on_node, failures,
                        set(status.nodes))

    def wait(self, target, what, check):
        """Poll until check(snapshot) returns None (fine); RolloutFailed with its last answer
        (why not) after the bound."""
        deadline = time.monotonic() + self.timeout
        settle = ["crm_resource", "--wait", f"--timeout={max(1, int(self.timeout))}s"]
        self.control(target, settle, timeout=self.timeout + 30)
        problems = []

        def fine():
            problems.append(check(self.snapshot(target)))
            return problems[-1] is None

        if not wait.until(fine, deadline, POLL_SECONDS):
            raise RolloutFailed(f"{what} within {self.timeout:.0f} s: {problems[-1]}")

    def standby(self, node, on):
        argv = ["crm_attribute", "--node", node, "--name", "standby", "--update",
                "on" if on else "off"]
        done = self.control(node, argv)
        if done.returncode != 0:
            raise RolloutFailed(f"{' '.join(argv)} exited with {done.returncode}: "
                                f"{done.stderr.strip()}")

    # ---- checks -------------------------------------------------------------------------

    def drained(self, node):
        def check(now):
            left = sorted(now.on_node.get(node, ()))
            if left:
                return f"still active on {node}: {', '.join(left)}"
            lost = sorted(r for r in self.before.running if not now.running[r])
            if lost:
                return f"not running anywhere else: {', '.join(lost)}"
            return None
        return check

    def healthy(self, node):
        def check(now):
            if not now.quorum:
                return "the cluster has no quorum"
            if node not in now.online:
                return f"{node} is not online"
            if node in now.standby:
                return f"{node} is still in standby"
            if now.failures:
                return f"failed actions: {'; '.join(now.failures)}"
            short = sorted(r for r, count in self.before.running.items()
                           if now.running[r] < count)
            if short:
                return f"not running as before: {', '.join(short)}"
            return None
        return check

    # ---- the rollout ----------------------------------------------------------------------

    def preflight(self, nodes_known):
        self.all_nodes = list(nodes_known)
        self.before = self.snapshot()
        targets = self.requested or sorted(self.all_nodes)
        problems = []
        if not self.before.quorum:
            problems.append("the cluster has no quorum")
        known = set(self.all_nodes) | self.before.nodes
        unknown = [n for n in targets if n not in known]
        if unknown:
            raise RolloutFailed(f"not nodes of this cluster: {', '.join(unknown)} (nodes: "
                                f"{', '.join(sorted(known))})")
        problems += [f"{n} is offline" for n in targets if n not in self.before.online]
        problems += [f"{n} is in standby" for n in targets if n in self.before.standby]
        if self.before.failures:
            problems.append(f"failed actions: {'; '.join(self.before.failures)} (clean them "
                            f"up first: crm_resource --cleanup)")
        if problems:
            raise RolloutFailed("the cluster is not healthy before the rollout: "
                                + "; ".join(problems))
        self.targets = targets
        return targets

    def node(self, node):
        began = time.monotonic()
        self.echo(f"{node}: standby")
        self.standby(node, True)
        self.wait(node, f"{node}'s resources did not move away", self.drained(node))
        self.echo(f"{node}: running {self.command!r}")
        try:
            done = self.runner.run(node, ["sh", "-c", self.command],
                                   timeout=self.command_timeout)
        except RunnerError as exc:
            raise RolloutFailed(f"the command did not run: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
            raise RolloutFailed(f"the command exited with {done.returncode}"
                                + (f": {tail[0]}" if tail else ""))
        self.echo(f"{node}: leaving standby")
        self.standby(node, False)
        try:
            self.wait(node, f"the cluster was not healthy again after {node} left standby",
                      self.healthy(node))
        except RolloutFailed:
            self.standby(node, True)  # nothing stays on a node whose change broke something
            raise
        self.echo(f"{node}: done in {time.monotonic() - began:.1f} s")
        self.done.append(node)


def run_rollout(runner, command, nodes_known, *, nodes=None, timeout=300.0,
                command_timeout=1800.0, history=None, echo=print):
    """Roll `command` over the nodes; (outcome "success"/"failed", failed node, reason). Every
    rollout that got past the health check before it is appended to the history."""
    from .ophistory import record_rollout

    rollout = Rollout(runner, command, nodes=nodes, timeout=timeout,
                      command_timeout=command_timeout, echo=echo)
    began = time.time()
    rollout.preflight(nodes_known)  # refused: not a change, not in the history
    failed, reason = None, ""
    for node in rollout.targets:
        try:
            rollout.node(node)
        except (RolloutFailed, RunnerError) as exc:
            failed, reason = node, str(exc)
            break
        except KeyboardInterrupt:
            failed, reason = node, "interrupted"
            break
    outcome = "failed" if failed else "success"
    record_rollout(history, outcome, command=command, nodes=rollout.targets,
                   completed=rollout.done, failed_node=failed, reason=reason,
                   seconds=round(time.time() - began, 3), time=began)
    return outcome, failed, reason


def cluster_nodes(runner, node=None):
    """Node names of the cluster as `node` (None: this host) sees them (crm_node -l)."""
    done = runner.run(node, ["crm_node", "-l"], timeout=30)
    if done.returncode != 0:
        raise RolloutFailed(f"crm_node -l failed: {done.stderr.strip() or done.stdout.strip()}")
    return [line.split()[1] for line in done.stdout.splitlines() if len(line.split()) >= 2]
