"""ocf:ocfpy:ducc-head (promotable) and ocf:ocfpy:ducc-agent against a STAND-IN DUCC
installation (tests/ducc_standin: ducc.py starting real daemon processes with DUCC's marks),
including the VIP moving between two head namespaces this test creates."""

import os
import signal
import subprocess
import time

import pytest
from ducc_netns import Heads, in_ns
from ocfrun import AGENT_DIR, pacemaker_environment, run_agent

from ocfpy.agents import ducc_env, procscan

STANDIN_DUCC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ducc_standin", "admin",
                            "ducc.py")
TAG = f"ducc{os.getpid()}"
HEAD = ("broker", "or", "rm", "pm", "sm", "ws")
WS_PORT = 18000 + os.getpid() % 1000  # only ever bound inside this test's namespaces

pytestmark = pytest.mark.timeout(120)


def make_home(path):
    (path / "admin").mkdir(parents=True)
    os.symlink(STANDIN_DUCC, path / "admin" / "ducc.py")
    return str(path)


def kill_home(home):
    """Safety net: every stand-in daemon of this DUCC_HOME goes, whatever a test left."""
    for identity, _ in procscan.with_arguments(lambda argv: f"-DDUCC_HOME={home}" in argv):
        try:
            os.kill(identity.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def home(tmp_path):
    path = make_home(tmp_path / "ducc")
    yield path
    run_agent("ducc-head", "stop", f"{TAG}-head", {"ducc_home": path, "logfile": log_of(path)})
    kill_home(path)


def log_of(home):
    return os.path.join(os.path.dirname(home), "agent.log")


def head(home, action, interval_ms=10000, resource="head", extra=None, **params):
    return run_agent("ducc-head", action, f"{TAG}-{resource}",
                     dict(ducc_home=home, logfile=log_of(home), **params),
                     interval_ms=interval_ms, extra=extra)


def kill_component(home, component):
    found = ducc_env.running(home, (component,))[component]
    assert found, f"{component} is not running"
    for identity in found:
        os.kill(identity.pid, signal.SIGKILL)
    until = time.monotonic() + 5
    while any(i.alive() for i in found) and time.monotonic() < until:
        time.sleep(0.05)


def test_head_daemons_carry_ducc_marks(home):
    assert head(home, "start").rc == 0
    found = ducc_env.running(home, HEAD)
    assert all(len(found[c]) == 1 for c in HEAD), found
    argv = open(f"/proc/{found['rm'][0].pid}/cmdline").read().split("\0")
    assert "-Dducc.deploy.components=rm" in argv
    argv = open(f"/proc/{found['broker'][0].pid}/cmdline").read().split("\0")
    assert any(a.startswith("-DDUCC_BROKER_CREDENTIALS_FILE=") for a in argv)
    assert head(home, "stop").rc == 0
    assert not any(ducc_env.running(home, HEAD).values())


def test_monitor_codes_promoted_and_unpromoted(home):
    assert head(home, "monitor", interval_ms=0).rc == 7
    assert head(home, "start").rc == 0
    assert head(home, "monitor").rc == 0
    promoted = head(home, "promote")
    assert promoted.rc == 0, promoted
    assert head(home, "monitor").rc == 8
    assert head(home, "promote").rc == 0  # again
    kill_component(home, "rm")
    failed = head(home, "monitor")
    assert failed.rc == 9, failed
    assert "rm" in failed.reason
    assert head(home, "promote").rc == 1  # an unhealthy head is not promoted
    assert head(home, "demote").rc == 0  # but can always be demoted on the way to recovery
    assert head(home, "monitor").rc == 1
    assert head(home, "stop").rc == 0
    assert head(home, "monitor").rc == 7
    # start brings back only what is missing; a promoted head whose daemons all died is 9.
    assert head(home, "start").rc == 0
    assert head(home, "promote").rc == 0
    for component in HEAD:
        kill_component(home, component)
    assert head(home, "monitor").rc == 9
    assert head(home, "stop").rc == 0
    assert head(home, "monitor").rc == 7


def test_unreachable_status_url_fails_only_deep_monitors(home):
    url = "http://127.0.0.1:18999/ducc-servlet/cluster-reliable-status"  # nothing listens
    assert head(home, "start", components="rm", status_url=url).rc == 0
    assert head(home, "monitor", components="rm", status_url=url).rc == 0
    deep = head(home, "monitor", components="rm", status_url=url,
                extra={"OCF_CHECK_LEVEL": "20"})
    assert deep.rc == 1 and "refused" in deep.reason, deep
    assert head(home, "stop", components="rm").rc == 0


def test_components_and_start_repairs(home):
    assert head(home, "start", components="broker rm").rc == 0
    assert set(c for c, ids in ducc_env.running(home, HEAD).items() if ids) == {"broker", "rm"}
    kill_component(home, "rm")
    assert head(home, "monitor", components="broker rm").rc == 1
    assert head(home, "start", components="broker rm").rc == 0
    assert head(home, "monitor", components="broker rm").rc == 0
    assert len(ducc_env.running(home, ("broker",))["broker"]) == 1  # --nodup: no second broker
    assert head(home, "stop", components="broker rm").rc == 0


def ducc_agent(action, resource, home):
    return run_agent("ducc-agent", action, f"{TAG}-{resource}",
                     {"ducc_home": home, "logfile": log_of(home)}).rc


def test_another_ducc_home_is_not_ours(home, tmp_path):
    other = make_home(tmp_path / "other" / "ducc")
    try:
        assert ducc_agent("start", "ag", other) == 0
        assert ducc_agent("monitor", "ag", home) == 7
        assert ducc_agent("stop", "ag2", home) == 0
        assert ducc_agent("monitor", "ag", other) == 0
        assert ducc_agent("stop", "ag", other) == 0
        assert ducc_agent("monitor", "ag", other) == 7
    finally:
        kill_home(other)


@pytest.mark.parametrize("params, code, words", [
    ({"components": "broker xx"}, 6, "unknown component(s) xx"),
    ({"components": "rm rm"}, 6, "twice"),
    ({"vip": "10.0.0.1/24"}, 6, "'vip'"),
    ({"vip_interface": "eth0"}, 6, "'vip' must be set when vip_interface is"),
    ({"vip": "10.0.0.1", "vip_prefix": "33"}, 6, "too long for IPv4"),
    ({"status_url": "ftp://host/status"}, 6, "'status_url' must be an http"),
    ({"ducc_home": "/nonexistent/ducc"}, 5, "ducc_home"),
    ({"ducc_home": ""}, 6, "'ducc_home' is required"),
])
def test_bad_configuration(home, params, code, words):
    checked = run_agent("ducc-head", "validate-all", f"{TAG}-bad",
                        dict({"ducc_home": home, "logfile": log_of(home)}, **params))
    assert checked.rc == code, checked
    assert words in checked.reason and "Traceback" not in checked.stderr
    probe = run_agent("ducc-head", "monitor", f"{TAG}-bad",
                      dict({"ducc_home": home, "logfile": log_of(home)}, **params))
    assert probe.rc == 7


@pytest.mark.parametrize("agent", ["ducc-head", "ducc-agent"])
def test_ocf_tester(home, agent):
    done = subprocess.run(["ocf-tester", "-n", f"{TAG}-tester", "-o", f"ducc_home={home}",
                           "-o", f"logfile={log_of(home)}", f"{AGENT_DIR}/{agent}"],
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed all tests" in done.stdout
    if agent == "ducc-head":
        assert "promotable" not in done.stdout  # the promote/demote battery ran
    assert not any(ducc_env.running(home, ducc_env.MARKS).values())


# The VIP: two heads in two namespaces, each with its own DUCC_HOME.

@pytest.fixture
def two_heads(tmp_path):
    pair = Heads()
    homes = {}
    try:
        pair.create()
        homes = {pair.a: make_home(tmp_path / "a"), pair.b: make_home(tmp_path / "b")}
        for path in homes.values():  # the stand-in web server reads these
            os.makedirs(os.path.join(path, "resources"))
            with open(os.path.join(path, "resources", "site.ducc.properties"), "w") as f:
                f.write(f"ducc.head=10.0.0.1\nducc.head.reliable.list=a b\n"
                        f"ducc.ws.port={WS_PORT}\n")
        yield pair, homes
    finally:
        for ns, path in homes.items():
            ns_head(pair, homes, ns, "stop")
            kill_home(path)
        pair.destroy()


def ns_head(pair, homes, ns, action, level=0):
    params = {"ducc_home": homes[ns], "vip": "10.0.0.1", "vip_interface": pair.interface(ns),
              "components": "broker rm ws", "logfile": log_of(homes[ns]),
              "status_url": f"http://127.0.0.1:{WS_PORT}/ducc-servlet/cluster-reliable-status"}
    env = pacemaker_environment(f"{TAG}-{ns}", params, interval_ms=10000,
                                extra={"OCF_CHECK_LEVEL": str(level)})
    done = in_ns(ns, f"{AGENT_DIR}/ducc-head", action, env=env)
    return done


def scores(done):
    """The promotion scores the agent tried to set (outside a cluster crm_attribute fails)."""
    return [int(line.split("-v ")[1].split()[0]) for line in done.stderr.splitlines()
            if "crm_attribute --promotion -v" in line]


def test_promotion_moves_the_vip_and_flips_head_mode(two_heads):
    pair, homes = two_heads
    a, b = pair.a, pair.b
    for ns in (a, b):
        started = ns_head(pair, homes, ns, "start")
        assert started.returncode == 0, started.stderr
        assert 100 in scores(started)
        assert pair.mode(ns, "--vip", "10.0.0.1") == "backup"
    promoted = ns_head(pair, homes, a, "promote")
    assert promoted.returncode == 0, promoted.stderr
    assert pair.mode(a, "--vip", "10.0.0.1") == "master"
    assert pair.mode(b, "--vip", "10.0.0.1") == "backup"
    assert 110 in scores(promoted)  # the VIP holder is preferred: the master stays put
    assert "send_arp" not in promoted.stderr
    assert pair.neighbour_mac(b, "10.0.0.1") == pair.mac(a)  # announced by gratuitous ARP
    assert ns_head(pair, homes, a, "monitor", level=10).returncode == 8
    assert ns_head(pair, homes, b, "monitor", level=10).returncode == 0
    # Depth 20: DUCC's own web server agrees (its stand-in reads the real interfaces).
    assert ns_head(pair, homes, a, "monitor", level=20).returncode == 8
    assert ns_head(pair, homes, b, "monitor", level=20).returncode == 0
    pair.add_vip(b)  # both hold the VIP now: b's web server says master, but b is a backup
    disagree = ns_head(pair, homes, b, "monitor", level=20)
    assert disagree.returncode == 1 and "expected backup" in disagree.stderr, disagree.stderr
    pair.del_vip(b)
    # The VIP taken away behind the agent's back: a promoted head without it has failed.
    pair.del_vip(a)
    assert ns_head(pair, homes, a, "monitor", level=10).returncode == 9
    assert ns_head(pair, homes, a, "monitor", level=0).returncode == 8
    pair.add_vip(a)
    # Fail over: demote a, promote b.
    assert ns_head(pair, homes, a, "demote").returncode == 0
    assert pair.mode(a, "--vip", "10.0.0.1") == "backup"
    assert ns_head(pair, homes, b, "promote").returncode == 0
    assert pair.mode(b, "--vip", "10.0.0.1") == "master"
    assert pair.neighbour_mac(a, "10.0.0.1") == pair.mac(b)
    assert pair.mode(a, "--vip", "10.0.0.1") == "backup"
    assert ns_head(pair, homes, a, "monitor").returncode == 0
    assert ns_head(pair, homes, b, "monitor").returncode == 8
    # Stop on the master takes its VIP away too.
    assert ns_head(pair, homes, b, "stop").returncode == 0
    assert pair.mode(b, "--vip", "10.0.0.1") == "backup"
    assert ns_head(pair, homes, b, "monitor").returncode == 7


def test_vip_the_agent_did_not_add_is_left_alone(two_heads):
    pair, homes = two_heads
    a = pair.a
    pair.add_vip(a)  # put there by someone else (keepalived, an IPaddr2 resource)
    assert ns_head(pair, homes, a, "start").returncode == 0
    assert ns_head(pair, homes, a, "promote").returncode == 0
    assert ns_head(pair, homes, a, "demote").returncode == 0
    assert ns_head(pair, homes, a, "stop").returncode == 0
    assert pair.mode(a, "--vip", "10.0.0.1") == "master"


def test_notify_returns_success(home):
    extra = {"OCF_RESKEY_CRM_meta_notify_type": "pre",
             "OCF_RESKEY_CRM_meta_notify_operation": "promote",
             "OCF_RESKEY_CRM_meta_notify_promote_uname": "node2"}
    done = head(home, "notify", extra=extra)
    assert done.rc == 0, done
    assert "promoting node2" in done.stderr


def test_state_file_never_writes_through_a_planted_symlink(tmp_path):
    """Review fix: the state file's temporary was opened with open(..., "w"), which follows a
    symlink at that name and truncates whatever it points to."""
    from ocfpy.agents.ducc_head import StateFile

    precious = tmp_path / "precious"
    precious.write_text("precious data\n")
    state = StateFile(str(tmp_path / "head.state"))
    os.symlink(precious, f"{state.path}.{os.getpid()}.tmp")
    from ocfpy.codes import OCFError

    with pytest.raises(OCFError, match="File exists"):  # a clean failure, not a traceback
        state.update(role="promoted")
    assert precious.read_text() == "precious data\n"
    os.unlink(f"{state.path}.{os.getpid()}.tmp")
    state.update(role="promoted")
    assert state.read() == {"role": "promoted"}
