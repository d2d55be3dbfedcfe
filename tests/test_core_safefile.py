"""ocfpy.safefile against the tricks a path parameter allows: symlinks, FIFOs, device nodes,
directories others can write, swapped components, and half-written groups of files.

Every path is a scratch path under pytest's tmp_path (root's, mode 0700); the device nodes are
made there with mknod and are never opened.
"""

import os
import stat

import pytest

from ocfpy import pidfile, safefile
from ocfpy.identity import Identity

NOBODY = 65534


def precious(tmp_path):
    path = tmp_path / "precious"
    path.write_text("precious data\n")
    return path


def only_names(directory):
    return sorted(os.listdir(directory))


# Reading: nothing but a regular file of root's is ever opened.

def test_read_refuses_a_symlink_without_following_it(tmp_path):
    os.symlink(precious(tmp_path), tmp_path / "link")
    with pytest.raises(safefile.UnsafePath, match="is a symlink"):
        safefile.read(tmp_path / "link")


@pytest.fixture
def opened(monkeypatch):
    """The names safefile asks posix.open (os.open's C function) to open, relative to a
    directory descriptor or not."""
    names = []
    real_open = safefile.posix.open

    def recording_open(path, *args, **kwargs):
        names.append(os.path.basename(str(path)))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(safefile.posix, "open", recording_open)
    return names


def test_read_never_opens_a_fifo(tmp_path, opened):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(safefile.UnsafePath, match="is a FIFO"):
        safefile.read(tmp_path / "fifo")
    with pytest.raises(pidfile.ForeignFileError, match="is a FIFO"):
        pidfile.read(str(tmp_path / "fifo"))
    assert "fifo" not in opened
    (tmp_path / "regular").write_text("x")
    assert safefile.read(tmp_path / "regular") == b"x" and "regular" in opened  # it records


@pytest.mark.parametrize("kind,major_minor,word", [
    (stat.S_IFCHR, (1, 3), "character device"),   # /dev/null's numbers
    (stat.S_IFBLK, (7, 0), "block device"),       # loop0's numbers
])
def test_read_never_opens_a_device_node(tmp_path, opened, kind, major_minor, word):
    node = tmp_path / "node"
    os.mknod(node, 0o600 | kind, os.makedev(*major_minor))
    with pytest.raises(safefile.UnsafePath, match=word):
        safefile.read(node)
    with pytest.raises(pidfile.ForeignFileError, match=word):
        pidfile.read(str(node))
    with pytest.raises(pidfile.ForeignFileError):
        pidfile.write(str(node), Identity(os.getpid(), 1, ""))
    assert pidfile.remove(str(node)) is False
    assert "node" not in opened and stat.S_ISCHR(kind) == stat.S_ISCHR(os.lstat(node).st_mode)


def test_read_refuses_a_file_owned_by_another_user(tmp_path):
    planted = tmp_path / "svc.pid"
    planted.write_text(f"{pidfile.MARKER}\npid=1\nstart=1\nboot=\n")
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(pidfile.ForeignFileError, match="owned by uid 65534"):
        pidfile.read(str(planted))


def test_a_missing_file_or_directory_reads_as_none(tmp_path):
    assert safefile.read(tmp_path / "absent") is None
    assert safefile.read(tmp_path / "no" / "such" / "dir" / "file") is None
    assert pidfile.read(str(tmp_path / "absent.pid")) is None


# Directories others can write: refused as the home of a file root trusts (StrictModes).

@pytest.mark.parametrize("mode,who", [(0o777, "group and others"), (0o775, "its group"),
                                      (0o757, "others"), (0o1777, "group and others")])
def test_a_parent_others_can_write_is_refused(tmp_path, mode, who):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, mode)
    with pytest.raises(safefile.UnsafePath, match=f"writable by {who}"):
        safefile.replace(shared / "state", b"x")
    with pytest.raises(pidfile.ForeignFileError, match="writable by"):
        pidfile.write(str(shared / "svc.pid"), Identity(os.getpid(), 1, ""))
    assert only_names(shared) == []


