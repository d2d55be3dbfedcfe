"""ocfgen's nftables output: `nft -c -f` accepts every generated ruleset, bad openings are refused
by name, and a ruleset loaded in a network namespace of this test lets through exactly what it
opens (TCP connections from a second namespace over a veth pair).

Namespaces are ocfk<pid>f1/f2 with 10.213.0.0/24 addresses used only inside them; deleted at the
end, also on failure. Nothing is loaded into the host's own ruleset.
"""

import json
import os
import subprocess
import sys

import pytest

from ocfpy.generators.render import firewall as fw

pytestmark = pytest.mark.root
PREFIX = f"ocfk{os.getpid()}"
NODES = ("10.213.0.11", "10.213.0.12", "10.213.0.13")


def nft_check(path):
    done = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    return done.returncode, (done.stdout + done.stderr).strip()


def full_cluster(node="n1"):
    """Everything the project's systems use on one node of a three-node cluster."""
    openings = (
        fw.corosync(NODES, links=2),
        fw.pacemaker_remote(NODES),
        fw.pcsd(NODES),
        fw.acs_instance(0, ("10.213.0.0/24",)),
        fw.acs_instance(2, ("10.213.0.0/24",)),
        fw.acs_daemons(("10.213.0.0/24",)),
        *fw.epics_ca(("10.213.0.0/24", "fd00:213::/64"), client=True),
        fw.procserv_console("llrf", 7001),
        *fw.archiver(("10.213.0.0/24",), appliances=NODES[1:]),
        *fw.ducc(NODES, ()),
        fw.vrrp((NODES[1],)),
    )
    return fw.NodeFirewall(node, openings, admin_sources=("10.213.0.0/24",))


def test_full_cluster_ruleset_passes_nft_check(tmp_path):
    path = tmp_path / "n1.nft"
    text = fw.render(full_cluster())
    path.write_text(text)
    assert nft_check(path) == (0, "")
    # What it opens, spelled out: the documented ports and nothing from anywhere else.
    assert "ip saddr { 10.213.0.11, 10.213.0.12, 10.213.0.13 } udp dport 5405-5406 accept" in text
    assert "tcp dport { 3000-3007, 3011-3013, 3050-3100 } accept" in text
    assert "tcp dport { 3200-3207, 3211-3213, 3250-3300 } accept" in text
    assert "ip6 saddr fd00:213::/64 tcp dport 5064 accept" in text
    assert "udp dport 5065 accept" in text and "udp sport 5064 accept" in text
    assert "ip saddr 10.213.0.12 ip protocol vrrp accept" in text
    assert "# procServ console llrf: tcp dport 7001 listens on loopback only" in text
    assert "tcp dport 42133 accept" in text      # the DUCC web server is for everyone
    assert "policy drop;" in text


def test_nft_check_catches_a_broken_ruleset(tmp_path):
    """The check above can fail: a mistyped keyword is reported with its line."""
    path = tmp_path / "bad.nft"
    path.write_text(fw.render(full_cluster()).replace("udp dport 5065", "udp dprot 5065"))
    rc, output = nft_check(path)
    assert rc != 0 and "bad.nft:" in output


def test_overlapping_ports_are_merged(tmp_path):
    opening = fw.Opening("overlap", "tcp", (10, (5, 12), 13, (100, 101), 101))
    text = fw.render(fw.NodeFirewall("n", (opening,)))
    assert "tcp dport { 5-13, 100-101 } accept" in text
    path = tmp_path / "o.nft"
    path.write_text(text)
    assert nft_check(path) == (0, "")


@pytest.mark.parametrize("opening, why", [
    (fw.Opening("x", "sctp", (1,)), "protocol 'sctp'"),
    (fw.Opening("x", "tcp", (0,)), "port 0"),
    (fw.Opening("x", "tcp", (70000,)), "port 70000"),
    (fw.Opening("x", "tcp", ((20, 10),)), "runs backwards"),
    (fw.Opening("x", "tcp", ()), "no ports"),
    (fw.Opening("x", "tcp", (80,), ("10.0.0.300",)), "'10.0.0.300' is not an address"),
    (fw.Opening('evil" accept', "tcp", (80,)), "plain text"),
    (fw.Opening("x", "vrrp", ()), "must name the peer"),
])
def test_bad_openings_refused(opening, why):
    with pytest.raises(fw.FirewallError, match=why.replace("(", r"\(")):
        fw.render(fw.NodeFirewall("n", (opening,)))


# The ruleset at work, in namespaces of this test.

def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


SERVER = """
import socket, sys, time
socks = []
for port in map(int, sys.argv[1:]):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8); socks.append(s)
print("ready", flush=True)
time.sleep(60)
"""
CLIENT = """
import json, socket, sys
result = {}
for port in map(int, sys.argv[2:]):
    try:
        socket.create_connection((sys.argv[1], port), timeout=0.5).close(); result[port] = "open"
    except OSError as exc:
        result[port] = type(exc).__name__
print(json.dumps(result))
"""


