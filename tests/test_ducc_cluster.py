"""A promotable clone of ocf:ocfpy:ducc-head on the real three-node test cluster (cluster3),
with the STAND-IN DUCC installation (tests/ducc_standin: real daemon processes).

The promoted instance also moves the head's VIP (10.254.0.200, on the cluster's private subnet
that exists only inside the harness's namespaces), so each node's ducc_head_mode answer is
checked too: exactly one master.
"""

import os
import xml.etree.ElementTree as ET

import ducc_cleanup
import pytest
from ocfrun import PYTHON

from ocfpy.testbed import Cluster

STANDIN_DUCC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ducc_standin", "admin",
                            "ducc.py")
RID = "t-ducchead"
CLONE = f"{RID}-clone"
VIP = "10.254.0.200"

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(280)]


def clone_xml(ducc_home):
    primitive = ET.fromstring(Cluster.primitive_xml(
        RID, "ocf:ocfpy:ducc-head",
        params={"ducc_home": ducc_home, "components": "broker or rm", "vip": VIP,
                "vip_interface": "eth0", "logfile": os.path.join(ducc_home, "agent.log")},
        ops=[{"name": "monitor", "interval": "2s", "timeout": "20s", "role": "Promoted"},
             {"name": "monitor", "interval": "3s", "timeout": "20s", "role": "Unpromoted"}]))
    clone = ET.Element("clone", id=CLONE)
    clone.append(primitive)
    meta = ET.SubElement(clone, "meta_attributes", id=f"{CLONE}-meta")
    for name, value in (("promotable", "true"), ("promoted-max", "1"), ("clone-max", "3"),
                        ("notify", "true")):
        ET.SubElement(meta, "nvpair", id=f"{CLONE}-meta-{name}", name=name, value=value)
    return ET.tostring(clone, encoding="unicode")


def roles(cluster, on=None):
    """{node: role} of the clone's healthy instances."""
    status = cluster.status(on)
    return {node: i.role for i in status.matching(CLONE) if i.running for node in i.nodes}


def promoted(cluster, on=None):
    return sorted(node for node, role in roles(cluster, on).items()
                  if role in ("Promoted", "Master"))


def head_mode(cluster, node):
    command = os.path.join(os.path.dirname(PYTHON), "ocfpy-ducc-head-mode")
    return cluster.run(node, [command, "--vip", VIP]).stdout.strip()


def score(cluster, node, on):
    done = cluster.run(on, ["crm_attribute", "--node", node, "--name", f"master-{RID}",
                            "--lifetime", "reboot", "--query", "--quiet"], check=False)
    return done.stdout.strip()


def test_promotable_clone_promotes_exactly_one_and_repromotes_when_master_node_goes(
        cluster3, tmp_path):
    home = tmp_path / "ducc"
    (home / "admin").mkdir(parents=True)
    os.symlink(STANDIN_DUCC, home / "admin" / "ducc.py")
    killed = None
    try:
        cluster3.create_resource(clone_xml(str(home)), wait=False)
        cluster3.wait_until(lambda: len(roles(cluster3)) == 3 and len(promoted(cluster3)) == 1,
                            120, "three ducc-head instances, one of them promoted")
        [master] = promoted(cluster3)
        backups = sorted(set(cluster3.nodes) - {master})
        assert head_mode(cluster3, master) == "master"
        assert [head_mode(cluster3, node) for node in backups] == ["backup", "backup"]
        # The scores the agents advertised: the VIP holder 10 more, so it stays put.
        cluster3.wait_until(lambda: score(cluster3, master, backups[0]) == "110", 30,
                            "the master's promotion score 110")
        assert [score(cluster3, node, master) for node in backups] == ["100", "100"]
        stable = promoted(cluster3)
        assert stable == [master]

        cluster3.kill_node(master)
        killed = master
        survivor = backups[0]
        cluster3.wait_until(lambda: len(promoted(cluster3, survivor)) == 1
                            and promoted(cluster3, survivor)[0] in backups, 120,
                            "another node promoted after the master's node died")
        [new_master] = promoted(cluster3, survivor)
        assert new_master != master
        assert head_mode(cluster3, new_master) == "master"
        other = [node for node in backups if node != new_master]
        assert [head_mode(cluster3, node) for node in other] == ["backup"]
        assert sorted(roles(cluster3, survivor)) == backups
    finally:
        ducc_cleanup.clean_up(cluster3, killed, [CLONE], home)
