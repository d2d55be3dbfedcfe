"""`ocfgen rollout`: a change made node by node (the rollout itself: live/rollout.py)."""

import click

from ocfpy.runners import RunnerError

from ..errors import BAD_INPUT, FAILED, CommandFailed
from ..live.rollout import RolloutFailed, cluster_nodes, run_rollout
from .run import guarded


@click.command("rollout")
@click.option("--command", "command", required=True,
              help="The change to make on each node, run by sh -c (e.g. \"dnf -y upgrade "
                   "ocfpy\"); exit code 0 means it worked.")
@click.option("--nodes", default=None,
              help="Comma-separated nodes, in this order (default: every node, by name).")
@click.option("--runner", "runner_name", default="ssh", show_default=True,
              type=click.Choice(("ssh", "local", "nsenter")),
              help="How to reach a node: ssh NODE, this host, or a namespace (--pid).")
@click.option("--pid", "pids", multiple=True, metavar="NODE=PID",
              help="For --runner nsenter: a process inside each node's namespaces.")
@click.option("--ssh-option", "ssh_options", multiple=True, help="Extra ssh option (-o ...).")
@click.option("--timeout", default=300.0, show_default=True,
              help="Seconds a node's resources may take to move away, and the cluster to be "
                   "healthy again after it.")
@click.option("--command-timeout", default=1800.0, show_default=True,
              help="Seconds the command may run on one node.")
@click.option("--history", default=None, metavar="FILE",
              help="History log to append the rollout to (default /var/log/ocfpy/history.jsonl).")
@guarded
def cmd(command, nodes, runner_name, pids, ssh_options, timeout, command_timeout, history):
    """Run COMMAND on the cluster's nodes one at a time: standby, command, unstandby, healthy.

    Stops at the first failure and leaves that node in standby. The outcome goes to the
    operations history (ocfgen report prints the change failure rate).
    """
    from ocfpy import runners

    try:
        runner = runners.make(runner_name, pids, ssh_options)
    except ValueError as exc:
        raise CommandFailed(BAD_INPUT, f"rollout: {exc}") from None
    order = [n.strip() for n in nodes.split(",") if n.strip()] if nodes else None
    try:
        if runner_name == "nsenter":
            known = list(runner.pids)
        elif runner_name == "ssh" and order:
            known = cluster_nodes(runner, order[0])
        else:
            known = cluster_nodes(runners.LocalRunner())
        outcome, failed, reason = run_rollout(runner, command, known, nodes=order,
                                              timeout=timeout, command_timeout=command_timeout,
                                              history=history, echo=click.echo)
    except (RolloutFailed, RunnerError) as exc:
        raise CommandFailed(FAILED, f"rollout: {exc}") from None
    except OSError as exc:
        raise CommandFailed(FAILED, f"rollout: cannot record it in the history: "
                                    f"{exc.strerror}") from None
    if failed:
        raise CommandFailed(FAILED, f"rollout: stopped at {failed} (left in standby): {reason}")
    click.echo("rollout: every node done")
