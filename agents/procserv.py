"""procServ as the epics-ioc agent runs it: its command line and its console.

procServ binds a TCP console to 127.0.0.1 whatever address it names: only its --allow, which
Debian's procServ is built without, would bind another (acceptFactory.cc upstream; a second
procServ given another address and the same port exits 98). So a console is always reached on
the IOC's node, and by default each IOC has a unix socket of its own, as procServ's own
manage-procs gives each instance. Shared by the agent, ocfgen (its checks, the firewall) and
ocfpy-ioc; the agent's monitor never loads it.
"""

from ocfpy.numbers import is_digits, is_dotted_quad

CONSOLE_HOST = "127.0.0.1"
# The longest path a unix socket address holds (sun_path, less its terminating NUL).
MAX_SOCKET_PATH = 107
# After the resource's name in RUN_DIR/epics-ioc: no other file there ends in ".console".
CONSOLE_SUFFIX = ".console/control"


def parse_console(value):
    """('tcp', '127.0.0.1', port) or ('unix', path, None) for a console parameter value.

    IP:PORT is accepted with a numeric IPv4 address, as procServ accepts it, and means
    127.0.0.1:PORT all the same (CONSOLE_HOST); console_elsewhere() names such an address. A
    console is reached on the IOC's node, as `ocfpy-ioc attach` does through ssh."""
    if value.startswith("unix:"):
        path = value[len("unix:"):]
        if not path or "\0" in path:
            raise ValueError(f"needs a socket path after 'unix:', not {value!r}")
        return "unix", path, None
    host, sep, port = value.rpartition(":")
    if not is_digits(port) or not 0 < int(port) < 65536:
        raise ValueError(f"must be PORT, IP:PORT or unix:PATH with a port 1-65535, not {value!r}")
    if sep and not is_dotted_quad(host):
        raise ValueError(f"must name a numeric IPv4 address (procServ's rule), not {host!r}")
    return "tcp", CONSOLE_HOST, int(port)


def console_elsewhere(value):
    """The address other than 127.0.0.1 that a console value names (procServ binds 127.0.0.1
    all the same), or ''. Once, ocfgen wrote ADDRESS:7001 for every IOC of its own address:
    such a resource still starts and stops, its console on 127.0.0.1 as it always was, and
    ocfgen check refuses the value in a description."""
    host, sep, _ = value.rpartition(":")
    return host if sep and not value.startswith("unix:") and host != CONSOLE_HOST else ""


def console_socket(instance):
    """The console of the IOC resource `instance` when its console parameter is empty: the
    unix socket RUN_DIR/epics-ioc/<resource>.console/control, in a directory of its own that
    procServ running as `user` can create it in, as procServ's manage-procs keeps
    unix:RUNDIR/procserv-NAME/control. One per IOC: no two IOCs on a node can collide."""
    from ocfpy.service import run_path

    path = run_path("epics-ioc", instance, CONSOLE_SUFFIX)
    if len(path.encode("utf-8", "surrogateescape")) > MAX_SOCKET_PATH:
        import hashlib

        digest = hashlib.sha256(instance.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        path = run_path("epics-ioc", digest, CONSOLE_SUFFIX)
    return path


def console_text(endpoint):
    """'unix:PATH' or '127.0.0.1:PORT' for a console_of() answer: procServ's own syntax."""
    kind, where, port = endpoint
    return f"unix:{where}" if kind == "unix" else f"{where}:{port}"


def console_of(value, instance):
    """Where procServ's console of the IOC resource `instance` listens, given its console
    parameter `value`: ('tcp', '127.0.0.1', port) or ('unix', path, None)."""
    return ("unix", console_socket(instance), None) if not value else parse_console(value)


def command(procserv, ioc_name, boot_dir, logfile, endpoint, ioc_argv):
    """procServ's argv: in the foreground, no automatic restart (Pacemaker owns restarts),
    quiet, named, in the boot directory, logging to `logfile` if any, its console at
    `endpoint` (a console_of answer), running `ioc_argv`. endpoint_of() reads it back."""
    argv = [procserv, "-f", "--noautorestart", "-q", "-n", ioc_name, "-c", boot_dir]
    if logfile:
        argv += ["-L", logfile]
    return argv + [console_text(endpoint), *ioc_argv]


def endpoint_of(argv):
    """The console a procServ command line of command()'s layout names (a running procServ's
    may be older than the resource's parameters), or None when it is not one."""
    at = 10 if argv[8:9] == ["-L"] else 8
    if argv[6:7] != ["-c"] or len(argv) <= at:
        return None
    try:
        return parse_console(argv[at])
    except ValueError:
        return None


def connect(endpoint, timeout):
    """A socket connected to the console at `endpoint`; OSError when it cannot be reached."""
    import socket

    kind, where, port = endpoint
    if kind == "tcp":
        return socket.create_connection((where, port), timeout=timeout)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect("\0" + where[1:] if where.startswith("@") else where)
    except OSError:
        conn.close()
        raise
    return conn


# Seconds a console may stay silent after a line is typed (procServ greets and echoes at once).
CONSOLE_ANSWER = 2.0


def drain(conn):
    """Read whatever the console sent, without blocking; the number of bytes read."""
    count = 0
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return count
            count += len(data)
    except OSError:
        return count
