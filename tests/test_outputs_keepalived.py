"""ocfgen's keepalived output: refused inputs, `keepalived -t` on every variant inside a network
namespace that has the named interface, and two real keepalived instances in two namespaces
joined by a veth pair, where killing the tracked service moves the VIP.

Namespaces are named ocfk<pid>a/b and use 10.213.0.0/24 only inside them; keepalived and the
tracked services are stopped and the namespaces deleted by the fixtures, also on failure.
"""

import os
import re
import signal
import subprocess
import time

import pytest
from ocfrun import run_agent

from ocfpy.generators.render.keepalived import (
    KeepalivedError,
    Layout,
    TrackedAgent,
    VipPair,
    VrrpPeer,
    check_secret,
    render_node,
)
from ocfpy.generators.render.output_files import write_file

pytestmark = pytest.mark.root
PREFIX = f"ocfk{os.getpid()}"
VIP = "10.213.0.100/24"
GOOD_SECRET = "q7%Vt2&x"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@pytest.fixture(scope="module")
def namespaces():
    """Two namespaces, each with a veth0 end of one veth pair: a 10.213.0.1, b 10.213.0.2."""
    a, b = f"{PREFIX}a", f"{PREFIX}b"
    try:
        ip("netns", "add", a)
        ip("netns", "add", b)
        ip("link", "add", f"{PREFIX}x", "netns", a, "type", "veth", "peer", "name", f"{PREFIX}y",
           "netns", b)
        for ns, end, address in ((a, f"{PREFIX}x", "10.213.0.1/24"), (b, f"{PREFIX}y", "10.213.0.2/24")):
            ip("-n", ns, "link", "set", end, "name", "veth0")
            ip("-n", ns, "addr", "add", address, "dev", "veth0")
            ip("-n", ns, "link", "set", "veth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield a, b
    finally:
        ip("netns", "del", a, check=False)
        ip("netns", "del", b, check=False)


def pair(**changes):
    fields = dict(
        name="DUCC_HEAD", virtual_router_id=51, vip=VIP,
        peers=(VrrpPeer("head1", "veth0", "10.213.0.1", 150),
               VrrpPeer("head2", "veth0", "10.213.0.2", 100)),
        track=TrackedAgent("daemon", "broker", (("command", "/bin/sleep 600"),)),
    )
    fields.update(changes)
    return VipPair(**fields)


def layout(base, node):
    return Layout(config=f"{base}/{node}/keepalived.conf", script_dir=f"{base}/{node}/scripts",
                  state_dir=f"{base}/{node}/state")


def write(files):
    for f in files:
        write_file(f.path, f.text, f.mode)


def config_test(namespace, path):
    done = subprocess.run(["ip", "netns", "exec", namespace, "keepalived", "-t", "-f", path],
                          capture_output=True, text=True, timeout=30)
    return done.returncode, (done.stdout + done.stderr).strip()


# Refused descriptions: each names what is wrong.

@pytest.mark.parametrize("secret, why", [
    ("1111", "well-known"),
    ("x7#Q", "4 characters"),
    ("11111111", "well-known"),
    ("password", "well-known"),
    ("12345678", "well-known"),
    ("abcdefgh", "well-known"),
    ("aaaabbbb", "distinct"),
    ("qwertyui", "three of"),
    ("q7%Vt2&xz", "9 characters"),
    ("q7#Vt2%x", "without spaces"),
    ("q7 Vt2!x", "printable"),
    ("", "empty"),
])
def test_weak_or_malformed_secret_refused(secret, why):
    with pytest.raises(KeepalivedError, match=why):
        check_secret(secret, "/etc/ocfpy/vrrp.secret")
    with pytest.raises(KeepalivedError, match="/etc/ocfpy/vrrp.secret"):
        render_node(pair(secret=secret, secret_origin="/etc/ocfpy/vrrp.secret"), "head1")


@pytest.mark.parametrize("changes, why", [
    (dict(peers=(VrrpPeer("head1", "veth0", "10.213.0.1", 100),
                 VrrpPeer("head2", "veth0", "10.213.0.2", 100))), "priority 100; they must differ"),
    (dict(peers=(VrrpPeer("head1", "lo", "10.213.0.1", 150),
                 VrrpPeer("head2", "veth0", "10.213.0.2", 100))), "loopback"),
    (dict(peers=(VrrpPeer("head1", "veth0", "127.0.0.2", 150),
                 VrrpPeer("head2", "veth0", "10.213.0.2", 100))), "loopback"),
    (dict(peers=(VrrpPeer("head1", "veth0", "10.213.0.1", 255),
                 VrrpPeer("head2", "veth0", "10.213.0.2", 100))), "1-254"),
    (dict(virtual_router_id=0), "virtual_router_id"),
    (dict(vip="10.213.0.100"), "prefix"),
    (dict(vip="10.213.0.1/24"), "own address"),
    (dict(track=TrackedAgent("nosuch", "x")), "not an ocfpy agent"),
    (dict(track=TrackedAgent("daemon", "x", (("comand", "/bin/true"),))), "no parameter 'comand'"),
    (dict(track=TrackedAgent("daemon", "x")), "requires parameter 'command'"),
])
def test_unsound_pair_refused(changes, why):
    with pytest.raises(KeepalivedError, match=re.escape(why)):
        render_node(pair(**changes), "head1")


def test_no_secret_means_vrrp3_and_nothing_secret_is_written(tmp_path):
    files = render_node(pair(), "head1", layout(tmp_path, "head1"))
    config = files[0].text
    assert "vrrp_version 3" in config
    assert "auth_pass" not in config and "auth_type" not in config and "authentication {" not in config


def test_secret_config_is_mode_0600(tmp_path):
    files = render_node(pair(secret=GOOD_SECRET + "\n"), "head1", layout(tmp_path, "head1"))
    write(files)
    config = files[0]
    assert f"auth_pass {GOOD_SECRET}\n" in config.text and "vrrp_version 2" in config.text
    assert os.stat(config.path).st_mode & 0o777 == 0o600
    for f in files[1:]:           # the track wrapper may carry parameters: root only
        assert os.stat(f.path).st_mode & 0o777 == 0o700


# keepalived -t on every variant, on both nodes, inside the namespaces.

@pytest.mark.parametrize("variant", ["vrrp3-unicast-track", "vrrp3-multicast", "pass-secret",
                                     "no-track-notify-command"])
def test_generated_configs_pass_keepalived_t(namespaces, tmp_path, variant):
    changes = {
        "vrrp3-unicast-track": {},
        "vrrp3-multicast": dict(unicast=False),
        "pass-secret": dict(secret=GOOD_SECRET),
        "no-track-notify-command": dict(track=None, notify_command=("/usr/bin/logger", "-t", "x")),
    }[variant]
    for namespace, node in zip(namespaces, ("head1", "head2")):
        files = render_node(pair(**changes), node, layout(tmp_path, node))
        write(files)
        rc, output = config_test(namespace, files[0].path)
        assert (rc, output) == (0, ""), files[0].text


def test_config_test_catches_a_broken_config(namespaces, tmp_path):
    """The harness above can fail: a missing interface and an over-long auth_pass are caught."""
    files = render_node(pair(secret=GOOD_SECRET), "head1", layout(tmp_path, "head1"))
    broken = files[0].text.replace(f"auth_pass {GOOD_SECRET}", "auth_pass 123456789")
    write_file(files[0].path, broken, 0o600)
    rc, output = config_test(namespaces[0], files[0].path)
    assert rc != 0 and "Truncating auth_pass" in output
    write_file(files[0].path, files[0].text.replace("veth0", "veth9"), 0o600)
    rc, output = config_test(namespaces[0], files[0].path)
    assert rc != 0 and "veth9" in output


# Two real keepalived instances: the VIP follows the tracked service.

def holds_vip(namespace):
    out = ip("-n", namespace, "-4", "-o", "addr", "show", "dev", "veth0").stdout
    return " 10.213.0.100/24 " in out


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def pair_running(namespaces, tmp_path):
    """Per node: the tracked service (ocf:ocfpy:daemon running sleep) and keepalived."""
    processes, services = [], []
    nodes = []
    try:
        for namespace, node in zip(namespaces, ("head1", "head2")):
            # On real nodes the pidfile default differs per host; here the nodes share a
            # filesystem, so each gets its own pidfile.
            params = {"command": "/bin/sleep 600", "pidfile": f"{tmp_path}/{node}/broker.pid"}
            track = TrackedAgent("daemon", "broker", tuple(params.items()), interval=1, timeout=5,
                                 fall=1, rise=1)
            files = render_node(pair(track=track), node, layout(tmp_path, node))
            write(files)
            outcome = run_agent("daemon", "start", "broker", params)
            assert outcome.rc == 0, outcome
            services.append(params)
            log = open(f"{tmp_path}/{node}/keepalived.log", "w")
            processes.append(subprocess.Popen(
                ["ip", "netns", "exec", namespace, "keepalived", "--dont-fork", "--vrrp",
                 "--log-console", "--no-syslog", "--log-detail", "-f", files[0].path,
                 "-p", f"{tmp_path}/{node}/keepalived.pid", "-r", f"{tmp_path}/{node}/vrrp.pid"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            log.close()
            nodes.append((namespace, node, params))
        yield nodes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for params in services:
            run_agent("daemon", "stop", "broker", params, timeout_ms=10000)


def state(tmp_path, node):
    try:
        with open(f"{tmp_path}/{node}/state/DUCC_HEAD.state") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def test_vip_moves_when_tracked_service_dies(pair_running, tmp_path):
    (ns1, head1, params1), (ns2, head2, _) = pair_running
    wait_for(lambda: holds_vip(ns1), 15, "head1 (priority 150) to take the VIP")
    wait_for(lambda: state(tmp_path, head1) == "MASTER" and state(tmp_path, head2) == "BACKUP",
             5, "the notify scripts to record MASTER/BACKUP")
    assert not holds_vip(ns2)

    with open(params1["pidfile"]) as f:
        pid = int(re.search(r"^pid=(\d+)$", f.read(), re.M).group(1))
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)            # the tracked service dies on head1
    wait_for(lambda: holds_vip(ns2) and not holds_vip(ns1), 15, "the VIP to move to head2")
    print(f"VIP moved {time.monotonic() - killed:.1f}s after the tracked service died "
          "(track interval 1 s, fall 1, advert_int 1)")
    wait_for(lambda: state(tmp_path, head1) == "FAULT" and state(tmp_path, head2) == "MASTER",
             5, "the notify scripts to record FAULT/MASTER")
    with open(f"{tmp_path}/{head1}/keepalived.log") as f:
        assert "DUCC_HEAD_monitor) failed (exited with status 7)" in f.read()
