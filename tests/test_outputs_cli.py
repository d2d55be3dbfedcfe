"""ocfgen units / keepalived / firewall from a cluster description and its hosts file (--hosts):
the real validators accept what they write, refusals are one located line with exit code 2,
secrets are checked and written 0600. The namespace (ocfk<pid>c) holds only an eth0/eth1
veth pair for `keepalived -t`, and is deleted at the end; the generated /etc/keepalived is
bind-mounted in a private mount namespace of each check only.
"""

import os
import subprocess

import pytest
from ocfrun import OCFGEN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
PREFIX = f"ocfk{os.getpid()}"

CLUSTER = """
[cluster]
name = "t"
[properties]
stonith-enabled = false
[nodes.n1]
addresses = ["10.213.0.1"]
[nodes.n2]
addresses = ["10.213.0.2"]
[resources.broker]
agent = "systemd:activemq"
[resources.web]
agent = "systemd:ducc-ws.service"
[resources.head]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 600" }
"""


def ocfgen(*args):
    done = subprocess.run([*OCFGEN, *map(str, args)], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr.strip()


@pytest.fixture
def described(tmp_path):
    (tmp_path / "cluster.toml").write_text(CLUSTER)

    def with_hosts(text):
        (tmp_path / "hosts.toml").write_text(text)
        return tmp_path / "cluster.toml", tmp_path / "hosts.toml"

    return with_hosts


def test_units_writes_verified_units_dropins_and_preset(described, tmp_path):
    cluster, hosts = described('[units.ducc-ws]\nexec_start = ["/usr/bin/sleep", "infinity"]\n'
                               'user = "ducc"\njit = true\n'
                               '[units.gateway]\nexec_start = ["/usr/bin/socat", "-h"]\n'
                               'user = "gw"\nenabled = true\n')
    rc, out, err = ocfgen("units", cluster, "--hosts", hosts, "-o", tmp_path / "out")
    assert rc == 0, err
    written = sorted(os.path.relpath(p, tmp_path / "out") for p in out.split())
    assert written == ["80-ocfpy-cluster.preset", "activemq.service.d/50-ocfpy-cluster.conf",
                       "ducc-ws.service", "gateway.service"]
    ducc_ws = (tmp_path / "out" / "ducc-ws.service").read_text()
    assert "ConditionPathExists=|/run/systemd/system/ducc-ws.service.d/50-pacemaker.conf" in ducc_ws
    assert "[Install]" not in ducc_ws.split("[Unit]", 1)[1]
    assert "WantedBy=multi-user.target" in (tmp_path / "out" / "gateway.service").read_text()


def test_units_refuses_pacemaker_managed_and_enabled(described, tmp_path):
    cluster, hosts = described('[units.ducc-ws]\nexec_start = ["/usr/bin/sleep", "infinity"]\n'
                               'enabled = true\n')
    rc, out, err = ocfgen("units", cluster, "--hosts", hosts, "-o", tmp_path / "out")
    assert rc == 2 and out == "" and not (tmp_path / "out").exists()
    assert err.startswith(f"{hosts}:3:1: units.ducc-ws.enabled: unit ducc-ws is managed by "
                          "Pacemaker as resource 'web'"), err
    assert "cluster.toml:12" in err and "\n" not in err


def test_units_verify_failure_is_reported(described, tmp_path):
    cluster, hosts = described('[units.tool]\nexec_start = ["/usr/bin/no-such-tool"]\n')
    rc, _, err = ocfgen("units", cluster, "--hosts", hosts, "-o", tmp_path / "out")
    assert rc == 1 and "systemd-analyze verify tool.service" in err and "not executable" in err


@pytest.mark.parametrize("hosts, why", [
    ("[units.x]\nuser = 'a'\n", "hosts.toml:1:8: units.x: missing key 'exec_start'"),
    ("[units.x]\nexec_start = '/bin/true'\n",
     "hosts.toml:2:1: units.x.exec_start: must be a list, not a string"),
    ("[units.x]\nexec_start = ['/bin/true']\nrestrat = 'always'\n",
     "hosts.toml:3:1: units.x.restrat: unknown key 'restrat'"),
    ("[firewal]\n", "hosts.toml:1:2: firewal: unknown key 'firewal' (did you mean 'firewall'?)"),
    ("[keepalived.P]\nvirtual_router_id = 5\nvip = '10.213.0.9/24'\ninterface = 'eth0'\n"
     "priorities = { n1 = 150, n9 = 100 }\n",
     "hosts.toml:5:26: keepalived.P.priorities.n9: 'n9' is not a node of the description"),
    ("[keepalived.P]\nvirtual_router_id = 5\nvip = '10.213.0.9/24'\ninterface = 'eth0'\n"
     "priorities = { n1 = 150, n2 = 100 }\ntrack = 'broker'\n",
     "hosts.toml:6:1: keepalived.P.track: resource broker runs systemd:activemq"),
    ("[firewall]\nclients = ['10.213.0.0/33']\n", "is not an address or network"),
    ("[firewall]\nextra = 5\n", "hosts.toml:2:1: firewall.extra: must be an array of tables"),
    ("[firewall]\nadmin_ports = [22, 0]\n", "hosts.toml:2:20: firewall.admin_ports[1]: port 0 is not"),
])
def test_bad_host_outputs_are_located(described, tmp_path, hosts, why):
    cluster, path = described(hosts)
    command = "keepalived" if "keepalived" in hosts else "firewall" if "firewall" in hosts else "units"
    rc, out, err = ocfgen(command, cluster, "--hosts", path, "-o", tmp_path / "out")
    assert rc == 2 and why in err and "Traceback" not in err, err
    assert err.startswith(f"{path}:") and "\n" not in err and out == "", err
    assert not (tmp_path / "out").exists()



def test_every_hosts_file_error_is_reported_in_one_run():
    """The hosts file is read as the description is: each item on its own, every error located
    and reported at once, in file order."""
    from ocfpy.generators.load import hosts as host_outputs

    text = ("[units.x]\nuser = 'a'\n"
            "[units.y]\nexec_start = '/bin/true'\n"
            "[firewall]\nadmin_ports = [22, 0]\n"
            "[[firewall.extra]]\nservice = 'web'\nprotocol = 'tcp'\nports = 'http'\n")
    with pytest.raises(host_outputs.HostOutputsError) as caught:
        host_outputs.loads(text, "hosts.toml")
    assert str(caught.value).splitlines() == [
        "hosts.toml:1:8: units.x: missing key 'exec_start' (the command as a list of words)",
        "hosts.toml:4:1: units.y.exec_start: must be a list, not a string",
        "hosts.toml:6:20: firewall.admin_ports[1]: port 0 is not 1-65535",
        "hosts.toml:10:1: firewall.extra[0].ports: must be a list of ports and [first, last] "
        "ranges"]


PAIR = """
[keepalived.HEAD]
virtual_router_id = 51
vip = "10.213.0.100/24"
interface = "eth0"
priorities = { n1 = 150, n2 = 100 }
track = "head"
"""


@pytest.fixture(scope="module")
def eth0_namespace():
    name = f"{PREFIX}c"
    try:
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "link", "add", "eth0", "netns", name, "type", "veth", "peer", "name",
                        "eth1", "netns", name], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.mark.parametrize("secret, rc, why", [
    (None, 0, ""),
    ("Zq4%mT8&", 0, ""),
    ("1111", 2, "well-known default"),
    ("abcdefgh", 2, "well-known default"),
])
def test_keepalived_from_description(described, tmp_path, eth0_namespace, secret, rc, why):
    text = PAIR
    if secret is not None:
        secret_file = tmp_path / "vrrp.secret"
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (secret + "\n").encode())
        os.close(fd)
        text += f'secret_file = "{secret_file}"\n'
    cluster, hosts = described(text)
    code, out, err = ocfgen("keepalived", cluster, "--hosts", hosts, "-o", tmp_path / "out")
    assert code == rc, err
    if rc:
        assert why in err and str(tmp_path / "vrrp.secret") in err and not out
        return
    for node in ("n1", "n2"):
        config = tmp_path / "out" / node / "etc/keepalived/keepalived.conf"
        assert (os.stat(config).st_mode & 0o777) == (0o600 if secret else 0o644)
        track = (tmp_path / "out" / node / "etc/keepalived/ocfpy/HEAD-track").read_text()
        assert "OCF_RESOURCE_INSTANCE=head;" in track and "OCF_RESKEY_command='/bin/sleep 600'" in track
        # Checked as installed: the node's /etc/keepalived (config and the scripts it names)
        # bind-mounted over /etc/keepalived in a private mount namespace of this one command.
        done = subprocess.run(
            ["ip", "netns", "exec", eth0_namespace, "unshare", "-m", "--propagation", "private",
             "sh", "-c", 'mount --bind "$1" /etc/keepalived && exec keepalived -t -f '
             "/etc/keepalived/keepalived.conf", "sh", str(config.parent)],
            capture_output=True, text=True, timeout=30)
        assert (done.returncode, done.stdout + done.stderr) == (0, ""), done.stdout + done.stderr
    if secret:
        assert f"auth_pass {secret}\n" in (tmp_path / "out/n1/etc/keepalived/keepalived.conf").read_text()


