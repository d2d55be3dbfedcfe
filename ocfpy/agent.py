"""The Agent base class: dispatch, the invalid-configuration policy, idempotent start and stop,
bounded waits, exit reasons and exit codes. A concrete agent declares its parameters and writes
start, stop and monitor (and, if it has them, promote, demote, notify, reload_agent, migrate_*).

The contract an agent method keeps:
- monitor returns OCF.SUCCESS, OCF.NOT_RUNNING, OCF.RUNNING_PROMOTED (or a DEGRADED code) and
  raises OCFError for a failure, with the reason Pacemaker will show.
- start launches the service and returns once it is launched; the base then waits, inside the
  start timeout, until monitor reports it healthy. During that wait OCF.NOT_RUNNING means the
  service died and fails the start at once; OCF_ERR_GENERIC means "not ready yet".
- stop makes the service go away; the base then checks with monitor that it really has.
- validate checks what is local to this node (binaries, directories, users) and raises
  OCFError(ERR_INSTALLED or ERR_PERM); the parameters' own checks and the agent's `rules`
  across parameters (pure functions that `ocfgen check` runs too) run before it.

Every action but meta-data and validate-all runs under the resource's operation lock
(ocfpy.oplock), so concurrent operations on one resource run one after the other.
"""

import posix
import sys
import time

from . import __version__
from .codes import OCF, OCFError, code_name
from .log import Logger
from .request import Request

# Optional actions and the method that implements each.
OPTIONAL_ACTIONS = {
    "promote": "promote",
    "demote": "demote",
    "notify": "notify",
    "reload-agent": "reload_agent",
    "migrate_to": "migrate_to",
    "migrate_from": "migrate_from",
}
# Actions that run without the operation lock: they change nothing.
UNLOCKED_ACTIONS = frozenset(("validate-all",))
RUNNING = frozenset((OCF.SUCCESS, OCF.RUNNING_PROMOTED, OCF.DEGRADED, OCF.DEGRADED_PROMOTED))


