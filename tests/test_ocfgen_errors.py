"""Bad cluster descriptions: exit code 2, located lines on stderr, no traceback, no file.

Each hand-written case holds one mistake and names the line, column and key path the error
must point at and a fragment of the reason: exactly that one line is expected. They run the
installed `ocfgen` as a sysadmin would. A description with many mistakes gets all of them, in
one run, sorted by place; more than MAX_ERRORS are cut with a count. Hypothesis tests then
mutate a valid description at random (any key, any TOML value, one or several at once) and
require that ocfgen either builds a CIB that passes Pacemaker's RNG schema or refuses with exit
2 and located lines only.
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

# (name, text appended to BASE or a replacement, expected line:column, key path, reason fragment)
CASES = [
    ("toml-syntax", BASE + "[resources.x\n", "27:13", None, "invalid TOML"),
    ("unknown-section", BASE + "\n[resource.x]\nagent = 'a'\n", "28:2", "resource",
     "unknown key 'resource' (did you mean 'resources'?)"),
    ("unknown-param-ocfpy", BASE.replace('command = "/bin/sleep 100"',
                                         'command = "/bin/sleep 100", comand = "x"'),
     "18:40", "resources.d1.params.comand", "unknown parameter 'comand' for ocf:ocfpy:daemon"),
    ("unknown-param-heartbeat", BASE.replace("cidr_netmask = 24", "netmask = 24"), "26:32",
     "resources.vip.params.netmask", "unknown parameter 'netmask' for ocf:heartbeat:IPaddr2"),
    ("bad-param-value-ocfpy", BASE.replace('command = "/bin/sleep 200"',
                                           'command = "/bin/sleep 200", umask = "999"'),
     "22:40", "resources.d2.params.umask", "octal mode"),
    ("bad-param-type-heartbeat", BASE.replace("cidr_netmask = 24", 'arp_count = "many"'),
     "26:32", "resources.vip.params.arp_count", "is not an integer"),
    ("missing-required", BASE.replace('params = { command = "/bin/sleep 200" }',
                                      'params = { cwd = "/" }'),
     "22:1", "resources.d2.params", "missing required parameter 'command'"),
    ("unknown-ocfpy-agent", BASE.replace('agent = "ocf:ocfpy:daemon"\nparams = { command = '
                                         '"/bin/sleep 200" }', 'agent = "ocf:ocfpy:nosuch"'),
     "21:1", "resources.d2.agent", "no ocfpy agent 'nosuch'"),
    ("bad-agent-spec", BASE.replace('agent = "ocf:heartbeat:IPaddr2"', 'agent = "IPaddr2"'),
     "25:1", "resources.vip.agent", "is not an agent"),
    ("unknown-ref-order", BASE + "\n[[order]]\nfirst = \"d1\"\nthen = \"d3\"\n", "30:1",
     "order[0].then", "unknown resource 'd3'"),
    ("unknown-ref-group", BASE + "\n[groups.g]\nresources = [\"d1\", \"nope\"]\n", "29:20",
     "groups.g.resources[1]", "unknown resource 'nope'"),
    ("unknown-node", BASE + "\n[[location]]\nresource = \"d1\"\nprefers = \"n9\"\n", "30:1",
     "location[0].prefers", "unknown node 'n9'"),
    ("cycle", BASE + "\n[[order]]\nfirst = \"d1\"\nthen = \"d2\"\n\n[[order]]\nfirst = \"d2\"\n"
     "then = \"vip\"\n\n[[order]]\nfirst = \"vip\"\nthen = \"d1\"\n", "36:3", "order[2]",
     "cycle: d1 -> d2 -> vip -> d1"),
    ("cycle-through-group", BASE + "\n[groups.g]\nresources = [\"d1\", \"d2\"]\n\n[[order]]\n"
     "first = \"d2\"\nthen = \"d1\"\n", "31:3", "order[0]", "cycle"),
    ("duplicate-id", BASE + "\n[groups.d1]\nresources = [\"d2\"]\n", "28:9", "groups.d1",
     "duplicate id 'd1'"),
    ("duplicate-constraint-id", BASE + "\n[[order]]\nid = \"o\"\nfirst = \"d1\"\nthen = \"d2\"\n"
     "\n[[colocation]]\nid = \"o\"\nresource = \"d1\"\nwith = \"d2\"\n", "34:1", "colocation[0].id",
     "duplicate id 'o'"),
    ("duplicate-node-id", BASE.replace("id = 2", "id = 1"), "13:1", "nodes.n2.id",
     "node id 1 is already used by node n1"),
    ("ring-not-address", BASE.replace('"192.0.2.2"', '"192.0.2.300"'), "14:14",
     "nodes.n2.addresses[0]", "is not an IP address"),
    ("two-node-three-nodes", BASE + "\n[nodes.n3]\nid = 3\naddresses = [\"192.0.2.3\"]\n"
     "\n[corosync]\ntwo_node = true\n", "33:1", "corosync.two_node", "not two"),
    ("inline-password", BASE.replace("stonith-enabled = false", "stonith-enabled = true") +
     "\n[[nodes.n1.fencing]]\nagent = \"fence_ipmilan\"\nparams = { ip = \"10.0.0.1\", "
     "password = \"hunter2\" }\n", "30:29", "nodes.n1.fencing[0].params.password", "inline secret"),
    ("unknown-fence-param", BASE.replace("stonith-enabled = false", "stonith-enabled = true") +
     "\n[[nodes.n1.fencing]]\nagent = \"fence_ipmilan\"\nparams = { ipaddress = \"10.0.0.1\" }\n",
     "30:12", "nodes.n1.fencing[0].params.ipaddress", "unknown parameter 'ipaddress'"),
    ("no-fencing", BASE.replace("stonith-enabled = false\n", ""), "4:2", "properties",
     "no node has fencing"),
    ("unknown-property", BASE.replace("stonith-enabled = false",
                                      "stonith-enabled = false\nstonith-enable = true"), "6:1",
     "properties.stonith-enable", "unknown cluster option"),
    ("unknown-meta", BASE + "\n[defaults]\nresource-stickyness = 100\n", "29:1",
     "defaults.resource-stickyness", "did you mean 'resource-stickiness'"),
    ("old-role-name", BASE + "\n[clones.c]\nresource = \"d1\"\n\n[[colocation]]\nresource = "
     "\"d2\"\nwith = \"c\"\nwith_role = \"Master\"\n", "34:1", "colocation[0].with_role",
     "use 'Promoted'"),
    ("promotable-not-promotable", BASE + "\n[clones.c]\nresource = \"d1\"\npromotable = true\n",
     "30:1", "clones.c.promotable", "cannot be promotable"),
    ("constraint-on-clone-child", BASE + "\n[clones.c]\nresource = \"d1\"\n\n[[order]]\nfirst ="
     " \"d1\"\nthen = \"d2\"\n", "32:1", "order[0].first", "inside clone 'c'"),
    ("bad-interval", BASE.replace('params = { command = "/bin/sleep 100" }',
                                  'params = { command = "/bin/sleep 100" }\nops = [{ name = '
                                  '"monitor", interval = "often" }]'), "19:28",
     "resources.d1.ops[0].interval", "is not a duration"),
    ("duplicate-monitor-interval", BASE.replace(
        'params = { command = "/bin/sleep 100" }',
        'params = { command = "/bin/sleep 100" }\nops = [\n  { name = "monitor", interval = "10s" '
        '},\n  { name = "monitor", interval = "10000ms" },\n]'), "21:3", "resources.d1.ops[1]",
     "two monitor operations with interval"),
    ("unknown-op", BASE.replace('params = { command = "/bin/sleep 100" }',
                                'params = { command = "/bin/sleep 100" }\nops = [{ name = '
                                '"promote" }]'), "19:10", "resources.d1.ops[0].name",
     "operation 'promote' is not one the agent has"),
    ("unique-param-repeated", BASE.replace('"/bin/sleep 200" }',
                                           '"/bin/sleep 200", pidfile = "/run/x.pid" }').replace(
        '"/bin/sleep 100" }', '"/bin/sleep 100", pidfile = "/run/x.pid" }'), "22:40",
     "resources.d2.params.pidfile", "is also used by resource 'd1'"),
    ("bad-rule", BASE + "\n[[location]]\nresource = \"d1\"\nrule = \"ioc-host equals true\"\n",
     "30:1", "location[0].rule", "cannot read 'ioc-host equals true'"),
    ("mixed-rule", BASE + "\n[[location]]\nresource = \"d1\"\nrule = \"a eq 1 and b eq 2 or "
     "c eq 3\"\n", "30:1", "location[0].rule", "not both"),
    ("order-pair-and-sets", BASE + "\n[[order]]\nfirst = \"d1\"\nsets = [{ resources = "
     "[\"d1\", \"d2\"] }]\n", "29:1", "order[0].first",
     "an order has either first/then or sets, not both"),
    ("colocation-pair-and-sets", BASE + "\n[[colocation]]\nwith_role = \"Promoted\"\nsets = "
     "[{ resources = [\"d1\", \"d2\"] }]\n", "29:1", "colocation[0].with_role",
     "a colocation has either resource/with or sets, not both"),
    ("clone-max-absurd", BASE + "\n[clones.c]\nresource = \"d1\"\nmeta = { clone-max = 662553 }\n",
     "30:10", "clones.c.meta.clone-max", "more instances than 2 node(s)"),
    ("time-option", BASE.replace("stonith-enabled = false",
                                 'stonith-enabled = false\nstonith-timeout = "soon"'), "6:1",
     "properties.stonith-timeout", "is not a duration"),
    ("wrong-type", BASE.replace("id = 2", 'id = "two"'), "13:1", "nodes.n2.id",
     "must be an integer, not a string"),
    ("not-utf8", None, "27:3", None, "is not UTF-8"),
]

# Values the CIB cannot hold or Pacemaker refuses: each once made ocfgen fail on the generated
# CIB (exit 1) or inside lxml (exit 70, internal error) instead of at the description's line.
X = BASE + '\n[resources.x]\nagent = "ocf:ocfpy:daemon"\nparams = { command = "/bin/true" }\n'
CASES += [
    ("nul-in-rule", BASE + '\n[[location]]\nresource = "d1"\nrule = "a eq b\\u0000"\n', "30:1",
     "location[0].rule", "contains a control character"),
    ("control-in-description", X + 'description = "a\\u0001b"\n', "31:1", "resources.x.description",
     "contains a control character"),
    ("noncharacter-in-param", BASE.replace('"/bin/sleep 100"', '"/bin/sleep \\uffff"'), "18:12",
     "resources.d1.params.command", "contains a control character"),
    ("control-in-param-name", BASE + '\n[resources.y]\nagent = "ocf:foo:bar"\n'
     'params = { "a\\u0001" = 1 }\n', "30:1", 'resources.y.params."a\\u0001"',
     "contains a control character"),
    ("empty-param-name", BASE + '\n[resources.y]\nagent = "ocf:foo:bar"\nparams = { "" = 1 }\n',
     "30:12", 'resources.y.params.""', "is not a parameter name"),
    ("op-on-fail", X + 'ops = [{ name = "monitor", interval = "10s", on-fail = "bogus" }]\n', "31:46",
     "resources.x.ops[0].on-fail", "must be one of ignore, block"),
    ("op-enabled", X + 'ops = [{ name = "monitor", interval = "10s", enabled = "yes" }]\n', "31:46",
     "resources.x.ops[0].enabled", "must be true or false"),
    ("op-delay-and-origin", X + 'ops = [{ name = "monitor", interval = "10s", start-delay = "1s",'
     ' interval-origin = "2020-01-01" }]\n', "31:66", "resources.x.ops[0].interval-origin",
     "start-delay or interval-origin, not both"),
    ("op-defaults-on-fail", BASE + '\n[op_defaults]\non-fail = "bogus"\n', "29:1",
     "op_defaults.on-fail", "must be one of ignore, block"),
    ("op-defaults-record-pending", BASE + '\n[op_defaults]\nrecord-pending = "maybe"\n', "29:1",
     "op_defaults.record-pending", "must be true or false"),
    ("meta-requires", X + 'meta = { requires = "bogus" }\n', "31:10", "resources.x.meta.requires",
     "must be one of nothing, quorum, fencing, unfencing"),
    ("non-ascii-digits-score", BASE + '\n[[location]]\nresource = "d1"\nprefers = "n1"\n'
     'score = "\u0661\u0660"\n', "31:1", "location[0].score", "is not a score"),
    ("non-ascii-digits-interval", X + 'ops = [{ name = "monitor", interval = "\u0661\u0660s" }]\n',
     "31:28", "resources.x.ops[0].interval", "is not a duration"),
    ("agent-dot-dot", BASE + '\n[resources.y]\nagent = "ocf:..:.."\n', "29:1", "resources.y.agent",
     "is not an agent"),
    ("corosync-token-overflow", BASE + "\n[corosync]\ntoken = 4294967296\n", "29:1", "corosync.token",
     "must be at most 4294967295"),
    ("meta-multiple-active", X + 'meta = { multiple-active = "bogus" }\n', "31:10",
     "resources.x.meta.multiple-active", "must be one of block, stop_only"),
]


def run_ocfgen(args, cwd):
    return subprocess.run([*OCFGEN, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def check_located(lines, source, context=None):
    """Every line of a refusal is one located error (`source:line:column: `), sorted by place;
    beyond MAX_ERRORS a last line counts the rest."""
    from ocfpy.generators.load.description import MAX_ERRORS

    assert lines, context
    if lines[-1].startswith("... and "):
        assert re.fullmatch(r"\.\.\. and \d+ more errors?", lines[-1]), (context, lines)
        lines = lines[:-1]
        assert len(lines) == MAX_ERRORS, (context, lines)
    assert len(lines) <= MAX_ERRORS, (context, lines)
    places = []
    for line in lines:
        found = re.match(re.escape(source) + r":(\d+):(\d+): ", line)
        assert found, (context, line)
        places.append((int(found.group(1)), int(found.group(2))))
    assert places == sorted(places), (context, lines)


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
            "cluster.toml:30:1: order[0].then: unknown resource 'd9'"]
    assert sorted(os.listdir(tmp_path)) == ["cluster.toml"]


# ---- Every mistake of a description in one run ------------------------------------------

MANY = """\
[cluster]
name = "many"

