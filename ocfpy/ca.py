"""Channel Access reads without a CA client library: name search over UDP, then one TCP circuit.

A monitor that asks an IOC for its heartbeat needs one value, not a client library with its
threads, repeater and array backends. read() and read_many() speak the wire protocol themselves,
inside one deadline for the whole exchange: search (or a given server address), connect, VERSION,
CLIENT_NAME, HOST_NAME, CREATE_CHAN, READ_NOTIFY of the channel's native type, CLEAR_CHANNEL.

Wire format (EPICS Channel Access protocol specification, version 4.13): every message is a
16-byte big-endian header (command, payload size, data type, data count, parameter 1,
parameter 2) and a payload padded to a multiple of 8 bytes. A payload size of 0xFFFF with a
data count of 0 marks the extended header: the real payload size and data count follow as two
32-bit words. Search datagrams go to EPICS_CA_ADDR_LIST and, unless EPICS_CA_AUTO_ADDR_LIST
says no, to the broadcast address of every interface that is up, at EPICS_CA_SERVER_PORT (5064)
unless an entry names its own port.

Every failure is a CAError (one line, naming the PV where one is concerned): CATimeout when
the deadline passed, ProtocolError when a peer sent bytes that are not Channel Access (truncated,
oversized, an unexpected command, an id that was never handed out), ServerError when the server
refused (no such channel, no read access, an error status), ConfigError for an unusable
EPICS_CA_* setting or PV name (a host name that does not resolve is a plain CAError: that may
pass). socket and struct are imported by the functions that talk (the C module _socket), so
importing this module costs nothing.
"""

import time

SERVER_PORT = 5064
MINOR_VERSION = 13
PRIORITY = 0
DONT_REPLY = 5
# libca's largest UDP search datagram; a monitor searches for one or two names.
MAX_DATAGRAM = 1024
# No monitor needs more: a larger message is a broken or hostile peer, not data.
DEFAULT_MAX_PAYLOAD = 1 << 20

VERSION, SEARCH, ERROR, CLEAR_CHANNEL, NOT_FOUND, READ_NOTIFY = 0, 6, 11, 12, 14, 15
BEACON, CREATE_CHAN, CLIENT_NAME, HOST_NAME, ACCESS_RIGHTS, ECHO = 13, 18, 20, 21, 22, 23
CREATE_CH_FAIL, SERVER_DISCONN = 26, 27
COMMAND_NAMES = {
    0: "VERSION", 1: "EVENT_ADD", 2: "EVENT_CANCEL", 3: "READ", 4: "WRITE", 6: "SEARCH",
    8: "EVENTS_OFF", 9: "EVENTS_ON", 10: "READ_SYNC", 11: "ERROR", 12: "CLEAR_CHANNEL",
    13: "RSRV_IS_UP", 14: "NOT_FOUND", 15: "READ_NOTIFY", 17: "REPEATER_CONFIRM",
    18: "CREATE_CHAN", 19: "WRITE_NOTIFY", 20: "CLIENT_NAME", 21: "HOST_NAME",
    22: "ACCESS_RIGHTS", 23: "ECHO", 24: "REPEATER_REGISTER", 26: "CREATE_CH_FAIL",
    27: "SERVER_DISCONN",
}

# The native (DBF) types: name, bytes per element, struct format (None: 40-byte strings).
STRING_SIZE = 40
TYPES = {0: ("STRING", STRING_SIZE, None), 1: ("SHORT", 2, "h"), 2: ("FLOAT", 4, "f"),
         3: ("ENUM", 2, "H"), 4: ("CHAR", 1, "B"), 5: ("LONG", 4, "i"), 6: ("DOUBLE", 8, "d")}

ECA_NORMAL = 1
# Message numbers (status >> 3) of the ECA codes a read can meet, with the words of caerr.h.
_ECA_WORDS = {6: "server out of memory", 9: "more data than EPICS_CA_MAX_ARRAY_BYTES",
              14: "invalid data type", 19: "data transfer failed", 22: "invalid element count",
              24: "virtual circuit disconnect", 46: "read access denied",
              50: "no conversion between the types", 54: "channel unavailable in the server"}


class CAError(Exception):
    """A Channel Access exchange that gave no value; str() is one line. `name`: the PV."""

    def __init__(self, message, name=None):
        super().__init__(message)
        self.name = name


class CATimeout(CAError):
    """The deadline passed before the exchange completed."""


class ProtocolError(CAError):
    """A peer sent bytes that are not the Channel Access this exchange expects."""


