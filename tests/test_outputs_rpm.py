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
    """One snapshot of the source, built twice into two output directories: per build the
    node package and the ocfgen package."""
    base = tmp_path_factory.mktemp("rpm")
    source = base / "source"
    source.mkdir()
    for name in TREE:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "dist"))
        else:
            shutil.copy(path, source / name)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    builds = []
    for n in (1, 2):
        done = subprocess.run([str(source / "rpm" / "build.sh"), str(base / f"out{n}")], env=env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        builds.append(done.stdout.strip().splitlines()[-2:])
    return base, builds


def rpm_query(*args):
    return subprocess.run(["rpm", *args], capture_output=True, text=True, check=True).stdout


def test_two_packages_with_the_expected_files(built):
    _, ((node, ocfgen), _) = built
    assert os.path.basename(node) == f"ocfpy-{version()}-1.noarch.rpm"
    assert os.path.basename(ocfgen) == f"ocfpy-ocfgen-{version()}-1.noarch.rpm"
    node_files = set(rpm_query("-qlp", node).split())
    ocfgen_files = set(rpm_query("-qlp", ocfgen).split())
    site = next(f for f in node_files if f.endswith("/ocfpy/agent.py")).rsplit("/ocfpy/", 1)[0]
    from ocfpy import catalogue

    assert {
        "/usr/bin/ocfpy-agents", "/usr/bin/ocfpy-ducc-head-mode",
        "/usr/lib/systemd/system/epics-ioc@.service",
        "/usr/lib/systemd/system-preset/80-ocfpy.preset",
        "/usr/lib/sysusers.d/ocfpy.conf",
        "/usr/share/ocfpy/systemd/ocfpy-pacemaker.conf",
        f"{site}/ocfpy/__init__.py", f"{site}/ocfpy/agents/daemon.py",
    } | {f"/usr/lib/ocf/resource.d/ocfpy/{name}" for name in catalogue.names()} | {
        f"/usr/share/man/man7/ocf_ocfpy_{name}.7.gz" for name in catalogue.names()
    } <= node_files
    assert {
        "/usr/bin/ocfgen", f"{site}/ocfpy/generators/cli/main.py",
        f"{site}/ocfpy/generators/render/templates/service.unit.j2",
        f"{site}/ocfpy/generators/render/templates/keepalived.conf.j2",
        "/usr/share/man/man8/ocfgen.8.gz", "/usr/share/bash-completion/completions/ocfgen",
        "/usr/share/zsh/site-functions/_ocfgen",
    } <= ocfgen_files
    # Nodes get no generator and neither package the namespace test harness.
    assert not [f for f in node_files if "/generators" in f or f.endswith("/ocfgen")]
    assert not [f for f in node_files | ocfgen_files if "/testbed" in f]
    assert not [f for f in node_files | ocfgen_files if f.endswith(".pyc") or "direct_url" in f]
    node_requires = rpm_query("-qp", "--requires", node).splitlines()
    assert "pacemaker" in node_requires and "resource-agents" in node_requires
    assert not [r for r in node_requires if re.search(r"click|lxml|jinja2", r)]
    ocfgen_requires = rpm_query("-qp", "--requires", ocfgen).splitlines()
    assert "python3dist(click) >= 8.0" in ocfgen_requires
    assert f"ocfpy = {version()}-1" in ocfgen_requires
    assert rpm_query("-qp", "--qf", "%{VERSION} %{ARCH}", node) == f"{version()} noarch"


def test_same_source_gives_the_same_files(built):
    _, (first, second) = built
    for a_path, b_path in zip(first, second):
        assert rpm_query("-qlp", a_path) == rpm_query("-qlp", b_path)
        # Stronger: every file's size, time, digest, mode and owner match too.
        assert rpm_query("-qp", "--dump", a_path) == rpm_query("-qp", "--dump", b_path)
        # Strongest: with SOURCE_DATE_EPOCH pinned the packages are byte for byte the same.
        with open(a_path, "rb") as a, open(b_path, "rb") as b:
            assert a.read() == b.read()


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """Both packages installed into one scratch root, node package first."""
    _, ((node, ocfgen), _) = built
    root = tmp_path_factory.mktemp("rpmroot")
    for rpm in (node, ocfgen):
        done = subprocess.run(["rpm", "-i", "--root", str(root), "--nodeps", "--noscripts",
                               "--dbpath", "/var/lib/rpm", rpm], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    for name in ("ocfpy", "ocfpy-ocfgen"):
        assert rpm_query("-q", "--root", str(root), "--dbpath", "/var/lib/rpm", name).startswith(
            f"{name}-{version()}")
    return root


def scratch_site(root):
    text = (root / "usr/lib/ocf/resource.d/ocfpy/daemon").read_text()
    site = re.search(r"^sys\.path\[:0\] = \['([^']+)'\]$", text, re.M).group(1)
    assert (root / site.lstrip("/") / "ocfpy" / "agent.py").is_file()
    return site, str(root / site.lstrip("/"))


ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf",
       "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"}


def test_agents_run_from_the_scratch_root(installed, tmp_path):
    root = installed
    script = root / "usr/lib/ocf/resource.d/ocfpy/daemon"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/python3 -IS\n")
    site, inside = scratch_site(root)
    runnable = tmp_path / "daemon"
    runnable.write_text(text.replace(repr(site), repr(inside)))
    done = subprocess.run(["/usr/bin/python3", "-IS", str(runnable), "meta-data"], env=ENV,
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    document = etree.fromstring(done.stdout)
    assert document.get("name") == "daemon" and document.get("version") == version()
    schema = etree.RelaxNG(etree.parse(SCHEMA))
    assert schema.validate(document), schema.error_log
    where = subprocess.run(
        ["/usr/bin/python3", "-IS", "-c",
         f"import sys; sys.path.insert(0, {inside!r}); import ocfpy.agents.daemon as m; "
         "print(m.__file__)"], env=ENV, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(inside)


def test_ocfgen_runs_from_the_scratch_root(installed):
    """ocfgen under the system interpreter, with the dependencies the package requires
    (Debian's python3-click, -lxml, -jinja2) and every ocfpy module from the payload."""
    _, inside = scratch_site(installed)
    run = ["/usr/bin/python3", "-I", "-c",
           f"import sys; sys.path.insert(0, {inside!r}); import ocfpy.generators.cli as c; "
           "assert c.__file__.startswith(sys.path[0]), c.__file__; sys.argv[0] = 'ocfgen'; c.main()"]
    done = subprocess.run([*run, "check", os.path.join(REPO, "examples", "acs-alma.toml")],
                          env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    completion = subprocess.run(run, env=dict(ENV, _OCFGEN_COMPLETE="bash_complete",
                                              COMP_WORDS="ocfgen bu", COMP_CWORD="1"),
                                capture_output=True, text=True, timeout=60)
    assert completion.stdout.split() == ["plain,build"], completion
    script = (installed / "usr/share/bash-completion/completions/ocfgen").read_text()
    assert "complete -o nosort -F _ocfgen_completion ocfgen" in script
    # zsh: the installed _ocfgen answers through the same protocol, zsh's flavour of it
    # (type, word, description per candidate); hidden aliases such as --outputs are not offered.
    zsh = subprocess.run(run, env=dict(ENV, _OCFGEN_COMPLETE="zsh_complete",
                                       COMP_WORDS="ocfgen units x.toml --", COMP_CWORD="3"),
                         capture_output=True, text=True, timeout=60)
    words = zsh.stdout.splitlines()[1::3]
    assert {"--hosts", "--output-dir", "--verify", "--no-verify"} <= set(words), zsh
    assert "--outputs" not in words and "--check" not in words


def test_zsh_finds_the_installed_completion(installed):
    """zsh's compinit, given the package's site-functions on fpath (where zsh looks by
    default), binds _ocfgen to ocfgen; the file parses (zsh -n)."""
    functions = installed / "usr/share/zsh/site-functions"
    assert (functions / "_ocfgen").read_text().startswith("#compdef ocfgen\n")
    assert subprocess.run(["zsh", "-n", str(functions / "_ocfgen")]).returncode == 0
    done = subprocess.run(["zsh", "-f", "-c", f"fpath=({functions} $fpath); autoload -Uz "
                           "compinit; compinit -u -D; print -r -- ${_comps[ocfgen]}"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "_ocfgen", (done.stdout, done.stderr)


@pytest.mark.parametrize("page, heading", [("ocf_ocfpy_epics-ioc", "OCF_OCFPY_EPICS-IOC(7)"),
                                           ("ocfgen", "OCFGEN(8)")])
def test_man_pages_read_from_the_scratch_root(installed, page, heading):
    done = subprocess.run(["man", "-M", str(installed / "usr/share/man"), page],
                          env=dict(ENV, MANWIDTH="100", MANPAGER="cat", PAGER="cat"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == heading
    if page == "ocfgen":
        assert "ocfgen build DESCRIPTION [OPTIONS]" in done.stdout
    else:
        assert "boot_dir" in done.stdout and "PARAMETERS" in done.stdout


def test_version_comes_from_one_place():
    with open(os.path.join(REPO, "rpm", "ocfpy.spec")) as f:
        spec = f.read()
    assert re.search(r"^Version:\s+%\{ocfpy_version\}$", spec, re.M)
    assert not re.search(r"\b\d+\.\d+\.\d+\b", spec.split("%description")[0].replace(
        "3.9", "")), "a literal version in the spec header"
