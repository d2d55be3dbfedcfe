#!/usr/bin/env python3
"""Cost of one agent call, side by side in one run (docs/design.md's performance targets).

Runs each command N times, interleaved so that machine noise hits all alike, and prints the
median wall time and CPU time per call and the ratios the targets are stated in:
  daemon monitor / python3 -c pass  <= 1.0      daemon monitor / dummypy monitor <= 0.5
  daemon meta-data, validate-all    <= 2.0 x python3 -c pass
Usage: benchmarks/monitor.py [N] (root; the agents must be installed: dev/bootstrap.sh).
"""

import os
import statistics
import subprocess
import sys
import tempfile

from calltime import measure  # benchmarks/ is on sys.path when a script runs

AGENTS = "/usr/lib/ocf/resource.d"


def interpreter_of(script):
    with open(script) as f:
        return f.readline()[2:].split()[0]




def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    scratch = tempfile.mkdtemp(prefix="ocfpy-bench-")
    daemon = f"{AGENTS}/ocfpy/daemon"
    python = os.path.realpath(interpreter_of(daemon))
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESOURCE_INSTANCE": "bench", "OCF_RESKEY_CRM_meta_interval": "10000",
            "OCF_RESKEY_CRM_meta_timeout": "20000"}
    daemon_env = dict(base, OCF_RESKEY_command="sleep 100000",
                      OCF_RESKEY_pidfile=f"{scratch}/daemon.pid")
    dummypy_env = dict(base, OCF_RESKEY_state=f"{scratch}/dummypy.state")
    for agent, env in ((daemon, daemon_env), (f"{AGENTS}/heartbeat/dummypy", dummypy_env)):
        subprocess.run([agent, "start"], env=env, check=True, capture_output=True)
    cases = {
        "python3 -I -S -c pass (floor)": ([python, "-I", "-S", "-c", "pass"], base),
        "python3 -c pass": ([python, "-c", "pass"], base),
        "daemon monitor": ([daemon, "monitor"], daemon_env),
        "daemon validate-all": ([daemon, "validate-all"], daemon_env),
        "daemon meta-data": ([daemon, "meta-data"], daemon_env),
        "dummypy monitor": ([f"{AGENTS}/heartbeat/dummypy", "monitor"], dummypy_env),
        "shell Dummy monitor": ([f"{AGENTS}/heartbeat/Dummy", "monitor"], dummypy_env),
    }
    samples = {name: ([], []) for name in cases}
    try:
        for _ in range(rounds):
            for name, (argv, env) in cases.items():
                wall, cpu, code = measure(argv, env)
                if name.startswith(("daemon", "dummypy")) and code != 0:
                    raise SystemExit(f"{name} exited {code}: is it running?")
                samples[name][0].append(wall)
                samples[name][1].append(cpu)
    finally:
        subprocess.run([daemon, "stop"], env=daemon_env, capture_output=True)
        subprocess.run([f"{AGENTS}/heartbeat/dummypy", "stop"], env=dummypy_env, capture_output=True)
    wall = {name: statistics.median(s[0]) * 1000 for name, s in samples.items()}
    cpu = {name: statistics.mean(s[1]) * 1000 for name, s in samples.items()}
    print(f"interpreter: {python}; {rounds} rounds, interleaved; medians of wall time, mean CPU")
    for name in cases:
        print(f"  {name:32s} wall {wall[name]:6.2f} ms   cpu {cpu[name]:6.2f} ms")
    ref = wall["python3 -c pass"]
    print("ratios (target):")
    print(f"  daemon monitor / python3 -c pass    {wall['daemon monitor'] / ref:5.2f}  (<= 1.0)")
    print(f"  daemon monitor / dummypy monitor    "
          f"{wall['daemon monitor'] / wall['dummypy monitor']:5.2f}  (<= 0.5)")
    print(f"  daemon validate-all / python3 -c pass {wall['daemon validate-all'] / ref:5.2f}  (<= 2.0)")
    print(f"  daemon meta-data / python3 -c pass  {wall['daemon meta-data'] / ref:5.2f}  (<= 2.0)")
    print(f"  daemon monitor / isolated floor     "
          f"{wall['daemon monitor'] / wall['python3 -I -S -c pass (floor)']:5.2f}")


if __name__ == "__main__":
    main()
