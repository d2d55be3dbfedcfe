"""Writing generated files: atomically, with their mode set before any content is written.

A file that holds a secret must never be readable by others, not even for the instant between
creating it and a later chmod: the temporary file is created with the final mode.
"""

import os


def write_file(path, text, mode=0o644):
    """Write `text` to `path` (parents created 0755) with `mode`; replaces atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o755, exist_ok=True)
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


def under(root, path):
    """`path` (absolute, as on the node) placed below the output directory `root`."""
    return os.path.join(root, path.lstrip("/"))
