"""Unknown OCF_RESKEY_* parameters: validate-all names them (exit 6); every other action warns
and goes on, so that a parameter added for a newer agent during a rolling upgrade stops nothing.

The last test does it on a live cluster: a running resource gains a parameter its agent does
not know, Pacemaker reloads or restarts it with that parameter, and it keeps running.
"""

import io
import sys
import uuid

import pytest
from ocfrun import run_agent

from ocfpy.agent import Agent
from ocfpy.codes import OCF
from ocfpy.params import Parameter

SLEEP = "/bin/sleep 100000"


class Promotable(Agent):
    """An in-process agent with promote, to see what promote does with unknown parameters."""

    name = "promotable-toy"
    parameters = (Parameter("name", default="x", shortdesc="a name"),)
    calls = []

    def start(self):
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")

    def monitor(self):
        return OCF.SUCCESS if self.calls else OCF.NOT_RUNNING

    def promote(self):
        self.calls.append("promote")
        return OCF.SUCCESS

    def demote(self):
        return OCF.SUCCESS


def run_in_process(action, environ, monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    code = Promotable.main(["promotable-toy", action], environ)
    return code, err.getvalue()


def test_validate_all_names_every_unknown_parameter(tmp_path):
    params = {"command": SLEEP, "pidfile": str(tmp_path / "p.pid"), "colour": "blue",
              "future_knob": "1"}
    outcome = run_agent("daemon", "validate-all", params=params)
    assert outcome.rc == OCF.ERR_CONFIGURED, outcome
    assert "parameter 'colour' is unknown" in outcome.reason


def test_start_and_monitor_warn_and_go_on(tmp_path):
    params = {"command": SLEEP, "pidfile": str(tmp_path / "p.pid"),
              "logfile": str(tmp_path / "p.log"), "future_knob": "1"}
    try:
        started = run_agent("daemon", "start", params=params)
        assert started.rc == OCF.SUCCESS, started
        assert "parameter 'future_knob' is unknown" in started.stderr and "ignored" in started.stderr
        monitored = run_agent("daemon", "monitor", params=params, interval_ms=10000)
        assert monitored.rc == OCF.SUCCESS and "future_knob" in monitored.stderr
        probe = run_agent("daemon", "monitor", params=params)
        assert probe.rc == OCF.SUCCESS
    finally:
        assert run_agent("daemon", "stop", params=params).rc == OCF.SUCCESS
    assert run_agent("daemon", "monitor", params=params).rc == OCF.NOT_RUNNING


def test_promote_warns_and_goes_on(monkeypatch):
    Promotable.calls = ["start"]
    environ = {"OCF_RESKEY_name": "n", "OCF_RESKEY_future_knob": "1",
               "OCF_RESOURCE_INSTANCE": "t"}
    code, err = run_in_process("promote", environ, monkeypatch)
    assert code == OCF.SUCCESS and Promotable.calls == ["start", "promote"]
    assert "promote: parameter 'future_knob' is unknown" in err
    code, err = run_in_process("validate-all", environ, monkeypatch)
    assert code == OCF.ERR_CONFIGURED and "ocf-exit-reason:parameter 'future_knob'" in err


@pytest.mark.cluster
def test_a_new_parameter_on_a_running_resource_does_not_stop_it(cluster1):
    rid = f"t-unknown-{uuid.uuid4().hex[:6]}"
    pidfile = f"/run/ocfpy/daemon/{rid}.pid"
    cluster1.create_resource(id=rid, agent="ocf:ocfpy:daemon", params={"command": SLEEP},
                             monitor="2s")
    try:
        assert cluster1.where(rid) == ["node1"]
        # The CIB gains a parameter that only a newer agent would know.
        cluster1.run("node1", ["crm_resource", "--resource", rid, "--set-parameter",
                               "future_knob", "--parameter-value", "1"])
        cluster1.run("node1", ["crm_resource", "--wait", "--timeout", "60s"], timeout=90)
        status = cluster1.status()
        assert [op for op in status.failures if op.resource == rid] == []
        assert cluster1.where(rid) == ["node1"]
        before = cluster1.pidfile_pid("node1", pidfile)
        # And a start with it: a changed command forces Pacemaker to stop and start again.
        cluster1.run("node1", ["crm_resource", "--resource", rid, "--set-parameter", "command",
                               "--parameter-value", SLEEP + "1"])
        cluster1.run("node1", ["crm_resource", "--wait", "--timeout", "60s"], timeout=90)
        status = cluster1.status()
        assert [op for op in status.failures if op.resource == rid] == [], cluster1.crm_mon()
        assert cluster1.where(rid) == ["node1"]
        after = cluster1.pidfile_pid("node1", pidfile)
        assert after != before
        cmdline = cluster1.read_file("node1", f"/proc/{after}/cmdline")
        assert cmdline.split("\0")[:2] == ["/bin/sleep", "1000001"]
    finally:
        cluster1.delete_resource(rid)
