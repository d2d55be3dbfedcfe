"""The generated nftables ruleset lets real Channel Access and pvAccess clients reach every IOC
of a node, and nothing the description does not name.

Three real IOCs (pythonSoftIOC under procServ, started by ocf:ocfpy:epics-ioc) share one test
namespace: two on the node's own address with ports of their own (ca_port, pva_port), one on
an address of its own with the standard ports (`address`). `ocfgen firewall` writes the node's
ruleset from a description of them; it is loaded inside that namespace only. A CA client
(caproto, an implementation independent of ours) and a pvAccess client (p4p) in a second
namespace read every IOC's heartbeat through it; a fourth IOC, started on a port the
description does not know, answers before the ruleset is loaded and not after.

Namespaces ocfe<pid>s/c with 10.213.1.0/24, used only inside them; removed at the end.
"""

import json
import os
import subprocess
import sys

import pytest
from ocfrun import AGENT_DIR, OCFGEN, PYTHON, pacemaker_environment
from test_epics_ioc import IOC_SCRIPT

pytestmark = pytest.mark.root
PREFIX = f"ocfe{os.getpid()}"
NODE, CLIENT, OWN, OTHER_NODE = "10.213.1.11", "10.213.1.12", "10.213.1.21", "10.213.1.13"
# name -> (parameters beyond the common ones, CA server "HOST:PORT", pvAccess server)
IOCS = {
    "ioc-a": ({"ca_port": "5071", "pva_port": "5081", "console": "17601"},
              f"{NODE}:5071", f"{NODE}:5081"),
    "ioc-b": ({"ca_port": "5072", "pva_port": "5082", "console": "17602"},
              f"{NODE}:5072", f"{NODE}:5082"),
    "ioc-c": ({"address": OWN}, f"{OWN}:5064", f"{OWN}:5075"),
}
# Not in the description: its ports stay closed.
UNKNOWN = ({"ca_port": "5090", "pva_port": "5091", "console": "17603"}, f"{NODE}:5090",
           f"{NODE}:5091")