class ServerError(CAError):
    """The server answered, refusing: unknown channel, no read access, an error status."""


class ConfigError(CAError):
    """An EPICS_CA_* setting, a server address or a PV name that cannot be used."""


class Header:
    __slots__ = ("command", "size", "data_type", "count", "p1", "p2")

    def __init__(self, command, size, data_type, count, p1, p2):
        self.command, self.size, self.data_type = command, size, data_type
        self.count, self.p1, self.p2 = count, p1, p2

    @property
    def name(self):
        return COMMAND_NAMES.get(self.command, f"command {self.command}")

    def __repr__(self):
        return (f"Header({self.name}, size={self.size}, type={self.data_type}, "
                f"count={self.count}, p1={self.p1}, p2={self.p2})")


class Value:
    """What one READ_NOTIFY gave: the PV, its native type, the elements and the server."""

    __slots__ = ("name", "type", "values", "server")

    def __init__(self, name, type_name, values, server):
        self.name, self.type, self.values, self.server = name, type_name, values, server

    @property
    def value(self):
        """The first element (None for an empty array)."""
        return self.values[0] if self.values else None

    def __repr__(self):
        return f"Value({self.name!r}, {self.type}, {self.values!r}, from {self.server})"


# Messages: building and parsing.

def message(command, payload=b"", data_type=0, count=0, p1=0, p2=0):
    """The bytes of one message; the payload is padded to 8 bytes, the extended header used
    when the size or count does not fit 16 bits."""
    import struct

    payload = bytes(payload) + b"\0" * (-len(payload) % 8)
    if len(payload) < 0xFFFF and count < 0xFFFF:
        return struct.pack(">HHHHII", command, len(payload), data_type, count, p1, p2) + payload
    return struct.pack(">HHHHIIII", command, 0xFFFF, data_type, 0, p1, p2, len(payload),
                       count) + payload


def string_payload(text):
    """A NUL-terminated string (PV, user or host name) as a payload."""
    data = text.encode() if isinstance(text, str) else bytes(text)
    return data + b"\0"


def parse_header(data, offset=0, max_payload=DEFAULT_MAX_PAYLOAD):
    """(Header, offset of its payload) for the message at data[offset:]; None when the bytes
    end inside the header; ProtocolError when the payload size exceeds max_payload."""
    import struct

    if len(data) - offset < 16:
        return None
    command, size, data_type, count, p1, p2 = struct.unpack_from(">HHHHII", data, offset)
    offset += 16
    if size == 0xFFFF and count == 0:
        if len(data) - offset < 8:
            return None
        size, count = struct.unpack_from(">II", data, offset)
        offset += 8
    if size > max_payload:
        raise ProtocolError(f"a {COMMAND_NAMES.get(command, f'command {command}')} message "
                            f"announces {size} bytes of payload (more than {max_payload})")
    return Header(command, size, data_type, count, p1, p2), offset


def split_datagram(data, max_payload=DEFAULT_MAX_PAYLOAD):
    """[(Header, payload)] of every message in one datagram; ProtocolError if one is cut."""
    messages = []
    offset = 0
    while offset < len(data):
        parsed = parse_header(data, offset, max_payload)
        if parsed is None:
            raise ProtocolError(f"datagram ends inside a message header ({len(data) - offset} "
                                "bytes left)")
        header, offset = parsed
        if offset + header.size > len(data):
            raise ProtocolError(f"datagram ends inside a {header.name} payload ({header.size} "
                                f"bytes announced, {len(data) - offset} there)")
        messages.append((header, bytes(data[offset:offset + header.size])))
        offset += header.size
    return messages


def decode(data_type, count, payload):
    """The elements of a DBR payload of the plain type `data_type`; ProtocolError if it does
    not hold `count` of them."""
    import struct

    if data_type not in TYPES:
        raise ProtocolError(f"data type {data_type} is not a native Channel Access type")
    type_name, size, code = TYPES[data_type]
    if len(payload) < count * size:
        raise ProtocolError(f"{count} {type_name} elements need {count * size} bytes, "
                            f"the payload has {len(payload)}")
    if code is None:
        return [payload[i:i + size].split(b"\0", 1)[0].decode("utf-8", "replace")
                for i in range(0, count * size, size)]
    return list(struct.unpack_from(f">{count}{code}", payload))


def _eca_text(status):
    number = (status & 0xFFF8) >> 3
    words = _ECA_WORDS.get(number)
    return f"status {status} ({words})" if words else f"status {status}"


