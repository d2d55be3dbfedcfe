"""Pidfiles that record a process identity and are only ever replaced or removed by us.

Agents run as root and the pidfile path is a parameter: whatever file it names would be
clobbered by a naive agent. An ocfpy pidfile starts with a marker line; a file without it is
never rewritten or deleted, and the agent says which path it refused and why.
"""

import os

from .identity import Identity

MARKER = "ocfpy-pidfile 1"


class ForeignFileError(Exception):
    """The path exists but is not an ocfpy pidfile (or cannot be read as one)."""


def read(path):
    """The Identity recorded at `path`, or None when there is no file there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ForeignFileError(f"{path}: cannot be opened as a pidfile ({exc.strerror})") from None
    try:
        data = os.read(fd, 4096)
    except OSError as exc:  # a directory, a FIFO with no writer, ...
        raise ForeignFileError(f"{path}: cannot be read as a pidfile ({exc.strerror})") from None
    finally:
        os.close(fd)
    return _parse(path, data)


def _parse(path, data):
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines or lines[0] != MARKER:
        raise ForeignFileError(f"{path} exists and is not an ocfpy pidfile")
    fields = dict(line.partition("=")[::2] for line in lines[1:])
    try:
        return Identity(fields["pid"], fields["start"], fields.get("boot", ""))
    except (KeyError, ValueError):
        raise ForeignFileError(f"{path} is an ocfpy pidfile with damaged contents") from None


def write(path, identity):
    """Record `identity` at `path`, replacing only a pidfile of ours."""
    read(path)  # raises ForeignFileError for anything that is not ours
    text = f"{MARKER}\npid={identity.pid}\nstart={identity.start_ticks}\nboot={identity.boot}\n"
    write_atomically(path, text.encode())


def write_atomically(path, data, mode=0o644):
    """Put `data` at `path` in one step, through a temporary file next to it.

    The temporary is created exclusively and never through a symlink (a name planted there
    fails the write instead of redirecting it), and is removed if anything goes wrong. The
    caller has already made sure that what is at `path` is its own to replace.
    """
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask must not narrow or widen it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def remove(path):
    """Delete the pidfile at `path` if it is one of ours; leave anything else alone."""
    try:
        read(path)
    except ForeignFileError:
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
