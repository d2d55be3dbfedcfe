"""The README's main job: a real local Pacemaker cluster running ocfpy resources, a failover
drill with its measured recovery times, then teardown. Run by `sudo dev/demo.sh`.

Three namespace nodes (ocfpy.testbed) start from a corosync.conf rendered by ocfgen's
generator. The service set is a group `controls`: an EPICS soft IOC under procServ
(ocf:ocfpy:epics-ioc, health read over Channel Access at monitor depth 10) and a small HTTP
status service (ocf:ocfpy:daemon with a health check). Without the epics-ioc agent, pythonSoftIOC
or procServ, the group holds the daemon service alone and the demo says so. The drill then kills
the service, hangs it and takes its node away, and prints the MTTR of each.
"""

import argparse
import os
import shutil
import sys
import time

from ocfpy.generators.drill import DrillError, run_drill

from . import services
from .cluster import Cluster, TestbedError, leftovers


def say(text=""):
    print(text, flush=True)


def ioc_available():
    """Why the EPICS IOC cannot be part of the demo here, or None when it can."""
    from ocfpy import catalogue

    if "epics-ioc" not in catalogue.AGENTS:
        return "this ocfpy has no epics-ioc agent"
    if shutil.which("procServ") is None:
        return "procServ is not installed"
    try:
        import softioc  # noqa: F401
    except ImportError:
        return "pythonSoftIOC (softioc) is not installed in this Python"
    return None


def group_xml(group, members):
    return f'<group id="{group}">' + "".join(
        Cluster.primitive_xml(m["id"], m["agent"], m.get("params"), m.get("monitor"),
                              m.get("ops", ())) for m in members) + "</group>"


def main(argv=None):
    parser = argparse.ArgumentParser(description="ocfpy demo: cluster, services, failover drill")
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=3)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("demo: run as root (sudo dev/demo.sh)")
    began = time.monotonic()
    say(f"== 1. A {args.nodes}-node Corosync + Pacemaker cluster in network namespaces")
    with Cluster(nodes=args.nodes) as cluster:
        say(f"up with quorum and a DC in {cluster.startup_seconds:.1f} s; corosync.conf (made "
            f"by ocfpy.generators.corosync, authkey 0400 from os.urandom, never shown):")
        say("    " + cluster.read_file("node1", "/etc/corosync/corosync.conf")
            .replace("\n", "\n    ").rstrip())

        say("== 2. The service set, configured through the toolkit")
        missing = ioc_available()
        members = []
        if missing is None:
            ioc = services.epics_ioc("ioc-demo", os.path.join(cluster.dir, "ioc"))
            members.append(ioc)
            say("  ioc-demo     ocf:ocfpy:epics-ioc  soft IOC DEMO under procServ, heartbeat "
                "DEMO:HEARTBEAT read over Channel Access at monitor depth 10")
        else:
            say(f"  (no EPICS IOC in this demo: {missing}; the daemon agent stands in)")
        members.append(services.web("status-web"))
        say("  status-web   ocf:ocfpy:daemon     HTTP status page, health check at depth 10")
        cluster.create_resource(xml=group_xml("controls", members), wait=False)
        for member in members:
            cluster.wait_until(lambda m=member: cluster.where(m["id"]), 90,
                               f"{member['id']} to run")
        say(cluster.crm_mon())

        target = members[0]["id"]
        pidfile = None
        if target == "ioc-demo":
            # Break the IOC itself, not procServ: its identity is recorded next to the pidfile.
            pidfile = f"/run/ocfpy/epics-ioc/{target}.pid.ioc"
        say(f"== 3. Failover drill on {target} (ocfgen drill)")
        scenarios = ["kill", "hang"] + (["node"] if args.nodes > 1 else [])
        results = []
        for scenario in scenarios:
            cluster.wait_until(lambda: all(cluster.where(m["id"]) for m in members), 90,
                               "the service set to run")
            time.sleep(4)  # let the depth-10 monitor see the fresh service once
            try:
                result = run_drill(cluster, target, scenario, timeout=90, pidfile=pidfile)
            except DrillError as exc:
                say(f"  {scenario}: not run: {exc}")
                continue
            say(f"  {result.line()}")
            results.append(result)
        # The group restarts its later members after the target: show the set once all run.
        cluster.wait_until(lambda: all(cluster.where(m["id"]) for m in members), 90,
                           "the service set to run again")
        say(cluster.crm_mon())

        say("== 4. MTTR")
        token = cluster.run("node1", ["corosync-cmapctl", "-g", "runtime.config.totem.token"])
        token_ms = int(token.stdout.rsplit("=", 1)[1])
        explain = {
            "kill": "SIGKILL of the service; found by the 2 s monitor",
            "hang": "SIGSTOP of the service; found by the 3 s depth-10 health check",
            "node": f"its node powered off; found by corosync (token {token_ms} ms)",
        }
        for result in results:
            mttr = "no recovery" if result.seconds is None else f"{result.seconds:6.2f} s"
            say(f"  {result.scenario:<5} {mttr}   {explain[result.scenario]}")
        say("== 5. Teardown")
    left = leftovers(cluster)
    if left:
        say("left behind:\n  " + "\n  ".join(left))
        return 1
    say(f"no process, namespace or file of the cluster is left; the demo took "
        f"{time.monotonic() - began:.0f} s")
    return 0 if results and all(r.seconds is not None for r in results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TestbedError as exc:
        sys.exit(f"demo: {exc}")
