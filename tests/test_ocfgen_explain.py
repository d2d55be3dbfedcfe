"""`ocfgen explain`: the reference of every key, from the declarations the loaders check with
(generators/load/keys.py). The keys the loaders accept are compared with the keys explain covers,
the committed Markdown page with what the code generates, and each stated secret rule with
what the checks refuse."""

import os
import subprocess

import pytest
from ocfrun import OCFGEN, REPO

from ocfpy.generators.load import description, keys
from ocfpy.generators.load import hosts as host_outputs
from ocfpy.generators.load import reader as description_reader
from ocfpy.generators.render import reference as explain
from ocfpy.generators.render.keepalived import KeepalivedError, check_secret

EXAMPLES = os.path.join(REPO, "examples")
BMC = 'username = "admin", password_script = "/etc/cluster/ipmi-password"'
# The tables the examples leave out: a quorum device, a group, alerts, remote nodes.
MORE = f"""[cluster]
name = "farm"
[corosync]
qdevice = {{ host = "qnetd.example.org", algorithm = "lms" }}
[nodes.n1]
addresses = ["192.0.2.1"]
[[nodes.n1.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.1", {BMC} }}
[nodes.n2]
addresses = ["192.0.2.2"]
[[nodes.n2.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.2", {BMC} }}
[nodes.n3]
addresses = ["192.0.2.3"]
[[nodes.n3.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.3", {BMC} }}
[remote]
reconnect_interval = "30s"
[remote_nodes.ioc-host-1]
address = "192.0.2.31"
[[remote_nodes.ioc-host-1.fencing]]
agent = "fence_ipmilan"
params = {{ ip = "198.51.100.31", {BMC} }}
[resources.one]
agent = "ocf:ocfpy:daemon"
params = {{ command = "/usr/bin/sleep 1000" }}
[resources.two]
agent = "ocf:ocfpy:daemon"
params = {{ command = "/usr/bin/sleep 2000" }}
[groups.both]
resources = ["one", "two"]
[alerts.history]
recipients = ["/var/log/ocfpy/history.jsonl"]
"""
MORE_HOSTS = """[firewall]
clients = ["192.0.2.0/24"]
[[firewall.extra]]
service = "site web"
protocol = "tcp"
ports = [8080, [9000, 9010]]
"""


def run(*args):
    return subprocess.run([*OCFGEN, "explain", *args], capture_output=True, text=True,
                          timeout=60)


def test_explain_covers_every_key_the_loaders_accept(tmp_path, monkeypatch):
    """Every table() call of both loaders, over the examples and the tables they leave out:
    the keys it allows are exactly the keys declared (and explained) at that path, and every
    declared table is read."""
    calls, reading = [], [keys.DESCRIPTION]   # the document being read
    original = description_reader.Reader.table

    def spy(self, path, value, allowed=None):
        calls.append((reading[0], tuple(path), allowed))
        return original(self, path, value, allowed)

    monkeypatch.setattr(description_reader.Reader, "table", spy)
    (tmp_path / "more.toml").write_text(MORE)
    (tmp_path / "more-hosts.toml").write_text(MORE_HOSTS)
    descriptions = [tmp_path / "more.toml"] + [
        os.path.join(EXAMPLES, f) for f in sorted(os.listdir(EXAMPLES))
        if f.endswith(".toml") and not f.endswith("-hosts.toml")]
    for path in descriptions:
        description.load(str(path))
    reading[0] = keys.HOSTS
    for path in [tmp_path / "more-hosts.toml"] + [
            os.path.join(EXAMPLES, f) for f in sorted(os.listdir(EXAMPLES))
            if f.endswith("-hosts.toml")]:
        host_outputs.load(str(path))

    checked = set()
    for document, path, allowed in calls:
        declared = document.declared(path)
        assert declared is not None, f"{document.title}: {path} is read but not declared"
        if allowed is None:
            # A table of someone else's names (params, meta, attributes) or of NAMEs.
            found = document.find(declared)
            key = found[1] if found else None
            assert declared in document.tables or (key is not None and key.type == "table"), \
                f"{document.title}: {path} takes any key but is declared {key}"
            continue
        assert sorted(allowed) == sorted(document.allowed(declared)), \
            f"{document.title}: {path} accepts {allowed}, explain says " \
            f"{document.allowed(declared)}"
        checked.add((document.title, declared))
    for document in keys.DOCUMENTS:
        for path in document.tables:
            assert (document.title, path) in checked, f"{document.title}: {path!r} never read"


