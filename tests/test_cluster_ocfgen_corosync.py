"""`ocfgen corosync`: corosync.conf and authkey from the examples, checked by corosync -t."""

import os
import re
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest
from ocfrun import OCFGEN

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
DESCRIPTIONS = sorted(name for name in os.listdir(EXAMPLES)
                      if name.endswith(".toml") and "[nodes." in open(os.path.join(EXAMPLES, name)).read())
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="corosync -t in a namespace needs root")


def ocfgen(*args):
    return subprocess.run([*OCFGEN, *args], capture_output=True, text=True, timeout=120)


def nodelist(conf_text):
    return sorted((int(nodeid), name) for name, nodeid in
                  re.findall(r"\tname: (\S+)\n\t\tnodeid: (\d+)\n", conf_text))


@root_only
@pytest.mark.parametrize("example", DESCRIPTIONS)
def test_examples_pass_corosync_t_and_agree_with_the_cib(tmp_path, example):
    description = os.path.join(EXAMPLES, example)
    done = ocfgen("corosync", description, "-o", str(tmp_path / "out"), "--verify")
    assert done.returncode == 0, done.stderr
    assert "corosync -t passed on every node" in done.stderr
    conf = (tmp_path / "out" / "corosync.conf").read_text()
    key = tmp_path / "out" / "authkey"
    assert stat.S_IMODE(key.stat().st_mode) == 0o400 and key.stat().st_size == 256
    secret = key.read_bytes()
    for text in (done.stdout, done.stderr, conf):
        assert secret.hex() not in text and secret.decode("latin-1") not in text
    cib = ocfgen("build", description, "--no-verify")
    assert cib.returncode == 0, cib.stderr
    cib_nodes = sorted((int(n.get("id")), n.get("uname"))
                       for n in ET.fromstring(cib.stdout).iterfind("configuration/nodes/node"))
    assert nodelist(conf) == cib_nodes and cib_nodes


def test_authkey_is_new_each_time_and_kept_unless_asked(tmp_path):
    description = os.path.join(EXAMPLES, DESCRIPTIONS[0])
    first, second = tmp_path / "a", tmp_path / "b"
    assert ocfgen("corosync", description, "-o", str(first)).returncode == 0
    assert ocfgen("corosync", description, "-o", str(second)).returncode == 0
    assert (first / "authkey").read_bytes() != (second / "authkey").read_bytes()
    before = (first / "authkey").read_bytes()
    again = ocfgen("corosync", description, "-o", str(first))
    assert again.returncode == 0 and "(kept)" in again.stderr
    assert (first / "authkey").read_bytes() == before
    renewed = ocfgen("corosync", description, "-o", str(first), "--new-authkey")
    assert renewed.returncode == 0 and (first / "authkey").read_bytes() != before
    assert sorted(p.name for p in first.iterdir()) == ["authkey", "corosync.conf"]


BASE = """[cluster]
name = "bad"

[properties]
stonith-enabled = false
{corosync}
[nodes.n1]
id = 1
addresses = ["{a1}"]

[nodes.n2]
id = {id2}
addresses = ["192.0.2.2"]
{third}"""
THIRD = """
[nodes.n3]
id = 3
addresses = ["192.0.2.3"]
"""


@pytest.mark.parametrize("fields,message", [
    ({"id2": "1"}, r"bad\.toml:\d+:\d+: .*node id 1 is already used by node n1"),
    ({"a1": "192.0.2.300"}, r"bad\.toml:\d+:\d+: .*'192\.0\.2\.300' is not an (IP )?address"),
    ({"corosync": "[corosync]\ntwo_node = true\n", "third": THIRD},
     r"bad\.toml:\d+:\d+: .*two_node is set but the cluster has 3 node"),
])
def test_bad_descriptions_fail_with_a_located_line_and_write_nothing(tmp_path, fields, message):
    values = {"corosync": "", "a1": "192.0.2.1", "id2": "2", "third": ""}
    values.update(fields)
    description = tmp_path / "bad.toml"
    description.write_text(BASE.format(**values))
    out = tmp_path / "out"
    done = ocfgen("corosync", str(description), "-o", str(out))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), lines
    assert not out.exists()