# Where to search.

def _port_of(text, what):
    from .numbers import is_digits

    if not is_digits(text) or not 0 < int(text) < 65536:
        raise ConfigError(f"{what} {text!r} is not a port from 1 to 65535")
    return int(text)


def search_addresses(environ):
    """[(IPv4 address, port)] that search datagrams go to, from EPICS_CA_ADDR_LIST,
    EPICS_CA_AUTO_ADDR_LIST and EPICS_CA_SERVER_PORT in `environ`."""
    import _socket

    port_text = environ.get("EPICS_CA_SERVER_PORT", "").strip()
    port = _port_of(port_text, "EPICS_CA_SERVER_PORT") if port_text else SERVER_PORT
    addresses = []
    for entry in environ.get("EPICS_CA_ADDR_LIST", "").split():
        host, colon, entry_port = entry.partition(":")
        where = (host, _port_of(entry_port, f"the port of EPICS_CA_ADDR_LIST entry {entry!r}")
                 if colon else port)
        try:
            _socket.inet_aton(host)
        except OSError:
            try:
                where = (_socket.gethostbyname(host), where[1])
            except OSError:  # perhaps only for now: not a configuration error
                raise CAError(f"EPICS_CA_ADDR_LIST entry {entry!r} is not an IPv4 address "
                              "or a host name this node resolves") from None
        if where not in addresses:
            addresses.append(where)
    # libca's test: auto is on unless the value contains "no" (any case here).
    if "no" not in environ.get("EPICS_CA_AUTO_ADDR_LIST", "").lower():
        for address in broadcast_addresses():
            if (address, port) not in addresses:
                addresses.append((address, port))
    return addresses


def broadcast_addresses():
    """The IPv4 broadcast (or point-to-point peer) address of every interface that is up and
    not a loopback, as libca's automatic address list has them."""
    import _socket
    import fcntl
    import struct

    siocgifflags, siocgifbrdaddr, siocgifdstaddr = 0x8913, 0x8919, 0x8917
    iff_up, iff_broadcast, iff_loopback, iff_pointopoint = 0x1, 0x2, 0x8, 0x10
    found = []
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        for _, name in _socket.if_nameindex():
            request = struct.pack("16s24x", name.encode()[:15])
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(sock.fileno(), siocgifflags,
                                                            request), 16)[0]
            except OSError:
                continue
            if not flags & iff_up or flags & iff_loopback:
                continue
            if flags & iff_broadcast:
                which = siocgifbrdaddr
            elif flags & iff_pointopoint:
                which = siocgifdstaddr
            else:
                continue
            try:
                answer = fcntl.ioctl(sock.fileno(), which, request)
            except OSError:  # no IPv4 address on it
                continue
            address = _socket.inet_ntoa(answer[20:24])
            if address != "0.0.0.0" and address not in found:
                found.append(address)
    finally:
        sock.close()
    return found


def parse_server(text, environ=None):
    """(host, port) of a server address 'HOST[:PORT]' (default port: EPICS_CA_SERVER_PORT)."""
    host, colon, port_text = text.strip().partition(":")
    if not host:
        raise ConfigError(f"server address {text!r} has no host")
    if colon:
        return host, _port_of(port_text, f"the port of server address {text!r}")
    port_text = (environ or {}).get("EPICS_CA_SERVER_PORT", "").strip()
    return host, _port_of(port_text, "EPICS_CA_SERVER_PORT") if port_text else SERVER_PORT


# The exchange.

class _Deadline:
    def __init__(self, timeout):
        self.began = time.monotonic()
        self.timeout = max(0.0, timeout)
        self.at = self.began + self.timeout

    def left(self):
        return self.at - time.monotonic()


def _checked_names(names):
    out = []
    for name in names:
        if not isinstance(name, str) or not name or "\0" in name or not name.isascii() \
                or any(c.isspace() for c in name) or len(name) > 512:
            raise ConfigError(f"{name!r} is not a Channel Access PV name")
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("no PV name to read")
    return out


