"""ocf:ocfpy:acs-services and ocf:ocfpy:acs-container against a STAND-IN ACS installation
(tests/acs_standin: acsStart & co. starting the real omniNames and a GIOP Manager responder).

ACS instances 20-25 only (ports 5000-5599), this helper's range.
"""

import os
import signal
import socket
import subprocess
import time

import pytest
from ocfrun import run_agent
from tcpstate import wait_for_unread_request

from ocfpy.agents import acs_services, procscan

STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "acs_standin")
TAG = f"acs{os.getpid()}"

pytestmark = pytest.mark.timeout(120)


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def kill_leftovers(resource):
    """Safety net: kill anything a failed test left carrying this resource's marker."""
    for agent in ("acs-services", "acs-container"):
        for identity in procscan.with_environment("OCFPY_RESOURCE", f"{agent}:{resource}"):
            try:
                os.kill(identity.pid, signal.SIGCONT)
                os.kill(identity.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Acs:
    """One ACS instance run through the agents, with its scratch ACS_TMP."""

    def __init__(self, tmp_path, instance, name):
        self.tmp = tmp_path
        self.instance = instance
        self.resource = f"{TAG}-{name}"
        self.acs_tmp = tmp_path / "acstmp"
        self.acs_tmp.mkdir(exist_ok=True)
        self.params = {"acsroot": STANDIN, "acs_tmp": str(self.acs_tmp),
                       "instance": str(instance), "logfile": str(tmp_path / "services.log")}

    @property
    def base(self):
        return 3000 + 100 * self.instance

    @property
    def instance_dir(self):
        return self.acs_tmp / f"ACS_INSTANCE.{self.instance}"

    def run(self, action, interval_ms=0, timeout_ms=20000, **overrides):
        params = dict(self.params, **overrides)
        return run_agent("acs-services", action, self.resource, params, interval_ms=interval_ms,
                         timeout_ms=timeout_ms)

    def pid(self, name):
        return int((self.instance_dir / "pids" / name).read_text().split()[0])

    def cleanup(self):
        self.run("stop")
        kill_leftovers(self.resource)


@pytest.fixture
def acs(tmp_path):
    instance = Acs(tmp_path, 20, "svc")
    yield instance
    instance.cleanup()


def test_port_layout_for_the_generators():
    table = acs_services.ports(20)
    assert table["manager"] == 5000 and table["naming"] == 5001 and table["cdb"] == 5012
    assert acs_services.port_ranges(0) == [(3000, 3007), (3011, 3013), (3050, 3100)]
    assert acs_services.AcsServicesAgent.port_ranges(20, daemons=True) == [
        (2970, 2970), (2980, 2980), (5000, 5007), (5011, 5013), (5050, 5100)]


def test_life_cycle_uses_real_corba_checks(acs):
    from ocfpy import giop

    assert acs.run("monitor").rc == 7
    started = acs.run("start")
    assert started.rc == 0, started
    assert acs.instance_dir.is_dir()  # acsStart's lock directory
    assert acs.run("monitor", interval_ms=10000).rc == 0
    assert giop.locate("127.0.0.1", acs.base + 1, "NameService").alive
    assert giop.locate("127.0.0.1", acs.base, "Manager").alive
    status = subprocess.run([f"{STANDIN}/bin/acsStatus", "-b", "20"], capture_output=True,
                            text=True, env=dict(os.environ, ACS_TMP=str(acs.acs_tmp)))
    assert status.returncode == 0 and "NAMING_SERVICE_PID" in status.stdout
    assert acs.run("start").rc == 0  # already running
    assert acs.run("stop").rc == 0
    assert not acs.instance_dir.exists()
    assert acs.run("monitor", interval_ms=10000).rc == 7
    assert giop.locate("127.0.0.1", acs.base + 1, "NameService").status == giop.REFUSED
    assert acs.run("stop").rc == 0


def test_killed_services_are_failures_then_not_running(acs):
    assert acs.run("start").rc == 0
    os.kill(acs.pid("NAMING_SERVICE_PID"), signal.SIGKILL)
    failed = acs.run("monitor", interval_ms=10000)
    assert failed.rc == 1, failed
    assert "NameService" in failed.reason and "refused" in failed.reason
    os.kill(acs.pid("MANAGER_PID"), signal.SIGKILL)
    time.sleep(0.2)
    # Lock directory left behind, nothing listening: the instance died.
    assert acs.run("monitor", interval_ms=10000).rc == 7
    assert acs.run("stop").rc == 0
    # acsStart clears the dead instance and starts afresh.
    assert acs.run("start").rc == 0
    assert acs.run("monitor", interval_ms=10000).rc == 0


def test_hung_naming_service_is_detected_within_the_check_timeout(acs):
    assert acs.run("start").rc == 0
    naming = acs.pid("NAMING_SERVICE_PID")
    os.kill(naming, signal.SIGSTOP)
    try:
        began = time.monotonic()
        hung = acs.run("monitor", interval_ms=10000, check_timeout="500")
        assert hung.rc == 1, hung
        assert "NameService" in hung.reason and "no GIOP reply" in hung.reason
        assert time.monotonic() - began < 10
        stopped = acs.run("stop")
        assert stopped.rc == 0, stopped
        assert gone(naming)
        # A stopped ORB cannot take part in acsStop: straight to signals.
        assert "not running acsStop" in stopped.stderr and "acsStop -b" not in stopped.stderr
        assert acs.run("monitor", interval_ms=10000).rc == 7
    finally:
        try:
            os.kill(naming, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_stop_kills_what_acsstop_refuses_to_stop(acs):
    assert acs.run("start").rc == 0
    pids = [acs.pid("NAMING_SERVICE_PID"), acs.pid("MANAGER_PID")]
    (acs.instance_dir / ".stoplock").write_text("")  # acsStop now refuses (exit 41)
    stopped = acs.run("stop")
    assert stopped.rc == 0, stopped
    assert "acsStop -b 20 exited 41" in stopped.stderr
    assert all(gone(pid) for pid in pids)
    assert acs.run("monitor", interval_ms=10000).rc == 7
    assert acs.run("start").rc == 0  # the dead instance is cleared by acsStart


def test_stop_escalates_when_acsstop_cannot_even_be_run(acs):
    """Review fix: a failure to launch acsStop (here: its log directory is gone) failed the stop
    at once, leaving the services running and the node to be fenced; stop must kill them."""
    import shutil

    logs = acs.tmp / "logs"
    logs.mkdir()
    acs.params["logfile"] = str(logs / "services.log")
    assert acs.run("start").rc == 0
    pids = [acs.pid("NAMING_SERVICE_PID"), acs.pid("MANAGER_PID")]
    shutil.rmtree(logs)
    stopped = acs.run("stop")
    assert stopped.rc == 0, stopped
    assert "cannot open log file" in stopped.stderr
    assert all(gone(pid) for pid in pids)
    assert acs.run("monitor", interval_ms=10000).rc == 7


def test_a_fifo_as_logfile_does_not_hang_start(acs):
    """Review fix: after acsStart the agent read the log's new tail with a blocking read to
    EOF; on a FIFO (a log reader such as a logger process) the services that inherited the
    write end keep it open, so start hung until the executor killed it."""
    fifo = acs.tmp / "services.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    acs.params["logfile"] = str(fifo)
    try:
        started = acs.run("start", timeout_ms=20000)
        assert started.rc == 0, started
        assert acs.run("stop").rc == 0
    finally:
        os.close(reader)


def test_port_conflict_fails_start_naming_the_port(tmp_path):
    acs = Acs(tmp_path, 21, "conflict")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", acs.base + 1))
    squatter.listen(1)
    try:
        assert acs.run("monitor").rc == 7  # probe: not ours, not running
        failed = acs.run("start")
        assert failed.rc == 1, failed
        assert failed.reason.startswith("acsStart: no free port (exit 44"), failed
        assert f"{acs.base + 1} (naming)" in failed.reason
        assert not procscan.with_environment("OCFPY_RESOURCE", f"acs-services:{acs.resource}")
        assert acs.run("monitor", interval_ms=10000).rc == 7
        assert acs.run("stop").rc == 0
    finally:
        squatter.close()
        acs.cleanup()


def test_site_environment_file_is_applied(acs):
    envfile = acs.tmp / "bash_profile.acs"
    envfile.write_text("export SITE_MARK=site-file-was-here\nexport ACS_INSTANCE=7\n")
    assert acs.run("start", environment_file=str(envfile)).rc == 0
    environ = open(f"/proc/{acs.pid('NAMING_SERVICE_PID')}/environ", "rb").read().split(b"\0")
    assert b"SITE_MARK=site-file-was-here" in environ
    assert b"ACS_INSTANCE=20" in environ  # the agent's instance wins over the file's
    assert acs.run("stop", environment_file=str(envfile)).rc == 0


@pytest.mark.parametrize("params, code, words", [
    ({"instance": "abc"}, 6, "'instance'"),
    ({"instance": "100"}, 6, "from 0 to 99"),
    ({"acsroot": ""}, 6, "'acsroot' is required"),
    ({"acsroot": "relative/acs"}, 6, "absolute path"),
    ({"acsroot": "/nonexistent-acs"}, 5, "acsStart not found"),
    ({"environment_file": "/nonexistent/env"}, 5, "environment_file"),
    ({"acs_tmp": "/nonexistent/acstmp"}, 5, "ACS_TMP"),
    ({"acs_tmp": ""}, 6, "acsdata"),
    ({"check_timeout": "0"}, 6, "check_timeout"),
])
def test_bad_configuration_gives_the_right_code(acs, params, code, words):
    checked = acs.run("validate-all", **params)
    assert checked.rc == code, checked
    assert words in checked.reason
    assert "Traceback" not in checked.stderr
    assert acs.run("monitor", **params).rc == 7  # a probe never errors
    assert acs.run("stop", **params).rc == 0


def test_ocf_tester_acs_services(tmp_path):
    acs = Acs(tmp_path, 22, "tester")
    try:
        args = ["ocf-tester", "-n", acs.resource]
        for key, value in acs.params.items():
            args += ["-o", f"{key}={value}"]
        done = subprocess.run(args + ["/usr/lib/ocf/resource.d/ocfpy/acs-services"],
                              capture_output=True, text=True, timeout=100)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "passed all tests" in done.stdout
    finally:
        acs.cleanup()


# Containers.

@pytest.fixture
def services(tmp_path):
    instance = Acs(tmp_path, 23, "svc")
    started = instance.run("start")
    assert started.rc == 0, started
    yield instance
    instance.cleanup()


def container_params(services, name="CONTROL/c1", **extra):
    params = dict(acsroot=STANDIN, acs_tmp=str(services.acs_tmp), instance=str(services.instance),
                  container=name, logfile=str(services.tmp / "container.log"),
                  pidfile=str(services.tmp / "container.pid"))
    params.update(extra)
    return params


def run_container(services, action, resource="cont", interval_ms=0, timeout_ms=20000, **extra):
    return run_agent("acs-container", action, f"{TAG}-{resource}",
                     container_params(services, **extra), interval_ms=interval_ms,
                     timeout_ms=timeout_ms)


def test_container_alive_and_registered(services):
    from ocfpy import giop

    try:
        assert run_container(services, "monitor").rc == 7
        started = run_container(services, "start")
        assert started.rc == 0, started
        assert run_container(services, "monitor", interval_ms=10000).rc == 0
        bound = giop.resolve("127.0.0.1", services.base + 1, "NameService", "CONTROL/c1")
        assert bound.alive
        pid = int((services.tmp / "container.pid").read_text().split("pid=")[1].split()[0])

        # Services down: not a container failure (the services' monitor reports them, and the
        # order constraint restarts the container after them).
        naming = services.pid("NAMING_SERVICE_PID")
        os.kill(naming, signal.SIGSTOP)
        try:
            deaf = run_container(services, "monitor", interval_ms=10000, check_timeout="300")
        finally:
            os.kill(naming, signal.SIGCONT)
        assert deaf.rc == 0 and "NameService is unreachable" in deaf.stderr, deaf

        # Registered no more (the naming service lost it): a failure, though the process lives.
        ref = f"NameService=corbaloc::127.0.0.1:{services.base + 1}/NameService"
        subprocess.run(["nameclt", "-ORBInitRef", ref, "unbind", "CONTROL/c1"], check=True,
                       capture_output=True, timeout=10)
        lost = run_container(services, "monitor", interval_ms=10000)
        assert lost.rc == 1 and "not registered" in lost.reason, lost
        assert run_container(services, "monitor", interval_ms=10000,
                             registration_name="-").rc == 0

        # Killed: not running, although its stale registration stays (ACS#54).
        assert run_container(services, "stop").rc == 0
        assert run_container(services, "start").rc == 0
        pid = int((services.tmp / "container.pid").read_text().split("pid=")[1].split()[0])
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        assert run_container(services, "monitor", interval_ms=10000).rc == 7

        # Hung: alive and registered, but its object does not answer.
        assert run_container(services, "start").rc == 0
        pid = int((services.tmp / "container.pid").read_text().split("pid=")[1].split()[0])
        os.kill(pid, signal.SIGSTOP)
        hung = run_container(services, "monitor", interval_ms=10000, check_timeout="300")
        assert hung.rc == 1 and "does not answer" in hung.reason, hung
        stopped = run_container(services, "stop", timeout_ms=10000)
        assert stopped.rc == 0, stopped
        assert gone(pid)
        assert "is stopped (state T); skipping acsStopContainer" in stopped.stderr, stopped
        assert run_container(services, "monitor", interval_ms=10000).rc == 7
    finally:
        run_container(services, "stop")


def test_naming_service_killed_during_a_container_monitor_is_not_a_container_failure(services):
    """omniNames killed while it holds the monitor's resolve: the connection is reset, not
    refused. Failing the container then would restart it alone against dead services, fail
    that start and ban it from the node (seen on the cluster, fail count INFINITY)."""
    import threading

    try:
        assert run_container(services, "start").rc == 0
        naming = services.pid("NAMING_SERVICE_PID")
        os.kill(naming, signal.SIGSTOP)
        outcome = []
        asking = threading.Thread(target=lambda: outcome.append(run_container(
            services, "monitor", interval_ms=10000, check_timeout="10000")))
        asking.start()
        wait_for_unread_request(services.base + 1)  # its resolve sits in the stopped ORB
        os.kill(naming, signal.SIGKILL)
        asking.join(30)
        monitor, = outcome
        assert monitor.rc == 0, monitor
        assert "NameService is unreachable" in monitor.stderr
        assert "closed the connection" in monitor.stderr, monitor
    finally:
        run_container(services, "stop")


def test_container_without_services_fails_start(tmp_path):
    acs = Acs(tmp_path, 24, "nosvc")
    params = dict(acsroot=STANDIN, acs_tmp=str(acs.acs_tmp), instance="24", container="c1",
                  logfile=str(tmp_path / "container.log"), pidfile=str(tmp_path / "c.pid"))
    try:
        failed = run_agent("acs-container", "start", f"{TAG}-nosvc", params)
        assert failed.rc == 1, failed
        # The cause first: the services, not the container.
        assert failed.reason.startswith("ACS instance 24 services down"), failed
        assert "refused" in failed.reason
        assert run_agent("acs-container", "monitor", f"{TAG}-nosvc", params).rc == 7
    finally:
        run_agent("acs-container", "stop", f"{TAG}-nosvc", params)
        kill_leftovers(f"{TAG}-nosvc")


def test_ocf_tester_acs_container(services):
    args = ["ocf-tester", "-n", f"{TAG}-tester"]
    for key, value in container_params(services, name="testerContainer").items():
        args += ["-o", f"{key}={value}"]
    done = subprocess.run(args + ["/usr/lib/ocf/resource.d/ocfpy/acs-container"],
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed all tests" in done.stdout