def test_crypto_off_is_warned(tmp_path):
    description = tmp_path / "open.toml"
    description.write_text(BASE.format(corosync="[corosync]\ncrypto = false\n", a1="192.0.2.1",
                                       id2="2", third=""))
    done = ocfgen("corosync", str(description), "-o", str(tmp_path / "out"))
    assert done.returncode == 0
    assert re.search(r"^warning: \S*open\.toml:\d+:\d+: corosync: crypto is off", done.stderr,
                     re.M), done.stderr
    assert "crypto_cipher: none" in (tmp_path / "out" / "corosync.conf").read_text()


@root_only
def test_verify_reports_what_corosync_refuses_and_writes_nothing(tmp_path):
    description = tmp_path / "log.toml"
    description.write_text(BASE.format(
        corosync=f'[corosync]\nlogfile = "{tmp_path}/no/such/dir/corosync.log"\n',
        a1="192.0.2.1", id2="2", third=""))
    done = ocfgen("corosync", str(description), "-o", str(tmp_path / "out"), "--verify")
    assert done.returncode == 1
    assert "corosync -t refuses the file: as node n1: " in done.stderr
    assert "Can't open logfile" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting,expected", [("token_coefficient = 0", "token_coefficient: 0"),
                                              ("token_coefficient = -1", None)])
def test_token_coefficient_from_the_description(tmp_path, setting, expected):
    description = tmp_path / "c.toml"
    description.write_text('[cluster]\nname = "tc"\n\n[corosync]\ntoken = 1000\n' + setting +
                           '\n\n[nodes.n1]\naddresses = ["127.0.0.1"]\n\n'
                           '[properties]\nstonith-enabled = false\n')
    done = ocfgen("corosync", str(description), "-o", str(tmp_path / "out"))
    if expected is None:
        assert done.returncode == 2 and not (tmp_path / "out").exists()
        assert done.stderr.startswith(f"{description}:6:1: corosync.token_coefficient:"), done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert expected in (tmp_path / "out" / "corosync.conf").read_text()


def test_output_paths_that_are_not_ours_are_refused_before_writing(tmp_path):
    """A directory or symlink where the authkey goes, a directory where corosync.conf goes, an
    unwritable output, a key others may read: exit 2, one line, nothing written or kept."""
    description = os.path.join(EXAMPLES, DESCRIPTIONS[0])
    key_dir = tmp_path / "a"
    (key_dir / "authkey").mkdir(parents=True)
    link = tmp_path / "b"
    link.mkdir()
    (link / "authkey").symlink_to(tmp_path / "elsewhere")
    conf_dir = tmp_path / "c"
    (conf_dir / "corosync.conf").mkdir(parents=True)
    for outdir, why in ((key_dir, "authkey: is not a regular file"),
                        (link, "authkey: is not a regular file"),
                        (conf_dir, "corosync.conf: cannot write: is a directory"),
                        (tmp_path / "no" / "such", None)):
        if why is None:
            outdir = "/proc/ocfgen-test"     # cannot be created, even by root
        done = ocfgen("corosync", description, "-o", str(outdir))
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, lines
        assert why is None or why in lines[0], lines
    assert sorted(p.name for p in key_dir.iterdir()) == ["authkey"]
    assert sorted(p.name for p in link.iterdir()) == ["authkey"]
    assert not (tmp_path / "elsewhere").exists()
    weak = tmp_path / "d"
    assert ocfgen("corosync", description, "-o", str(weak)).returncode == 0
    os.chmod(weak / "authkey", 0o644)
    done = ocfgen("corosync", description, "-o", str(weak))
    assert done.returncode == 2 and "readable by others" in done.stderr, done.stderr
    assert ocfgen("corosync", description, "-o", str(weak), "--new-authkey").returncode == 0
    assert stat.S_IMODE(os.stat(weak / "authkey").st_mode) == 0o400


def test_nodes_without_ring_addresses_get_no_corosync_conf(tmp_path):
    """A description may leave addresses out (the CIB needs none); corosync.conf cannot, and
    the rule is corosync.Nodelist's, located at the node."""
    description = tmp_path / "bare.toml"
    description.write_text('[cluster]\nname = "c"\n[properties]\nstonith-enabled = false\n'
                           '[nodes.n1]\n[nodes.n2]\n')
    out = tmp_path / "out"
    done = ocfgen("corosync", str(description), "-o", str(out))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip() == (f"{description}:5:8: nodes.n1: node n1: has no ring addresses: "
                                   f"corosync needs one for every node (one per knet link)")
    assert not out.exists()
