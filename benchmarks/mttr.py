#!/usr/bin/env python3
"""MTTR on real test clusters: killed service and hung service (one node), lost node (three).

    sudo "$VENV"/bin/python3 benchmarks/mttr.py [--runs 3] [--monitor 2] [--token 3000]

(VENV: the virtual environment dev/bootstrap.sh made, which has this checkout installed.)

Each scenario runs `ocfgen drill` (ocfpy.generators.live.drill) --runs times against a resource of
the daemon agent (ocfpy.testbed.services) and prints the median time until Pacemaker reports it
running again, next to the target and their ratio (< 1 meets it):
- killed service: monitor interval + 1 s (issue 3);
- lost node, with fencing (stonith-enabled, fence_ipmilan against the node's simulated BMC):
  the node is cut off the cluster network, the survivors fence it, the resource starts
  elsewhere. Target (issue 12): token + consensus + fencing + start + 3 s, where token is the
  token corosync really runs with (runtime.config.totem.token: the configured token plus
  token_coefficient per node above two), consensus corosync's (1.2 * token unless set),
  fencing is measured (from the node seen lost until the fencer reports success) and so is
  the start (its exec-time). Measured twice: the resource on a node that is not the DC, and on
  the DC (whose loss adds a Pacemaker election and join). Columns: seen = the node seen lost,
  fenced = its BMC switched it off, confirmed = the fencer reported success;
- hung service: no target is set; the reference is what the design allows: depth-10 monitor
  interval + the health check's 1 s timeout + kill_after 1 s + 1 s;
- hung IOC: an EPICS soft IOC under procServ (epics-ioc agent, its default shutdown_timeout
  of 10 s) whose IOC process is SIGSTOPped; target depth-10 monitor interval + 5 s (issue 15):
  the stop finds the IOC stopped and goes straight to signals instead of typing on its console
  and waiting shutdown_timeout for an exit a stopped process cannot read.
"""

import argparse
import statistics
import sys
import time

from ocfpy.generators.live.drill import run_drill
from ocfpy.testbed import Cluster, services


def runtime_token(cluster, key="token"):
    out = cluster.run(cluster.nodes[0], ["corosync-cmapctl", "-g", f"runtime.config.totem.{key}"])
    return int(out.stdout.rsplit("=", 1)[1])


def place(cluster, resource, on_dc):
    """Move `resource` onto the DC (on_dc) or onto another node, and leave it there."""
    status = cluster.status()
    where = status.where(resource)
    if (where == [status.dc]) == on_dc:
        return
    target = status.dc if on_dc else next(n for n in cluster.nodes if n != status.dc)
    cluster.run(status.dc, ["crm_resource", "--resource", resource, "--move", "--node", target])
    cluster.wait_until(lambda: cluster.where(resource) == [target], 60, f"{resource} on {target}")
    cluster.run(status.dc, ["crm_resource", "--resource", resource, "--clear"])


def measure(cluster, resource, scenario, runs, settle, on_dc=None, pidfile=None):
    results = []
    for index in range(runs):
        if index:
            time.sleep(settle)
        if on_dc is not None:
            place(cluster, resource, on_dc)
        result = run_drill(cluster, resource, scenario, timeout=120, pidfile=pidfile)
        print(f"  {result.line()}", flush=True)
        if result.seconds is None:
            sys.exit(f"{scenario}: {resource} did not recover")
        results.append(result)
    return results


