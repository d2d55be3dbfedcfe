"""ocfpy.ca, the agent's own Channel Access client, against two independent servers: a real EPICS
IOC (pythonSoftIOC: EPICS base's IOC core and RSRV) and caproto's pure-Python server, both run
from tests/peers/ca_servers.py. Bad peers are fake servers on loopback sockets made here, and
Hypothesis feeds the parser and the client arbitrary bytes: every failure must be a CAError.

Ports: Channel Access 15400-15499 on 127.0.0.1.
"""

import itertools
import os
import socket
import struct
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocfrun import PYTHON, REPO

from ocfpy import ca

SERVERS = os.path.join(REPO, "tests", "peers", "ca_servers.py")
VALUES = {"LONG": ("LONG", [42]), "DOUBLE": ("DOUBLE", [2.5]), "STRING": ("STRING", ["hello, CA"]),
          "ENUM": ("ENUM", [1]), "SHORT": ("SHORT", [-7, 8, 9]), "FLOAT": ("FLOAT", [0.5, 1.5]),
          "CHAR": ("CHAR", [104, 105, 0])}
BIG = 20000
_PORTS = itertools.count(15400 + (os.getpid() % 10) * 10, 2)


def loopback(port, **more):
    return {"EPICS_CA_SERVER_PORT": str(port), "EPICS_CA_ADDR_LIST": "127.0.0.1",
            "EPICS_CA_AUTO_ADDR_LIST": "NO", **more}


