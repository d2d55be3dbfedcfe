"""A service that is one process (and its session) recorded in an ocfpy pidfile.

The daemon agent and the domain agents that run a foreground process (procServ -f, a JVM,
omniNames) share this: launch and record the identity, tell whether it still lives, and stop
it with escalation inside the stop timeout.
"""

import time

from . import pidfile
from .codes import OCF, OCFError

RUN_DIR = "/run/ocfpy"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What a service inherits from the agent's environment; everything else it is given explicitly.
INHERITED = ("PATH", "LANG", "LC_ALL", "TZ")


# Longest file name made from an instance (a file name has at most 255 bytes, and suffixes
# such as ".pid.heartbeat" follow it).
_MAX_NAME_BYTES = 200


def instance_file_name(instance):
    """The resource instance as one file-name component ('default' when there is none); a
    name too long for one becomes its start and a digest of the whole."""
    name = (instance or "default").replace("/", "_")
    if len(name.encode("utf-8", "surrogateescape")) <= _MAX_NAME_BYTES:
        return name
    import hashlib

    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"{name.encode('utf-8', 'surrogateescape')[:100].decode('utf-8', 'ignore')}-{digest}"


def run_path(agent_name, instance, suffix, *, create=False):
    """RUN_DIR/<agent>/<instance><suffix>, where an agent keeps its own files by default;
    create makes the directory."""
    directory = f"{RUN_DIR}/{agent_name}"
    if create:
        from .safefile import make_directory

        make_directory(directory, 0o755)
    return f"{directory}/{instance_file_name(instance)}{suffix}"


def default_pidfile(agent_name, instance):
    return run_path(agent_name, instance, ".pid")


def base_environment(environ):
    env = {name: environ[name] for name in INHERITED if environ.get(name)}
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def service_environment(environ, assignments=""):
    """A service's clean environment: the INHERITED names, then its NAME=VALUE words (an
    `environment` parameter, already checked)."""
    from .params import parse_environment

    env = base_environment(environ)
    env.update(parse_environment(assignments))
    return env


def find_executable(command, path):
    """The absolute path of `command` (searched on `path` unless it has a slash), or None."""
    import os  # a start's or a validation's, never a monitor's (docs/design.md)

    candidates = [command] if "/" in command else [
        os.path.join(directory, command) for directory in path.split(":") if directory
    ]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class PidfileService:
    def __init__(self, path, log):
        self.path = path
        self.log = log

    def check_usable(self):
        """Raise OCFError(ERR_INSTALLED) if this node cannot keep our pidfile at `path`."""
        import os

        directory = os.path.dirname(self.path) or "."
        # Our own run directory is made on demand; '..' must not lead that anywhere else.
        if os.path.normpath(self.path).startswith(RUN_DIR + "/"):
            from .safefile import make_directory

            try:
                make_directory(directory, 0o755)
            except OSError as exc:
                raise OCFError(OCF.ERR_INSTALLED, f"cannot create {directory}: {exc}") from None
        if not os.path.isdir(directory):
            raise OCFError(OCF.ERR_INSTALLED, f"pidfile directory {directory} does not exist")
        try:
            pidfile.read(self.path)
        except pidfile.ForeignFileError as exc:
            raise OCFError(OCF.ERR_INSTALLED, f"{exc}; refusing to overwrite it") from None

    def leader(self):
        """The recorded process while it lives, else None. A foreign file means: not ours."""
        try:
            recorded = pidfile.read(self.path)
        except pidfile.ForeignFileError as exc:
            self.log.warning(f"{exc}: treating the service as not running")
            return None
        if recorded is None or not recorded.alive():
            return None
        return recorded

    def launch(self, agent, argv, *, settle, cwd="/", umask=0o022, user="", env=None,
               logfile="/dev/null", name=None, exit_meaning=None):
        """Start argv detached, record it, and make sure it survives `settle` seconds.

        An early exit fails the start naming `name` (default argv[0]) and, when the service
        documents its exit statuses, `exit_meaning(status)` in words, cause first."""
        from .process import SpawnError, spawn

        self.check_usable()
        try:
            identity, child = spawn(argv, cwd=cwd, umask=umask, user=user, env=env,
                                    logfile=logfile)
        except SpawnError as exc:
            raise OCFError(OCF.ERR_GENERIC, str(exc)) from None
        try:
            pidfile.write(self.path, identity)
        except (OSError, pidfile.ForeignFileError) as exc:
            self._abandon(agent, identity)
            raise OCFError(OCF.ERR_GENERIC, f"cannot write pidfile {self.path}: {exc}") from None
        from . import wait

        settle_until = min(time.monotonic() + settle, agent.deadline)
        wait.until(lambda: child.poll() is not None, settle_until, 0.02)
        status = child.poll()
        if status is not None:
            self._abandon(agent, identity)
            what = name or argv[0]
            if status > 0 and exit_meaning is not None:
                raise OCFError(OCF.ERR_GENERIC, f"{what}: {exit_meaning(status)} (exit {status} "
                                                f"during start, log {logfile})")
            how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
            raise OCFError(OCF.ERR_GENERIC, f"{what} {how} during start (log: {logfile})")
        self.log.info(f"started {argv[0]} as pid {identity.pid}")
        return identity

    def _abandon(self, agent, identity):
        """Clean up after a start that failed: nothing of it may stay behind."""
        self.terminate(agent, leader=identity)

    def terminate(self, agent, *, stop_signal=15, kill_after=0, leader=None):
        """Stop the recorded process and its session; kill_after 0 means half the time left.
        A leader found stopped (state T) cannot shut down cleanly: SIGKILL follows after
        STOPPED_GRACE at most."""
        from .process import STOPPED_GRACE, cannot_obey, terminate

        if leader is None:
            try:
                leader = pidfile.read(self.path)
            except pidfile.ForeignFileError as exc:
                self.log.warning(f"{exc}: leaving it alone; nothing of ours is recorded there")
                return
        if leader is not None:
            now = time.monotonic()
            grace = kill_after if kill_after > 0 else max(0.0, agent.deadline - now) / 2
            why = cannot_obey(leader)
            if why:
                self.log.warning(f"pid {leader.pid} is {why}: SIGKILL follows SIGTERM after "
                                 f"{min(grace, STOPPED_GRACE)}s")
                grace = min(grace, STOPPED_GRACE)
            left = terminate(leader, stop_signal=stop_signal, kill_at=min(now + grace,
                             agent.deadline), give_up_at=agent.deadline, log=self.log)
            if left:
                raise OCFError(OCF.ERR_GENERIC, f"processes {left} survived SIGKILL")
        pidfile.remove(self.path)
