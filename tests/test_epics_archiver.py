"""ocf:ocfpy:archiver against a STAND-IN for the Archiver Appliance (tests/peers/archiver_standin.py).

The real appliance is not installable here (its releases need Tomcat 11; Debian 12 has 10), so
the agent launches the stand-in in place of catalina.sh: a real HTTP server answering the
appliance's management BPL (ping, startupState walking to STARTUP_COMPLETE, getApplianceInfo)
that reads the same ARCHAPPL_* settings. Faults are real too: HTTP 500, a request that hangs, a
stopped process, a start-up that never completes, storage that has gone.

Ports: 17100-17899 on 127.0.0.1 only (the IOC tests use 17001-17099).
"""

import itertools
import os
import signal
import subprocess
import time

import pytest
from ocfrun import AGENT_DIR, PYTHON, run_agent

from ocfpy import pidfile
from ocfpy.reasons import fit  # agents emit reasons through it (128 characters)

STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "archiver_standin.py")
AGENT = "archiver"
WEBAPPS = ("mgmt", "engine", "etl", "retrieval")
_SLOTS = itertools.count((os.getpid() % 40) * 4)

APPLIANCE = """  <appliance>
    <identity>{identity}</identity>
    <cluster_inetport>127.0.0.1:{cluster}</cluster_inetport>
    <mgmt_url>http://127.0.0.1:{mgmt}/mgmt/bpl</mgmt_url>
    <engine_url>http://127.0.0.1:{engine}/engine/bpl</engine_url>
    <etl_url>http://127.0.0.1:{etl}/etl/bpl</etl_url>
    <retrieval_url>http://127.0.0.1:{retrieval}/retrieval/bpl</retrieval_url>
    <data_retrieval_url>http://127.0.0.1:{retrieval}/retrieval</data_retrieval_url>
  </appliance>
"""


class Appliance:
    """One archiver resource with its own ports, base directory and appliances.xml entry."""

    def __init__(self, tmp_path, layout="combined", **overrides):
        slot = next(_SLOTS)
        self.identity = f"appliance{slot}"
        self.instance = f"arch{os.getpid()}x{slot}"
        first = 17100 + 4 * (slot % 200)
        own = dict(zip(WEBAPPS, range(first, first + 4)))
        # Where each webapp answers: its own Tomcat's port, or all on mgmt's in one Tomcat.
        self.ports = own if layout == "separate" else dict.fromkeys(WEBAPPS, first)
        self.base = tmp_path / self.instance
        self.base.mkdir()
        for directory in ("tomcat",) + tuple(f"tomcat-{app}" for app in WEBAPPS):
            (self.base / directory).mkdir()
        self.xml = tmp_path / f"{self.instance}-appliances.xml"
        self.xml.write_text("<appliances>\n" + APPLIANCE.format(
            identity=self.identity, cluster=17090, **self.ports) + "</appliances>\n")
        self.fault = self.base / "fault"
        self.params = {
            "identity": self.identity,
            "appliances": str(self.xml),
            "layout": layout,
            "base_dir": str(self.base),
            "command": f"{PYTHON} {STANDIN}",
            "logfile": str(self.base / "tomcat.log"),
            "http_timeout": "1000",
            "environment": f"ARCHAPPL_STANDIN_FAULT_FILE={self.fault} ARCHAPPL_STANDIN_STEP=0.3",
        }
        self.params.update({f"{app}_port": str(port) for app, port in own.items()})
        self.params.update({k: str(v) for k, v in overrides.items()})

    def run(self, action, level=0, recurring=True, **kwargs):
        interval = 10000 if recurring and action == "monitor" else 0
        return run_agent(AGENT, action, instance=self.instance, params=self.params,
                         interval_ms=interval, extra={"OCF_CHECK_LEVEL": str(level)}, **kwargs)

    def pidfiles(self):
        if self.params["layout"] == "combined":
            return {"mgmt": f"/run/ocfpy/archiver/{self.instance}.pid"}
        return {app: f"/run/ocfpy/archiver/{self.instance}@{app}.pid" for app in WEBAPPS}

    def jvms(self):
        found = {}
        for app, path in self.pidfiles().items():
            identity = pidfile.read(path)
            if identity is not None:
                found[app] = identity
        return found


