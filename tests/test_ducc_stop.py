"""DUCC's agents stop DUCC the way DUCC does before any signal: the node agent is quiesced
(stop_ducc -q -c agent@HOST) and every daemon gets SIGINT, DUCC's orderly shutdown (what
stop_ducc -c COMPONENT@HOST sends); only what outlives that gets SIGTERM/SIGKILL. Against the
STAND-IN DUCC installation (tests/ducc_standin: real daemon processes with DUCC's marks, and a
stand-in admin/stop_ducc)."""

import os
import signal
import time

import pytest
from ocfrun import run_agent

from ocfpy.agents import ducc_env, procscan

ADMIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ducc_standin", "admin")
TAG = f"duccstop{os.getpid()}"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "ducc"
    (path / "admin").mkdir(parents=True)
    for script in ("ducc.py", "stop_ducc"):
        os.symlink(os.path.join(ADMIN, script), path / "admin" / script)
    yield str(path)
    for identity, _ in procscan.with_arguments(lambda argv: f"-DDUCC_HOME={path}" in argv):
        try:
            os.kill(identity.pid, signal.SIGCONT)
            os.kill(identity.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def params(home):
    return {"ducc_home": home, "logfile": os.path.join(os.path.dirname(home), "agent.log")}


def daemon_log(home, component):
    with open(os.path.join(home, "logs", f"{component}.log")) as f:
        return f.read()


def test_node_agent_is_quiesced_then_shut_down_by_ducc_itself(home, record_property):
    assert run_agent("ducc-agent", "start", f"{TAG}-ag", params(home)).rc == 0
    began = time.monotonic()
    stopped = run_agent("ducc-agent", "stop", f"{TAG}-ag", params(home), timeout_ms=60000)
    record_property("stop_s", round(time.monotonic() - began, 2))
    assert stopped.rc == 0, stopped
    log = daemon_log(home, "ag")
    quiesced = log.index("quiesced, taking no new work")
    assert log.index("SIGINT, orderly shutdown") > quiesced
    assert "quiesced the DUCC agent" in stopped.stderr
    assert "SIGKILL" not in stopped.stderr
    assert not ducc_env.running(home, ("ag",))["ag"]


def test_head_daemons_get_ducc_orderly_shutdown(home):
    head = dict(params(home), components="broker or rm pm sm ws")
    assert run_agent("ducc-head", "start", f"{TAG}-head", head).rc == 0
    stopped = run_agent("ducc-head", "stop", f"{TAG}-head", head, timeout_ms=60000)
    assert stopped.rc == 0, stopped
    for component in ("broker", "or", "rm", "pm", "sm", "ws"):
        assert "SIGINT, orderly shutdown" in daemon_log(home, component), component
    assert "outlived" not in stopped.stderr


def test_a_stopped_daemon_goes_straight_to_signals(home, record_property):
    head = dict(params(home), components="rm pm")
    assert run_agent("ducc-head", "start", f"{TAG}-hung", head).rc == 0
    rm = ducc_env.running(home, ("rm",))["rm"][0]
    os.kill(rm.pid, signal.SIGSTOP)
    began = time.monotonic()
    stopped = run_agent("ducc-head", "stop", f"{TAG}-hung", head, timeout_ms=60000)
    record_property("stop_s", round(time.monotonic() - began, 2))
    assert stopped.rc == 0, stopped
    assert not rm.alive()
    # pm shut down in DUCC's way; the stopped rm was not asked (it could not act on it) and
    # was ended by SIGTERM with SIGCONT, without waiting out the SIGINT grace.
    assert "SIGINT, orderly shutdown" in daemon_log(home, "pm")
    assert "SIGINT" not in daemon_log(home, "rm")
    assert "outlived" not in stopped.stderr