def test_a_parent_owned_by_another_user_is_refused_unless_trusted(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(safefile.UnsafePath, match="owned by uid 65534"):
        safefile.replace(theirs / "state", b"x")
    # The service's own user may own the directory when the caller says so.
    safefile.replace(theirs / "state", b"x", trusted=safefile.trusted_uids(["nobody"]))
    assert (theirs / "state").read_bytes() == b"x"


def test_an_ancestor_others_can_write_is_refused_unless_sticky(tmp_path):
    open_dir = tmp_path / "open"
    (open_dir / "inner").mkdir(parents=True)
    os.chmod(open_dir, 0o777)
    with pytest.raises(safefile.UnsafePath, match=f"{open_dir} is writable"):
        safefile.replace(open_dir / "inner" / "state", b"x")
    os.chmod(open_dir, 0o1777)  # like /tmp: nobody can move what is not theirs
    safefile.replace(open_dir / "inner" / "state", b"x")
    assert (open_dir / "inner" / "state").read_bytes() == b"x"


# Symlinks on the way.

def test_a_symlink_in_a_root_directory_is_followed(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink("real", tmp_path / "alias")
    safefile.replace(tmp_path / "alias" / "state", b"x")
    assert (real / "state").read_bytes() == b"x"
    os.symlink("../real", real / "up")
    assert safefile.read(tmp_path / "real" / "up" / "state") == b"x"


def test_a_symlink_planted_by_the_service_user_is_not_followed(tmp_path):
    """A storage folder under a directory of the service's user: a link the user planted
    there must not make root create (and hand over) a directory elsewhere."""
    users = tmp_path / "users"
    users.mkdir(mode=0o755)
    os.chown(users, NOBODY, NOBODY)
    target = tmp_path / "rootonly"
    target.mkdir()
    os.symlink(target, users / "data")
    os.lchown(users / "data", NOBODY, NOBODY)  # the user made it
    with pytest.raises(safefile.UnsafePath, match="symlink of uid 65534 in a directory others"):
        safefile.make_directory(users / "data" / "sts", 0o750,
                                trusted=safefile.trusted_uids(["nobody"]), owner=(NOBODY, NOBODY))
    assert only_names(target) == []


def test_a_symlink_planted_in_a_sticky_shared_directory_is_not_followed(tmp_path):
    """/tmp-like: anybody may create a name there. A link of somebody else's is not followed;
    one of root's is (only its owner could have put it there)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    target = tmp_path / "rootonly"
    target.mkdir()
    os.symlink(target, shared / "planted")
    os.lchown(shared / "planted", NOBODY, NOBODY)
    with pytest.raises(safefile.UnsafePath, match="symlink of uid 65534"):
        safefile.make_directory(shared / "planted" / "made")
    assert only_names(target) == []
    os.symlink(target, shared / "roots")
    made = safefile.make_directory(shared / "roots" / "made", owner=(NOBODY, NOBODY))
    assert made == [str(target / "made")] and os.stat(target / "made").st_uid == NOBODY


def test_make_directory_creates_each_component_and_hands_over_only_the_last(tmp_path):
    users = tmp_path / "users"
    users.mkdir(mode=0o755)
    created = safefile.make_directory(users / "a" / "b", 0o750, owner=(NOBODY, NOBODY))
    assert created == [str(users / "a"), str(users / "a" / "b")]
    assert os.stat(users / "a").st_uid == 0
    leaf = os.stat(users / "a" / "b")
    assert leaf.st_uid == NOBODY and stat.S_IMODE(leaf.st_mode) == 0o750
    assert safefile.make_directory(users / "a" / "b", 0o750, owner=(NOBODY, NOBODY)) == []


def test_make_directory_refuses_a_component_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(safefile.UnsafePath, match="not a directory"):
        safefile.make_directory(tmp_path / "file" / "sub")


def test_a_component_swapped_for_a_symlink_while_walking_is_not_followed(tmp_path, monkeypatch):
    """The walk opens every component with O_NOFOLLOW: swapping a checked directory for a link
    between the check and the open fails the walk instead of redirecting it."""
    base = tmp_path / "base"
    base.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    real_open = safefile.posix.open  # safefile calls posix (os's C half) directly
    swapped = []

    def swap_then_open(path, flags, *args, **kwargs):
        if path == "base" and not swapped:
            os.rename(base, tmp_path / "base.moved")
            os.symlink(target, base)
            swapped.append(True)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(safefile.posix, "open", swap_then_open)
    with pytest.raises(OSError):
        safefile.make_directory(base / "made", 0o755)
    monkeypatch.undo()
    assert swapped and only_names(target) == []


# Replacing.

def test_replace_is_atomic_fsynced_and_leaves_no_temporary(tmp_path, monkeypatch):
    synced = []
    real_fsync = safefile.posix.fsync
    monkeypatch.setattr(safefile.posix, "fsync", lambda fd: (synced.append(stat.S_IFMT(os.fstat(fd).st_mode)),
                                                 real_fsync(fd)))
    safefile.replace(tmp_path / "state", b"one", 0o600)
    assert synced == [stat.S_IFREG, stat.S_IFDIR]        # the file, then its directory
    assert (tmp_path / "state").read_bytes() == b"one"
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o600
    assert only_names(tmp_path) == ["state"]


def test_replace_never_writes_through_a_symlink_at_the_target(tmp_path):
    keep = precious(tmp_path)
    os.symlink(keep, tmp_path / "state")
    safefile.replace(tmp_path / "state", b"new")  # the link itself is replaced, not followed
    assert keep.read_text() == "precious data\n"
    assert (tmp_path / "state").read_bytes() == b"new" and not os.path.islink(tmp_path / "state")


def test_replace_refuses_a_planted_temporary(tmp_path):
    keep = precious(tmp_path)
    os.symlink(keep, tmp_path / f"state.{os.getpid()}.tmp")
    with pytest.raises(FileExistsError):
        safefile.replace(tmp_path / "state", b"new")
    assert keep.read_text() == "precious data\n" and not (tmp_path / "state").exists()


def test_pidfile_replaces_and_removes_only_its_own_file(tmp_path):
    path = str(tmp_path / "svc.pid")
    me = Identity.of(os.getpid())
    pidfile.write(path, me)
    assert pidfile.read(path) == me
    foreign = tmp_path / "foreign.pid"
    foreign.write_text("not ours\n")
    with pytest.raises(pidfile.ForeignFileError):
        pidfile.write(str(foreign), me)
    assert pidfile.remove(str(foreign)) is False and foreign.read_text() == "not ours\n"
    assert pidfile.remove(path) is True and not os.path.exists(path)


def test_remove_deletes_what_it_checked_not_a_file_swapped_in_meanwhile(tmp_path):
    """read-then-unlink: the entry is compared with the file that was read before unlinking."""
    path = tmp_path / "svc.pid"
    pidfile.write(str(path), Identity.of(os.getpid()))
    other = tmp_path / "other"
    other.write_text("somebody else's\n")

    def swap_while_checking(data):
        os.replace(other, path)  # what a writer of the directory could do in between

    with pytest.raises(safefile.UnsafePath, match="replaced while being removed"):
        safefile.remove(path, swap_while_checking)
    assert path.read_text() == "somebody else's\n"


def test_a_reader_never_sees_a_torn_pidfile_while_writers_replace_it(tmp_path):
    path = str(tmp_path / "svc.pid")
    identities = [Identity(1000 + i, 5000 + i, "b") for i in range(4)]
    writers = []
    for identity in identities:
        pid = os.fork()
        if pid == 0:  # a writer process (its own pid, so its own temporary name)
            code = 0
            try:
                for _ in range(200):
                    pidfile.write(path, identity)
            except BaseException:
                code = 1
            os._exit(code)
        writers.append(pid)
    seen = set()
    try:
        for _ in range(400):
            recorded = pidfile.read(path)
            assert recorded in identities + [None]
            seen.add(recorded)
    finally:
        statuses = [os.waitpid(pid, 0)[1] for pid in writers]
    assert statuses == [0] * len(writers)
    assert pidfile.read(path) in identities and len(seen - {None}) >= 1
    assert only_names(tmp_path) == ["svc.pid"]


# Groups of files: all or none.

def test_replace_all_writes_every_file(tmp_path):
    (tmp_path / "a").write_text("old a\n")
    safefile.replace_all([(tmp_path / "a", b"new a\n", 0o644),
                          (tmp_path / "sub" / "b", b"new b\n", 0o600)], parents=True)
    assert (tmp_path / "a").read_text() == "new a\n"
    assert (tmp_path / "sub" / "b").read_text() == "new b\n"
    assert only_names(tmp_path) == ["a", "sub"] and only_names(tmp_path / "sub") == ["b"]


def test_replace_all_rolls_back_when_a_rename_fails(tmp_path, monkeypatch):
    (tmp_path / "a").write_text("old a\n")
    (tmp_path / "b").write_text("old b\n")
    real_commit = safefile.Directory.commit
    commits = []

    def commit_then_fail(self, temporary, name):
        commits.append(name)
        if name == "c":
            raise OSError(28, "No space left on device", name)
        real_commit(self, temporary, name)

    monkeypatch.setattr(safefile.Directory, "commit", commit_then_fail)
    with pytest.raises(OSError, match="No space left"):
        safefile.replace_all([(tmp_path / "a", b"new a\n", 0o644),
                              (tmp_path / "b", b"new b\n", 0o644),
                              (tmp_path / "c", b"new c\n", 0o644)])
    assert commits == ["a", "b", "c"]
    assert (tmp_path / "a").read_text() == "old a\n" and (tmp_path / "b").read_text() == "old b\n"
    assert only_names(tmp_path) == ["a", "b"]


def test_replace_all_writes_nothing_when_one_target_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(safefile.UnsafePath):
        safefile.replace_all([(tmp_path / "a", b"a", 0o644), (shared / "b", b"b", 0o644)])
    assert only_names(tmp_path) == ["shared"] and only_names(shared) == []


def test_ocfgen_writer_goes_through_safefile(tmp_path):
    from ocfpy.generators.render import output_files

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(OSError) as refused:
        output_files.write_files([(str(shared / "cib.xml"), "<!-- ocfgen -->\n", 0o644)])
    assert "writable by" in refused.value.strerror and refused.value.filename == str(shared)
    output_files.write_files([(str(tmp_path / "out" / "cib.xml"), "<!-- ocfgen -->\n", 0o600)])
    written = tmp_path / "out" / "cib.xml"
    assert written.read_text() == "<!-- ocfgen -->\n"
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
