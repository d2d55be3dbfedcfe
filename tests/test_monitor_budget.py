"""Monitors stay within the interpreter budget by construction: what the deep monitors of
ducc-head and the archiver import (epics-ioc's: tests/test_epics_ioc.py), and ducc-head outside
Pacemaker spawning no crm_attribute. (Timings are printed by
benchmarks/monitor_epics.py, acs_ducc_monitor.py and host_load.py, never asserted here.)

Ports: the DUCC web server stand-in on 127.0.0.1:17976.
"""

import os
import subprocess

import pytest
from ocfrun import AGENT_DIR, PYTHON, pacemaker_environment
from test_ducc_agents import TAG, kill_home, log_of, make_home
from test_epics_archiver import AGENT as ARCHIVER
from test_epics_archiver import appliance, started  # noqa: F401 (a fixture)

WS_PORT = 17976
# No monitor depth may load these: http.client/urllib/json (with re and email behind them), a
# second interpreter (subprocess), a CA client library, the generator's libraries.
HEAVY = {"http.client", "urllib.request", "urllib.parse", "json", "re", "email", "subprocess",
         "threading", "caproto", "numpy", "click", "lxml", "jinja2"}

pytestmark = pytest.mark.timeout(120)


def imports(argv, env):
    """(exit code, modules imported) of one agent run, from python3 -X importtime."""
    done = subprocess.run([PYTHON, "-X", "importtime", "-I", "-S", *argv], env=env,
                          capture_output=True, text=True, timeout=60)
    loaded = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
              if line.startswith("import time:") and line.count("|") == 2}
    return done.returncode, loaded - {"imported package"}, done.stderr


@pytest.fixture
def ducc_head(tmp_path):
    home = make_home(tmp_path / "ducc")
    os.makedirs(os.path.join(home, "resources"))
    with open(os.path.join(home, "resources", "site.ducc.properties"), "w") as f:
        f.write(f"ducc.head=192.0.2.1\nducc.head.reliable.list=a b\nducc.ws.port={WS_PORT}\n")
    params = {"ducc_home": home, "logfile": log_of(home), "components": "rm ws",
              "status_url": f"http://127.0.0.1:{WS_PORT}/ducc-servlet/cluster-reliable-status"}
    env = pacemaker_environment(f"{TAG}-budget", params, interval_ms=10000)
    done = subprocess.run([f"{AGENT_DIR}/ducc-head", "start"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    yield env
    subprocess.run([f"{AGENT_DIR}/ducc-head", "stop"], env=env, capture_output=True, timeout=60)
    kill_home(home)


def by_hand(env):
    """The environment without what only Pacemaker passes (no cluster to set a score in)."""
    return {k: v for k, v in env.items() if k != "OCF_RESKEY_crm_feature_set"}


def test_ducc_head_deep_monitor_reads_the_web_status_without_urllib(ducc_head):
    for level in (0, 10, 20):
        code, loaded, stderr = imports([f"{AGENT_DIR}/ducc-head", "monitor"],
                                       dict(by_hand(ducc_head), OCF_CHECK_LEVEL=str(level)))
        assert code == 0, stderr
        assert not loaded & HEAVY, (level, loaded & HEAVY)
        if level == 0:  # local state only: not even os (docs/design.md)
            assert not loaded & {"os", "_collections_abc"}, loaded
    assert "ocfpy.httpget" in loaded                                     # depth 20 asked it


def test_ducc_head_outside_pacemaker_sets_no_promotion_score(ducc_head):
    """Run by Pacemaker (crm_feature_set given) but outside a cluster, crm_attribute is tried
    and fails on every monitor; run by hand (no crm_feature_set) it is not tried at all."""
    for _ in range(2):
        code, loaded, stderr = imports([f"{AGENT_DIR}/ducc-head", "monitor"], ducc_head)
        assert code == 0 and "crm_attribute --promotion -v 100" in stderr, stderr
    code, loaded, stderr = imports([f"{AGENT_DIR}/ducc-head", "monitor"], by_hand(ducc_head))
    assert code == 0 and "crm_attribute" not in stderr, stderr
    assert "subprocess" not in loaded


def test_daemon_monitor_at_depth_0_loads_not_even_os(tmp_path):
    """A process agent's depth-0 monitor reads a pidfile and /proc: importing os (and the
    _collections_abc behind os.environ) would cost it 0.8 ms, an eighth of the interpreter's
    own start (docs/design.md)."""
    env = pacemaker_environment(f"{TAG}-daemon0", {"command": "sleep 600",
                                                   "pidfile": str(tmp_path / "d.pid")},
                                interval_ms=10000)
    daemon = f"{AGENT_DIR}/daemon"
    done = subprocess.run([daemon, "start"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    try:
        code, loaded, stderr = imports([daemon, "monitor"], env)
        assert code == 0, stderr
        assert "ocfpy.pidfile" in loaded and "ocfpy.safefile" in loaded   # it did look
        assert not loaded & (HEAVY | {"os", "_collections_abc"}), loaded
    finally:
        subprocess.run([daemon, "stop"], env=env, capture_output=True, timeout=60)


def test_archiver_monitors_speak_http_without_http_client_or_json(appliance):  # noqa: F811
    resource = appliance()
    started(resource)
    for level in (0, 10, 20):
        env = pacemaker_environment(resource.instance, resource.params, interval_ms=10000,
                                    extra={"OCF_CHECK_LEVEL": str(level)})
        code, loaded, stderr = imports([f"{AGENT_DIR}/{ARCHIVER}", "monitor"], env)
        assert code == 0, stderr
        assert not loaded & HEAVY, (level, loaded & HEAVY)
        assert "ocfpy.httpget" in loaded
