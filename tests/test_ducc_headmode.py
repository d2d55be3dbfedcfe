"""ocfpy.headmode: master/backup/unspecified by exact address match, on addresses given and on
real interfaces in two network namespaces this test creates (veth pair, private addresses)."""

import ipaddress
import os
import subprocess

import pytest
from ducc_netns import VENV_BIN, Heads, in_ns

from ocfpy import headmode

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def heads():
    pair = Heads()
    try:
        pair.create()
        yield pair
    finally:
        pair.destroy()


def test_exact_match_not_substring():
    assert headmode.head_mode("10.0.0.1", ["10.0.0.1"]) == headmode.MASTER
    assert headmode.head_mode("10.0.0.1", ["10.0.0.10", "10.0.0.100", "110.0.0.1"]) == \
        headmode.BACKUP
    assert headmode.head_mode("10.0.0.10", ["10.0.0.1"]) == headmode.BACKUP
    assert headmode.head_mode("fd00::0:1", ["fd00::1"]) == headmode.MASTER
    assert headmode.head_mode("fd00::1", ["fd00::10"]) == headmode.BACKUP
    assert headmode.head_mode("", ["10.0.0.1"]) == headmode.UNSPECIFIED
    assert headmode.head_mode(None) == headmode.UNSPECIFIED


def test_bad_vip_is_one_clear_line():
    with pytest.raises(headmode.HeadModeError) as caught:
        headmode.head_mode("10.0.0.1/24", ["10.0.0.1"])
    assert "neither an IP address nor a host name" in str(caught.value)
    with pytest.raises(headmode.HeadModeError) as caught:
        headmode.head_mode("no-such-host.invalid", ["10.0.0.1"])
    assert "does not resolve" in str(caught.value)


def test_local_addresses_include_loopback():
    here = headmode.local_addresses()
    assert ipaddress.ip_address("127.0.0.1") in here
    assert headmode.head_mode("127.0.0.1") == headmode.MASTER


def test_properties(tmp_path):
    default = tmp_path / "default.ducc.properties"
    default.write_text("# comment\nducc.head = 10.0.0.1\nducc.broker.port=61617\n")
    site = tmp_path / "site.ducc.properties"
    assert headmode.mode_from_properties([default], ["10.0.0.1"]) == headmode.UNSPECIFIED
    site.write_text("ducc.head.reliable.list = head1 \\\n    head2\n")
    assert headmode.read_properties(site)["ducc.head.reliable.list"] == "head1 head2"
    assert headmode.mode_from_properties([default, site], ["10.0.0.1"]) == headmode.MASTER
    assert headmode.mode_from_properties([default, site], ["10.0.0.10"]) == headmode.BACKUP
    site.write_text("ducc.head.reliable.list = head1 head2\nducc.head=\n")
    with pytest.raises(headmode.HeadModeError, match="ducc.head .the VIP. is not"):
        headmode.mode_from_properties([default, site], ["10.0.0.1"])


def test_cli_errors(tmp_path):
    done = subprocess.run([f"{VENV_BIN}/ocfpy-ducc-head-mode", "--properties",
                           str(tmp_path / "missing")], capture_output=True, text=True)
    assert done.returncode == 2
    assert "cannot read" in done.stderr and "Traceback" not in done.stderr
    env = {k: v for k, v in os.environ.items() if k != "DUCC_HOME"}
    done = subprocess.run([f"{VENV_BIN}/python3", "-m", "ocfpy.headmode"], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 2 and "DUCC_HOME" in done.stderr


def test_moving_the_vip_flips_master_and_backup(heads, tmp_path):
    # Head a has 10.0.0.10: DUCC's substring test on `ip addr` would call it master already.
    assert "10.0.0.1" in in_ns(heads.a, "ip", "addr").stdout
    assert heads.mode(heads.a, "--vip", "10.0.0.1") == "backup"
    assert heads.mode(heads.b, "--vip", "10.0.0.1") == "backup"
    heads.add_vip(heads.a)
    assert heads.mode(heads.a, "--vip", "10.0.0.1") == "master"
    assert heads.mode(heads.b, "--vip", "10.0.0.1") == "backup"
    heads.del_vip(heads.a)
    heads.add_vip(heads.b)
    assert heads.mode(heads.a, "--vip", "10.0.0.1") == "backup"
    assert heads.mode(heads.b, "--vip", "10.0.0.1") == "master"
    # The same through DUCC's properties files, found via DUCC_HOME like ducc_head_mode.py.
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "site.ducc.properties").write_text(
        "ducc.head=10.0.0.1\nducc.head.reliable.list=heada headb\n")
    env = dict(os.environ, DUCC_HOME=str(tmp_path))
    done = in_ns(heads.b, f"{VENV_BIN}/python3", "-m", "ocfpy.headmode", env=env)
    assert (done.returncode, done.stdout.strip()) == (0, "master"), done.stderr
    done = in_ns(heads.a, f"{VENV_BIN}/python3", "-m", "ocfpy.headmode", env=env)
    assert (done.returncode, done.stdout.strip()) == (0, "backup"), done.stderr
