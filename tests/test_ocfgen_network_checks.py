"""Network sanity of a description (generators/verify/network_checks.py): every address of a resource
or keepalived instance is on a subnet of the hosts, and one address has one manager. Each
refusal is a located line, exit 2; the examples pass."""

import os
import subprocess

import pytest
from ocfrun import OCFGEN, REPO

EXAMPLES = os.path.join(REPO, "examples")
BASE = """[cluster]
name = "net"

[properties]
stonith-enabled = false

[nodes.n1]
addresses = ["192.0.2.1", "198.51.100.1"]

[nodes.n2]
addresses = ["192.0.2.2", "198.51.100.2"]

[resources.vip]
agent = "ocf:heartbeat:IPaddr2"
params = { ip = "192.0.2.50", cidr_netmask = 24 }
"""
HOSTS = """[keepalived.WEB]
virtual_router_id = 60
vip = "192.0.2.60/24"
interface = "eth0"
priorities = { n1 = 150, n2 = 100 }
"""


def ocfgen(*args):
    return subprocess.run([*OCFGEN, *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def write(tmp_path, extra="", replace=None, name="cluster.toml"):
    text = BASE + extra
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / name
    path.write_text(text)
    return path, text


def line(text, start):
    return next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith(start))


def refused(done):
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr


def test_addresses_on_the_rings_pass(tmp_path):
    extra = ('[resources.ring1-vip]\nagent = "ocf:heartbeat:IPaddr2"\n'
             'params = { ip = "198.51.100.9" }\n'
             '[resources.ioc]\nagent = "ocf:ocfpy:epics-ioc"\naddress = "192.0.2.101/24"\n'
             'params = { ioc_name = "a", boot_dir = "/epics/a" }\n')
    path, _ = write(tmp_path, extra)
    done = ocfgen("check", path)
    assert done.returncode == 0, done.stderr


def test_a_prefixed_address_off_every_ring_is_refused_at_its_key(tmp_path):
    path, text = write(tmp_path, replace=('ip = "192.0.2.50"', 'ip = "10.9.0.50"'))
    err = refused(ocfgen("check", path))
    assert f"{path}:{line(text, 'params = { ip')}:" in err
    assert ("resources.vip.params.ip: 10.9.0.50/24 is on no host's subnet: no host has an "
            "address in 10.9.0.0/24 (n1 ring0 192.0.2.1, n1 ring1 198.51.100.1") in err
    assert "name the interface that carries 10.9.0.0/24 (IPaddr2 nic)" in err


def test_without_a_prefix_a_ring_subnet_of_24_is_assumed(tmp_path):
    path, _ = write(tmp_path, replace=('ip = "192.0.2.50", cidr_netmask = 24',
                                       'ip = "192.0.3.50"'))
    err = refused(ocfgen("check", path))
    assert ("resources.vip.params.ip: 192.0.3.50 is on no subnet of the cluster: 192.0.2.0/24 "
            "(n1 ring0 192.0.2.1, /24 assumed)") in err
    assert "give its prefix if a ring's subnet is larger (cidr_netmask)" in err


def test_a_prefix_that_holds_a_ring_address_sizes_that_ring(tmp_path):
    """cidr_netmask = 16 on one address says ring0 is a /16: an address without a prefix
    elsewhere in that /16 then passes, one outside it still does not."""
    path, _ = write(tmp_path, '[resources.other]\nagent = "ocf:heartbeat:IPaddr2"\n'
                              'params = { ip = "192.0.9.7" }\n',
                    replace=('cidr_netmask = 24', 'cidr_netmask = 16'))
    assert ocfgen("check", path).returncode == 0
    path, _ = write(tmp_path, '[resources.other]\nagent = "ocf:heartbeat:IPaddr2"\n'
                              'params = { ip = "192.1.9.7" }\n',
                    replace=('cidr_netmask = 24', 'cidr_netmask = 16'))
    assert "192.1.9.7 is on no subnet of the cluster: 192.0.0.0/16 (n1 ring0 192.0.2.1)" in \
        refused(ocfgen("check", path))


def test_an_interface_the_description_names_carries_its_subnet(tmp_path):
    """nic + cidr_netmask name a service network the rings are not on: accepted, and an IOC
    address on that network passes too."""
    extra = ('[resources.svc-vip]\nagent = "ocf:heartbeat:IPaddr2"\n'
             'params = { ip = "203.0.113.10", cidr_netmask = 24, nic = "eth2" }\n'
             '[resources.ioc]\nagent = "ocf:ocfpy:epics-ioc"\n'
             'params = { ioc_name = "a", boot_dir = "/epics/a", '
             'address = "203.0.113.77" }\n')
    path, _ = write(tmp_path, extra)
    done = ocfgen("check", path)
    assert done.returncode == 0, done.stderr
    path, _ = write(tmp_path, extra.replace("203.0.113.77", "203.0.114.77"))
    err = refused(ocfgen("check", path))
    assert "resources.ioc.params.address: 203.0.114.77 is on no subnet of the cluster" in err
    assert "203.0.113.0/24 (interface eth2 named by resource svc-vip" in err


def test_an_own_address_off_the_rings_is_refused_at_the_address_key(tmp_path):
    extra = ('[resources.ioc]\nagent = "ocf:ocfpy:epics-ioc"\naddress = "10.1.2.3/24"\n'
             'params = { ioc_name = "a", boot_dir = "/epics/a" }\n')
    path, text = write(tmp_path, extra)
    err = refused(ocfgen("check", path))
    assert f"{path}:{line(text, 'address = ')}:" in err
    assert "resources.ioc.address: 10.1.2.3/24 is on no host's subnet" in err


def test_one_address_two_resources_or_a_node_address_is_refused(tmp_path):
    path, text = write(tmp_path, '[resources.vip2]\nagent = "ocf:heartbeat:IPaddr2"\n'
                                 'params = { ip = "192.0.2.50" }\n')
    err = refused(ocfgen("check", path))
    assert ("resources.vip2.params.ip: 192.0.2.50 is also managed by resource vip "
            f"(ocf:heartbeat:IPaddr2) at {path}:{line(text, '[resources.vip]')}") in err
    path, _ = write(tmp_path, replace=('ip = "192.0.2.50"', 'ip = "192.0.2.2"'))
    assert "resources.vip.params.ip: 192.0.2.2 is the address of n2 ring0" in \
        refused(ocfgen("check", path))


def test_a_dotted_netmask_is_refused(tmp_path):
    path, _ = write(tmp_path, replace=("cidr_netmask = 24", 'cidr_netmask = "255.255.255.0"'))
    assert ("resources.vip.params.cidr_netmask: cidr_netmask '255.255.255.0' is not a prefix "
            "length 1-32 (IPaddr2 takes 24, not 255.255.255.0)") in refused(ocfgen("check", path))


def test_every_network_mistake_is_reported_in_one_run(tmp_path):
    extra = ('[resources.vip2]\nagent = "ocf:heartbeat:IPaddr2"\n'
             'params = { ip = "10.7.0.1" }\n'
             '[resources.vip3]\nagent = "ocf:heartbeat:IPaddr2"\n'
             'params = { ip = "192.0.2.50" }\n')
    path, _ = write(tmp_path, extra, replace=('ip = "192.0.2.50", cidr_netmask = 24',
                                              'ip = "192.0.2.50", cidr_netmask = 8'))
    err = refused(ocfgen("check", path))
    assert "resources.vip2.params.ip: 10.7.0.1 is on no subnet" in err
    assert "resources.vip3.params.ip: 192.0.2.50 is also managed by resource vip" in err


def test_without_host_addresses_no_subnet_is_checked(tmp_path):
    text = BASE.replace('addresses = ["192.0.2.1", "198.51.100.1"]\n', "").replace(
        'addresses = ["192.0.2.2", "198.51.100.2"]\n', "").replace("192.0.2.50", "10.9.9.9")
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    done = ocfgen("check", path)
    assert done.returncode == 0, done.stderr


# keepalived (the hosts file) against the description.

def hosts(tmp_path, text=HOSTS):
    path = tmp_path / "hosts.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", [("keepalived", "-o", "out"), ("firewall", "-o", "out"),
                                     ("check",)])
