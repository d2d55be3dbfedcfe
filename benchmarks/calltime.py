"""What one command costs: wall time and the CPU its process used (shared by the benchmarks)."""

import resource
import subprocess
import time


def measure(argv, env):
    """(wall seconds, CPU seconds, exit code) of one run of argv."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode
