"""CORBA aliveness without an ORB: GIOP LocateRequest and CosNaming resolve over one TCP socket.

A listening port proves little: a stopped (SIGSTOP) ORB still has its connections accepted by
the kernel. Only a GIOP round trip answered by the ORB tells a live object from a hung or absent
one, so the checks here send a real GIOP message and wait, inside one deadline, for the reply.

Wire format (CORBA 3, chapter 15): a 12-byte header `GIOP`, version, flags (bit 0: little
endian), message type, body size; the body in CDR. LocateRequest is type 3 and LocateReply type
4 with status 0 UNKNOWN_OBJECT, 1 OBJECT_HERE, 2 OBJECT_FORWARD (1.2 adds 3 OBJECT_FORWARD_PERM,
4 LOC_SYSTEM_EXCEPTION, 5 LOC_NEEDS_ADDRESSING_MODE). socket and struct are imported by the
functions that talk (the C module _socket, not socket), so importing this module costs nothing.
"""

import time

from .numbers import is_digits

HERE = "here"
UNKNOWN = "unknown"
FORWARD = "forward"
TIMEOUT = "timeout"
REFUSED = "refused"
CLOSED = "closed"  # accepted, then closed or reset before a whole reply: an ORB that died
ERROR = "error"
# Nobody there to answer (the ORB is absent, hung or dying), as opposed to an ORB that answered.
UNREACHABLE = frozenset((REFUSED, TIMEOUT, CLOSED))

DEFAULT_PORT = 2809
_LOCATE_STATUS = {0: UNKNOWN, 1: HERE, 2: FORWARD, 3: FORWARD, 4: ERROR, 5: ERROR}
_MSG_REQUEST, _MSG_REPLY, _MSG_LOCATE_REQUEST, _MSG_LOCATE_REPLY = 0, 1, 3, 4
_MSG_NAMES = {0: "Request", 1: "Reply", 2: "CancelRequest", 3: "LocateRequest",
              4: "LocateReply", 5: "CloseConnection", 6: "MessageError", 7: "Fragment"}


class CorbalocError(ValueError):
    """A corbaloc URL that cannot be used; the message is one line naming the fault."""


class Address:
    __slots__ = ("host", "port", "version")

    def __init__(self, host, port, version=(1, 0)):
        self.host, self.port, self.version = host, port, version

    def __repr__(self):
        return f"Address({self.host!r}, {self.port}, {self.version})"


class Corbaloc:
    """A parsed `corbaloc:iiop:[1.x@]host[:port][,...]/key` URL."""

    __slots__ = ("addresses", "key")

    def __init__(self, addresses, key):
        self.addresses, self.key = addresses, key

    def __str__(self):
        return format_corbaloc(self.addresses[0].host, self.addresses[0].port, self.key)


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def format_corbaloc(host, port, key):
    shown = f"[{host}]" if ":" in host else host
    key_bytes = key.encode() if isinstance(key, str) else key
    quoted = "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in key_bytes)
    return f"corbaloc::{shown}:{port}/{quoted}"


def _unescape_key(text, url):
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            pair = text[i + 1:i + 3]
            if len(pair) != 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
                raise CorbalocError(f"bad %-escape {text[i:i + 3]!r} in the object key of {url!r}")
            out.append(int(pair, 16))
            i += 3
            continue
        if ord(char) > 126 or ord(char) < 33:
            raise CorbalocError(f"character {char!r} in the object key of {url!r} must be %-escaped")
        out += char.encode()
        i += 1
    return bytes(out)


