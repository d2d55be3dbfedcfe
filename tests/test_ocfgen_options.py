"""One option vocabulary for ocfgen: -o/--output FILE or -o/--output-dir DIR per kind of output,
--hosts FILE, one --verify/--no-verify running the real tool (crm_verify, systemd-analyze,
keepalived -t, nft -c -f, corosync -t) that names each file it passed, the old spellings still
working with a note on stderr, and no command exiting 0 having done nothing.

keepalived -t and corosync -t run in namespaces ocfgen makes and drops (root); every address
is in 10.213.0.0/24 or the documentation ranges, inside those namespaces only.
"""

import os
import re
import subprocess

import pytest
from ocfrun import OCFGEN

from ocfpy.generators.errors import FAILED, CommandFailed

pytestmark = pytest.mark.root

CLUSTER = """[cluster]
name = "t"
[properties]
stonith-enabled = false
[nodes.n1]
addresses = ["10.213.0.1"]
[nodes.n2]
addresses = ["10.213.0.2"]
"""
SERVICES = """[resources.broker]
agent = "systemd:activemq"
[resources.head]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 600" }
"""
HOSTS = """[units.gateway]
exec_start = ["/usr/bin/sleep", "infinity"]
user = "gw"
[keepalived.HEAD]
virtual_router_id = 51
vip = "10.213.0.100/24"
interface = "eth0"
priorities = { n1 = 150, n2 = 100 }
track = "head"
[firewall]
clients = ["10.213.0.0/24"]
"""
REMOTE = """[remote_nodes.r1]
address = "10.213.0.31"
"""
DEPRECATED = re.compile(r"^warning: (--[a-z-]+) is deprecated; use (--[a-z-]+)$", re.M)