@pytest.fixture
def appliance(tmp_path):
    made = []

    def make(**kwargs):
        resource = Appliance(tmp_path, **kwargs)
        made.append(resource)
        return resource

    yield make
    for resource in made:
        jvms = resource.jvms()
        for identity in jvms.values():
            if identity.alive():
                os.kill(identity.pid, signal.SIGCONT)
        resource.run("stop", timeout_ms=15000)
        for identity in jvms.values():
            if identity.alive():
                os.kill(identity.pid, signal.SIGKILL)
                pytest.fail(f"pid {identity.pid} survived the agent's stop")


def started(resource):
    outcome = resource.run("start")
    log = resource.params["logfile"]
    assert outcome.rc == 0, (outcome, open(log).read()[-2000:] if os.path.exists(log) else "")


def test_start_waits_for_startup_complete_then_monitors_and_stops(appliance):
    resource = appliance()
    assert resource.run("monitor", recurring=False).rc == 7
    began = time.monotonic()
    outcome = resource.run("start")
    assert outcome.rc == 0, outcome
    assert time.monotonic() - began >= 0.9          # three start-up states of 0.3 s each
    log = open(resource.params["logfile"]).read()
    assert '"GET /mgmt/bpl/startupState HTTP/1.1" 200' in log
    assert '"GET /mgmt/bpl/getApplianceInfo?id=' + resource.identity in log
    for app in ("sts", "mts", "lts"):               # per-instance storage, created by start
        assert (resource.base / app).is_dir()
    for level in (0, 10, 20):
        assert resource.run("monitor", level).rc == 0, level
    jvm = resource.jvms()["mgmt"]
    assert resource.run("start").rc == 0            # idempotent
    assert resource.jvms()["mgmt"] == jvm
    assert resource.run("stop").rc == 0
    assert not jvm.alive()
    assert resource.jvms() == {}
    assert resource.run("stop").rc == 0
    assert resource.run("monitor").rc == 7


@pytest.mark.parametrize("fault, reason", [
    ("500", "mgmt webapp at 127.0.0.1:{port} answered startupState with HTTP 500"),
    ("hang", "mgmt webapp at 127.0.0.1:{port} did not answer within 1.0s"),
    ("stuck", "mgmt of appliance {identity} has not completed start-up (startupState "
              "POST_STARTUP_RUNNING)"),
])
def test_a_running_jvm_whose_webapp_does_not_answer_is_a_failure(appliance, fault, reason):
    resource = appliance()
    started(resource)
    resource.fault.write_text(fault)
    began = time.monotonic()
    outcome = resource.run("monitor")
    assert time.monotonic() - began < 5             # bounded by http_timeout
    assert outcome.rc == 1, outcome
    assert outcome.reason == reason.format(port=resource.ports["mgmt"], identity=resource.identity)
    resource.fault.unlink()
    assert resource.run("monitor").rc == 0


def test_stopped_jvm_is_a_failure_and_stop_still_cleans_up(appliance):
    resource = appliance()
    started(resource)
    jvm = resource.jvms()["mgmt"]
    os.kill(jvm.pid, signal.SIGSTOP)                # the kernel still accepts the connection
    outcome = resource.run("monitor")
    assert outcome.rc == 1 and "did not answer within 1.0s" in outcome.reason
    assert resource.run("stop", timeout_ms=6000).rc == 0   # SIGTERM ignored: SIGKILL follows
    assert not jvm.alive()


def test_start_that_never_completes_times_out_with_the_reason(appliance):
    resource = appliance()
    resource.fault.write_text("stuck")
    outcome = resource.run("start", timeout_ms=5000)
    assert outcome.rc == 1
    assert outcome.reason.startswith("start timed out: mgmt of appliance")
    assert "POST_STARTUP_RUNNING" in outcome.reason
    assert resource.run("stop").rc == 0
    assert resource.jvms() == {}


def test_separate_tomcats_and_a_dead_one(appliance):
    resource = appliance(layout="separate")
    started(resource)
    jvms = resource.jvms()
    assert sorted(jvms) == sorted(WEBAPPS)
    assert resource.run("monitor", 10).rc == 0
    for app in WEBAPPS:                             # each Tomcat has its own base and port
        with open(f"/proc/{jvms[app].pid}/environ", "rb") as f:
            env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
        assert env[b"CATALINA_BASE"] == str(resource.base / f"tomcat-{app}").encode()
        assert f"-Darchappl.http.port={resource.ports[app]}".encode() in env[b"CATALINA_OPTS"]
    os.kill(jvms["engine"].pid, signal.SIGKILL)
    time.sleep(0.3)
    outcome = resource.run("monitor")
    assert outcome.rc == 1
    assert outcome.reason == "the Tomcat of engine is not running while mgmt, etl, retrieval is"
    assert resource.run("stop").rc == 0
    assert not any(identity.alive() for identity in jvms.values())


