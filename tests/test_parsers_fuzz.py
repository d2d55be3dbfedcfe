"""Every parser of data from the network fails cleanly on any input (Hypothesis).

GIOP headers and replies, IOR strings and corbaloc URLs (ocfpy.giop), also end to end through a
loopback TCP peer that answers with arbitrary bytes; the archiver's HTTP answers through a
loopback peer that sends arbitrary bytes back, read by the agent's own HTTP client. "Cleanly"
means: the documented result or exception, never another exception, never a hang past the
timeout. (ocfpy.ca, the Channel Access client, is fuzzed by its own tests.)
"""

import socket
import struct
import threading

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ocfpy import giop
from ocfpy.codes import OCFError

STATUSES = {giop.HERE, giop.UNKNOWN, giop.FORWARD, giop.TIMEOUT, giop.REFUSED, giop.CLOSED,
            giop.ERROR}


def cdr(little, *parts):
    """A CDR body (aligned from offset 12) of ('ulong', n) / ('octets', b) / ('string', s)."""
    writer = giop._Writer(little, base=12)
    for kind, value in parts:
        getattr(writer, kind)(value)
    return bytes(writer.data)


def ior_body(little, type_id, profiles, base=12):
    """A CDR-encoded IOR: type id and (tag, profile bytes) pairs (aligned from `base`: 12 in a
    GIOP body, 1 after the byte-order octet of a stringified IOR)."""
    writer = giop._Writer(little, base=base)
    writer.string(type_id)
    writer.ulong(len(profiles))
    for tag, data in profiles:
        writer.ulong(tag)
        writer.octets(data)
    return bytes(writer.data)


# Replies that look almost right reach the deeper branches more often than random bytes do.
LITTLE = st.booleans()
reply_bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda little, contexts, status, rest: cdr(little, ("ulong", contexts),
                                                           ("ulong", 2), ("ulong", status)) + rest,
              LITTLE, st.integers(0, 3), st.integers(0, 5), st.binary(max_size=200)),
    st.builds(lambda little, type_id, tags, rest: cdr(little, ("ulong", 0), ("ulong", 2),
                                                        ("ulong", 0))
              + ior_body(little, type_id, [(t, r) for t, r in zip(tags, rest)]),
              LITTLE, st.text(max_size=30), st.lists(st.sampled_from([0, 1, 0x4F4D0000]),
                                                      max_size=3),
              st.lists(st.binary(max_size=60), min_size=3, max_size=3)),
)


@given(msg_type=st.integers(0, 255), little=LITTLE, body=reply_bodies)
@settings(max_examples=600, deadline=None)
def test_resolve_replies_never_raise(msg_type, little, body):
    result = giop.parse_resolve_reply(msg_type, little, body, "peer", 0.0)
    assert result.status in STATUSES and isinstance(result.detail, str)
    assert "\n" not in result.detail
    if result.status == giop.HERE:  # the body is an IOR the container agent can follow
        _, profiles = giop.decode_ior(result.body.decode())
        assert profiles


@given(msg_type=st.integers(0, 255), little=LITTLE, body=reply_bodies)
@settings(max_examples=400, deadline=None)
def test_locate_replies_never_raise(msg_type, little, body):
    result = giop.parse_locate_reply(msg_type, little, body, "peer", 0.0)
    assert result.status in STATUSES and isinstance(result.detail, str)


@given(header=st.one_of(st.binary(max_size=16),
                        st.binary(min_size=8, max_size=8).map(lambda b: b"GIOP" + b[:4] + b[4:])))
@example(header=b"GIOP\x01\x00\x01\x04\xff\xff\xff\xff")
@settings(max_examples=300, deadline=None)
def test_giop_headers_parse_or_raise_value_error(header):
    try:
        major, minor, little, msg_type, size = giop.parse_header(header)
    except ValueError as exc:
        assert str(exc)
        return
    assert header[:4] == b"GIOP" and 0 <= size <= giop.MAX_MESSAGE


ior_texts = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=120).map(lambda b: "IOR:" + b.hex()),
    st.builds(lambda little, type_id, tags, rest: "IOR:" + (bytes((little,)) + ior_body(
        bool(little), type_id, list(zip(tags, rest)), base=1)).hex(),
        st.integers(0, 1), st.text(max_size=20), st.lists(st.sampled_from([0, 1]), max_size=3),
        st.lists(st.binary(max_size=40), min_size=3, max_size=3)),
)