def _parse_address(text, url):
    if text.startswith("iiop:"):
        text = text[len("iiop:"):]
    elif text.startswith(":"):
        text = text[1:]
    else:
        protocol = text.split(":", 1)[0] or text
        raise CorbalocError(f"protocol {protocol!r} in {url!r} is not supported (only iiop)")
    version = (1, 0)
    if "@" in text:
        spelled, text = text.split("@", 1)
        major, dot, minor = spelled.partition(".")
        if not dot or not is_digits(major) or not is_digits(minor):
            raise CorbalocError(f"version {spelled!r} in {url!r} is not of the form 1.x")
        version = (int(major), int(minor))
        if version[0] != 1 or version[1] > 3:
            raise CorbalocError(f"GIOP version {spelled} in {url!r} is not 1.0 to 1.3")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host:
            raise CorbalocError(f"unterminated IPv6 address in {url!r}")
        if rest and not rest.startswith(":"):
            raise CorbalocError(f"unexpected {rest!r} after the IPv6 address in {url!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise CorbalocError(f"no host in {url!r}")
    if any(c.isspace() or c in "/?#" for c in host):
        raise CorbalocError(f"host {host!r} in {url!r} is not a host name or address")
    if port_text == "":
        port = DEFAULT_PORT
    elif is_digits(port_text) and 0 < int(port_text) < 65536:
        port = int(port_text)
    else:
        raise CorbalocError(f"port {port_text!r} in {url!r} is not a number from 1 to 65535")
    return Address(host, port, (version[0], min(version[1], 2)))


def parse_corbaloc(url):
    """Parse a corbaloc URL; CorbalocError (one line) when it is not a usable iiop corbaloc."""
    if not isinstance(url, str) or not url.startswith("corbaloc:"):
        raise CorbalocError(f"{url!r} does not start with 'corbaloc:'")
    rest = url[len("corbaloc:"):]
    if rest.startswith("rir:"):
        raise CorbalocError(f"{url!r}: corbaloc:rir needs an ORB; give an iiop address")
    addresses_text, slash, key_text = rest.partition("/")
    if not slash or not key_text:
        raise CorbalocError(f"{url!r} has no object key after '/'")
    addresses = [_parse_address(part, url) for part in addresses_text.split(",")]
    return Corbaloc(addresses, _unescape_key(key_text, url))


class Result:
    """The outcome of one check: status (HERE, UNKNOWN, FORWARD, TIMEOUT, REFUSED, CLOSED,
    ERROR)."""

    __slots__ = ("status", "detail", "elapsed", "body")

    def __init__(self, status, detail, elapsed, body=b""):
        self.status, self.detail, self.elapsed, self.body = status, detail, elapsed, body

    @property
    def alive(self):
        return self.status == HERE

    def __repr__(self):
        return f"Result({self.status!r}, {self.detail!r}, {self.elapsed * 1000:.1f} ms)"


# CDR encoding, as much of it as the two messages need.

class _Writer:
    def __init__(self, little, base=0):
        self.little, self.base, self.data = little, base, bytearray()

    def align(self, n):
        while (self.base + len(self.data)) % n:
            self.data.append(0)

    def octet(self, value):
        self.data.append(value)

    def ushort(self, value):
        import struct

        self.align(2)
        self.data += struct.pack("<H" if self.little else ">H", value)

    def ulong(self, value):
        import struct

        self.align(4)
        self.data += struct.pack("<I" if self.little else ">I", value)

    def octets(self, value):
        self.ulong(len(value))
        self.data += value

    def string(self, value):
        self.octets(value.encode() + b"\0")


class _Reader:
    def __init__(self, data, little, base=0):
        self.data, self.little, self.base, self.pos = data, little, base, 0

    def align(self, n):
        while (self.base + self.pos) % n:
            self.pos += 1

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated CDR data")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def ushort(self):
        import struct

        self.align(2)
        return struct.unpack("<H" if self.little else ">H", self.take(2))[0]

    def ulong(self):
        import struct

        self.align(4)
        return struct.unpack("<I" if self.little else ">I", self.take(4))[0]

    def octets(self):
        return bytes(self.take(self.ulong()))

    def string(self):
        raw = self.octets()
        return raw[:-1].decode("latin-1") if raw.endswith(b"\0") else raw.decode("latin-1")


def _header(version, little, msg_type, size):
    import struct

    flags = 1 if little else 0
    return b"GIOP" + bytes((version[0], version[1], flags, msg_type)) + struct.pack(
        "<I" if little else ">I", size)


def locate_request_message(key, request_id=1, version=(1, 0), little=True):
    """The bytes of a LocateRequest for `key` (bytes) in GIOP `version`."""
    body = _Writer(little, base=12)
    body.ulong(request_id)
    if version >= (1, 2):
        body.ushort(0)  # TargetAddress discriminant KeyAddr
    body.octets(key)
    return _header(version, little, _MSG_LOCATE_REQUEST, len(body.data)) + bytes(body.data)


def _request_message(key, operation, args, request_id, little=True):
    """A GIOP 1.0 Request: service contexts, id, response expected, key, operation, principal."""
    body = _Writer(little, base=12)
    body.ulong(0)  # no service contexts
    body.ulong(request_id)
    body.octet(1)  # response expected
    body.octets(key)
    body.string(operation)
    body.ulong(0)  # requesting principal (empty)
    args(body)
    return _header((1, 0), little, _MSG_REQUEST, len(body.data)) + bytes(body.data)


MAX_MESSAGE = 1 << 20


def parse_header(header):
    """(major, minor, little endian, message type, body size) of a 12-byte GIOP header;
    ValueError saying what is wrong with it."""
    import struct

    header = bytes(header)
    if len(header) != 12:
        raise ValueError(f"sent a {len(header)}-byte GIOP header")
    if header[:4] != b"GIOP":
        raise ValueError(f"answered {header[:4]!r}, not GIOP")
    little = bool(header[6] & 1)
    size = struct.unpack("<I" if little else ">I", header[8:12])[0]
    if size > MAX_MESSAGE:
        raise ValueError(f"sent an implausible {size}-byte GIOP message")
    return header[4], header[5], little, header[7], size


class _Exchange:
    """One connection, one deadline: connect, send, read exactly one GIOP message."""

    def __init__(self, host, port, timeout):
        self.host, self.port = host, port
        self.began = time.monotonic()
        self.deadline = self.began + max(0.0, timeout)

    def elapsed(self):
        return time.monotonic() - self.began

    def left(self):
        return self.deadline - time.monotonic()

    def run(self, message):
        """(header fields, body) or a Result for a failure."""
        # _socket, not socket: the socket module pulls in enum and selectors, which would
        # double the cost of a monitor that only needs one blocking TCP exchange.
        import _socket

        where = f"{self.host}:{self.port}"
        if self.left() <= 0:
            return Result(TIMEOUT, f"no time left to contact {where}", self.elapsed())
        sock = None
        try:
            sock = self._connect(_socket)
        except _socket.timeout:
            return Result(TIMEOUT, f"connect to {where} timed out", self.elapsed())
        except ConnectionRefusedError:
            return Result(REFUSED, f"connection to {where} refused", self.elapsed())
        except _socket.gaierror as exc:
            return Result(ERROR, f"cannot resolve {self.host}: {exc.strerror or exc}",
                          self.elapsed())
        except OSError as exc:
            return Result(REFUSED if exc.errno in (111, 113, 101) else ERROR,
                          f"cannot connect to {where}: {exc.strerror or exc}", self.elapsed())
        try:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            sock.settimeout(max(0.001, self.left()))
            sock.sendall(message)
            try:
                fields = parse_header(self._read(sock, 12))
            except ValueError as exc:
                return Result(ERROR, f"{where} {exc}", self.elapsed())
            body = self._read(sock, fields[-1])
            return fields[:-1], body
        except _socket.timeout:
            return Result(TIMEOUT, f"{where} accepted the connection but sent no GIOP reply within "
                                   f"{self.deadline - self.began:.1f}s (hung ORB?)", self.elapsed())
        except ConnectionError as exc:  # reset, broken pipe, or end of stream mid-reply
            return Result(CLOSED, f"{where} closed the connection: {exc}", self.elapsed())
        except OSError as exc:
            return Result(ERROR, f"talking to {where}: {exc.strerror or exc}", self.elapsed())
        finally:
            sock.close()

    def _connect(self, _socket):
        """A connected blocking socket to the first address of host that accepts, or raise."""
        failure = None
        for family, kind, proto, _, address in _addresses(_socket, self.host, self.port):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.settimeout(max(0.001, self.left()))
                sock.connect(address)
                return sock
            except OSError as exc:
                sock.close()
                failure = exc
                if isinstance(exc, _socket.timeout) or self.left() <= 0:
                    break
        raise failure if failure is not None else OSError(f"no address for {self.host}")

    def _read(self, sock, count):
        import _socket

        data = bytearray()
        while len(data) < count:
            left = self.left()
            if left <= 0:
                raise _socket.timeout()
            sock.settimeout(left)
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError(f"end of stream after {len(data)} of {count} bytes")
            data += chunk
        return data


def _addresses(_socket, host, port):
    """getaddrinfo rows for host:port; an address literal skips the resolver (and the idna
    codec, with re and enum behind it, that a str host name would load)."""
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        address = (host, port) if family == _socket.AF_INET else (host, port, 0, 0)
        return [(family, _socket.SOCK_STREAM, 0, "", address)]
    name = host.encode() if host.isascii() else host
    return _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM)


