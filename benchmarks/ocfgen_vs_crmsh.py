#!/usr/bin/env python3
"""ocfgen build + RNG validation of a 1,000-resource cluster against crmsh and pcs.

The same configuration three ways, each on an offline CIB (no cluster needed):
- ocfgen: `ocfgen build DESCRIPTION -o cib.xml --no-verify` (load, check every parameter
  against the agent's meta-data, render, validate against Pacemaker's RNG schema, write), and
  the same with crm_verify added (the default);
- crmsh: `crm configure load update FILE` with CIB_file pointing at a blank CIB from
  `cibadmin --empty` (crmsh's bulk path);
- pcs: `pcs -f CIB resource create ...` and `pcs -f CIB constraint order ...`, one process per
  change as pcs works, timed for a sample of 20 resources and extrapolated linearly to 1,000
  (an underestimate: each pcs call parses and rewrites a CIB that keeps growing).

N primitives of ocf:pacemaker:Dummy with a monitor op, and N-1 orderings chaining them. Prints
medians and the ratios; the target is ocfgen >= 10x faster than crmsh.

    benchmarks/ocfgen_vs_crmsh.py [--resources 1000] [--repeat 3] [--pcs-sample 20]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

OCFGEN = os.path.join(os.path.dirname(sys.executable), "ocfgen")
AGENT = "ocf:pacemaker:Dummy"


def names(count):
    return [f"r{i:04d}" for i in range(1, count + 1)]


def description(count):
    lines = ['[cluster]\nname = "bench"\n', "[properties]\nstonith-enabled = false\n"]
    for index in range(1, 4):
        lines.append(f"[nodes.n{index}]\nid = {index}\n")
    for rid in names(count):
        lines.append(f'[resources.{rid}]\nagent = "{AGENT}"\n'
                     f'ops = [{{ name = "monitor", interval = "10s", timeout = "20s" }}]\n')
    for first, then in zip(names(count), names(count)[1:]):
        lines.append(f'[[order]]\nfirst = "{first}"\nthen = "{then}"\n')
    return "\n".join(lines)


def crmsh_text(count):
    lines = ["property stonith-enabled=false"]
    for index in range(1, 4):
        lines.append(f"node {index}: n{index}")
    for rid in names(count):
        lines.append(f"primitive {rid} {AGENT} op monitor interval=10s timeout=20s")
    for first, then in zip(names(count), names(count)[1:]):
        lines.append(f"order order-{first}-{then}-mandatory Mandatory: {first} {then}")
    return "\n".join(lines) + "\n"


def blank_cib(path):
    with open(path, "w") as out:
        subprocess.run(["cibadmin", "--empty"], stdout=out, check=True)


def timed(argv, env=None, cwd=None):
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} ... failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def bench_ocfgen(work, count, repeat, verify):
    path = os.path.join(work, "bench.toml")
    with open(path, "w") as out:
        out.write(description(count))
    extra = [] if verify else ["--no-verify"]
    timed([OCFGEN, "build", path, "-o", os.path.join(work, "warm.xml"), *extra])  # meta-data cache
    runs = [timed([OCFGEN, "build", path, "-o", os.path.join(work, f"cib{i}.xml"), *extra])
            for i in range(repeat)]
    return statistics.median(runs)


def bench_crmsh(work, count, repeat):
    path = os.path.join(work, "bench.crm")
    with open(path, "w") as out:
        out.write(crmsh_text(count))
    runs = []
    for index in range(repeat):
        cib = os.path.join(work, f"crmsh{index}.xml")
        blank_cib(cib)
        env = dict(os.environ, CIB_file=cib)
        runs.append(timed(["crm", "configure", "load", "update", path], env=env))
        with open(cib) as check:
            if check.read().count("<primitive ") != count:
                sys.exit("crmsh did not load every primitive")
    return statistics.median(runs)


def bench_pcs(work, sample):
    cib = os.path.join(work, "pcs.xml")
    blank_cib(cib)
    began = time.perf_counter()
    for rid in names(sample):
        timed(["pcs", "-f", cib, "resource", "create", rid, AGENT, "op", "monitor",
               "interval=10s", "timeout=20s"])
    for first, then in zip(names(sample), names(sample)[1:]):
        timed(["pcs", "-f", cib, "constraint", "order", first, "then", then])
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--crmsh-repeat", type=int, default=1)
    parser.add_argument("--pcs-sample", type=int, default=20)
    args = parser.parse_args()
    for tool in ("cibadmin", "crm", "pcs"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")
    work = tempfile.mkdtemp(prefix="ocfgen-bench-")
    try:
        n = args.resources
        ocfgen_rng = bench_ocfgen(work, n, args.repeat, verify=False)
        ocfgen_full = bench_ocfgen(work, n, args.repeat, verify=True)
        # What-if on the same description (3 nodes, each lost once); information, no target.
        simulate = timed([OCFGEN, "simulate", os.path.join(work, "bench.toml")])
        # The N-1 verdict alone (load, render, validate, placement, each node lost): < 5 s.
        verdict = timed([OCFGEN, "check", "--n-1", os.path.join(work, "bench.toml")])
        crmsh = bench_crmsh(work, n, args.crmsh_repeat)
        pcs_sample = bench_pcs(work, args.pcs_sample)
        pcs = pcs_sample * (n / args.pcs_sample)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{n} primitives ({AGENT}, monitor op) and {n - 1} orderings, offline CIB:")
    print(f"  ocfgen build + RNG validation   {ocfgen_rng:8.2f} s  (median of {args.repeat})")
    print(f"  ocfgen build + RNG + crm_verify {ocfgen_full:8.2f} s  (median of {args.repeat})")
    print(f"  crmsh configure load update     {crmsh:8.2f} s  (median of {args.crmsh_repeat})")
    print(f"  pcs -f, one call per change     {pcs:8.2f} s  (extrapolated from "
          f"{args.pcs_sample} resources: {pcs_sample:.2f} s)")
    print(f"  ocfgen simulate (placement + each of 3 nodes lost) {simulate:.2f} s")
    print(f"  ocfgen check --n-1 (full N-1 verdict, 3 node losses) {verdict:.2f} s  (target < 5 s)")
    print(f"ratio crmsh / ocfgen(build+RNG):        {crmsh / ocfgen_rng:6.1f}x  (target >= 10x)")
    print(f"ratio crmsh / ocfgen(build+RNG+verify): {crmsh / ocfgen_full:6.1f}x")
    print(f"ratio pcs / ocfgen(build+RNG):          {pcs / ocfgen_rng:6.1f}x")


if __name__ == "__main__":
    main()