def _search(names, addresses, deadline, max_payload):
    """{name: (host, port)} of the server that answered each name's search."""
    import _socket
    import struct

    if not addresses:
        raise ConfigError("no address to search: EPICS_CA_ADDR_LIST is empty and "
                          "EPICS_CA_AUTO_ADDR_LIST found no broadcast address", names[0])
    cids = {cid: name for cid, name in enumerate(names, 1)}
    datagrams = []
    datagram = message(VERSION, data_type=PRIORITY, count=MINOR_VERSION)
    for cid, name in cids.items():
        request = message(SEARCH, string_payload(name), DONT_REPLY, MINOR_VERSION, cid, cid)
        if len(datagram) + len(request) > MAX_DATAGRAM and len(datagram) > 16:
            datagrams.append(datagram)
            datagram = message(VERSION, data_type=PRIORITY, count=MINOR_VERSION)
        datagram += request
    datagrams.append(datagram)
    found = {}
    trouble = malformed = ""  # what went wrong besides silence; a reply that was not CA
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_BROADCAST, 1)
        pause, next_send = 0.05, 0.0
        while len(found) < len(cids):
            now = time.monotonic()
            if now >= next_send:
                for cid_datagram in datagrams:
                    for address in addresses:
                        try:
                            sock.sendto(cid_datagram, address)
                        except OSError as exc:
                            trouble = f"sending to {address[0]}:{address[1]}: {exc.strerror}"
                next_send, pause = now + pause, min(1.0, pause * 2)
            wait = min(next_send, deadline.at) - time.monotonic()
            if deadline.left() <= 0:
                break
            sock.settimeout(max(0.001, wait))
            try:
                data, sender = sock.recvfrom(65536)
            except _socket.timeout:
                continue
            except ConnectionRefusedError:  # ICMP port unreachable from a unicast address
                trouble = "nothing listens on a searched address (port unreachable)"
                continue
            except OSError as exc:
                trouble = f"receiving search replies: {exc.strerror or exc}"
                continue
            try:
                replies = split_datagram(data, max_payload)
            except ProtocolError as exc:
                malformed = f"{sender[0]}:{sender[1]} sent a malformed search reply: {exc}"
                continue
            for header, _ in replies:
                if header.command != SEARCH or header.p2 not in cids:
                    continue  # VERSION, a NOT_FOUND, or an answer to an earlier search
                name = cids[header.p2]
                if name in found:
                    continue
                ip = header.p1
                host = sender[0] if ip in (0, 0xFFFFFFFF) else _socket.inet_ntoa(
                    struct.pack(">I", ip))
                found[name] = (host, header.data_type)
    finally:
        sock.close()
    missing = [name for name in names if name not in found]
    if missing:
        searched = " ".join(f"{h}:{p}" for h, p in addresses[:4]) + (
            " ..." if len(addresses) > 4 else "")
        detail = f"; {malformed or trouble}" if malformed or trouble else ""
        kind = ProtocolError if malformed else CATimeout
        raise kind(f"no server answered the search for {missing[0]} within "
                   f"{deadline.timeout:.1f}s (searched {searched}{detail})", missing[0])
    return found


class _Circuit:
    """One TCP connection to a CA server, read and written within the exchange's deadline."""

    def __init__(self, host, port, deadline, max_payload):
        self.host, self.port, self.deadline = host, port, deadline
        self.max_payload = max_payload
        self.where = f"{host}:{port}"
        self.buffer = bytearray()
        self.sock = None

    def connect(self, name):
        import _socket

        left = self.deadline.left()
        if left <= 0:
            raise CATimeout(f"no time left to connect to {self.where}", name)
        try:
            _socket.inet_aton(self.host)
            address = (self.host, self.port)
        except OSError:
            try:
                address = (_socket.gethostbyname(self.host), self.port)
            except OSError as exc:
                raise CAError(f"cannot resolve server {self.host}: {exc.strerror or exc}",
                              name) from None
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            sock.settimeout(max(0.001, left))
            sock.connect(address)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except _socket.timeout:
            sock.close()
            raise CATimeout(f"connect to {self.where} timed out", name) from None
        except OSError as exc:
            sock.close()
            raise ServerError(f"cannot connect to {self.where}: {exc.strerror or exc}",
                              name) from None
        self.sock = sock

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def send(self, data, name):
        import _socket

        try:
            self.sock.settimeout(max(0.001, self.deadline.left()))
            self.sock.sendall(data)
        except _socket.timeout:
            raise CATimeout(f"sending to {self.where} timed out", name) from None
        except OSError as exc:
            raise ServerError(f"{self.where} dropped the circuit: {exc.strerror or exc}",
                              name) from None

    def _fill(self, count, name, waiting_for):
        import _socket

        while len(self.buffer) < count:
            left = self.deadline.left()
            if left <= 0:
                raise CATimeout(f"{self.where} sent no {waiting_for} within "
                                f"{self.deadline.timeout:.1f}s", name)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, count - len(self.buffer)))
            except _socket.timeout:
                continue
            except OSError as exc:
                raise ServerError(f"{self.where} dropped the circuit: {exc.strerror or exc}",
                                  name) from None
            if not chunk:
                raise ServerError(f"{self.where} closed the circuit while {waiting_for} was "
                                  "awaited", name)
            self.buffer += chunk

    def receive(self, name, waiting_for):
        """The next (Header, payload) from the server."""
        self._fill(16, name, waiting_for)
        if self.buffer[2:4] == b"\xff\xff" and self.buffer[6:8] == b"\0\0":
            self._fill(24, name, waiting_for)
        try:
            header, offset = parse_header(self.buffer, 0, self.max_payload)
        except ProtocolError as exc:
            raise ProtocolError(f"{self.where}: {exc}", name) from None
        self._fill(offset + header.size, name, waiting_for)
        payload = bytes(self.buffer[offset:offset + header.size])
        del self.buffer[:offset + header.size]
        return header, payload


