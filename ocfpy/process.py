"""Starting a service detached from the agent, and stopping it with escalation.

Only start and stop use this module (it imports subprocess and signal); the monitor path reads
/proc through ocfpy.identity alone.
"""

import os
import signal
import subprocess
import time

from .identity import Identity, all_stats, boot_id, read_stat


class SpawnError(Exception):
    """The command could not be executed (missing binary, bad user, unusable cwd or log)."""


def _user_settings(user):
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise SpawnError(f"user {user!r} does not exist on this node") from None
    return {
        "user": entry.pw_uid,
        "group": entry.pw_gid,
        "extra_groups": os.getgrouplist(user, entry.pw_gid),
        "home": entry.pw_dir,
    }


def spawn(argv, *, cwd="/", umask=0o022, user="", env=None, logfile="/dev/null"):
    """Run argv as a daemon in its own session; return (Identity, Popen).

    The Popen object lets the caller see an early exit status while the agent still runs; once
    the agent exits the daemon is reparented and lives on by itself.
    """
    env = dict(env or {})
    kwargs = {}
    if user:
        settings = _user_settings(user)
        env.setdefault("HOME", settings.pop("home"))
        env.setdefault("USER", user)
        env.setdefault("LOGNAME", user)
        kwargs.update(settings)
    log_fd = _open_log(logfile)
    try:
        child = subprocess.Popen(
            argv, cwd=cwd, env=env, umask=umask, start_new_session=True, close_fds=True,
            stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, **kwargs,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        what = getattr(exc, "strerror", None) or str(exc)
        raise SpawnError(f"cannot run {argv[0]}: {what}") from None
    finally:
        os.close(log_fd)
    identity = Identity.of(child.pid)
    if identity is None:  # exited already; keep its pid so the caller can report the status
        identity = Identity(child.pid, 0, "")
    return identity, child


def _open_log(logfile):
    """The log opened for appending, never through a symlink and without blocking: a FIFO that
    nobody reads fails at once (ENXIO) rather than holding start past its timeout."""
    import fcntl

    try:
        fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_NONBLOCK, 0o640)
    except OSError as exc:
        raise SpawnError(f"cannot open log file {logfile}: {exc.strerror}") from None
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


def _wait_gone(leader, until):
    while True:
        members = session_members(leader) if _owns_session(leader) else []
        if not members and not leader.alive():
            return []
        if time.monotonic() >= until:
            return members or [leader.pid]
        time.sleep(0.05)


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
    left = _wait_gone(leader, kill_at)
    if left:
        log.warning(f"processes {left} outlived {signal.Signals(stop_signal).name}; sending SIGKILL")
        _signal_all(left, signal.SIGKILL)
        left = _wait_gone(leader, give_up_at)
    return left


def run_to_completion(argv, *, timeout, log, **spawn_options):
    """Run a helper command (a start or stop script) in its own session, output to its log.

    Returns its exit status, or None when it overran `timeout` seconds; then it and its session
    were killed. Output never goes to a pipe: daemons the script starts would inherit it and
    hold it open for their whole life. Raises SpawnError when it cannot be run at all.
    """
    identity, child = spawn(argv, **spawn_options)
    until = time.monotonic() + max(0.1, timeout)
    while child.poll() is None and time.monotonic() < until:
        time.sleep(0.05)
    status = child.poll()
    if status is None:
        terminate(identity, kill_at=time.monotonic() + 1.0, give_up_at=time.monotonic() + 2.0,
                  log=log)
        child.wait()
    return status