def _unexpected(msg_type, where, elapsed):
    name = _MSG_NAMES.get(msg_type, f"type {msg_type}")
    return Result(ERROR, f"{where} answered with a GIOP {name} message", elapsed)


def locate(host, port, key, timeout=2.0, version=(1, 0)):
    """Ask the ORB at host:port whether it serves object `key` (str or bytes); never raises."""
    key = key.encode() if isinstance(key, str) else bytes(key)
    exchange = _Exchange(host, port, timeout)
    outcome = exchange.run(locate_request_message(key, request_id=1, version=version))
    if isinstance(outcome, Result):
        return outcome
    (_, _, little, msg_type), body = outcome
    return parse_locate_reply(msg_type, little, body, format_corbaloc(host, port, key),
                              exchange.elapsed())


def parse_locate_reply(msg_type, little, body, where, elapsed=0.0):
    """The Result a LocateReply (message type, byte order, body) means; never raises."""
    if msg_type != _MSG_LOCATE_REPLY:
        return _unexpected(msg_type, where, elapsed)
    try:
        reader = _Reader(body, little, base=12)
        reader.ulong()  # request id
        code = reader.ulong()
    except ValueError:
        return Result(ERROR, f"{where} sent a truncated LocateReply", elapsed)
    status = _LOCATE_STATUS.get(code, ERROR)
    words = {HERE: "object here", UNKNOWN: "unknown object", FORWARD: "object forwarded"}
    detail = words.get(status, f"locate status {code}")
    return Result(status, f"{where}: {detail}", elapsed, bytes(body[reader.pos:]))


