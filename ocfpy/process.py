"""Starting a service detached from the agent, and stopping it with escalation.

Only start and stop use this module (it imports signal); programs are started by ocfpy.command
(no subprocess module anywhere on an agent's path), and the monitor path reads /proc through
ocfpy.identity alone.
"""

import os
import signal
import time

from . import command, wait
from .command import OUTPUT_BYTES, OUTPUT_LINES, SpawnError, last_lines
from .identity import Identity, all_stats, boot_id, read_stat

__all__ = ("SpawnError", "spawn", "terminate", "run_to_completion", "cannot_obey",
           "session_members", "log_tail", "STOPPED_GRACE")


def spawn(argv, *, cwd="/", umask=0o022, user="", env=None, logfile="/dev/null"):
    """Run argv as a daemon in its own session; return (Identity, ocfpy.command.Child).

    The Child lets the caller see an early exit status while the agent still runs; once the
    agent exits the daemon is reparented and lives on by itself.
    """
    log_fd = _open_log(logfile, user)
    try:
        return _start(argv, cwd=cwd, umask=umask, user=user, env=env, output=log_fd)
    finally:
        os.close(log_fd)


def _start(argv, *, cwd, umask, user, env, output):
    """Start argv in its own session (ocfpy.command.start): (Identity, Child); SpawnError when
    it cannot be run."""
    child = command.start(argv, output=output, cwd=cwd, umask=umask, user=user, env=env)
    identity = Identity.of(child.pid)
    if identity is None:  # exited already; keep its pid so the caller can report the status
        identity = Identity(child.pid, 0, "")
    return identity, child


def _open_log(logfile, user=""):
    """The log opened for appending, never through a symlink and without blocking: a FIFO that
    nobody reads fails at once (ENXIO) rather than holding start past its timeout.

    Root appends to what it opened there, so the open file itself is checked (a log directory
    may be shared, /var/log is group-writable on some systems): a regular file must belong to
    root or the service's user and have no other name, else whoever could write the directory
    might have planted a hard link to a file of root's, or a file of their own.
    """
    import fcntl
    import stat

    from .safefile import trusted_uids

    try:
        fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_NONBLOCK | os.O_CLOEXEC, 0o640)
    except OSError as exc:
        raise SpawnError(f"cannot open log file {logfile}: {exc.strerror}") from None
    status = os.fstat(fd)
    problem = ""
    if stat.S_ISREG(status.st_mode) and status.st_nlink > 1:
        problem = f"has {status.st_nlink} names (hard links); refusing to append to it"
    elif stat.S_ISREG(status.st_mode) and status.st_uid not in trusted_uids((user,)):
        problem = f"is owned by uid {status.st_uid}, not by root or the service's user"
    if problem:
        os.close(fd)
        raise SpawnError(f"log file {logfile} {problem}")
    # The service writes to it as to any log: blocking.
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    return fd


def session_members(leader):
    """Live processes in the leader's session or process group (the leader included)."""
    return [
        stat.pid for stat in all_stats()
        if stat.alive and (stat.session == leader.pid or stat.pgrp == leader.pid)
    ]


def _signal_all(pids, signum):
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _left(leader):
    """Pids of the leader's session still alive (the leader's own when only it is left)."""
    members = session_members(leader) if _owns_session(leader) else []
    return members or ([leader.pid] if leader.alive() else [])


def _wait_gone(leader, until):
    """What is left of the leader's session at `until` at the latest ([] once all is gone)."""
    left = []

    def gone():
        left[:] = _left(leader)
        return not left

    wait.until(gone, until, 0.05)
    return left


def _owns_session(leader):
    """Whether processes in the session (or group) numbered leader.pid can only be ours.

    While any process uses a number as its session or group id, Linux does not hand that number
    out as a new pid. So once the leader is gone, processes left in its session are its own
    children; but a live process of another start time under the same pid means the number was
    free and reused, and that session belongs to somebody else.
    """
    if leader.boot and leader.boot != boot_id():
        return False
    stat = read_stat(leader.pid)
    if stat is None:
        return True
    if stat.start_ticks != leader.start_ticks:
        return False
    return stat.session == leader.pid or stat.pgrp == leader.pid


