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

Telling attrd costs a program run (attrd_updater), more than the rest of the monitor, so the
monitor remembers what it asserted (`.bootprobe.health`: the value, the boot, which
pacemaker-attrd took it and when) and runs attrd_updater only when that no longer holds: the
value changed, attrd is not the one that took it (pacemaker restarted or the node rebooted:
attrd forgot it), or the assertion is older than REASSERT_INTERVALS monitor intervals (at most
REASSERT_MAX seconds), so a value changed by anyone else is put right within that time.
"""

import os
import time

from ocfpy import wait

GREEN, RED = "green", "red"
RECHECK = 10.0         # seconds between the re-checks of a failed boot directory
GIVE_UP = 86400.0      # a probe re-checks for a day at most
REASSERT_INTERVALS = 5  # an unchanged value is asserted again after this many monitor intervals
REASSERT_MAX = 120.0    # ... or after this many seconds, whichever comes first
HEALTH_MARKER = "ocfpy-bootwatch-health 1"
ATTRD, EXECD = "pacemaker-attrd", "pacemaker-execd"


def attribute_name(instance):
    """The node health attribute of one IOC resource."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in instance)
    return f"#health-ioc-{safe}"


def set_health(name, value, timeout=5.0):
    """Set the transient node attribute `name` on this node; '' or why it could not be set."""
    from ocfpy.command import SpawnError, run

    try:
        finished = run(["attrd_updater", "-n", name, "-U", value], timeout=max(0.5, timeout),
                       env=dict(os.environ))
    except SpawnError as exc:
        return str(exc)
    if finished.status == 0:
        return ""
    said = f": {finished.gist}" if finished.gist else ""
    return f"attrd_updater {finished.how}{said}"


def attrd_identity(known=""):
    """'pid:start' of this node's pacemaker-attrd, or '' when there is none to be found (not
    run by Pacemaker's executor). `known`, an earlier answer, is checked first: while that
    attrd lives this costs one /proc read. attrd is a child of pacemakerd, as the executor
    that runs this agent is."""
    from ocfpy.identity import children, command_name, read_stat

    if known:
        pid, _, start = known.partition(":")
        stat = read_stat(pid) if pid.isdigit() else None
        if stat is not None and stat.alive and str(stat.start_ticks) == start:
            return known
    executor = read_stat(os.getppid())
    if executor is None or command_name(executor.pid) != EXECD:   # (a remote node: no attrd)
        return ""
    for pid in children(executor.ppid):
        if command_name(pid) != ATTRD:
            continue
        stat = read_stat(pid)
        if stat is not None and stat.alive:
            return f"{pid}:{stat.start_ticks}"
    return ""


def _age(identity):
    """Seconds since the process `identity` started."""
    from ocfpy.identity import uptime

    stat = identity.stat()
    if stat is None:
        return 0.0
    return max(0.0, uptime() - stat.start_ticks / os.sysconf("SC_CLK_TCK"))