def locate_url(url, timeout=2.0):
    """locate() for a corbaloc URL (str or Corbaloc): the first address that is not refused."""
    parsed = parse_corbaloc(url) if isinstance(url, str) else url
    deadline = time.monotonic() + timeout
    result = None
    for address in parsed.addresses:
        result = locate(address.host, address.port, parsed.key,
                        max(0.0, deadline - time.monotonic()), address.version)
        if result.status != REFUSED:
            return result
    return result


# Object references (IORs): read from a resolve reply, written by test stand-ins.

class Profile:
    """The IIOP profile of an IOR: where the object lives."""

    __slots__ = ("host", "port", "key", "version")

    def __init__(self, host, port, key, version):
        self.host, self.port, self.key, self.version = host, port, key, version


def _read_ior(reader):
    """(type id, [Profile]) of a CDR-encoded IOR at the reader's position."""
    type_id = reader.string()
    profiles = []
    for _ in range(reader.ulong()):
        tag = reader.ulong()
        data = reader.octets()
        if tag != 0 or not data:  # TAG_INTERNET_IOP only
            continue
        inner = _Reader(data[1:], bool(data[0] & 1), base=1)
        major, minor = inner.take(2)
        host = inner.string()
        port = inner.ushort()
        key = inner.octets()
        profiles.append(Profile(host, port, key, (major, minor)))
    return type_id, profiles


