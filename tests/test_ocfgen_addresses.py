"""A resource's own address in the description: the IPaddr2 and group ocfgen makes of it, the
parameters it sets, the node-health settings a depth-20 IOC check brings, and the errors."""

import subprocess
import xml.etree.ElementTree as ET

import pytest
from ocfrun import OCFGEN

HEAD = ('[cluster]\nname = "a"\n[properties]\nstonith-enabled = false\n'
        '[nodes.n1]\naddresses = ["192.0.2.1"]\n[nodes.n2]\naddresses = ["192.0.2.2"]\n')
IOC = ('[resources.ioc-a]\nagent = "ocf:ocfpy:epics-ioc"\naddress = "192.0.2.101/24"\n'
       'params = { ioc_name = "a", boot_dir = "/epics/a" }\n')


def build(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return subprocess.run([*OCFGEN, "build", str(path)], capture_output=True, text=True,
                          timeout=120)


def cib(tmp_path, text):
    done = build(tmp_path, text)
    assert done.returncode == 0, done.stderr
    return ET.fromstring(done.stdout)


def params(element):
    return {nv.get("name"): nv.get("value")
            for nv in element.find("instance_attributes").iter("nvpair")}


def test_an_address_makes_an_ipaddr2_first_in_one_group(tmp_path):
    root = cib(tmp_path, HEAD + IOC + '[[location]]\nresource = "ioc-a"\nprefers = "n1"\n'
                                      '[[colocation]]\nresource = "ioc-a"\nwith = "ioc-b"\n'
                                      'score = "-INFINITY"\n[resources.ioc-b]\n'
                                      'agent = "ocf:ocfpy:epics-ioc"\naddress = "192.0.2.102"\n'
                                      'params = { ioc_name = "b", boot_dir = "/epics/b" }\n')
    group = root.find(".//group[@id='ioc-a-group']")
    ip, ioc = group.findall("primitive")
    assert (ip.get("id"), ip.get("type"), ioc.get("id")) == ("ioc-a-ip", "IPaddr2", "ioc-a")
    assert params(ip) == {"ip": "192.0.2.101", "cidr_netmask": "24"}
    assert params(ioc)["address"] == "192.0.2.101"
    # The console stays the agent's own unix socket on the node: procServ binds a TCP console
    # to 127.0.0.1 whatever address it is given, so the address has no say in it.
    assert "console" not in params(ioc)
    assert {op.get("name") for op in ip.iter("op")} >= {"start", "stop", "monitor"}
    # Constraints that named the IOC name its group: what runs together moves together.
    assert root.find(".//rsc_location").get("rsc") == "ioc-a-group"
    colocation = root.find(".//rsc_colocation")
    assert (colocation.get("rsc"), colocation.get("with-rsc")) == ("ioc-a-group", "ioc-b-group")
    assert "cidr_netmask" not in params(root.find(".//primitive[@id='ioc-b-ip']"))


def test_an_address_joins_the_group_the_resource_is_in(tmp_path):
    root = cib(tmp_path, HEAD + IOC + '[resources.mon]\nagent = "ocf:pacemaker:Dummy"\n'
                                      '[groups.g]\nresources = ["mon", "ioc-a"]\n')
    members = [p.get("id") for p in root.find(".//group[@id='g']").findall("primitive")]
    assert members == ["mon", "ioc-a-ip", "ioc-a"]
    assert root.find(".//group[@id='ioc-a-group']") is None


def test_an_archiver_address_is_where_it_is_checked(tmp_path):
    root = cib(tmp_path, HEAD + '[resources.arch]\nagent = "ocf:ocfpy:archiver"\n'
                                'address = "192.0.2.31/24"\nparams = { identity = "a1", '
                                'appliances = "/etc/archappl/appliances.xml" }\n')
    assert params(root.find(".//primitive[@id='arch']"))["http_host"] == "192.0.2.31"


def test_a_depth_20_ioc_check_brings_node_health_settings(tmp_path):
    checked = IOC + ('ops = [{ name = "monitor", interval = "60s", timeout = "30s", '
                     'OCF_CHECK_LEVEL = 20 }]\n')
    options = {nv.get("name"): nv.get("value")
               for nv in cib(tmp_path, HEAD + checked).find(".//crm_config").iter("nvpair")}
    assert options["node-health-strategy"] == "progressive"
    assert (options["node-health-base"], options["node-health-red"]) == ("1000", "-1000")
    plain = cib(tmp_path, HEAD + IOC).find(".//crm_config")
    assert "node-health-strategy" not in {nv.get("name") for nv in plain.iter("nvpair")}
    own = HEAD.replace("stonith-enabled = false\n", 'stonith-enabled = false\n'
                       'node-health-strategy = "migrate-on-red"\n') + checked
    options = {nv.get("name"): nv.get("value")
               for nv in cib(tmp_path, own).find(".//crm_config").iter("nvpair")}
    assert options["node-health-strategy"] == "migrate-on-red"
    assert "node-health-base" not in options


@pytest.mark.parametrize("resource, why", [
    ('[resources.d]\nagent = "ocf:pacemaker:Dummy"\naddress = "192.0.2.50"\n',
     "resources.d.address: only ocf:ocfpy:epics-ioc and ocf:ocfpy:archiver resources"),
    (IOC.replace("192.0.2.101/24", "192.0.2.2/24"),
     "resources.ioc-a.address: 192.0.2.2 is already the address of node n2"),
    (IOC.replace("192.0.2.101/24", "192.0.2.300"),
     "resources.ioc-a.address: '192.0.2.300' is not an IPv4 address"),
    (IOC.replace("192.0.2.101/24", "192.0.2.101/40"), "prefix '40' is not 1-32"),
    (IOC.replace('boot_dir = "/epics/a"', 'boot_dir = "/epics/a", address = "192.0.2.9"'),
     "resources.ioc-a.address: parameter 'address' is '192.0.2.9'"),
    (IOC + '[clones.c]\nresource = "ioc-a"\n',
     "resources.ioc-a.address: 'ioc-a' is cloned"),
])
def test_bad_addresses_are_located(tmp_path, resource, why):
    done = build(tmp_path, HEAD + resource)
    assert done.returncode == 2, done
    assert done.stderr.startswith(f"{tmp_path / 'c.toml'}:") and why in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_appliances_xml_names_each_appliance_at_its_own_address(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(HEAD + '[resources.arch1]\nagent = "ocf:ocfpy:archiver"\n'
                           'address = "192.0.2.31/24"\nparams = { identity = "a1", '
                           'appliances = "/etc/archappl/appliances.xml" }\n'
                           '[resources.arch2]\nagent = "ocf:ocfpy:archiver"\n'
                           'address = "192.0.2.32/24"\nparams = { identity = "a2", '
                           'appliances = "/etc/archappl/appliances.xml", base_dir = "/arch/2", '
                           'mgmt_port = 17675, engine_port = 17676, etl_port = 17677, '
                           'retrieval_port = 17678 }\n')
    out = tmp_path / "appliances.xml"
    done = subprocess.run([*OCFGEN, "appliances", str(path), "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    appliances = {a.findtext("identity"): a for a in ET.parse(out).getroot().iter("appliance")}
    assert appliances["a1"].findtext("mgmt_url") == "http://192.0.2.31:17665/mgmt/bpl"
    assert appliances["a1"].findtext("cluster_inetport") == "192.0.2.31:16670"
    assert appliances["a2"].findtext("mgmt_url") == "http://192.0.2.32:17675/mgmt/bpl"
    assert appliances["a2"].findtext("data_retrieval_url") == "http://192.0.2.32:17678/retrieval"
    # Without an address of its own an appliance's URLs would name a node: refused.
    path.write_text(HEAD + '[resources.arch1]\nagent = "ocf:ocfpy:archiver"\n'
                           'params = { identity = "a1", appliances = "/etc/a.xml" }\n')
    done = subprocess.run([*OCFGEN, "appliances", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "arch1 has no address of its own" in done.stderr
