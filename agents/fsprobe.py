"""File-system checks that cannot hang the agent: they run in a forked child with a deadline.

A read from a stale NFS mount (or any path that blocks, such as a FIFO nobody writes to) never
returns; done in the agent itself it would hang the monitor until the executor kills it. The
child is a fork of the agent, so it starts with everything the agent has already imported (no
second interpreter to start); it reports each finished step on a pipe, and it is killed at the
deadline and never waited for beyond it, so even a child stuck in uninterruptible sleep leaves
the agent free to answer.
"""

# Each check is (kind, path): "list" a directory, "read" the first byte of a file, "exec" that a
# file is executable, "write" a scratch file into a directory (created exclusively, then removed).
KINDS = ("list", "read", "exec", "write")
_DOING = {"list": "listing", "read": "reading", "exec": "checking", "write": "writing into"}
_FAILING = {"list": "cannot be listed", "read": "cannot be read", "write": "cannot be written"}


def _check(kind, path):
    """'' when the check passes, else why not; runs in the child."""
    import os

    try:
        if kind == "list":
            os.listdir(path)
        elif kind == "read":
            with open(path, "rb") as f:
                f.read(1)
        elif kind == "exec":
            if not os.access(path, os.X_OK):
                return f"{path} is not executable"
        elif kind == "write":
            name = os.path.join(path, f".ocfpy-probe-{os.getpid()}")
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, b"x")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(name)
    except OSError as exc:
        return f"{path} {_FAILING.get(kind, 'cannot be checked')}: {exc.strerror}"
    return ""


def _child(checks, out):
    """The forked child: one line per check on `out` ('ok' or 'fail <why>'); never returns."""
    import os

    code = 1
    try:
        for kind, path in checks:
            problem = _check(kind, path)
            os.write(out, (f"fail {problem}\n" if problem else "ok\n").encode(errors="replace"))
            if problem:
                break
        else:
            code = 0
    finally:
        os._exit(code)  # never back into the agent: no cleanup, no buffered output flushed twice


def probe(checks, timeout):
    """'' when every check passes within `timeout` seconds, else why not (one line)."""
    import os
    import select
    import time
    from _signal import SIGKILL  # the signal module would load enum for a constant

    for kind, _ in checks:
        if kind not in KINDS:
            raise ValueError(f"unknown check {kind!r}")
    deadline = time.monotonic() + max(0.05, timeout)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(checks, write_end)
    os.close(write_end)
    out = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                os.kill(pid, SIGKILL)
                _reap_soon(pid)
                # The child reports each finished step; the first one it did not report hung.
                pending = [f"{_DOING[kind]} {path}" for kind, path in checks][len(_lines(out)):]
                what = pending[0] if pending else "the checks"
                return f"{what} did not complete within {timeout:.1f}s (hung file system?)"
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            out += chunk
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    for line in _lines(out):
        if line.startswith("fail "):
            return line[len("fail "):]
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return f"file-system check exited with status {code}"
    return ""


def _reap_soon(pid, within=0.2):
    """Reap the killed child if it dies within `within` seconds (one blocked in a FIFO or a
    socket dies at once); one stuck in uninterruptible sleep is left to init."""
    from ocfpy.wait import reaped

    reaped(pid, within)


def _lines(output):
    return output.decode(errors="replace").splitlines() if output else []