def encode_ior(type_id, host, port, key, little=True):
    """The stringified `IOR:...` of an object served over IIOP 1.0 at host:port with `key`."""
    profile = _Writer(little, base=1)
    profile.octet(1)
    profile.octet(0)
    profile.string(host)
    profile.ushort(port)
    profile.octets(key.encode() if isinstance(key, str) else key)
    ior = _Writer(little, base=1)
    ior.string(type_id)
    ior.ulong(1)
    ior.ulong(0)
    ior.octets(bytes((1 if little else 0,)) + bytes(profile.data))
    return "IOR:" + (bytes((1 if little else 0,)) + bytes(ior.data)).hex()


def decode_ior(text):
    """(type id, [Profile], at least one) of a stringified `IOR:...`; ValueError when it is
    not one or no IIOP profile says where the object lives."""
    if not text.startswith("IOR:"):
        raise ValueError("does not start with 'IOR:'")
    data = bytes.fromhex(text[4:])
    if not data:
        raise ValueError("is empty")
    type_id, profiles = _read_ior(_Reader(data[1:], bool(data[0] & 1), base=1))
    if not profiles:
        raise ValueError("has no IIOP profile (a nil reference, or one only other transports "
                         "reach)")
    return type_id, profiles


def resolve(host, port, key, name, timeout=2.0):
    """CosNaming resolve of `name` ("a/b" or "a.kind/b") at the naming context host:port/key.

    Returns a Result: HERE with `body` set to the stringified IOR of the bound object, UNKNOWN
    when the name is not bound (NotFound), or a failure as locate() gives it.
    """
    key = key.encode() if isinstance(key, str) else bytes(key)
    components = [tuple(part.rsplit(".", 1)) if "." in part else (part, "")
                  for part in name.split("/") if part]

    def args(body):
        body.ulong(len(components))
        for ident, kind in components:
            body.string(ident)
            body.string(kind)

    exchange = _Exchange(host, port, timeout)
    outcome = exchange.run(_request_message(key, "resolve", args, request_id=2))
    if isinstance(outcome, Result):
        return outcome
    (_, _, little, msg_type), body = outcome
    return parse_resolve_reply(msg_type, little, body,
                               f"{format_corbaloc(host, port, key)} resolve {name!r}",
                               exchange.elapsed())


def parse_resolve_reply(msg_type, little, body, where, elapsed=0.0):
    """The Result a Reply to resolve (message type, byte order, body) means: HERE with the
    bound object's IOR (re-encoded, its first IIOP profile) as body; never raises."""
    if msg_type != _MSG_REPLY:
        return _unexpected(msg_type, where, elapsed)
    try:
        reader = _Reader(body, little, base=12)
        for _ in range(reader.ulong()):  # service contexts
            reader.ulong()
            reader.octets()
        reader.ulong()  # request id
        status = reader.ulong()
        if status == 0:
            type_id, profiles = _read_ior(reader)
            if not profiles:
                return Result(ERROR, f"{where}: bound to a nil or non-IIOP reference", elapsed)
            first = profiles[0]
            ior = encode_ior(type_id, first.host, first.port, first.key)
            return Result(HERE, f"{where}: bound", elapsed, ior.encode())
        if status == 1:
            repository_id = _printable(reader.string())
            if repository_id.endswith("/NotFound:1.0"):
                return Result(UNKNOWN, f"{where}: not bound", elapsed)
            return Result(ERROR, f"{where}: {repository_id}", elapsed)
        if status == 2:
            return Result(ERROR, f"{where}: system exception {_printable(reader.string())}",
                          elapsed)
        return Result(ERROR, f"{where}: reply status {status}", elapsed)
    except ValueError:
        return Result(ERROR, f"{where}: truncated Reply", elapsed)


def _printable(text, limit=200):
    """A peer's string as it may appear in an exit reason: one line, bounded."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])
