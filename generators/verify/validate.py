"""Check a generated CIB with Pacemaker's own tools; results come back as data.

- `relaxng(cib_bytes)`: the RNG schema named by the CIB's validate-with, from
  /usr/share/pacemaker (the same files Pacemaker validates with).
- `crm_verify(path)`: `crm_verify -x FILE`, Pacemaker's own configuration checker.
Neither prints; each returns a `Check` with the problems it found, one line each.
"""

import os
from dataclasses import dataclass, field

from ..render.cib import SCHEMA_DIR


@dataclass
class Check:
    tool: str
    problems: list = field(default_factory=list)
    skipped: str = ""      # why the check did not run (tool not installed)

    @property
    def ok(self):
        return not self.problems


_schemas = {}
# crm_verify's exit code when it printed only warnings (CRM_EX_CONFIG is 78 for errors too,
# which is why its lines decide).
WARNINGS_EXIT = 78
# An offline CIB has no status section: every node looks unclean and the cluster inquorate.
# Those warnings describe the missing status, not the configuration.
OFFLINE_NOISE = ("due to lack of quorum", "is unclean but cannot be fenced",
                 "Warnings found during check", "Errors found during check")


def relaxng(cib_bytes, schema_dir=SCHEMA_DIR):
    """Validate CIB bytes against the pacemaker-X.Y.rng its validate-with names."""
    from lxml import etree

    check = Check("relax-ng")
    try:
        document = etree.fromstring(cib_bytes)
    except etree.XMLSyntaxError as exc:
        check.problems.append(f"not well-formed XML: {exc}")
        return check
    name = document.get("validate-with", "")
    path = os.path.join(schema_dir, f"{name}.rng")
    if not os.path.exists(path):
        check.problems.append(f"validate-with={name!r}: no schema {path}")
        return check
    schema = _schemas.get(path)
    if schema is None:
        schema = _schemas[path] = etree.RelaxNG(etree.parse(path))
    if not schema.validate(document):
        for entry in schema.error_log:
            check.problems.append(f"line {entry.line}: {entry.message}")
        if not check.problems:
            check.problems.append(f"does not validate against {path}")
    return check


def crm_verify(path, timeout=60):
    """Run `crm_verify -x PATH`; its errors and warnings become problems."""
    import shutil
    import subprocess

    check = Check("crm_verify")
    if shutil.which("crm_verify") is None:
        check.skipped = "crm_verify is not installed"
        return check
    try:
        done = subprocess.run(["crm_verify", "-x", path, "-V"], capture_output=True, text=True,
                              timeout=timeout, env=_offline_env())
    except subprocess.TimeoutExpired:
        check.problems.append(f"crm_verify did not finish within {timeout}s")
        return check
    for line in (done.stdout + done.stderr).splitlines():
        text = line.strip()
        if ("error" in text or "warning:" in text) and text not in check.problems and not any(
                known in text for known in OFFLINE_NOISE):
            check.problems.append(text)
    if done.returncode not in (0, WARNINGS_EXIT) and not check.problems:
        check.problems.append(f"crm_verify exited {done.returncode}: "
                              f"{(done.stderr or done.stdout).strip()}")
    return check


def _offline_env():
    """An environment that keeps Pacemaker's tools off any live cluster's CIB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIB_")}
    env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    return env
