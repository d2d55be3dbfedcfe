"""`ocfgen drill`: break a resource (or check a node's fencing) and print the time to recovery
(the drill itself: live/drill.py)."""

import time

import click

from ..errors import BAD_INPUT, FAILED, CommandFailed
from ..live.drill import SCENARIOS, DrillError, LocalCluster, check_fencing, fence_node, run_drill
from .run import guarded


@click.command("drill")
@click.argument("resource")
@click.option("--scenario", "scenarios", multiple=True,
              type=click.Choice(SCENARIOS + ("fence",)),
              help="kill (SIGKILL), hang (SIGSTOP) or node; repeatable (default: kill). "
                   "fence: RESOURCE is a node; check every device that can fence it.")
@click.option("--fence", "really_fence", is_flag=True,
              help="With --scenario fence: then really fence the node (it is powered off).")
@click.option("--timeout", default=120.0, show_default=True,
              help="Seconds to wait for the resource to run again.")
@click.option("--pidfile", default=None, metavar="FILE",
              help="The service's ocfpy pidfile, if not the agent's default "
                   "/run/ocfpy/<agent>/<resource>.pid.")
@click.option("--settle", default=10.0, show_default=True,
              help="Seconds to wait between scenarios (the monitor's first run after a restart).")
@click.option("--history", "history", default=None, metavar="FILE",
              help="Also record each result in this operations history (JSON lines, as the "
                   "ocfpy alert agent writes; `ocfgen report` reads it), e.g. "
                   "/var/log/ocfpy/history.jsonl.")
@guarded
def cmd(resource, scenarios, really_fence, timeout, pidfile, settle, history):
    """Break RESOURCE on this cluster node and print the time until it runs again (MTTR).

    Run it on the node where RESOURCE is active (kill and hang act on local processes). The
    hang scenario needs a depth-10 monitor (op instance attribute OCF_CHECK_LEVEL=10).

    `ocfgen drill NODE --scenario fence` checks that NODE can be fenced: each fence device
    that can fence it is asked for its status (run it on another node). Nothing is fenced
    unless --fence is given too.
    """
    if "fence" in scenarios:
        if len(scenarios) > 1:
            raise CommandFailed(BAD_INPUT, "drill: --scenario fence takes a node and goes alone")
        return _fence_command(resource, really_fence, timeout)
    if really_fence:
        raise CommandFailed(BAD_INPUT, "drill: --fence goes with --scenario fence")
    try:
        cluster = LocalCluster()
        results = []
        for index, scenario in enumerate(scenarios or ("kill",)):
            if index:
                time.sleep(settle)
            result = run_drill(cluster, resource, scenario, timeout=timeout, pidfile=pidfile)
            click.echo(result.line())
            results.append(result)
            if history:
                from ..live.ophistory import record_drill

                try:
                    record_drill(result, history, fault_time=result.fault_time)
                except OSError as exc:
                    raise CommandFailed(FAILED, f"drill: cannot record in {history}: "
                                                f"{exc.strerror or exc}") from None
    except DrillError as exc:
        raise CommandFailed(FAILED, f"drill: {exc}") from None
    if any(r.seconds is None for r in results):
        raise CommandFailed(FAILED)


def _fence_command(node, really_fence, timeout):
    try:
        cluster = LocalCluster()
        if node == cluster.local:
            raise DrillError(f"{node} is this node: check (and fence) it from another node")
        results = check_fencing(cluster, node)
        for device, ok, detail in results:
            click.echo(f"fence {node}: device {device}: "
                       + (f"ok ({detail})" if ok else f"FAILED: {detail}"))
        if really_fence:
            ok, detail = fence_node(cluster, node, timeout=timeout)
            click.echo(f"fence {node}: {'fenced' if ok else 'NOT fenced: ' + detail}")
            if not ok:
                raise CommandFailed(FAILED)
    except DrillError as exc:
        raise CommandFailed(FAILED, f"drill: {exc}") from None
    if not all(ok for _, ok, _ in results):
        raise CommandFailed(FAILED)
