"""ocfpy.httpget, the monitors' bounded HTTP GET and JSON reader, against the standard library's
own HTTP server (loopback) and json module, and peers that misbehave on purpose."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocfpy import httpget

BODY = json.dumps({"status": "STARTUP_COMPLETE", "n": [1, 2.5, None, True, "\u00e9"]}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/length":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (BODY[:7], BODY[7:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BODY)
            self.close_connection = True
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10 << 20))
            self.end_headers()
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path", ["/length", "/chunked", "/close"])
def test_every_body_framing(server, path):
    status, body = httpget.get("127.0.0.1", server, path, 5)
    assert (status, body) == (200, BODY)
    assert httpget.parse_json(body) == json.loads(BODY)


def test_status_limit_and_refusal(server):
    assert httpget.get("127.0.0.1", server, "/missing", 5)[0] == 404
    with pytest.raises(httpget.HTTPFailure, match="announced a 10485760-byte body"):
        httpget.get("127.0.0.1", server, "/huge", 5)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(httpget.HTTPFailure, match="Connection refused"):
        httpget.get("127.0.0.1", port, "/", 5)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("answer, kind, message", [
    (None, httpget.HTTPTimeout, "no complete answer in time"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", httpget.HTTPFailure, "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", httpget.HTTPFailure,
     "connection closed inside the body"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", httpget.HTTPFailure,
     "chunk size"),
])
def test_misbehaving_peer_is_one_clean_failure(answer, kind, message):
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            if answer is None:
                conn.recv(4096)  # say nothing until the client gives up
            else:
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(kind, match=message):
            httpget.get("127.0.0.1", listener.getsockname()[1], "/", 0.5)
    finally:
        thread.join(5)
        listener.close()


def test_quote_leaves_only_unreserved_characters():
    from urllib.parse import quote

    for text in ("appliance0", "a b/c?d=e&f", "\u00e9t\u00e9~_.-"):
        assert httpget.quote(text) == quote(text, safe="")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)


@given(json_values)
def test_json_reader_agrees_with_the_json_module(value):
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert httpget.parse_json(text) == json.loads(text)


@given(st.text(max_size=60))
def test_json_reader_accepts_what_json_accepts_and_rejects_the_rest(text):
    try:
        expected = json.loads(text)
    except ValueError:
        expected = ValueError
    try:
        got = httpget.parse_json(text)
    except ValueError:
        got = ValueError
    if expected is not ValueError and got is not ValueError:
        assert got == expected or (got != got and expected != expected)
    else:
        # json also takes NaN/Infinity and a few lenient forms; never the other way round.
        assert got is ValueError or text.strip() == ""
