"""ocfgen graph: the picture format follows the file name, the picture explains itself (legend,
roles, actions), fencing is drawn only when asked, and 200+ resources stay one readable page."""

import os
import subprocess

import pytest
from ocfrun import OCFGEN, REPO

EXAMPLES = os.path.join(REPO, "examples")
MAGIC = {"svg": b"<?xml", "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


def ocfgen(*args, cwd=None):
    return subprocess.run([*OCFGEN, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_the_extension_picks_the_format(tmp_path, fmt):
    out = tmp_path / f"ducc.{fmt}"
    done = ocfgen("graph", os.path.join(EXAMPLES, "ducc-heads.toml"), "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(MAGIC[fmt])


def test_dot_text_for_dot_and_refusal_for_an_unknown_extension(tmp_path):
    dot = tmp_path / "acs.dot"
    assert ocfgen("graph", os.path.join(EXAMPLES, "acs-alma.toml"), "-o", dot).returncode == 0
    assert dot.read_text().startswith('digraph "acs-alma" {')
    done = ocfgen("graph", os.path.join(EXAMPLES, "acs-alma.toml"), "-o", tmp_path / "acs.jpg")
    assert done.returncode == 2
    assert "acs.jpg: unknown picture format '.jpg'; name the file .svg, .png, .pdf, .dot or .gv" \
        in done.stderr
    assert not (tmp_path / "acs.jpg").exists()


def test_legend_roles_and_actions_are_drawn(tmp_path):
    out = tmp_path / "ducc.svg"
    assert ocfgen("graph", os.path.join(EXAMPLES, "ducc-heads.toml"), "-o", out).returncode == 0
    svg = out.read_text()
    assert ">legend<" in svg
    assert "order: first, then" in svg and "colocation: resource, with" in svg
    # The VIP runs with the promoted head, and starts after the promotion.
    assert "Started with Promoted" in svg
    assert "promote &#45;&gt; start" in svg or "promote -&gt; start" in svg


def test_fence_devices_only_when_asked():
    description = os.path.join(EXAMPLES, "acs-alma.toml")
    plain = ocfgen("graph", description).stdout
    assert "fence-acs-a" not in plain
    fenced = ocfgen("graph", description, "--fencing").stdout
    assert '"fence-acs-a-ipmilan" -> "node:acs-a" [color=red, label="fences"]' in fenced
    assert "subgraph cluster_fencing" in fenced


def test_a_preferred_node_frames_its_resources():
    text = ocfgen("graph", os.path.join(EXAMPLES, "acs-alma.toml")).stdout
    frame = text[text.index('subgraph "cluster_node_acs-a"'):]
    assert '"acs-vip"' in frame[:frame.index("\n  }")]


def test_two_hundred_resources_collapse_to_one_node_per_template(tmp_path):
    lines = ['[cluster]\nname = "big"\n[properties]\nstonith-enabled = false\n',
             "[nodes.n1]\nid = 1\n[nodes.n2]\nid = 2\n",
             '[templates.ioc]\nagent = "ocf:ocfpy:daemon"\n']
    for i in range(220):
        lines.append(f'[resources.ioc{i:03d}]\ntemplate = "ioc"\n'
                     f'params = {{ command = "/bin/sleep {i + 1000}" }}\n')
    for i in range(219):
        lines.append(f'[[order]]\nfirst = "ioc{i:03d}"\nthen = "ioc{i + 1:03d}"\nkind = "Optional"\n')
    lines.append('[resources.vip]\nagent = "ocf:heartbeat:IPaddr2"\nparams = { ip = "192.0.2.9" }\n')
    lines.append('[[colocation]]\nresource = "ioc000"\nwith = "vip"\n')
    description = tmp_path / "big.toml"
    description.write_text("\n".join(lines))
    text = ocfgen("graph", description).stdout
    assert "220 x ocf:ocfpy:daemon" in text and "219 constraints among them" in text
    assert '"collapsed:template ioc" -> "vip"' in text
    assert '"ioc005" [' not in text and '"ioc005" ->' not in text
    picture = tmp_path / "big.png"
    assert ocfgen("graph", description, "-o", picture).returncode == 0
    width, height = int.from_bytes(picture.read_bytes()[16:20], "big"), \
        int.from_bytes(picture.read_bytes()[20:24], "big")
    assert max(width, height) < 2000, (width, height)
