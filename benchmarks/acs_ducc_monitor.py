#!/usr/bin/env python3
"""Cost of every monitor depth of the ACS and DUCC agents, side by side with `python3 -c pass`
and the isolated floor.

Starts the STAND-IN ACS (instance 26: ports 5600-5699) and DUCC installations from tests/ (the
DUCC web server stand-in on 127.0.0.1:17970), runs each monitor N times interleaved with the
two references and prints median wall and CPU time per call, the ratios and the targets
(budget.py). The ACS monitors include their real GIOP round trips (two LocateRequests; a
resolve and a locate). ducc-head is shown outside Pacemaker (no CIB: no promotion score to
set) and in the steady state of a cluster (the score already set), at depths 0, 10 and 20 (the
web server's reliable status over HTTP).
Usage: benchmarks/acs_ducc_monitor.py [N] (root; agents installed: dev/reinstall.sh).
"""

import os
import shutil
import subprocess
import sys
import tempfile

import budget  # benchmarks/ is on sys.path when a script runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENTS = "/usr/lib/ocf/resource.d/ocfpy"
WS_PORT = 17970
STEADY_STATE = "/run/ocfpy/ducc-head/bench-head2.state"




def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    scratch = tempfile.mkdtemp(prefix="ocfpy-bench-acs-")
    python = budget.agent_python(AGENTS, "acs-services")
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    acs = dict(base, OCF_RESKEY_acsroot=f"{ROOT}/tests/acs_standin", OCF_RESKEY_instance="26",
               OCF_RESKEY_acs_tmp=scratch, OCF_RESKEY_logfile=f"{scratch}/acs.log")
    services = dict(acs, OCF_RESOURCE_INSTANCE="bench-svc")
    container = dict(acs, OCF_RESOURCE_INSTANCE="bench-cont", OCF_RESKEY_container="benchC",
                     OCF_RESKEY_pidfile=f"{scratch}/cont.pid")
    home = f"{scratch}/ducc"
    os.makedirs(f"{home}/admin")
    os.makedirs(f"{home}/resources")
    os.symlink(f"{ROOT}/tests/ducc_standin/admin/ducc.py", f"{home}/admin/ducc.py")
    with open(f"{home}/resources/site.ducc.properties", "w") as f:
        f.write(f"ducc.head=192.0.2.1\nducc.head.reliable.list=a b\nducc.ws.port={WS_PORT}\n")
    ducc = dict(base, OCF_RESOURCE_INSTANCE="bench-head", OCF_RESKEY_ducc_home=home,
                OCF_RESKEY_logfile=f"{scratch}/ducc.log",
                OCF_RESKEY_status_url=f"http://127.0.0.1:{WS_PORT}/ducc-servlet/"
                                      "cluster-reliable-status")
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
        # Run by Pacemaker (OCF_RESKEY_crm_feature_set set), ducc-head sets its promotion score
        # once and then only on a role change: a second resource gets the state a successful
        # crm_attribute leaves behind. Outside Pacemaker (ocf-tester, a shell) there is no CIB
        # and no score to set.
        steady = dict(ducc, OCF_RESOURCE_INSTANCE="bench-head2",
                      OCF_RESKEY_crm_feature_set="3.16.2")
        subprocess.run([f"{AGENTS}/ducc-head", "monitor"], env=steady, capture_output=True)
        with open(STEADY_STATE, "a") as f:
            f.write("score=100\nscore_role=unpromoted\n")
        cases = budget.references(python, base)
        cases["acs-services monitor depth 0"] = (
            [f"{AGENTS}/acs-services", "monitor"], services, budget.target(0, talks=True))
        cases["acs-container monitor depth 0"] = (
            [f"{AGENTS}/acs-container", "monitor"], container, budget.target(0, talks=True))
        for level in (0, 10, 20):
            for label, env in (("no CIB", ducc), ("steady", steady)):
                http = " (HTTP status)" if level == 20 else ""
                cases[f"ducc-head monitor depth {level}, {label}{http}"] = (
                    [f"{AGENTS}/ducc-head", "monitor"], dict(env, OCF_CHECK_LEVEL=str(level)),
                    budget.target(level, talks=False))
        cases["ducc-agent monitor depth 0"] = ([f"{AGENTS}/ducc-agent", "monitor"], agent_env,
                                               budget.target(0, talks=False))
        samples = budget.run(cases, rounds)
        budget.report(cases, samples, rounds, python)
    finally:
        for agent, env in reversed(started):
            subprocess.run([f"{AGENTS}/{agent}", "stop"], env=env, capture_output=True)
        if os.path.exists(STEADY_STATE):
            os.unlink(STEADY_STATE)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
