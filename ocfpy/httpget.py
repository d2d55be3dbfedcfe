"""One bounded HTTP/1.1 GET over a plain socket, and the JSON its answer holds.

A monitor asking a webapp for its state needs one request and one small answer. http.client
(with the email package behind it), urllib and json (with re) would cost a monitor more than the
interpreter's own start; this module sends the request on one TCP socket (the C module _socket),
reads the status line, headers and a body framed by Content-Length, chunked transfer coding or
the end of the connection, all within one deadline and a size limit, and reads the JSON with a
small strict parser. Failures are HTTPFailure (HTTPTimeout for the deadline), one line each.
"""

import time

from .numbers import is_digits

DEFAULT_LIMIT = 1 << 20
_HEAD_LIMIT = 64 * 1024
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


class HTTPFailure(Exception):
    """No usable answer; str() is one line saying why."""


class HTTPTimeout(HTTPFailure):
    """The deadline passed before the answer was complete."""


def quote(text):
    """Percent-encode everything but RFC 3986's unreserved characters (a query value)."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode())


class _Reader:
    def __init__(self, sock, deadline):
        self.sock, self.deadline, self.buffer, self.ended = sock, deadline, bytearray(), False

    def more(self):
        """Read what is there; False at the end of the stream."""
        import _socket

        left = self.deadline - time.monotonic()
        if left <= 0:
            raise HTTPTimeout("no complete answer in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except _socket.timeout:
            raise HTTPTimeout("no complete answer in time") from None
        if not chunk:
            self.ended = True
            return False
        self.buffer += chunk
        return True

    def until(self, marker, limit, what):
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                line = bytes(self.buffer[:at])
                del self.buffer[:at + len(marker)]
                return line
            if len(self.buffer) > limit:
                raise HTTPFailure(f"{what} longer than {limit} bytes")
            if not self.more():
                raise HTTPFailure(f"connection closed inside the {what}")

    def exactly(self, count, what):
        while len(self.buffer) < count:
            if not self.more():
                raise HTTPFailure(f"connection closed inside the {what}")
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data


def get(host, port, path, timeout, accept="application/json", limit=DEFAULT_LIMIT):
    """(status, body bytes) of GET path from host:port (an IPv4 address or host name)."""
    import _socket

    deadline = time.monotonic() + max(0.0, timeout)
    try:
        _socket.inet_aton(host)
        address = (host, port)
    except OSError:
        try:
            address = (_socket.gethostbyname(host), port)
        except OSError as exc:
            raise HTTPFailure(f"cannot resolve {host}: {exc.strerror or exc}") from None
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            sock.connect(address)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: {accept}\r\n"
                         "User-Agent: ocfpy\r\nConnection: close\r\n\r\n".encode())
        except _socket.timeout:
            raise HTTPTimeout("connect timed out") from None
        except OSError as exc:
            raise HTTPFailure(f"failed ({exc.strerror or exc})") from None
        try:
            return _answer(_Reader(sock, deadline), limit)
        except OSError as exc:
            raise HTTPFailure(f"failed ({exc.strerror or exc})") from None
    finally:
        sock.close()


def _answer(reader, limit):
    head = reader.until(b"\r\n\r\n", _HEAD_LIMIT, "header").decode("latin-1").split("\r\n")
    version, _, rest = head[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not is_digits(code):
        raise HTTPFailure(f"sent {head[0][:40]!r}, not an HTTP/1.x status line")
    headers = {}
    for line in head[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise HTTPFailure(f"sent the header line {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _chunked(reader, limit)
    elif "content-length" in headers:
        length = headers["content-length"]
        if not is_digits(length):
            raise HTTPFailure(f"sent Content-Length {length[:20]!r}")
        if int(length) > limit:
            raise HTTPFailure(f"announced a {length}-byte body (limit {limit})")
        body = reader.exactly(int(length), "body")
    else:
        while not reader.ended and len(reader.buffer) <= limit:
            reader.more()
        if len(reader.buffer) > limit:
            raise HTTPFailure(f"sent a body over {limit} bytes")
        body = bytes(reader.buffer)
    return int(code), body


def _chunked(reader, limit):
    body = bytearray()
    while True:
        size_line = reader.until(b"\r\n", 1024, "chunk size").split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HTTPFailure(f"sent the chunk size {size_line[:20]!r}") from None
        if size == 0:
            return bytes(body)
        if len(body) + size > limit:
            raise HTTPFailure(f"sent a body over {limit} bytes")
        body += reader.exactly(size, "chunk")
        if reader.exactly(2, "chunk") != b"\r\n":
            raise HTTPFailure("sent a chunk without its CRLF")


# JSON (RFC 8259), strictly: what the BPL answers is small and plain.

_WHITE = " \t\n\r"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MAX_DEPTH = 64


def parse_json(text):
    """The value of a JSON document (str or bytes); ValueError when it is not one."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    value, at = _value(text, _skip(text, 0), 0)
    if _skip(text, at) != len(text):
        raise ValueError(f"extra data at offset {at}")
    return value


