"""Hypothesis over every agent's declared parameters and over the OCF_* environment Pacemaker
sets: whatever the values, an agent answers with a valid OCF code and a reason, never an
internal error or a traceback; stop and a probe keep the common policy; and a configuration
validate-all accepts never makes start, monitor or stop fail for the size or shape of a value.

Agents run in this process (Agent.run, what their entry scripts call), on scratch paths: path
parameters only ever name files under a scratch directory, and nothing a command parameter
names is run except in the daemon start test, where commands come from a fixed list.
"""

import contextlib
import io
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocfrun import PYTHON, REPO

from ocfpy import catalogue
from ocfpy.agents import procscan
from ocfpy.params import absolute_path
from ocfpy.service import PidfileService

pytestmark = pytest.mark.timeout(900)
VALID_CODES = frozenset(range(10)) | {190, 191}
# Text an environment variable can hold: anything but NUL (and lone surrogates).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
               max_size=40)
ODD_NUMBERS = st.sampled_from(["9" * 400, "9" * 23, "-0", "+7", " 7 ", "²", "٣", "1e3", "0x10",
                               "--5", "", " ", "2147483648", "-2147483649"])
DUCC_STANDIN = os.path.join(REPO, "tests", "ducc_standin", "admin", "ducc.py")
ACS_STANDIN = os.path.join(REPO, "tests", "acs_standin")
# No crm_attribute on this PATH: outside a cluster it only costs time (promotion scores).
PATH = "/usr/bin:/bin"


class Scratch:
    """One scratch tree per test with what the agents' paths may point at."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="ocfpy-fuzz-")
        self.dir = os.path.join(self.root, "dir")
        self.file = os.path.join(self.root, "file")
        os.makedirs(os.path.join(self.dir, "admin"))
        with open(self.file, "w") as f:
            f.write("not a directory\n")
        os.symlink(DUCC_STANDIN, os.path.join(self.dir, "admin", "ducc.py"))

    def paths(self):
        """Values of a path parameter: absent, under the scratch tree (existing or not, a
        directory or a file), or not absolute at all."""
        names = st.sampled_from(["x", "sub/y", "dir", "file", "dir/z.pid", "a b", "..", "dir/"])
        return st.one_of(
            st.just(""), st.just(self.dir), st.just(self.file), st.just(ACS_STANDIN),
            names.map(lambda name: os.path.join(self.root, name)),
            st.sampled_from(["relative/x", "x", "./y"]))

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


def value_strategy(parameter, scratch):
    """Generated text for one declared parameter: its declared type and range, the values
    around the range, odd spellings, and any text."""
    if parameter.kind == "integer":
        low, high = parameter.minimum, parameter.maximum
        numbers = st.one_of(st.integers(low, high), st.sampled_from([low, high, low - 1, high + 1]),
                            st.integers(-(10**30), 10**30))
        return st.one_of(numbers.map(str), ODD_NUMBERS)
    if parameter.kind == "boolean":
        return st.one_of(st.sampled_from(["true", "false", "yes", "0", "On", "maybe"]), TEXT)
    if parameter.kind == "select":
        return st.one_of(st.sampled_from(parameter.choices), TEXT)
    if parameter.check is absolute_path:
        return scratch.paths()
    return TEXT


def accepted_value_strategy(parameter, scratch):
    """Like value_strategy, but integers and selects stay inside what the declaration
    accepts (the extremes above all), so that most generated sets pass validate-all."""
    if parameter.kind == "integer":
        low, high = parameter.minimum, parameter.maximum
        return st.one_of(st.sampled_from([low, high]), st.integers(low, high)).map(str)
    if parameter.kind == "select":
        return st.sampled_from(parameter.choices)
    return value_strategy(parameter, scratch)


def parameter_sets(cls, scratch):
    """{name: text or absent} over every declared parameter."""
    entries = {p.name: st.one_of(st.none(), value_strategy(p, scratch)) for p in cls.parameters}
    return st.fixed_dictionaries(entries).map(
        lambda values: {k: v for k, v in values.items() if v is not None})


def environment(instance, params, *, interval_ms=0, timeout_ms=4000, extra=None):
    env = {"PATH": PATH, "OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1",
           "OCF_RA_VERSION_MINOR": "1", "OCF_RESOURCE_INSTANCE": instance,
           "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms), "HA_LOGFACILITY": "none"}
    if interval_ms:
        env["OCF_RESKEY_CRM_meta_interval"] = str(interval_ms)
    env.update({f"OCF_RESKEY_{name}": value for name, value in params.items()})
    env.update(extra or {})
    return env


def run(cls, action, env):
    """(code, reason, stdout, stderr) of one action, as Agent.main would run it."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code, reason = cls.run([cls.name, action], env)
    outcome = (code, reason, out.getvalue(), err.getvalue())
    assert code in VALID_CODES, (action, outcome)
    assert "internal error" not in reason and "Traceback" not in outcome[3], (action, outcome)
    return outcome