def _user_name():
    import posix  # not os: a monitor's read (docs/design.md)

    try:
        import pwd

        return pwd.getpwuid(posix.getuid()).pw_name
    except (ImportError, KeyError):
        return str(posix.getuid())


class _Channel:
    __slots__ = ("name", "cid", "sid", "native_type", "native_count", "rights", "ioid", "value")

    def __init__(self, name, cid):
        self.name, self.cid = name, cid
        self.sid = self.native_type = self.native_count = self.rights = self.ioid = None
        self.value = None


def _refusal(circuit, header, payload, channel_name):
    """The ServerError (or ProtocolError) for an ERROR message."""
    text = payload[16:].split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    request = ""
    if len(payload) >= 16:
        parsed = parse_header(payload[:16])
        request = f" to {parsed[0].name}" if parsed else ""
    return ServerError(f"{circuit.where} answered{request} with an error, "
                       f"{_eca_text(header.p2)}{': ' + text if text else ''}", channel_name)


def _read_on_circuit(host, port, names, first_cid, count, deadline, max_payload):
    """{name: Value} read from the server at host:port over one circuit."""
    import _socket

    circuit = _Circuit(host, port, deadline, max_payload)
    channels = {cid: _Channel(name, cid) for cid, name in enumerate(names, first_cid)}
    first = names[0]
    circuit.connect(first)
    try:
        greeting = (message(VERSION, data_type=PRIORITY, count=MINOR_VERSION)
                    + message(CLIENT_NAME, string_payload(_user_name()))
                    + message(HOST_NAME, string_payload(_socket.gethostname())))
        for cid, channel in channels.items():
            greeting += message(CREATE_CHAN, string_payload(channel.name), p1=cid,
                                p2=MINOR_VERSION)
        circuit.send(greeting, first)
        pending = dict(channels)
        while pending:
            header, payload = circuit.receive(next(iter(pending.values())).name,
                                              "CREATE_CHAN reply")
            _created(circuit, header, payload, channels, pending)
        ioids = {}
        reads = b""
        for ioid, channel in enumerate(channels.values(), 1):
            if not channel.rights & 1:
                raise ServerError(f"{circuit.where} gives no read access to {channel.name}",
                                  channel.name)
            wanted = channel.native_count if count is None else min(count, channel.native_count)
            channel.ioid = ioid
            ioids[ioid] = (channel, max(1, wanted))
            reads += message(READ_NOTIFY, data_type=channel.native_type, count=max(1, wanted),
                             p1=channel.sid, p2=ioid)
        circuit.send(reads, first)
        pending = dict(ioids)
        while pending:
            channel = next(iter(pending.values()))[0]
            header, payload = circuit.receive(channel.name, "READ_NOTIFY reply")
            _answered(circuit, header, payload, channels, ioids, pending)
        _clear(circuit, channels)
    finally:
        circuit.close()
    return {c.name: c.value for c in channels.values()}