CA_READ = """
import json, sys
from caproto.sync.client import read
out = {}
for pv in sys.argv[1:]:
    try:
        out[pv] = int(read(pv, timeout=2, repeater=False).data[0])
    except Exception as exc:
        out[pv] = type(exc).__name__
print(json.dumps(out))
"""
PVA_READ = """
import json, sys
from p4p.client.thread import Context
out = {}
with Context("pva", conf={"EPICS_PVA_NAME_SERVERS": sys.argv[1], "EPICS_PVA_AUTO_ADDR_LIST": "NO",
                          "EPICS_PVA_ADDR_LIST": ""}, useenv=False) as ctxt:
    for pv in sys.argv[2:]:
        try:
            out[pv] = int(ctxt.get(pv, timeout=3))
        except Exception as exc:
            out[pv] = type(exc).__name__
print(json.dumps(out))
"""


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def in_ns(ns, argv, env=None, timeout=60):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture
def namespaces():
    node, client = f"{PREFIX}s", f"{PREFIX}c"
    try:
        ip("netns", "add", node)
        ip("netns", "add", client)
        ip("link", "add", f"{PREFIX}a", "netns", node, "type", "veth", "peer", "name",
           f"{PREFIX}b", "netns", client)
        for ns, end, addresses in ((node, f"{PREFIX}a", (NODE, OWN)),
                                   (client, f"{PREFIX}b", (CLIENT,))):
            for address in addresses:   # OWN stands in for the IPaddr2 of ioc-c
                ip("-n", ns, "addr", "add", f"{address}/24", "dev", end)
            ip("-n", ns, "link", "set", end, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield node, client
    finally:
        ip("netns", "del", node, check=False)
        ip("netns", "del", client, check=False)


def description(tmp_path):
    lines = ['[cluster]\nname = "fwtest"\n[properties]\nstonith-enabled = false\n',
             f'[nodes.srv]\naddresses = ["{NODE}"]\n[nodes.other]\naddresses = ["{OTHER_NODE}"]\n']
    for name, (params, _, _) in IOCS.items():
        params = dict(params)
        address = params.pop("address", None)
        lines.append(f"[resources.{name}]\nagent = \"ocf:ocfpy:epics-ioc\"\n"
                     + (f'address = "{address}/24"\n' if address else "")
                     + f"[resources.{name}.params]\nioc_name = \"{name}\"\n"
                     + f'boot_dir = "{tmp_path / name}"\n'
                     + "".join(f'{k} = "{v}"\n' for k, v in params.items()))
    path = tmp_path / "cluster.toml"
    path.write_text("\n".join(lines))
    hosts = tmp_path / "hosts.toml"
    hosts.write_text('[firewall]\nclients = ["10.213.1.0/24"]\nadmin = ["10.213.1.250"]\n')
    return path, hosts


class Iocs:
    """IOC resources started by the agent inside the node's namespace; all stopped at the end."""

    def __init__(self, ns, tmp_path):
        self.ns, self.tmp_path, self.started = ns, tmp_path, []

    def params(self, name, extra):
        boot = self.tmp_path / name
        boot.mkdir(exist_ok=True)
        (boot / "st.cmd").write_text(f'epicsEnvSet("IOCNAME", "{self.pv_prefix(name)}")\n')
        params = {"ioc_name": name, "boot_dir": str(boot), "ioc_command": f"{PYTHON} {IOC_SCRIPT}",
                  "logfile": str(self.tmp_path / f"{name}.log"),
                  "pidfile": str(self.tmp_path / f"{name}.pid"),
                  "heartbeat_pv": f"{self.pv_prefix(name)}:HEARTBEAT", "stop_command": "exit()",
                  "environment": "IOC_PVA=YES EPICS_CA_AUTO_ADDR_LIST=NO"}
        params.update(extra)
        return params

    @staticmethod
    def pv_prefix(name):
        return f"FW{os.getpid()}{name[-1].upper()}"

    def run(self, name, action, params):
        env = pacemaker_environment(name, params, timeout_ms=30000,
                                    extra={"HA_LOGFILE": str(self.tmp_path / "agent.log")})
        return in_ns(self.ns, [f"{AGENT_DIR}/epics-ioc", action], env=env)

    def start(self, name, extra):
        params = self.params(name, extra)
        self.started.append((name, params))
        done = self.run(name, "start", params)
        assert done.returncode == 0, done.stderr

    def stop_all(self):
        for name, params in self.started:
            assert self.run(name, "stop", params).returncode == 0


def read_ca(client, servers, pvs):
    env = dict(os.environ, EPICS_CA_ADDR_LIST=" ".join(servers), EPICS_CA_AUTO_ADDR_LIST="NO")
    done = in_ns(client, [sys.executable, "-c", CA_READ, *pvs], env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def read_pva(client, servers, pvs):
    done = in_ns(client, [sys.executable, "-c", PVA_READ, " ".join(servers), *pvs])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ca_and_pva_clients_reach_every_ioc_through_the_generated_ruleset(namespaces, tmp_path):
    node, client = namespaces
    cluster, hosts = description(tmp_path)
    done = subprocess.run([*OCFGEN, "firewall", str(cluster), "--hosts", str(hosts), "-o",
                           str(tmp_path / "nft")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ruleset = tmp_path / "nft" / "srv.nft"
    text = ruleset.read_text()
    for port in ("5064", "5071", "5072", "5075", "5081", "5082"):
        assert f"tcp dport {port} accept" in text
    assert "5090" not in text and "5091" not in text
    iocs = Iocs(node, tmp_path)
    try:
        for name, (params, _, _) in IOCS.items():
            iocs.start(name, params)
        iocs.start("ioc-d", UNKNOWN[0])
        everything = dict(IOCS, **{"ioc-d": UNKNOWN})
        ca_servers = [ca for _, ca, _ in everything.values()]
        pva_servers = [pva for _, _, pva in everything.values()]
        heartbeats = {name: f"{iocs.pv_prefix(name)}:HEARTBEAT" for name in everything}

        before_ca = read_ca(client, ca_servers, heartbeats.values())
        before_pva = read_pva(client, pva_servers, heartbeats.values())
        assert all(isinstance(v, int) for v in before_ca.values()), before_ca  # no firewall yet
        assert all(isinstance(v, int) for v in before_pva.values()), before_pva

        load = in_ns(node, ["nft", "-f", str(ruleset)])
        assert load.returncode == 0, load.stderr

        after_ca = read_ca(client, ca_servers, heartbeats.values())
        after_pva = read_pva(client, pva_servers, heartbeats.values())
        for name in IOCS:
            assert isinstance(after_ca[heartbeats[name]], int), (name, after_ca)
            assert isinstance(after_pva[heartbeats[name]], int), (name, after_pva)
        assert not isinstance(after_ca[heartbeats["ioc-d"]], int), after_ca   # not opened
        assert not isinstance(after_pva[heartbeats["ioc-d"]], int), after_pva
        # The agents' own checks still pass: they read over the node's loopback or own address.
        for name, params in iocs.started:
            env = pacemaker_environment(name, params, interval_ms=10000,
                                        extra={"OCF_CHECK_LEVEL": "10"})
            check = in_ns(node, [f"{AGENT_DIR}/epics-ioc", "monitor"], env=env)
            assert check.returncode == 0, (name, check.stderr)
    finally:
        in_ns(node, ["nft", "delete", "table", "inet", "ocfpy"])
        iocs.stop_all()


def test_iocs_sharing_a_port_without_own_addresses_are_refused(tmp_path):
    """Two IOCs on the node's addresses with the default ports: the second would serve on a
    random TCP port, so `ocfgen firewall` names both and says what to give them."""
    path = tmp_path / "c.toml"
    path.write_text('[cluster]\nname = "x"\n[properties]\nstonith-enabled = false\n'
                    '[nodes.n1]\naddresses = ["10.213.1.31"]\n'
                    '[resources.one]\nagent = "ocf:ocfpy:epics-ioc"\n'
                    'params = { ioc_name = "one", boot_dir = "/epics/one", console = "7001" }\n'
                    '[resources.two]\nagent = "ocf:ocfpy:epics-ioc"\n'
                    'params = { ioc_name = "two", boot_dir = "/epics/two", console = "7002" }\n')
    hosts = tmp_path / "h.toml"
    hosts.write_text("[firewall]\nclients = []\n")
    done = subprocess.run([*OCFGEN, "firewall", str(path), "--hosts", str(hosts), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "two and one both serve Channel Access on port 5064" in done.stderr
    assert "give each IOC an `address` or its own ca_port" in done.stderr
    assert not (tmp_path / "out").exists()