def test_keepalived_and_pacemaker_never_manage_one_address(tmp_path, command):
    description, text = write(tmp_path)
    hosts_text = HOSTS.replace("192.0.2.60/24", "192.0.2.50/24")
    path = hosts(tmp_path, hosts_text)
    err = refused(ocfgen(command[0], description, "--hosts", path, *command[1:]))
    assert (f"{path}:{line(hosts_text, 'vip =')}:1: keepalived.WEB.vip: 192.0.2.50 is also managed "
            f"by Pacemaker: resource vip (ocf:heartbeat:IPaddr2) at "
            f"{description}:{line(text, '[resources.vip]')}") in err
    assert not (tmp_path / "out").exists()


def test_a_keepalived_vip_off_its_peers_subnet_is_refused(tmp_path):
    description, _ = write(tmp_path)
    path = hosts(tmp_path, HOSTS.replace("192.0.2.60/24", "198.51.100.60/24"))
    err = refused(ocfgen("check", description, "--hosts", path))
    assert ("keepalived.WEB.vip: 198.51.100.60/24 is not the subnet of interface eth0: the "
            "peers' ring0 addresses (keepalived's unicast sources there) n1 192.0.2.1, n2 "
            "192.0.2.2 are not in 198.51.100.0/24") in err


def test_a_keepalived_vip_on_its_peers_subnet_passes(tmp_path):
    description, _ = write(tmp_path)
    done = ocfgen("check", description, "--hosts", hosts(tmp_path))
    assert done.returncode == 0, done.stderr


