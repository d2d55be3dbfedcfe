"""Running other programs from an agent, without the subprocess module.

subprocess (with the selectors, threading and signal modules behind it) costs about as much to
import as a whole monitor may spend, so agents start programs here: fork, then in the child a
new session, the working directory, umask, user and standard descriptors, then exec. A pipe
that closes on exec tells the parent whether the exec happened, and if not, which step failed.

- `start` launches a program in its own session and returns a Child (a daemon: the caller
  polls or waits for it, or leaves it running).
- `run` runs a short command (a health check, crm_attribute) and waits for it with one
  deadline: its stdout and stderr through one pipe of which the last OUTPUT_BYTES are kept;
  at the deadline, or once it has exited, its process group is killed (before it is reaped,
  so the group id cannot have been reused), and when something of its session still holds
  the pipe open that is killed too. The result is a Finished, never an exception for how the
  command ended; SpawnError only when it cannot be run at all.
"""

import os
import time

# How much of a command's output is kept: what the agent's log shows of a failed command.
OUTPUT_LINES = 10
OUTPUT_BYTES = 8192
LINE_WIDTH = 300
# How long a killed command may take to die before it is left to init (one in uninterruptible
# sleep, say on a hung NFS mount, cannot die until the file system answers).
REAP_GRACE = 1.0
# Signals Python ignores for itself that a program must start with at their default, as
# subprocess's restore_signals does: SIGPIPE, SIGXFSZ.
_RESTORED_SIGNALS = (13, 25)
_POLL = 0.01


class SpawnError(Exception):
    """The command could not be executed (missing binary, bad user, unusable cwd or log)."""


class Child:
    """A started program: its pid, and its exit status once it has ended (negative: killed by
    that signal), as subprocess.Popen's poll and wait give it."""

    __slots__ = ("pid", "returncode")

    def __init__(self, pid):
        self.pid, self.returncode = pid, None

    def poll(self):
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:   # reaped elsewhere: its status is unknown
                return None
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        """The exit status, waiting `timeout` seconds at most (None: until it ends); None when
        it is still running then."""
        from . import wait

        until = float("inf") if timeout is None else time.monotonic() + timeout
        wait.until(lambda: self.poll() is not None, until, _POLL)
        return self.returncode


def user_settings(user):
    """(uid, gid, supplementary gids, home) of `user`; SpawnError when there is no such user."""
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise SpawnError(f"user {user!r} does not exist on this node") from None
    return entry.pw_uid, entry.pw_gid, os.getgrouplist(user, entry.pw_gid), entry.pw_dir


def start(argv, *, output, cwd="/", umask=0o022, user="", env=None, deadline=None):
    """Execute argv in a new session as `user` (empty: ours), in `cwd`, with exactly `env`
    (plus HOME, USER and LOGNAME of the user), stdin from /dev/null and stdout and stderr to
    the descriptor `output`. Returns a Child once the program runs; SpawnError when it cannot
    be run (or has not got as far as its exec by the monotonic time `deadline`: killed)."""
    env = dict(env or {})
    ids = None
    if user:
        uid, gid, groups, home = user_settings(user)
        ids = (uid, gid, groups)
        env.setdefault("HOME", home)
        env.setdefault("USER", user)
        env.setdefault("LOGNAME", user)
    try:
        failed_r, failed_w = os.pipe2(os.O_CLOEXEC)
    except OSError as exc:   # out of descriptors
        raise SpawnError(f"cannot run {argv[0]}: {exc.strerror}") from None
    try:
        try:
            pid = os.fork()
        except OSError as exc:   # out of processes or memory
            raise SpawnError(f"cannot run {argv[0]}: {exc.strerror}") from None
        if pid == 0:
            _exec_child(argv, env, cwd, umask, ids, output, failed_w)
        os.close(failed_w)
        failed_w = None
        why = _read_failure(failed_r, deadline)
    finally:
        os.close(failed_r)
        if failed_w is not None:
            os.close(failed_w)
    if why is None:
        return Child(pid)
    if why == "":
        why = "did not get as far as its exec in time"
        _kill_group(pid)
        os.kill(pid, 9)   # unreaped, so still ours: in case it had not left our group yet
    _reap(pid, REAP_GRACE)
    raise SpawnError(f"cannot run {argv[0]}: {why}")


def _read_failure(fd, deadline):
    """None once the child has exec'd (the pipe closed unwritten), else its failure: the text
    it wrote, or '' when it did not get that far by `deadline`."""
    import select

    data = b""
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return ""
        chunk = os.read(fd, 1024)
        if not chunk:
            return data.decode("utf-8", "replace") if data else None
        data += chunk


