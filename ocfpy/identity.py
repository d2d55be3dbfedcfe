"""Who a process is: pid, start time and boot, read from /proc without psutil.

A pid alone is not an identity: after a crash the number can be reused by any other process.
The start time (in clock ticks since boot) and the boot id together name one process for its
whole life, so an agent never signals or reports on somebody else's process.

This module is the one reader of /proc for the agents and the testbed: a process's stat,
command line, environment, command name and children, and the list of every pid. Scans by
what a process carries (agents/procscan.py) are built on these readers.
"""

import posix  # not os, on the monitor path: docs/design.md


def boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


class ProcStat:
    """The fields of /proc/PID/stat an agent needs."""

    __slots__ = ("pid", "state", "ppid", "pgrp", "session", "start_ticks")

    def __init__(self, pid, state, ppid, pgrp, session, start_ticks):
        self.pid, self.state, self.ppid = pid, state, ppid
        self.pgrp, self.session, self.start_ticks = pgrp, session, start_ticks

    @property
    def alive(self):
        """Running, sleeping or stopped; a zombie or a dead task is gone."""
        return self.state not in ("Z", "X", "x")


def read_stat(pid):
    """ProcStat of `pid`, or None when there is no such process."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rfind(b")") + 2:].split()
    try:
        return ProcStat(
            int(pid), fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]),
            int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


class Identity:
    """One process for its whole life: pid + start time + boot."""

    __slots__ = ("pid", "start_ticks", "boot")

    def __init__(self, pid, start_ticks, boot):
        self.pid, self.start_ticks, self.boot = int(pid), int(start_ticks), boot

    @classmethod
    def of(cls, pid):
        """The identity of the live process `pid`, or None."""
        stat = read_stat(pid)
        if stat is None or not stat.alive:
            return None
        return cls(pid, stat.start_ticks, boot_id())

    def stat(self):
        """This process's ProcStat while it lives; None once it is gone or the pid was reused."""
        stat = read_stat(self.pid)
        if stat is None or stat.start_ticks != self.start_ticks or not stat.alive:
            return None
        if self.boot and self.boot != boot_id():
            return None
        return stat

    def alive(self):
        return self.stat() is not None

    def __eq__(self, other):
        return isinstance(other, Identity) and (self.pid, self.start_ticks, self.boot) == (
            other.pid, other.start_ticks, other.boot
        )

    def __hash__(self):
        return hash((self.pid, self.start_ticks, self.boot))

    def __repr__(self):
        return f"Identity(pid={self.pid}, start={self.start_ticks})"


def pids():
    """Every pid on this host (the numbered entries of /proc)."""
    return [int(entry) for entry in posix.listdir("/proc") if entry.isdigit() and entry.isascii()]


def all_stats():
    """ProcStat of every process on this host (a /proc scan; for stop, not for monitor)."""
    stats = (read_stat(pid) for pid in pids())
    return [stat for stat in stats if stat is not None]


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def arguments(pid):
    """The argv (list of str) of process `pid`; [] for a kernel thread or a process gone."""
    raw = _read(f"/proc/{int(pid)}/cmdline")
    return raw.rstrip(b"\0").decode("utf-8", "replace").split("\0") if raw else []


def environment(pid):
    """The environment of process `pid` as a list of b'NAME=value'; [] when unreadable."""
    return _read(f"/proc/{int(pid)}/environ").split(b"\0")


def command_name(pid):
    """The command name (comm) of process `pid`; '' when there is no such process."""
    return _read(f"/proc/{int(pid)}/comm").decode("utf-8", "replace").strip()


def children(pid):
    """Pids of the children of `pid` (Linux /proc/PID/task/PID/children); [] when gone."""
    try:
        return [int(word) for word in _read(f"/proc/{int(pid)}/task/{int(pid)}/children").split()]
    except ValueError:
        return []


def uptime():
    """Seconds since this host booted (/proc/uptime)."""
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])