def test_keepalived_refuses_a_secret_file_others_can_read(described, tmp_path):
    secret_file = tmp_path / "vrrp.secret"
    secret_file.write_text("Zq4%mT8&\n")
    os.chmod(secret_file, 0o644)
    cluster, hosts = described(PAIR + f'secret_file = "{secret_file}"\n')
    rc, _, err = ocfgen("keepalived", cluster, "--hosts", hosts, "-o", tmp_path / "out")
    assert rc == 2 and "readable by others (mode 0644); chmod 600 it" in err


@pytest.mark.parametrize("example, expect", [
    ("acs-alma", "tcp dport { 3000-3007, 3011-3013, 3050-3100 } accept"),
    ("clara-epics", 'udp dport 5065 accept comment "EPICS CA repeater (beacons)"'),
    ("clara-epics", 'udp sport 5064 accept comment "EPICS CA search replies"'),
    ("ducc-heads", "ip saddr 192.0.2.32 ip protocol vrrp accept"),
])
def test_firewall_for_the_examples_passes_nft_check(tmp_path, example, expect):
    args = ["firewall", os.path.join(EXAMPLES, f"{example}.toml"), "-o", tmp_path, "--verify"]
    hosts = os.path.join(EXAMPLES, f"{example}-hosts.toml")
    if os.path.exists(hosts):
        args += ["--hosts", hosts]
    rc, out, err = ocfgen(*args)
    assert rc == 0, err
    first = open(out.split()[0]).read()
    assert expect in first, first