@given(text=ior_texts)
@example(text="IOR:" + (b"\x01" + ior_body(True, "IDL:x:1.0", [], base=1)).hex())  # nil
@example(text="IOR:" + (b"\x01" + ior_body(True, "IDL:x:1.0", [(1, b"\x01abc")], base=1)).hex())
@settings(max_examples=600, deadline=None)
def test_ior_strings_decode_or_raise_value_error(text):
    try:
        _, profiles = giop.decode_ior(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert profiles and all(0 <= p.port < 65536 for p in profiles)


def test_an_ior_without_iiop_profiles_is_a_clean_value_error():
    """The acs-container monitor indexed profiles[0]: an IOR only other transports reach gave
    an IndexError (an internal error) instead of a named failure."""
    nil = "IOR:" + (b"\x01" + ior_body(True, "IDL:x:1.0", [(1, b"\x01abc")], base=1)).hex()
    with pytest.raises(ValueError, match="no IIOP profile"):
        giop.decode_ior(nil)


@given(url=st.one_of(st.text(max_size=60),
                     st.text(max_size=40).map(lambda t: "corbaloc:" + t),
                     st.text(max_size=30).map(lambda t: "corbaloc:iiop:" + t + "/Key")))
@example(url="corbaloc:iiop:1.²@host:1/Key")
@example(url="corbaloc:iiop:host:²/Key")
@settings(max_examples=600, deadline=None)
def test_corbaloc_urls_parse_or_raise_corbaloc_error(url):
    try:
        parsed = giop.parse_corbaloc(url)
    except giop.CorbalocError as exc:
        assert "\n" not in str(exc) or "\n" in url
        return
    assert parsed.addresses and all(0 < a.port < 65536 for a in parsed.addresses)


class Peer:
    """A loopback TCP server that answers every connection with the bytes it is given next
    (after reading what the client sent), then closes."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.answer = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.stopping = False
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    conn.recv(65536)
                    conn.sendall(self.answer)
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        self.listener.close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def peer():
    server = Peer()
    yield server
    server.close()


def giop_message(msg_type, little, body):
    return giop._header((1, 0), little, msg_type, len(body)) + body


@given(answer=st.one_of(st.binary(max_size=200),
                        st.builds(giop_message, st.sampled_from([1, 4, 6]), LITTLE, reply_bodies)))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_locate_and_resolve_over_tcp_never_raise(peer, answer):
    peer.answer = answer
    for result in (giop.locate("127.0.0.1", peer.port, "Key", timeout=2.0),
                   giop.resolve("127.0.0.1", peer.port, "NameService", "a.kind/b", timeout=2.0)):
        assert result.status in STATUSES and result.status != giop.TIMEOUT, result


# The archiver's HTTP answers, read by the agent's own client from a loopback peer.

def archiver_agent(port):
    from ocfpy.agents.archiver import ArchiverAgent
    from ocfpy.log import Logger
    from ocfpy.request import Request

    environ = {"OCF_RESKEY_identity": "a1", "OCF_RESKEY_appliances": "/nonexistent.xml",
               "OCF_RESKEY_mgmt_port": str(port), "OCF_RESKEY_http_timeout": "2000",
               "OCF_RESOURCE_INSTANCE": "fuzz", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    return ArchiverAgent(Request("monitor", ArchiverAgent.parameters, environ),
                         Logger("archiver", "fuzz", {"HA_LOGFILE": "/dev/null"}))


def http_answer(status, headers, body):
    head = f"HTTP/1.1 {status} X\r\n".encode() + b"".join(
        name + b": " + value + b"\r\n" for name, value in headers)
    return head + b"\r\n" + body


json_bodies = st.one_of(
    st.binary(max_size=200),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
                 lambda children: st.one_of(st.lists(children, max_size=3),
                                            st.dictionaries(st.text(max_size=8), children,
                                                            max_size=3)),
                 max_leaves=10).map(lambda value: __import__("json").dumps(value).encode()),
    st.integers(1, 200000).map(lambda depth: b"[" * depth + b"]" * depth),
)
http_answers = st.one_of(
    st.binary(max_size=300),
    st.builds(http_answer, st.sampled_from([200, 404, 500, 99, 1000]),
              st.lists(st.tuples(st.sampled_from([b"Content-Length", b"Transfer-Encoding",
                                                  b"Content-Type", b"X"]),
                                 st.sampled_from([b"0", b"5", b"-1", b"chunked", b"zz",
                                                  b"99999999", b"application/json"])),
                       max_size=3),
              json_bodies),
)


@given(answer=http_answers)
@example(answer=http_answer(200, [], b"[" * 100000 + b"]" * 100000))   # deep nesting
@example(answer=http_answer(200, [(b"Transfer-Encoding", b"chunked")], b"zz\r\n{}\r\n0\r\n\r\n"))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_archiver_http_answers_never_raise_anything_but_ocf_errors(peer, answer):
    peer.answer = answer
    agent = archiver_agent(peer.port)
    try:
        agent._get_json("mgmt", "startupState", unknown_ok=True)
    except OCFError as failure:
        assert failure.reason and "\n" not in failure.reason
    try:
        agent._check_startup("mgmt")
    except OCFError as failure:
        assert failure.reason and "\n" not in failure.reason


@given(body=st.one_of(json_bodies, st.text(max_size=100)))
@example(body=b"[" * 100000 + b"]" * 100000)
@example(body=b'{"a": 1e999999, "b": "\\ud800"}')
@settings(max_examples=500, deadline=None)
def test_the_archivers_json_reader_returns_a_value_or_value_error(body):
    from ocfpy import httpget

    try:
        httpget.parse_json(body)
    except ValueError as exc:  # UnicodeDecodeError included
        assert str(exc)


def test_truncated_header_helper_is_consistent():
    """parse_header reads what _header writes (the helper the fuzzers above rely on)."""
    for little in (True, False):
        header = giop._header((1, 2), little, 4, 17)
        assert giop.parse_header(header) == (1, 2, little, 4, 17)
        assert struct.unpack("<I" if little else ">I", header[8:])[0] == 17
