"""The OCF contract in-process: codes, parameter conversion, the request reader, dispatch policy."""

import io
import sys

import pytest

from ocfpy.agent import Agent
from ocfpy.codes import OCF, OCFError, code_name, code_table
from ocfpy.params import Parameter, ParameterError
from ocfpy.request import Request


def test_codes_are_the_ocf_1_1_table():
    assert code_table() == {
        "SUCCESS": 0, "ERR_GENERIC": 1, "ERR_ARGS": 2, "ERR_UNIMPLEMENTED": 3, "ERR_PERM": 4,
        "ERR_INSTALLED": 5, "ERR_CONFIGURED": 6, "NOT_RUNNING": 7, "RUNNING_PROMOTED": 8,
        "FAILED_PROMOTED": 9, "DEGRADED": 190, "DEGRADED_PROMOTED": 191,
    }


def test_the_int_enum_view_is_built_from_the_same_table():
    from enum import IntEnum

    from ocfpy.codes import OCFCode

    assert issubclass(OCFCode, IntEnum)
    assert OCFCode(7).name == "NOT_RUNNING" and OCFCode.DEGRADED_PROMOTED == 191
    assert {m.name: m.value for m in OCFCode} == code_table()


def test_ocf_error_carries_code_and_one_line_reason():
    error = OCFError(OCF.ERR_CONFIGURED, "parameter 'x'\n  is bad")
    assert error.code == 6 and error.reason == "parameter 'x' is bad"
    assert code_name(error.code) == "ERR_CONFIGURED"
    with pytest.raises(ValueError):
        OCFError(42, "not an OCF code")


@pytest.mark.parametrize("raw,value", [
    ("yes", True), ("TRUE", True), ("1", True), ("on", True), ("n", False), ("False", False),
    ("0", False), ("off", False),
])
def test_boolean_spellings(raw, value):
    assert Parameter("flag", "boolean", shortdesc="x").convert(raw) is value


@pytest.mark.parametrize("kind,raw,fragment", [
    ("boolean", "maybe", "is not a boolean"),
    ("integer", "12a", "is not an integer"),
    ("integer", "-3", "must be at least 0"),
    ("integer", "٣", "is not an integer"),
])
def test_bad_values_name_the_parameter(kind, raw, fragment):
    declaration = Parameter("knob", kind, shortdesc="x", minimum=0 if kind == "integer" else None,
                            maximum=100 if kind == "integer" else None)
    with pytest.raises(ParameterError) as caught:
        declaration.convert(raw)
    assert str(caught.value).startswith("parameter 'knob' ") and fragment in str(caught.value)


def test_select_accepts_only_its_choices():
    declaration = Parameter("mode", "select", choices=("a", "b"), shortdesc="x")
    assert declaration.convert("b") == "b"
    with pytest.raises(ParameterError, match="must be one of a, b"):
        declaration.convert("c")


def test_declarations_reject_nonsense():
    with pytest.raises(ValueError):
        Parameter("bad-name", shortdesc="x")
    with pytest.raises(ValueError):
        Parameter("n", "integer", default="ten", shortdesc="x")
    with pytest.raises(ValueError):
        Parameter("n", required=True, default="1", shortdesc="x")


PARAMS = (
    Parameter("name", required=True, shortdesc="x"),
    Parameter("count", "integer", default="3", minimum=0, maximum=1000, shortdesc="x"),
    Parameter("verbose", "boolean", default="false", shortdesc="x"),
)


def test_request_reads_the_pacemaker_environment():
    environ = {
        "OCF_RESOURCE_INSTANCE": "ioc1:0", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
        "OCF_RESKEY_name": "x", "OCF_RESKEY_count": "5", "OCF_RESKEY_crm_feature_set": "3.16.2",
        "OCF_RESKEY_CRM_meta_timeout": "90000", "OCF_RESKEY_CRM_meta_interval": "10000",
        "OCF_RESKEY_CRM_meta_clone_max": "2", "OCF_RESKEY_CRM_meta_promotable": "true",
        "OCF_RESKEY_CRM_meta_notify_type": "pre", "OCF_RESKEY_CRM_meta_notify_operation": "promote",
        "OCF_RESKEY_CRM_meta_notify_promote_uname": "node1 node2", "OCF_CHECK_LEVEL": "20",
    }
    request = Request("monitor", PARAMS, environ)
    assert request.errors == []
    assert request.params.as_dict() == {"name": "x", "count": 5, "verbose": False}
    assert request.instance == "ioc1:0" and request.speaks_ocf_1_1
    assert (request.timeout_ms, request.interval_ms, request.check_level) == (90000, 10000, 20)
    assert not request.is_probe and request.clone_max == 2 and request.promotable
    notify = request.notify
    assert (notify.type, notify.operation, notify.unames["promote"]) == ("pre", "promote",
                                                                          ["node1", "node2"])


