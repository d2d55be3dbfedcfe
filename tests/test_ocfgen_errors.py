"""Bad cluster descriptions: exit code 2, one located line on stderr, no traceback, no file.

Each hand-written case names the line and key path the error must point at and a fragment of
the reason. They run the installed `ocfgen` as a sysadmin would. A Hypothesis test then mutates
a valid description at random (any key, any TOML value) and requires that ocfgen either builds
a CIB that passes Pacemaker's RNG schema or refuses with exit 2 and one located line.
"""

import os
import re
import subprocess

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ocfrun import OCFGEN

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib


BASE = """\
[cluster]
name = "bad"

[properties]
stonith-enabled = false

[nodes.n1]
id = 1
addresses = ["192.0.2.1"]
attributes = { ioc-host = true }

[nodes.n2]
id = 2
addresses = ["192.0.2.2"]

[resources.d1]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 100" }

[resources.d2]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 200" }

[resources.vip]
agent = "ocf:heartbeat:IPaddr2"
params = { ip = "192.0.2.100", cidr_netmask = 24 }
"""

# (name, text appended to BASE or a replacement, expected line, key path, reason fragment)
CASES = [
    ("toml-syntax", BASE + "[resources.x\n", 27, None, "invalid TOML"),
    ("unknown-section", BASE + "\n[resource.x]\nagent = 'a'\n", 28, "resource",
     "unknown key 'resource' (did you mean 'resources'?)"),
    ("unknown-param-ocfpy", BASE.replace('command = "/bin/sleep 100"',
                                         'command = "/bin/sleep 100", comand = "x"'),
     18, "resources.d1.params.comand", "unknown parameter 'comand' for ocf:ocfpy:daemon"),
    ("unknown-param-heartbeat", BASE.replace("cidr_netmask = 24", "netmask = 24"), 26,
     "resources.vip.params.netmask", "unknown parameter 'netmask' for ocf:heartbeat:IPaddr2"),
    ("bad-param-value-ocfpy", BASE.replace('command = "/bin/sleep 200"',
                                           'command = "/bin/sleep 200", umask = "999"'),
     22, "resources.d2.params.umask", "octal mode"),
    ("bad-param-type-heartbeat", BASE.replace("cidr_netmask = 24", 'arp_count = "many"'),
     26, "resources.vip.params.arp_count", "is not an integer"),
    ("missing-required", BASE.replace('params = { command = "/bin/sleep 200" }',
                                      'params = { cwd = "/" }'),
     22, "resources.d2.params", "missing required parameter 'command'"),
    ("unknown-ocfpy-agent", BASE.replace('agent = "ocf:ocfpy:daemon"\nparams = { command = '
                                         '"/bin/sleep 200" }', 'agent = "ocf:ocfpy:nosuch"'),
     21, "resources.d2.agent", "no ocfpy agent 'nosuch'"),
    ("bad-agent-spec", BASE.replace('agent = "ocf:heartbeat:IPaddr2"', 'agent = "IPaddr2"'),
     25, "resources.vip.agent", "is not an agent"),
    ("unknown-ref-order", BASE + "\n[[order]]\nfirst = \"d1\"\nthen = \"d3\"\n", 30,
     "order[0].then", "unknown resource 'd3'"),
    ("unknown-ref-group", BASE + "\n[groups.g]\nresources = [\"d1\", \"nope\"]\n", 29,
     "groups.g.resources[1]", "unknown resource 'nope'"),
    ("unknown-node", BASE + "\n[[location]]\nresource = \"d1\"\nprefers = \"n9\"\n", 30,
     "location[0].prefers", "unknown node 'n9'"),
    ("cycle", BASE + "\n[[order]]\nfirst = \"d1\"\nthen = \"d2\"\n\n[[order]]\nfirst = \"d2\"\n"
     "then = \"vip\"\n\n[[order]]\nfirst = \"vip\"\nthen = \"d1\"\n", 36, "order[2]",
     "cycle: d1 -> d2 -> vip -> d1"),
    ("cycle-through-group", BASE + "\n[groups.g]\nresources = [\"d1\", \"d2\"]\n\n[[order]]\n"
     "first = \"d2\"\nthen = \"d1\"\n", 31, "order[0]", "cycle"),
    ("duplicate-id", BASE + "\n[groups.d1]\nresources = [\"d2\"]\n", 28, "groups.d1",
     "duplicate id 'd1'"),
    ("duplicate-constraint-id", BASE + "\n[[order]]\nid = \"o\"\nfirst = \"d1\"\nthen = \"d2\"\n"
     "\n[[colocation]]\nid = \"o\"\nresource = \"d1\"\nwith = \"d2\"\n", 34, "colocation[0].id",
     "duplicate id 'o'"),
    ("duplicate-node-id", BASE.replace("id = 2", "id = 1"), 13, "nodes.n2.id",
     "node id 1 is already used by node n1"),
    ("ring-not-address", BASE.replace('"192.0.2.2"', '"192.0.2.300"'), 14,
     "nodes.n2.addresses[0]", "is not an IP address"),
    ("two-node-three-nodes", BASE + "\n[nodes.n3]\nid = 3\naddresses = [\"192.0.2.3\"]\n"
     "\n[corosync]\ntwo_node = true\n", 33, "corosync.two_node", "not two"),
    ("inline-password", BASE.replace("stonith-enabled = false", "stonith-enabled = true") +
     "\n[[nodes.n1.fencing]]\nagent = \"fence_ipmilan\"\nparams = { ip = \"10.0.0.1\", "
     "password = \"hunter2\" }\n", 30, "nodes.n1.fencing[0].params.password", "inline secret"),
    ("unknown-fence-param", BASE.replace("stonith-enabled = false", "stonith-enabled = true") +
     "\n[[nodes.n1.fencing]]\nagent = \"fence_ipmilan\"\nparams = { ipaddress = \"10.0.0.1\" }\n",
     30, "nodes.n1.fencing[0].params.ipaddress", "unknown parameter 'ipaddress'"),
    ("no-fencing", BASE.replace("stonith-enabled = false\n", ""), 4, "properties",
     "no node has fencing"),
    ("unknown-property", BASE.replace("stonith-enabled = false",
                                      "stonith-enabled = false\nstonith-enable = true"), 6,
     "properties.stonith-enable", "unknown cluster option"),
    ("unknown-meta", BASE + "\n[defaults]\nresource-stickyness = 100\n", 29,
     "defaults.resource-stickyness", "did you mean 'resource-stickiness'"),
    ("old-role-name", BASE + "\n[clones.c]\nresource = \"d1\"\n\n[[colocation]]\nresource = "
     "\"d2\"\nwith = \"c\"\nwith_role = \"Master\"\n", 34, "colocation[0].with_role",
     "use 'Promoted'"),
    ("promotable-not-promotable", BASE + "\n[clones.c]\nresource = \"d1\"\npromotable = true\n",
     30, "clones.c.promotable", "cannot be promotable"),
    ("constraint-on-clone-child", BASE + "\n[clones.c]\nresource = \"d1\"\n\n[[order]]\nfirst ="
     " \"d1\"\nthen = \"d2\"\n", 32, "order[0].first", "inside clone 'c'"),
    ("bad-interval", BASE.replace('params = { command = "/bin/sleep 100" }',
                                  'params = { command = "/bin/sleep 100" }\nops = [{ name = '
                                  '"monitor", interval = "often" }]'), 19,
     "resources.d1.ops[0].interval", "is not a duration"),
    ("duplicate-monitor-interval", BASE.replace(
        'params = { command = "/bin/sleep 100" }',
        'params = { command = "/bin/sleep 100" }\nops = [\n  { name = "monitor", interval = "10s" '
        '},\n  { name = "monitor", interval = "10000ms" },\n]'), 21, "resources.d1.ops[1]",
     "two monitor operations with interval"),
    ("unknown-op", BASE.replace('params = { command = "/bin/sleep 100" }',
                                'params = { command = "/bin/sleep 100" }\nops = [{ name = '
                                '"promote" }]'), 19, "resources.d1.ops[0].name",
     "operation 'promote' is not one the agent has"),
    ("unique-param-repeated", BASE.replace('"/bin/sleep 200" }',
                                           '"/bin/sleep 200", pidfile = "/run/x.pid" }').replace(
        '"/bin/sleep 100" }', '"/bin/sleep 100", pidfile = "/run/x.pid" }'), 22,
     "resources.d2.params.pidfile", "is also used by resource 'd1'"),
    ("bad-rule", BASE + "\n[[location]]\nresource = \"d1\"\nrule = \"ioc-host equals true\"\n",
     30, "location[0].rule", "cannot read 'ioc-host equals true'"),
    ("mixed-rule", BASE + "\n[[location]]\nresource = \"d1\"\nrule = \"a eq 1 and b eq 2 or "
     "c eq 3\"\n", 30, "location[0].rule", "not both"),
    ("clone-max-absurd", BASE + "\n[clones.c]\nresource = \"d1\"\nmeta = { clone-max = 662553 }\n",
     30, "clones.c.meta.clone-max", "more instances than 2 node(s)"),
    ("time-option", BASE.replace("stonith-enabled = false",
                                 'stonith-enabled = false\nstonith-timeout = "soon"'), 6,
     "properties.stonith-timeout", "is not a duration"),
    ("wrong-type", BASE.replace("id = 2", 'id = "two"'), 13, "nodes.n2.id",
     "must be an integer, not a string"),
    ("not-utf8", None, 27, None, "is not UTF-8"),
]

