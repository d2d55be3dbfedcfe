"""One operation at a time per resource: an flock on RUN_DIR/<agent>/<instance>.lock.

Pacemaker never runs two operations of one resource on a node at once, but a person can
(`crm_resource --force-start` beside the cluster, a manual stop during a start). Two starts
that both find the service stopped would both launch it, and the pidfile would keep only one.
Every operation but meta-data and validate-all holds this lock, so they run one after the
other. The kernel drops an flock when its holder exits, however it exits, so a killed agent
never leaves a stale lock; services never inherit it (the descriptor is close-on-exec and
services are spawned with close_fds).
"""

import fcntl
import posix  # not os, on the monitor path: docs/design.md
import time

from .codes import OCF, OCFError

POLL = 0.05


class OperationLock:
    def __init__(self, path):
        self.path = path
        self.fd = None

    def acquire(self, until, action):
        """Hold the lock, waiting until the monotonic time `until` at most; OCFError(ERR_GENERIC)
        when another operation holds it all that time."""
        try:
            try:
                self.fd = self._open()
            except FileNotFoundError:  # the first operation of this agent since boot
                from .safefile import make_directory  # as service.run_path(create=True)

                make_directory(self.path.rpartition("/")[0], 0o755)
                self.fd = self._open()
        except OSError as exc:
            raise OCFError(OCF.ERR_GENERIC, f"cannot open the operation lock {self.path}: "
                                            f"{exc.strerror}") from None
        if self._try_lock():  # nobody else holds it: the usual case, and a monitor's
            return
        from . import wait

        started = time.monotonic()
        if not wait.until(self._try_lock, until, POLL):
            self.release()
            raise OCFError(OCF.ERR_GENERIC, f"{action}: another operation on this resource "
                                            f"held {self.path} for "
                                            f"{time.monotonic() - started:.1f}s")

    def _try_lock(self):
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _open(self):
        return posix.open(self.path, posix.O_RDWR | posix.O_CREAT | posix.O_NOFOLLOW
                          | posix.O_CLOEXEC, 0o600)

    def release(self):
        if self.fd is not None:
            posix.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
