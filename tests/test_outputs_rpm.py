"""The ocfpy RPM: rpm/build.sh builds it with rpmbuild; rpm -qlp lists the expected files; the
same source built twice gives the same files (names, digests, modes, times); it installs into a
scratch root with rpm -i --root; an installed agent's meta-data runs from that root.

How an agent runs from the scratch root without chroot: its entry script names /usr/bin/python3
-IS and inserts the site directory the spec gave it (e.g. /usr/lib/python3/dist-packages) into
sys.path. The test copies the installed script, with only that one path rewritten to the same
directory inside the scratch root, and runs it with /usr/bin/python3 -IS (isolated: no
site-packages, no script directory on sys.path), so every ocfpy module it imports comes from
the RPM's payload; a second run prints the imported module's file to prove it.
"""

import os
import re
import shutil
import subprocess

import pytest
from lxml import etree

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(REPO, "tests", "data", "ra-api-1.1.rng")
TREE = ("setup.cfg", "pyproject.toml", "README.md", "ocfpy", "agents", "generators", "rpm",
        "systemd-units")


def version():
    with open(os.path.join(REPO, "ocfpy", "__init__.py")) as f:
        return re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M).group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One snapshot of the source, built twice into two output directories."""
    base = tmp_path_factory.mktemp("rpm")
    source = base / "source"
    source.mkdir()
    for name in TREE:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                                                "dist"))
        else:
            shutil.copy(path, source / name)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    rpms = []
    for n in (1, 2):
        done = subprocess.run([str(source / "rpm" / "build.sh"), str(base / f"out{n}")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        rpms.append(done.stdout.strip().splitlines()[-1])
    return base, rpms


def rpm_query(*args):
    return subprocess.run(["rpm", *args], capture_output=True, text=True, check=True).stdout


def test_rpm_lists_the_expected_files(built):
    _, (rpm, _) = built
    assert os.path.basename(rpm) == f"ocfpy-{version()}-1.noarch.rpm"
    files = set(rpm_query("-qlp", rpm).split())
    site = next(f for f in files if f.endswith("/ocfpy/agent.py")).rsplit("/ocfpy/", 1)[0]
    from ocfpy import catalogue

    expected = {
        "/usr/bin/ocfgen", "/usr/bin/ocfpy-agents",
        "/usr/lib/systemd/system/epics-ioc@.service",
        "/usr/lib/systemd/system-preset/80-ocfpy.preset",
        "/usr/lib/sysusers.d/ocfpy.conf",
        "/usr/share/ocfpy/systemd/ocfpy-pacemaker.conf",
        f"{site}/ocfpy/__init__.py", f"{site}/ocfpy/agents/daemon.py",
        f"{site}/ocfpy/generators/cli.py", f"{site}/ocfpy/generators/templates/service.unit.j2",
        f"{site}/ocfpy/generators/templates/keepalived.conf.j2",
    } | {f"/usr/lib/ocf/resource.d/ocfpy/{name}" for name in catalogue.names()}
    assert expected <= files, sorted(expected - files)
    assert not [f for f in files if f.endswith(".pyc") or "direct_url" in f]
    requires = rpm_query("-qp", "--requires", rpm).splitlines()
    assert "pacemaker" in requires and "resource-agents" in requires
    assert "python3dist(click) >= 8.0" in requires
    assert rpm_query("-qp", "--qf", "%{VERSION} %{ARCH}", rpm) == f"{version()} noarch"


def test_same_source_gives_the_same_files(built):
    _, (first, second) = built
    assert rpm_query("-qlp", first) == rpm_query("-qlp", second)
    # Stronger: every file's size, time, digest, mode and owner match too.
    assert rpm_query("-qp", "--dump", first) == rpm_query("-qp", "--dump", second)
    # Strongest: with SOURCE_DATE_EPOCH pinned the two packages are byte for byte the same.
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()


def test_installs_into_a_scratch_root_and_agents_run_from_it(built, tmp_path):
    _, (rpm, _) = built
    root = tmp_path / "root"
    root.mkdir()
    done = subprocess.run(["rpm", "-i", "--root", str(root), "--nodeps", "--noscripts",
                           "--dbpath", "/var/lib/rpm", rpm], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert rpm_query("-q", "--root", str(root), "--dbpath", "/var/lib/rpm", "ocfpy").startswith(
        f"ocfpy-{version()}")
    installed = root / "usr/lib/ocf/resource.d/ocfpy/daemon"
    assert os.access(installed, os.X_OK)
    text = installed.read_text()
    assert text.startswith("#!/usr/bin/python3 -IS\n")
    site = re.search(r"^sys\.path\[:0\] = \['([^']+)'\]$", text, re.M).group(1)
    assert (root / site.lstrip("/") / "ocfpy" / "agent.py").is_file()
    scratch_site = str(root / site.lstrip("/"))
    runnable = tmp_path / "daemon"
    runnable.write_text(text.replace(repr(site), repr(scratch_site)))
    env = {"PATH": "/usr/bin:/bin", "OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1",
           "OCF_RA_VERSION_MINOR": "1"}
    done = subprocess.run(["/usr/bin/python3", "-IS", str(runnable), "meta-data"], env=env,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    document = etree.fromstring(done.stdout)
    assert document.get("name") == "daemon" and document.get("version") == version()
    schema = etree.RelaxNG(etree.parse(SCHEMA))
    assert schema.validate(document), schema.error_log
    where = subprocess.run(
        ["/usr/bin/python3", "-IS", "-c",
         f"import sys; sys.path.insert(0, {scratch_site!r}); import ocfpy.agents.daemon as m; "
         "print(m.__file__)"], env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(scratch_site)


def test_version_comes_from_one_place():
    with open(os.path.join(REPO, "rpm", "ocfpy.spec")) as f:
        spec = f.read()
    assert re.search(r"^Version:\s+%\{ocfpy_version\}$", spec, re.M)
    assert not re.search(r"\b\d+\.\d+\.\d+\b", spec.split("%description")[0].replace(
        "3.9", "")), "a literal version in the spec header"
