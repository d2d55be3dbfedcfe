"""ocfgen's remote nodes: [remote] and [remote_nodes.NAME] become connection resources, remote
node entries, fencing through their BMCs, #kind location rules; `ocfgen remote` writes the
pacemaker_remote key and firewall rules that nft accepts; mistakes are located errors."""

import os
import stat
import subprocess

import pytest
from lxml import etree
from ocfrun import OCFGEN

BMC = 'username = "admin", password_script = "/etc/cluster/ipmi-password"'
DESCRIPTION = f"""[cluster]
name = "ioc-farm"
[nodes.n1]
addresses = ["192.0.2.1"]
[[nodes.n1.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.1", {BMC} }}
[nodes.n2]
addresses = ["192.0.2.2"]
[[nodes.n2.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.2", {BMC} }}
[nodes.n3]
addresses = ["192.0.2.3"]
[[nodes.n3.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.3", {BMC} }}
[remote]
reconnect_interval = "30s"
[remote_nodes.ioc-host-1]
address = "192.0.2.31"
attributes = {{ rack = "r2" }}
[[remote_nodes.ioc-host-1.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.31", {BMC} }}
[resources.bpm]
agent = "ocf:ocfpy:epics-ioc"
params = {{ ioc_name = "BPM", boot_dir = "/srv/ioc/BPM" }}
[resources.archiver-proxy]
agent = "ocf:ocfpy:daemon"
params = {{ command = "/usr/bin/sleep 1000" }}
"""


def _build(tmp_path, text):
    path = tmp_path / "farm.toml"
    path.write_text(text)
    done = subprocess.run([*OCFGEN, "build", str(path), "-o", str(tmp_path / "cib.xml")],
                          capture_output=True, text=True, timeout=120)
    return path, done


def test_remote_nodes_in_the_cib(tmp_path):
    _, done = _build(tmp_path, DESCRIPTION)
    assert done.returncode == 0, done.stderr  # RNG schema and crm_verify
    config = etree.parse(str(tmp_path / "cib.xml")).find("configuration")
    node = config.find("nodes/node[@uname='ioc-host-1']")
    assert node.get("type") == "remote"
    assert node.find("instance_attributes/nvpair[@name='rack']").get("value") == "r2"
    connection = config.find("resources/primitive[@id='ioc-host-1']")
    assert (connection.get("provider"), connection.get("type")) == ("pacemaker", "remote")
    params = {nv.get("name"): nv.get("value")
              for nv in connection.iterfind("instance_attributes/nvpair")}
    assert params == {"server": "192.0.2.31", "port": "3121", "reconnect_interval": "30s"}
    device = config.find("resources/primitive[@id='fence-ioc-host-1-ipmilan']")
    assert device.find("instance_attributes/nvpair[@name='pcmk_host_list']").get(
        "value") == "ioc-host-1"
    level = config.find("fencing-topology/fencing-level[@target='ioc-host-1']")
    assert level.get("devices") == "fence-ioc-host-1-ipmilan"
    rules = {}
    for location in config.iterfind("constraints/rsc_location"):
        expression = location.find("rule/expression")
        if expression is not None and expression.get("attribute") == "#kind":
            assert location.get("resource-discovery") == "never"
            assert location.find("rule").get("score") == "-INFINITY"
            rules[location.get("rsc")] = (expression.get("operation"), expression.get("value"))
    # The IOC only on remote hosts, the other service only on full nodes.
    assert rules == {"bpm": ("ne", "remote"), "archiver-proxy": ("ne", "cluster")}


def test_ocfgen_remote_writes_the_key_and_firewall_rules(tmp_path):
    path, _ = _build(tmp_path, DESCRIPTION)
    out = tmp_path / "out"
    done = subprocess.run([*OCFGEN, "remote", str(path), "-o", str(out)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    key = out / "etc" / "pacemaker" / "authkey"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o400 and key.stat().st_size == 256
    first = key.read_bytes()
    rules = (out / "etc" / "nftables.d" / "pacemaker-remote.nft").read_text()
    assert "ip saddr { 192.0.2.1, 192.0.2.2, 192.0.2.3 } tcp dport { 3121 } accept" in rules
    check = subprocess.run(["nft", "-c", "-f", str(out / "etc" / "nftables.d" /
                                                  "pacemaker-remote.nft")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    again = subprocess.run([*OCFGEN, "remote", str(path), "-o", str(out)], capture_output=True,
                           text=True, timeout=60)
    assert "authkey kept" in again.stdout and key.read_bytes() == first  # never silently replaced


@pytest.mark.parametrize("change, error", [
    (('address = "192.0.2.31"', 'address = "192.0.2.2"'),
     "remote_nodes.ioc-host-1.address: address 192.0.2.2 is already used by n2"),
    (('address = "192.0.2.31"', 'address = "ioc-host-1"'),
     "remote_nodes.ioc-host-1.address: 'ioc-host-1' is not an IP address"),
    (("[remote_nodes.ioc-host-1]", "[remote_nodes.n3]"),
     "remote_nodes.n3: n3 is already a full node"),
    (('reconnect_interval = "30s"', 'reconnect_interval = "soon"'),
     "remote.reconnect_interval: 'soon' is not a duration"),
])
def test_remote_mistakes_are_located(tmp_path, change, error):
    path, done = _build(tmp_path, DESCRIPTION.replace(*change).replace(
        "ioc-host-1.fencing", "n3.fencing" if "n3]" in change[1] else "ioc-host-1.fencing"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error in done.stderr and done.stderr.startswith(f"{path}:"), done.stderr