def test_two_appliances_on_one_host_do_not_collide(appliance):
    first, second = appliance(), appliance()
    started(first)
    started(second)
    assert first.run("monitor", 20).rc == 0 and second.run("monitor", 20).rc == 0
    assert first.jvms()["mgmt"] != second.jvms()["mgmt"]
    assert first.run("stop").rc == 0
    assert first.run("monitor").rc == 7
    assert second.run("monitor").rc == 0
    # The second one's mgmt answers for its own identity only.
    second.params["identity"] = first.identity
    outcome = second.run("monitor")
    assert outcome.rc == 1 and "does not know appliance" in outcome.reason


def test_storage_that_went_away_fails_level_20(appliance):
    resource = appliance()
    started(resource)
    (resource.base / "mts").rmdir()
    assert resource.run("monitor", 10).rc == 0      # HTTP looks healthy ...
    outcome = resource.run("monitor", 20)           # ... but nothing can be archived
    assert outcome.rc == 1
    assert outcome.reason == fit(f"storage: {resource.base / 'mts'} cannot be written: "
                                 "No such file or directory")


@pytest.mark.parametrize("change, rc, reason", [
    ({"identity": "nobody"}, 5, "has no appliance with identity 'nobody'"),
    ({"mgmt_port": "17099"}, 5, "not on mgmt_port 17099"),
    ({"layout": "both"}, 6, "parameter 'layout' must be one of combined, separate"),
    ({"command": "/nonexistent/catalina.sh run"}, 5, "'/nonexistent/catalina.sh' is not an executable"),
    ({"appliances": "/nonexistent/appliances.xml"}, 5, "appliances file /nonexistent/appliances.xml "
                                                       "does not exist here"),
    ({"http_timeout": "10"}, 6, "parameter 'http_timeout' must be at least 100"),
])
def test_bad_configuration_is_named(appliance, change, rc, reason):
    resource = appliance(**change)
    for action in ("validate-all", "start"):
        outcome = resource.run(action)
        assert (outcome.rc, reason in outcome.reason) == (rc, True), outcome
        assert "Traceback" not in outcome.stderr
    assert resource.run("monitor", recurring=False).rc == 7
    assert resource.jvms() == {}


def test_ocf_tester_passes(appliance):
    resource = appliance()
    options = []
    for name, value in resource.params.items():
        options += ["-o", f"{name}={value}"]
    done = subprocess.run(["ocf-tester", "-n", resource.instance, *options, f"{AGENT_DIR}/{AGENT}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed all tests" in done.stdout


def test_storage_folder_swapped_for_a_symlink_is_never_chowned(appliance, monkeypatch):
    """Review fix: start made a missing storage folder, then os.chown()ed it to `user` by name.
    Whoever may write in the folder's parent (often that very user) can swap the new directory
    for a symlink in between, and root then hands the link's target (say /etc/shadow) to the
    user. The swap is made deterministic here: start() runs in-process and the folder is
    swapped right after safefile's mkdir made it."""
    from ocfpy import safefile
    from ocfpy.agents.archiver import ArchiverAgent
    from ocfpy.codes import OCFError
    from ocfpy.log import Logger
    from ocfpy.request import Request

    resource = appliance(user="nobody", command="/bin/true")
    precious = resource.base / "precious"
    precious.write_text("root's own\n")
    sts = str(resource.base / "sts")
    real_mkdir = safefile.posix.mkdir  # start makes the folder through ocfpy.safefile
    swapped = []

    def mkdir_then_swap(name, *args, **kwargs):
        real_mkdir(name, *args, **kwargs)
        if name == "sts" and not swapped:
            os.rename(sts, sts + ".moved")
            os.symlink(precious, sts)
            swapped.append(sts)

    monkeypatch.setattr(safefile.posix, "mkdir", mkdir_then_swap)
    environ = {f"OCF_RESKEY_{k}": v for k, v in resource.params.items()}
    environ["OCF_RESOURCE_INSTANCE"] = resource.instance
    agent = ArchiverAgent(Request("start", ArchiverAgent.parameters, environ),
                          Logger(AGENT, resource.instance, environ))
    with pytest.raises(OCFError, match="cannot be created"):
        agent.start()
    assert swapped, "the swap was never made: start no longer creates the folder this way"
    assert os.stat(precious).st_uid == 0 and precious.read_text() == "root's own\n"
