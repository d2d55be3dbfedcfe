"""File-system checks that cannot hang the agent: they run in a child interpreter with a deadline.

A read from a stale NFS mount (or any path that blocks, such as a FIFO nobody writes to) never
returns; done in the agent itself it would hang the monitor until the executor kills it. The
child process is killed at the deadline and never waited for beyond it, so even a child stuck
in uninterruptible sleep leaves the agent free to answer.
"""

# Each check is (kind, path): "list" a directory, "read" the first byte of a file, "exec" that a
# file is executable, "write" a scratch file into a directory (created exclusively, then removed).
KINDS = ("list", "read", "exec", "write")
_DOING = {"list": "listing", "read": "reading", "exec": "checking", "write": "writing into"}

_CHILD = r"""
import os, sys
args = sys.argv[1:]
for kind, path in zip(args[0::2], args[1::2]):
    try:
        if kind == "list":
            os.listdir(path)
        elif kind == "read":
            with open(path, "rb") as f:
                f.read(1)
        elif kind == "exec":
            if not os.access(path, os.X_OK):
                print(f"fail {path} is not executable")
                sys.exit(1)
        elif kind == "write":
            name = os.path.join(path, f".ocfpy-probe-{os.getpid()}")
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, b"x")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(name)
        print(f"ok {kind} {path}", flush=True)
    except OSError as exc:
        verb = {"list": "cannot be listed", "read": "cannot be read",
                "write": "cannot be written"}.get(kind, "cannot be checked")
        print(f"fail {path} {verb}: {exc.strerror}")
        sys.exit(1)
"""


def probe(checks, timeout):
    """'' when every check passes within `timeout` seconds, else why not (one line)."""
    import subprocess
    import sys

    argv = [sys.executable, "-I", "-S", "-c", _CHILD]
    for kind, path in checks:
        if kind not in KINDS:
            raise ValueError(f"unknown check {kind!r}")
        argv += [kind, path]
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, close_fds=True)
    try:
        out, _ = child.communicate(timeout=max(0.05, timeout))
    except subprocess.TimeoutExpired as expired:
        child.kill()
        # The child reports each finished step; the first one it did not report is what hung.
        done = _lines(expired.output)
        pending = [f"{_DOING[kind]} {path}" for kind, path in checks][len(done):]
        what = pending[0] if pending else "the checks"
        return f"{what} did not complete within {timeout:.1f}s (hung file system?)"
    for line in _lines(out):
        if line.startswith("fail "):
            return line[len("fail "):]
    if child.returncode != 0:
        return f"file-system check exited with status {child.returncode}"
    return ""


def _lines(output):
    if not output:
        return []
    return output.decode(errors="replace").splitlines()