class BootWatch:
    """The probe of one resource: state files at `base` + '.bootprobe' and '.result'."""

    def __init__(self, base, instance, log):
        self.path = base + ".bootprobe"
        self.result_path = self.path + ".result"
        self.health_path = self.path + ".health"
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
        """What the probe last recorded: 'fail WHY', 'ok', or '' while it is in its first check."""
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

    def report(self, value, *, interval, timeout):
        """Make this node's health attribute say `value` (attrd_updater, at most `timeout`
        seconds) unless this resource's last assertion still holds (see the module doc);
        `interval` is the monitor's, in seconds. '' or why it could not be set."""
        from ocfpy.identity import boot_id

        asserted = self._asserted()
        attrd = attrd_identity(asserted.get("attrd", ""))
        boot = boot_id()
        now = time.monotonic()
        try:
            age = now - float(asserted.get("at", "nan"))
        except ValueError:
            age = float("nan")
        if (asserted.get("value") == value and asserted.get("attrd") == attrd
                and asserted.get("boot") == boot
                and 0 <= age < min(REASSERT_MAX, REASSERT_INTERVALS * interval)):
            return ""
        problem = set_health(self.attribute, value, timeout)
        if problem:
            _remove(self.health_path)
            return problem
        from ocfpy import safefile

        record = f"{HEALTH_MARKER}\nvalue={value}\nboot={boot}\nattrd={attrd}\nat={now:.3f}\n"
        try:
            safefile.replace(self.health_path, record.encode())
        except OSError as exc:   # asserted all the same: the next monitor asserts it again
            self.log.warning(f"cannot record the health assertion in {self.health_path}: {exc}")
        return ""

    def _asserted(self):
        """{value, boot, attrd, at} of the last assertion this resource made, or {}."""
        from ocfpy import safefile

        try:
            data = safefile.read(self.health_path, 4096)
        except OSError:
            return {}
        lines = (data or b"").decode(errors="replace").splitlines()
        if not lines or lines[0] != HEALTH_MARKER:
            return {}
        return dict(line.partition("=")[::2] for line in lines[1:])

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
        _remove(self.health_path)
        _remove(self.result_path)
        pidfile.remove(self.path)

    def _probe(self, checks, timeout):
        """Run the checks in a child of its own session and wait for its answer on a pipe.
        A directory that answers in time leaves nothing behind; a child still out when the
        monitor stops waiting (hung, or re-checking a failure) is recorded in `.bootprobe`."""
        import select

        # What the child uses, loaded before the fork: an import in the child would cost it
        # most of its time (copies of the pages the import machinery writes to).
        from ocfpy import pidfile  # noqa: F401
        from ocfpy.agents import fsprobe  # noqa: F401

        deadline = time.monotonic() + timeout
        _remove(self.result_path)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            self._child(checks, deadline, write_end)
        os.close(write_end)
        said, ended = b"", False
        try:
            while not _answer_in(said):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_end], [], [], left)[0]:
                    break
                chunk = os.read(read_end, 4096)
                if not chunk:
                    ended = True
                    break
                said += chunk
        finally:
            os.close(read_end)   # from now on the child knows it is late: it reports itself
        lines = said.decode(errors="replace").split("\n")[:-1]   # the complete ones
        answer = lines[-1] if lines else ""
        if answer == "ok":
            wait.reaped(pid, 1.0, 0.002)
            return True, ""
        if ended and not answer.startswith("fail "):
            status = wait.reaped(pid, 1.0, 0.002)
            if status is not None:   # it died without an answer
                return False, f"the probe exited with status {os.waitstatus_to_exitcode(status)}"
        self._record(pid)
        if answer.startswith("fail "):
            return False, answer[len("fail "):]   # it re-checks until the answer is ok
        from ocfpy.agents.fsprobe import _DOING

        steps = [line for line in lines if line.startswith("step ")]   # the last one hung
        index = int(steps[-1].split()[1]) if steps else 0
        kind, path = checks[min(index, len(checks) - 1)]
        return False, f"{_DOING[kind]} {path} did not complete within {timeout:.1f}s (hung " \
                      f"file system?)"

    def _record(self, pid):
        """Record the probe that is still out, so that no other is started while it lives."""
        from ocfpy import pidfile
        from ocfpy.identity import Identity

        identity = Identity.of(pid)
        if identity is not None:
            pidfile.write(self.path, identity)

    def _child(self, checks, deadline, report):
        """The probe: its own session (nothing that ends the agent's group ends it), the
        checks, each step and the answer told on the `report` pipe. A failure it records in
        the result file too and then checks again every RECHECK seconds (for at most
        GIVE_UP), so a node the IOC has left is reported healthy once its file system
        answers; an answer that comes after the monitor stopped waiting it records and
        reports itself (the health attribute). Never returns."""
        code = 1
        try:
            os.setsid()
            # Nothing of the agent's: the executor reads the agent's output until every copy
            # of its pipes is closed, and must not wait for a probe that outlives the monitor.
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, report)
            os.closerange(report + 1, 65536)
            from ocfpy import safefile
            from ocfpy.agents.fsprobe import _check

            began, failed = time.monotonic(), False
            while True:
                problem = ""
                for index, (kind, path) in enumerate(checks):
                    if not failed:   # a re-check keeps the failure on record meanwhile
                        _tell(report, f"step {index}")
                    problem = _check(kind, path)
                    if problem:
                        break
                answer = f"fail {problem}" if problem else "ok"
                late = time.monotonic() >= deadline
                if problem or late or failed:   # the next monitors read it there
                    safefile.replace(self.result_path, f"{answer}\n".encode())
                if not failed:
                    late = not _tell(report, answer) or late
                if not problem:
                    if late or failed:
                        self._set_behind_monitor(GREEN)   # the directory answers again
                    break
                if late and not failed:
                    self._set_behind_monitor(RED)
                failed = True
                if time.monotonic() - began > GIVE_UP:
                    break
                time.sleep(RECHECK)
            code = 0
        finally:
            os._exit(code)

    def _set_behind_monitor(self, value):
        """The probe's own report: the monitor's record of what it asserted no longer holds."""
        _remove(self.health_path)
        set_health(self.attribute, value)


def _answer_in(said):
    """Whether the lines the probe sent end with its answer ('ok' or 'fail WHY')."""
    lines = said.split(b"\n")[:-1]
    return bool(lines) and (lines[-1] == b"ok" or lines[-1].startswith(b"fail "))


def _tell(fd, line):
    """Send one line to the monitor; False once it has stopped listening."""
    try:
        os.write(fd, f"{line}\n".encode(errors="replace"))
        return True
    except OSError:
        return False


def _end(identity, within=0.2):
    """SIGKILL a probe waiting between re-checks; it is gone at once unless it is inside the
    file system (then it is left alone and stays the one probe)."""
    from _signal import SIGKILL

    try:
        os.kill(identity.pid, SIGKILL)
    except ProcessLookupError:
        return
    wait.within(lambda: not identity.alive(), within, 0.005)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