def _exec_child(argv, env, cwd, umask, ids, output, failed):
    """In the forked child: set everything up and exec; report the step that failed and exit
    127. Never returns."""
    step = "setsid"
    try:
        os.setsid()
        while output < 3:   # keep it apart from the standard descriptors about to be replaced
            output = os.dup(output)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        step = f"cwd {cwd}"
        os.chdir(cwd)
        os.umask(umask)
        if ids is not None:
            step = "switching user"
            uid, gid, groups = ids
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
        from _signal import SIG_DFL, signal

        for signum in _RESTORED_SIGNALS:
            signal(signum, SIG_DFL)
        os.closerange(3, failed)
        os.closerange(max(3, failed + 1), 65536)
        step = ""
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        what = exc.strerror or str(exc)
        os.write(failed, (f"{step}: {what}" if step else what).encode("utf-8", "replace"))
    except BaseException as exc:   # nothing of the agent may run on in a forked copy
        os.write(failed, f"{step}: {type(exc).__name__}".encode())
    finally:
        os._exit(127)


class Finished:
    """How a command run by `run` ended: `status` (negative: killed by that signal; None:
    overran its time and was killed) and its last output `lines`."""

    __slots__ = ("status", "lines")

    def __init__(self, status, lines):
        self.status, self.lines = status, lines

    @property
    def how(self):
        if self.status is None:
            return "did not finish in time and was killed"
        if self.status < 0:
            return f"was killed by signal {-self.status}"
        return f"exited with {self.status}"

    @property
    def gist(self):
        """The essential part of its output for an exit reason: its last line, or ''."""
        return self.lines[-1][:200] if self.lines else ""


def run(argv, *, timeout, cwd="/", umask=0o022, user="", env=None, log=None):
    """Run a short command and wait for it, `timeout` seconds at most, all told: a Finished.
    Its last output lines go to `log` (debug when it succeeded, warning when not). SpawnError
    when it cannot run at all."""
    import select

    deadline = time.monotonic() + max(0.0, timeout)
    try:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
    except OSError as exc:
        raise SpawnError(f"cannot run {argv[0]}: {exc.strerror}") from None
    try:
        child = start(argv, output=write_end, cwd=cwd, umask=umask, user=user, env=env,
                      deadline=deadline)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    ended = _exit_watch(child.pid)
    kept = bytearray()
    pipe_open, exited = True, False
    try:
        while not exited:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            watched = ([read_end] if pipe_open else []) + ([ended] if ended is not None else [])
            wait = left if ended is not None else min(left, _POLL)
            if watched:
                ready = select.select(watched, [], [], wait)[0]
            else:
                time.sleep(wait)
                ready = ()
            if read_end in ready:
                pipe_open = _read_into(read_end, kept)
            exited = _has_exited(child.pid)
        # What it wrote just before it ended (bounded: a descendant may write on and on).
        while (pipe_open and time.monotonic() < deadline
               and select.select([read_end], [], [], 0)[0]):
            pipe_open = _read_into(read_end, kept)
        # Before the reap: while the child is unreaped its group id cannot name anyone else.
        _kill_group(child.pid)
        if pipe_open:   # something of its session, perhaps outside its group, holds the pipe
            _kill_session(child.pid)
    finally:
        os.close(read_end)
        if ended is not None:
            os.close(ended)
    status = _reap(child.pid, REAP_GRACE)
    finished = Finished(status if exited else None, last_lines(bytes(kept)))
    if log is not None:
        say = log.debug if finished.status == 0 else log.warning
        for line in finished.lines:
            say(f"{os.path.basename(argv[0])}: {line}")
    return finished


def _read_into(fd, kept):
    """Append what can be read from fd to `kept` (only the last OUTPUT_BYTES stay); False at
    the end of the output."""
    chunk = os.read(fd, 65536)
    if not chunk:
        return False
    kept += chunk
    del kept[:-OUTPUT_BYTES]
    return True


def _exit_watch(pid):
    """A descriptor that becomes readable when the child `pid` exits (a pidfd), or None where
    the kernel has none (before Linux 5.3): then the exit is polled."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _has_exited(pid):
    """Whether the child has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pid):
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_session(leader):
    """SIGKILL every process in the session `leader` leads (a /proc scan: only when something
    of it outlived the command). Call while the leader is unreaped: the session id is then
    still its own."""
    from .identity import all_stats

    for stat in all_stats():
        if stat.session == leader and stat.pid != leader:
            try:
                os.kill(stat.pid, 9)
            except ProcessLookupError:
                pass


def _reap(pid, grace):
    """The exit status of the child `pid`, waiting `grace` seconds at most for it to end;
    None when it has not ended by then (it is left to init)."""
    from .wait import reaped

    status = reaped(pid, grace, _POLL / 2)
    return None if status is None else os.waitstatus_to_exitcode(status)


def last_lines(data, count=OUTPUT_LINES):
    """The last `count` non-empty lines of `data` (bytes), each cut to LINE_WIDTH characters."""
    text = data.decode("utf-8", "replace")
    lines = [line.strip()[:LINE_WIDTH] for line in text.splitlines() if line.strip()]
    return lines[-count:]