def test_host_outputs_are_all_or_nothing_and_replace_only_ours(described, tmp_path):
    """A hand-written file where an output goes: exit 2, one line, that file untouched and no
    other output written. A second run replaces what the first wrote."""
    cluster, hosts = described("[firewall]\nclients = ['10.213.0.0/24']\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "n2.nft").write_text("# my own rules\n")
    rc, stdout, err = ocfgen("firewall", cluster, "--hosts", hosts, "-o", out)
    assert rc == 2 and stdout == "" and "\n" not in err, err
    assert err.startswith(f"{out / 'n2.nft'}: cannot write: exists and was not written by ocfgen")
    assert sorted(os.listdir(out)) == ["n2.nft"]
    assert (out / "n2.nft").read_text() == "# my own rules\n"
    os.unlink(out / "n2.nft")
    for _ in range(2):
        rc, stdout, err = ocfgen("firewall", cluster, "--hosts", hosts, "-o", out)
        assert rc == 0, err
    assert sorted(os.listdir(out)) == ["n1.nft", "n2.nft"]


def test_output_directories_ignore_a_permissive_umask(described, tmp_path):
    """Under umask 000 the directories made for the outputs (which hold the VRRP secret) are
    still 0755: none writable by others, who could swap the files in them."""
    secret_file = tmp_path / "vrrp.secret"
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"Zq4%mT8&\n")
    os.close(fd)
    cluster, hosts = described(PAIR + f'secret_file = "{secret_file}"\n')
    done = subprocess.run([*OCFGEN, "keepalived", str(cluster), "--hosts", str(hosts), "-o",
                           str(tmp_path / "out" / "deep")], capture_output=True, text=True,
                          timeout=60, preexec_fn=lambda: os.umask(0))
    assert done.returncode == 0, done.stderr
    for directory, _, files in os.walk(tmp_path / "out"):
        assert os.stat(directory).st_mode & 0o022 == 0, directory
        for name in files:
            assert os.stat(os.path.join(directory, name)).st_mode & 0o077 == 0, name
    assert "Zq4%mT8&" not in done.stdout + done.stderr


def test_secret_files_that_are_not_secrets_are_refused_without_quoting_them(described, tmp_path):
    """Binary bytes, a FIFO (would block), a huge file (/dev/zero once exhausted memory): exit 2,
    one located line that quotes nothing of the file, nothing written."""
    binary = tmp_path / "binary.secret"
    huge = tmp_path / "huge.secret"
    fifo = tmp_path / "fifo.secret"
    for path, data in ((binary, b"\xfe\xed\xfa\xce\x8f\x9a\xab\xbc"), (huge, b"Zq4%mT8&" * 200000)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, data)
        os.close(fd)
    os.mkfifo(fifo, 0o600)
    for path, why in ((binary, "is not text"), (huge, "larger than"),
                      (fifo, "is not a regular file")):
        cluster, hosts = described(PAIR + f'secret_file = "{path}"\n')
        rc, out, err = ocfgen("keepalived", cluster, "--hosts", hosts, "-o", tmp_path / "out")
        assert rc == 2 and out == "" and "\n" not in err and why in err, err
        assert err.startswith(f"{hosts}:") and "0xfe" not in err and "Zq4" not in err, err
        assert not (tmp_path / "out").exists()
