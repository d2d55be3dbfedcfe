"""ocfgen drill: break a resource on a live cluster and measure how long Pacemaker takes to
report it running again (its MTTR, mean time to recovery, per scenario).

Scenarios:
- kill: SIGKILL the service's process (its pid from the ocfpy pidfile on the node running it).
  The recurring monitor finds it gone and Pacemaker restarts it.
- hang: SIGSTOP the service's process. The process still exists, so a depth-0 monitor (is the
  recorded process alive?) cannot see the hang: only a monitor that talks to the service can.
  For the daemon agent that is its `monitor_command`, run by monitors of OCF_CHECK_LEVEL 10,
  so the drill refuses the scenario unless the resource has a recurring monitor op with an
  OCF_CHECK_LEVEL >= 10 instance attribute, e.g.
      <op name="monitor" interval="3s" timeout="5s">
        <instance_attributes><nvpair name="OCF_CHECK_LEVEL" value="10"/></instance_attributes>
  The stop that follows must also get rid of a stopped process: SIGTERM stays pending on it,
  so set the agent's kill_after low (SIGKILL works on a stopped process).
- node: take away the node the resource runs on (the test harness kills the node's namespaces,
  like a power cut); Pacemaker starts it on another node. Needs ocfpy.testbed.

"Running again" means: crm_mon reports the resource started and not failed, with a successful
start in its operation history that was not there before the fault (so a poll that comes
before the monitor noticed anything never counts as a recovery).

The drill works on any object with run(node, argv, check, timeout) and status(on) like
ocfpy.testbed.Cluster; LocalCluster is that object for the node this command runs on.
"""

import time
from dataclasses import dataclass
from typing import Optional

import click

from .clirun import FAILED, CommandFailed, guarded

SCENARIOS = ("kill", "hang", "node")
POLL_SECONDS = 0.1


class DrillError(Exception):
    """The drill cannot run (or the resource did not recover); one line saying why."""


@dataclass
class DrillResult:
    scenario: str
    resource: str
    node_before: str
    node_after: Optional[str]
    seconds: Optional[float]
    detected: Optional[float] = None  # seconds until crm_mon first showed the fault
    note: str = ""  # e.g. "the DC": losing the DC adds an election to the recovery


    def line(self):
        if self.seconds is None:
            return (f"{self.scenario:<5} {self.resource} on {self.node_before}: NOT running again "
                    f"within the timeout")
        seen = f" (fault seen after {self.detected:.2f} s)" if self.detected is not None else ""
        note = f" ({self.note})" if self.note else ""
        return (f"{self.scenario:<5} {self.resource} on {self.node_before}{note}: running again "
                f"on {self.node_after} after {self.seconds:.2f} s{seen}")


class LocalCluster:
    """The cluster this host is a node of, through its local crm tools."""

    def __init__(self):
        import subprocess

        done = subprocess.run(["crm_node", "-n"], capture_output=True, text=True)
        if done.returncode != 0:
            raise DrillError("crm_node -n failed: this host is not a running cluster node "
                             f"({(done.stderr or done.stdout).strip()})")
        self.local = done.stdout.strip()

    def run(self, node, argv, check=True, timeout=30):
        import subprocess

        if node not in (None, self.local):
            raise DrillError(f"the resource runs on {node}, not on this node ({self.local}): "
                             f"run the drill there")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise DrillError(f"{' '.join(argv)} exited with {done.returncode}: "
                             f"{(done.stderr or done.stdout).strip()}")
        return done

    def status(self, on=None):
        from ocfpy.testbed.status import parse

        return parse(self.run(on, ["crm_mon", "-1", "--output-as=xml"]).stdout)


def _primitive(cluster, node, resource):
    import xml.etree.ElementTree as ET

    done = cluster.run(node, ["cibadmin", "--query", "--scope", "resources", "--xpath",
                              f"//primitive[@id='{resource}']"], check=False)
    if done.returncode != 0:
        raise DrillError(f"resource {resource} is not a primitive in the CIB (for a group or "
                         f"clone, drill one of its primitives)")
    return ET.fromstring(done.stdout)


def _pidfile(primitive, resource):
    for nvpair in primitive.iterfind("instance_attributes/nvpair"):
        if nvpair.get("name") == "pidfile" and nvpair.get("value"):
            return nvpair.get("value")
    if primitive.get("provider") != "ocfpy":
        raise DrillError(f"{resource} is {primitive.get('class')}:{primitive.get('provider')}:"
                         f"{primitive.get('type')}: pass --pidfile for its process")
    return f"/run/ocfpy/{primitive.get('type')}/{resource.replace('/', '_')}.pid"


def _deep_monitor(primitive):
    """The interval of a recurring monitor with OCF_CHECK_LEVEL >= 10, or None."""
    for op in primitive.iterfind("operations/op"):
        if op.get("name") != "monitor" or op.get("interval", "0") in ("0", "0s"):
            continue
        for nvpair in op.iterfind("instance_attributes/nvpair"):
            if nvpair.get("name") == "OCF_CHECK_LEVEL" and nvpair.get("value", "0").isdigit() \
                    and int(nvpair.get("value")) >= 10:
                return op.get("interval")
    return None


def _service_pid(cluster, node, path):
    done = cluster.run(node, ["cat", path], check=False)
    for line in done.stdout.splitlines():
        if line.startswith("pid="):
            return int(line[4:])
    raise DrillError(f"{node}: no ocfpy pidfile with a pid at {path}")


def _failures(status, resource):
    return {(op.node, op.task, op.interval_ms, op.call) for op in status.failures
            if op.resource == resource}


def _wait_recovered(cluster, resource, before, timeout, on=None, away_from=None):
    """(recovered at, node, fault first seen at) in time.monotonic(); Nones on timeout."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        try:
            status = cluster.status(on)
        except Exception:  # a node in the middle of losing quorum may not answer
            status = None
        if status is not None:
            where = [n for n in status.where(resource) if n != away_from]
            if seen is None and (status.nodes.get(away_from) is False if away_from else (
                    len(where) < len(before.where(resource)) or _failures(status, resource) -
                    _failures(before, resource))):
                seen = time.monotonic()
            if where and status.starts(resource) - before.starts(resource):
                return time.monotonic(), where[0], seen
        time.sleep(POLL_SECONDS)
    return None, None, seen


def run_drill(cluster, resource, scenario, *, timeout=120.0, pidfile=None, restore=True):
    """Run one scenario against `resource`; a DrillResult (seconds None if no recovery)."""
    if scenario not in SCENARIOS:
        raise DrillError(f"scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")
    status = cluster.status()
    where = status.where(resource)
    if not where:
        raise DrillError(f"resource {resource} is not running anywhere; start it first")
    node = where[0]
    before = status
    if scenario == "node":
        if not hasattr(cluster, "kill_node"):
            raise DrillError("taking a node away needs the test harness (ocfpy.testbed); on a "
                             "production cluster, power the node off and watch crm_mon")
        witness = next((n for n in cluster.nodes if n != node and cluster.node(n).up), None)
        if witness is None:
            raise DrillError("taking a node away needs another running node")
        began = time.monotonic()
        cluster.kill_node(node)
        ended, after, seen = _wait_recovered(cluster, resource, before, timeout, on=witness,
                                             away_from=node)
        if restore:
            cluster.restart_node(node)
        result = _result(scenario, resource, node, after, began, ended, seen)
        result.note = "the DC" if status.dc == node else ""
        return result

    primitive = _primitive(cluster, node, resource)
    path = pidfile or _pidfile(primitive, resource)
    if scenario == "hang" and _deep_monitor(primitive) is None:
        raise DrillError(f"a hung {resource} cannot be detected: it has no recurring monitor "
                         f"op with OCF_CHECK_LEVEL >= 10 (a monitor that asks the service "
                         f"itself, e.g. the daemon agent's monitor_command)")
    pid = _service_pid(cluster, node, path)
    signame = "KILL" if scenario == "kill" else "STOP"
    cluster.run(node, ["kill", f"-{signame}", str(pid)])
    began = time.monotonic()
    ended, after, seen = _wait_recovered(cluster, resource, before, timeout)
    if ended is None and scenario == "hang":
        cluster.run(node, ["kill", "-CONT", str(pid)], check=False)  # leave it as it was
    return _result(scenario, resource, node, after, began, ended, seen)


def _result(scenario, resource, node, after, began, ended, seen):
    return DrillResult(scenario, resource, node, after,
                       None if ended is None else ended - began,
                       None if seen is None else min(seen, ended or seen) - began)


@click.command("drill")
@click.argument("resource")
@click.option("--scenario", "scenarios", multiple=True, type=click.Choice(SCENARIOS),
              help="kill (SIGKILL), hang (SIGSTOP) or node; repeatable (default: kill).")
@click.option("--timeout", default=120.0, show_default=True,
              help="Seconds to wait for the resource to run again.")
@click.option("--pidfile", default=None, help="The service's ocfpy pidfile, if not the agent's "
                                              "default /run/ocfpy/<agent>/<resource>.pid.")
@click.option("--settle", default=10.0, show_default=True,
              help="Seconds to wait between scenarios (the monitor's first run after a restart).")
@guarded
def cmd(resource, scenarios, timeout, pidfile, settle):
    """Break RESOURCE on this cluster node and print the time until it runs again (MTTR).

    Run it on the node where RESOURCE is active (kill and hang act on local processes). The
    hang scenario needs a depth-10 monitor (op instance attribute OCF_CHECK_LEVEL=10).
    """
    try:
        cluster = LocalCluster()
        results = []
        for index, scenario in enumerate(scenarios or ("kill",)):
            if index:
                time.sleep(settle)
            result = run_drill(cluster, resource, scenario, timeout=timeout, pidfile=pidfile)
            click.echo(result.line())
            results.append(result)
    except DrillError as exc:
        raise CommandFailed(FAILED, f"drill: {exc}") from None
    if any(r.seconds is None for r in results):
        raise CommandFailed(FAILED)
