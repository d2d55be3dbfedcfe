#!/usr/bin/env python3
"""Cost of every monitor depth of the EPICS agents and the daemon agent, side by side with
`python3 -c pass` and the isolated floor.

Starts a real soft IOC under procServ (tests/peers/epics_softioc.py; console 127.0.0.1:17950,
Channel Access on 15950) and the archiver STAND-IN (tests/peers/archiver_standin.py on 17960),
runs every command N times interleaved so machine noise hits all alike, and prints median wall
and CPU time per call with the ratios to both references and the targets (budget.py): every
monitor at every depth <= 1.0x `python3 -c pass`, depth 0 <= 0.65x (the archiver's, an HTTP
round trip, 1.0x). epics-ioc depth 10 reads
the heartbeat and the pid PV over Channel Access (ocfpy.ca); depth 20 also probes the boot
directory (run by hand, as here, it tells no attrd; under Pacemaker it runs attrd_updater only
when the node's health value changes or its last assertion is old: agents/bootwatch.py, so a
steady monitor adds two small file reads to what is measured here); the archiver's depths
are HTTP round trips to the stand-in (and a storage probe).
Usage: benchmarks/monitor_epics.py [N] (root; agents installed: dev/reinstall.sh).
"""

import os
import shutil
import subprocess
import sys
import tempfile

import budget  # benchmarks/ is on sys.path when a script runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENTS = "/usr/lib/ocf/resource.d/ocfpy"
PYTHON = sys.executable  # the venv running this benchmark: it has caproto and softioc
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
    ioc["OCF_RESKEY_pid_pv"] = "E4BENCH:PID"
    daemon_checked = dict(daemon, OCF_RESKEY_monitor_command="/bin/true")
    resources = ((f"{AGENTS}/epics-ioc", ioc), (f"{AGENTS}/archiver", archiver),
                 (f"{AGENTS}/daemon", daemon))
    python = budget.agent_python(AGENTS, "epics-ioc")
    cases = budget.references(python, base)
    for name, env, levels in (("daemon", daemon, (0,)), ("daemon", daemon_checked, (10,)),
                              ("epics-ioc", ioc, (0, 10, 20)),
                              ("archiver", archiver, (0, 10, 20))):
        for level in levels:
            label = {("daemon", 10): " (monitor_command /bin/true)",
                     ("epics-ioc", 10): " (CA: heartbeat + pid)",
                     ("epics-ioc", 20): " (CA + boot dir, by hand)", ("archiver", 0): " (HTTP)",
                     ("archiver", 20): " (HTTP + storage)"}.get((name, level), "")
            cases[f"{name} monitor depth {level}{label}"] = (
                [f"{AGENTS}/{name}", "monitor"], dict(env, OCF_CHECK_LEVEL=str(level)),
                budget.target(level, talks=name == "archiver"))
    try:
        for agent, env in resources:
            done = subprocess.run([agent, "start"], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{agent} start failed: {done.stderr}")
        samples = budget.run(cases, rounds)
    finally:
        for agent, env in resources:
            subprocess.run([agent, "stop"], env=env, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    budget.report(cases, samples, rounds, python)


if __name__ == "__main__":
    main()
