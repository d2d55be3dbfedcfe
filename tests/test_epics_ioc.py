"""ocf:ocfpy:epics-ioc with a real soft IOC (pythonSoftIOC, the EPICS IOC core) under the real
procServ, read over real Channel Access. Faults are real: a killed IOC, a stopped (hung) IOC, a
startup script that blocks on read, an IOC that dies while booting.

Ports: procServ consoles 17001-17099, Channel Access 15000-15199, all on 127.0.0.1 (the
archiver tests use 17100-17899, the cluster test 17990 and 15900 inside its node).
"""

import itertools
import os
import pathlib
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest
from ocfrun import AGENT_DIR, PYTHON, pacemaker_environment, run_agent

from ocfpy import pidfile
from ocfpy.identity import Identity
from ocfpy.reasons import fit  # agents emit reasons through it (128 characters)

IOC_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "epics_softioc.py")
AGENT = "epics-ioc"
# Each test gets its own console and CA ports; the pid spreads reruns over the range.
_SLOTS = itertools.count((os.getpid() % 5) * 20)


def ca_environment(server_port):
    return {
        "EPICS_CA_SERVER_PORT": str(server_port),
        "EPICS_CA_REPEATER_PORT": str(server_port + 1),
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
    }


class Ioc:
    """One IOC resource: scratch boot directory, parameters, and what it started."""

    def __init__(self, tmp_path, **overrides):
        slot = next(_SLOTS) % 99
        self.name = f"E4T{os.getpid()}X{slot}"
        self.console_port = 17001 + slot
        self.ca_port = 15000 + 2 * slot
        self.boot = tmp_path / "iocBoot" / f"ioc{self.name}"
        self.boot.mkdir(parents=True)
        self.startup = self.boot / "st.cmd"
        self.startup.write_text(f'#!{PYTHON} {IOC_SCRIPT}\nepicsEnvSet("IOCNAME", "{self.name}")\n')
        self.startup.chmod(0o755)
        env = ca_environment(self.ca_port)
        self.params = {
            "ioc_name": self.name,
            "boot_dir": str(self.boot),
            "ioc_command": f"{PYTHON} {IOC_SCRIPT}",
            "console": str(self.console_port),
            "logfile": str(tmp_path / "console.log"),
            "pidfile": str(tmp_path / "procserv.pid"),
            "heartbeat_pv": f"{self.name}:HEARTBEAT",
            "stop_command": "exit()",
            "ca_timeout": "1000",
            "boot_timeout": "1000",
            "environment": " ".join(f"{k}={v}" for k, v in env.items()),
        }
        self.params.update({k: str(v) for k, v in overrides.items()})
        self.log = tmp_path / "agent.log"

    def run(self, action, level=0, recurring=True, **kwargs):
        extra = {"OCF_CHECK_LEVEL": str(level), "HA_LOGFILE": str(self.log)}
        interval = 10000 if recurring and action == "monitor" else 0
        return run_agent(AGENT, action, instance=self.name, params=self.params,
                         interval_ms=interval, extra=extra, **kwargs)

    def procserv(self):
        return pidfile.read(self.params["pidfile"])

    def child(self):
        return pidfile.read(self.params["pidfile"] + ".ioc")

    def agent_log(self):
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def ioc(tmp_path, monkeypatch):
    """Factory of IOC resources; everything they started is stopped and checked gone."""
    made = []

    def make(base=None, **overrides):
        resource = Ioc(base or tmp_path, **overrides)
        for name, value in ca_environment(resource.ca_port).items():
            monkeypatch.setenv(name, value)  # for this process's own CA client
        made.append(resource)
        return resource

    yield make
    for resource in made:
        survivors = [p for p in (_safe(resource.procserv), _safe(resource.child)) if p]
        resource.run("stop", timeout_ms=15000)
        for identity in survivors:
            if identity.alive():  # never expected; do not leave it running either way
                os.kill(identity.pid, signal.SIGKILL)
                pytest.fail(f"pid {identity.pid} survived the agent's stop")


def _safe(reader):
    try:
        return reader()
    except pidfile.ForeignFileError:
        return None


def ca_read(pv, timeout=2.0):
    from caproto.sync.client import read

    return read(pv, timeout=timeout, repeater=False).data[0]


