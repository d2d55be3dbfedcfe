"""The depth-20 boot-directory check of an IOC as a node-health signal, one probe at a time.

A boot directory on a stale NFS mount (or any file system that stops answering) says nothing
about the IOC that already runs from memory: failing its monitor would stop a working IOC and
then refuse to start it again on the same node. Instead the probe's answer becomes a node
health attribute (`#health-ioc-<resource>`: green or red, transient, set with attrd_updater),
and the cluster's node-health-strategy (ocfgen sets it) moves the IOC to a node whose boot
directory answers, or leaves it where it is when no node is healthier.

A read stuck on a hung mount cannot be interrupted (uninterruptible sleep), so the probe runs
in a child of its own session that outlives the monitor if it must:
- at most one per resource: its identity is recorded next to the IOC's pidfile (`.bootprobe`),
  and while it lives no other probe is started; the monitor reports it stuck instead;
- the monitor waits for it only until its own deadline (boot_timeout);
- when it finally returns it records its answer (`.bootprobe.result`) and sets the health
  attribute itself (green when the directory answers again), and the next monitor accounts
  for it (logs how long it took and what it found) before it starts another;
- after a failure that was quick (an error, not a hang) it checks again every RECHECK
  seconds until the directory answers, then marks the node green: the IOC has left the
  node by then and no monitor runs there. A monitor that finds it waiting between two
  checks ends it and checks afresh.
"""

import os
import time

GREEN, RED = "green", "red"
RECHECK = 10.0         # seconds between the re-checks of a failed boot directory
GIVE_UP = 86400.0      # a probe re-checks for a day at most


