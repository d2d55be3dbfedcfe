"""systemd units: the shipped ones (systemd-units/) and those ocfgen generates pass
`systemd-analyze verify` without a single line of output, carry hardening (exposure score
against a plain unit), and a unit both managed by Pacemaker and enabled is refused.
Presets and drop-ins are checked with systemctl --root on a scratch root.
"""

import os
import re
import shutil
import subprocess

import pytest

from ocfpy.generators.render.units import (
    DROPIN_NAME,
    ServiceUnit,
    UnitConflict,
    UnitError,
    render_all,
    render_pacemaker_dropin,
    render_unit,
)

SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "systemd-units")
PLAIN = "[Unit]\nDescription=plain\n\n[Service]\nExecStart=/bin/sleep 600\n"


def verify(path):
    """systemd-analyze verify: exit 0 is not enough (unknown keys only warn); any line fails."""
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                          capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()


def exposure(path):
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(path)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert match, done.stdout + done.stderr
    return float(match.group(1))


def described():
    """Services of the kinds the project runs, with the executables this machine has."""
    return [
        ServiceUnit("ioc-llrf", ("/usr/bin/procServ", "--foreground", "--quiet", "--name=llrf",
                                 "unix:/run/ioc-llrf/console", "/opt/epics/llrf/st.cmd"),
                    description="EPICS IOC llrf", user="epics-ioc", enabled=True, realtime=True,
                    devices=("/dev/ttyS0",), read_write_paths=("/run/ioc-llrf",)),
        ServiceUnit("acs-naming", ("/usr/bin/omniNames", "-start", "3001", "-logdir",
                                   "/var/lib/acs/naming"),
                    user="acs", read_write_paths=("/var/lib/acs/naming",), pacemaker=True,
                    timeout_start=60, timeout_stop=30),
        ServiceUnit("ducc-ws", ("/usr/bin/sleep", "infinity"), user="ducc", jit=True,
                    pacemaker=True, environment=(("JAVA_OPTS", "-Xmx2g -Dducc.ws.port=42133"),)),
        ServiceUnit("offline-tool", ("/usr/bin/sleep", "a b", "$HOME", "100%", 'say "hi"'),
                    network=False, restart="always", enabled=True),
    ]


def test_shipped_units_and_dropin_verify_cleanly(tmp_path):
    for name in sorted(os.listdir(SHIPPED)):
        shutil.copy(os.path.join(SHIPPED, name), tmp_path / name)
    assert verify(tmp_path / "epics-ioc@.service") == (0, [])
    assert verify(tmp_path / "epics-ioc@llrf.service") == (0, [])   # an instance of the template
    # The shipped drop-in, applied to a unit the way a site would.
    (tmp_path / "vendor.service").write_text(PLAIN)
    (tmp_path / "vendor.service.d").mkdir()
    shutil.copy(os.path.join(SHIPPED, "ocfpy-pacemaker.conf"), tmp_path / "vendor.service.d")
    assert verify(tmp_path / "vendor.service") == (0, [])


def test_verify_check_can_fail(tmp_path):
    """The zero-line rule catches what exit 0 hides, and a missing executable fails outright."""
    (tmp_path / "typo.service").write_text(PLAIN + "Restrat=always\n")
    rc, lines = verify(tmp_path / "typo.service")
    assert rc == 0 and any("Unknown key 'Restrat'" in line for line in lines)
    (tmp_path / "missing.service").write_text(PLAIN.replace("/bin/sleep", "/nonexistent/x"))
    rc, lines = verify(tmp_path / "missing.service")
    assert rc != 0 and lines


def test_generated_units_verify_cleanly(tmp_path):
    files = render_all(described(), vendor_units=["activemq"])
    (tmp_path / "activemq.service").write_text(PLAIN)       # the vendor unit the drop-in extends
    for path, text in files.items():
        os.makedirs(os.path.dirname(tmp_path / path), exist_ok=True)
        (tmp_path / path).write_text(text)
    assert sorted(files) == ["80-ocfpy-cluster.preset", "acs-naming.service",
                             f"activemq.service.d/{DROPIN_NAME}", "ducc-ws.service",
                             "ioc-llrf.service", "offline-tool.service"]
    for name in ("ioc-llrf", "acs-naming", "ducc-ws", "offline-tool", "activemq"):
        assert verify(tmp_path / f"{name}.service") == (0, []), files.get(f"{name}.service")