def ocfgen(*args, env=None, cwd=None):
    done = subprocess.run([*OCFGEN, *map(str, args)], capture_output=True, text=True,
                          timeout=180, env=env, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def verified(stderr):
    """{path: tool} of the "PATH: verified by TOOL" lines."""
    return dict(re.findall(r"^(.+): verified by (.+)$", stderr, re.M))


@pytest.fixture
def site(tmp_path):
    (tmp_path / "cluster.toml").write_text(CLUSTER + SERVICES + REMOTE)
    (tmp_path / "hosts.toml").write_text(HOSTS)
    return tmp_path / "cluster.toml", tmp_path / "hosts.toml"


# --verify: the real tool on every file, each passed file named with the tool.

def test_units_verify_names_each_unit_and_dropin(site, tmp_path):
    cluster, hosts = site
    out = tmp_path / "units"
    rc, stdout, stderr = ocfgen("units", cluster, "--hosts", hosts, "-o", out, "--verify")
    assert rc == 0, stderr
    assert verified(stderr) == {
        f"{out}/gateway.service": "systemd-analyze verify",
        f"{out}/activemq.service.d/50-ocfpy-cluster.conf":
            "systemd-analyze verify of activemq.service (a stand-in of the vendor's unit) with it",
    }, stderr
    assert f"{out}/80-ocfpy-cluster.preset" in stdout.split()


def test_firewall_verify_names_each_ruleset(site, tmp_path):
    cluster, hosts = site
    rc, _, stderr = ocfgen("firewall", cluster, "--hosts", hosts, "-o", tmp_path / "nft")
    assert rc == 0, stderr
    assert verified(stderr) == {f"{tmp_path}/nft/n1.nft": "nft -c -f",
                                f"{tmp_path}/nft/n2.nft": "nft -c -f"}, stderr


def test_keepalived_verify_runs_keepalived_t_as_each_node(site, tmp_path):
    cluster, hosts = site
    out = tmp_path / "ka"
    rc, _, stderr = ocfgen("keepalived", cluster, "--hosts", hosts, "-o", out, "--verify")
    assert rc == 0, stderr
    lines = verified(stderr)
    for node in ("n1", "n2"):
        base = f"{out}/{node}/etc/keepalived"
        assert lines.pop(f"{base}/keepalived.conf") == f"keepalived -t as {node} (interface eth0)"
        for script in ("HEAD-track", "HEAD-notify"):
            assert lines.pop(f"{base}/ocfpy/{script}").startswith("sh -n and keepalived -t")
    assert lines == {}, stderr
    # Nothing of this host was touched: its /etc/keepalived holds no ocfgen file.
    assert not os.path.exists("/etc/keepalived/ocfpy")


def test_keepalived_checker_reports_what_keepalived_refuses():
    """The checker can fail: a configuration keepalived -t refuses (an unknown keyword, as a
    hand edit would leave) exits 1 with keepalived's own line."""
    from ocfpy.generators.render.keepalived import VipPair, VrrpPeer
    from ocfpy.generators.verify import hostverify

    pair = VipPair("HEAD", 51, "10.213.0.100/24", (VrrpPeer("n1", "eth0", "10.213.0.1", 150),
                                                    VrrpPeer("n2", "eth0", "10.213.0.2", 100)))
    broken = "vrrp_instance HEAD {\n    bogus_keyword 1\n}\n"
    with pytest.raises(CommandFailed) as refused:
        hostverify.keepalived([pair], [("n1/etc/keepalived/keepalived.conf", broken, 0o644)])
    assert refused.value.code == FAILED
    assert refused.value.message.startswith("keepalived -t n1/etc/keepalived/keepalived.conf "
                                            "(as n1): ")
    assert "Unknown keyword 'bogus_keyword'" in refused.value.message


def test_nft_checker_reports_what_nft_refuses():
    from ocfpy.generators.verify import hostverify

    with pytest.raises(CommandFailed) as refused:
        hostverify.nft([("n1.nft", "table inet t {\n  chain c {\n    tcp dport 99999 accept\n"
                                   "  }\n}\n", 0o644)])
    assert refused.value.code == FAILED and refused.value.message.startswith("nft -c -f n1.nft: ")


def test_build_verify_names_the_cib_and_crm_verify(site, tmp_path):
    cluster, _ = site
    rc, _, stderr = ocfgen("build", cluster, "-o", tmp_path / "cib.xml")
    assert rc == 0, stderr
    assert verified(stderr) == {f"{tmp_path}/cib.xml": "crm_verify"}, stderr
    rc, stdout, stderr = ocfgen("build", cluster)
    assert rc == 0 and stdout.startswith("<cib")
    assert verified(stderr) == {"standard output": "crm_verify"}, stderr


def test_corosync_verify_names_the_file_and_each_node(site, tmp_path):
    cluster, _ = site
    rc, _, stderr = ocfgen("corosync", cluster, "-o", tmp_path / "c")
    assert rc == 0, stderr
    assert verified(stderr) == {f"{tmp_path}/c/corosync.conf": "corosync -t as n1, n2"}, stderr


def test_remote_verify_names_its_ruleset(site, tmp_path):
    cluster, _ = site
    rc, _, stderr = ocfgen("remote", cluster, "-o", tmp_path / "r")
    assert rc == 0, stderr
    assert verified(stderr) == {
        f"{tmp_path}/r/etc/nftables.d/pacemaker-remote.nft": "nft -c -f"}, stderr


@pytest.mark.parametrize("command", ["units", "keepalived", "firewall", "corosync", "remote",
                                     "build"])
def test_no_verify_verifies_nothing(site, tmp_path, command):
    cluster, hosts = site
    extra = ["--hosts", hosts] if command in ("units", "keepalived", "firewall") else []
    rc, _, stderr = ocfgen(command, cluster, *extra, "-o", tmp_path / "out", "--no-verify")
    assert rc == 0, stderr
    assert "verified by" not in stderr and "not verified" not in stderr, stderr


def test_a_tool_that_cannot_run_is_said_by_default_and_refused_when_asked(site, tmp_path):
    """No systemd-analyze on PATH: by default a warning says the units were not verified (they
    are written); an explicit --verify exits 2 and writes nothing."""
    cluster, hosts = site
    env = dict(os.environ, PATH=str(tmp_path / "empty"))
    rc, _, stderr = ocfgen("units", cluster, "--hosts", hosts, "-o", tmp_path / "a", env=env)
    assert rc == 0 and (tmp_path / "a" / "gateway.service").exists(), stderr
    assert ("warning: not verified: systemd-analyze is not installed (--no-verify: do not try)"
            in stderr.splitlines()), stderr
    rc, stdout, stderr = ocfgen("units", cluster, "--hosts", hosts, "-o", tmp_path / "b",
                                "--verify", env=env)
    assert (rc, stdout) == (2, "") and not (tmp_path / "b").exists()
    assert stderr == "--verify: systemd-analyze is not installed\n", stderr


# The old spellings: still working, with a note on stderr, hidden from --help.

@pytest.mark.parametrize("command, old, new", [
    ("units", "--outputs", "--hosts"),
    ("keepalived", "--outputs", "--hosts"),
    ("firewall", "--outputs", "--hosts"),
    ("firewall", "--check", "--verify"),
    ("firewall", "--no-check", "--no-verify"),
    ("corosync", "--output", "--output-dir"),
    ("remote", "--output", "--output-dir"),
])
def test_old_spellings_work_and_say_the_new_one(site, tmp_path, command, old, new):
    cluster, hosts = site
    out = tmp_path / "out"
    if old == "--outputs":
        args = [old, hosts, "-o", out]
    elif old == "--output":
        args = [old, out]
    else:
        args = ["--hosts", hosts, "-o", out, old]
    rc, stdout, stderr = ocfgen(command, cluster, *args)
    assert rc == 0, stderr
    assert DEPRECATED.findall(stderr) == [(old, new)], stderr
    assert os.listdir(out)
    if old == "--check":
        assert verified(stderr) and all(t == "nft -c -f" for t in verified(stderr).values())
    if old == "--no-check":
        assert not verified(stderr)
    spelt = set(re.findall(r"--[a-z-]+", ocfgen(command, "--help")[1]))
    assert new in spelt and old not in spelt, spelt


def test_old_and_new_spelling_together_are_refused(site, tmp_path):
    cluster, hosts = site
    rc, stdout, stderr = ocfgen("units", cluster, "--hosts", hosts, "--outputs", hosts, "-o",
                                tmp_path / "out")
    assert (rc, stdout) == (2, "") and not (tmp_path / "out").exists()
    assert "Error: --outputs is the old name of --hosts: give only --hosts" in stderr


def test_help_says_file_or_directory(tmp_path):
    """Per kind of output one spelling: FILE for one file, DIR for several."""
    for command in ("build", "graph", "import", "appliances"):
        assert re.search(r"-o, --output FILE\b", ocfgen(command, "--help")[1]), command
    for command in ("units", "keepalived", "firewall", "corosync", "remote"):
        text = ocfgen(command, "--help")[1]
        assert re.search(r"-o, --output-dir DIR\b", text) and "--verify / --no-verify" in text, \
            command
        assert "[default: verify when the tool can run here" in " ".join(text.split()), command
    for command in ("units", "keepalived", "firewall"):
        assert "--hosts FILE" in ocfgen(command, "--help")[1]


def test_a_missing_output_dir_is_a_usage_error(site):
    cluster, hosts = site
    rc, _, stderr = ocfgen("units", cluster, "--hosts", hosts)
    assert rc == 2 and "Error: Missing option '-o/--output-dir'." in stderr


# Nothing to do: exit 2 and why, nothing written.

EMPTY = '[cluster]\nname = "e"\n[properties]\nstonith-enabled = false\n'
FENCED = CLUSTER.replace('[nodes.n2]', '[[nodes.n1.fencing]]\nagent = "fence_ipmilan"\nparams = '
                         '{ ip = "198.51.100.1", username = "admin", password_script = '
                         '"/etc/cluster/ipmi-password" }\n[nodes.n2]')


@pytest.mark.parametrize("description, hosts, args, why", [
    (CLUSTER, None, ["units"], "cluster.toml: nothing to write: no systemd: resource in the "
     "description, and no --hosts file given (its [units.NAME] tables describe them)"),
    (CLUSTER, "[firewall]\n", ["units"], "cluster.toml: nothing to write: no systemd: resource "
     "in the description, and {hosts} has no [units.NAME] table"),
    (CLUSTER, None, ["keepalived"], "nothing to write: no VIP pair: no --hosts file given (its "
     "[keepalived.NAME] tables describe them)"),
    (CLUSTER, "[firewall]\n", ["keepalived"], "nothing to write: no VIP pair: {hosts} has no "
     "[keepalived.NAME] table"),
    (EMPTY, None, ["firewall"], "cluster.toml: nothing to write: the description has no "
     "[nodes.NAME] table to write a ruleset for"),
    (EMPTY, None, ["corosync"], "cluster.toml: the description has no [nodes.*] tables"),
    (CLUSTER, None, ["remote"], "cluster.toml: nothing to write: the description has no "
     "[remote_nodes.NAME] tables"),
])
def test_writers_with_nothing_to_write_exit_2(tmp_path, description, hosts, args, why):
    (tmp_path / "cluster.toml").write_text(description)
    extra = []
    if hosts is not None:
        (tmp_path / "hosts.toml").write_text(hosts)
        extra = ["--hosts", tmp_path / "hosts.toml"]
    out = tmp_path / "out"
    rc, stdout, stderr = ocfgen(*args, tmp_path / "cluster.toml", *extra, "-o", out)
    assert (rc, stdout) == (2, ""), stderr
    assert stderr.strip().endswith(why.format(hosts=tmp_path / "hosts.toml")), stderr
    assert not out.exists()


@pytest.mark.parametrize("description, args, why", [
    (CLUSTER, ["graph", "-o", "g.svg"],
     "cluster.toml: nothing to draw: the description has no resources"),
    (FENCED, ["graph", "-o", "g.svg"],
     "cluster.toml: nothing to draw: the description has no resources but fence devices: add "
     "--fencing"),
    (CLUSTER, ["alerts"], "cluster.toml: nothing to print: the description has no "
     "[alerts.NAME] table"),
    (CLUSTER, ["appliances", "-o", "a.xml"], "cluster.toml: no ocf:ocfpy:archiver resource"),
])
def test_description_commands_with_nothing_to_do_exit_2(tmp_path, description, args, why):
    (tmp_path / "cluster.toml").write_text(description)
    rc, stdout, stderr = ocfgen(args[0], "cluster.toml", *args[1:], cwd=tmp_path)
    assert (rc, stdout, stderr) == (2, "", why + "\n")
    assert os.listdir(tmp_path) == ["cluster.toml"]


def test_graph_with_fencing_draws_the_fence_devices(tmp_path):
    (tmp_path / "cluster.toml").write_text(FENCED)
    rc, stdout, stderr = ocfgen("graph", "cluster.toml", "--fencing", cwd=tmp_path)
    assert rc == 0 and "fence_ipmilan" in stdout, stderr


def test_report_without_any_event_exits_2(tmp_path):
    empty, other = tmp_path / "empty.jsonl", tmp_path / "other.log"
    empty.write_text("")
    other.write_text("not a history line\nnor this\n")
    rc, stdout, stderr = ocfgen("report", empty)
    assert (rc, stdout) == (2, "")
    assert stderr == f"report: nothing to report: no history events in {empty}\n"
    rc, _, stderr = ocfgen("report", other, "--json")
    assert rc == 2 and stderr == (f"report: nothing to report: no history events in {other} "
                                  f"(2 lines are not history events)\n")
    # A period without events in a log that has some is an answer: 0 events.
    other.write_text('{"time": 1000, "event": "node", "node": "n1", "desc": "lost"}\n')
    rc, stdout, stderr = ocfgen("report", other, "--since", "2000-01-01T00:00")
    assert rc == 0 and "0 events" in stdout, stderr


def test_history_without_checkpoints_exits_2(tmp_path):
    cib = tmp_path / "live.xml"
    cib.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                                  check=True).stdout)
    env = dict(os.environ, CIB_file=str(cib), OCFGEN_STATE_DIR=str(tmp_path / "state"))
    rc, stdout, stderr = ocfgen("history", env=env)
    assert (rc, stdout) == (2, ""), stderr
    assert re.fullmatch(rf"no checkpoints in {tmp_path}/state/checkpoints/\S+: nothing was "
                        r"pushed from here yet\n", stderr), stderr
