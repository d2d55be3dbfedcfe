"""ocfgen's N-1 capacity verdict (`check --n-1`, and the end of `simulate`): for the loss of
each node, every resource left stopped, computed by crm_simulate; exit 1 unless the
description accepts it per resource (accept_node_loss)."""

import os
import subprocess

from ocfrun import OCFGEN, REPO

CLARA = os.path.join(REPO, "examples", "clara-epics.toml")


def ocfgen(*args, cwd=None):
    return subprocess.run([*OCFGEN, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def three_nodes(resources, extra=""):
    """Three nodes of 2 CPUs each (6 in all, 4 after a loss) and Dummy resources."""
    lines = ['[cluster]\nname = "cap"\n[properties]\nstonith-enabled = false\n'
             'placement-strategy = "balanced"\n']
    lines += [f"[nodes.n{i}]\nutilization = {{ cpu = 2 }}\n" for i in (1, 2, 3)]
    lines += [f'[resources.{rid}]\nagent = "ocf:pacemaker:Dummy"\n{body}\n'
              for rid, body in resources.items()]
    return "\n".join(lines) + extra


def test_the_clara_example_holds_n_minus_1():
    done = ocfgen("check", "--n-1", CLARA)
    assert done.returncode == 0, done.stdout + done.stderr
    for node in ("clara-ioc1", "clara-ioc2", "clara-ioc3", "clara-arch"):
        assert f"  {node} lost: every resource runs" in done.stdout
    assert "N-1 holds" in done.stdout
    simulated = ocfgen("simulate", CLARA)
    assert simulated.returncode == 0 and simulated.stdout.rstrip().endswith("N-1 holds")


def test_a_resource_left_stopped_fails_unless_the_description_accepts_it(tmp_path):
    body = 'utilization = { cpu = 1 }\nmeta = { priority = 10 }'
    resources = {f"r{i}": body for i in range(1, 6)}
    resources["spare"] = 'utilization = { cpu = 1 }\nmeta = { priority = 0 }'
    path = tmp_path / "cap.toml"
    path.write_text(three_nodes(resources))
    done = ocfgen("check", "--n-1", str(path))
    assert done.returncode == 1, done.stdout + done.stderr      # 6 CPUs needed, 4 left
    for node in ("n1", "n2", "n3"):
        assert (f"  {node} lost: spare stays stopped (FAIL: not accepted; add capacity or "
                f"accept_node_loss") in done.stdout
        assert f"  {node} lost: r" in done.stdout                    # one more of them too
    assert "N-1 does not hold" in done.stdout
    assert ocfgen("simulate", str(path)).returncode == 1

    # Four that must run, two spares that say why they may stop: it holds.
    resources = {f"r{i}": body for i in range(1, 5)}
    for spare in ("spare1", "spare2"):
        resources[spare] = ('utilization = { cpu = 1 }\nmeta = { priority = 0 }\n'
                            'accept_node_loss = "test load: runs when there is room"')
    path.write_text(three_nodes(resources))
    done = ocfgen("check", "--n-1", str(path))
    assert done.returncode == 0, done.stdout
    assert "stays stopped; accepted: test load: runs when there is room" in done.stdout
    assert "FAIL" not in done.stdout


def test_a_resource_ordered_after_a_stopped_one_counts_as_stopped(tmp_path):
    """Orders are left out of the placement (a Mandatory chain makes Pacemaker plan a restart
    of everything after a moved resource) and applied to its result: `then` cannot start
    while its Mandatory `first` is stopped."""
    resources = {"pinned": "", "after": "", "free": ""}
    extra = ('[[location]]\nresource = "pinned"\nrule = "#uname ne n1"\nscore = "-INFINITY"\n'
             '[[order]]\nfirst = "pinned"\nthen = "after"\n')
    path = tmp_path / "order.toml"
    path.write_text(three_nodes(resources, extra))
    done = ocfgen("check", "--n-1", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "  n1 lost: pinned stays stopped (FAIL" in done.stdout
    assert ("  n1 lost: after stays stopped (its Mandatory order's first resource is stopped) "
            "(FAIL") in done.stdout
    assert "  n2 lost: every resource runs" in done.stdout
    # The same with an Optional order: `after` runs on.
    path.write_text(three_nodes(resources, extra + 'kind = "Optional"\n'))
    done = ocfgen("check", "--n-1", str(path))
    assert "after stays stopped" not in done.stdout and "pinned stays stopped" in done.stdout


def test_accept_node_loss_must_say_why(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(three_nodes({"r1": 'accept_node_loss = " "'}))
    done = ocfgen("check", "--n-1", str(path))
    assert done.returncode == 2
    assert "c.toml:" in done.stderr and "resources.r1.accept_node_loss: must say why" in done.stderr
