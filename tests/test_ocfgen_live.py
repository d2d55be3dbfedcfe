"""ocfgen diff, push, history and rollback: against an offline CIB file (CIB_file, Pacemaker's
own switch for its tools) and against the real single-node test cluster, where a push must
leave every piece of operator state alone and a concurrent change must be refused."""

import json
import os
import stat
import subprocess
import textwrap

import pytest
from ocfrun import OCFGEN, PYTHON

SMALL = """\
[cluster]
name = "{name}"

[properties]
{properties}

[defaults]
resource-stickiness = 1

[nodes.node1]
id = 1
"""

RESOURCES = """
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
params = {{ command = "/bin/sleep {c_seconds}" }}
ops = [{{ name = "monitor", interval = "2s", timeout = "10s" }}]
{extra}
[groups.ocfgen-g]
resources = ["ocfgen-a", "ocfgen-b"]

[[order]]
first = "ocfgen-g"
then = "ocfgen-c"

[[colocation]]
resource = "ocfgen-c"
with = "ocfgen-g"
"""

EXTRA = """
[resources.ocfgen-d]
agent = "ocf:ocfpy:daemon"
params = { command = "/bin/sleep 100004" }
"""


def describe(path, name="ocfgen-live", options=None, c_seconds=100003, extra=""):
    options = options or {"stonith-enabled": "false"}
    properties = "\n".join(f'{key} = "{value}"' for key, value in options.items())
    path.write_text(SMALL.format(name=name, properties=properties)
                    + RESOURCES.format(c_seconds=c_seconds, extra=extra))
    return str(path)


def ocfgen(*args, env=None):
    return subprocess.run([*OCFGEN, *args], capture_output=True, text=True, timeout=120,
                          env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def offline_cib(tmp_path, monkeypatch):
    """A blank CIB file that cibadmin and ocfgen use instead of a cluster (CIB_file); ocfgen's
    checkpoints in a scratch directory."""
    path = tmp_path / "live.xml"
    path.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True, text=True,
                                   check=True).stdout)
    monkeypatch.setenv("CIB_file", str(path))
    monkeypatch.setenv("OCFGEN_STATE_DIR", str(tmp_path / "state"))
    return path


def cibadmin(*args):
    return subprocess.run(["cibadmin", *args], capture_output=True, text=True, check=True,
                          timeout=30).stdout


def versions():
    head = cibadmin("--query", "--xpath", "/cib", "--no-children")
    return tuple(int(head.split(f'{name}="')[1].split('"')[0])
                 for name in ("admin_epoch", "epoch"))


def test_diff_says_add_change_remove_and_exits_like_diff(tmp_path, offline_cib):
    description = describe(tmp_path / "small.toml")
    done = ocfgen("diff", description)
    assert done.returncode == 1, done.stderr
    assert "add resource ocfgen-c\n" in done.stdout
    assert "add constraint order-ocfgen-g-ocfgen-c-mandatory\n" in done.stdout
    assert "add property stonith-enabled\n" in done.stdout
    assert "never pushed by ocfgen" in done.stdout
    before = versions()
    done = ocfgen("push", "-y", description)
    assert done.returncode == 0, done.stderr
    assert versions()[0] == before[0] and versions()[1] > before[1]
    live = cibadmin("--query")
    assert 'id="ocfgen-g"' in live and 'rsc="ocfgen-c" with-rsc="ocfgen-g"' in live
    done = ocfgen("diff", description)
    assert done.returncode == 0 and "runs this description" in done.stdout, done.stdout
    done = ocfgen("push", "-y", description)
    assert done.returncode == 0 and "nothing to push" in done.stdout
    done = ocfgen("diff", describe(tmp_path / "small.toml", c_seconds=100033))
    assert done.returncode == 1
    assert "change resource ocfgen-c\n" in done.stdout
    assert '-    <nvpair id="ocfgen-c-instance_attributes-command" name="command" ' \
           'value="/bin/sleep 100003"/>' in done.stdout
    assert "runs another description" in done.stdout


