"""`ocfgen check` accepts exactly the parameter sets the agents accept.

For each agent a table of parameter sets, valid and invalid (the invalid ones break a
parameter's own range or syntax, or a rule across parameters), runs through the agent's
validate-all (this checkout's agent, every path a scratch file, with what validate-all needs
on this node made for it) and through `ocfgen check` on a one-resource description. They
must agree: ocfgen exits 2 naming the parameter exactly when the agent answers ERR_CONFIGURED
(6). Node-local problems (ERR_INSTALLED, 5) are no configuration error and pass ocfgen.
Then Hypothesis varies the parameter sets (the agent in this process against the description
reader `ocfgen check` runs) and requires the same agreement.
"""

import json
import os
import socket
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocfrun import OCFGEN, REPO, run_agent

from ocfpy import catalogue

ACS_STANDIN = os.path.join(REPO, "tests", "acs_standin")
DUCC_STANDIN = os.path.join(REPO, "tests", "ducc_standin", "admin", "ducc.py")
BIG = "9" * 400


def executable(path, text="#!/bin/sh\nexit 0\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def daemon_base(tmp):
    return {"command": "/bin/sleep 60", "pidfile": str(tmp / "d.pid")}


def epics_base(tmp):
    boot = tmp / "iocBoot"
    executable(boot / "st.cmd", "#!/bin/sh\nexec sleep 60\n")
    return {"ioc_name": "agree", "boot_dir": str(boot), "pidfile": str(tmp / "ioc.pid"),
            "console": "17999"}


def archiver_base(tmp):
    base = tmp / "appliance"
    for name in ("tomcat", "tomcat-mgmt", "tomcat-engine", "tomcat-etl", "tomcat-retrieval"):
        (base / name).mkdir(parents=True)
    home = tmp / "tomcat-home"
    executable(home / "bin" / "catalina.sh")
    appliances = tmp / "appliances.xml"
    appliances.write_text("<appliances><appliance><identity>a1</identity>"
                          "<mgmt_url>http://127.0.0.1:17665/mgmt/bpl</mgmt_url>"
                          "</appliance></appliances>")
    return {"identity": "a1", "appliances": str(appliances), "base_dir": str(base),
            "catalina_home": str(home)}


def acs_base(tmp):
    (tmp / "acstmp").mkdir(exist_ok=True)
    return {"acsroot": ACS_STANDIN, "acs_tmp": str(tmp / "acstmp"), "instance": "7"}


def container_base(tmp):
    return dict(acs_base(tmp), container="CONTROL/agree", pidfile=str(tmp / "c.pid"))


def ducc_base(tmp):
    home = tmp / "ducc"
    (home / "admin").mkdir(parents=True)
    os.symlink(DUCC_STANDIN, home / "admin" / "ducc.py")
    return {"ducc_home": str(home), "logfile": str(tmp / "ducc.log")}


def acsdata(tmp):
    (tmp / "acsdata" / "tmp" / socket.gethostname().split(".")[0]).mkdir(parents=True)
    return str(tmp / "acsdata")


# agent: (base parameters, [(changes, expected validate-all code)]); a change to None removes
# the parameter; a callable value is called with the scratch directory.
TABLES = {
    "daemon": (daemon_base, [
        ({}, 0), ({"kill_after": "2147483", "start_settle": "2147483647"}, 0),
        ({"environment": "A=1 'B=two words'"}, 0), ({"kill_after": "", "stop_signal": ""}, 0),
        ({"command": ""}, 6),
        ({"command": None}, 6), ({"kill_after": BIG}, 6), ({"kill_after": "-1"}, 6),
        ({"kill_after": "2147484"}, 6), ({"start_settle": "2147483648"}, 6),
        ({"start_settle": "²"}, 6), ({"umask": "999"}, 6), ({"command": "'unclosed"}, 6),
        ({"stop_signal": "KILL"}, 6), ({"cwd": "relative"}, 6), ({"environment": "1X=2"}, 6),
        ({"cwd": "/nonexistent-agree"}, 5),
    ]),
    "epics-ioc": (epics_base, [
        ({}, 0), ({"ca_timeout": "2147483647", "boot_timeout": "100"}, 0),
        ({"console": "unix:/run/agree.sock"}, 0), ({"shutdown_timeout": "0"}, 0),
        ({"boot_timeout": BIG}, 6), ({"ca_timeout": "99"}, 6), ({"console": "70000"}, 6),
        ({"console": "localhost:7001"}, 6), ({"heartbeat_pv": "a b"}, 6),
        ({"ioc_name": None}, 6), ({"heartbeat_stall": "-5"}, 6),
    ]),
    "archiver": (archiver_base, [
        ({}, 0), ({"layout": "separate"}, 0), ({"engine_port": "17665"}, 0),
        ({"layout": "separate", "catalina_base": lambda t: f"{t}/appliance/tomcat-{{webapp}}"},
         0),
        ({"http_timeout": "2147483647"}, 0),
        ({"layout": "separate", "catalina_base": lambda t: f"{t}/appliance/tomcat"}, 6),
        ({"layout": "separate", "engine_port": "17665"}, 6),
        ({"layout": "separate", "retrieval_port": "17667"}, 6),
        ({"http_timeout": BIG}, 6), ({"http_host": "localhost"}, 6), ({"mgmt_port": "0"}, 6),
        ({"layout": "both"}, 6), ({"identity": "a b"}, 6),
        ({"short_term_folder": lambda t: executable(t / "a-regular-file")}, 5),
    ]),
    "acs-services": (acs_base, [
        ({}, 0), ({"acs_tmp": None, "acsdata": acsdata}, 0), ({"host": "localhost"}, 0),
        ({"host": "::1"}, 0),
        ({"acs_tmp": None}, 6), ({"instance": "100"}, 6), ({"instance": "-1"}, 6),
        ({"check_timeout": BIG}, 6), ({"host": "no such host"}, 6), ({"host": "a..b"}, 6),
        ({"acsroot": None}, 6),
        ({"host": "nonexistent.invalid"}, 5),
    ]),
    "acs-container": (container_base, [
        ({}, 0), ({"language": "py", "start_settle": "600000"}, 0),
        ({"container": "/bad"}, 6), ({"language": "go"}, 6), ({"start_settle": "600001"}, 6),
        ({"acs_tmp": None}, 6), ({"container": None}, 6), ({"start_options": "'x"}, 6),
    ]),
    "ducc-head": (ducc_base, [
        ({}, 0), ({"vip": "192.0.2.5", "vip_interface": "eth0"}, 0),
        ({"vip": "2001:db8::5", "vip_prefix": "64"}, 0), ({"components": "db broker"}, 0),
        ({"vip_interface": "eth0"}, 6), ({"vip": "192.0.2.5", "vip_prefix": "33"}, 6),
        ({"vip_prefix": "129"}, 6), ({"components": "broker,or"}, 6), ({"components": "z"}, 6),
        ({"components": " "}, 6), ({"components": "rm rm"}, 6), ({"status_timeout": BIG}, 6),
        ({"status_url": "ftp://x"}, 6), ({"vip": "999.1.1.1"}, 6),
    ]),
    "ducc-agent": (ducc_base, [
        ({}, 0), ({"environment": "JAVA_HOME=/usr/lib/jvm"}, 0),
        ({"ducc_home": "relative"}, 6), ({"environment": "NOT VALID"}, 6),
        ({"ducc_home": None}, 6), ({"logfile": "x.log"}, 6),
    ]),
}


def test_every_agent_has_a_table():
    assert sorted(TABLES) == sorted(catalogue.names())


def cases():
    for agent, (_, rows) in TABLES.items():
        for index, (changes, code) in enumerate(rows):
            label = ",".join(f"{k}={'BIG' if v == BIG else v}" for k, v in changes.items()
                             if not callable(v)) or "base"
            yield pytest.param(agent, changes, code, id=f"{agent}-{index}-{label}"[:80])


def toml_text(value):
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def ocfgen_check(tmp, agent, params):
    # The node has no ring address: these tests compare what a parameter value may be, and
    # without host addresses ocfgen checks no subnets (network_checks), so an IPv6 VIP on
    # an IPv4 ring is a network question these descriptions do not ask.
    lines = ['[cluster]', 'name = "agree"', '[properties]', 'stonith-enabled = false',
             '[nodes.n1]', 'id = 1', '[resources.r]',
             f'agent = "ocf:ocfpy:{agent}"', '[resources.r.params]']
    lines += [f"{name} = {toml_text(value)}" for name, value in params.items()]
    path = tmp / "agree.toml"
    path.write_text("\n".join(lines) + "\n")
    return subprocess.run([*OCFGEN, "check", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=tmp)


@pytest.mark.parametrize("agent, changes, expected", list(cases()))
def test_agent_and_ocfgen_agree(tmp_path, agent, changes, expected):
    params = TABLES[agent][0](tmp_path)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value(tmp_path) if callable(value) else value
    done = run_agent(agent, "validate-all", f"agree-{os.getpid()}", params)
    assert done.rc == expected, done
    assert "Traceback" not in done.stderr
    checked = ocfgen_check(tmp_path, agent, params)
    assert "Traceback" not in checked.stderr
    if expected == 6:
        assert checked.returncode == 2, (done.reason, checked)
        # Both name the same parameter.
        named = done.reason.split("'")[1]
        assert f"parameter '{named}'" in checked.stderr, (done.reason, checked.stderr)
    else:
        assert checked.returncode == 0, (done.reason, checked.stderr)


@pytest.mark.parametrize("value, declared", [("true", "string"), ("false", "string"),
                                             ("1.5", "integer")])
def test_description_values_are_type_checked_and_located(tmp_path, value, declared):
    base = daemon_base(tmp_path)
    key = "user" if declared == "string" else "kill_after"
    lines = ['[cluster]', 'name = "types"', '[properties]', 'stonith-enabled = false',
             '[nodes.n1]', 'id = 1', '[resources.r]',
             'agent = "ocf:ocfpy:daemon"', '[resources.r.params]',
             f'command = {toml_text(base["command"])}', f"{key} = {value}"]
    path = tmp_path / "types.toml"
    path.write_text("\n".join(lines) + "\n")
    done = subprocess.run([*OCFGEN, "check", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{path}:11:1: resources.r.params.{key}: parameter '{key}' is "
                                  f"declared {declared}"), done.stderr


# The same agreement over generated parameter sets: the agent (in this process) against the
# description reader `ocfgen check` runs (ocfpy.generators.load.description.loads).
CIB_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@pytest.mark.parametrize("agent", catalogue.names())
def test_agent_and_ocfgen_agree_on_generated_sets(agent, tmp_path):
    import test_agents_param_fuzz as fuzz

    from ocfpy.generators.load.description import DescriptionError, loads

    cls = catalogue.load(agent)
    scratch = fuzz.Scratch()
    base = TABLES[agent][0](tmp_path)
    # The values of the table's accepted rows, so that rules across parameters come into play
    # (a random text seldom passes a parameter's own check).
    known = {}
    for changes, code in TABLES[agent][1]:
        for name, value in changes.items():
            if code == 0 and value is not None:
                known.setdefault(name, set()).add(value(tmp_path) if callable(value) else value)
    entries = {}
    for p in cls.parameters:
        values = fuzz.accepted_value_strategy(p, scratch) if p.kind != "string" else CIB_TEXT
        if p.check is fuzz.absolute_path:
            values = scratch.paths()
        if p.name in known:
            values = st.one_of(st.sampled_from(sorted(known[p.name])), values)
        # Most parameters keep their base value, so that one bad value is not hidden by another.
        entries[p.name] = st.one_of(st.none(), st.none(), st.none(), values)

    @given(st.fixed_dictionaries(entries))
    @settings(max_examples=200, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    def check(generated):
        params = dict(base)
        params.update({k: v for k, v in generated.items() if v is not None})
        code, reason, _, _ = fuzz.run(cls, "validate-all", fuzz.environment("agree", params))
        lines = ['[cluster]', 'name = "agree"', '[properties]', 'stonith-enabled = false',
                 '[nodes.n1]', 'id = 1', '[resources.r]',
                 f'agent = "ocf:ocfpy:{agent}"', '[resources.r.params]']
        lines += [f"{name} = {toml_text(value)}" for name, value in params.items()]
        try:
            loads("\n".join(lines) + "\n")
            refused = ""
        except DescriptionError as exc:
            refused = str(exc)
        assert (code == 6) == bool(refused), (params, reason, refused)

    try:
        check()
    finally:
        scratch.remove()