def test_missing_interval_is_a_probe_and_bad_values_are_collected_not_raised():
    request = Request("monitor", PARAMS, {"OCF_RESKEY_count": "many", "OCF_RESKEY_typo": "1"})
    assert request.is_probe and request.timeout_ms == 20000 and not request.speaks_ocf_1_1
    messages = sorted(str(e) for e in request.errors)
    assert messages == [
        "parameter 'count' is not an integer: 'many'",
        "parameter 'name' is required but not set",
    ]
    assert [str(e) for e in request.unknown] == [
        "parameter 'typo' is unknown (known: count, name, verbose)"]


class Toy(Agent):
    """An in-memory agent: enough to watch the base class's policies."""

    name = "toy"
    parameters = PARAMS
    running = False
    calls = []

    def start(self):
        Toy.calls.append("start")
        Toy.running = True

    def stop(self):
        Toy.calls.append("stop")
        Toy.running = False

    def monitor(self):
        return OCF.SUCCESS if Toy.running else OCF.NOT_RUNNING


def run(action, environ, monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    code = Toy.main(["toy", action], environ)
    return code, [line for line in err.getvalue().splitlines() if line.startswith("ocf-exit-")]


@pytest.fixture(autouse=True)
def reset_toy():
    Toy.running, Toy.calls = False, []


def test_invalid_configuration_policy(monkeypatch):
    bad = {"OCF_RESKEY_count": "x", "OCF_RESKEY_name": "n"}
    assert run("start", bad, monkeypatch) == (
        OCF.ERR_CONFIGURED, ["ocf-exit-reason:parameter 'count' is not an integer: 'x'"])
    assert run("validate-all", bad, monkeypatch)[0] == OCF.ERR_CONFIGURED
    assert run("stop", bad, monkeypatch) == (OCF.SUCCESS, [])
    assert run("monitor", bad, monkeypatch) == (OCF.NOT_RUNNING, [])
    recurring = dict(bad, OCF_RESKEY_CRM_meta_interval="10000")
    assert run("monitor", recurring, monkeypatch)[0] == OCF.ERR_CONFIGURED
    assert Toy.calls == []


def test_start_and_stop_are_idempotent(monkeypatch):
    good = {"OCF_RESKEY_name": "n"}
    assert run("start", good, monkeypatch) == (OCF.SUCCESS, [])
    assert run("start", good, monkeypatch) == (OCF.SUCCESS, [])
    assert run("stop", good, monkeypatch) == (OCF.SUCCESS, [])
    assert run("stop", good, monkeypatch) == (OCF.SUCCESS, [])
    assert Toy.calls == ["start", "stop", "stop"]


def test_unknown_and_unimplemented_actions(monkeypatch):
    assert run("promote", {}, monkeypatch)[0] == OCF.ERR_UNIMPLEMENTED
    assert run("frobnicate", {}, monkeypatch)[0] == OCF.ERR_UNIMPLEMENTED
    assert Toy.main(["toy"], {}) == OCF.ERR_ARGS


def test_an_agent_bug_is_a_generic_error_with_one_reason_and_no_traceback(monkeypatch):
    def broken(self):
        raise KeyError("oops")

    monkeypatch.setattr(Toy, "monitor", broken)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    code = Toy.main(["toy", "monitor"], {"OCF_RESKEY_name": "n",
                                         "OCF_RESKEY_CRM_meta_interval": "1000"})
    assert code == OCF.ERR_GENERIC
    assert "Traceback" not in err.getvalue()
    reasons = [line for line in err.getvalue().splitlines() if line.startswith("ocf-exit-reason:")]
    assert reasons == ["ocf-exit-reason:internal error during monitor: KeyError: 'oops'"]


def test_promote_without_demote_is_refused_at_class_definition():
    with pytest.raises(TypeError, match="promote and demote go together"):
        type("Half", (Agent,), {"name": "half", "promote": lambda self: 0})


def test_waits_are_bounded_by_the_action_timeout():
    request = Request("start", PARAMS, {"OCF_RESKEY_name": "n", "OCF_RESKEY_CRM_meta_timeout": "1000"})
    agent = Toy(request, log=None)
    with pytest.raises(OCFError) as caught:
        agent.wait_for(lambda: False, "the moon")
    assert caught.value.code == OCF.ERR_GENERIC and "waiting for the moon" in caught.value.reason


def test_unknown_parameters_fail_start_but_never_a_running_monitor(monkeypatch):
    good = {"OCF_RESKEY_name": "n"}
    assert run("start", good, monkeypatch) == (OCF.SUCCESS, [])
    typo = dict(good, OCF_RESKEY_nmae="n", OCF_RESKEY_CRM_meta_interval="10000")
    assert run("monitor", typo, monkeypatch) == (OCF.SUCCESS, [])
    assert run("validate-all", typo, monkeypatch) == (
        OCF.ERR_CONFIGURED,
        ["ocf-exit-reason:parameter 'nmae' is unknown (known: count, name, verbose)"])
    traced = dict(good, OCF_RESKEY_trace_ra="1", OCF_RESKEY_trace_file="/tmp/x")
    assert run("validate-all", traced, monkeypatch) == (OCF.SUCCESS, [])
