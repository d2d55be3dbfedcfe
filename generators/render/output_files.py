"""Writing generated files: atomically, with their mode set before any content is written.

A file that holds a secret must never be readable by others, not even for the instant between
creating it and a later chmod: the temporary file is created with the final mode. Commands
replace only files ocfgen wrote, told by MARK in their first KiB, and never a file the command
reads (the description): a mistyped output path never overwrites a description, a hand-made
configuration or a directory.
"""

import os
import stat

# Every generated file (CIB, corosync.conf, units, keepalived, nftables, DOT/SVG) carries MARK
# in the comment at its top. It ends in DEL (U+007F), a character TOML allows nowhere (neither
# in comments nor in strings), so no description can carry it, whatever its comments say.
MARK = "[ocfgen output\x7f]"


def write_file(path, text, mode=0o644):
    """Write `text` to `path` (parents created 0755) with `mode`; replaces atomically
    (ocfpy.safefile: never through a symlink, fsynced; a sticky directory such as /tmp will do)."""
    from ocfpy import safefile

    safefile.replace(path, text.encode("utf-8"), mode, parents=True, private=False)


def make_directories(directory):
    """Create `directory` and its missing parents, each 0755 at most (os.makedirs would give
    the parents 0777 less the umask), walking from / without following a planted symlink."""
    from ocfpy import safefile

    safefile.make_directory(directory, 0o755)


def under(root, path):
    """`path` (absolute, as on the node) placed below the output directory `root`."""
    return os.path.join(root, path.lstrip("/"))


def foreign(path, inputs=()):
    """Why `path` must not be replaced by an output, or None (absent, or written by ocfgen).

    `inputs`: the files the command reads; an output that is one of them (the same path or
    the same file by another name) is refused before anything is written."""
    for source in inputs:
        if _same_file(path, source):
            return f"is {source}, an input of this command: write the output elsewhere"
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror
    if stat.S_ISDIR(status.st_mode):
        return "is a directory"
    if not stat.S_ISREG(status.st_mode):
        return "exists and is not a regular file"
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as exc:
        return exc.strerror
    if MARK.encode("utf-8") not in head:
        return "exists and was not written by ocfgen: move it away, or write elsewhere"
    return None


def _same_file(one, other):
    if os.path.realpath(one) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def write_files(files):
    """Write every (path, text or bytes, mode) or none: each is staged in a private temporary file
    first and all are renamed into place once every one was written. Refuses (OSError, nothing
    written) to replace a file that foreign() rejects."""
    for path, _, _ in files:
        why = foreign(path)
        if why:
            raise OSError(0, why, path)
    from ocfpy import safefile

    safefile.replace_all([(path, text if isinstance(text, bytes) else text.encode("utf-8"), mode)
                          for path, text, mode in files],
                         parents=True, private=False)