def test_generated_unit_is_hardened_against_a_plain_one(tmp_path):
    plain = tmp_path / "plain.service"
    plain.write_text(PLAIN)
    scores = {"plain": exposure(plain)}
    for unit in described():
        path = tmp_path / unit.unit_name
        path.write_text(render_unit(unit))
        scores[unit.name] = exposure(path)
    shipped = tmp_path / "epics-ioc@.service"
    shutil.copy(os.path.join(SHIPPED, "epics-ioc@.service"), shipped)
    scores["epics-ioc@"] = exposure(tmp_path / "epics-ioc@x.service")
    print("systemd-analyze security exposure:", scores)
    assert scores["plain"] > 9
    assert all(score < 3.5 for name, score in scores.items() if name != "plain"), scores


def test_pacemaker_managed_and_enabled_is_refused():
    with pytest.raises(UnitConflict, match=r"service 'acs-naming' is managed by Pacemaker .* also "
                                           r"enabled in systemd"):
        ServiceUnit("acs-naming", ("/usr/bin/omniNames",), pacemaker=True, enabled=True)


def test_pacemaker_managed_unit_has_no_install_and_only_cluster_starts(tmp_path):
    text = render_unit(described()[1])
    assert "\n[Install]" not in text and "WantedBy" not in text
    assert "Restart=no" in text
    assert ("ConditionPathExists=|/run/systemd/system/acs-naming.service.d/50-pacemaker.conf"
            in text)
    enabled = render_unit(described()[0])
    assert "[Install]\nWantedBy=multi-user.target" in enabled and "Restart=on-failure" in enabled


def test_preset_keeps_vendor_unit_disabled(tmp_path):
    """systemctl preset on a scratch root: a site preset enabling everything loses to ours."""
    root = tmp_path / "root"
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system-preset").mkdir(parents=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system/activemq.service").write_text(
        PLAIN + "\n[Install]\nWantedBy=multi-user.target\n")
    (root / "usr/lib/systemd/system-preset/99-default.preset").write_text("enable *\n")

    def preset_then_state():
        subprocess.run(["systemctl", f"--root={root}", "preset", "activemq.service"],
                       capture_output=True, check=True)
        return subprocess.run(["systemctl", f"--root={root}", "is-enabled", "activemq.service"],
                              capture_output=True, text=True).stdout.strip()

    assert preset_then_state() == "enabled"                  # control: the site's default wins
    subprocess.run(["systemctl", f"--root={root}", "disable", "activemq.service"],
                   capture_output=True, check=True)
    files = render_all([], vendor_units=["activemq"])
    (root / "usr/lib/systemd/system-preset/80-ocfpy-cluster.preset").write_text(
        files["80-ocfpy-cluster.preset"])
    assert preset_then_state() == "disabled"


def test_dropin_names_pacemakers_override():
    text = render_pacemaker_dropin("activemq")
    assert "ConditionPathExists=|/run/systemd/system/activemq.service.d/50-pacemaker.conf" in text
    # Pacemaker 2.1's spelling for a resource written systemd:activemq.service.
    assert ("ConditionPathExists=|/run/systemd/system/activemq.service.service.d/50-pacemaker.conf"
            in text)


@pytest.mark.parametrize("changes, why", [
    (dict(exec_start=("sleep", "1")), "absolute path"),
    (dict(name="bad name"), "not a valid systemd unit name"),
    (dict(user="Bad User"), "user 'Bad User'"),
    (dict(timeout_stop=0), "timeout_stop"),
    (dict(restart="sometimes"), "restart 'sometimes'"),
    (dict(read_write_paths=("relative/dir",)), "'relative/dir'"),
    (dict(environment=(("1BAD", "x"),)), "environment name '1BAD'"),
    (dict(service_type="forking"), "pid_file"),
    (dict(description="two\nlines"), "description must be one line"),
])
def test_bad_service_refused(changes, why):
    fields = dict(name="svc", exec_start=("/bin/sleep", "1"))
    fields.update(changes)
    with pytest.raises(UnitError, match=re.escape(why)):
        ServiceUnit(**fields)


def test_exec_start_words_are_quoted_literally():
    text = render_unit(described()[3])
    assert 'ExecStart=/usr/bin/sleep "a b" "$$HOME" "100%%" "say \\"hi\\""' in text


def test_shipped_sysusers_creates_the_template_user(tmp_path):
    """The user epics-ioc@.service runs as comes from the shipped sysusers.d file."""
    done = subprocess.run(["systemd-sysusers", f"--root={tmp_path}", "--dry-run",
                           os.path.join(SHIPPED, "ocfpy.sysusers")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Creating user 'epics-ioc'" in done.stdout + done.stderr
    with open(os.path.join(SHIPPED, "epics-ioc@.service")) as f:
        assert "User=epics-ioc\n" in f.read()
