"""`ocfgen check` across resources (generators/verify/crosschecks.py): every message is located at the
file, line and key it is about. Descriptions are examples/ducc-heads.toml with one change."""

import os
import subprocess

from ocfrun import OCFGEN, REPO

EXAMPLE = os.path.join(REPO, "examples", "ducc-heads.toml")


def description(tmp_path, replace=None, before_vip=""):
    text = open(EXAMPLE).read()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    if before_vip:
        text = text.replace("[resources.ducc-vip]", before_vip + "\n[resources.ducc-vip]")
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path, text


def line(text, start):
    return next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith(start))


def place(text, start, key=None):
    """line:column of `key` (of the line's start without one) on the line beginning `start`."""
    row = text.splitlines()[line(text, start) - 1]
    return f"{line(text, start)}:{row.index(key) + 1 if key else 1}"


def check(path):
    return subprocess.run([*OCFGEN, "check", str(path)], capture_output=True, text=True,
                          timeout=120)


def test_the_example_passes_without_warnings(tmp_path):
    path, _ = description(tmp_path)
    done = check(path)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr


def test_ducc_head_vip_must_be_the_colocated_address(tmp_path):
    path, text = description(tmp_path, ('vip = "192.0.2.30" }', 'vip = "192.0.2.31" }'))
    done = check(path)
    assert done.returncode == 2
    head, colocation = place(text, "params = { ducc_home", "vip ="), line(text, "[[colocation]]")
    assert done.stderr.strip().splitlines()[-1] == (
        f"{path}:{head}: resources.ducc-head.params.vip: vip 192.0.2.31 is not 192.0.2.30, the "
        f"ip of ducc-vip (ocf:heartbeat:IPaddr2) colocated with it by the colocation at line "
        f"{colocation}: DUCC makes the head holding ducc.head's address master, so ducc-head "
        f"would never be master where Pacemaker promotes it")


def test_the_matching_vip_with_other_settings_passes(tmp_path):
    path, _ = description(tmp_path, ('vip = "192.0.2.30" }', 'vip = "192.0.2.30", '
                                                              'vip_prefix = 24 }'))
    assert check(path).returncode == 0


def test_ducc_head_without_vip_is_warned_about(tmp_path):
    path, text = description(tmp_path, ('vip = "192.0.2.30" }', 'vip = "" }'))
    done = check(path)
    assert done.returncode == 0, done.stderr
    head, colocation = place(text, "params = { ducc_home"), line(text, "[[colocation]]")
    assert (f"warning: {path}:{head}: resources.ducc-head.params: vip is not set, while "
            f"ducc-head is colocated with ducc-vip (ocf:heartbeat:IPaddr2, ip 192.0.2.30) by the "
            f"colocation at line {colocation}: set vip = '192.0.2.30' so the monitor checks the "
            f"master holds it") in done.stderr.splitlines()


def test_procserv_restarting_its_child_is_refused(tmp_path):
    path, text = description(tmp_path, before_vip=(
        '[resources.ioc]\nagent = "ocf:ocfpy:daemon"\n'
        'params = { command = "/usr/bin/procServ -f -q 7001 /opt/ioc/st.cmd" }\n'))
    done = check(path)
    assert done.returncode == 2
    at = place(text, 'params = { command = "/usr/bin/procServ', "command")
    assert done.stderr.strip() == (
        f"{path}:{at}: resources.ioc.params.command: runs procServ without --noautorestart: "
        f"procServ would restart its child itself, behind Pacemaker's back (add "
        f"--noautorestart, or use ocf:ocfpy:epics-ioc)")
    path, _ = description(tmp_path, before_vip=(
        '[resources.ioc]\nagent = "ocf:ocfpy:daemon"\n'
        'params = { command = "/usr/bin/procServ -f --noautorestart 7001 /opt/ioc/st.cmd" }\n'))
    assert check(path).returncode == 0


def test_ducc_autostart_next_to_ducc_resources_is_refused(tmp_path):
    path, text = description(tmp_path, before_vip=(
        '[resources.ducc-boot]\nagent = "ocf:ocfpy:daemon"\n'
        'params = { command = "/opt/ducc/current/admin/start_ducc -c ag" }\n'))
    done = check(path)
    assert done.returncode == 2
    at = place(text, 'params = { command = "/opt/ducc', "command")
    assert done.stderr.strip() == (
        f"{path}:{at}: resources.ducc-boot.params.command: runs DUCC's own start-up (start_ducc) "
        f"while ducc-head, ducc-agent run DUCC's daemons under Pacemaker: two supervisors would "
        f"start them (leave DUCC's start-up and autostart to the ducc-head/ducc-agent resources)")


def test_a_systemd_ducc_unit_next_to_ducc_resources_is_refused(tmp_path):
    path, text = description(tmp_path, before_vip='[resources.ducc-unit]\nagent = "systemd:ducc"\n')
    done = check(path)
    assert done.returncode == 2
    at = place(text, 'agent = "systemd:ducc"')
    assert done.stderr.strip() == (
        f"{path}:{at}: resources.ducc-unit.agent: systemd:ducc starts DUCC too, while "
        f"ducc-head, ducc-agent run DUCC's daemons under Pacemaker: two supervisors would start "
        f"them")


def test_short_timeouts_and_unknown_check_levels_are_warned_about(tmp_path):
    path, text = description(tmp_path, before_vip=(
        '[resources.ioc]\nagent = "ocf:ocfpy:epics-ioc"\n'
        'params = { ioc_name = "llrf", boot_dir = "/opt/ioc" }\n'
        'ops = [{ name = "monitor", interval = "10s", timeout = "5s", OCF_CHECK_LEVEL = 30 },\n'
        '       { name = "monitor", interval = "31s", OCF_CHECK_LEVEL = 20 }]\n'))
    done = check(path)
    assert done.returncode == 0, done.stderr
    at = place(text, "ops = [{ name = \"monitor\"", "{")
    warnings = [row for row in done.stderr.splitlines() if row.startswith("warning:")]
    assert warnings == [
        f"warning: {path}:{at}: resources.ioc.ops[0]: timeout 5s of monitor is shorter than the "
        f"20s ocf:ocfpy:epics-ioc advises",
        f"warning: {path}:{at}: resources.ioc.ops[0]: OCF_CHECK_LEVEL 30 is not a depth "
        f"ocf:ocfpy:epics-ioc offers (0, 10, 20)",
    ]


def test_op_defaults_timeout_shorter_than_advised_is_located_at_the_op(tmp_path):
    path, text = description(tmp_path, ("[defaults]", '[op_defaults]\ntimeout = "10s"\n\n[defaults]'),
                             before_vip=(
        '[resources.svc]\nagent = "ocf:ocfpy:acs-services"\n'
        'params = { acsroot = "/alma/ACS", acsdata = "/alma/data" }\n'
        'ops = [{ name = "monitor", interval = "15s" }]\n'))
    done = check(path)
    assert done.returncode == 0, done.stderr
    at = place(text, 'ops = [{ name = "monitor", interval = "15s" }]', "{")
    assert (f"warning: {path}:{at}: resources.svc.ops[0]: timeout 10s (from [op_defaults]) of "
            f"monitor is shorter than the 20s ocf:ocfpy:acs-services advises"
            ) in done.stderr.splitlines()
