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


# ocfgen simulate --graph: placement before and after a node loss (generators/render/placement_graph).

MOVES = """[cluster]
name = "moves"
[properties]
stonith-enabled = false
[nodes.n1]
[nodes.n2]
[resources.web]
agent = "ocf:pacemaker:Dummy"
[resources.pinned]
agent = "ocf:pacemaker:Dummy"
accept_node_loss = "a test resource that runs on n1 only"
[[location]]
resource = "web"
prefers = "n1"
score = 100
[[location]]
resource = "pinned"
avoids = "n2"
"""


def test_simulate_graph_draws_both_panels_frames_and_the_moved_resource(tmp_path):
    description = tmp_path / "moves.toml"
    description.write_text(MOVES)
    out = tmp_path / "moves.svg"
    done = ocfgen("simulate", description, "--graph", out, "--lose", "n1")
    assert done.returncode == 0, done.stderr
    assert f"{out}: placement before and after losing n1" in done.stderr
    assert "If n1 is lost:" in done.stdout          # the text report is still printed
    svg = out.read_bytes()
    assert svg.startswith(MAGIC["svg"])
    text = svg.decode()
    assert ">before: every node up<" in text and ">after losing n1<" in text
    # A frame per node in each panel: titled by the node, the lost one marked.
    assert text.count(">n1<") == 1 and text.count(">n2<") == 2 and ">n1: lost<" in text
    # web ran on n1 and moves to n2: highlighted, saying where it came from.
    assert "web ← n1" in text
    assert text.count('fill="#ffcc80"') >= 2          # its cell and the legend's
    # pinned cannot run on n2: listed as stopped after the loss.
    assert ">stopped<" in text and "pinned ← was on n1" in text
    assert ">legend<" in text and "runs here since the loss" in text


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_simulate_graph_writes_the_format_of_the_extension(tmp_path, fmt):
    out = tmp_path / f"ducc.{fmt}"
    done = ocfgen("simulate", os.path.join(EXAMPLES, "ducc-heads.toml"), "--graph", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(MAGIC[fmt])
    assert f"{out}: placement before and after losing ducc-h1, ducc-h2" in done.stderr


def test_simulate_graph_of_a_promotion_and_every_loss(tmp_path):
    out = tmp_path / "ducc.dot"
    done = ocfgen("simulate", os.path.join(EXAMPLES, "ducc-heads.toml"), "--json", "--graph", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "after losing ducc-h1 (fenced)" in text and "after losing ducc-h2 (fenced)" in text
    # Losing ducc-h1 promotes the head on ducc-h2 and moves the VIP with it.
    assert "<B>ducc-head</B> (Promoted) &#8592; ducc-h1" in text
    assert "ducc-vip &#8592; ducc-h1" in text
    assert "fence-ducc" not in text                    # fence devices are not drawn


@pytest.mark.parametrize("args, why", [
    (["--lose", "n1"], "--lose: chooses the loss --graph draws; give --graph FILE too"),
    (["--graph", "x.jpg"], "--graph: 'x.jpg' is not a picture file; name it .svg, .png, .pdf"),
    (["--graph", "x.svg", "--lose", "n9"], "--lose: 'n9' is not a node of"),
])
def test_simulate_graph_refusals(tmp_path, args, why):
    description = tmp_path / "moves.toml"
    description.write_text(MOVES)
    done = ocfgen("simulate", description, *args, cwd=tmp_path)
    assert done.returncode == 2 and why in done.stderr, done.stderr
    assert not done.stdout and not list(tmp_path.glob("x.*"))
