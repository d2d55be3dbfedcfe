"""Hypothesis drives the real daemon agent with arbitrary parameters and actions.

Whatever comes in, the agent exits with an OCF code, prints at most one exit reason, never a
traceback, names the parameter it rejects, and never lets a shell see a value. Every path it is
given lives in a scratch directory, its PATH holds nothing runnable, and whatever it starts is
the toy service, stopped after each example.
"""

import os
import shutil
import subprocess
import tempfile
import uuid

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ocfrun import run_agent

from ocfpy.codes import code_table

TOY = os.path.join(os.path.dirname(__file__), "peers", "toy_service.py")
CODES = set(code_table().values())
ACTIONS = ["start", "stop", "monitor", "validate-all", "meta-data", "usage", "promote", "demote",
           "notify", "reload-agent", "migrate_to", "status", "", "../../bin/sh", "$(id)"]
SHELLY = st.sampled_from(["$(id)", "`id`", "; id", "| id", "&& id", "> x", "${HOME}", "*", "'",
                          '"', "\\", "\n", "#", "~", "$$"])
# The environment carries neither NUL bytes nor lone surrogates, so no parameter value can.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
MIXED = st.lists(st.one_of(TEXT, SHELLY), max_size=4).map("".join)


def not_a_path(text):
    return "/" not in text.split(" ")[0] if text.strip() else True


@st.composite
def parameters(draw, scratch, tag):
    """A parameter set: some values valid and confined to `scratch`, some arbitrary."""
    def path(name):
        return st.one_of(st.just(f"{scratch}/{name}"), MIXED.filter(lambda t: not t.startswith("/")),
                         TEXT.map(lambda t: f"{scratch}/{t.replace('/', '_')}"))

    candidates = {
        "command": st.one_of(
            MIXED.map(lambda args: f"/usr/bin/python3 {TOY} --tag {tag} '{args}'"),
            MIXED.filter(not_a_path)),
        "pidfile": path("svc.pid"),
        "logfile": path("svc.log"),
        "cwd": st.one_of(st.just(str(scratch)), MIXED.filter(lambda t: not t.startswith("/"))),
        "user": st.one_of(st.just(""), st.just("nobody"), MIXED),
        "umask": st.one_of(st.just("022"), MIXED),
        "environment": MIXED.filter(lambda t: "PATH" not in t),
        "stop_signal": st.one_of(st.sampled_from(["TERM", "INT", "HUP"]), MIXED),
        "kill_after": st.one_of(st.integers(-2, 3).map(str), MIXED),
        "start_settle": st.one_of(st.integers(0, 30).map(str), MIXED),
        "monitor_command": MIXED.filter(not_a_path),
        "bogus_parameter": MIXED,
    }
    chosen = draw(st.sets(st.sampled_from(sorted(candidates))))
    chosen.add("pidfile")  # a path parameter left at its default would point outside scratch
    return {name: draw(candidates[name]) for name in sorted(chosen)}


SCRATCH = tempfile.mkdtemp(prefix="ocfpy-fuzz-")
TAG = uuid.uuid4().hex


def teardown_module():
    subprocess.run(["pkill", "-KILL", "-f", TAG])
    shutil.rmtree(SCRATCH, ignore_errors=True)


# OCFPY_FUZZ_EXAMPLES=1500 for a longer hunt than CI's.
EXAMPLES = int(os.environ.get("OCFPY_FUZZ_EXAMPLES", "150"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(action=st.sampled_from(ACTIONS), params=parameters(SCRATCH, TAG),
       depth=st.sampled_from(["", "0", "10", "x"]), interval=st.sampled_from([0, 5000]))
def test_any_input_gives_an_ocf_code_and_one_reason(action, params, depth, interval):
    extra = {"PATH": f"{SCRATCH}/empty-path", "OCF_CHECK_LEVEL": depth}
    outcome = run_agent("daemon", action, params=params, interval_ms=interval, timeout_ms=5000, extra=extra)
    event(f"{action or '(empty)'} -> {outcome.rc}")
    try:
        assert outcome.rc in CODES, outcome
        assert len(outcome.exit_reasons) <= 1, outcome
        assert "Traceback" not in outcome.stderr, outcome
        if outcome.rc == 6:
            assert outcome.reason.startswith("parameter '"), outcome
        for entry in os.listdir(SCRATCH):
            assert not entry.startswith("pwned")
    finally:
        if action == "start":
            stop = run_agent("daemon", "stop", params=params, timeout_ms=5000, extra=extra)
            assert stop.rc == 0, stop


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(lambda n: n != "PATH")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(args=st.lists(MIXED, max_size=4), env=st.dictionaries(NAMES, MIXED, max_size=3))
def test_arguments_and_environment_reach_the_service_verbatim(args, env):
    """Quoted arbitrary words arrive as exactly those words: no shell, no expansion."""
    import json
    import shlex

    record = f"{SCRATCH}/argv.json"
    params = {
        "command": shlex.join(["/usr/bin/python3", TOY, "--tag", TAG, "--record", record, *args]),
        "environment": " ".join(shlex.quote(f"{name}={value}") for name, value in env.items()),
        "pidfile": f"{SCRATCH}/verbatim.pid", "logfile": f"{SCRATCH}/verbatim.log",
        "start_settle": "200",
    }
    started = run_agent("daemon", "start", params=params, timeout_ms=10000)
    try:
        assert started.rc == 0, started
        seen = json.loads(open(record).read())
        assert seen["argv"][5:] == args  # sys.argv: the script, --tag T, --record R, args
        assert {name: seen["env"].get(name) for name in env} == env
    finally:
        assert run_agent("daemon", "stop", params=params, timeout_ms=10000).rc == 0
        os.unlink(record)
