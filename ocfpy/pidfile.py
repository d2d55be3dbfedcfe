"""Pidfiles that record a process identity and are only ever replaced or removed by us.

Agents run as root and the pidfile path is a parameter: whatever file it names would be
clobbered by a naive agent. An ocfpy pidfile starts with a marker line; a file without it is
never rewritten or deleted, and the agent says which path it refused and why.
"""

from .identity import Identity

MARKER = "ocfpy-pidfile 1"


class ForeignFileError(Exception):
    """The path exists but is not an ocfpy pidfile (or cannot be read as one)."""


def read(path, trusted=None):
    """The Identity recorded at `path`, or None when there is no file there.

    Nothing but a regular file owned by root (or a trusted user) in a directory only they can
    write is ever opened (ocfpy.safefile): not a FIFO, a device node or a symlink.
    """
    from . import safefile

    try:
        data = safefile.read(path, 4096, trusted=trusted)
    except OSError as exc:
        raise ForeignFileError(_refusal(path, exc)) from None
    return None if data is None else _parse(path, data)


def _refusal(path, exc):
    from .safefile import UnsafePath

    if isinstance(exc, UnsafePath):
        return f"{exc}; not used as a pidfile"
    return f"{path}: cannot be used as a pidfile ({exc.strerror or exc})"


def _parse(path, data):
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines or lines[0] != MARKER:
        raise ForeignFileError(f"{path} exists and is not an ocfpy pidfile")
    fields = dict(line.partition("=")[::2] for line in lines[1:])
    try:
        return Identity(fields["pid"], fields["start"], fields.get("boot", ""))
    except (KeyError, ValueError):
        raise ForeignFileError(f"{path} is an ocfpy pidfile with damaged contents") from None


def write(path, identity, trusted=None):
    """Record `identity` at `path`, replacing only a pidfile of ours.

    The check and the replacement happen in one directory held open, which nobody but root or
    a trusted user can write: what was checked is what gets replaced.
    """
    from . import safefile

    text = f"{MARKER}\npid={identity.pid}\nstart={identity.start_ticks}\nboot={identity.boot}\n"
    directory, name = safefile.split(path)
    try:
        with safefile.Directory(directory, trusted=trusted) as handle:
            existing = handle.read(name, 4096)
            if existing is not None:
                _parse(path, existing)  # raises ForeignFileError for anything not ours
            handle.replace(name, text.encode())
    except safefile.UnsafePath as exc:
        raise ForeignFileError(_refusal(path, exc)) from None


def remove(path, trusted=None):
    """Delete the pidfile at `path` if it is one of ours; leave anything else alone."""
    from . import safefile

    try:
        return safefile.remove(path, lambda data: _parse(path, data), trusted=trusted)
    except (ForeignFileError, OSError):
        return False
