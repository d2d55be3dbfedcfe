"""Find a service's processes by what they carry (an environment marker, command-line words) and
stop them with escalation. For stop and for monitors of services that keep no pidfile we can
trust; a /proc scan costs about a millisecond per hundred processes. /proc itself is read by
ocfpy.identity."""

import posix  # not os, on the monitor path: docs/design.md

from ocfpy import wait
from ocfpy.identity import Identity, arguments, environment, pids


def with_environment(name, value):
    """Identities of live processes whose environment holds name=value exactly."""
    wanted = f"{name}={value}".encode()
    found = []
    for pid in pids():
        if pid == posix.getpid():
            continue
        if wanted in environment(pid):
            identity = Identity.of(pid)
            if identity is not None:
                found.append(identity)
    return found


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


def signal_all(identities, signum):
    """Send signum to each process that is still the one found."""
    for identity in identities:
        if identity.alive():
            try:
                posix.kill(identity.pid, signum)
            except ProcessLookupError:
                pass


def stop_all(identities, *, kill_at, give_up_at, log, stop_signal=15):
    """Stop signal (and SIGCONT, so a stopped process can act on it), then SIGKILL at kill_at.

    Returns the pids still alive at give_up_at. Only the given identities are signalled, and
    only while they are the processes they were when found.
    """
    import signal

    def alive():
        return [identity for identity in identities if identity.alive()]

    def wait_gone(until):
        wait.until(lambda: not alive(), until)
        return alive()

    left = alive()
    if not left:
        return []
    log.info(f"sending signal {stop_signal} to pids {[i.pid for i in left]}")
    signal_all(left, stop_signal)
    signal_all(left, signal.SIGCONT)
    left = wait_gone(kill_at)
    if left:
        log.warning(f"pids {[i.pid for i in left]} outlived signal {stop_signal}; sending SIGKILL")
        signal_all(left, signal.SIGKILL)
        left = wait_gone(give_up_at)
    return [identity.pid for identity in left]