def _skip(text, at):
    while at < len(text) and text[at] in _WHITE:
        at += 1
    return at


def _value(text, at, depth):
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply")
    if at >= len(text):
        raise ValueError("unexpected end")
    char = text[at]
    if char == "{":
        return _object(text, at + 1, depth)
    if char == "[":
        return _array(text, at + 1, depth)
    if char == '"':
        return _string(text, at + 1)
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, at):
            return value, at + len(word)
    return _number(text, at)


def _object(text, at, depth):
    result = {}
    at = _skip(text, at)
    if text[at:at + 1] == "}":
        return result, at + 1
    while True:
        if text[at:at + 1] != '"':
            raise ValueError(f"expected a member name at offset {at}")
        key, at = _string(text, at + 1)
        at = _skip(text, at)
        if text[at:at + 1] != ":":
            raise ValueError(f"expected ':' at offset {at}")
        result[key], at = _value(text, _skip(text, at + 1), depth + 1)
        at = _skip(text, at)
        if text[at:at + 1] == "}":
            return result, at + 1
        if text[at:at + 1] != ",":
            raise ValueError(f"expected ',' or '}}' at offset {at}")
        at = _skip(text, at + 1)


def _array(text, at, depth):
    result = []
    at = _skip(text, at)
    if text[at:at + 1] == "]":
        return result, at + 1
    while True:
        item, at = _value(text, _skip(text, at), depth + 1)
        result.append(item)
        at = _skip(text, at)
        if text[at:at + 1] == "]":
            return result, at + 1
        if text[at:at + 1] != ",":
            raise ValueError(f"expected ',' or ']' at offset {at}")
        at += 1


def _string(text, at):
    out = []
    while True:
        end = at
        while end < len(text) and text[end] not in '"\\' and text[end] >= " ":
            end += 1
        out.append(text[at:end])
        if end >= len(text) or text[end] < " ":
            raise ValueError(f"unterminated string at offset {end}")
        if text[end] == '"':
            return "".join(out), end + 1
        escape = text[end + 1:end + 2]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            at = end + 2
        elif escape == "u" and _hex4(text, end + 2) is not None:
            code = _hex4(text, end + 2)
            at = end + 6
            low = _hex4(text, at + 2) if text[at:at + 2] == "\\u" else None
            if 0xD800 <= code < 0xDC00 and low is not None and 0xDC00 <= low < 0xE000:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)  # a surrogate pair
                at += 6
            out.append(chr(code))
        else:
            raise ValueError(f"bad escape at offset {end}")


def _hex4(text, at):
    digits = text[at:at + 4]
    if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    return None


def _number(text, at):
    end = at
    while end < len(text) and text[end] in "+-0123456789.eE":
        end += 1
    word = text[at:end]
    digits = word[1:] if word.startswith("-") else word
    if not digits or not digits[0].isdigit() or (digits[0] == "0" and digits[1:2].isdigit()):
        raise ValueError(f"unexpected {text[at:at + 10]!r} at offset {at}")
    try:
        return (int(word) if digits.isdigit() else float(word)), end
    except ValueError:
        raise ValueError(f"bad number {word!r} at offset {at}") from None

