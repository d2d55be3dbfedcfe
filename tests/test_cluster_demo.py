"""The README's demo (dev/demo.sh runs it after bootstrap), on a single-node cluster."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cluster


@pytest.mark.skipif(os.geteuid() != 0, reason="the demo needs root")
def test_demo_runs_the_service_set_and_the_drill():
    done = subprocess.run([sys.executable, "-I", "-m", "ocfpy.testbed.demo", "--nodes", "1"],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "cluster_name: ocfpy" in out and "crypto_cipher: aes256" in out
    # Fencing is on, with the device ocfgen generated for the node's simulated BMC.
    assert "fencing: stonith-enabled=true" in out
    assert re.search(r"fence-node1-ipmilan  node1's BMC at 10\.254\.1\.101:623", out), out
    # crm_mon, before the drill, lists the group's resources started on the node.
    assert re.search(r"status-web\s+\(ocf:ocfpy:daemon\):\s+Started node1", out)
    for scenario in ("kill", "hang"):
        assert re.search(rf"^  {scenario} +\d+\.\d\d s ", out, re.M), out
    assert "no process, namespace or file of the cluster is left" in out
    assert "Traceback" not in done.stderr
