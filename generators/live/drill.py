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
- node: cut the node the resource runs on off the cluster network (ocfpy.testbed's isolate).
  The survivors fence it through its BMC (the BMC records the power-off), Pacemaker starts the
  resource on another node, then the drill restores the link and powers the node on, and it
  rejoins. The result has each of these times. Needs ocfpy.testbed.
- fence NODE (the argument is a node): ask every fence device that can fence NODE for its
  status through Pacemaker's fencer (stonith_admin --query on this node) and report each ok or
  failed with the reason. It fences NODE only when asked explicitly (--fence).

"Running again" means: crm_mon reports the resource started and not failed, with a successful
start in its operation history that was not there before the fault (so a poll that comes
before the monitor noticed anything never counts as a recovery).

The drill works on any object with run(node, argv, check, timeout) and status(on) like
ocfpy.testbed.Cluster; LocalCluster is that object for the node this command runs on.
"""

import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Optional

from ocfpy import wait

SCENARIOS = ("kill", "hang", "node")
POLL_SECONDS = 0.1
COMMAND_SECONDS = 30  # every command the drill runs is bounded


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
    fenced: Optional[float] = None  # node: seconds until its BMC recorded the power-off
    fenced_by: str = ""  # node: the survivor that ran the fence device
    fence_done: Optional[float] = None  # node: seconds until the fencer reported success
    start_seconds: Optional[float] = None  # node: how long the start elsewhere ran
    rejoined: Optional[float] = None  # node: seconds until it was back online (restore)
    fault_time: Optional[float] = None  # when the fault was caused (epoch seconds)

    def line(self):
        if self.seconds is None:
            return (f"{self.scenario:<5} {self.resource} on {self.node_before}: NOT running again "
                    f"within the timeout")
        note = f" ({self.note})" if self.note else ""
        if self.scenario == "node":
            steps = ["cut off at 0.00 s"]
            if self.detected is not None:
                steps.append(f"seen lost {self.detected:.2f} s")
            steps.append(f"fenced (BMC power off) {self.fenced:.2f} s"
                         + (f" by {self.fenced_by}" if self.fenced_by else "")
                         if self.fenced is not None else "NOT fenced")
            if self.fence_done is not None:
                steps.append(f"fencing confirmed {self.fence_done:.2f} s")
            steps.append(f"running on {self.node_after} {self.seconds:.2f} s")
            if self.rejoined is not None:
                steps.append(f"powered on, rejoined {self.rejoined:.2f} s")
            return f"node  {self.resource} on {self.node_before}{note}: " + " -> ".join(steps)
        seen = f" (fault seen after {self.detected:.2f} s)" if self.detected is not None else ""
        return (f"{self.scenario:<5} {self.resource} on {self.node_before}{note}: running again "
                f"on {self.node_after} after {self.seconds:.2f} s{seen}")


class LocalCluster:
    """The cluster this host is a node of, through its local crm tools."""

    def __init__(self):
        self.local = None
        done = self.run(None, ["crm_node", "-n"], check=False)
        if done.returncode != 0:
            raise DrillError("crm_node -n failed: this host is not a running cluster node "
                             f"({(done.stderr or done.stdout).strip()})")
        self.local = done.stdout.strip()

    def run(self, node, argv, check=True, timeout=COMMAND_SECONDS, input=None):
        if node not in (None, self.local):
            raise DrillError(f"the resource runs on {node}, not on this node ({self.local}): "
                             f"run the drill there")
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  input=input, stdin=None if input is not None else
                                  subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DrillError(f"{' '.join(argv)} did not finish in {timeout} s") from None
        except OSError as exc:
            raise DrillError(f"{argv[0]}: {exc.strerror}") from None
        if check and done.returncode != 0:
            raise DrillError(f"{' '.join(argv)} exited with {done.returncode}: "
                             f"{(done.stderr or done.stdout).strip()}")
        return done

    def status(self, on=None):
        from ocfpy.crmstatus import parse

        return parse(self.run(on, ["crm_mon", "-1", "--output-as=xml"]).stdout)


def _unavailable():
    """The errors a cluster answers with while it cannot say (a node losing quorum, a command
    that timed out, output that is not crm_mon's): the drill polls again. Anything else is a
    bug and is not caught."""
    from ocfpy.crmstatus import StatusError
    from ocfpy.testbed.cluster import TestbedError

    return (DrillError, StatusError, TestbedError)


def _primitive(cluster, node, resource):
    done = cluster.run(node, ["cibadmin", "--query", "--scope", "resources"], check=False,
                       timeout=COMMAND_SECONDS)
    try:
        root = ET.fromstring(done.stdout) if done.returncode == 0 else None
    except ET.ParseError:
        root = None
    if root is None:
        raise DrillError(f"cibadmin --query failed on {node}: {done.stderr.strip()}")
    # The id is compared as data, never put into an XPath expression.
    found = [p for p in root.iter("primitive") if p.get("id") == resource]
    if not found:
        raise DrillError(f"resource {resource} is not a primitive in the CIB (for a group or "
                         f"clone, drill one of its primitives)")
    return found[0]


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
    done = cluster.run(node, ["cat", path], check=False, timeout=COMMAND_SECONDS)
    for line in done.stdout.splitlines():
        if line.startswith("pid="):
            return int(line[4:])
    raise DrillError(f"{node}: no ocfpy pidfile with a pid at {path}")


def _failures(status, resource):
    return {(op.node, op.task, op.interval_ms, op.call) for op in status.failures
            if op.resource == resource}


def _wait_recovered(cluster, resource, before, timeout, on=None, away_from=None):
    """(recovered at, node, fault first seen at) in time.monotonic(); Nones on timeout."""
    seen = []

    def recovered():
        try:
            status = cluster.status(on)
        except _unavailable():  # a node in the middle of losing quorum may not answer
            return None
        where = [n for n in status.where(resource) if n != away_from]
        if not seen and (status.nodes.get(away_from) is False if away_from else (
                len(where) < len(before.where(resource)) or _failures(status, resource) -
                _failures(before, resource))):
            seen.append(time.monotonic())
        if where and status.starts(resource) - before.starts(resource):
            return time.monotonic(), where[0]
        return None

    done = wait.within(recovered, timeout, POLL_SECONDS)
    first_seen = seen[0] if seen else None
    return (*done, first_seen) if done else (None, None, first_seen)


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
        return _node_loss(cluster, resource, node, before, timeout, restore)

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


def _node_loss(cluster, resource, node, before, timeout, restore):
    """Cut `node` off; the survivors fence it, the resource runs elsewhere; then bring it back."""
    if not hasattr(cluster, "isolate"):
        raise DrillError("taking a node away needs the test harness (ocfpy.testbed); on a "
                         "production cluster, cut the node off and watch crm_mon and "
                         "stonith_admin --history")
    witness = next((n for n in cluster.nodes if n != node and cluster.node(n).up), None)
    if witness is None:
        raise DrillError("taking a node away needs another running node")
    # Fencing after the cut: the fencer stamps completions in UTC, to the second.
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    watch = _FenceWatch(cluster, node, witness, since)
    began = time.monotonic()
    ended, result = None, None
    cluster.isolate(node)
    watch.start()
    try:
        ended, after, seen = _wait_recovered(cluster, resource, before, timeout, on=witness,
                                             away_from=node)
        watch.join(timeout=max(0.0, began + timeout - time.monotonic()))
        offs = [e for e in cluster.power_events(node, since=began) if not e.on]
        result = _result("node", resource, node, after, began, ended, seen)
        result.note = "the DC" if before.dc == node else ""
        if offs:
            result.fenced = offs[0].at - began
        if watch.done is not None:
            result.fence_done = watch.done - began
            result.fenced_by = watch.delegate
        if after is not None:
            starts = [op for op in cluster.status(witness).operations
                      if op.resource == resource and op.node == after and op.task == "start"
                      and op.rc == 0]
            result.start_seconds = starts[-1].exec_ms / 1000 if starts else None
    finally:
        watch.stop()
        if restore:
            cluster.rejoin(node)
            cluster.restart_node(node, timeout=timeout)
            if result is not None and ended is not None:
                result.rejoined = time.monotonic() - began
    return result


class _FenceWatch:
    """Polls the fencer's history from a survivor until a new success for `node` appears."""

    def __init__(self, cluster, node, witness, since):
        import threading

        self.cluster, self.node, self.witness, self.since = cluster, node, witness, since
        self.done, self.delegate = None, ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="fence-watch")

    def start(self):
        self._thread.start()

    def join(self, timeout):
        self._thread.join(timeout)

    def stop(self):
        self._stop.set()
        self._thread.join(COMMAND_SECONDS + 5)

    def _poll(self):
        while not self._stop.is_set():
            try:
                done = [e for e in self.cluster.fence_history(self.node, on=self.witness)
                        if e.status == "success" and e.completed[:19] >= self.since]
            except _unavailable():
                done = []
            if done:
                self.done, self.delegate = time.monotonic(), done[-1].delegate
                return
            self._stop.wait(0.2)


def check_fencing(cluster, node, on=None):
    """[(device, ok, detail)] for every device Pacemaker's fencer has for `node`
    (stonith_admin --list), each asked for the node's power status the way the fencer runs
    it: its agent with the device's CIB parameters on standard input (never on a command
    line), so the BMC must answer, with the right credentials. `stonith_admin --query` is not
    used: Pacemaker 2.1.5 reports success for a device whose BMC does not answer."""
    listed = cluster.run(on, ["stonith_admin", "--list", node, "--output-as=xml"], check=False,
                         timeout=COMMAND_SECONDS)
    try:
        root = ET.fromstring(listed.stdout)
    except ET.ParseError:
        raise DrillError(f"stonith_admin --list {node} failed: "
                         f"{(listed.stderr or listed.stdout).strip()}") from None
    devices = [(item.text or "").strip() for item in root.iter("item")
               if item.get("name") == "device" and (item.text or "").strip()]
    if not devices:
        raise DrillError(f"no fence device here can fence {node}: nothing would take it "
                         f"away if it failed (stonith_admin --list {node})")
    done = cluster.run(on, ["cibadmin", "--query", "--scope", "resources"], check=False,
                       timeout=COMMAND_SECONDS)
    try:
        resources = ET.fromstring(done.stdout)
    except ET.ParseError:
        raise DrillError(f"cibadmin --query failed: {done.stderr.strip()}") from None
    results = []
    for device in devices:
        primitive = next((p for p in resources.iter("primitive") if p.get("id") == device
                          and p.get("class") == "stonith"), None)
        if primitive is None:
            results.append((device, False, "registered with the fencer but not in the CIB"))
            continue
        results.append((device, *_device_status(cluster, on, node, primitive)))
    return results


def _device_status(cluster, on, node, primitive):
    """(ok, why) of one device's `status` action for `node`."""
    import re

    params = {nv.get("name"): nv.get("value", "")
              for nv in primitive.iterfind("instance_attributes/nvpair")}
    request = {k: v for k, v in params.items() if not k.startswith("pcmk_")}
    mapped = dict(re.split(r"[:=]", pair, maxsplit=1) for pair in re.split(
        r"[\s,;]+", params.get("pcmk_host_map", "")) if re.search(r"[:=]", pair))
    request.update(action="status", plug=mapped.get(node, node))
    timeout = 30
    agent = primitive.get("type", "")
    if not re.match(r"fence_[A-Za-z0-9_-]+\Z", agent):
        return False, f"{agent!r} is not a fence agent"
    stdin = "".join(f"{k}={v}\n" for k, v in request.items() if "\n" not in v)
    try:
        done = cluster.run(on, [f"/usr/sbin/{agent}"], check=False, timeout=timeout,
                           input=stdin)
    except _unavailable() as exc:
        return False, str(exc)
    if done.returncode in (0, 2):  # 2: the node is powered off, and the BMC says so
        return True, " ".join(done.stdout.split())
    lines = [line for line in done.stderr.splitlines()
             if line.strip() and "Deprecat" not in line and "import" not in line]
    reason = lines[-1].split(": ", 1)[-1] if lines else f"exit status {done.returncode}"
    return False, " ".join(reason.split())


def fence_node(cluster, node, on=None, timeout=120):
    """Fence `node` through Pacemaker (stonith_admin --fence): the fencer's topology decides."""
    done = cluster.run(on, ["stonith_admin", "--fence", node, "--timeout", str(int(timeout))],
                       check=False, timeout=timeout + 10)
    return done.returncode == 0, " ".join((done.stdout + " " + done.stderr).split())


def _result(scenario, resource, node, after, began, ended, seen):
    """began, ended, seen: monotonic times of the fault, the recovery and its detection."""
    return DrillResult(scenario, resource, node, after,
                       None if ended is None else ended - began,
                       None if seen is None else min(seen, ended or seen) - began,
                       fault_time=time.time() - (time.monotonic() - began))
