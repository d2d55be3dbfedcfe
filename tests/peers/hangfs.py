"""A FUSE file system over one directory whose lookups of contents can be made to hang, as a
stale NFS mount's do (a real mount: the kernel's FUSE driver, Debian's python3-fusepy).

Usage: /usr/bin/python3 hangfs.py DIR FLAG. DIR is mounted over itself: its contents are served
from a descriptor opened before the mount. While the file FLAG exists, opening or listing a
directory and opening or reading a file block until FLAG is removed; attributes still answer.
Runs in the foreground until killed.
"""

import errno
import os
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations  # Debian names the module fusepy

STAT_FIELDS = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size",
               "st_uid")


class HangFS(Operations):
    def __init__(self, fd, flag):
        self.fd, self.flag = fd, flag
        self.flowing = threading.Event()
        self.flowing.set()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while True:
            if os.path.exists(self.flag):
                self.flowing.clear()
            else:
                self.flowing.set()
            time.sleep(0.05)

    def _name(self, path):
        name = path.lstrip("/")
        return name or "."

    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._name(path), dir_fd=self.fd)
        except OSError as exc:
            raise FuseOSError(exc.errno) from None
        return {key: getattr(st, key) for key in STAT_FIELDS}

    def opendir(self, path):
        self.flowing.wait()
        return 0

    def readdir(self, path, fh):
        self.flowing.wait()
        if self._name(path) != ".":
            raise FuseOSError(errno.ENOTDIR)
        return [".", ".."] + os.listdir(self.fd)

    def open(self, path, flags):
        self.flowing.wait()
        try:
            return os.open(self._name(path), os.O_RDONLY, dir_fd=self.fd)
        except OSError as exc:
            raise FuseOSError(exc.errno) from None

    def read(self, path, size, offset, fh):
        self.flowing.wait()
        return os.pread(fh, size, offset)

    def release(self, path, fh):
        os.close(fh)
        return 0


def main():
    directory, flag = sys.argv[1:3]
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    FUSE(HangFS(fd, flag), directory, foreground=True, nothreads=False, ro=True,
         nonempty=True)


if __name__ == "__main__":
    main()