class Server:
    def __init__(self, kind):
        self.kind, self.port = kind, next(_PORTS)
        self.device = f"CAT{os.getpid()}{kind[0].upper()}"
        env = dict(os.environ, EPICS_CA_REPEATER_PORT=str(self.port + 1),
                   EPICS_CAS_INTF_ADDR_LIST="127.0.0.1", EPICS_CAS_BEACON_ADDR_LIST="127.0.0.1",
                   EPICS_CAS_AUTO_BEACON_ADDR_LIST="NO", **loopback(self.port))
        self.process = subprocess.Popen([PYTHON, SERVERS, kind, self.device], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        for line in self.process.stdout:
            if line.strip() == "ready":
                break
        else:
            raise RuntimeError(f"the {kind} server exited with {self.process.wait()}")

    def pv(self, name):
        return f"{self.device}:{name}"

    def stop(self):
        self.process.stdin.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module", params=["softioc", "caproto"])
def server(request):
    started = Server(request.param)
    yield started
    started.stop()


def test_reads_every_native_type_over_udp_search(server):
    names = [server.pv(name) for name in VALUES]
    values = ca.read_many(names, timeout=5, environ=loopback(server.port))
    for name, (type_name, expected) in VALUES.items():
        value = values[server.pv(name)]
        assert (value.type, value.values) == (type_name, expected), name
        assert value.server == f"127.0.0.1:{server.port}"
        assert value.value == expected[0]


def test_large_array_comes_in_an_extended_message(server):
    value = ca.read(server.pv("BIG"), timeout=5, environ=loopback(server.port))
    assert value.type == "DOUBLE" and len(value.values) == BIG
    assert value.values[:3] == [0.0, 1.0, 2.0] and value.values[-1] == BIG - 1
    first = ca.read(server.pv("BIG"), timeout=5, environ=loopback(server.port), count=1)
    assert first.values == [0.0]
    with pytest.raises(ca.ProtocolError, match="more than 65536"):
        ca.read(server.pv("BIG"), timeout=5, environ=loopback(server.port), max_payload=65536)


def test_direct_circuit_needs_no_search(server):
    nowhere = {"EPICS_CA_ADDR_LIST": "", "EPICS_CA_AUTO_ADDR_LIST": "NO"}
    with pytest.raises(ca.ConfigError, match="no address to search"):
        ca.read(server.pv("LONG"), timeout=1, environ=nowhere)
    value = ca.read(server.pv("LONG"), timeout=5, environ=nowhere,
                    server=f"127.0.0.1:{server.port}")
    assert value.values == [42]
    # EPICS_CA_SERVER_PORT is the port of a server address that names none.
    value = ca.read(server.pv("LONG"), timeout=5, environ=loopback(server.port),
                    server="127.0.0.1")
    assert value.values == [42]


def test_server_port_and_address_list_ports_are_honoured(server):
    wrong_default = loopback(server.port + 50, EPICS_CA_ADDR_LIST=f"127.0.0.1:{server.port}")
    assert ca.read(server.pv("LONG"), timeout=5, environ=wrong_default).values == [42]
    with pytest.raises(ca.CATimeout) as failed:
        ca.read(server.pv("LONG"), timeout=0.5, environ=loopback(server.port + 50))
    assert failed.value.name == server.pv("LONG")
    assert f"searched 127.0.0.1:{server.port + 50}" in str(failed.value)


@pytest.mark.timeout(30)
def test_unknown_pv_is_a_timeout_naming_it(server):
    names = [server.pv("LONG"), server.pv("NO_SUCH_PV")]
    with pytest.raises(ca.CATimeout) as failed:
        ca.read_many(names, timeout=0.5, environ=loopback(server.port))
    assert failed.value.name == server.pv("NO_SUCH_PV")
    assert str(failed.value).startswith(f"no server answered the search for {names[1]} within "
                                        "0.5s (searched 127.0.0.1:")


def test_no_threads_no_repeater_no_client_library(server):
    """A read in a fresh interpreter starts no thread and loads neither caproto nor numpy."""
    code = ("import sys, threading; from ocfpy import ca; "
            f"v = ca.read({server.pv('LONG')!r}, 5, {loopback(server.port)!r}); "
            "print(v.value, threading.active_count(), "
            "sorted(m for m in ('caproto', 'numpy', 'asyncio', 'selectors', 'socket') "
            "if m in sys.modules))")
    done = subprocess.run([PYTHON, "-I", "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": REPO}, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(None, 2) == ["42", "1", "[]\n"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:   # no repeater bound
        probe.bind(("127.0.0.1", server.port + 1))


# Where searches go: the environment, read as libca reads it.

def test_address_list_entries_ports_and_duplicates():
    env = {"EPICS_CA_ADDR_LIST": "127.0.0.1 127.0.0.2:6000  127.0.0.1 localhost",
           "EPICS_CA_AUTO_ADDR_LIST": "no", "EPICS_CA_SERVER_PORT": "7000"}
    assert ca.search_addresses(env) == [("127.0.0.1", 7000), ("127.0.0.2", 6000)]
    for bad, why in (({"EPICS_CA_SERVER_PORT": "70000"}, "EPICS_CA_SERVER_PORT '70000'"),
                     ({"EPICS_CA_ADDR_LIST": "127.0.0.1:x"}, "entry '127.0.0.1:x'")):
        with pytest.raises(ca.ConfigError, match=why):
            ca.search_addresses(dict(bad, EPICS_CA_AUTO_ADDR_LIST="NO"))
    # A name that does not resolve may resolve later: a failure, not a configuration error.
    with pytest.raises(ca.CAError, match="'no.such.host.invalid' is not an IPv4 address") as no:
        ca.search_addresses({"EPICS_CA_ADDR_LIST": "no.such.host.invalid",
                             "EPICS_CA_AUTO_ADDR_LIST": "NO"})
    assert not isinstance(no.value, ca.ConfigError)


def _ip_broadcasts():
    """Broadcast (or peer) addresses of the interfaces that are up, as iproute2 shows them."""
    import json

    out = subprocess.run(["ip", "-j", "-4", "addr", "show", "up"], capture_output=True,
                         text=True, check=True).stdout
    found = []
    for link in json.loads(out):
        if "LOOPBACK" in link.get("flags", []):
            continue
        for info in link.get("addr_info", [])[:1]:  # the primary address, as SIOCGIFBRDADDR
            address = info.get("broadcast") or (info.get("address") if info.get("address")
                                                and "POINTOPOINT" in link["flags"] else None)
            if address and address not in found:
                found.append(address)
    return found


def test_automatic_address_list_is_every_interface_broadcast():
    assert ca.broadcast_addresses() == _ip_broadcasts()
    auto = ca.search_addresses({"EPICS_CA_ADDR_LIST": "127.0.0.1", "EPICS_CA_SERVER_PORT": "7100"})
    assert auto == [("127.0.0.1", 7100)] + [(a, 7100) for a in _ip_broadcasts()]
    for off in ("NO", "no", "No"):
        assert ca.search_addresses({"EPICS_CA_AUTO_ADDR_LIST": off}) == []


AUTO_IN_NAMESPACE = r"""
set -e
ip link set lo up
ip link add ca0 type veth peer name ca1
ip addr add 10.77.0.1/24 brd + dev ca0
ip link set ca1 up
ip link set ca0 up
EPICS_CA_SERVER_PORT=15490 EPICS_CA_REPEATER_PORT=15491 "$1" "$2" caproto NS \
    > "$3" 2>&1 < /dev/null &
server=$!
trap 'kill $server' EXIT
for i in $(seq 200); do grep -q ready "$3" && break; sleep 0.1; done
EPICS_CA_SERVER_PORT=15490 EPICS_CA_AUTO_ADDR_LIST=YES "$1" -I -c "
import os, sys
sys.path.insert(0, sys.argv[1])
from ocfpy import ca
os.environ.pop('EPICS_CA_ADDR_LIST', None)
print(ca.search_addresses(os.environ))
print(ca.read('NS:LONG', 5).values)" "$4"
"""


@pytest.mark.timeout(60)
def test_automatic_address_list_finds_a_server_by_broadcast(tmp_path):
    """In a network namespace made here (a veth pair, 10.77.0.1/24): no EPICS_CA_ADDR_LIST,
    the search goes to the interface's broadcast address and the server there answers."""
    if os.geteuid() != 0:
        pytest.skip("a network namespace needs root")
    done = subprocess.run(["unshare", "-n", "bash", "-c", AUTO_IN_NAMESPACE, "auto", PYTHON,
                           SERVERS, str(tmp_path / "server.log"), REPO],
                          capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[('10.77.0.255', 15490)]", "[42]"]


def test_bad_names_are_refused_before_anything_is_sent():
    for bad in ("", "A B", "A\0B", "PV\u00e9", 7):
        with pytest.raises(ca.ConfigError):
            ca.read(bad, timeout=0.1, environ={"EPICS_CA_ADDR_LIST": "127.0.0.1"})


# The parser: whatever the bytes, a result or a ProtocolError.

@given(st.binary(max_size=200))
@settings(max_examples=400)
def test_parser_never_fails_other_than_cleanly(data):
    for parse in (lambda: ca.parse_header(data, 0, 64), lambda: ca.split_datagram(data, 64)):
        try:
            parse()
        except ca.ProtocolError:
            pass
    for data_type in range(0, 9):
        try:
            ca.decode(data_type, len(data) % 20, data)
        except ca.ProtocolError:
            pass


@given(command=st.integers(0, 0xFFFF), data_type=st.integers(0, 0xFFFF),
       count=st.integers(0, 0x1FFFF), p1=st.integers(0, 2**32 - 1),
       p2=st.integers(0, 2**32 - 1), payload=st.binary(max_size=300))
def test_messages_round_trip_through_the_parser(command, data_type, count, p1, p2, payload):
    data = ca.message(command, payload, data_type, count, p1, p2)
    assert len(data) % 8 == 0
    header, offset = ca.parse_header(data)
    assert (header.command, header.data_type, header.count, header.p1, header.p2) == (
        command, data_type, count, p1, p2)
    assert data[offset:offset + header.size] == payload + b"\0" * (-len(payload) % 8)
    assert ca.parse_header(data[:offset - 1]) is None                 # cut in the header
    with pytest.raises(ca.ProtocolError, match="ends inside"):
        ca.split_datagram(data[:-1] if header.size else data[:offset - 1])


def test_oversized_and_extended_headers():
    huge = struct.pack(">HHHHIIII", ca.READ_NOTIFY, 0xFFFF, 6, 0, 1, 1, 2**31, 2**28)
    with pytest.raises(ca.ProtocolError, match="announces 2147483648 bytes"):
        ca.parse_header(huge)
    big = ca.message(ca.READ_NOTIFY, bytes(70000), 4, 70000, 1, 2)
    header, offset = ca.parse_header(big)
    assert (header.size, header.count, offset) == (70000, 70000, 24)


# Fake servers on loopback: exact bytes in answer to the client's requests.

def reply(command, payload=b"", data_type=0, count=0, p1=0, p2=0):
    return ca.message(command, payload, data_type, count, p1, p2)


GOOD_CREATE = reply(ca.ACCESS_RIGHTS, p1=1, p2=3) + reply(ca.CREATE_CHAN, data_type=5, count=1,
                                                          p1=1, p2=77)
GOOD_READ = reply(ca.READ_NOTIFY, struct.pack(">i", 5), 5, 1, ca.ECA_NORMAL, 1)


class FakeServer(threading.Thread):
    """Accepts one circuit; after each chunk the client sends, sends the next scripted reply
    (None: nothing, b"": hang up); then keeps reading until the client closes."""

    def __init__(self, replies):
        super().__init__(daemon=True)
        self.replies = list(replies)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""

    def run(self):
        self.listener.settimeout(10)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            try:
                for chunk in self.replies:
                    data = conn.recv(65536)
                    if not data:
                        return
                    self.received += data
                    if chunk == b"":
                        return  # hang up
                    if chunk is not None:
                        conn.sendall(chunk)
                while data:
                    data = conn.recv(65536)
                    self.received += data
            except OSError:
                pass

    def read(self, timeout=0.5):
        self.start()
        try:
            return ca.read("FAKE:PV", timeout=timeout, environ={},
                           server=f"127.0.0.1:{self.port}")
        finally:
            self.join(5)
            self.listener.close()


def test_fake_server_good_exchange_and_what_the_client_sends():
    fake = FakeServer([GOOD_CREATE, GOOD_READ, reply(ca.CLEAR_CHANNEL, p1=77, p2=1)])
    assert fake.read().values == [5]
    sent = ca.split_datagram(fake.received)
    commands = [header.command for header, _ in sent]
    assert commands == [ca.VERSION, ca.CLIENT_NAME, ca.HOST_NAME, ca.CREATE_CHAN,
                        ca.READ_NOTIFY, ca.CLEAR_CHANNEL]
    version, create, read, clear = sent[0][0], sent[3], sent[4][0], sent[5][0]
    assert (version.data_type, version.count) == (0, ca.MINOR_VERSION)
    assert create[1].rstrip(b"\0") == b"FAKE:PV" and (create[0].p1, create[0].p2) == (1, 13)
    assert (read.data_type, read.count, read.p1, read.p2) == (5, 1, 77, 1)
    assert (clear.p1, clear.p2) == (77, 1)


BAD_PEERS = {
    "closes at once": ([b""], ca.ServerError, "closed the circuit"),
    "truncated header": ([b"\0\x0f\0"], ca.CATimeout, "sent no CREATE_CHAN reply within"),
    "oversized": ([struct.pack(">HHHHIIII", 18, 0xFFFF, 0, 0, 1, 1, 2**30, 1)],
                  ca.ProtocolError, "announces 1073741824 bytes"),
    "wrong command": ([reply(1, p1=1)], ca.ProtocolError, "sent EVENT_ADD while channels"),
    "wrong channel id": ([reply(ca.CREATE_CHAN, data_type=5, count=1, p1=9, p2=1)],
                         ca.ProtocolError, "channel id 9, which this client never created"),
    "not a native type": ([reply(ca.CREATE_CHAN, data_type=14, count=1, p1=1, p2=1)],
                          ca.ProtocolError, "the type 14, not a native type"),
    "channel refused": ([reply(ca.CREATE_CH_FAIL, p1=1)], ca.ServerError,
                        "refused to create the channel FAKE:PV"),
    "no read access": ([reply(ca.ACCESS_RIGHTS, p1=1, p2=2)
                        + reply(ca.CREATE_CHAN, data_type=5, count=1, p1=1, p2=77)],
                       ca.ServerError, "gives no read access to FAKE:PV"),
    "error message": ([reply(ca.ERROR, reply(ca.CREATE_CHAN, p1=1) + b"no such thing\0",
                             p1=1, p2=(46 << 3))],
                      ca.ServerError, r"to CREATE_CHAN with an error, status 368 \(read access "
                                      r"denied\): no such thing"),
    "wrong read id": ([GOOD_CREATE, reply(ca.READ_NOTIFY, bytes(8), 5, 1, 1, 99)],
                      ca.ProtocolError, "READ_NOTIFY id 99, which is not outstanding"),
    "read failed": ([GOOD_CREATE, reply(ca.READ_NOTIFY, bytes(8), 5, 1, (19 << 3), 1)],
                    ca.ServerError, "failed the read of FAKE:PV: status 152 \\(data transfer"),
    "short value": ([GOOD_CREATE, reply(ca.READ_NOTIFY, b"", 5, 1, ca.ECA_NORMAL, 1)],
                    ca.ProtocolError, "1 LONG elements need 4 bytes, the payload has 0"),
    "other type": ([GOOD_CREATE, reply(ca.READ_NOTIFY, bytes(8), 6, 1, ca.ECA_NORMAL, 1)],
                   ca.ProtocolError, "with 1 of type 6, asked for 1 of type 5"),
    "silent": ([None], ca.CATimeout, "sent no CREATE_CHAN reply within 0.5s"),
    "hangs after create": ([GOOD_CREATE, None], ca.CATimeout, "sent no READ_NOTIFY reply"),
    "disconnects the channel": ([GOOD_CREATE, reply(ca.SERVER_DISCONN, p1=1)], ca.ServerError,
                                "disconnected the channel FAKE:PV"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", BAD_PEERS)
def test_bad_peer_is_a_clean_failure(case):
    replies, kind, message = BAD_PEERS[case]
    with pytest.raises(kind, match=message) as failed:
        FakeServer(replies).read()
    assert failed.value.name == "FAKE:PV"


@pytest.mark.timeout(120)
@given(first=st.binary(max_size=120), second=st.binary(max_size=120))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bytes_from_a_server_never_escape_as_anything_but_a_ca_error(first, second):
    try:
        FakeServer([GOOD_CREATE + first, second]).read(timeout=0.2)
    except ca.CAError:
        pass


@pytest.mark.timeout(60)
@given(garbage=st.binary(min_size=1, max_size=64))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_garbage_search_replies_are_a_clean_failure(garbage):
    """A UDP peer answering the search with bytes that are not a search reply."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        port = peer.getsockname()[1]
        answer = threading.Thread(target=lambda: _answer_once(peer, garbage), daemon=True)
        answer.start()
        try:
            ca.read("FAKE:PV", timeout=0.3, environ=loopback(port))
        except ca.CAError as failed:
            assert failed.name == "FAKE:PV"
        answer.join(5)


def _answer_once(peer, data):
    peer.settimeout(5)
    try:
        _, client = peer.recvfrom(2048)
        peer.sendto(data, client)
    except OSError:
        pass


def test_search_reply_from_a_fake_udp_peer_leads_to_its_circuit():
    """The search reply's port (and 'any address' = the sender) chooses the circuit."""
    fake = FakeServer([GOOD_CREATE, GOOD_READ])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        found = reply(ca.VERSION, count=13) + reply(
            ca.SEARCH, struct.pack(">H", 13), data_type=fake.port, p1=0xFFFFFFFF, p2=1)
        answer = threading.Thread(target=lambda: _answer_once(peer, found), daemon=True)
        answer.start()
        fake.start()
        value = ca.read("FAKE:PV", timeout=2, environ=loopback(peer.getsockname()[1]))
        answer.join(5)
        fake.join(5)
        fake.listener.close()
    assert value.values == [5] and value.server == f"127.0.0.1:{fake.port}"


def test_malformed_search_reply_is_named():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        answer = threading.Thread(target=lambda: _answer_once(peer, b"\0\x06\0\x08"),
                                  daemon=True)
        answer.start()
        with pytest.raises(ca.ProtocolError, match="sent a malformed search reply: datagram "
                                                   "ends inside a message header"):
            ca.read("FAKE:PV", timeout=0.3, environ=loopback(peer.getsockname()[1]))
        answer.join(5)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
