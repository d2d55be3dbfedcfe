"""Files at paths somebody else may control: read, replace, remove and create them safely as root.

Agents run as root and take their paths from parameters; ocfgen writes wherever it is told. A
path is walked one component at a time from "/" through directory descriptors (openat-style),
so nothing is ever reached by a name that could have been swapped meanwhile:

- every directory on the way must belong to root or a trusted user (the service's) and must not
  be writable by others, unless it is sticky (/tmp: others cannot move what is not theirs);
  a symlink on the way is followed only if it is root's (or ours), or sits in a directory of
  root's that nobody else can write;
- the directory that holds a file we read, replace or remove must not be writable by others at
  all, sticky or not (sshd's StrictModes): else anyone could plant a file there for root to
  trust, or a FIFO, device or symlink for root to open;
- the file itself is lstat()ed first (a FIFO or device node is never opened), opened with
  O_NOFOLLOW|O_NONBLOCK and compared with what lstat saw, and must belong to a trusted user;
- a replacement is a temporary file created exclusively next to the target, written, fsynced,
  renamed over it and the directory fsynced; several files are replaced all or none.

Errors are UnsafePath (an OSError) naming the path and why; missing files read as None.
"""

import _stat  # the stat module's C half, all that is used of it
import errno
import posix  # not os, on the monitor path: docs/design.md

_DIR_FLAGS = posix.O_RDONLY | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC
_MAX_LINKS = 40  # as the kernel's own limit on symlinks in one lookup
_OWN_UIDS = frozenset((0, posix.geteuid()))


class UnsafePath(OSError):
    """A path refused because somebody other than root or the service could change it."""

    def __init__(self, path, why):
        super().__init__(errno.EPERM, why, path)  # strerror and filename, as callers expect
        self.path, self.why = path, why

    def __str__(self):
        return f"{self.path} {self.why}"


