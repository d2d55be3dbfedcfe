"""Monitors against the interpreter budget: run cases interleaved, print one table with ratios.

The two references are `python3 -c pass` (the system interpreter, as the RPM's agents use it:
DESIGN.md's budget for a monitor) and the isolated floor `python3 -I -S -c pass` on the agents'
interpreter (what an agent cannot go below). Every monitor's target is <= 1.0x `python3 -c pass`
in CPU per call; a depth-0 monitor that only reads the process table and local files (daemon,
epics-ioc, ducc-agent, ducc-head) <= 0.65x. A depth 0 that must talk to the service (the ACS
agents' GIOP round trips, the archiver's HTTP) has the 1.0x budget of every deeper check.
Shared by monitor_epics.py and acs_ducc_monitor.py.
"""

import statistics

from calltime import measure  # benchmarks/ is on sys.path when a script runs

REFERENCE = "python3 -c pass"
FLOOR = "python3 -I -S -c pass (floor)"
TARGET_ANY, TARGET_LOCAL_DEPTH0 = 1.0, 0.65


def target(depth, talks):
    """The budget of a monitor of `depth`; `talks`: its depth 0 speaks to the service."""
    return TARGET_LOCAL_DEPTH0 if depth == 0 and not talks else TARGET_ANY


def agent_python(agents_dir, name):
    """The interpreter named by an agent's entry script."""
    import os

    with open(f"{agents_dir}/{name}") as f:
        return os.path.realpath(f.readline()[2:].split()[0])


def references(python, env):
    return {FLOOR: ([python, "-I", "-S", "-c", "pass"], env, None),
            REFERENCE: (["/usr/bin/python3", "-c", "pass"], env, None)}


def run(cases, rounds):
    """{name: (wall seconds, CPU seconds)} samples of every case; cases: {name: (argv, env,
    target ratio, or None for a reference)}. A case that exits non-zero stops the run."""
    samples = {name: ([], []) for name in cases}
    for _ in range(rounds):
        for name, (argv, env, _) in cases.items():
            wall, cpu, code = measure(argv, env)
            if code != 0:
                raise SystemExit(f"{name} exited {code}")
            samples[name][0].append(wall)
            samples[name][1].append(cpu)
    return samples


def report(cases, samples, rounds, python):
    """Print the table; return how many monitors missed their target."""
    cpu = {name: statistics.median(s[1]) * 1000 for name, s in samples.items()}
    wall = {name: statistics.median(s[0]) * 1000 for name, s in samples.items()}
    ref, floor = cpu[REFERENCE], cpu[FLOOR]
    print(f"agents' interpreter {python}; {rounds} rounds interleaved; medians per call")
    print(f"{'case':44} {'wall ms':>8} {'cpu ms':>7} {'/ -c pass':>9} {'/ floor':>7}  target")
    missed = 0
    for name, (_, _, goal) in cases.items():
        ratio = cpu[name] / ref
        if goal is None:
            verdict = ""
        else:
            met = ratio <= goal
            missed += not met
            verdict = f"<= {goal:.2f}x {'met' if met else 'MISSED'}"
        print(f"{name:44} {wall[name]:8.1f} {cpu[name]:7.1f} {ratio:9.2f} "
              f"{cpu[name] / floor:7.2f}  {verdict}")
    print(f"targets: every monitor <= {TARGET_ANY:.2f}x `{REFERENCE}` in CPU per call, a depth 0 "
          f"that reads only local state <= {TARGET_LOCAL_DEPTH0:.2f}x; {missed} missed")
    return missed
