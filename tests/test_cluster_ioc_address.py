"""One address per IOC on the real three-node cluster: the group ocfgen makes from a resource's
`address` (an ocf:heartbeat:IPaddr2 started before the IOC) runs a real soft IOC whose Channel
Access server is bound to that address; a client that knows only the address reads the IOC's
heartbeat, and after the node running it dies (fenced through its BMC) reads it again on the
node it moved to, without any change on the client's side.

The client runs in the cluster's hub namespace (the bridge the nodes hang on, given
10.254.0.200 for this test); the IOC's address 10.254.0.50 exists only inside the test cluster.
"""

import os
import subprocess
import xml.etree.ElementTree as ET

import pytest
from ocfrun import OCFGEN, PYTHON
from test_epics_ioc import IOC_SCRIPT

IOC_ADDRESS = "10.254.0.50"
CLIENT_ADDRESS = "10.254.0.200"
READ = ("import sys; from caproto.sync.client import read; "
        "print(int(read(sys.argv[1], timeout=3, repeater=False).data[0]))")


def group_from_ocfgen(tmp_path, rid, name, boot, cluster):
    """The <group> `ocfgen build` makes of an IOC resource with an address, described in the
    test cluster's own description (its nodes, options and fencing: stonith on)."""
    lines = [cluster.description()]
    lines.append(f'[resources.{rid}]\nagent = "ocf:ocfpy:epics-ioc"\n'
                 f'address = "{IOC_ADDRESS}/24"\n'
                 f'ops = [{{ name = "monitor", interval = "5s", timeout = "20s", '
                 f'OCF_CHECK_LEVEL = 10 }}, {{ name = "start", timeout = "40s" }}]\n'
                 f'[resources.{rid}.params]\nioc_name = "{name}"\nboot_dir = "{boot}"\n'
                 f'ioc_command = "{PYTHON} {IOC_SCRIPT}"\nheartbeat_pv = "{name}:HEARTBEAT"\n'
                 f'stop_command = "exit()"\n')
    path = tmp_path / "addr.toml"
    path.write_text("\n".join(lines))
    done = subprocess.run([*OCFGEN, "build", str(path)], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    root = ET.fromstring(done.stdout)
    group = root.find(f".//group[@id='{rid}-group']")
    members = [p.get("type") for p in group.iter("primitive")]
    assert members == ["IPaddr2", "epics-ioc"]               # the address first, in one group
    return ET.tostring(group, encoding="unicode")


def hub(cluster, argv, **kwargs):
    return subprocess.run(["nsenter", "-t", str(cluster.hub.pid), "-n", *argv],
                          capture_output=True, text=True, timeout=60, **kwargs)


def client_read(cluster, pv):
    env = dict(os.environ, EPICS_CA_ADDR_LIST=IOC_ADDRESS, EPICS_CA_AUTO_ADDR_LIST="NO")
    done = hub(cluster, [PYTHON, "-c", READ, pv], env=env)
    return int(done.stdout) if done.returncode == 0 else done.stderr.strip().splitlines()[-1:]


@pytest.mark.cluster
def test_a_client_naming_only_the_ioc_address_reads_it_again_after_failover(cluster3, tmp_path):
    rid = f"ioc-addr-{os.getpid()}"
    name = f"E4A{os.getpid()}"
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "st.cmd").write_text(f'epicsEnvSet("IOCNAME", "{name}")\n')
    tmp_path.chmod(0o755)
    xml = group_from_ocfgen(tmp_path, rid, name, boot, cluster3)
    assert hub(cluster3, ["ip", "addr", "add", f"{CLIENT_ADDRESS}/24", "dev", "br0"]).returncode == 0
    group = f"{rid}-group"
    try:
        cluster3.create_resource(xml, timeout=120)
        first = cluster3.wait_until(lambda: cluster3.where(rid), 120, f"{rid} to start")
        assert len(first) == 1 and cluster3.where(group) == first
        served = cluster3.run(first[0], ["ip", "-o", "addr", "show", "dev", "eth0"]).stdout
        assert f"inet {IOC_ADDRESS}/24" in served                      # IPaddr2 put it there
        listening = cluster3.run(first[0], ["ss", "-Htln", "sport", "=", ":5064"]).stdout
        assert f"{IOC_ADDRESS}:5064" in listening and "0.0.0.0:5064" not in listening
        before = client_read(cluster3, f"{name}:HEARTBEAT")
        assert isinstance(before, int), before

        cluster3.kill_node(first[0])
        survivor = next(n for n in cluster3.nodes if n != first[0])
        after = cluster3.wait_until(
            lambda: [n for n in cluster3.where(rid, on=survivor) if n != first[0]], 180,
            f"{rid} to run on another node")
        assert cluster3.where(group, on=survivor) == after
        heartbeat = cluster3.wait_until(
            lambda: (lambda v: v if isinstance(v, int) else None)(
                client_read(cluster3, f"{name}:HEARTBEAT")), 30,
            "the client to read the moved IOC at its address")
        assert heartbeat >= 0
        moved = cluster3.run(after[0], ["ip", "-o", "addr", "show", "dev", "eth0"]).stdout
        assert f"inet {IOC_ADDRESS}/24" in moved
    finally:
        hub(cluster3, ["ip", "addr", "del", f"{CLIENT_ADDRESS}/24", "dev", "br0"])
        alive = [n for n in cluster3.nodes if cluster3.node(n).up]
        cluster3.delete_resource(group, timeout=90, on=alive[0] if alive else None)
        for node in cluster3.nodes:
            if not cluster3.node(node).up:
                cluster3.restart_node(node)