@pytest.fixture
def two_namespaces():
    server, client = f"{PREFIX}f1", f"{PREFIX}f2"
    try:
        ip("netns", "add", server)
        ip("netns", "add", client)
        ip("link", "add", f"{PREFIX}fa", "netns", server, "type", "veth", "peer", "name",
           f"{PREFIX}fb", "netns", client)
        for ns, end, address in ((server, f"{PREFIX}fa", "10.213.0.11/24"),
                                 (client, f"{PREFIX}fb", "10.213.0.12/24")):
            ip("-n", ns, "addr", "add", address, "dev", end)
            ip("-n", ns, "link", "set", end, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield server, client
    finally:
        ip("netns", "del", server, check=False)
        ip("netns", "del", client, check=False)


def test_loaded_ruleset_lets_through_exactly_what_it_opens(two_namespaces, tmp_path):
    server, client = two_namespaces
    openings = (
        fw.pacemaker_remote(("10.213.0.12",)),                  # open to the client's address
        fw.procserv_console("llrf", 7001),                       # loopback only
        fw.Opening("DUCC web server", "tcp", (fw.DUCC_WS_PORT,)),  # open to anyone
    )
    path = tmp_path / "n1.nft"
    path.write_text(fw.render(fw.NodeFirewall("n1", openings, admin_ports=())))
    listener = subprocess.Popen(
        ["ip", "netns", "exec", server, sys.executable, "-c", SERVER, "3121", "7001", "42133",
         "9999"], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"

        def probe():
            done = subprocess.run(
                ["ip", "netns", "exec", client, sys.executable, "-c", CLIENT, "10.213.0.11",
                 "3121", "7001", "42133", "9999"],
                capture_output=True, text=True, check=True, timeout=30)
            return json.loads(done.stdout)

        assert set(probe().values()) == {"open"}               # no firewall yet: all reachable
        subprocess.run(["ip", "netns", "exec", server, "nft", "-f", str(path)], check=True,
                       timeout=30)
        after = probe()
        assert after == {"3121": "open", "42133": "open", "7001": "TimeoutError",
                         "9999": "TimeoutError"}       # dropped, not refused: policy drop
        # Loopback still reaches the console.
        local = subprocess.run(["ip", "netns", "exec", server, sys.executable, "-c", CLIENT,
                                "127.0.0.1", "7001"], capture_output=True, text=True, check=True)
        assert json.loads(local.stdout) == {"7001": "open"}
        # Loading again replaces the table rather than adding a second copy.
        subprocess.run(["ip", "netns", "exec", server, "nft", "-f", str(path)], check=True)
        listing = subprocess.run(["ip", "netns", "exec", server, "nft", "list", "ruleset"],
                                 capture_output=True, text=True, check=True).stdout
        assert listing.count("table inet ocfpy") == 1 and listing.count("dport 3121") == 1
    finally:
        listener.kill()
        listener.wait()


def test_source_restriction_holds(two_namespaces, tmp_path):
    server, client = two_namespaces
    path = tmp_path / "n1.nft"
    opening = fw.Opening("DUCC broker", "tcp", (61617,), ("10.213.0.99",))
    path.write_text(fw.render(fw.NodeFirewall("n1", (opening,), admin_ports=())))
    listener = subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-c", SERVER,
                                 "61617"], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        subprocess.run(["ip", "netns", "exec", server, "nft", "-f", str(path)], check=True)
        done = subprocess.run(["ip", "netns", "exec", client, sys.executable, "-c", CLIENT,
                               "10.213.0.11", "61617"], capture_output=True, text=True, check=True)
        assert json.loads(done.stdout)["61617"] != "open"
    finally:
        listener.kill()
        listener.wait()


def test_every_webapp_port_of_every_appliance_is_open(two_namespaces, tmp_path):
    """Two archiver appliances, the second on 17675-17678: the ruleset ocfgen makes from the
    description lets the other appliance host (the client namespace is node n2) reach all
    eight webapp ports and nothing next to them; clients reach mgmt and retrieval only."""
    from ocfpy.generators.load import description
    from ocfpy.generators.load import hosts as host_outputs

    server, client = two_namespaces
    path = tmp_path / "arch.toml"
    path.write_text(
        '[cluster]\nname = "arch"\n[properties]\nstonith-enabled = false\n'
        '[nodes.n1]\naddresses = ["10.213.0.11"]\n[nodes.n2]\naddresses = ["10.213.0.12"]\n'
        '[resources.archiver-1]\nagent = "ocf:ocfpy:archiver"\n'
        'params = { identity = "a1", appliances = "/etc/archappl/appliances.xml" }\n'
        '[resources.archiver-2]\nagent = "ocf:ocfpy:archiver"\n'
        'params = { identity = "a2", appliances = "/etc/archappl/appliances.xml", '
        'base_dir = "/arch/a2", mgmt_port = 17675, engine_port = 17676, etl_port = 17677, '
        'retrieval_port = 17678 }\n')
    cluster = description.load(str(path))
    outputs = host_outputs.loads('[firewall]\nclients = ["10.213.0.0/24"]\nadmin_ports = []\n')
    ruleset = tmp_path / "n1.nft"
    text = fw.render(fw.firewall_from_model(cluster, outputs, "n1"))
    ruleset.write_text(text)
    assert "ip saddr 10.213.0.0/24 tcp dport { 17675, 17678 } accept" in text
    assert "ip saddr { 10.213.0.11, 10.213.0.12 } tcp dport { 16670, 17675-17678 } accept" in text
    webapps = [str(p) for p in (*range(17665, 17669), *range(17675, 17679))]
    closed = ["17669", "17674", "17679"]
    listener = subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-c", SERVER,
                                 *webapps, *closed], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        subprocess.run(["ip", "netns", "exec", server, "nft", "-f", str(ruleset)], check=True)
        done = subprocess.run(["ip", "netns", "exec", client, sys.executable, "-c", CLIENT,
                               "10.213.0.11", *webapps, *closed], capture_output=True, text=True,
                              check=True, timeout=60)
        result = json.loads(done.stdout)
        assert {result[p] for p in webapps} == {"open"}, result
        assert {result[p] for p in closed} == {"TimeoutError"}, result
    finally:
        listener.kill()
        listener.wait()
