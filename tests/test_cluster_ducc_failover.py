"""DUCC heads and agents heal themselves on the real three-node test cluster (cluster3), with the
STAND-IN DUCC installation (tests/ducc_standin: real daemon processes with DUCC's marks).

A promotable ducc-head clone (the master moves the head VIP) and a ducc-agent clone on every
node. When the master's node dies, another head is promoted and the agents on the surviving
nodes keep running untouched; when the node comes back, its head (as a backup) and its agent run
again: no crm_resource --cleanup at any point. Times are recorded (record_property).
"""

import os
import time
import xml.etree.ElementTree as ET

import ducc_cleanup
import pytest
from ocfrun import PYTHON

from ocfpy.testbed import Cluster

ADMIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ducc_standin", "admin")
HEAD, AGENT = "t-dfo-head", "t-dfo-agent"
HEADS, AGENTS = f"{HEAD}-clone", f"{AGENT}-clone"
VIP = "10.254.0.201"

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(400)]


def clone(primitive_xml, clone_id, meta):
    element = ET.Element("clone", id=clone_id)
    element.append(ET.fromstring(primitive_xml))
    attributes = ET.SubElement(element, "meta_attributes", id=f"{clone_id}-meta")
    for name, value in meta.items():
        ET.SubElement(attributes, "nvpair", id=f"{clone_id}-meta-{name}", name=name, value=value)
    return ET.tostring(element, encoding="unicode")


def heads_xml(home):
    return clone(Cluster.primitive_xml(
        HEAD, "ocf:ocfpy:ducc-head",
        params={"ducc_home": home, "components": "broker or rm", "vip": VIP,
                "vip_interface": "eth0", "logfile": os.path.join(home, "head.log")},
        ops=[{"name": "monitor", "interval": "2s", "timeout": "20s", "role": "Promoted"},
             {"name": "monitor", "interval": "3s", "timeout": "20s", "role": "Unpromoted"}]),
        HEADS, {"promotable": "true", "promoted-max": "1", "clone-max": "3", "notify": "true"})


def agents_xml(home):
    return clone(Cluster.primitive_xml(
        AGENT, "ocf:ocfpy:ducc-agent",
        params={"ducc_home": home, "logfile": os.path.join(home, "agent.log")},
        ops=[{"name": "monitor", "interval": "3s", "timeout": "20s"}]),
        AGENTS, {"interleave": "true"})


def running(cluster, resource, on=None):
    """{node: role} of the healthy instances of a clone."""
    status = cluster.status(on)
    return {node: i.role for i in status.matching(resource) if i.running for node in i.nodes}


def promoted(cluster, on=None):
    return sorted(n for n, role in running(cluster, HEADS, on).items()
                  if role in ("Promoted", "Master"))


def agent_pid(cluster, node, home):
    probe = ("from ocfpy.agents import ducc_env; import sys; "
             "found = ducc_env.running(sys.argv[1], ('ag',))['ag']; "
             "print(found[0].pid if found else '')")
    return cluster.run(node, [PYTHON, "-c", probe, home]).stdout.strip()


def test_agents_keep_running_through_a_head_failover(cluster3, tmp_path, record_property):
    home = tmp_path / "ducc"
    (home / "admin").mkdir(parents=True)
    for script in ("ducc.py", "stop_ducc"):
        os.symlink(os.path.join(ADMIN, script), home / "admin" / script)
    killed = None
    try:
        cluster3.create_resource(heads_xml(str(home)), wait=False)
        cluster3.create_resource(agents_xml(str(home)), wait=False)
        cluster3.wait_until(lambda: len(running(cluster3, AGENTS)) == 3
                            and len(running(cluster3, HEADS)) == 3
                            and len(promoted(cluster3)) == 1, 150,
                            "three heads (one promoted) and three agents")
        [master] = promoted(cluster3)
        survivors = sorted(set(cluster3.nodes) - {master})
        before = {node: agent_pid(cluster3, node, str(home)) for node in survivors}
        assert all(before.values()), before

        cluster3.kill_node(master)
        killed = master
        began = time.monotonic()
        on = survivors[0]

        def failed_over():  # one reading of the status each time: it changes between two
            heads = promoted(cluster3, on)
            return (len(heads) == 1 and heads[0] in survivors
                    and sorted(running(cluster3, AGENTS, on)) == survivors)

        cluster3.wait_until(failed_over, 120, "another head promoted, the lost node's agent gone")
        took = time.monotonic() - began
        record_property("failover_s", round(took, 1))
        print(f"\nmaster node {master} lost: another head promoted after {took:.1f}s")
        assert sorted(running(cluster3, AGENTS, on)) == survivors
        # The agents on the surviving nodes were not disturbed by the failover.
        assert {node: agent_pid(cluster3, node, str(home)) for node in survivors} == before

        cluster3.restart_node(killed)
        back = time.monotonic()
        cluster3.wait_until(lambda: len(running(cluster3, AGENTS)) == 3
                            and len(running(cluster3, HEADS)) == 3, 150,
                            "the returned node's head and agent running again, no cleanup")
        killed = None
        took = time.monotonic() - back
        record_property("rejoin_s", round(took, 1))
        print(f"{master} back: its head and agent running again after {took:.1f}s")
        assert len(promoted(cluster3)) == 1
    finally:
        ducc_cleanup.clean_up(cluster3, killed, (AGENTS, HEADS), home)