def _kind(mode):
    for test, name in ((_stat.S_ISDIR, "a directory"), (_stat.S_ISLNK, "a symlink"),
                       (_stat.S_ISFIFO, "a FIFO"), (_stat.S_ISCHR, "a character device"),
                       (_stat.S_ISBLK, "a block device"), (_stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def trusted_uids(users=()):
    """root, the process's own user and the given user names or uids (empty ones ignored)."""
    uids = set(_OWN_UIDS)
    for user in users:
        if isinstance(user, int):
            uids.add(user)
        elif user:
            import pwd

            try:
                uids.add(pwd.getpwnam(user).pw_uid)
            except KeyError:
                pass
    return frozenset(uids)


def _directory_problem(status, trusted, private):
    """Why a directory with this fstat cannot be trusted, or None."""
    if status.st_uid not in trusted:
        return f"is owned by uid {status.st_uid}, not by root or the service's user"
    if status.st_mode & 0o022:
        sticky = status.st_mode & _stat.S_ISVTX
        if private or not sticky:
            who = "group and others" if status.st_mode & 0o022 == 0o022 else (
                "its group" if status.st_mode & 0o020 else "others")
            return (f"is writable by {who} (mode {_stat.S_IMODE(status.st_mode):04o}): "
                    "they could swap what root reads or writes there")
    return None


class Directory:
    """A directory reached safely, held open: the files in it are handled by name relative to
    its descriptor, so the path cannot be redirected between two steps.

    create makes missing directories (mode, before the umask) on the way; `created` lists them.
    private (the default) also refuses a directory others may write in (see the module doc).
    """

    def __init__(self, path, *, trusted=None, create=False, mode=0o755, private=True):
        self.path = absolute(path)
        self.trusted = trusted if trusted is not None else trusted_uids()
        self.created = []
        self.made = False  # whether the directory itself was created
        self.fd = self._walk(create, mode, private)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.fd is not None:
            posix.close(self.fd)
            self.fd = None

    def _walk(self, create, mode, private):
        parts = [p for p in self.path.split("/") if p]
        done = []
        links = 0
        fd = posix.open("/", _DIR_FLAGS)
        try:
            self._check(fd, "/", False)
            while parts:
                name = parts.pop(0)
                where = "/" + "/".join(done + [name])
                if name == "..":  # only from a symlink's target: `done` holds real directories
                    done = done[:-1]
                    posix.close(fd)
                    fd = self._reopen(done)
                    continue
                try:
                    status = posix.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        posix.mkdir(name, mode, dir_fd=fd)
                        self.created.append(where)
                    except FileExistsError:
                        pass
                    status = posix.stat(name, dir_fd=fd, follow_symlinks=False)
                if _stat.S_ISLNK(status.st_mode):
                    # Followed only if root (or we) put it there: a link of root's, or one in a
                    # directory of root's that nobody else can write. Anybody can plant one in
                    # /tmp, and a service user's link could send root anywhere.
                    holder = posix.fstat(fd)
                    if status.st_uid not in _OWN_UIDS and (
                            holder.st_uid not in _OWN_UIDS or holder.st_mode & 0o022):
                        raise UnsafePath(where, f"is a symlink of uid {status.st_uid} in a "
                                                "directory others can write; not followed")
                    links += 1
                    if links > _MAX_LINKS:
                        raise UnsafePath(self.path, "has too many levels of symlinks")
                    target = posix.readlink(name, dir_fd=fd)
                    if target.startswith("/"):
                        done = []
                        posix.close(fd)
                        fd = posix.open("/", _DIR_FLAGS)
                    parts = [p for p in target.split("/") if p and p != "."] + parts
                    continue
                if not _stat.S_ISDIR(status.st_mode):
                    raise UnsafePath(where, f"is {_kind(status.st_mode)}, not a directory")
                child = posix.open(name, _DIR_FLAGS, dir_fd=fd)
                posix.close(fd)
                fd = child
                done.append(name)
                self._check(fd, "/" + "/".join(done), False)
            if private:
                self._check(fd, self.path, True)
            self.made = bool(self.created) and self.created[-1] == "/" + "/".join(done)
            return fd
        except BaseException:
            posix.close(fd)
            raise

    def _reopen(self, done):
        fd = posix.open("/", _DIR_FLAGS)
        for name in done:
            child = posix.open(name, _DIR_FLAGS, dir_fd=fd)
            posix.close(fd)
            fd = child
        return fd

    def _check(self, fd, where, private):
        problem = _directory_problem(posix.fstat(fd), self.trusted, private)
        if problem:
            raise UnsafePath(where, problem)

    def _name(self, name):
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not a file name")
        return name

    def _where(self, name):
        return f"{self.path.rstrip('/')}/{name}"

    # Reading.
    def lstat(self, name):
        """posix.stat_result of the entry itself (a symlink is not followed), or None."""
        try:
            return posix.stat(self._name(name), dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open_regular(self, name):
        """(fd, stat) of the regular file `name` owned by a trusted user; None when absent.

        lstat first: a FIFO, device node, socket or symlink is refused without being opened.
        """
        for _ in range(3):  # only a trusted writer can replace it meanwhile: look again
            before = self.lstat(name)
            if before is None:
                return None
            self._require_regular(name, before)
            try:
                fd = posix.open(name, posix.O_RDONLY | posix.O_NOFOLLOW | posix.O_NONBLOCK | posix.O_CLOEXEC,
                             dir_fd=self.fd)
            except FileNotFoundError:
                continue
            status = posix.fstat(fd)
            if (status.st_dev, status.st_ino) == (before.st_dev, before.st_ino):
                return fd, status
            posix.close(fd)
        raise UnsafePath(self._where(name), "keeps being replaced while being opened")

    def _require_regular(self, name, status):
        if not _stat.S_ISREG(status.st_mode):
            raise UnsafePath(self._where(name), f"is {_kind(status.st_mode)}, not a regular file")
        if status.st_uid not in self.trusted:
            raise UnsafePath(self._where(name), f"is owned by uid {status.st_uid}, not by root "
                                                "or the service's user")

    def read(self, name, limit=1 << 16):
        """The first `limit` bytes of the regular file `name`, or None when there is none."""
        opened = self.open_regular(name)
        if opened is None:
            return None
        fd, _ = opened
        try:
            return _read_fd(fd, limit)
        finally:
            posix.close(fd)

    # Writing.
    def _temporary(self, name, tag="tmp"):
        return f"{name}.{posix.getpid()}.{tag}"

    def stage(self, name, data, mode=0o644, owner=None):
        """Write `data` to a new temporary next to `name`, fsynced; returns its name.

        Created exclusively and never through a symlink: a name planted there fails the write.
        """
        temporary = self._temporary(self._name(name))
        fd = posix.open(temporary, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_NOFOLLOW
                     | posix.O_CLOEXEC, mode & 0o777, dir_fd=self.fd)
        try:
            posix.fchmod(fd, mode)  # the umask must neither narrow nor widen it
            if owner is not None:
                posix.fchown(fd, *owner)
            view = memoryview(data)
            while view:
                view = view[posix.write(fd, view):]
            posix.fsync(fd)
        except BaseException:
            posix.close(fd)
            self._discard(temporary)
            raise
        posix.close(fd)
        return temporary

    def commit(self, temporary, name):
        posix.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def sync(self):
        posix.fsync(self.fd)

    def _discard(self, name):
        try:
            posix.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def replace(self, name, data, mode=0o644, owner=None):
        """Put `data` at `name` in one step (temporary, fsync, rename, fsync of the directory)."""
        existing = self.lstat(name)
        if existing is not None and _stat.S_ISDIR(existing.st_mode):
            raise UnsafePath(self._where(name), "is a directory")
        temporary = self.stage(name, data, mode, owner)
        try:
            self.commit(temporary, name)
        except BaseException:
            self._discard(temporary)
            raise
        self.sync()

    def remove(self, name, check=None):
        """Delete the regular file `name` if check(its bytes) does not raise; False when absent.

        What is unlinked is what was read: the entry is compared with the open file just before.
        """
        opened = self.open_regular(name)
        if opened is None:
            return False
        fd, status = opened
        try:
            if check is not None:
                check(_read_fd(fd, 1 << 16))
        finally:
            posix.close(fd)
        now = self.lstat(name)
        if now is None:
            return False
        if (now.st_dev, now.st_ino) != (status.st_dev, status.st_ino):
            raise UnsafePath(self._where(name), "was replaced while being removed")
        self._discard(name)
        self.sync()
        return True

    def make_subdirectory(self, name, mode=0o755):
        """Create directory `name` here unless it exists; True when it was made."""
        try:
            posix.mkdir(self._name(name), mode, dir_fd=self.fd)
            return True
        except FileExistsError:
            return False


def _read_fd(fd, limit):
    chunks = []
    left = limit
    while left > 0:
        chunk = posix.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def absolute(path):
    """`path` made absolute and normalized by its text alone, as os.path.abspath does."""
    path = posix.fspath(path)
    if not path.startswith("/"):
        path = f"{posix.getcwd()}/{path}"
    parts = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


def split(path):
    """(directory, file name) of `path` made absolute; UnsafePath when it names no file."""
    path = absolute(path)
    directory, _, name = path.rpartition("/")
    if not name:
        raise UnsafePath(path, "names no file")
    return directory or "/", name


# One-call forms.

def read(path, limit=1 << 16, trusted=None):
    """The bytes of the regular file at `path` (at most `limit`), or None when it is absent."""
    directory, name = split(path)
    try:
        handle = Directory(directory, trusted=trusted)
    except FileNotFoundError:
        return None
    with handle:
        return handle.read(name, limit)


def replace(path, data, mode=0o644, *, trusted=None, parents=False, parent_mode=0o755,
            owner=None, private=True):
    """Atomically put `data` (bytes) at `path`; parents creates missing directories.

    private=False also accepts a sticky directory others may write in (/tmp) for the file:
    the temporary is created exclusively and renamed, and in a sticky directory nobody else
    can move it meanwhile, nor have root's rename replace an entry of theirs (EPERM)."""
    directory, name = split(path)
    with Directory(directory, trusted=trusted, create=parents, mode=parent_mode,
                   private=private) as handle:
        handle.replace(name, data, mode, owner)


def remove(path, check=None, trusted=None):
    """Delete the regular file at `path` if check(bytes) accepts it; False when absent."""
    directory, name = split(path)
    try:
        handle = Directory(directory, trusted=trusted)
    except FileNotFoundError:
        return False
    with handle:
        return handle.remove(name, check)


def make_directory(path, mode=0o755, *, trusted=None, owner=None):
    """Create `path` and missing parents (mode before the umask) without following a symlink
    that an untrusted user could have planted; returns the directories made. `owner` (uid,
    gid) is given to the last one if it was made, through its descriptor."""
    if owner is not None:  # the user it is handed to may own it (a second start finds it so)
        trusted = (trusted if trusted is not None else trusted_uids()) | {owner[0]}
    with Directory(path, trusted=trusted, create=True, mode=mode, private=False) as handle:
        if owner is not None and handle.made:
            posix.fchown(handle.fd, *owner)
        return list(handle.created)


def claim_directory(path, mode, owner, *, trusted=None):
    """Make the directory `path` for `owner` (uid, gid) with `mode`, or give it back to them if
    it exists under another owner or mode: through its own descriptor, opened without following
    a link from its parent. The parent is reached safely and must be one nobody but root (or
    `trusted`) can write, so whoever owns the directory, only root can have put it there."""
    directory, name = split(path)
    with Directory(directory, trusted=trusted) as parent:
        parent.make_subdirectory(name, mode)
        fd = posix.open(name, _DIR_FLAGS, dir_fd=parent.fd)
        try:
            status = posix.fstat(fd)
            if (status.st_uid, status.st_gid) != tuple(owner):
                posix.fchown(fd, *owner)
            if _stat.S_IMODE(status.st_mode) != mode:
                posix.fchmod(fd, mode)
        finally:
            posix.close(fd)


def replace_all(files, *, trusted=None, parents=False, parent_mode=0o755, private=True):
    """Write every (path, data, mode) or none of them (`private` as for replace()).

    All are staged (written and fsynced) first; then each existing target is kept as a hard
    link, the temporaries are renamed in, and the directories fsynced. If anything fails, the
    targets already replaced get their old contents back (or are removed if they were new).
    """
    handles = {}
    staged = []      # (handle, temporary, name)
    renamed = []     # (handle, name, backup or None)
    backups = []
    try:
        for path, data, mode in files:
            directory, name = split(path)
            if directory not in handles:
                handles[directory] = Directory(directory, trusted=trusted, create=parents,
                                               mode=parent_mode, private=private)
            handle = handles[directory]
            existing = handle.lstat(name)
            if existing is not None and _stat.S_ISDIR(existing.st_mode):
                raise UnsafePath(handle._where(name), "is a directory")
            staged.append((handle, handle.stage(name, data, mode), name))
        for handle, temporary, name in staged:
            backup = None
            if handle.lstat(name) is not None:
                backup = handle._temporary(name, "old")
                posix.link(name, backup, src_dir_fd=handle.fd, dst_dir_fd=handle.fd,
                        follow_symlinks=False)
                backups.append((handle, backup))
            handle.commit(temporary, name)
            renamed.append((handle, name, backup))
        for handle in handles.values():
            handle.sync()
        renamed = []
    finally:
        for handle, name, backup in reversed(renamed):  # only after a failure
            try:
                if backup is not None:
                    posix.replace(backup, name, src_dir_fd=handle.fd, dst_dir_fd=handle.fd)
                else:
                    handle._discard(name)
            except OSError:
                pass
        for handle, temporary, _ in staged:
            handle._discard(temporary)
        for handle, backup in backups:
            handle._discard(backup)
        for handle in handles.values():
            handle.close()
