"""Every agent in the catalogue speaks the three meta-data dialects it meets (docs/ocf-notes.md):
OCF 1.1 (the OCF-spec RELAX NG schema and pcs's), and 1.0 with the DOCTYPE that ocf-tester's
xmllint validates against resource-agents' DTD when the caller announces no version."""

import os
import subprocess

import pytest
from ocfrun import AGENT_DIR

from ocfpy import catalogue

SPEC_RNG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ra-api-1.1.rng")
PCS_RNG = "/usr/share/pcs/data/ocf-1.1.rng"


def metadata(agent, ocf_1_1):
    env = {"PATH": os.environ["PATH"]}
    if ocf_1_1:
        env.update(OCF_RA_VERSION_MAJOR="1", OCF_RA_VERSION_MINOR="1")
    return subprocess.run([f"{AGENT_DIR}/{agent}", "meta-data"], env=env, check=True,
                          capture_output=True, text=True).stdout


def xmllint(xml, *check):
    done = subprocess.run(["xmllint", "--noout", *check, "-"], input=xml, text=True,
                          capture_output=True, cwd="/usr/share/resource-agents")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("agent", catalogue.names())
def test_metadata_validates_for_ocf_1_1_pcs_and_the_1_0_dtd(agent):
    modern = metadata(agent, ocf_1_1=True)
    assert "<version>1.1</version>" in modern
    xmllint(modern, "--relaxng", SPEC_RNG)
    xmllint(modern, "--relaxng", PCS_RNG)
    legacy = metadata(agent, ocf_1_1=False)
    assert "<version>1.0</version>" in legacy and "<!DOCTYPE resource-agent" in legacy
    xmllint(legacy, "--valid")
    for only_1_1 in ("reloadable=", "unique-group=", 'name="reload-agent"', "Promoted"):
        assert only_1_1 not in legacy


@pytest.mark.parametrize("agent", catalogue.names())
def test_metadata_declares_exactly_what_the_agent_class_implements(agent):
    agent_class = catalogue.load(agent)
    modern = metadata(agent, ocf_1_1=True)
    for action in agent_class.actions():
        assert f'name="{action}"' in modern
    for declaration in agent_class.parameters:
        assert f'name="{declaration.name}"' in modern
    if agent_class.is_promotable():
        assert 'role="Promoted"' in modern and 'role="Unpromoted"' in modern
