#!/usr/bin/env python3
"""Cost of the EPICS agents' monitors, side by side with the daemon agent and a bare interpreter.

Starts a real soft IOC under procServ (tests/peers/epics_softioc.py; console 127.0.0.1:17950,
Channel Access on 15950) and the archiver STAND-IN (tests/peers/archiver_standin.py on 17960),
runs every command N times interleaved so machine noise hits all alike, and prints median wall
time, mean CPU time per call, and the ratios of docs/design.md's target (a process agent's monitor
costs no more than `python3 -c pass`). epics-ioc at depth 0 is the hot path (it reads /proc
only); depth 10 (a Channel Access read with caproto) and the archiver (an HTTP round trip) are
shown for scale.
Usage: benchmarks/monitor_epics.py [N] (root; agents installed: dev/reinstall.sh).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from calltime import measure  # benchmarks/ is on sys.path when a script runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENTS = "/usr/lib/ocf/resource.d/ocfpy"
PYTHON = "/opt/ocfpy/bin/python3"
CA = {"EPICS_CA_SERVER_PORT": "15950", "EPICS_CA_REPEATER_PORT": "15951",
      "EPICS_CA_ADDR_LIST": "127.0.0.1", "EPICS_CA_AUTO_ADDR_LIST": "NO",
      "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1"}




def environments(scratch):
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    boot = os.path.join(scratch, "boot")
    os.makedirs(boot)
    with open(os.path.join(boot, "st.cmd"), "w") as f:
        f.write('epicsEnvSet("IOCNAME", "E4BENCH")\n')
    ioc = dict(base, OCF_RESOURCE_INSTANCE="bench-ioc", OCF_RESKEY_ioc_name="E4BENCH",
               OCF_RESKEY_boot_dir=boot, OCF_RESKEY_console="17950",
               OCF_RESKEY_ioc_command=f"{PYTHON} {ROOT}/tests/peers/epics_softioc.py",
               OCF_RESKEY_pidfile=f"{scratch}/ioc.pid", OCF_RESKEY_stop_command="exit()",
               OCF_RESKEY_heartbeat_pv="E4BENCH:HEARTBEAT",
               OCF_RESKEY_environment=" ".join(f"{k}={v}" for k, v in CA.items()))
    xml = os.path.join(scratch, "appliances.xml")
    with open(xml, "w") as f:
        f.write("<appliances><appliance><identity>bench</identity>"
                "<mgmt_url>http://127.0.0.1:17960/mgmt/bpl</mgmt_url></appliance></appliances>\n")
    os.makedirs(os.path.join(scratch, "arch", "tomcat"))
    archiver = dict(base, OCF_RESOURCE_INSTANCE="bench-archiver", OCF_RESKEY_identity="bench",
                    OCF_RESKEY_appliances=xml, OCF_RESKEY_base_dir=f"{scratch}/arch",
                    OCF_RESKEY_mgmt_port="17960", OCF_RESKEY_engine_port="17961",
                    OCF_RESKEY_etl_port="17962", OCF_RESKEY_retrieval_port="17963",
                    OCF_RESKEY_command=f"{PYTHON} {ROOT}/tests/peers/archiver_standin.py")
    daemon = dict(base, OCF_RESOURCE_INSTANCE="bench-daemon",
                  OCF_RESKEY_command="sleep 100000", OCF_RESKEY_pidfile=f"{scratch}/daemon.pid")
    return base, ioc, archiver, daemon


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    scratch = tempfile.mkdtemp(prefix="ocfpy-bench-epics-")
    base, ioc, archiver, daemon = environments(scratch)
    resources = ((f"{AGENTS}/epics-ioc", ioc), (f"{AGENTS}/archiver", archiver),
                 (f"{AGENTS}/daemon", daemon))
    with open(f"{AGENTS}/epics-ioc") as f:
        agent_python = os.path.realpath(f.readline()[2:].split()[0])
    cases = {
        "python3 -I -S -c pass (floor)": ([agent_python, "-I", "-S", "-c", "pass"], base),
        "/usr/bin/python3 -c pass": (["/usr/bin/python3", "-c", "pass"], base),
        "daemon monitor": ([f"{AGENTS}/daemon", "monitor"], daemon),
        "epics-ioc monitor (depth 0)": ([f"{AGENTS}/epics-ioc", "monitor"], ioc),
        "epics-ioc monitor (depth 10, CA)": ([f"{AGENTS}/epics-ioc", "monitor"],
                                             dict(ioc, OCF_CHECK_LEVEL="10")),
        "archiver monitor (depth 0, HTTP)": ([f"{AGENTS}/archiver", "monitor"], archiver),
    }
    samples = {name: ([], []) for name in cases}
    try:
        for agent, env in resources:
            done = subprocess.run([agent, "start"], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{agent} start failed: {done.stderr}")
        for _ in range(rounds):
            for name, (argv, env) in cases.items():
                wall, cpu, code = measure(argv, env)
                if code != 0:
                    raise SystemExit(f"{name} exited {code}")
                samples[name][0].append(wall)
                samples[name][1].append(cpu)
    finally:
        for agent, env in resources:
            subprocess.run([agent, "stop"], env=env, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    wall = {name: statistics.median(s[0]) * 1000 for name, s in samples.items()}
    cpu = {name: statistics.mean(s[1]) * 1000 for name, s in samples.items()}
    print(f"agent interpreter: {agent_python}; {rounds} rounds, interleaved; "
          "median wall time, mean CPU per call")
    for name in cases:
        print(f"  {name:34s} wall {wall[name]:7.2f} ms   cpu {cpu[name]:7.2f} ms")
    ref, hot = wall["/usr/bin/python3 -c pass"], wall["epics-ioc monitor (depth 0)"]
    print("ratios (target):")
    print(f"  epics-ioc monitor / python3 -c pass   {hot / ref:5.2f}  (<= 1.0)")
    print(f"  epics-ioc monitor / daemon monitor    {hot / wall['daemon monitor']:5.2f}")
    print(f"  epics-ioc monitor / isolated floor    "
          f"{hot / wall['python3 -I -S -c pass (floor)']:5.2f}")
    print(f"  epics-ioc depth 10 / python3 -c pass  "
          f"{wall['epics-ioc monitor (depth 10, CA)'] / ref:5.2f}  (informational)")
    print(f"  archiver monitor / python3 -c pass    "
          f"{wall['archiver monitor (depth 0, HTTP)'] / ref:5.2f}  (informational)")


if __name__ == "__main__":
    main()
