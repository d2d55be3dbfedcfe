"""Find a service's processes by what they carry (an environment marker, command-line words) and
stop them with escalation. For stop and for monitors of services that keep no pidfile we can
trust; a /proc scan costs about a millisecond per hundred processes."""

import os
import time

from ocfpy.identity import Identity


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def with_environment(name, value):
    """Identities of live processes whose environment holds name=value exactly."""
    wanted = f"{name}={value}".encode()
    found = []
    for pid in pids():
        if pid == os.getpid():
            continue
        if wanted in _read(f"/proc/{pid}/environ").split(b"\0"):
            identity = Identity.of(pid)
            if identity is not None:
                found.append(identity)
    return found


def arguments(pid):
    """The argv (list of str) of process `pid`; [] for a kernel thread or a process gone."""
    raw = _read(f"/proc/{pid}/cmdline")
    return raw.rstrip(b"\0").decode("utf-8", "replace").split("\0") if raw else []


def with_arguments(predicate):
    """(Identity, argv) of live processes whose argv (list of str) satisfies `predicate`."""
    found = []
    for pid in pids():
        argv = arguments(pid)
        if argv and predicate(argv):
            identity = Identity.of(pid)
            if identity is not None:
                found.append((identity, argv))
    return found


def stop_all(identities, *, kill_at, give_up_at, log, stop_signal=15):
    """Stop signal (and SIGCONT, so a stopped process can act on it), then SIGKILL at kill_at.

    Returns the pids still alive at give_up_at. Only the given identities are signalled, and
    only while they are the processes they were when found.
    """
    import signal

    def send(targets, signum):
        for identity in targets:
            if identity.alive():
                try:
                    os.kill(identity.pid, signum)
                except ProcessLookupError:
                    pass

    def wait(until):
        while True:
            left = [identity for identity in identities if identity.alive()]
            if not left or time.monotonic() >= until:
                return left
            time.sleep(0.05)

    left = [identity for identity in identities if identity.alive()]
    if not left:
        return []
    log.info(f"sending signal {stop_signal} to pids {[i.pid for i in left]}")
    send(left, stop_signal)
    send(left, signal.SIGCONT)
    left = wait(kill_at)
    if left:
        log.warning(f"pids {[i.pid for i in left]} outlived signal {stop_signal}; sending SIGKILL")
        send(left, signal.SIGKILL)
        left = wait(give_up_at)
    return [identity.pid for identity in left]
