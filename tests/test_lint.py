"""The tree passes its own linter (ruff, configured in pyproject.toml)."""

import os
import subprocess

from ocfrun import PYTHON, REPO


def test_ruff_finds_nothing():
    done = subprocess.run([os.path.join(os.path.dirname(PYTHON), "ruff"), "check", REPO],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
