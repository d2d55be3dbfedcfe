"""The suite tests the tree it lives in, not a copy installed somewhere else.

A copy of this checkout gets a venv of its own that sees the copy and the dependencies only
(no editable install of any checkout), then runs a test file of its own suite twice: as
copied, it passes; with NOT_RUNNING changed to 77 in the copy's ocfpy/codes.py, the same file
fails. Where the tests imported an installed ocfpy (the defect this guards against), the
mutated run would pass too.
"""

import os
import pathlib
import shutil
import subprocess
import sysconfig
import tempfile
import venv

import pytest
from ocfrun import REPO

TESTS = "tests/test_core_contract.py"
SKIP = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "build", "dist", "*.egg-info",
                              ".pytest_cache", ".hypothesis", ".ruff_cache")


@pytest.fixture(scope="module")
def copy():
    # Not under pytest's tmp_path (0700): the copy's session checks that other users can
    # read it, as services run as 'nobody' from a checkout's scripts.
    base = pathlib.Path(tempfile.mkdtemp(prefix="ocfpy-mutation-"))
    os.chmod(base, 0o755)
    tree = base / "tree"
    shutil.copytree(REPO, tree, symlinks=True, ignore=SKIP)
    environment = base / "venv"
    venv.create(environment, with_pip=False)
    site = next((environment / "lib").glob("python3*/site-packages"))
    # The dependencies only: a .pth line adds the directory but runs none of its .pth files,
    # so the editable finder that maps ocfpy to this checkout stays out.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (site / "tree.pth").write_text(f"{tree}\n")
    yield tree, environment / "bin" / "python3"
    shutil.rmtree(base)


def run_suite(tree, python, tmp_path):
    env = dict(os.environ, OCFPY_AGENT_DIR=str(tmp_path / "agents"))
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", TESTS],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def test_the_copy_passes_as_copied(copy, tmp_path):
    tree, python = copy
    done = run_suite(tree, python, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_a_mutation_in_the_tree_fails_its_suite(copy, tmp_path):
    tree, python = copy
    codes = tree / "ocfpy" / "codes.py"
    text = codes.read_text()
    assert "    NOT_RUNNING = 7\n" in text
    codes.write_text(text.replace("    NOT_RUNNING = 7\n", "    NOT_RUNNING = 77\n"))
    try:
        done = run_suite(tree, python, tmp_path)
    finally:
        codes.write_text(text)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "failed" in done.stdout.splitlines()[-1]