[properties]
stonith-enabled = false
stonith-enable = true
stonith-timeout = "soon"

[defaults]
resource-stickyness = 100

[op_defaults]
on-fail = "bogus"

[corosync]
token = 4294967296

[nodes.n1]
id = 1
addresses = ["192.0.2.1"]

[[nodes.n1.fencing]]
agent = "fence_ipmilan"
params = { ip = "10.0.0.1", password = "hunter2" }

[nodes.n2]
id = 1
addresses = ["192.0.2.2"]

[nodes.n3]
id = 3
addresses = ["192.0.2.300"]

[resources.d1]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 100", comand = "x" }

[resources.d2]
agent = "ocf:ocfpy:daemn"

[resources.web]
agent = "ocf:ocfpy:daemon"
paramz = { command = "/bin/sleep 1" }

[resources.vip]
agent = "ocf:heartbeat:IPaddr2"
params = { ip = "192.0.2.100", cidr_netmask = 24 }
ops = [{ name = "monitor", interval = "often" }]

[resources.db]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 300" }

[resources.app]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 400" }

[groups.g]
resources = ["db", "vpi"]

[groups.g1]
resources = ["d1", "app"]

[clones.c]
resource = "dbb"

[[order]]
first = "db"
then = "ap"

[[order]]
first = "d1"
then = "nothing-like-it"