def attribute_name(instance):
    """The node health attribute of one IOC resource."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in instance)
    return f"#health-ioc-{safe}"


def set_health(name, value, timeout=5.0):
    """Set the transient node attribute `name` on this node; '' or why it could not be set.
    (posix_spawn rather than subprocess: a monitor stays light.)"""
    from _signal import SIGKILL

    null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    try:
        pid = os.posix_spawnp("attrd_updater", ["attrd_updater", "-n", name, "-U", value],
                              os.environ, file_actions=null)
    except FileNotFoundError:
        return "attrd_updater is not installed"
    until = time.monotonic() + max(0.5, timeout)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return "" if code == 0 else f"attrd_updater exited with status {code}"
        if time.monotonic() >= until:
            os.kill(pid, SIGKILL)
            os.waitpid(pid, 0)
            return f"attrd_updater did not answer within {timeout:.1f}s"
        time.sleep(0.01)


def _age(identity):
    """Seconds since the process `identity` started."""
    stat = identity.stat()
    if stat is None:
        return 0.0
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return max(0.0, uptime - stat.start_ticks / os.sysconf("SC_CLK_TCK"))


class BootWatch:
    """The probe of one resource: state files at `base` + '.bootprobe' and '.result'."""

    def __init__(self, base, instance, log):
        self.path = base + ".bootprobe"
        self.result_path = self.path + ".result"
        self.attribute = attribute_name(instance)
        self.log = log

    def check(self, checks, timeout):
        """(healthy, why): run the checks (fsprobe kinds) unless a probe is still out; wait at
        most `timeout` seconds. healthy is True, or False with the reason."""
        from ocfpy import pidfile

        try:
            earlier = pidfile.read(self.path)
        except pidfile.ForeignFileError as exc:
            return False, str(exc)
        if earlier is not None:
            state = self._answer()
            if earlier.alive() and state.startswith("fail "):
                # Between two re-checks (sleeping, not in the file system): this monitor
                # checks afresh instead; a probe that does not die at once is in a check.
                _end(earlier)
            if earlier.alive():
                if state.startswith("fail "):
                    return False, f"{state[len('fail '):]} (probe pid {earlier.pid} re-checks)"
                return False, (f"the boot-directory probe pid {earlier.pid} has not returned "
                               f"for {_age(earlier):.0f}s (hung file system?); no other is "
                               f"started")
            self._account(earlier, state)
        return self._probe(checks, timeout)

    def _answer(self):
        """What the probe last recorded: 'step N', 'fail WHY', 'ok' or ''."""
        from ocfpy import safefile

        try:
            return (safefile.read(self.result_path, 4096) or b"").decode(errors="replace").strip()
        except OSError as exc:
            return f"fail its answer cannot be read: {exc}"

    def _account(self, earlier, found):
        """Log what a probe that outlived its monitor found, and forget it."""
        from ocfpy import pidfile

        self.log.info(f"the boot-directory probe pid {earlier.pid} returned: "
                      f"{found or 'no answer recorded'}")
        _remove(self.result_path)
        pidfile.remove(self.path)

    def forget(self):
        """At stop: remove the state of a probe that has returned. One still out is left to
        finish: when its file system answers it reports this node healthy again (the IOC has
        moved away, so no monitor here would), and the next monitor here accounts for it."""
        from ocfpy import pidfile

        try:
            earlier = pidfile.read(self.path)
        except pidfile.ForeignFileError:
            return
        if earlier is not None and earlier.alive():
            self.log.info(f"the boot-directory probe pid {earlier.pid} is still out; it reports "
                          f"{self.attribute} when its file system answers")
            return
        _remove(self.result_path)
        pidfile.remove(self.path)

    def _probe(self, checks, timeout):
        from ocfpy import pidfile
        from ocfpy.identity import Identity

        began = time.monotonic()
        _remove(self.result_path)
        pid = os.fork()
        if pid == 0:
            self._child(checks, began + timeout)
        identity = Identity.of(pid)
        if identity is not None:
            pidfile.write(self.path, identity)
        while time.monotonic() < began + timeout:
            done, status = os.waitpid(pid, os.WNOHANG)
            found = self._answer()
            if done or found.startswith(("ok", "fail ")):
                if done:   # answered and ended (ok), or died: nothing of it is left
                    _remove(self.result_path)
                    pidfile.remove(self.path)
                if found == "ok":
                    return True, ""
                if found.startswith("fail "):
                    return False, found[len("fail "):]   # it re-checks until the answer is ok
                return False, f"the probe exited with status {os.waitstatus_to_exitcode(status)}"
            time.sleep(0.01)
        from ocfpy.agents.fsprobe import _DOING

        found = self._answer()   # the child records the step it is at: that one hung
        index = int(found.split()[1]) if found.startswith("step ") else 0
        kind, path = checks[min(index, len(checks) - 1)]
        return False, f"{_DOING[kind]} {path} did not complete within {timeout:.1f}s (hung " \
                      f"file system?)"

    def _child(self, checks, deadline):
        """The probe: its own session (nothing that ends the agent's group ends it), the
        checks, its answer recorded. After a failure it checks again every RECHECK seconds
        (for at most GIVE_UP), so a node the IOC has left is reported healthy once its file
        system answers; an answer that comes after the monitor gave up, it reports itself
        (the health attribute). Never returns."""
        code = 1
        try:
            os.setsid()
            # Nothing of the agent's: the executor reads the agent's output until every copy
            # of its pipes is closed, and must not wait for a probe that outlives the monitor.
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") < 65536
                          else 65536)
            from ocfpy import pidfile
            from ocfpy.agents.fsprobe import _check

            began, failed = time.monotonic(), False
            while True:
                problem = ""
                for index, (kind, path) in enumerate(checks):
                    if not failed:   # a re-check keeps the failure on record meanwhile
                        pidfile.write_atomically(self.result_path, f"step {index}\n".encode())
                    problem = _check(kind, path)
                    if problem:
                        break
                pidfile.write_atomically(self.result_path,
                                         (f"fail {problem}\n" if problem else "ok\n").encode())
                late = time.monotonic() >= deadline
                if not problem:
                    if late or failed:
                        set_health(self.attribute, GREEN)   # the directory answers again
                    break
                if late and not failed:
                    set_health(self.attribute, RED)
                failed = True
                if time.monotonic() - began > GIVE_UP:
                    break
                time.sleep(RECHECK)
            code = 0
        finally:
            os._exit(code)


def _end(identity, within=0.2):
    """SIGKILL a probe waiting between re-checks; it is gone at once unless it is inside the
    file system (then it is left alone and stays the one probe)."""
    from _signal import SIGKILL

    try:
        os.kill(identity.pid, SIGKILL)
    except ProcessLookupError:
        return
    until = time.monotonic() + within
    while identity.alive() and time.monotonic() < until:
        time.sleep(0.005)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