def test_diff_and_push_trouble_exits_2(tmp_path, offline_cib):
    description = describe(tmp_path / "small.toml")
    nowhere = dict(os.environ, CIB_file=str(tmp_path / "no-such-cib.xml"))
    for command in ("diff", "push"):
        done = ocfgen(command, "-y" if command == "push" else "--", description, env=nowhere)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines()[-1].startswith("live cluster: cibadmin --query failed")
    bad = tmp_path / "bad.toml"
    bad.write_text('[cluster]\nname = "x"\n[resources.a]\nagent = "ocf:ocfpy:nope"\n')
    assert ocfgen("diff", str(bad)).returncode == 2
    assert ocfgen("push", "-y", str(bad)).returncode == 2
    helps = {command: " ".join(ocfgen(command, "--help").stdout.split())
             for command in ("diff", "push")}
    assert "Exit status as diff(1): 0 no change, 1 changes, 2 trouble" in helps["diff"]
    assert "Exit status: 0 pushed or nothing to do, 2 refused or failed" in helps["push"]
    assert all("with CIB_file=PATH in the environment" in text for text in helps.values())


def test_drift_is_reported(tmp_path, offline_cib):
    description = describe(tmp_path / "small.toml")
    assert ocfgen("push", "-y", description).returncode == 0
    cibadmin("--modify", "--xml-text",
             '<nvpair id="ocfgen-c-instance_attributes-command" value="/bin/sleep 9"/>')
    done = ocfgen("diff", description)
    assert done.returncode == 1
    assert "drift: the cluster runs this description" in done.stdout
    assert "change resource ocfgen-c" in done.stdout
    provenance = cibadmin("--query", "--xpath",
                          "//cluster_property_set[@id='ocfgen-provenance']")
    import hashlib

    digest = hashlib.sha256(open(description, "rb").read()).hexdigest()
    assert f'name="ocfgen-description-sha256" value="{digest}"' in provenance
    assert 'name="ocfgen-version"' in provenance


def test_push_keeps_the_options_pacemaker_maintains(tmp_path, offline_cib):
    cibadmin("--create", "--scope", "crm_config", "--xml-text",
             '<cluster_property_set id="cib-bootstrap-options"><nvpair '
             'id="cib-bootstrap-options-dc-version" name="dc-version" value="2.1.5-x"/>'
             '</cluster_property_set>')
    description = describe(tmp_path / "small.toml")
    assert ocfgen("push", "-y", description).returncode == 0
    assert 'name="dc-version" value="2.1.5-x"' in cibadmin("--query")


def test_unnamed_resources_are_reported_and_go_only_with_prune(tmp_path, offline_cib):
    cibadmin("--create", "--scope", "resources", "--xml-text",
             '<primitive id="someone-else" class="ocf" provider="heartbeat" type="Dummy"/>')
    cibadmin("--create", "--scope", "constraints", "--xml-text",
             '<rsc_location id="cli-ban-someone-else-on-node1" rsc="someone-else" '
             'node="node1" score="-INFINITY"/>')
    description = describe(tmp_path / "small.toml")
    done = ocfgen("push", "-y", description)
    assert done.returncode == 0, done.stderr
    assert "not managed by this description" in done.stdout
    assert "resource someone-else" in done.stdout
    assert 'id="someone-else"' in cibadmin("--query")
    assert ocfgen("diff", description).returncode == 0
    done = ocfgen("push", "--prune", description)     # not confirmed: nothing happens
    assert done.returncode == 2 and 'id="someone-else"' in cibadmin("--query")
    done = ocfgen("push", "--prune", "-y", description)
    assert done.returncode == 0, done.stderr
    assert "remove resource someone-else" in done.stdout
    live = cibadmin("--query")
    assert 'id="someone-else"' not in live and "cli-ban-someone-else" not in live
    assert 'id="ocfgen-g"' in live


