"""`ocfpy-ioc list | attach | log` against real IOCs (pythonSoftIOC under procServ, run by
the epics-ioc agent) on two different nodes of the three-node cluster, asked from a third: one
IOC's console on its node's loopback, one on a unix socket in its node's /run, and two IOCs of
their own addresses beside the first on one node with the agent's default console, a unix
socket each (procServ binds any TCP console to 127.0.0.1, so one console port for every IOC of
its own address, as ocfgen once wrote, let only one of them start on a node)."""

import json
import os
import subprocess

import pytest
from ocfrun import PYTHON

from ocfpy.testbed import services

pytestmark = pytest.mark.cluster


def _ioc(cluster, *args, input=None):
    pids = [f"--pid={node}={cluster.node(node).ns.pid}" for node in cluster.nodes]
    return subprocess.run([PYTHON, "-m", "ocfpy.iocctl", "--runner", "nsenter", *pids,
                           "--via", "node1", "--python", PYTHON, *args], input=input,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def iocs(cluster3):
    """IOC t-ioc-a (OPSA, console 127.0.0.1:17960) on node2, t-ioc-b (OPSB, console
    unix:/run/t-ioc-b.sock) on node3, t-ioc-c and t-ioc-d (OPSC and OPSD, addresses 127.0.0.2
    and 127.0.0.3 of node2's loopback, default consoles) on node2."""
    boot_root = os.path.join(cluster3.dir, "ioc-ops")
    os.makedirs(boot_root)
    a = services.epics_ioc("t-ioc-a", boot_root, ioc_name="OPSA", ca_port=15960,
                           console_port=17960)
    b = services.epics_ioc("t-ioc-b", boot_root, ioc_name="OPSB", ca_port=15980,
                           console_port=17970)
    b["params"]["console"] = "unix:/run/t-ioc-b.sock"
    own = []
    for rid, name, ca_port, address in (("t-ioc-c", "OPSC", 15940, "127.0.0.2"),
                                        ("t-ioc-d", "OPSD", 15950, "127.0.0.3")):
        spec = services.epics_ioc(rid, boot_root, ioc_name=name, ca_port=ca_port)
        spec["params"]["address"] = address
        own.append(spec)
    placed = {"t-ioc-a": "node2", "t-ioc-b": "node3", "t-ioc-c": "node2", "t-ioc-d": "node2"}
    try:
        for spec in (a, b, *own):
            cluster3.create_resource(**spec, wait=False)
            cluster3.run("node1", ["cibadmin", "--create", "--scope", "constraints",
                                   "--xml-text", f'<rsc_location id="{spec["id"]}-here" rsc='
                                   f'"{spec["id"]}" node="{placed[spec["id"]]}" '
                                   f'score="INFINITY"/>'])
        for rid, node in placed.items():
            cluster3.wait_until(lambda r=rid, n=node: cluster3.where(r) == [n], 90,
                                f"{rid} to run on {node}")
        yield {"a": a, "b": b, "c": own[0], "d": own[1]}
    finally:
        for rid in placed:
            try:
                cluster3.delete_resource(rid, timeout=90)
            finally:
                cluster3.run("node1", ["cibadmin", "--delete", "--xml-text",
                                       f'<rsc_location id="{rid}-here"/>'], check=False)


def test_list_shows_where_each_ioc_runs_and_its_last_failure(cluster3, iocs):
    listed = _ioc(cluster3, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    found = {i["resource"]: i for i in json.loads(listed.stdout)}
    assert found["t-ioc-a"]["nodes"] == ["node2"] and found["t-ioc-a"]["ioc_name"] == "OPSA"
    assert found["t-ioc-b"]["nodes"] == ["node3"] and found["t-ioc-b"]["state"] == "Started"
    assert found["t-ioc-a"]["last_failure"] is None
    assert found["t-ioc-c"]["nodes"] == found["t-ioc-d"]["nodes"] == ["node2"]
    assert found["t-ioc-c"]["console"] == "unix:/run/ocfpy/epics-ioc/t-ioc-c.console/control"
    assert found["t-ioc-a"]["console"] == "127.0.0.1:17960"

    child_file = "/run/ocfpy/epics-ioc/t-ioc-a.pid.ioc"
    child = cluster3.pidfile_pid("node2", child_file)
    cluster3.signal("node2", child, "KILL")
    cluster3.wait_restarted("t-ioc-a", "node2", child_file, child, timeout=90)
    found = {i["resource"]: i for i in json.loads(_ioc(cluster3, "list", "--json").stdout)}
    failure = found["t-ioc-a"]["last_failure"]
    assert failure["node"] == "node2" and failure["operation"] == "monitor"
    assert failure["rc"] == 1 and failure["exit_reason"], failure
    assert found["t-ioc-b"]["last_failure"] is None
    text = _ioc(cluster3, "list").stdout.splitlines()
    assert text[0].split()[:5] == ["RESOURCE", "IOC", "NODE", "STATE", "CONSOLE"]
    row = next(line for line in text if line.startswith("t-ioc-a "))
    assert row.split()[1:4] == ["OPSA", "node2", "Started"] and "monitor rc=1 on node2" in row
    print("\n" + "\n".join(text))


def test_attach_reads_the_console_on_its_node_and_writes_only_when_asked(cluster3, iocs):
    for name, node in (("t-ioc-a", "node2"), ("OPSB", "node3"), ("OPSC", "node2"),
                       ("t-ioc-d", "node2")):
        done = _ioc(cluster3, "attach", name, "--for", "2", input="print(6*7*1000+1)\n")
        assert done.returncode == 0, (name, done.stderr)
        assert "Welcome to procServ" in done.stdout, (name, done.stdout)
        assert f"on {node}, console" in done.stderr and "read-only" in done.stderr
        assert "42001" not in done.stdout  # read-only: what was typed never reached the IOC
    done = _ioc(cluster3, "attach", "t-ioc-b", "--write", "--for", "4",
                input="print(6*7*1000+1)\n")
    assert done.returncode == 0, done.stderr
    assert "42001" in done.stdout, done.stdout


def test_log_reads_the_console_log_and_unknown_names_are_refused(cluster3, iocs):
    done = _ioc(cluster3, "log", "OPSA", "-n", "200")
    assert done.returncode == 0, done.stderr
    assert 'epicsEnvSet("IOCNAME", "OPSA")' in done.stdout
    assert f"{iocs['a']['params']['logfile']} on node2" in done.stderr
    missing = _ioc(cluster3, "attach", "NOPE")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == ("ocfpy-ioc: no epics-ioc resource or IOC named 'NOPE' "
                                      "(IOC resources: t-ioc-a, t-ioc-b, t-ioc-c, t-ioc-d)")