def test_an_undeclared_key_is_refused_a_declared_one_taken(tmp_path):
    text = MORE.replace('agent = "fence_ipmilan"\nparams = { ip = "198.51.100.1"',
                        'agent = "fence_ipmilan"\nlevl = 1\nparams = { ip = "198.51.100.1"')
    assert "levl" in text
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(description.DescriptionError) as caught:
        description.load(str(tmp_path / "bad.toml"))
    assert "nodes.n1.fencing[0].levl: unknown key 'levl'" in str(caught.value).replace(
        ".0.", "[0].")
    assert "did you mean 'level'" in str(caught.value)
    with pytest.raises(host_outputs.HostOutputsError, match="unknown key 'port'"):
        host_outputs.loads(MORE_HOSTS.replace("ports =", "port ="))
    assert host_outputs.loads(MORE_HOSTS).firewall.extra[0].ports == (8080, (9000, 9010))


def test_the_markdown_page_is_what_the_code_generates():
    path = os.path.join(REPO, explain.MARKDOWN_PAGE)
    with open(path) as f:
        committed = f.read()
    assert committed == explain.markdown(), (
        f"{explain.MARKDOWN_PAGE} is not what generators/load/keys.py declares; regenerate it: "
        f"{explain.REGENERATE}")
    done = run("--markdown")
    assert done.returncode == 0 and done.stdout == committed


@pytest.mark.parametrize("key, words", [
    ("resources.params", ["type:    table", "default: {}", "the agent's parameters"]),
    ("nodes.fencing.agent", ["[[nodes.NAME.fencing]]", "type:    string", "default: required",
                             "fence agent"]),
    ("firewall.extra", ["[[firewall.extra]]", "firewall.extra.protocol", "tcp, udp, vrrp",
                        "firewall.extra.sources"]),
    ("resources.vip.ops.0.on-fail", ["resources.ops.on-fail", "one of: ignore, block"]),
    ("keepalived.secret_file", ["VRRPv3 without authentication", "Secrets:", "chmod 600"]),
    ("nodes.fencing.params", ["Secrets:", "password_script"]),
])
def test_one_key(key, words):
    done = run(key)
    assert done.returncode == 0, done.stderr
    for word in words:
        assert word in done.stdout, (word, done.stdout)


@pytest.mark.parametrize("key, hint", [
    ("resources.parms", "did you mean 'resources.params'"),
    ("fencing.agent", "'nodes.fencing.agent'"),
    ("firewall.extras", "did you mean 'firewall.extra'"),
])
def test_an_unknown_key_exits_2_with_did_you_mean(key, hint):
    done = run(key)
    assert done.returncode == 2
    assert done.stdout == ""
    assert hint in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_the_whole_reference_states_secrets_first_then_every_key():
    done = run()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Secrets")
    assert done.stdout.index("password_script") < done.stdout.index("[cluster]")
    for document in keys.DOCUMENTS:
        for path in document.paths():
            assert f"  {path}  (" in done.stdout, path
    top = subprocess.run([*OCFGEN, "--help"], capture_output=True, text=True, timeout=60)
    assert "\n  explain " in top.stdout


def test_the_man_page_has_the_reference():
    from ocfpy.generators.cli import manpage

    page = manpage.page()
    assert ".SH SECRETS" in page and ".SH CLUSTER DESCRIPTION" in page
    assert ".SH HOSTS FILE" in page
    for document in keys.DOCUMENTS:
        for path in document.paths():
            assert f"\\fB{path.replace('-', chr(92) + '-')}\\fR" in page, path


@pytest.mark.parametrize("word", ["password", "Passwd", "SECRET", "snmp_secret"])
def test_the_inline_secret_rule_holds(tmp_path, word):
    (tmp_path / "secret.toml").write_text(MORE.replace(
        '{ ip = "198.51.100.1",', f'{{ ip = "198.51.100.1", {word} = "hunter22",'))
    with pytest.raises(description.DescriptionError, match="password_script"):
        description.load(str(tmp_path / "secret.toml"))


@pytest.mark.parametrize("secret, stated, refused", [
    ("k7%Qm2x", "exactly 8 characters", "exactly 8"),
    ("k7%Qm2xPz", "exactly 8 characters", "exactly 8"),
    ("changeme", "well-known defaults", "well-known"),
    ("k7 Qm2xP", "without spaces", "without spaces"),
    ('k7"Qm2xP', "quotes", "quotes"),
    ("k7#Qm2xP", "'#'", "'#'"),
    ("aA1aA1aA", "at least 5 distinct characters", "fewer than 5 distinct"),
    ("13579;=?", "not a simple sequence (abcdefgh, 13579;=?)", "simple sequence"),
    ("k7qm2xpz", "at least three of digits, lower case, upper case and symbols", "three of"),
])
def test_the_stated_vrrp_secret_rules_hold(secret, stated, refused):
    """Each rule `ocfgen explain keepalived.secret_file` states is one check_secret applies."""
    assert stated in explain.secret_rules()[1][1]
    with pytest.raises(KeepalivedError, match=refused):
        check_secret(secret)
    assert check_secret("k7%Qm2xP") == "k7%Qm2xP"