def _created(circuit, header, payload, channels, pending):
    """Handle one message while channels are being created."""
    command = header.command
    if command in (VERSION, ECHO):
        return
    if command == ERROR:
        raise _refusal(circuit, header, payload, next(iter(pending.values())).name)
    if command not in (ACCESS_RIGHTS, CREATE_CHAN, CREATE_CH_FAIL, SERVER_DISCONN):
        raise ProtocolError(f"{circuit.where} sent {header.name} while channels were being "
                            "created", next(iter(pending.values())).name)
    channel = channels.get(header.p1)
    if channel is None:
        raise ProtocolError(f"{circuit.where} sent {header.name} for channel id {header.p1}, "
                            "which this client never created", next(iter(pending.values())).name)
    if command == ACCESS_RIGHTS:
        channel.rights = header.p2
    elif command == CREATE_CHAN:
        if header.data_type not in TYPES:
            raise ProtocolError(f"{circuit.where} gives {channel.name} the type "
                                f"{header.data_type}, not a native type", channel.name)
        if header.p1 not in pending:
            raise ProtocolError(f"{circuit.where} created {channel.name} twice", channel.name)
        channel.sid, channel.native_type = header.p2, header.data_type
        channel.native_count = header.count
        if channel.rights is None:  # servers before 4.? send no access rights: read allowed
            channel.rights = 1
        del pending[header.p1]
    else:
        why = "refused to create" if command == CREATE_CH_FAIL else "disconnected"
        raise ServerError(f"{circuit.where} {why} the channel {channel.name}", channel.name)


def _answered(circuit, header, payload, channels, ioids, pending):
    """Handle one message while reads are outstanding."""
    command = header.command
    first = next(iter(pending.values()))[0].name
    if command in (VERSION, ECHO, ACCESS_RIGHTS):
        return
    if command == ERROR:
        raise _refusal(circuit, header, payload, first)
    if command == SERVER_DISCONN:
        channel = channels.get(header.p1)
        name = channel.name if channel else first
        raise ServerError(f"{circuit.where} disconnected the channel {name}", name)
    if command != READ_NOTIFY:
        raise ProtocolError(f"{circuit.where} sent {header.name} while a READ_NOTIFY reply "
                            "was awaited", first)
    if header.p2 not in pending:
        raise ProtocolError(f"{circuit.where} answered READ_NOTIFY id {header.p2}, which "
                            "is not outstanding", first)
    channel, wanted = pending.pop(header.p2)
    if header.p1 != ECA_NORMAL:
        raise ServerError(f"{circuit.where} failed the read of {channel.name}: "
                          f"{_eca_text(header.p1)}", channel.name)
    if header.data_type != channel.native_type or header.count > wanted:
        raise ProtocolError(f"{circuit.where} answered the read of {channel.name} with "
                            f"{header.count} of type {header.data_type}, asked for {wanted} "
                            f"of type {channel.native_type}", channel.name)
    try:
        values = decode(header.data_type, header.count, payload)
    except ProtocolError as exc:
        raise ProtocolError(f"{circuit.where} sent a bad value of {channel.name}: {exc}",
                            channel.name) from None
    channel.value = Value(channel.name, TYPES[header.data_type][0], values, circuit.where)


def _clear(circuit, channels):
    """CLEAR_CHANNEL every channel and take the replies; the values are already read, so a
    server that answers this badly or late costs nothing more than the wait."""
    try:
        circuit.send(b"".join(message(CLEAR_CHANNEL, p1=c.sid, p2=c.cid)
                              for c in channels.values()), None)
        left = {c.cid for c in channels.values()}
        while left:
            header, _ = circuit.receive(None, "CLEAR_CHANNEL reply")
            if header.command == CLEAR_CHANNEL:
                left.discard(header.p2)
    except CAError:
        pass


def read_many(names, timeout=2.0, environ=None, server=None, count=None,
              max_payload=DEFAULT_MAX_PAYLOAD):
    """{name: Value} for every PV in `names`, within `timeout` seconds for everything.

    server: 'HOST[:PORT]' to connect to directly; None to search the EPICS_CA_* addresses of
    `environ` (default os.environ). count: elements to read (None: the native count).
    Raises a CAError naming the PV it failed on.
    """
    if environ is None:
        import os

        environ = os.environ
    names = _checked_names(names)
    deadline = _Deadline(timeout)
    if server is not None:
        where = dict.fromkeys(names, parse_server(server, environ))
    else:
        where = _search(names, search_addresses(environ), deadline, max_payload)
    by_server = {}
    for name in names:
        by_server.setdefault(where[name], []).append(name)
    values = {}
    first_cid = 1
    for (host, port), on_server in by_server.items():
        values.update(_read_on_circuit(host, port, on_server, first_cid, count, deadline,
                                       max_payload))
        first_cid += len(on_server)
    return values


def read(name, timeout=2.0, environ=None, server=None, count=None,
         max_payload=DEFAULT_MAX_PAYLOAD):
    """The Value of one PV (see read_many)."""
    return read_many([name], timeout, environ, server, count, max_payload)[name]
