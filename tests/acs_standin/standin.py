"""STAND-IN ACS start-up scripts (not ACS): acsStart, acsStop, acsStatus, acsStartContainer,
acsStopContainer, reproducing the interface the ocfpy ACS agents rely on (see README.md).

Exit codes as ACS's acsstartup: 40 cannot create, 41 cannot use, 42 failure, 43 bad
arguments, 44 no port, 45 timeout.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

CANNOT_CREATE, CANNOT_USE, FAILURE, BAD_ARGS, NO_PORT, TIMEOUT = 40, 41, 42, 43, 44, 45
HERE = os.path.dirname(os.path.abspath(__file__))


def say(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", flush=True)


def parse(argv, flags=()):
    """(instance, {flag: True}, [positional]) from `[-b N] [flags] args`; exits 43 when bad."""
    instance = os.environ.get("ACS_INSTANCE", "0")
    seen, rest = {}, []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word in ("-b", "--baseport"):
            if not words:
                say("-b needs an instance number")
                sys.exit(BAD_ARGS)
            instance = words.pop(0)
        elif word in flags:
            seen[word] = True
        elif word.startswith("-"):
            say(f"unknown option {word}")
            sys.exit(BAD_ARGS)
        else:
            rest.append(word)
    if not instance.isdigit() or int(instance) > 99:
        say(f"bad instance number {instance!r}")
        sys.exit(BAD_ARGS)
    return int(instance), seen, rest


def acs_tmp():
    if os.environ.get("ACS_TMP"):
        return os.environ["ACS_TMP"]
    if not os.environ.get("ACSDATA"):
        say("neither ACS_TMP nor ACSDATA is set")
        sys.exit(CANNOT_CREATE)
    return os.path.join(os.environ["ACSDATA"], "tmp", socket.gethostname().split(".")[0])


def instance_dir(instance):
    return os.path.join(acs_tmp(), f"ACS_INSTANCE.{instance}")


def host():
    return os.environ.get("ACS_HOST", "127.0.0.1")


def recorded_pids(directory):
    pids = {}
    pid_dir = os.path.join(directory, "pids")
    for name in sorted(os.listdir(pid_dir)) if os.path.isdir(pid_dir) else ():
        try:
            with open(os.path.join(pid_dir, name)) as f:
                pids[name] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return pids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def port_free(port):
    probe = socket.socket()
    # SO_REUSEADDR: connections in TIME_WAIT do not count, only another listener does.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host(), port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def spawn(argv, log, directory):
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, cwd=directory)


def record(directory, name, pid):
    with open(os.path.join(directory, "pids", name), "w") as f:
        f.write(f"{pid}\n")


def nameclt(base, *args):
    ref = f"NameService=corbaloc::{host()}:{base + 1}/NameService"
    return subprocess.run(["nameclt", "-ORBInitRef", ref, *args], capture_output=True, text=True,
                          timeout=10)


def acs_start(argv):
    instance, _, rest = parse(argv, ("--noloadifr", "--noloadIFR"))
    if rest:
        say(f"unexpected arguments {rest}")
        return BAD_ARGS
    directory = instance_dir(instance)
    base = 3000 + 100 * instance
    if os.path.isdir(directory):
        live = [name for name, pid in recorded_pids(directory).items() if alive(pid)]
        if live:
            say(f"instance {instance} is in use ({', '.join(live)} running)")
            return CANNOT_USE
        say(f"clearing dead instance {instance}")
        shutil.rmtree(directory)
    for port, what in ((base, "Manager"), (base + 1, "NameService")):
        if not port_free(port):
            say(f"port {port} for the {what} is not free")
            return NO_PORT
    try:
        os.makedirs(os.path.join(directory, "pids"))
        os.makedirs(os.path.join(directory, "logs"))
        os.makedirs(os.path.join(directory, "omninames"))
    except OSError as exc:
        say(f"cannot create {directory}: {exc.strerror}")
        return CANNOT_CREATE
    deadline = time.monotonic() + float(os.environ.get("ACS_STARTUP_TIMEOUT", "30"))
    logs = os.path.join(directory, "logs")
    naming = spawn(["omniNames", "-start", str(base + 1), "-logdir",
                    os.path.join(directory, "omninames"), "-ORBendPoint",
                    f"giop:tcp:{host()}:{base + 1}"], os.path.join(logs, "naming.log"), directory)
    record(directory, "NAMING_SERVICE_PID", naming.pid)
    while nameclt(base, "list").returncode != 0:
        if naming.poll() is not None:
            say(f"omniNames exited with {naming.returncode}")
            return FAILURE
        if time.monotonic() > deadline:
            say("timed out waiting for the naming service")
            return TIMEOUT
        time.sleep(0.1)
    manager_log = os.path.join(logs, "manager.log")
    manager = spawn([sys.executable, os.path.join(HERE, "responder.py"), host(), str(base),
                     "Manager"], manager_log, directory)
    record(directory, "MANAGER_PID", manager.pid)
    while True:
        with open(manager_log) as f:
            if "listening" in f.read():
                break
        if manager.poll() is not None:
            say(f"manager exited with {manager.returncode}")
            return FAILURE
        if time.monotonic() > deadline:
            say("timed out waiting for the manager")
            return TIMEOUT
        time.sleep(0.05)
    say("Manager Application initialized")
    return 0


def stop_pids(pids, grace):
    for pid in pids:
        for signum in (signal.SIGTERM, signal.SIGCONT):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
    until = time.monotonic() + grace
    while any(alive(pid) for pid in pids) and time.monotonic() < until:
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def acs_stop(argv):
    instance, _, rest = parse(argv)
    if rest:
        say(f"unexpected arguments {rest}")
        return BAD_ARGS
    directory = instance_dir(instance)
    if not os.path.isdir(directory):
        say(f"instance {instance} does not exist ({directory})")
        return CANNOT_USE
    if os.stat(directory).st_uid != os.getuid():
        say(f"{directory} belongs to another user")
        return CANNOT_USE
    stoplock = os.path.join(directory, ".stoplock")
    if os.path.exists(stoplock):
        say(f"{stoplock} exists: another acsStop is running")
        return CANNOT_USE
    open(stoplock, "w").close()
    stop_pids([pid for name, pid in recorded_pids(directory).items() if alive(pid)], 3.0)
    shutil.rmtree(directory)
    say(f"instance {instance} stopped")
    return 0


def acs_status(argv):
    instance, _, _ = parse(argv)
    directory = instance_dir(instance)
    if not os.path.isdir(directory):
        say(f"instance {instance} is not running")
        return CANNOT_USE
    code = 0
    for name, pid in recorded_pids(directory).items():
        state = "running" if alive(pid) else "dead"
        print(f"{name} {pid} {state}")
        code = code if alive(pid) else FAILURE
    return code


def pid_name(container):
    return container.replace("/", ":") + "_PID"


def _cdr_string(value, pad_from):
    raw = value.encode() + b"\0"
    pad = b"\0" * (-pad_from % 4)
    return pad + struct.pack("<I", len(raw)) + raw


def container_ior(address, port, key):
    """A stringified IOR (IIOP 1.0 profile), encoded here independently of ocfpy.giop."""
    profile = b"\x01" + b"\x01\x00"  # little endian; IIOP 1.0
    profile += _cdr_string(address, len(profile) - 0)
    profile += b"\0" * (-len(profile) % 2) + struct.pack("<H", port)
    profile += b"\0" * (-len(profile) % 4) + struct.pack("<I", len(key)) + key
    body = b"\x01"
    body += _cdr_string("IDL:maci/Container:1.0", len(body))
    body += b"\0" * (-len(body) % 4) + struct.pack("<II", 1, 0)
    body += struct.pack("<I", len(profile)) + profile
    return "IOR:" + body.hex()


def acs_start_container(argv):
    instance, flags, rest = parse(argv, ("--java", "--cpp", "--py", "-java", "-cpp", "-py"))
    if len(rest) != 1 or len(flags) != 1:
        say("usage: acsStartContainer {--java|--cpp|--py} [-b N] NAME")
        return BAD_ARGS
    container = rest[0]
    directory = instance_dir(instance)
    base = 3000 + 100 * instance
    if not os.path.isdir(directory):
        say(f"ACS instance {instance} is not running ({directory} missing)")
        return CANNOT_USE
    sys.path.insert(0, HERE)
    import responder

    server = None
    for port in range(base + 50, base + 100):
        try:
            server = responder.serve(host(), port, [container], announce=False)
            break
        except OSError:
            continue
    if server is None:
        say("no free container port")
        return NO_PORT
    pid_file = os.path.join(directory, "pids", pid_name(container))
    with open(pid_file, "w") as f:
        f.write(f"{os.getpid()}\n")
    parts = container.split("/")
    for depth in range(1, len(parts)):
        nameclt(base, "bind_new_context", "/".join(parts[:depth]))
    ior = container_ior(host(), server.server_address[1], container.encode())
    done = nameclt(base, "-advanced", "rebind", container, ior)
    if done.returncode != 0:
        say(f"cannot register with the naming service: {done.stderr.strip()}")
        os.unlink(pid_file)
        return FAILURE

    def leave(signum, frame):
        nameclt(base, "unbind", container)
        try:
            os.unlink(pid_file)
        except FileNotFoundError:
            pass
        say(f"container {container} stopped")
        os._exit(0)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)
    say(f"container {container} ready on port {server.server_address[1]}")
    server.serve_forever()
    return 0


def acs_stop_container(argv):
    instance, flags, rest = parse(argv, ("-k",))
    if len(rest) != 1:
        say("usage: acsStopContainer [-b N] [-k] NAME")
        return BAD_ARGS
    pid_file = os.path.join(instance_dir(instance), "pids", pid_name(rest[0]))
    try:
        with open(pid_file) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        say(f"container {rest[0]} is not running (no {pid_file})")
        return FAILURE
    if not alive(pid):
        return 0
    os.kill(pid, signal.SIGKILL if flags.get("-k") else signal.SIGTERM)
    until = time.monotonic() + float(os.environ.get("ACS_STOP_CONTAINER_WAIT", "10"))
    while alive(pid) and time.monotonic() < until:
        time.sleep(0.05)
    if alive(pid):
        say(f"container {rest[0]} did not stop")
        return FAILURE
    return 0