def test_two_keepalived_instances_with_one_vip_are_refused(tmp_path):
    description, _ = write(tmp_path, '[nodes.n3]\naddresses = ["192.0.2.3", "198.51.100.3"]\n')
    second = HOSTS.replace("WEB", "WEB2").replace("60,", "61,").replace(
        "{ n1 = 150, n2 = 100 }", "{ n3 = 150, n2 = 100 }")
    err = refused(ocfgen("check", description, "--hosts", hosts(tmp_path, HOSTS + second)))
    assert "keepalived.WEB2.vip: 192.0.2.60 is also managed by keepalived instance WEB at" in err


@pytest.mark.parametrize("name", ["acs-alma", "clara-epics", "ducc-heads"])
def test_the_examples_pass_with_their_hosts_files(name):
    args = ["check", os.path.join(EXAMPLES, f"{name}.toml")]
    hosts_file = os.path.join(EXAMPLES, f"{name}-hosts.toml")
    if os.path.exists(hosts_file):
        args += ["--hosts", hosts_file]
    done = ocfgen(*args)
    assert done.returncode == 0, done.stderr
    if os.path.exists(hosts_file):
        assert f"{hosts_file}: ok (" in done.stdout and "keepalived instance" in done.stdout


HEAD = ('[resources.head]\nagent = "ocf:ocfpy:ducc-head"\n'
        'params = { ducc_home = "/opt/ducc", user = "ducc", vip = "192.0.2.60"%s }\n'
        '[clones.head-clone]\nresource = "head"\npromotable = true\n'
        'meta = { promoted-max = 1 }\n')


def test_a_ducc_head_observing_the_keepalived_vip_is_no_second_manager(tmp_path):
    """Reliable DUCC: keepalived moves ducc.head's address and the head only looks for it;
    a head that adds the address itself (vip_interface) is a second manager."""
    description, _ = write(tmp_path, HEAD % "")
    done = ocfgen("check", description, "--hosts", hosts(tmp_path))
    assert done.returncode == 0, done.stderr
    description, _ = write(tmp_path, HEAD % ', vip_interface = "eth0", vip_prefix = 24')
    err = refused(ocfgen("check", description, "--hosts", hosts(tmp_path)))
    assert ("keepalived.WEB.vip: 192.0.2.60 is also managed by Pacemaker: resource head "
            "(ocf:ocfpy:ducc-head) at") in err


def test_an_acs_host_address_off_the_rings_is_refused(tmp_path):
    extra = ('[resources.acs]\nagent = "ocf:ocfpy:acs-services"\n'
             'params = { acsroot = "/alma/ACS/ACSSW", acsdata = "/alma/data", host = "172.16.5.5" }\n')
    path, _ = write(tmp_path, extra)
    assert "resources.acs.params.host: 172.16.5.5 is on no subnet of the cluster" in \
        refused(ocfgen("check", path))


def test_an_ipaddr2_ip_that_is_no_address_is_refused(tmp_path):
    path, _ = write(tmp_path, replace=('ip = "192.0.2.50"', 'ip = "vip.example"'))
    assert "resources.vip.params.ip: 'vip.example' is not an IP address" in \
        refused(ocfgen("check", path))