# What no monitor depth may load: a CA client library and its threads, a second interpreter
# (subprocess), the generator's libraries.
HEAVY = {"caproto", "numpy", "threading", "asyncio", "subprocess", "urllib.request",
         "http.client", "click", "lxml", "jinja2"}


def monitor_imports(resource, level):
    """The modules a monitor of `level` imports, from python3 -X importtime."""
    env = pacemaker_environment(resource.name, resource.params, interval_ms=10000,
                                extra={"OCF_CHECK_LEVEL": str(level)})
    done = subprocess.run([PYTHON, "-X", "importtime", "-I", "-S", f"{AGENT_DIR}/{AGENT}",
                           "monitor"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:") and line.count("|") == 2} - {"imported package"}


def started(resource):
    outcome = resource.run("start", timeout_ms=30000)
    assert outcome.rc == 0, outcome
    return resource.procserv(), resource.child()


def test_life_cycle_heartbeat_over_channel_access_and_clean_stop(ioc):
    resource = ioc()
    resource.params["pid_pv"] = f"{resource.name}:PID"
    assert resource.run("monitor", recurring=False).rc == 7               # probe: stopped
    server, child = started(resource)
    assert Identity.of(child.pid).stat().ppid == server.pid              # procServ's child
    # start returned only once the IOC served its heartbeat; a separate CA client sees it tick.
    first = ca_read(f"{resource.name}:HEARTBEAT")
    time.sleep(1.2)
    assert ca_read(f"{resource.name}:HEARTBEAT") > first
    assert ca_read(f"{resource.name}:PID") == child.pid
    for level in (0, 10, 20):
        outcome = resource.run("monitor", level)
        assert outcome.rc == 0, (level, outcome)
        # Every depth stays cheap: CA spoken by ocfpy.ca, the boot directory probed by a fork.
        loaded = monitor_imports(resource, level)
        assert not loaded & HEAVY, level
        if level < 20:  # not even os (docs/design.md); depth 20 forks its boot-directory probe
            assert not loaded & {"os", "_collections_abc", "ocfpy.agents.procserv"}, loaded
    # The agent's CA client spawned no repeater: the repeater port is still free.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", resource.ca_port + 1))
    assert resource.run("monitor", recurring=False).rc == 0               # probe: running
    assert resource.run("start").rc == 0                                  # idempotent
    assert resource.procserv() == server
    # A pid PV that does not hold the local IOC's pid (another host serving the names).
    resource.params["pid_pv"] = f"{resource.name}:HEARTBEAT"
    outcome = resource.run("monitor", 10)
    assert outcome.rc == 1 and f"not the pid {child.pid}" in outcome.reason

    outcome = resource.run("stop")
    assert outcome.rc == 0, outcome
    assert "exited on 'exit()'" in resource.agent_log()                   # asked via the console
    assert not server.alive() and not child.alive()
    assert not os.path.exists(resource.params["pidfile"])
    assert not os.path.exists(resource.params["pidfile"] + ".ioc")
    assert resource.run("stop").rc == 0                                   # idempotent
    assert resource.run("monitor").rc == 7


def test_killed_ioc_child_is_a_failure_not_success(ioc):
    resource = ioc()
    server, child = started(resource)
    os.kill(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while child.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.alive()                                                 # procServ stays up
    for recurring in (True, False):                                       # monitor and probe
        outcome = resource.run("monitor", recurring=recurring)
        assert outcome.rc == 1, outcome
        assert f"IOC pid {child.pid} is gone" in outcome.reason
    assert resource.run("stop").rc == 0
    assert not server.alive()


def test_ioc_respawned_by_procserv_is_a_failure_not_success(ioc):
    resource = ioc()
    server, child = started(resource)
    console = socket.create_connection(("127.0.0.1", resource.console_port), timeout=2)
    try:
        console.sendall(b"\x14")            # ^T: an operator turns procServ's auto restart on
        time.sleep(0.3)
        console.sendall(b"\x18")            # ^X: and kills the IOC; procServ respawns it
        deadline = time.monotonic() + 5
        while child.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        outcome = resource.run("monitor")                                 # being respawned
        assert outcome.rc == 1 and f"IOC pid {child.pid} is gone" in outcome.reason
        new = []
        deadline = time.monotonic() + 25      # procServ holds off 15 s between restarts
        while not new and time.monotonic() < deadline:
            with open(f"/proc/{server.pid}/task/{server.pid}/children") as f:
                new = [int(pid) for pid in f.read().split() if int(pid) != child.pid]
            time.sleep(0.2)
        assert new, "procServ did not respawn the IOC"
        outcome = resource.run("monitor")                                 # respawned
        assert outcome.rc == 1, outcome
        assert outcome.reason == (f"IOC pid {child.pid} was replaced by pid {new[0]} "
                                  "(respawned by procServ)")
    finally:
        console.close()
    respawned = Identity.of(new[0])
    assert resource.run("stop").rc == 0
    assert not server.alive() and not respawned.alive()


def test_hung_ioc_fails_level_10_with_a_clear_reason(ioc):
    resource = ioc(shutdown_timeout=1)
    server, child = started(resource)
    os.kill(child.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        outcome = resource.run("monitor", 10)
        assert time.monotonic() - began < 5                               # bounded by ca_timeout
        assert outcome.rc == 1, outcome
        assert outcome.reason == (f"Channel Access read of {resource.name}:HEARTBEAT timed out "
                                  "after 1.0s (the IOC process is stopped)")
        assert resource.run("monitor", 0).rc == 0                         # /proc alone cannot tell
    finally:
        os.kill(child.pid, signal.SIGCONT)
    assert resource.run("monitor", 10).rc == 0                            # it recovers
    os.kill(child.pid, signal.SIGSTOP)
    # A hung IOC cannot obey the console: stop escalates to signals and still leaves nothing.
    outcome = resource.run("stop")
    assert outcome.rc == 0, outcome
    assert not server.alive() and not child.alive()


def test_heartbeat_that_stops_moving_is_a_failure(ioc):
    resource = ioc(heartbeat_stall=1)
    server, child = started(resource)
    state = resource.params["pidfile"] + ".heartbeat"
    assert resource.run("monitor", 10).rc == 0                            # HEARTBEAT ticks
    time.sleep(1.5)
    assert resource.run("monitor", 10).rc == 0
    # A PV that never changes stands for the heartbeat of an IOC whose scan threads hang.
    resource.params["heartbeat_pv"] = f"{resource.name}:PID"
    assert resource.run("monitor", 10).rc == 0                            # first sight
    time.sleep(1.5)
    outcome = resource.run("monitor", 10)
    assert outcome.rc == 1, outcome
    assert outcome.reason.startswith(f"{resource.name}:PID has stayed at {child.pid} for ")
    assert outcome.reason.endswith("s (a hung IOC?)")
    assert resource.run("stop").rc == 0
    assert not os.path.exists(state)


def test_hanging_startup_script_fails_level_20_while_the_ioc_runs(ioc):
    """Outside a cluster (no attrd to mark the node unhealthy) a hung boot directory fails the
    monitor; the probe stuck on it is never started twice and is accounted for when it returns
    (in a cluster the node is marked unhealthy instead: test_cluster_stale_mount.py)."""
    resource = ioc()
    started(resource)
    real = resource.boot / "st.cmd.real"
    resource.startup.rename(real)
    os.mkfifo(resource.startup)      # opening it for reading blocks, as a stale NFS read does
    try:
        began = time.monotonic()
        outcome = resource.run("monitor", 20)
        assert time.monotonic() - began < 5
        assert outcome.rc == 1, outcome
        assert outcome.reason == fit(f"reading {resource.startup} did not complete within "
                                     "1.0s (hung file system?)")
        assert resource.run("monitor", 10).rc == 0                        # the IOC itself is fine
        stuck = pidfile.read(resource.params["pidfile"] + ".bootprobe")
        assert stuck is not None and stuck.alive()
        outcome = resource.run("monitor", 20)                 # the stuck probe is not repeated
        assert outcome.rc == 1
        assert f"probe pid {stuck.pid} has not returned" in outcome.reason
        assert pidfile.read(resource.params["pidfile"] + ".bootprobe") == stuck
        writer = os.open(resource.startup, os.O_WRONLY | os.O_NONBLOCK)   # the "mount" answers
        os.write(writer, b"#")
        os.close(writer)
        _wait_gone(stuck)
        resource.startup.unlink()
        outcome = resource.run("monitor", 20)
        assert outcome.rc == 1
        assert outcome.reason == fit(f"{resource.startup} cannot be read: No such file or "
                                     "directory")
        assert f"probe pid {stuck.pid} returned: ok" in resource.agent_log()     # accounted for
    finally:
        if os.path.lexists(resource.startup):
            resource.startup.unlink()
        real.rename(resource.startup)
    assert resource.run("monitor", 20).rc == 0
    # Start refuses a node whose boot directory hangs: not installed here, try elsewhere.
    assert resource.run("stop").rc == 0
    resource.startup.rename(real)
    os.mkfifo(resource.startup)
    outcome = resource.run("start")
    assert outcome.rc == 5 and "did not complete" in outcome.reason
    assert resource.procserv() is None


def _wait_gone(identity, timeout=10):
    until = time.monotonic() + timeout
    while identity.alive() and time.monotonic() < until:
        time.sleep(0.05)
    assert not identity.alive()


def test_ioc_that_dies_while_booting_fails_the_start_at_once(ioc):
    resource = ioc()
    resource.startup.write_text("# no IOCNAME: the IOC exits during boot\n")
    began = time.monotonic()
    outcome = resource.run("start", timeout_ms=30000)
    assert outcome.rc == 1, outcome
    assert time.monotonic() - began < 15                                  # not the start timeout
    # Seen alive once and then gone, or gone before the agent first looked for it (a busy
    # machine): both are this failure, named with the console log.
    assert ("not running after start" in outcome.reason
            or "started no IOC child" in outcome.reason), outcome
    assert resource.params["logfile"] in outcome.reason
    assert "Child process is shutting down" in open(resource.params["logfile"]).read()
    assert resource.procserv() is None                                    # procServ went too
    assert resource.run("stop").rc == 0


def test_unix_socket_console_and_startup_script_run_by_its_own_interpreter_line(ioc, tmp_path):
    socket_path = tmp_path / "console.sock"
    resource = ioc(console=f"unix:{socket_path}", ioc_command="")
    server, child = started(resource)
    assert stat.S_ISSOCK(os.stat(socket_path).st_mode)
    with open(f"/proc/{child.pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[-2] == str(resource.startup).encode()
    conn = socket.socket(socket.AF_UNIX)
    conn.connect(str(socket_path))
    conn.settimeout(2)
    banner, wanted = b"", f'Child "{resource.name}" PID: {child.pid}'.encode()
    while wanted not in banner and b"logger(s) connected" not in banner:
        banner += conn.recv(4096)
    conn.close()
    assert wanted in banner
    assert resource.run("stop").rc == 0
    assert "exited on 'exit()'" in resource.agent_log()
    assert not server.alive() and not child.alive()


@pytest.fixture
def shared_scratch():
    """A scratch directory other users can reach (pytest's tmp_path is private to root).

    Requested before `ioc`, so it is removed only after the IOCs in it have been stopped.
    """
    base = tempfile.mkdtemp(prefix="ocfpy-epics-user-")
    os.chmod(base, 0o755)
    yield pathlib.Path(base)
    shutil.rmtree(base)


def test_ioc_runs_as_the_given_user(shared_scratch, ioc):
    resource = ioc(base=shared_scratch, user="nobody")
    server, child = started(resource)
    for identity in (server, child):
        assert os.stat(f"/proc/{identity.pid}").st_uid == 65534            # nobody
    log = os.stat(resource.params["logfile"])
    assert (log.st_uid, stat.S_IMODE(log.st_mode)) == (65534, 0o640)      # procServ can log
    assert resource.run("monitor", 20).rc == 0
    assert resource.run("stop").rc == 0
    assert "exited on 'exit()'" in resource.agent_log()
    assert not server.alive() and not child.alive()


def test_default_console_is_a_socket_of_its_own_that_another_user_can_make(shared_scratch, ioc):
    """No console parameter: procServ, here running as nobody, listens on the unix socket
    /run/ocfpy/epics-ioc/<resource>.console/control, in a directory of the resource's own that
    only nobody (and root) may enter; the stop command reaches the IOC through it. One socket
    per IOC: unlike one console port, no two IOCs on a node can collide. Run next as root, the
    directory is taken back for root; a console directory somebody else left there would be
    refused."""
    import shutil

    resource = ioc(base=shared_scratch, user="nobody")
    del resource.params["console"]
    directory = f"/run/ocfpy/epics-ioc/{resource.name}.console"
    try:
        server, child = started(resource)
        folder = os.stat(directory)
        assert (folder.st_uid, stat.S_IMODE(folder.st_mode)) == (65534, 0o700)
        assert stat.S_ISSOCK(os.stat(f"{directory}/control").st_mode)
        assert resource.run("monitor", 10).rc == 0
        assert resource.run("stop").rc == 0
        assert "exited on 'exit()'" in resource.agent_log()
        assert not server.alive() and not child.alive()
        # The same resource, its user changed: the directory is given back to root (and the
        # console log is a new one: nobody's own is not root's to append to).
        del resource.params["user"]
        resource.params["logfile"] += ".root"
        server, child = started(resource)
        folder = os.stat(directory)
        assert (folder.st_uid, stat.S_IMODE(folder.st_mode)) == (0, 0o700)
        assert resource.run("stop").rc == 0
        assert resource.agent_log().count("exited on 'exit()'") == 2
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_console_naming_another_address_is_on_loopback_all_the_same(ioc):
    """ADDRESS:PORT, which an older ocfgen wrote for every IOC of its own address: procServ
    binds 127.0.0.1:PORT whatever address it names, so the resource starts (with a warning)
    and stops through that console. Stop asks procServ's own command line where it listens:
    the console parameter changed meanwhile (here back to the default socket) does not keep
    the stop command from the IOC."""
    resource = ioc()
    port = resource.console_port
    resource.params["console"] = f"192.0.2.1:{port}"
    server, child = started(resource)
    assert (f"procServ listens on 127.0.0.1:{port}, not on 192.0.2.1"
            in resource.agent_log())
    with socket.create_connection(("127.0.0.1", port), timeout=2.0):
        pass
    del resource.params["console"]
    assert resource.run("stop").rc == 0
    assert "exited on 'exit()'" in resource.agent_log()
    assert not server.alive() and not child.alive()


@pytest.mark.parametrize("params, rc, reason", [
    ({"console": "7001x"}, 6, "parameter 'console' must be PORT, IP:PORT or unix:PATH"),
    ({"console": "localhost:7001"}, 6, "must name a numeric IPv4 address (procServ's rule)"),
    ({"boot_dir": "relative/dir"}, 6, "parameter 'boot_dir' must be an absolute path"),
    ({"ca_timeout": "50"}, 6, "parameter 'ca_timeout' must be at least 100"),
    ({"heartbeat_pv": "A B"}, 6, "parameter 'heartbeat_pv' is not a Channel Access PV name"),
    ({"procserv": "/nonexistent/procServ"}, 5, "procServ ('/nonexistent/procServ') is not an "
                                                "executable"),
    ({"ioc_command": "/nonexistent/softIoc"}, 5, "ioc_command '/nonexistent/softIoc' is not"),
    ({"startup": "missing.cmd"}, 5, "missing.cmd cannot be read: No such file or directory"),
    ({"ioc_command": "", "startup": "plain.cmd"}, 5, "plain.cmd is not executable"),
])
def test_bad_configuration_is_named_and_harms_nothing(ioc, params, rc, reason):
    resource = ioc(**params)
    (resource.boot / "plain.cmd").write_text("# not executable\n")
    for action in ("validate-all", "start"):
        outcome = resource.run(action)
        assert (outcome.rc, reason in outcome.reason) == (rc, True), outcome
        assert "Traceback" not in outcome.stderr
    assert resource.run("monitor", recurring=False).rc == 7               # probe: not running
    assert resource.run("stop").rc == 0
    assert resource.procserv() is None


def test_ocf_tester_passes(ioc):
    resource = ioc(ioc_command="")
    options = []
    for name, value in resource.params.items():
        options += ["-o", f"{name}={value}"]
    done = subprocess.run(["ocf-tester", "-n", resource.name, *options, f"{AGENT_DIR}/{AGENT}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed all tests" in done.stdout


def test_a_directory_at_the_heartbeat_path_does_not_fail_stop(ioc):
    """Review fix: stop read <pidfile>.heartbeat and crashed on a directory (EISDIR), a failed
    stop on a stopped resource. The directory is not ours: left alone, and stop succeeds."""
    resource = ioc()
    heartbeat = pathlib.Path(resource.params["pidfile"] + ".heartbeat")
    heartbeat.mkdir()
    (heartbeat / "keep").write_text("x")
    outcome = resource.run("stop")
    assert outcome.rc == 0 and "Traceback" not in outcome.stderr, outcome
    assert (heartbeat / "keep").read_text() == "x"