def measure_hung_ioc(cluster, args):
    """The hung-IOC scenario: SIGSTOP to the IOC process (not procServ); [] when no IOC can run
    here (procServ or pythonSoftIOC missing), said on the output."""
    import os
    import tempfile

    from ocfpy.testbed.demo import ioc_available

    missing = ioc_available()
    if missing:
        print(f"hung IOC: skipped, {missing}", flush=True)
        return []
    resource = services.epics_ioc("mttr-ioc", tempfile.mkdtemp(prefix="mttr-ioc-"),
                                  deep_monitor=f"{args.deep_monitor}s")
    del resource["params"]["shutdown_timeout"]  # the agent's default, 10 s, as sites run it
    cluster.create_resource(**resource, timeout=90)
    ioc_pidfile = f"/run/ocfpy/epics-ioc/{resource['id']}.pid.ioc"
    try:
        return measure(cluster, resource["id"], "hang", args.runs, args.deep_monitor + 1,
                       pidfile=ioc_pidfile)
    finally:
        cluster.delete_resource(resource["id"])
        print(f"  (IOC boot tree {os.path.dirname(resource['params']['logfile'])})", flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def row(name, nodes, settings, results, target, target_label):
    mttr = median(r.seconds for r in results)
    seen = median(r.detected for r in results)
    print(f"{name:<15} {nodes:>5} {settings:<36} {len(results):>4} {mttr:>8.2f} s "
          f"{seen:>6.2f} s {target:>7.2f} s {mttr / target:>6.2f}  {target_label}")


def fencing_rows(name, results, token_ms, consensus_ms):
    """The lost-node breakdown: detection, fencing, start, each measured, and the target."""
    seen = median(r.detected for r in results)
    fenced = median(r.fenced for r in results)
    confirmed = median(r.fence_done for r in results)
    fencing = median(r.fence_done - r.detected for r in results
                     if r.fence_done is not None and r.detected is not None)
    start = median(r.start_seconds for r in results)
    mttr = median(r.seconds for r in results)
    target = token_ms / 1000 + consensus_ms / 1000 + fencing + start + 3
    print(f"{name:<15} {len(results):>4} {seen:>7.2f} {fenced:>7.2f} {confirmed:>9.2f} "
          f"{fencing:>8.2f} {start:>6.2f} {mttr:>7.2f} {target:>7.2f} {mttr / target:>6.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--monitor", type=int, default=2, help="monitor interval, seconds")
    parser.add_argument("--deep-monitor", type=int, default=3,
                        help="depth-10 monitor interval, seconds (hang detection)")
    parser.add_argument("--token", type=int, default=3000, help="corosync token, ms")
    parser.add_argument("--token-coefficient", type=int, default=None,
                        help="corosync token_coefficient, ms (default: corosync's, 650)")
    args = parser.parse_args()

    with Cluster(nodes=1, token=args.token) as one:
        print(f"single-node cluster up in {one.startup_seconds:.1f} s", flush=True)
        one.create_resource(**services.web("mttr-web", monitor=f"{args.monitor}s",
                                           deep_monitor=f"{args.deep_monitor}s"))
        killed = measure(one, "mttr-web", "kill", args.runs, args.deep_monitor + 1)
        hung = measure(one, "mttr-web", "hang", args.runs, args.deep_monitor + 1)
        hung_ioc = measure_hung_ioc(one, args)
    with Cluster(nodes=3, token=args.token, token_coefficient=args.token_coefficient) as three:
        print(f"three-node cluster up in {three.startup_seconds:.1f} s", flush=True)
        token_ms = runtime_token(three)
        consensus_ms = runtime_token(three, "consensus")
        three.create_resource(**services.sleeper("mttr-node", monitor=f"{args.monitor}s"))
        lost = measure(three, "mttr-node", "node", args.runs, 2, on_dc=False)
        lost_dc = measure(three, "mttr-node", "node", args.runs, 2, on_dc=True)

    print()
    print(f"{'scenario':<15} {'nodes':>5} {'settings':<36} {'runs':>4} {'MTTR':>10} "
          f"{'seen':>8} {'target':>9} {'ratio':>6}")
    row("killed service", 1, f"monitor {args.monitor} s", killed, args.monitor + 1,
        "monitor interval + 1 s")
    row("hung service", 1, f"depth-10 monitor {args.deep_monitor} s", hung,
        args.deep_monitor + 3, "depth-10 interval + 1 s check + 1 s kill_after + 1 s")
    if hung_ioc:
        row("hung IOC", 1, f"depth-10 monitor {args.deep_monitor} s", hung_ioc,
            args.deep_monitor + 5, "depth-10 interval + 5 s")
    token = (f"token {token_ms} ms (conf {args.token}"
             f"{'' if args.token_coefficient is None else '/' + str(args.token_coefficient)})")
    print("\nMTTR: median seconds from the fault to crm_mon reporting the resource running "
          "again; seen: until crm_mon first showed the fault; ratio = MTTR / target.")
    print(f"\nlost node with fencing (stonith-enabled, fence_ipmilan -> ipmi_sim BMC), {token}, "
          f"consensus {consensus_ms} ms; seconds from the cut, medians:")
    print(f"{'scenario':<15} {'runs':>4} {'seen':>7} {'fenced':>7} {'confirmed':>9} "
          f"{'fencing':>8} {'start':>6} {'MTTR':>7} {'target':>7} {'ratio':>6}")
    fencing_rows("lost node", lost, token_ms, consensus_ms)
    fencing_rows("lost DC node", lost_dc, token_ms, consensus_ms)
    print("seen: node seen lost (about token + consensus); fenced: its BMC switched it off; "
          "confirmed: the fencer reported success; fencing = confirmed - seen; start: the "
          "start's exec-time; target = token + consensus + fencing + start + 3 s.")


if __name__ == "__main__":
    main()
