"""Writing generated files: atomically, with their mode set before any content is written.

A file that holds a secret must never be readable by others, not even for the instant between
creating it and a later chmod: the temporary file is created with the final mode. Commands
replace only files ocfgen wrote (each output names ocfgen near its top): a mistyped output
path never overwrites a description, a hand-made configuration or a directory.
"""

import os
import stat

# Every generated file (CIB, corosync.conf, units, keepalived, nftables, DOT/SVG) names ocfgen
# in its first lines.
MARK = b"ocfgen"


def write_file(path, text, mode=0o644):
    """Write `text` to `path` (parents created 0755) with `mode`; replaces atomically."""
    make_directories(os.path.dirname(os.path.abspath(path)))
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)          # the umask may have taken bits off
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = None
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def make_directories(directory):
    """Create `directory` and its missing parents, each 0755 at most: os.makedirs gives the
    parents 0777 less the umask, so under umask 000 anyone could swap a secret's file."""
    missing = []
    while not os.path.isdir(directory) and directory != os.path.dirname(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for part in reversed(missing):
        try:
            os.mkdir(part, 0o755)
        except FileExistsError:
            if not os.path.isdir(part):
                raise


def under(root, path):
    """`path` (absolute, as on the node) placed below the output directory `root`."""
    return os.path.join(root, path.lstrip("/"))


def foreign(path):
    """Why `path` must not be replaced by an output, or None (absent, or written by ocfgen)."""
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
    if MARK not in head:
        return "exists and was not written by ocfgen: move it away, or write elsewhere"
    return None


def write_files(files):
    """Write every (path, text, mode) or none: each is staged in a private temporary file
    first and all are renamed into place once every one was written. Refuses (OSError, nothing
    written) to replace a file that foreign() rejects."""
    for path, _, _ in files:
        why = foreign(path)
        if why:
            raise OSError(0, why, path)
    staged = []
    try:
        for path, text, mode in files:
            make_directories(os.path.dirname(os.path.abspath(path)))
            temporary = f"{path}.{os.getpid()}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            staged.append(temporary)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                os.fchmod(f.fileno(), mode)      # the umask may have taken bits off
                f.write(text)
        for (path, _, _), temporary in zip(files, staged):
            os.replace(temporary, path)
    finally:
        for temporary in staged:
            if os.path.lexists(temporary):
                os.unlink(temporary)