[[colocation]]
resource = "app"
with = "db"
with_role = "Master"

[[location]]
resource = "db"
prefers = "n4"

[[location]]
resource = "app"
rule = "ioc-host equals true"

[alerts.mail]
path = "relative/script"

[resource.x]
agent = "ocf:ocfpy:daemon"
"""

# Every mistake of MANY, in the order reported (by line, then column): line:column, key path and
# a fragment of the reason. Each is of a different kind. Not reported, because what they refer
# to failed already: order[1] and group g1 (they name d1).
MANY_ERRORS = [
    ("6:1", "properties.stonith-enable",
     "unknown cluster option 'stonith-enable' (did you mean 'stonith-enabled'?)"),
    ("7:1", "properties.stonith-timeout", "is not a duration"),
    ("10:1", "defaults.resource-stickyness", "(did you mean 'resource-stickiness'?)"),
    ("13:1", "op_defaults.on-fail", "must be one of ignore, block"),
    ("16:1", "corosync.token", "must be at most 4294967295"),
    ("24:29", "nodes.n1.fencing[0].params.password", "inline secret 'password'"),
    ("27:1", "nodes.n2.id", "node id 1 is already used by node n1"),
    ("32:14", "nodes.n3.addresses[0]", "'192.0.2.300' is not an IP address"),
    ("36:40", "resources.d1.params.comand",
     "unknown parameter 'comand' for ocf:ocfpy:daemon (did you mean 'command'?)"),
    ("39:1", "resources.d2.agent", "no ocfpy agent 'daemn' (did you mean 'daemon'?)"),
    ("43:1", "resources.web.paramz", "unknown key 'paramz' (did you mean 'params'?)"),
    ("48:28", "resources.vip.ops[0].interval", "'often' is not a duration"),
    ("59:20", "groups.g.resources[1]", "unknown resource 'vpi' (did you mean 'vip'?)"),
    ("65:1", "clones.c.resource", "unknown resource or group 'dbb' (did you mean 'db'?)"),
    ("69:1", "order[0].then", "unknown resource 'ap' (did you mean 'app'?)"),
    ("78:1", "colocation[0].with_role", "use 'Promoted'"),
    ("82:1", "location[0].prefers", "unknown node 'n4'"),
    ("86:1", "location[1].rule", "cannot read 'ioc-host equals true'"),
    ("89:1", "alerts.mail.path", "is not an absolute path"),
    ("91:2", "resource", "unknown key 'resource' (did you mean 'resources'?)"),
]


def test_every_mistake_is_reported_in_one_run_sorted_and_located(tmp_path):
    (tmp_path / "cluster.toml").write_text(MANY)
    done = run_ocfgen(["check", "cluster.toml"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == len(MANY_ERRORS), done.stderr
    for line, (at, path, reason) in zip(lines, MANY_ERRORS):
        assert line.startswith(f"cluster.toml:{at}: {path}: "), line
        assert reason in line, line
    places = [tuple(int(n) for n in line.split(":")[1:3]) for line in lines]
    assert places == sorted(places)


def test_the_many_mistakes_description_is_otherwise_sound(tmp_path):
    """Fixing each mistake of MANY gives a description that builds: the errors above come from
    the mistakes, not from something else that is wrong with MANY."""
    fixed = (MANY.replace("stonith-enable = true\n", "").replace('stonith-timeout = "soon"',
                                                                 'stonith-timeout = "60s"')
             .replace("resource-stickyness", "resource-stickiness")
             .replace('on-fail = "bogus"', 'on-fail = "restart"')
             .replace("token = 4294967296", "token = 3000")
             .replace('password = "hunter2"', 'password_script = "/etc/ipmi-pw"')
             .replace("id = 1\naddresses = [\"192.0.2.2\"]", "id = 2\naddresses = [\"192.0.2.2\"]")
             .replace("192.0.2.300", "192.0.2.3").replace(', comand = "x"', "")
             .replace("daemn", "daemon").replace("paramz", "params")
             .replace('interval = "often"', 'interval = "10s"').replace('"vpi"', '"vip"')
             .replace('"dbb"', '"d2"').replace('"ap"', '"app"')
             .replace('then = "nothing-like-it"', 'then = "web"').replace('"Master"', '"Started"')
             .replace('"n4"', '"n2"').replace("equals", "eq")
             .replace("relative/script", "/usr/share/pacemaker/alerts/alert_file.sh")
             .replace("[resource.x]\nagent", "[resources.x]\nagent"))
    fixed = fixed.replace('[resources.d2]\nagent = "ocf:ocfpy:daemon"\n',
                          '[resources.d2]\nagent = "ocf:ocfpy:daemon"\n'
                          'params = { command = "/bin/sleep 200" }\n')
    fixed += 'params = { command = "/bin/sleep 500" }\n'
    (tmp_path / "cluster.toml").write_text(fixed)
    done = run_ocfgen(["check", "cluster.toml"], tmp_path)
    assert done.returncode == 0, done.stderr


def test_errors_beyond_the_cap_are_counted(tmp_path):
    from ocfpy.generators.load.description import MAX_ERRORS

    extra = 7
    options = "".join(f"bogus-option-{n:02} = 1\n" for n in range(MAX_ERRORS + extra))
    (tmp_path / "cluster.toml").write_text(BASE.replace("stonith-enabled = false\n",
                                                        "stonith-enabled = false\n" + options))
    done = run_ocfgen(["check", "cluster.toml"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == MAX_ERRORS + 1, done.stderr
    for n, line in enumerate(lines[:-1]):
        assert line.startswith(f"cluster.toml:{6 + n}:1: properties.bogus-option-{n:02}: "
                               f"unknown cluster option 'bogus-option-{n:02}'"), line
    assert lines[-1] == f"... and {extra} more errors"


def test_every_bad_parameter_and_operation_of_a_resource_is_reported(tmp_path):
    """Within one resource its parameters are items, and so are its operations: all of
    them are reported; a missing required parameter is not (a bad one may be meant for it)."""
    text = BASE.replace('params = { command = "/bin/sleep 100" }',
                        'params = { umask = "999", usr = "x", kill_after = 1.5 }').replace(
        'params = { command = "/bin/sleep 200" }',
        'params = { command = "/bin/sleep 200" }\nops = [{ name = "monitor", interval = "often" }, '
        '{ name = "promote" }, { name = "start", timeout = "x" }]')
    (tmp_path / "cluster.toml").write_text(text)
    done = run_ocfgen(["check", "cluster.toml"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "cluster.toml:18:12: resources.d1.params.umask: parameter 'umask' must be an octal mode "
        "such as 022, not '999'",
        "cluster.toml:18:27: resources.d1.params.usr: unknown parameter 'usr' for "
        "ocf:ocfpy:daemon (did you mean 'user'?)",
        "cluster.toml:18:38: resources.d1.params.kill_after: parameter 'kill_after' is declared "
        "integer, not a number with a fraction",
        "cluster.toml:23:28: resources.d2.ops[0].interval: 'often' is not a duration (such as "
        "10s, 500ms, 2min)",
        "cluster.toml:23:52: resources.d2.ops[1].name: operation 'promote' is not one the agent "
        "has (start, stop, monitor, reload-agent)",
        "cluster.toml:23:90: resources.d2.ops[2].timeout: 'x' is not a duration (such as 10s, "
        "500ms, 2min)"]


def test_did_you_mean_for_keys_agents_resources_and_nodes(tmp_path):
    text = (BASE.replace("[resources.d2]\nagent", "[resources.d2]\nagnet")
            .replace('agent = "ocf:heartbeat:IPaddr2"', 'agent = "ocf:heartbeat:IPadr2"')
            + '\n[resources.d3]\nagent = "ocf:ocfpy:epics-ioc2"\n'
            + '\n[[order]]\nfirst = "d1"\nthen = "d11"\n'
            + '\n[[colocation]]\nresource = "d1"\nwith = "vipp"\n'
            + '\n[[location]]\nresource = "d1"\navoids = "nn1"\n')
    (tmp_path / "cluster.toml").write_text(text)
    done = run_ocfgen(["check", "cluster.toml"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    expected = [
        ("21:1", "resources.d2.agnet", "unknown key 'agnet' (did you mean 'agent'?)"),
        ("25:1", "resources.vip.agent", "unknown agent ocf:heartbeat:IPadr2: no IPadr2 in "
         "/usr/lib/ocf/resource.d/heartbeat (did you mean 'IPaddr2'?)"),
        ("29:1", "resources.d3.agent", "no ocfpy agent 'epics-ioc2' (did you mean 'epics-ioc'?)"),
        ("33:1", "order[0].then", "unknown resource 'd11' (did you mean 'd1'?)"),
        ("37:1", "colocation[0].with", "unknown resource 'vipp' (did you mean 'vip'?)"),
        ("41:1", "location[0].avoids", "unknown node 'nn1' (did you mean 'n1'?)"),
    ]
    assert len(lines) == len(expected), done.stderr
    for line, (at, path, reason) in zip(lines, expected):
        assert line.startswith(f"cluster.toml:{at}: {path}: ") and reason in line, line


@pytest.mark.parametrize("text,at,path,why", [
    # An unfinished header names its own table.
    (BASE + "[resources.x\n", "27:13", "resources.x", "Expected ']' at the end of a table"),
    # The key on the line, inside the table of the nearest header above ([[order]]: its index).
    (BASE + '\n[[order]]\nfirst = "d1"\nthen = "d2"\n\n[[order]]\nfirst = "d2"\n'
     'then = "vip" x\n', "34:14", "order[1].then", "Expected newline or end of document"),
    (BASE.replace('params = { ip = "192.0.2.100", cidr_netmask = 24 }',
                  'params = { ip = "192.0.2.100", cidr_netmask = }'), "26:47",
     "resources.vip.params", "Invalid value"),
    # A line without a key: the table only.
    (BASE.replace("[nodes.n2]\n", "[nodes.n2]\n= 3\n"), "13:1", "nodes.n2", "Invalid"),
    (BASE + 'x = "unterminated', "27:18", "resources.vip.x", "Unterminated string"),
])
def test_a_toml_syntax_error_gives_line_column_and_key(tmp_path, text, at, path, why):
    (tmp_path / "cluster.toml").write_text(text)
    done = run_ocfgen(["check", "cluster.toml"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"cluster.toml:{at}: {path}: invalid TOML: {why}"), lines[0]


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
def test_mutated_descriptions_build_or_fail_with_located_lines(tmp_path, path, action, value):
    from click.testing import CliRunner

    from ocfpy.generators.cli import cli
    from ocfpy.generators.verify.validate import relaxng

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
        check_located(result.stderr.splitlines(), str(work / "cluster.toml"), text)
        assert not output.exists()
    else:
        assert relaxng(output.read_bytes()).ok
    assert not [n for n in os.listdir(work) if n.startswith(".ocfgen-")]


@settings(max_examples=int(os.environ.get("OCFGEN_FUZZ_EXAMPLES", "150")), deadline=None)
@given(mutations=st.lists(st.tuples(st.sampled_from(ALL_PATHS),
                                    st.sampled_from(["replace", "delete", "add"]), values),
                          min_size=2, max_size=8))
def test_several_mutations_at_once_are_all_refused_located(mutations):
    """Several mistakes at once (each line of to_toml holds a whole section, so errors share
    lines and are sorted by column): the loader returns a cluster or refuses with located,
    sorted lines; no other exception, whatever failed before what."""
    from ocfpy.generators.load.description import DescriptionError, loads

    document = VALID
    for path, action, value in mutations:
        try:
            document = _mutate(document, path, action, value)
        except (KeyError, IndexError, TypeError):  # an earlier mutation took the place away
            continue
    text = to_toml(document)
    try:
        loads(text, "cluster.toml")
    except DescriptionError as exc:
        event(f"{len(str(exc).splitlines())} error line(s)")
        check_located(str(exc).split("\n"), "cluster.toml", text)


@settings(max_examples=int(os.environ.get("OCFGEN_FUZZ_EXAMPLES", "150")) * 4, deadline=None)
@given(text=st.text(st.sampled_from('[]{}.,="\'\\#\n \tab1-'), max_size=60))
def test_any_syntax_error_is_placed_without_failing(text):
    """syntax_position reads text tomllib refused (it may hold anything): never an exception
    of its own, and the place is tomllib's."""
    from ocfpy.generators.load.positions import syntax_position

    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column, path, why = syntax_position(exc, text)
        assert 1 <= line <= text.count("\n") + 1 and column >= 1
        assert isinstance(path, tuple) and why and "(at " not in why