# Seconds a process found stopped (state T) gets between SIGTERM (with SIGCONT) and SIGKILL: it
# was hung, and waiting for it to shut down cleanly only delays the recovery.
STOPPED_GRACE = 0.5


def cannot_obey(identity):
    """Why `identity` cannot act on a polite shutdown request ('stopped (state T)', 'a
    zombie'), or '' when it can: such a process goes straight to signals."""
    stat = read_stat(identity.pid)
    if stat is None or stat.start_ticks != identity.start_ticks:
        return ""
    if stat.state in ("T", "t"):
        return f"stopped (state {stat.state})"
    if stat.state == "Z":
        return "a zombie"
    return ""


def terminate(leader, *, stop_signal=signal.SIGTERM, kill_at, give_up_at, log):
    """Stop the process and everything in its session: stop_signal, then SIGKILL at `kill_at`.

    Times are time.monotonic() values. Returns the pids still alive at `give_up_at` (empty on
    success). Only processes that are verifiably the leader or in its session are signalled.
    """
    targets = session_members(leader) if _owns_session(leader) else []
    if leader.alive() and leader.pid not in targets:
        targets.append(leader.pid)
    if not targets:
        return []
    log.info(f"sending {signal.Signals(stop_signal).name} to {len(targets)} process(es), "
             f"leader {leader.pid}")
    _signal_all(targets, stop_signal)
    # A stopped process (state T) keeps the signal pending until it runs again: let it act.
    _signal_all(targets, signal.SIGCONT)
    left = _wait_gone(leader, kill_at)
    if left:
        log.warning(f"processes {left} outlived {signal.Signals(stop_signal).name}; sending SIGKILL")
        _signal_all(left, signal.SIGKILL)
        left = _wait_gone(leader, give_up_at)
    return left


def run_to_completion(argv, *, timeout, log, **spawn_options):
    """Run a helper command (a start or stop script) in its own session, output to its log.

    Returns (exit status, its last output lines): the status is None when it overran `timeout`
    seconds; then it and its session were killed. The lines are what it appended to a regular
    log file (at most OUTPUT_LINES, also logged when it failed). Output never goes to a pipe:
    daemons the script starts would inherit it and hold it open for their whole life. Raises
    SpawnError when it cannot be run at all.
    """
    logfile = spawn_options.get("logfile", "/dev/null")
    since = _regular_size(logfile)
    identity, child = spawn(argv, **spawn_options)
    status = child.wait(max(0.1, timeout))
    if status is None:
        terminate(identity, kill_at=time.monotonic() + 1.0, give_up_at=time.monotonic() + 2.0,
                  log=log)
        child.wait(command.REAP_GRACE)
    lines = log_tail(logfile, since) if since is not None else []
    if status != 0:
        _log_output(log, argv, lines)
    return status, lines


def _log_output(log, argv, lines):
    for line in lines:
        log.warning(f"{os.path.basename(argv[0])}: {line}")


def _regular_size(path):
    """Size of the regular file at `path`, 0 when there is none yet, None for anything else
    (a FIFO or a device: never read back)."""
    import stat

    try:
        status = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return 0
    except OSError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def log_tail(path, since, count=OUTPUT_LINES):
    """The last `count` non-empty lines written to `path` after offset `since` (at most
    OUTPUT_BYTES read). Only a regular file is read: a FIFO or a device never ends, and the
    services that inherited the log would keep a read to its end waiting for ever."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return []
        start = max(since, status.st_size - OUTPUT_BYTES)
        data = os.pread(fd, max(0, status.st_size - start), start)
    except OSError:
        return []
    finally:
        os.close(fd)
    return last_lines(data, count)