def test_a_change_between_read_and_patch_is_refused(tmp_path, offline_cib):
    """Someone changes the configuration after our read (and diff), before our patch."""
    from ocfpy.generators.live import live
    from ocfpy.generators.load import description
    from ocfpy.generators.render import cib

    model = description.load(describe(tmp_path / "small.toml"))
    seen = live.query()
    plan = live.plan(seen, cib.render(model), model.digest)
    assert plan.changes

    def concurrent():
        cibadmin("--create", "--scope", "resources", "--xml-text",
                 '<primitive id="someone-else" class="ocf" provider="heartbeat" type="Dummy"/>')

    with pytest.raises(live.ChangedSinceRead, match="nothing was applied"):
        live.push(plan, before_patch=concurrent)
    after = cibadmin("--query")
    assert 'id="someone-else"' in after and 'id="ocfgen-a"' not in after


def test_a_status_change_between_read_and_patch_does_not_stop_the_push(tmp_path, offline_cib):
    """A monitor result or a transient node attribute moves only num_updates: the
    configuration is the one that was read, so the same change is patched onto the new
    version; the status change stays."""
    from ocfpy.generators.live import live
    from ocfpy.generators.load import description
    from ocfpy.generators.render import cib

    cibadmin("--create", "--scope", "nodes", "--xml-text", '<node id="1" uname="node1"/>')
    cibadmin("--create", "--scope", "status", "--xml-text",
             '<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" '
             'expected="member"/>')
    model = description.load(describe(tmp_path / "small.toml"))
    plan = live.plan(live.query(), cib.render(model), model.digest)

    def status_change():
        subprocess.run(["crm_attribute", "-N", "node1", "-n", "pingd", "-v", "5", "-l",
                        "reboot"], check=True)

    live.push(plan, before_patch=status_change)
    after = cibadmin("--query")
    assert 'id="ocfgen-g"' in after and 'name="pingd" value="5"' in after


def test_history_and_rollback(tmp_path, offline_cib):
    first = describe(tmp_path / "one.toml")
    assert ocfgen("push", "-y", first).returncode == 0
    configuration_one = cibadmin("--query", "--scope", "resources")
    second = describe(tmp_path / "two.toml", c_seconds=100033, extra=EXTRA,
                      options={"stonith-enabled": "false", "batch-limit": "7"})
    done = ocfgen("push", "-y", second)
    assert done.returncode == 0 and "ocfgen rollback 2" in done.stdout, done.stdout
    subprocess.run(["crm_attribute", "-n", "maintenance-mode", "-v", "true"], check=True)
    done = ocfgen("history")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and "push one.toml" in lines[1] and "push two.toml" in lines[2]
    where = tmp_path / "state" / "checkpoints" / "ocfgen-live"
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o700
    for name in os.listdir(where):
        assert stat.S_IMODE(os.stat(where / name).st_mode) == 0o600
    record = json.loads((where / "000002.json").read_text())
    assert record["user"] and record["time"].endswith("Z") and len(record["digest"]) == 64

    done = ocfgen("rollback", "-y")
    assert done.returncode == 0, done.stderr
    assert "remove resource ocfgen-d" in done.stdout and "remove property batch-limit" in \
        done.stdout
    assert cibadmin("--query", "--scope", "resources") == configuration_one
    live = cibadmin("--query")
    assert 'name="maintenance-mode" value="true"' in live and "batch-limit" not in live
    assert ocfgen("diff", first).returncode == 0
    done = ocfgen("rollback", "-y", "3")      # the rollback is a checkpoint too: undo it
    assert done.returncode == 0, done.stderr
    assert 'id="ocfgen-d"' in cibadmin("--query")
    assert ocfgen("rollback", "-y", "99").returncode == 2