def test_warnings_for_settings_that_would_do_nothing(tmp_path):
    """Not errors (the CIB is valid), but said once each, located, on stderr."""
    text = BASE.replace('[nodes.n2]\nid = 2', '[nodes.n2]\nid = 2\nutilization = { cpu = 4 }')
    text += "\n[[location]]\nresource = \"d1\"\nrule = \"pingd gt 0\"\n"
    (tmp_path / "cluster.toml").write_text(text)
    done = run_ocfgen(["build", "cluster.toml", "-o", "cib.xml"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[:2] == [
        "warning: cluster.toml:31:1: location[0].rule: no node in the description sets attribute "
        "'pingd': the rule depends on attributes set at run time",
        "warning: cluster.toml:4:2: properties: utilization is set but placement-strategy is "
        "default, so Pacemaker ignores it"]


def test_key_lines_follow_tables_arrays_and_multiline_values():
    """Where tomlpos finds keys: headers, dotted keys, inline tables, arrays of tables, and
    lines after multi-line strings and arrays."""
    from ocfpy.generators.load.positions import dotted, key_positions, line_of, position_of

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
    positions = key_positions(text)
    lines = {path: line for path, (line, _) in positions.items()}
    expected = {("a", "b", "c"): 2, ("a", "s"): 3, ("a", "d", "e"): 5, ("a", "d", "f g", 1): 5,
                ("t", 0, "u", 0, "v"): 8, ("t", 0, "u", 1): 9, ("t", 1, "w"): 12,
                ("t", 1, "sub", "x"): 14}
    assert {path: lines.get(path) for path in expected} == expected
    assert line_of(positions, ("t", 1, "sub", "nothing-here")) == 13
    assert dotted(("t", 1, "sub", "f g", 0)) == 't[1].sub."f g"[0]'
    # Columns: where the key is written (each part of a dotted key, a header's names), where an
    # array element starts.
    expected = {("a",): (1, 2), ("a", "b"): (2, 1), ("a", "b", "c"): (2, 3), ("a", "d", "e"): (5, 7),
                ("a", "d", "f g"): (5, 16), ("a", "d", "f g", 1): (5, 28), ("t", 0): (6, 3),
                ("t", 0, "u", 1): (9, 3), ("t", 0, "u", 1, "v"): (9, 5), ("t", 1): (11, 3),
                ("t", 1, "sub"): (13, 4), ("t", 1, "sub", "x"): (14, 1)}
    assert {path: positions.get(path) for path in expected} == expected
    assert position_of(positions, ("t", 1, "sub", "nothing-here")) == (13, 4)
