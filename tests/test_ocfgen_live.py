"""ocfgen diff and push: against an offline CIB file (CIB_file, Pacemaker's own switch for its
tools) and against the real single-node test cluster, where the pushed resources must start."""

import subprocess

import pytest
from ocfrun import OCFGEN


SMALL = """\
[cluster]
name = "{name}"

[properties]
{properties}

[defaults]
resource-stickiness = 1

[nodes.node1]
id = 1

[resources.ocfgen-a]
agent = "ocf:ocfpy:daemon"
params = {{ command = "/bin/sleep 100001" }}
ops = [{{ name = "monitor", interval = "2s", timeout = "10s" }}]

[resources.ocfgen-b]
agent = "ocf:ocfpy:daemon"
params = {{ command = "/bin/sleep 100002" }}
ops = [{{ name = "monitor", interval = "2s", timeout = "10s" }}]

[resources.ocfgen-c]
agent = "ocf:ocfpy:daemon"
params = {{ command = "/bin/sleep 100003" }}
ops = [{{ name = "monitor", interval = "2s", timeout = "10s" }}]

[groups.ocfgen-g]
resources = ["ocfgen-a", "ocfgen-b"]

[[order]]
first = "ocfgen-g"
then = "ocfgen-c"

[[colocation]]
resource = "ocfgen-c"
with = "ocfgen-g"
"""


def describe(path, name="ocfgen-live", options=None):
    options = options or {"stonith-enabled": "false"}
    properties = "\n".join(f'{key} = "{value}"' for key, value in options.items())
    path.write_text(SMALL.format(name=name, properties=properties))
    return str(path)


@pytest.fixture
def offline_cib(tmp_path, monkeypatch):
    """A blank CIB file that cibadmin and ocfgen use instead of a cluster (CIB_file)."""
    path = tmp_path / "live.xml"
    path.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                                   check=True).stdout)
    monkeypatch.setenv("CIB_file", str(path))
    return path


def cibadmin(*args):
    return subprocess.run(["cibadmin", *args], capture_output=True, text=True, check=True,
                          timeout=30).stdout


def test_diff_then_push_then_nothing_left_to_push(tmp_path, offline_cib):
    description = describe(tmp_path / "small.toml")
    done = subprocess.run([*OCFGEN, "diff", description], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("--- live configuration\n+++ generated configuration\n")
    assert '+    <primitive id="ocfgen-c" class="ocf" provider="ocfpy" type="daemon">' in done.stdout
    epoch = int(cibadmin("--query", "--xpath", "/cib", "--no-children").split('epoch="')[1]
                .split('"')[0])
    done = subprocess.run([*OCFGEN, "push", "-y", description], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pushed" in done.stdout
    live = cibadmin("--query")
    assert 'id="ocfgen-g"' in live and 'rsc="ocfgen-c" with-rsc="ocfgen-g"' in live
    assert f'epoch="{epoch + 1}"' in live  # one replace: one configuration change
    done = subprocess.run([*OCFGEN, "diff", description], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "")
    done = subprocess.run([*OCFGEN, "push", "-y", description], capture_output=True, text=True)
    assert done.returncode == 0 and "nothing to push" in done.stdout


def test_push_is_refused_when_the_cib_changed_since_it_was_read(tmp_path, offline_cib):
    """Someone changes the configuration between our read (and diff) and our replace."""
    from ocfpy.generators import cib, description, live

    model = description.load(describe(tmp_path / "small.toml"))
    seen = live.query()
    configuration = live.configuration(seen, cib.render(model))
    assert live.diff(seen, configuration)
    cibadmin("--create", "--scope", "resources", "--xml-text",
             '<primitive id="someone-else" class="ocf" provider="heartbeat" type="Dummy"/>')
    with pytest.raises(live.ChangedSinceRead, match="changed since it was read"):
        live.push(seen, configuration)
    after = cibadmin("--query")
    assert 'id="someone-else"' in after and 'id="ocfgen-a"' not in after


def test_push_keeps_the_options_pacemaker_maintains(tmp_path, offline_cib):
    cibadmin("--create", "--scope", "crm_config", "--xml-text",
             '<cluster_property_set id="cib-bootstrap-options"><nvpair '
             'id="cib-bootstrap-options-dc-version" name="dc-version" value="2.1.5-x"/>'
             '</cluster_property_set>')
    description = describe(tmp_path / "small.toml")
    assert subprocess.run([*OCFGEN, "push", "-y", description]).returncode == 0
    assert 'name="dc-version" value="2.1.5-x"' in cibadmin("--query")


@pytest.mark.cluster
def test_pushed_configuration_starts_on_the_real_cluster(tmp_path, cluster1):
    """A generated configuration replaces the running one and its resources start; then the
    configuration that was there before is put back and they stop."""
    from ocfpy.testbed.cluster import CLUSTER_OPTIONS

    saved = tmp_path / "saved-configuration.xml"
    saved.write_text(cluster1.run("node1", ["cibadmin", "--query", "--scope",
                                            "configuration"]).stdout)
    description = describe(tmp_path / "small.toml", name=cluster1.name, options=CLUSTER_OPTIONS)
    try:
        done = cluster1.run("node1", [*OCFGEN, "diff", description], check=False, timeout=60)
        assert done.returncode == 1 and '+    <group id="ocfgen-g">' in done.stdout, done.stderr
        done = cluster1.run("node1", [*OCFGEN, "push", "-y", description], timeout=60)
        assert "pushed" in done.stdout
        for rid in ("ocfgen-a", "ocfgen-b", "ocfgen-c"):
            cluster1.wait_until(lambda rid=rid: cluster1.where(rid) == ["node1"], 60,
                                f"{rid} started")
        pids = [cluster1.pidfile_pid("node1", f"/run/ocfpy/daemon/{rid}.pid")
                for rid in ("ocfgen-a", "ocfgen-b", "ocfgen-c")]
        for pid in pids:
            cluster1.run("node1", ["kill", "-0", str(pid)])
        done = cluster1.run("node1", [*OCFGEN, "diff", description], check=False, timeout=60)
        assert (done.returncode, done.stdout) == (0, ""), done.stdout
    finally:
        cluster1.run("node1", ["cibadmin", "--replace", "--scope", "configuration",
                               "--xml-file", str(saved)])
    for rid in ("ocfgen-a", "ocfgen-b", "ocfgen-c"):
        cluster1.wait_until(lambda rid=rid: rid not in cluster1.crm_mon(), 60, f"{rid} removed")
    for pid in pids:
        assert cluster1.run("node1", ["kill", "-0", str(pid)], check=False).returncode != 0
