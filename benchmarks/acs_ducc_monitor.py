#!/usr/bin/env python3
"""Cost of a monitor of the ACS and DUCC agents, side by side with a bare interpreter.

Starts the STAND-IN ACS (instance 26: ports 5600-5699) and DUCC installations from tests/,
runs each monitor N times interleaved with `python3 -I -S -c pass` on the agents' interpreter,
and prints median wall and CPU time per call and the ratio to the bare interpreter. The ACS
monitors include their real GIOP round trips (two LocateRequests; a resolve and a locate).
ducc-head is shown twice: outside a cluster (crm_attribute fails, so it is retried on every
call) and in the steady state of a cluster (the score already set).
Usage: benchmarks/acs_ducc_monitor.py [N] (root; agents installed: dev/reinstall.sh).
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




def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    scratch = tempfile.mkdtemp(prefix="ocfpy-bench-acs-")
    with open(f"{AGENTS}/acs-services") as f:
        python = f.readline()[2:].split()[0]
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    acs = dict(base, OCF_RESKEY_acsroot=f"{ROOT}/tests/acs_standin", OCF_RESKEY_instance="26",
               OCF_RESKEY_acs_tmp=scratch, OCF_RESKEY_logfile=f"{scratch}/acs.log")
    services = dict(acs, OCF_RESOURCE_INSTANCE="bench-svc")
    container = dict(acs, OCF_RESOURCE_INSTANCE="bench-cont", OCF_RESKEY_container="benchC",
                     OCF_RESKEY_pidfile=f"{scratch}/cont.pid")
    home = f"{scratch}/ducc"
    os.makedirs(f"{home}/admin")
    os.symlink(f"{ROOT}/tests/ducc_standin/admin/ducc.py", f"{home}/admin/ducc.py")
    ducc = dict(base, OCF_RESOURCE_INSTANCE="bench-head", OCF_RESKEY_ducc_home=home,
                OCF_RESKEY_logfile=f"{scratch}/ducc.log")
    started = []
    try:
        for agent, env in (("acs-services", services), ("acs-container", container),
                           ("ducc-head", ducc)):
            subprocess.run([f"{AGENTS}/{agent}", "start"], env=env, check=True,
                           capture_output=True)
            started.append((agent, env))
        agent_env = dict(ducc, OCF_RESOURCE_INSTANCE="bench-ag")
        subprocess.run([f"{AGENTS}/ducc-agent", "start"], env=agent_env, check=True,
                       capture_output=True)
        started.append(("ducc-agent", agent_env))
        # Outside a cluster crm_attribute always fails, so ducc-head would retry it on every
        # monitor. In a cluster the score is set once and then only re-set on a role change:
        # a second DUCC resource gets the state a successful crm_attribute leaves behind.
        steady = dict(ducc, OCF_RESOURCE_INSTANCE="bench-head2")
        subprocess.run([f"{AGENTS}/ducc-head", "monitor"], env=steady, capture_output=True)
        state = "/run/ocfpy/ducc-head/bench-head2.state"
        with open(state, "a") as f:
            f.write("score=100\nscore_role=unpromoted\n")
        cases = {
            "python3 -I -S -c pass": ([python, "-I", "-S", "-c", "pass"], base),
            "acs-services monitor": ([f"{AGENTS}/acs-services", "monitor"], services),
            "acs-container monitor": ([f"{AGENTS}/acs-container", "monitor"], container),
            "ducc-head monitor, no CIB": ([f"{AGENTS}/ducc-head", "monitor"], ducc),
            "ducc-head monitor, steady": ([f"{AGENTS}/ducc-head", "monitor"], steady),
            "ducc-agent monitor": ([f"{AGENTS}/ducc-agent", "monitor"], agent_env),
        }
        samples = {name: ([], []) for name in cases}
        for _ in range(rounds):
            for name, (argv, env) in cases.items():
                wall, cpu, code = measure(argv, env)
                if code != 0:
                    sys.exit(f"{name} exited {code}")
                samples[name][0].append(wall)
                samples[name][1].append(cpu)
        floor = statistics.median(samples["python3 -I -S -c pass"][1])
        print(f"{'case':28} {'wall ms':>8} {'cpu ms':>8} {'cpu / bare':>10}")
        for name, (walls, cpus) in samples.items():
            cpu = statistics.median(cpus)
            print(f"{name:28} {statistics.median(walls) * 1000:8.1f} {cpu * 1000:8.1f} "
                  f"{cpu / floor:10.2f}")
    finally:
        for agent, env in reversed(started):
            subprocess.run([f"{AGENTS}/{agent}", "stop"], env=env, capture_output=True)
        if os.path.exists("/run/ocfpy/ducc-head/bench-head2.state"):
            os.unlink("/run/ocfpy/ducc-head/bench-head2.state")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
