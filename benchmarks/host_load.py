#!/usr/bin/env python3
"""What monitoring 100 resources costs a host: CPU of pacemaker-execd's children over 60 s.

A single-node test cluster (ocfpy.testbed.Cluster, real Corosync and Pacemaker in namespaces)
runs 100 resources with a 10 s monitor: 30 epics-ioc resources, each a real soft IOC
(pythonSoftIOC, tests/peers/epics_softioc.py) under procServ, and 70 daemon resources (sleep).
pacemaker-execd runs every agent call as its child and reaps it, so the growth of its children's
CPU time (cutime + cstime in /proc/<execd>/stat) over a 60 s window is what the monitors cost.
Two phases, printed as % of one core with the CPU per monitor call beside it:
  1. every monitor at depth 0;
  2. the 30 IOCs' monitors at depth 10 (heartbeat and pid PV over Channel Access, ocfpy.ca).
Targets: < 10% of a core in phase 1, < 15% in phase 2.
Usage: benchmarks/host_load.py [WINDOW_SECONDS] (root; takes a few minutes).
"""

import os
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ocfpy.testbed import Cluster, services  # noqa: E402

IOCS, DAEMONS = 30, 70
INTERVAL = 10
TARGETS = {"all at depth 0": 10.0, f"{IOCS} IOCs at depth 10": 15.0}


def ioc_resource(index, boot_root):
    name = f"HL{index:02d}"
    resource = services.epics_ioc(f"hl-ioc{index:02d}", boot_root, ioc_name=name,
                                  ca_port=20000 + 2 * index, console_port=21000 + index,
                                  monitor=f"{INTERVAL}s")
    # The tests' soft IOC also serves <IOC>:PID (devIocStats' PROCESS_ID reads -1 in this build).
    resource["params"]["ioc_command"] = f"{sys.executable} {ROOT}/tests/peers/epics_softioc.py"
    resource["params"]["pid_pv"] = f"{name}:PID"
    resource["ops"] = [op for op in resource["ops"] if op["name"] != "monitor"]
    return resource


def children_cpu(cluster, pid):
    """Seconds of CPU pacemaker-execd's reaped children used so far."""
    fields = cluster.read_file("node1", f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def measure(cluster, execd, window):
    before = children_cpu(cluster, execd)
    began = time.monotonic()
    time.sleep(window)
    used = children_cpu(cluster, execd) - before
    return used, time.monotonic() - began


def set_depth(cluster, ids, level):
    """Give the 10 s monitor op of each resource OCF_CHECK_LEVEL=level."""
    for rid in ids:
        op_id = f"{rid}-monitor-interval-{INTERVAL}s"
        op = ET.Element("op", id=op_id)
        attributes = ET.SubElement(op, "instance_attributes", id=f"{op_id}-ia")
        ET.SubElement(attributes, "nvpair", id=f"{op_id}-ia-depth", name="OCF_CHECK_LEVEL",
                      value=str(level))
        cluster.run("node1", ["cibadmin", "--modify", "--scope", "resources", "--xml-text",
                              ET.tostring(op, encoding="unicode")])
        query = cluster.run("node1", ["cibadmin", "--query", "--xpath",
                                      f"//op[@id='{op_id}']//nvpair[@name='OCF_CHECK_LEVEL']"])
        if ET.fromstring(query.stdout).get("value") != str(level):
            raise SystemExit(f"{op_id}: OCF_CHECK_LEVEL is not {level} in the CIB")


def wait_all_started(cluster, ids, timeout):
    def running():
        status = cluster.status("node1")
        return all(status.where(rid) for rid in ids)

    cluster.wait_until(running, timeout, f"{len(ids)} resources to run", interval=2)


def main():
    window = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    boot_root = tempfile.mkdtemp(prefix="ocfpy-hostload-")
    iocs = [ioc_resource(i, boot_root) for i in range(IOCS)]
    daemons = [services.sleeper(f"hl-daemon{i:02d}", monitor=f"{INTERVAL}s")
               for i in range(DAEMONS)]
    try:
        return run(window, iocs, daemons)
    finally:
        shutil.rmtree(boot_root, ignore_errors=True)


def run(window, iocs, daemons):
    ids = [r["id"] for r in iocs + daemons]
    began = time.monotonic()
    with Cluster(nodes=1) as cluster:
        print(f"cluster up in {time.monotonic() - began:.0f}s; creating {IOCS + DAEMONS} "
              "resources", flush=True)
        for resource in iocs + daemons:
            cluster.create_resource(**resource, wait=False)
        wait_all_started(cluster, ids, 600)
        execd = int(cluster.run("node1", ["pidof", "pacemaker-execd"]).stdout.split()[0])
        print(f"all running after {time.monotonic() - began:.0f}s; settling", flush=True)
        time.sleep(2 * INTERVAL)
        results = {}
        phase = "all at depth 0"
        results[phase] = measure(cluster, execd, window)
        print(f"{phase}: measured", flush=True)
        set_depth(cluster, [r["id"] for r in iocs], 10)
        time.sleep(2 * INTERVAL)
        phase = f"{IOCS} IOCs at depth 10"
        results[phase] = measure(cluster, execd, window)
        failures = [op for op in cluster.status("node1").failures if op.resource in ids]
        print(f"{phase}: measured; failed operations: {len(failures)}", flush=True)
    calls = (IOCS + DAEMONS) * window / INTERVAL
    print(f"\n{IOCS + DAEMONS} resources, monitor every {INTERVAL}s, {window:.0f}s window "
          f"(~{calls:.0f} monitor calls); CPU of pacemaker-execd's children")
    print(f"{'phase':24} {'cpu s':>7} {'% of a core':>11} {'ms per call':>11}  target")
    missed = 0
    for phase, (used, elapsed) in results.items():
        share = 100 * used / elapsed
        met = share < TARGETS[phase]
        missed += not met
        print(f"{phase:24} {used:7.2f} {share:11.1f} {1000 * used / calls:11.1f}  "
              f"< {TARGETS[phase]:.0f}% {'met' if met else 'MISSED'}")
    if failures:
        print(f"failed operations during the run: {failures}")
    return 1 if missed or failures else 0


if __name__ == "__main__":
    sys.exit(main())