def test_checkpoints_are_bounded(tmp_path, offline_cib):
    description = tmp_path / "small.toml"
    for n in range(4):
        describe(description, c_seconds=100100 + n)
        assert ocfgen("push", "-y", "--keep", "2", str(description)).returncode == 0
    where = tmp_path / "state" / "checkpoints" / "ocfgen-live"
    assert sorted(os.listdir(where)) == ["000003.json", "000004.json"]


# ---- the real single-node cluster ------------------------------------------------------------

def cluster_description(cluster, path, **options):
    """The test cluster's own description (its options and fencing) with our resources."""
    from ocfpy.testbed.cluster import CLUSTER_OPTIONS

    properties = dict(CLUSTER_OPTIONS, **options)
    extra = options and EXTRA or ""
    path.write_text(cluster.description(properties=properties) + RESOURCES.format(
        c_seconds=100033 if options else 100003, extra=extra))
    return str(path)


def live_configuration(cluster):
    from lxml import etree

    return etree.fromstring(cluster.run("node1", ["cibadmin", "--query"]).stdout.encode())


def state_env(tmp_path):
    return ["env", f"OCFGEN_STATE_DIR={tmp_path / 'state'}"]


@pytest.mark.cluster
def test_push_keeps_every_piece_of_operator_state(tmp_path, cluster1):
    """Operator state on the live cluster survives a push that changes the description's
    resources; the push's change applies; rollback puts back what it replaced."""
    run = cluster1.run
    saved = tmp_path / "saved-configuration.xml"
    saved.write_text(run("node1", ["cibadmin", "--query", "--scope", "configuration"]).stdout)
    before = [p.get("id") for p in live_configuration(cluster1).iterfind(
        "configuration/resources/*")]
    first = cluster_description(cluster1, tmp_path / "first.toml")
    second = cluster_description(cluster1, tmp_path / "second.toml", **{"batch-limit": "7"})
    ocfgen = [*state_env(tmp_path), *OCFGEN]
    try:
        done = run("node1", [*ocfgen, "push", "-y", first], timeout=120)
        for rid in ("ocfgen-a", "ocfgen-b", "ocfgen-c"):
            cluster1.wait_until(lambda rid=rid: cluster1.where(rid) == ["node1"], 60,
                                f"{rid} started")
        # A failure the operator has not cleaned up yet: a resource the description does not
        # name whose start fails.
        run("node1", ["cibadmin", "--create", "--scope", "resources", "--xml-text",
                      cluster1.primitive_xml("op-broken", "ocf:ocfpy:daemon",
                                             {"command": "/nonexistent/ocfgen-test"})])
        cluster1.wait_until(lambda: [f for f in cluster1.status().failures
                                     if f.resource == "op-broken"], 60, "op-broken failed")
        # The operators' day: maintenance, standby, a stopped and an unmanaged resource, a ban
        # and a preference, a node attribute, a ticket, an alert.
        run("node1", ["crm_attribute", "-n", "maintenance-mode", "-v", "true"])
        run("node1", ["crm_attribute", "-N", "node1", "-n", "standby", "-v", "on"])
        run("node1", ["crm_attribute", "-N", "node1", "-n", "maintenance", "-v", "on"])
        run("node1", ["crm_attribute", "-N", "node1", "-n", "site-note", "-v", "kept"])
        run("node1", ["crm_resource", "-r", "ocfgen-c", "--meta", "-p", "target-role",
                      "-v", "Stopped"])
        run("node1", ["crm_resource", "-r", "ocfgen-g", "--meta", "-p", "is-managed",
                      "-v", "false"])
        run("node1", ["crm_resource", "--ban", "-r", "ocfgen-c", "-N", "node1"])
        run("node1", ["cibadmin", "--create", "--scope", "constraints", "--xml-text",
                      '<rsc_location id="cli-prefer-ocfgen-g" rsc="ocfgen-g" role="Started" '
                      'node="node1" score="INFINITY"/>'])
        run("node1", ["crm_ticket", "-t", "ocfgen-ticket", "--grant", "--force"])
        run("node1", ["cibadmin", "--create", "--scope", "configuration", "--xml-text",
                      '<alerts><alert id="ocfgen-test-alert" path="/bin/true"/></alerts>'])
        failures_before = {(f.resource, f.task) for f in cluster1.status().failures}

        done = run("node1", [*ocfgen, "diff", second], check=False, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "add resource ocfgen-d" in done.stdout
        assert "change resource ocfgen-c" in done.stdout
        assert "add property batch-limit" in done.stdout
        assert "not managed by this description" in done.stdout
        assert "resource op-broken" in done.stdout and "cli-ban-ocfgen-c-on-node1" in done.stdout
        assert "maintenance-mode" not in done.stdout and "standby" not in done.stdout
        done = run("node1", [*ocfgen, "push", "-y", second], timeout=120)

        cib = live_configuration(cluster1)
        config = cib.find("configuration")

        def nvpair(xpath):
            found = config.xpath(xpath)
            return found[0].get("value") if found else None

        # The change applied...
        assert config.find("resources/primitive[@id='ocfgen-d']") is not None
        assert nvpair("resources/primitive[@id='ocfgen-c']/instance_attributes/"
                      "nvpair[@name='command']") == "/bin/sleep 100033"
        assert nvpair("crm_config//nvpair[@name='batch-limit']") == "7"
        import hashlib

        digest = hashlib.sha256(open(second, "rb").read()).hexdigest()
        assert nvpair("crm_config/cluster_property_set[@id='ocfgen-provenance']/"
                      "nvpair[@name='ocfgen-description-sha256']") == digest
        # ...and every piece of operator state survived it.
        assert nvpair("crm_config//nvpair[@name='maintenance-mode']") == "true"
        assert nvpair("nodes/node[@uname='node1']//nvpair[@name='standby']") == "on"
        assert nvpair("nodes/node[@uname='node1']//nvpair[@name='maintenance']") == "on"
        assert nvpair("nodes/node[@uname='node1']//nvpair[@name='site-note']") == "kept"
        assert nvpair("resources/primitive[@id='ocfgen-c']/meta_attributes/"
                      "nvpair[@name='target-role']") == "Stopped"
        assert nvpair("resources/group[@id='ocfgen-g']/meta_attributes/"
                      "nvpair[@name='is-managed']") == "false"
        assert config.find("constraints/rsc_location[@id='cli-ban-ocfgen-c-on-node1']") \
            is not None
        assert config.find("constraints/rsc_location[@id='cli-prefer-ocfgen-g']") is not None
        assert config.find("alerts/alert[@id='ocfgen-test-alert']") is not None
        assert cib.find("status/tickets/ticket_state[@id='ocfgen-ticket']").get(
            "granted") == "true"
        for rid in before + ["op-broken"]:     # fence devices and the operators' resources
            assert config.find(f"resources/*[@id='{rid}']") is not None, rid
        failures_after = {(f.resource, f.task) for f in cluster1.status().failures}
        assert failures_before <= failures_after and ("op-broken", "start") in failures_after
        assert "op-broken" in cluster1.crm_mon()

        # Rollback: the push's own changes go back, the operators' state stays.
        done = run("node1", [*ocfgen, "rollback", "-y"], timeout=120)
        assert "remove resource ocfgen-d" in done.stdout, done.stdout
        config = live_configuration(cluster1).find("configuration")
        assert config.find("resources/primitive[@id='ocfgen-d']") is None
        assert nvpair("resources/primitive[@id='ocfgen-c']/instance_attributes/"
                      "nvpair[@name='command']") == "/bin/sleep 100003"
        assert nvpair("crm_config//nvpair[@name='batch-limit']") is None
        assert nvpair("crm_config//nvpair[@name='maintenance-mode']") == "true"
        assert nvpair("nodes/node[@uname='node1']//nvpair[@name='standby']") == "on"
        assert nvpair("resources/primitive[@id='ocfgen-c']/meta_attributes/"
                      "nvpair[@name='target-role']") == "Stopped"
        done = run("node1", [*ocfgen, "diff", first], check=False, timeout=120)
        assert done.returncode == 0, done.stdout
    finally:
        run("node1", ["cibadmin", "--replace", "--scope", "configuration", "--xml-file",
                      str(saved)])
        run("node1", ["crm_ticket", "-t", "ocfgen-ticket", "--revoke", "--force"], check=False)
        run("node1", ["crm_resource", "--cleanup", "-r", "op-broken"], check=False)
    for rid in ("ocfgen-a", "ocfgen-b", "ocfgen-c", "op-broken"):
        cluster1.wait_until(lambda rid=rid: rid not in cluster1.crm_mon(), 90, f"{rid} removed")


CONCURRENT = """
import subprocess, sys
from ocfpy.generators.live import live
from ocfpy.generators.load import description
from ocfpy.generators.render import cib
model = description.load(sys.argv[1])
plan = live.plan(live.query(), cib.render(model), model.digest)
assert plan.changes
def concurrent():
    subprocess.run(["cibadmin", "--create", "--scope", "resources", "--xml-text",
                    sys.argv[2]], check=True)
try:
    live.push(plan, before_patch=concurrent)
except live.ChangedSinceRead as exc:
    print("refused:", exc)
"""


@pytest.mark.cluster
def test_a_concurrent_change_on_the_live_cluster_is_refused(tmp_path, cluster1):
    """A real cibadmin change lands between ocfgen's read and its patch: Pacemaker refuses
    the patch, nothing of it is applied, the concurrent change stays."""
    description = cluster_description(cluster1, tmp_path / "c.toml")
    other = cluster1.primitive_xml("someone-else", "ocf:heartbeat:Dummy")
    meta = {"target-role": "Stopped"}
    other = cluster1.primitive_xml("someone-else", "ocf:heartbeat:Dummy", meta=meta)
    try:
        done = cluster1.run("node1", [PYTHON, "-c", textwrap.dedent(CONCURRENT), description,
                                      other], timeout=120)
        assert done.stdout.startswith("refused: the live configuration changed since it was "
                                      "read"), done.stdout + done.stderr
        assert "nothing was applied" in done.stdout
        resources = live_configuration(cluster1).find("configuration/resources")
        assert resources.find("primitive[@id='someone-else']") is not None
        assert resources.find("*[@id='ocfgen-g']") is None
    finally:
        cluster1.run("node1", ["cibadmin", "--delete", "--scope", "resources", "--xml-text",
                               '<primitive id="someone-else"/>'], check=False)


def test_a_resource_moves_into_a_group_and_one_inside_an_operator_group_is_refused(
        tmp_path, offline_cib):
    cibadmin("--create", "--scope", "resources", "--xml-text",
             '<primitive id="ocfgen-a" class="ocf" provider="heartbeat" type="Dummy"/>')
    description = describe(tmp_path / "small.toml")
    done = ocfgen("push", "-y", description)
    assert done.returncode == 0, done.stderr
    assert "remove resource ocfgen-a" in done.stdout and "add resource ocfgen-g" in done.stdout
    resources = cibadmin("--query", "--scope", "resources")
    assert resources.count('id="ocfgen-a"') == 1
    assert ocfgen("diff", description).returncode == 0

    offline_cib.write_text(subprocess.run(["cibadmin", "--empty"], capture_output=True,
                                          text=True, check=True).stdout)
    cibadmin("--create", "--scope", "resources", "--xml-text",
             '<group id="theirs"><primitive id="ocfgen-b" class="ocf" provider="heartbeat" '
             'type="Dummy"/></group>')
    before = cibadmin("--query")
    for command in ("diff", "push"):
        done = ocfgen(command, *(["-y"] if command == "push" else []), description)
        assert done.returncode == 2, done.stdout
        assert "resource ocfgen-b is inside theirs in the live cluster" in done.stderr
    assert cibadmin("--query") == before
