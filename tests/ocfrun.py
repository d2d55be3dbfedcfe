"""This checkout's agents and commands, run the way Pacemaker's executor and a user do.

Everything here runs the code of the checkout the tests live in (tests/conftest.py checks that
at the start of the session and writes AGENT_DIR's entry scripts for it):
- REPO: the checkout; PYTHON: the interpreter running the tests (its venv has REPO installed
  editable, dev/bootstrap.sh);
- AGENT_DIR: the agents' entry scripts, Pacemaker's provider directory unless the environment
  names another one in OCFPY_AGENT_DIR (a test that runs another copy of the tree does);
- OCFGEN: the argv prefix that runs ocfgen, e.g. [*OCFGEN, "check", path].
"""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
AGENT_DIR = os.environ.get("OCFPY_AGENT_DIR", "/usr/lib/ocf/resource.d/ocfpy")
OCFGEN = [os.path.join(os.path.dirname(PYTHON), "ocfgen")]
EXIT_REASON = "ocf-exit-reason:"


class Outcome:
    def __init__(self, done):
        self.rc = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        self.exit_reasons = [line[len(EXIT_REASON):] for line in done.stderr.splitlines()
                             if line.startswith(EXIT_REASON)]

    @property
    def reason(self):
        return self.exit_reasons[-1] if self.exit_reasons else ""

    def __repr__(self):
        return f"Outcome(rc={self.rc}, stderr={self.stderr!r})"


def pacemaker_environment(instance, params, *, interval_ms=0, timeout_ms=20000, extra=None):
    """The environment Pacemaker's executor gives an agent (docs/ocf-notes.md)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "1",
        "OCF_RESOURCE_INSTANCE": instance,
        "OCF_RESOURCE_TYPE": "agent",
        "OCF_RESOURCE_PROVIDER": "ocfpy",
        "OCF_EXIT_REASON_PREFIX": EXIT_REASON,
        "OCF_RESKEY_crm_feature_set": "3.16.2",
        "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms),
    }
    if interval_ms:
        env["OCF_RESKEY_CRM_meta_interval"] = str(interval_ms)
    env.update({f"OCF_RESKEY_{name}": str(value) for name, value in params.items()})
    env.update(extra or {})
    return env


def run_agent(agent, action, instance="t", params=None, *, interval_ms=0, timeout_ms=20000,
              extra=None, wait=60):
    """Run `agent action` with Pacemaker's environment; returns an Outcome."""
    env = pacemaker_environment(instance, params or {}, interval_ms=interval_ms,
                                timeout_ms=timeout_ms, extra=extra)
    path = agent if agent.startswith("/") else f"{AGENT_DIR}/{agent}"
    done = subprocess.run([path, action], env=env, capture_output=True, text=True, timeout=wait,
                          stdin=subprocess.DEVNULL)
    return Outcome(done)