@pytest.fixture
def scratch():
    made = Scratch()
    yield made
    for identity, _ in procscan.with_arguments(lambda argv: any(made.root in a for a in argv)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(identity.pid, 9)
    made.remove()


@pytest.mark.parametrize("agent", catalogue.names())
def test_declared_parameters_never_crash_validate_probe_or_stop(agent, scratch):
    """On a node where nothing of the resource runs, whatever the parameters: validate-all
    answers a code with a reason, a probe says not running (7), a stop succeeds (0)."""
    cls = catalogue.load(agent)
    instance = f"fuzz-{agent}-{os.getpid()}"

    @given(parameter_sets(cls, scratch))
    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    def check(params):
        env = environment(instance, params)
        run(cls, "validate-all", env)
        probe = run(cls, "monitor", env)
        assert probe[0] == 7, (params, probe)
        stop = run(cls, "stop", env)
        assert stop[0] == 0, (params, stop)

    check()


SAFE_DAEMON_COMMANDS = ("/bin/sleep 600", "sleep 600", "/bin/sh -c 'exec sleep 600'")


def daemon_run_parameters(scratch):
    """The daemon parameters that stay fixed (the command from a safe list, root, scratch
    paths); every other declared parameter is generated."""
    return {"command": st.sampled_from(SAFE_DAEMON_COMMANDS),
            "cwd": st.sampled_from(["/", scratch.dir]),
            "logfile": st.sampled_from(["/dev/null", os.path.join(scratch.root, "d.log")]),
            "pidfile": st.just(os.path.join(scratch.root, "daemon.pid")), "user": st.none()}


def epics_run_parameters(scratch):
    """An IOC whose startup script sleeps, under procServ on a unix console; no Channel
    Access PVs (there is no CA server), everything else generated."""
    boot = os.path.join(scratch.root, "iocBoot")
    os.makedirs(boot, exist_ok=True)
    with open(os.path.join(boot, "st.cmd"), "w") as f:
        f.write("#!/bin/sh\nexec sleep 600\n")
    os.chmod(os.path.join(boot, "st.cmd"), 0o755)
    return {"ioc_name": st.just("fuzz"), "boot_dir": st.just(boot), "startup": st.none(),
            "ioc_command": st.none(), "procserv": st.none(), "user": st.none(),
            "console": st.just(f"unix:{scratch.root}/console.sock"), "logfile": st.none(),
            "pidfile": st.just(os.path.join(scratch.root, "ioc.pid")),
            "heartbeat_pv": st.none(), "pid_pv": st.none(), "address": st.none()}


def ducc_run_parameters(scratch):
    """The stand-in DUCC (tests/ducc_standin: real daemon processes with DUCC's marks)."""
    return {"ducc_home": st.just(scratch.dir), "user": st.none(), "logfile": st.none(),
            "environment": st.none(), "vip_interface": st.none(), "status_url": st.none(),
            "components": st.sampled_from(["broker or rm pm sm ws", "rm", " ws  sm ", "db"]),
            "vip": st.sampled_from(["", "192.0.2.9", "2001:db8::9"])}


def archiver_run_parameters(scratch):
    """The archiver stand-in (tests/peers/archiver_standin.py, a real HTTP server answering
    the management BPL) on this test's own loopback ports, as tests/test_epics_archiver.py
    runs it; the layout, http_timeout, storage folders and JVM options are generated."""
    import pathlib

    from test_epics_archiver import Appliance

    appliance = Appliance(pathlib.Path(scratch.root))
    fixed = {name: st.just(value) for name, value in appliance.params.items()
             if name not in ("layout", "http_timeout")}
    fixed.update({"user": st.none(), "catalina_home": st.none(), "catalina_base": st.none(),
                  "http_host": st.none(), "policies": st.none(), "properties": st.none()})
    return fixed


def archiver_leftover(params):
    from ocfpy.agents.archiver import WEBAPPS

    found = []
    for suffix in [""] + [f"@{app}" for app in WEBAPPS]:
        leader = PidfileService(f"/run/ocfpy/archiver/{params['_instance']}{suffix}.pid",
                                None).leader()
        found += [] if leader is None else [leader]
    return found


def pidfile_leftover(params):
    leader = PidfileService(params["pidfile"], None).leader()
    return [] if leader is None else [leader]


def ducc_leftover(params):
    from ocfpy.agents import ducc_env

    return [i for found in ducc_env.running(params["ducc_home"], tuple(ducc_env.MARKS)).values()
            for i in found]


# agent: (fixed parameters, what of a started instance lives, examples, operation timeout ms)
RUNNABLE = {"daemon": (daemon_run_parameters, pidfile_leftover, 30, 3000),
            "epics-ioc": (epics_run_parameters, pidfile_leftover, 15, 3000),
            "archiver": (archiver_run_parameters, archiver_leftover, 6, 20000),
            "ducc-agent": (ducc_run_parameters, ducc_leftover, 6, 10000),
            "ducc-head": (ducc_run_parameters, ducc_leftover, 6, 15000)}


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("agent", sorted(RUNNABLE))
def test_a_configuration_validate_all_accepts_starts_monitors_and_stops(agent, scratch):
    """Every declared parameter but the fixed ones (commands from a safe list, root, scratch
    paths): if validate-all accepts the set, start, a recurring monitor and stop succeed and
    nothing is left running, whatever the size of the numbers."""
    cls = catalogue.load(agent)
    instance = f"fuzz-{agent}-run-{os.getpid()}"
    fixed_parameters, leftover, examples, timeout_ms = RUNNABLE[agent]
    fixed = {name: value for name, value in fixed_parameters(scratch).items()
             if name in {p.name for p in cls.parameters}}
    free = {p.name: st.one_of(st.none(), accepted_value_strategy(p, scratch))
            for p in cls.parameters if p.name not in fixed}
    sets = st.fixed_dictionaries(dict(free, **fixed))

    @given(sets)
    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    def check(values):
        params = {k: v for k, v in values.items() if v is not None}
        # A short operation timeout keeps an example short; the values stay as generated.
        env = environment(instance, params, timeout_ms=timeout_ms)
        if run(cls, "validate-all", env)[0] != 0:
            return
        started = run(cls, "start", env)
        running = leftover(dict(params, _instance=instance))
        try:
            assert started[0] == 0, (params, started)
            assert run(cls, "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="10000"))[0] == 0
        finally:
            stopped = run(cls, "stop", env)
        assert stopped[0] == 0, (params, stopped)
        assert not [i for i in running if i.alive()], (params, "the service survived its stop")
        assert not leftover(dict(params, _instance=instance)), (params, "left running")
        assert run(cls, "monitor", env)[0] == 7

    check()


# Every OCF_* variable Pacemaker's executor sets for an operation (docs: OCF notes).
PACEMAKER_VARIABLES = (
    "OCF_ROOT", "OCF_RA_VERSION_MAJOR", "OCF_RA_VERSION_MINOR", "OCF_RESOURCE_INSTANCE",
    "OCF_RESOURCE_TYPE", "OCF_RESOURCE_PROVIDER", "OCF_EXIT_REASON_PREFIX", "OCF_CHECK_LEVEL",
    "OCF_RESKEY_crm_feature_set", "OCF_RESKEY_CRM_meta_timeout", "OCF_RESKEY_CRM_meta_interval",
    "OCF_RESKEY_CRM_meta_on_node", "OCF_RESKEY_CRM_meta_on_node_uuid",
    "OCF_RESKEY_CRM_meta_clone", "OCF_RESKEY_CRM_meta_clone_max",
    "OCF_RESKEY_CRM_meta_clone_node_max", "OCF_RESKEY_CRM_meta_promotable",
    "OCF_RESKEY_CRM_meta_promoted_max", "OCF_RESKEY_CRM_meta_promoted_node_max",
    "OCF_RESKEY_CRM_meta_globally_unique", "OCF_RESKEY_CRM_meta_notify",
    "OCF_RESKEY_CRM_meta_notify_type", "OCF_RESKEY_CRM_meta_notify_operation",
    "OCF_RESKEY_CRM_meta_notify_start_uname", "OCF_RESKEY_CRM_meta_notify_promote_uname",
    "OCF_RESKEY_CRM_meta_notify_start_resource", "OCF_RESKEY_CRM_meta_name",
    "OCF_RESKEY_CRM_meta_record_pending", "OCF_TRACE_RA", "OCF_RESKEY_trace_ra",
)
ENV_VALUES = st.one_of(TEXT, ODD_NUMBERS, st.integers(-(10**6), 10**12).map(str))


def base_parameters(agent, scratch):
    """A configuration each agent accepts the syntax of, on scratch paths."""
    acs = {"acsroot": ACS_STANDIN, "acs_tmp": scratch.dir}
    return {
        "daemon": {"command": "/bin/sleep 600", "pidfile": os.path.join(scratch.root, "e.pid")},
        "epics-ioc": {"ioc_name": "fuzz", "boot_dir": scratch.dir,
                      "pidfile": os.path.join(scratch.root, "ioc.pid")},
        "archiver": {"identity": "a1", "appliances": scratch.file,
                     "base_dir": os.path.join(scratch.root, "arch")},
        "acs-services": acs,
        "acs-container": dict(acs, container="C/x", pidfile=os.path.join(scratch.root, "c.pid")),
        "ducc-head": {"ducc_home": scratch.dir},
        "ducc-agent": {"ducc_home": scratch.dir},
    }[agent]


@pytest.mark.parametrize("agent", catalogue.names())
def test_any_pacemaker_environment_gives_a_valid_code(agent, scratch):
    cls = catalogue.load(agent)
    params = base_parameters(agent, scratch)
    names = st.sampled_from(PACEMAKER_VARIABLES)

    @given(st.dictionaries(names, ENV_VALUES, max_size=6),
           st.sampled_from(["meta-data", "validate-all", "monitor", "stop"]))
    @settings(max_examples=100, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    def check(variables, action):
        env = environment(f"fuzz-env-{agent}-{os.getpid()}", params, timeout_ms=4000)
        env.update(variables)
        code, reason, stdout, _ = run(cls, action, env)
        if action == "meta-data":
            assert code == 0 and stdout.startswith("<?xml")
        elif action == "stop":
            assert code == 0, (variables, reason)
        elif action == "monitor":
            # Nothing runs here: a probe or a recurring monitor says not running.
            assert code == 7, (variables, reason)

    check()


# The reproductions of issue 17, one by one.

@pytest.mark.parametrize("components", ["broker,or", "z", " ", "rm rm"])
def test_invalid_ducc_components_keep_the_policy_while_a_process_names_ducc_home(
        scratch, components):
    """A process that mentions DUCC_HOME made the probe and stop read `components` unchecked
    (KeyError, rc 1), and components=" " made an idle probe say running."""
    import subprocess

    cls = catalogue.load("ducc-head")
    neighbour = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(600)",
                                  f"-DDUCC_HOME={scratch.dir}"])
    try:
        env = environment(f"fuzz-components-{os.getpid()}",
                          {"ducc_home": scratch.dir, "components": components})
        assert run(cls, "monitor", env)[0] == 7
        assert run(cls, "stop", env)[0] == 0
        code, reason, _, _ = run(cls, "validate-all", env)
        assert code == 6 and "parameter 'components'" in reason
        assert neighbour.poll() is None  # nothing that is not ours was touched
    finally:
        neighbour.kill()
        neighbour.wait()


def test_an_archiver_storage_folder_that_is_a_file_fails_validate_all_and_start_cleanly(
        scratch):
    cls = catalogue.load("archiver")
    home = os.path.join(scratch.root, "tomcat-home")
    os.makedirs(os.path.join(home, "bin"))
    catalina = os.path.join(home, "bin", "catalina.sh")
    with open(catalina, "w") as f:
        f.write("#!/bin/sh\nexec sleep 600\n")
    os.chmod(catalina, 0o755)
    appliances = os.path.join(scratch.root, "appliances.xml")
    with open(appliances, "w") as f:
        f.write("<appliances><appliance><identity>a1</identity><mgmt_url>"
                "http://127.0.0.1:17665/mgmt/bpl</mgmt_url></appliance></appliances>")
    base = os.path.join(scratch.root, "arch")
    os.makedirs(os.path.join(base, "tomcat"))
    params = {"identity": "a1", "appliances": appliances, "base_dir": base,
              "catalina_home": home, "medium_term_folder": scratch.file}
    env = environment(f"fuzz-archiver-file-{os.getpid()}", params)
    for action in ("validate-all", "start"):
        code, reason, _, _ = run(cls, action, env)
        assert code == 5 and f"{scratch.file} exists and is not a directory" in reason
    assert run(cls, "monitor", env)[0] == 7


def test_an_unresolvable_acs_host_fails_validate_all_and_start_at_once(scratch):
    for agent in ("acs-services", "acs-container"):
        cls = catalogue.load(agent)
        params = dict(base_parameters(agent, scratch), host="nonexistent.invalid")
        env = environment(f"fuzz-acs-host-{os.getpid()}", params, timeout_ms=20000)
        for action in ("validate-all", "start"):
            code, reason, _, _ = run(cls, action, env)
            assert code == 5 and "'nonexistent.invalid' does not resolve" in reason, reason


@given(TEXT)
@settings(max_examples=1000, deadline=None)
def test_parameters_split_into_words_exactly_as_shlex_does(text):
    """ocfpy.params.split_words skips importing shlex for plain text; the words are the same."""
    import shlex

    from ocfpy.params import split_words

    def words(split):
        try:
            return split(text)
        except ValueError:
            return "refused"
    assert words(split_words) == words(shlex.split)