# Values the CIB cannot hold or Pacemaker refuses: each once made ocfgen fail on the generated
# CIB (exit 1) or inside lxml (exit 70, internal error) instead of at the description's line.
X = BASE + '\n[resources.x]\nagent = "ocf:ocfpy:daemon"\nparams = { command = "/bin/true" }\n'
CASES += [
    ("nul-in-rule", BASE + '\n[[location]]\nresource = "d1"\nrule = "a eq b\\u0000"\n', 30,
     "location[0].rule", "contains a control character"),
    ("control-in-description", X + 'description = "a\\u0001b"\n', 31, "resources.x.description",
     "contains a control character"),
    ("noncharacter-in-param", BASE.replace('"/bin/sleep 100"', '"/bin/sleep \\uffff"'), 18,
     "resources.d1.params.command", "contains a control character"),
    ("control-in-param-name", BASE + '\n[resources.y]\nagent = "ocf:foo:bar"\n'
     'params = { "a\\u0001" = 1 }\n', 30, 'resources.y.params."a\\u0001"',
     "contains a control character"),
    ("empty-param-name", BASE + '\n[resources.y]\nagent = "ocf:foo:bar"\nparams = { "" = 1 }\n',
     30, 'resources.y.params.""', "is not a parameter name"),
    ("op-on-fail", X + 'ops = [{ name = "monitor", interval = "10s", on-fail = "bogus" }]\n', 31,
     "resources.x.ops[0].on-fail", "must be one of ignore, block"),
    ("op-enabled", X + 'ops = [{ name = "monitor", interval = "10s", enabled = "yes" }]\n', 31,
     "resources.x.ops[0].enabled", "must be true or false"),
    ("op-delay-and-origin", X + 'ops = [{ name = "monitor", interval = "10s", start-delay = "1s",'
     ' interval-origin = "2020-01-01" }]\n', 31, "resources.x.ops[0].interval-origin",
     "start-delay or interval-origin, not both"),
    ("op-defaults-on-fail", BASE + '\n[op_defaults]\non-fail = "bogus"\n', 29,
     "op_defaults.on-fail", "must be one of ignore, block"),
    ("op-defaults-record-pending", BASE + '\n[op_defaults]\nrecord-pending = "maybe"\n', 29,
     "op_defaults.record-pending", "must be true or false"),
    ("meta-requires", X + 'meta = { requires = "bogus" }\n', 31, "resources.x.meta.requires",
     "must be one of nothing, quorum, fencing, unfencing"),
    ("non-ascii-digits-score", BASE + '\n[[location]]\nresource = "d1"\nprefers = "n1"\n'
     'score = "\u0661\u0660"\n', 31, "location[0].score", "is not a score"),
    ("non-ascii-digits-interval", X + 'ops = [{ name = "monitor", interval = "\u0661\u0660s" }]\n',
     31, "resources.x.ops[0].interval", "is not a duration"),
    ("agent-dot-dot", BASE + '\n[resources.y]\nagent = "ocf:..:.."\n', 29, "resources.y.agent",
     "is not an agent"),
    ("corosync-token-overflow", BASE + "\n[corosync]\ntoken = 4294967296\n", 29, "corosync.token",
     "must be at most 4294967295"),
    ("meta-multiple-active", X + 'meta = { multiple-active = "bogus" }\n', 31,
     "resources.x.meta.multiple-active", "must be one of block, stop_only"),
]


def run_ocfgen(args, cwd):
    return subprocess.run([*OCFGEN, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def check_refused(done, output, source, line, path, reason):
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    message = lines[0]
    assert message.startswith(f"{source}:{line}: "), message
    if path:
        assert message.startswith(f"{source}:{line}: {path}: "), message
    assert reason in message, message
    assert not os.path.exists(output)
    assert not [n for n in os.listdir(os.path.dirname(output)) if n.startswith(".ocfgen-")]


@pytest.mark.parametrize("name,text,line,path,reason", CASES, ids=[c[0] for c in CASES])
def test_bad_description_is_refused_with_a_located_line(tmp_path, name, text, line, path, reason):
    description = tmp_path / "cluster.toml"
    if text is None:
        description.write_bytes(BASE.encode() + b"# \xff\xfe\n")
    else:
        description.write_text(text)
    output = tmp_path / "out" / "cib.xml"
    output.parent.mkdir()
    done = run_ocfgen(["build", "cluster.toml", "-o", str(output)], tmp_path)
    check_refused(done, str(output), "cluster.toml", line, path, reason)


def test_the_base_description_builds(tmp_path):
    """The cases above fail because of what they change, not because BASE is broken."""
    (tmp_path / "cluster.toml").write_text(BASE)
    done = run_ocfgen(["build", "cluster.toml", "-o", "cib.xml"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cib.xml").read_bytes().startswith(b"<cib ")


def test_a_failed_build_keeps_the_previous_output(tmp_path):
    """A refused rebuild neither truncates nor replaces the CIB that is already there."""
    (tmp_path / "cluster.toml").write_text(BASE)
    assert run_ocfgen(["build", "cluster.toml", "-o", "cib.xml"], tmp_path).returncode == 0
    before = (tmp_path / "cib.xml").read_bytes()
    (tmp_path / "cluster.toml").write_text(BASE.replace("cidr_netmask = 24", "netmask = 24"))
    done = run_ocfgen(["build", "cluster.toml", "-o", "cib.xml"], tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
    assert (tmp_path / "cib.xml").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["cib.xml", "cluster.toml"]


def test_missing_description_and_unwritable_output(tmp_path):
    done = run_ocfgen(["build", "absent.toml", "-o", "cib.xml"], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("absent.toml: cannot read the description")
    (tmp_path / "cluster.toml").write_text(BASE)
    done = run_ocfgen(["build", "cluster.toml", "-o", "no/such/dir/cib.xml"], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_outputs_never_replace_what_ocfgen_did_not_write(tmp_path):
    """-o naming the description itself, a hand-written file or a directory: exit 2, one line,
    the file untouched. Files ocfgen wrote are replaced as before, pictures too."""
    (tmp_path / "cluster.toml").write_text(BASE)
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "dir").mkdir()
    for command in ("build", "graph"):
        for target in ("cluster.toml", "notes.txt", "dir", "cluster.svg"):
            if target == "cluster.svg":
                (tmp_path / target).write_text("<svg/>")
            done = run_ocfgen([command, "cluster.toml", "-o", target], tmp_path)
            assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
            assert done.stderr.startswith(f"{target}: cannot write: "), done.stderr
        written = {"build": ("cib.xml", "picture.dot", "picture.svg"),
                   "graph": ("picture.dot", "picture.svg", "picture.png", "picture.pdf")}
        for target in written[command]:
            for _ in range(2):
                done = run_ocfgen([command, "cluster.toml", "-o", target], tmp_path)
                assert done.returncode == 0, done.stderr
            os.unlink(tmp_path / target)
    assert (tmp_path / "cluster.toml").read_text() == BASE
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert (tmp_path / "cluster.svg").read_text() == "<svg/>"
    assert sorted(os.listdir(tmp_path)) == ["cluster.svg", "cluster.toml", "dir", "notes.txt"]


def test_odd_output_arguments_get_one_line(tmp_path):
    """An empty -o (once a traceback-free exit 70, or files in the working directory) and a
    path with a newline (once a two-line message): exit 2, exactly one line, nothing written."""
    (tmp_path / "cluster.toml").write_text(BASE)
    for args in (["build", "cluster.toml", "-o", ""], ["corosync", "cluster.toml", "-o", ""],
                 ["build", "cluster.toml", "-o", "no\nsuch/cib.xml"]):
        done = run_ocfgen(args, tmp_path)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, (args, done.stderr)
        assert "internal error" not in done.stderr, done.stderr
    assert sorted(os.listdir(tmp_path)) == ["cluster.toml"]


def test_a_description_that_is_not_a_file_is_refused_at_once(tmp_path):
    """/dev/zero once read until memory ran out, a FIFO blocked forever: exit 2, one line."""
    os.mkfifo(tmp_path / "fifo.toml")
    for path in ("/dev/zero", str(tmp_path / "fifo.toml")):
        done = run_ocfgen(["check", path], tmp_path)
        assert done.returncode == 2 and done.stderr == (
            f"{path}: cannot read the description: not a regular file\n"), done.stderr


def test_every_command_refuses_a_bad_description_the_same_way(tmp_path):
    (tmp_path / "cluster.toml").write_text(BASE + "\n[[order]]\nfirst = \"d1\"\nthen = \"d9\"\n")
    for command in (["check"], ["simulate"], ["graph", "-o", "g.dot"], ["diff"], ["push", "-y"]):
        done = run_ocfgen([*command, "cluster.toml"], tmp_path)
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.splitlines() == [
            "cluster.toml:30: order[0].then: unknown resource 'd9'"]
    assert sorted(os.listdir(tmp_path)) == ["cluster.toml"]


# ---- Hypothesis: random mutations of a valid description --------------------------------

VALID = tomllib.loads(BASE.replace("stonith-enabled = false", 'placement-strategy = "balanced"')
                      .replace("id = 2\n", "id = 2\nutilization = { cpu = 4 }\n") + """
[[nodes.n1.fencing]]
agent = "fence_ipmilan"
params = { ip = "10.0.0.1", username = "admin", password_script = "/etc/ipmi-pw" }

[[nodes.n2.fencing]]
agent = "fence_ipmilan"
level = 1
params = { ip = "10.0.0.2", lanplus = true }

[defaults]
resource-stickiness = 100
migration-threshold = 3
failure-timeout = "10min"

[op_defaults]
timeout = "30s"

[corosync]
token = 3000
wait_for_all = true

[templates.t]
agent = "ocf:ocfpy:daemon"
utilization = { cpu = 1 }
ops = [{ name = "monitor", interval = "20s", timeout = "10s", OCF_CHECK_LEVEL = 10 }]

[resources.d3]
template = "t"
params = { command = "/bin/sleep 300" }
meta = { target-role = "Started", is-managed = true }

[resources.st]
agent = "ocf:pacemaker:Stateful"

[clones.st-clone]
resource = "st"
promotable = true
meta = { promoted-max = 1, clone-max = 2 }

[groups.g]
resources = ["d1", "d2"]

[[order]]
sets = [{ resources = ["d3"] }, { resources = ["vip", "st-clone"], sequential = false }]

[[colocation]]
resource = "d3"
with = "st-clone"
with_role = "Promoted"
score = 100

[[location]]
resources = ["d3", "vip"]
avoids = "n2"
score = 50

[[order]]
first = "g"
then = "vip"

[[colocation]]
resource = "vip"
with = "g"

[[location]]
resource = "g"
rule = "ioc-host eq true"
""")


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                             for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}"
                            for k, v in value.items()) + " }"


def to_toml(document):
    """One `key = value` line per top-level key (inline tables are valid TOML for any depth)."""
    return "".join(f"{_toml_value(str(k))} = {_toml_value(v)}\n" for k, v in document.items())


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


ALL_PATHS = [p for p in _paths(VALID) if p]
leaves = st.one_of(
    st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(["d1", "g", "vip", "n1", "INFINITY", "-INFINITY", "10s",
                                           "Promoted", "Master", "ocf:ocfpy:daemon", "eq", ""]))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def _mutate(document, path, action, value):
    import copy

    doc = copy.deepcopy(document)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):
        parent[last]["x-" + str(abs(hash(str(value))) % 1000)] = value
    else:
        parent[last] = value
    return doc


@settings(max_examples=int(os.environ.get("OCFGEN_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(ALL_PATHS), action=st.sampled_from(["replace", "delete", "add"]),
       value=values)
def test_mutated_descriptions_build_or_fail_with_one_located_line(tmp_path, path, action, value):
    from click.testing import CliRunner

    from ocfpy.generators.cli import cli
    from ocfpy.generators.validate import relaxng

    text = to_toml(_mutate(VALID, path, action, value))
    import pathlib
    import tempfile

    work = pathlib.Path(tempfile.mkdtemp(dir=tmp_path))
    (work / "cluster.toml").write_text(text)
    output = work / "cib.xml"
    runner = CliRunner()
    # crm_verify too: a description ocfgen accepts must be one Pacemaker accepts.
    result = runner.invoke(cli, ["build", str(work / "cluster.toml"), "-o", str(output)],
                           catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        text, repr(result.exception))
    assert result.exit_code in (0, 2), (text, result.exit_code, result.stderr)
    event(f"exit {result.exit_code}")
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (text, result.stderr)
        assert re.match(re.escape(str(work / "cluster.toml")) + r":\d+: ", lines[0]), lines[0]
        assert not output.exists()
    else:
        assert relaxng(output.read_bytes()).ok
    assert not [n for n in os.listdir(work) if n.startswith(".ocfgen-")]


def test_warnings_for_settings_that_would_do_nothing(tmp_path):
    """Not errors (the CIB is valid), but said once each, located, on stderr."""
    text = BASE.replace('[nodes.n2]\nid = 2', '[nodes.n2]\nid = 2\nutilization = { cpu = 4 }')
    text += "\n[[location]]\nresource = \"d1\"\nrule = \"pingd gt 0\"\n"
    (tmp_path / "cluster.toml").write_text(text)
    done = run_ocfgen(["build", "cluster.toml", "-o", "cib.xml"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[:2] == [
        "warning: cluster.toml:31: location[0].rule: no node in the description sets attribute "
        "'pingd': the rule depends on attributes set at run time",
        "warning: cluster.toml:4: properties: utilization is set but placement-strategy is "
        "default, so Pacemaker ignores it"]


def test_key_lines_follow_tables_arrays_and_multiline_values():
    """Where tomlpos finds keys: headers, dotted keys, inline tables, arrays of tables, and
    lines after multi-line strings and arrays."""
    from ocfpy.generators.tomlpos import dotted, key_lines, line_of

    text = (
        '[a]\n'                                   # 1
        'b.c = 1  # comment with = sign\n'        # 2
        's = """two\n'                            # 3
        'lines"""\n'                              # 4
        'd = { e = "x", "f g" = [1, 2] }\n'       # 5
        '[[t]]\n'                                 # 6
        'u = [\n'                                 # 7
        '  { v = 1 },\n'                          # 8
        '  { v = 2 },\n'                          # 9
        ']\n'                                     # 10
        '[[t]]\n'                                 # 11
        "w = 'lit'\n"                             # 12
        '[t.sub]\n'                               # 13
        'x = 3\n'                                 # 14
    )
    assert tomllib.loads(text)["t"][1]["sub"]["x"] == 3
    lines = key_lines(text)
    expected = {("a", "b", "c"): 2, ("a", "s"): 3, ("a", "d", "e"): 5, ("a", "d", "f g", 1): 5,
                ("t", 0, "u", 0, "v"): 8, ("t", 0, "u", 1): 9, ("t", 1, "w"): 12,
                ("t", 1, "sub", "x"): 14}
    assert {path: lines.get(path) for path in expected} == expected
    assert line_of(lines, ("t", 1, "sub", "nothing-here")) == 13
    assert dotted(("t", 1, "sub", "f g", 0)) == 't[1].sub."f g"[0]'