def exit_process(code):
    """End the agent's process with `code` once its output is flushed (the entry scripts that
    ocfpy.install writes end this way).

    Nothing is left for the interpreter's teardown to do that the kernel does not: every file
    an agent opens is closed when its action ends, it registers no exit handlers and runs no
    threads. The teardown would still free every object one by one and collect garbage a last
    time, about 1.2 ms, a tenth of `python3 -c pass`, on every monitor; _exit skips it.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a reader gone, a stream closed: the code stands
            pass
    posix._exit(code)


def process_environment():
    """What os.environ holds, as a plain dict. The monitor path never imports os: its
    os.environ mapping alone pulls in _collections_abc, and the two cost a monitor about
    0.8 ms, more than the check it makes. posix (os's C half) is already loaded."""
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    return {name.decode(encoding, errors): value.decode(encoding, errors)
            for name, value in posix.environ.items()}


class Agent:
    name = ""
    version = __version__
    shortdesc = ""
    longdesc = ""
    parameters = ()
    # Rules across parameters: pure functions of the converted values that raise
    # ocfpy.params.ParameterError; validate-all and `ocfgen check` both run them.
    rules = ()
    # Default timeouts (seconds) advertised in the meta-data for each action.
    timeouts = {
        "start": 20, "stop": 20, "monitor": 20, "promote": 20, "demote": 20, "notify": 20,
        "reload-agent": 20, "migrate_to": 20, "migrate_from": 20, "meta-data": 5,
        "validate-all": 20,
    }
    monitor_interval = 10
    # Promoted instances are monitored on their own interval, which must differ from the other.
    promoted_monitor_interval = 9

    promote = None
    demote = None
    notify = None
    reload_agent = None
    migrate_to = None
    migrate_from = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if (cls.promote is None) != (cls.demote is None):
            raise TypeError(f"{cls.__name__}: promote and demote go together")
        names = [p.name for p in cls.parameters]
        if len(names) != len(set(names)):
            raise TypeError(f"{cls.__name__}: a parameter is declared twice")

    def __init__(self, request, log):
        self.request = request
        self.params = request.params
        self.log = log
        self.began = time.monotonic()
        timeout = request.timeout_ms / 1000.0
        # Keep a margin so the agent answers before the executor kills it.
        self.deadline = self.began + timeout - min(2.0, timeout * 0.1)

    # The life-cycle methods a concrete agent writes.
    def validate(self):
        """Node-local checks; raise OCFError(ERR_INSTALLED/ERR_PERM) when this node cannot run it."""

    def start(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def monitor(self):
        raise NotImplementedError

    # What the class offers.
    @classmethod
    def is_promotable(cls):
        return cls.promote is not None

    @classmethod
    def actions(cls):
        names = ["start", "stop", "monitor"]
        names += [action for action, method in OPTIONAL_ACTIONS.items()
                  if getattr(cls, method) is not None]
        return names + ["meta-data", "validate-all"]

    @classmethod
    def action_table(cls):
        """(name, timeout s, interval s or None, depth, role) rows for the meta-data."""
        rows = []
        for name in cls.actions():
            timeout = cls.timeouts.get(name, 20)
            if name != "monitor":
                rows.append((name, timeout, None, None, None))
            elif cls.is_promotable():
                rows.append((name, timeout, cls.promoted_monitor_interval, "0", "Promoted"))
                rows.append((name, timeout, cls.monitor_interval, "0", "Unpromoted"))
            else:
                rows.append((name, timeout, cls.monitor_interval, "0", None))
        return rows

    @classmethod
    def usage(cls):
        return f"usage: {cls.name} {{{'|'.join(cls.actions())}}}"

    # Helpers for agent methods.
    def remaining(self):
        return self.deadline - time.monotonic()

    def wait_for(self, condition, what, interval=0.1, until=None):
        """Poll `condition` until it is true; OCFError(ERR_GENERIC) naming `what` at the deadline."""
        from . import wait

        if not wait.until(condition, self.deadline if until is None else until, interval):
            waited = time.monotonic() - self.began
            raise OCFError(OCF.ERR_GENERIC, f"timed out after {waited:.1f}s waiting for {what}")

    def set_promotion_score(self, score):
        from .promotion import set_score

        return set_score(score, self.request, self.log)

    def clear_promotion_score(self):
        from .promotion import clear_score

        return clear_score(self.request, self.log)

    # Dispatch.
    @classmethod
    def main(cls, argv=None, environ=None):
        """Run one action as the executor asked and return the exit code."""
        argv = sys.argv if argv is None else argv
        environ = process_environment() if environ is None else environ
        code, reason = cls.run(argv, environ)
        if reason:
            from .reasons import fit  # Pacemaker keeps 128 characters: the cause must be in them

            prefix = environ.get("OCF_EXIT_REASON_PREFIX") or "ocf-exit-reason:"
            sys.stderr.write(f"{prefix}{fit(reason)}\n")
        sys.stderr.flush()
        return code

    @classmethod
    def run(cls, argv, environ):
        """(exit code, exit reason or '') for one invocation; never raises."""
        if len(argv) != 2:
            sys.stderr.write(cls.usage() + "\n")
            return OCF.ERR_ARGS, f"expected exactly one action, got {len(argv) - 1} arguments"
        action = argv[1]
        if action in ("usage", "help", "--help", "-h"):
            sys.stdout.write(cls.usage() + "\n")
            return OCF.SUCCESS, ""
        if action == "meta-data":
            from .metadata import render

            request = Request(action, (), {k: v for k, v in environ.items()
                                           if k.startswith("OCF_RA_VERSION")})
            sys.stdout.write(render(cls, request.speaks_ocf_1_1))
            return OCF.SUCCESS, ""
        if action not in cls.actions():
            sys.stderr.write(cls.usage() + "\n")
            return OCF.ERR_UNIMPLEMENTED, f"action {action!r} is not implemented by {cls.name}"
        log = Logger(cls.name, environ.get("OCF_RESOURCE_INSTANCE", ""), environ)
        try:
            agent = cls(Request(action, cls.parameters, environ), log)
            code = agent.dispatch()
            log.debug(f"{action} returned {code_name(code)}")
            return code, ""
        except OCFError as failure:
            level = log.info if failure.code == OCF.NOT_RUNNING else log.error
            level(f"{action}: {code_name(failure.code)}: {failure.reason}")
            return failure.code, failure.reason
        except Exception as exc:  # an agent bug must still answer with an OCF code
            import traceback

            log.error(f"internal error during {action}: {type(exc).__name__}: {exc}")
            log.debug(traceback.format_exc())
            return OCF.ERR_GENERIC, f"internal error during {action}: {type(exc).__name__}: {exc}"

    def dispatch(self):
        for variable, why in self.request.ignored:
            self.log.warning(f"ignoring {variable}: {why}")
        problems = self.configuration_errors()
        if problems:
            return self._misconfigured(problems[0])
        if self.request.action in UNLOCKED_ACTIONS:
            return self._dispatch_action()
        from .oplock import OperationLock
        from .service import run_path

        with OperationLock(run_path(self.name, self.request.instance, ".lock")) as lock:
            lock.acquire(self.deadline, self.request.action)
            return self._dispatch_action()

    def _dispatch_action(self):
        action = self.request.action
        if action == "start":
            return self._start()
        if action == "stop":
            return self._stop()
        if action == "monitor":
            return self._monitor()
        if action == "validate-all":
            self.validate()
            return OCF.SUCCESS
        return getattr(self, OPTIONAL_ACTIONS[action])()

    def configuration_errors(self):
        errors = list(self.request.errors)
        if self.request.action == "validate-all":
            errors += self.request.unknown
        else:
            self._warn_unknown()
        # Stop and a probe read the parameters too, so they get the same checks (and the common
        # policy below); only the recurring monitor of a started resource, whose configuration
        # start checked, skips them.
        if not errors and (self.request.action != "monitor" or self.request.is_probe):
            from .params import problems

            errors += problems(self.parameters, self.rules, self.params)
        return errors

    def _warn_unknown(self):
        """Unknown parameters fail only validate-all (ocfgen check and operators see them there).

        During a rolling upgrade the CIB gains a parameter that newer agents declare while older
        ones still run on other nodes. If an older agent refused it, start and promote would fail
        with OCF_ERR_CONFIGURED, which Pacemaker takes as fatal on every node: one new parameter
        would stop the resource cluster-wide. So every other action warns and goes on, as
        resource-agents do.
        """
        for problem in self.request.unknown:
            self.log.warning(f"{self.request.action}: {problem}; ignored (a parameter of a newer "
                             "agent version during a rolling upgrade?)")

    def _misconfigured(self, problem):
        """The common policy: nothing can run with a bad configuration, so stop and probe say so."""
        if self.request.action == "stop":
            self.log.warning(f"stop with an invalid configuration ({problem}): nothing can be "
                             "running that this configuration started")
            return OCF.SUCCESS
        if self.request.is_probe:
            self.log.debug(f"probe with an invalid configuration ({problem}): not running")
            return OCF.NOT_RUNNING
        raise OCFError(OCF.ERR_CONFIGURED, str(problem))

    def _monitor(self):
        try:
            return self.monitor()
        except OCFError as failure:
            # A probe on a node without the software: certainly not running here.
            if self.request.is_probe and failure.code in (OCF.ERR_INSTALLED, OCF.ERR_CONFIGURED):
                self.log.debug(f"probe: {failure.reason}: not running")
                return OCF.NOT_RUNNING
            raise

    def _state(self):
        """monitor's answer, with a failure folded into ERR_GENERIC and its reason kept."""
        try:
            return self.monitor(), ""
        except OCFError as failure:
            return failure.code, failure.reason

    def _start(self):
        self.validate()
        state, _ = self._state()
        if state in RUNNING:
            self.log.info("start: already running")
            return OCF.SUCCESS
        try:
            self.start()
            self._wait_started()
        except Exception as failure:
            self._clean_up_failed_start(failure)
            raise
        self.log.info("started")
        return OCF.SUCCESS

    def _wait_started(self):
        """Poll monitor until it reports the service running, leaving time for a clean-up."""
        from . import wait

        until = self.deadline - min(5.0, 0.2 * max(0.0, self.deadline - self.began))
        last_reason = "monitor to report it running"

        def running():
            nonlocal last_reason
            state, reason = self._state()
            if state == OCF.NOT_RUNNING:
                raise OCFError(OCF.ERR_GENERIC, f"not running after start{self.start_failure_hint()}")
            if state not in RUNNING and state != OCF.ERR_GENERIC:
                raise OCFError(state, reason)
            last_reason = reason or last_reason
            return state in RUNNING

        if not wait.until(running, until, 0.25):
            raise OCFError(OCF.ERR_GENERIC, f"start timed out: {last_reason}")

    def _clean_up_failed_start(self, failure):
        """A failed start leaves nothing behind. The clean-up belongs here, in the start path:
        monitors only observe (a monitor that stopped the service would act on a guess)."""
        why = failure.reason if isinstance(failure, OCFError) else type(failure).__name__
        self.log.warning(f"start failed ({why}): stopping whatever it started")
        try:
            self.stop()
        except Exception as exc:  # the start's own failure is what Pacemaker must see
            detail = exc.reason if isinstance(exc, OCFError) else f"{type(exc).__name__}: {exc}"
            self.log.error(f"cleaning up after the failed start: {detail}")

    def start_failure_hint(self):
        """Extra words for a failed start, such as where the service logged; '' by default."""
        return ""

    def _stop(self):
        self.stop()
        state, reason = self._state()
        if state != OCF.NOT_RUNNING:
            detail = f": {reason}" if reason else ""
            raise OCFError(OCF.ERR_GENERIC, f"still running after stop ({code_name(state)}{detail})")
        self.log.info("stopped")
        return OCF.SUCCESS
