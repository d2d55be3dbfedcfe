"""Files the core writes as root: only ever through a temporary file created exclusively, never
through a symlink planted at the temporary name, and nothing left behind on failure."""

import os

import pytest

from ocfpy import install, pidfile, safefile
from ocfpy.identity import Identity


def plant(tmp_path, final):
    """A precious file and a symlink to it at the temporary name a writer of `final` uses."""
    precious = tmp_path / "precious"
    precious.write_text("precious data\n")
    os.symlink(precious, f"{final}.{os.getpid()}.tmp")
    return precious


def test_safefile_replace_never_writes_through_a_planted_symlink(tmp_path):
    final = tmp_path / "state"
    precious = plant(tmp_path, final)
    with pytest.raises(OSError):
        safefile.replace(str(final), b"new\n")
    assert precious.read_text() == "precious data\n" and not final.exists()


def test_safefile_replace_replaces_and_leaves_no_temporary(tmp_path):
    final = tmp_path / "state"
    safefile.replace(str(final), b"one\n")
    safefile.replace(str(final), b"two\n", mode=0o600)
    assert final.read_text() == "two\n" and os.stat(final).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["state"]


def test_pidfile_write_refuses_a_planted_temporary(tmp_path):
    final = tmp_path / "svc.pid"
    precious = plant(tmp_path, final)
    with pytest.raises(OSError):
        pidfile.write(str(final), Identity(1, 1, ""))
    assert precious.read_text() == "precious data\n"


def test_install_never_writes_through_a_planted_symlink(tmp_path):
    """Review fix: install wrote its temporary with open(..., "w"), which follows a symlink and
    truncates whatever it names."""
    directory = tmp_path / "agents"
    directory.mkdir()
    precious = plant(tmp_path, directory / "daemon")
    with pytest.raises(OSError):
        install.install(root=str(tmp_path), directory="/agents", site="/nowhere",
                        names=["daemon"])
    assert precious.read_text() == "precious data\n"


def test_install_writes_executable_entry_scripts(tmp_path):
    written = install.install(root=str(tmp_path), directory="/agents", python="/usr/bin/python3",
                              site="/somewhere", names=["daemon"])
    assert written == [str(tmp_path / "agents" / "daemon")]
    assert os.stat(written[0]).st_mode & 0o777 == 0o755
    assert install.MARKER in open(written[0]).read()
    assert sorted(os.listdir(tmp_path / "agents")) == ["daemon"]
