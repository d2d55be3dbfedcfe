"""ocfpy.giop against the real omniORB naming service (omniNames): LocateRequest, CosNaming
resolve and IORs, plus the corbaloc parser. Ports 5201-5209 (this helper's range)."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from tcpstate import wait_for_unread_request

from ocfpy import giop

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 5201
FREE_PORT = 5209
REF = f"NameService=corbaloc::127.0.0.1:{PORT}/NameService"

pytestmark = pytest.mark.timeout(60)


def nameclt(*args):
    return subprocess.run(["nameclt", "-ORBInitRef", REF, *args], capture_output=True, text=True,
                          timeout=10)


@pytest.fixture
def omninames(tmp_path):
    log = open(tmp_path / "omninames.log", "wb")
    process = subprocess.Popen(
        ["omniNames", "-start", str(PORT), "-logdir", str(tmp_path), "-ORBendPoint",
         f"giop:tcp:127.0.0.1:{PORT}"], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        until = time.monotonic() + 15
        while nameclt("list").returncode != 0:
            assert process.poll() is None, (tmp_path / "omninames.log").read_text()
            assert time.monotonic() < until, "omniNames did not come up"
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait()
        log.close()


@pytest.mark.parametrize("version", [(1, 0), (1, 1), (1, 2)])
def test_name_service_is_here(omninames, version):
    result = giop.locate("127.0.0.1", PORT, "NameService", timeout=2.0, version=version)
    assert result.status == giop.HERE, result
    assert result.alive


def test_url_form_and_unknown_key(omninames):
    assert giop.locate_url(f"corbaloc::1.2@127.0.0.1:{PORT}/NameService").status == giop.HERE
    assert giop.locate_url(f"corbaloc:iiop:127.0.0.1:{PORT}/NameService").status == giop.HERE
    unknown = giop.locate("127.0.0.1", PORT, "Manager", timeout=2.0)
    assert unknown.status == giop.UNKNOWN, unknown
    assert not unknown.alive
    # The second address answers when the first refuses.
    both = giop.locate_url(f"corbaloc::127.0.0.1:{FREE_PORT},:127.0.0.1:{PORT}/NameService")
    assert both.status == giop.HERE


def test_nothing_listening_is_refused():
    result = giop.locate("127.0.0.1", FREE_PORT, "NameService", timeout=2.0)
    assert result.status == giop.REFUSED, result
    assert str(FREE_PORT) in result.detail


def test_stopped_orb_times_out_although_connect_succeeds(omninames):
    omninames.send_signal(signal.SIGSTOP)
    try:
        # The kernel still completes the TCP handshake for a stopped process...
        socket.create_connection(("127.0.0.1", PORT), timeout=2.0).close()
        # ...only the GIOP round trip shows that the ORB does not answer.
        result = giop.locate("127.0.0.1", PORT, "NameService", timeout=0.5)
        assert result.status == giop.TIMEOUT, result
        assert 0.4 < result.elapsed < 3.0
        assert "hung" in result.detail
        resolved = giop.resolve("127.0.0.1", PORT, "NameService", "anything", timeout=0.5)
        assert resolved.status == giop.TIMEOUT
    finally:
        omninames.send_signal(signal.SIGCONT)
    assert giop.locate("127.0.0.1", PORT, "NameService", timeout=2.0).status == giop.HERE


def test_orb_killed_while_it_holds_the_request_is_closed_not_an_error(omninames):
    """The race a container monitor runs into when the naming service dies under it: the
    request was sent (here: to a stopped omniNames) and the ORB is killed before it replies."""
    import threading

    omninames.send_signal(signal.SIGSTOP)
    outcome = []
    asking = threading.Thread(target=lambda: outcome.append(
        giop.resolve("127.0.0.1", PORT, "NameService", "CONTROL/c1", timeout=10.0)))
    asking.start()
    wait_for_unread_request(PORT)  # the request sits in the stopped ORB's socket
    omninames.kill()
    asking.join(15)
    result, = outcome
    assert result.status == giop.CLOSED, result
    assert result.status in giop.UNREACHABLE
    assert "closed the connection" in result.detail


def test_resolve_bound_and_unbound_names(omninames):
    sys.path.insert(0, os.path.join(HERE, "acs_standin"))
    try:
        import standin
    finally:
        sys.path.pop(0)
    # An IOR written by the stand-in's own encoder, accepted by omniORB's nameclt.
    ior = standin.container_ior("127.0.0.1", 5250, b"CONTROL/c1")
    assert nameclt("bind_new_context", "CONTROL").returncode == 0
    done = nameclt("bind", "CONTROL/c1", ior)
    assert done.returncode == 0, done.stderr
    result = giop.resolve("127.0.0.1", PORT, "NameService", "CONTROL/c1", timeout=2.0)
    assert result.status == giop.HERE, result
    type_id, profiles = giop.decode_ior(result.body.decode())
    assert type_id == "IDL:maci/Container:1.0"
    assert (profiles[0].host, profiles[0].port, profiles[0].key) == ("127.0.0.1", 5250,
                                                                       b"CONTROL/c1")
    missing = giop.resolve("127.0.0.1", PORT, "NameService", "CONTROL/c2", timeout=2.0)
    assert missing.status == giop.UNKNOWN, missing
    kinded = giop.resolve("127.0.0.1", PORT, "NameService", "CONTROL.kind/c1", timeout=2.0)
    assert kinded.status == giop.UNKNOWN  # id CONTROL with kind "kind" is another name


def test_ior_made_by_omniorb_decodes_and_locates(omninames):
    done = nameclt("bind_new_context", "ctx")
    assert done.returncode == 0, done.stderr
    ior = done.stdout.strip()
    assert ior.startswith("IOR:")
    _, profiles = giop.decode_ior(ior)
    profile = profiles[0]
    assert (profile.host, profile.port) == ("127.0.0.1", PORT)
    assert giop.locate(profile.host, profile.port, profile.key, 2.0, profile.version).alive
    # Our own encoding of the same profile decodes to the same place.
    again = giop.decode_ior(giop.encode_ior("IDL:x:1.0", profile.host, profile.port, profile.key))
    assert (again[1][0].host, again[1][0].port, again[1][0].key) == (
        profile.host, profile.port, profile.key)


@pytest.mark.parametrize("url, host, port, key, version", [
    ("corbaloc::host:3001/NameService", "host", 3001, b"NameService", (1, 0)),
    ("corbaloc:iiop:1.2@10.0.0.1:3000/Manager", "10.0.0.1", 3000, b"Manager", (1, 2)),
    ("corbaloc::[::1]:2809/a%2Fb", "::1", 2809, b"a/b", (1, 0)),
    ("corbaloc::h/Key", "h", 2809, b"Key", (1, 0)),
])
def test_corbaloc_parser_accepts(url, host, port, key, version):
    parsed = giop.parse_corbaloc(url)
    address = parsed.addresses[0]
    assert (address.host, address.port, parsed.key, address.version) == (host, port, key, version)


@pytest.mark.parametrize("url, words", [
    ("http://h:1/x", "does not start with 'corbaloc:'"),
    ("corbaloc::h:1", "no object key"),
    ("corbaloc::h:1/", "no object key"),
    ("corbaloc::h:99999/x", "port '99999'"),
    ("corbaloc::h:port/x", "port 'port'"),
    ("corbaloc::2.0@h:1/x", "not 1.0 to 1.3"),
    ("corbaloc::x@h:1/x", "not of the form 1.x"),
    ("corbaloc:rir:/NameService", "needs an ORB"),
    ("corbaloc:ssliop:h:1/x", "protocol 'ssliop'"),
    ("corbaloc::h:1/bad%zz", "bad %-escape"),
    ("corbaloc::h:1/a b", "must be %-escaped"),
    ("corbaloc::[::1:1/x", "unterminated IPv6"),
    ("corbaloc:::1/x", "no host"),
    (None, "does not start with 'corbaloc:'"),
])
def test_corbaloc_parser_rejects_with_one_line(url, words):
    with pytest.raises(giop.CorbalocError) as caught:
        giop.parse_corbaloc(url)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message


def test_garbage_peer_is_an_error_not_a_hang(tmp_path):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 5208))
    server.listen(1)
    try:
        import threading

        def answer():
            conn, _ = server.accept()
            conn.recv(100)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            conn.close()

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        result = giop.locate("127.0.0.1", 5208, "NameService", timeout=2.0)
        thread.join(5)
    finally:
        server.close()
    assert result.status == giop.ERROR
    assert "not GIOP" in result.detail
