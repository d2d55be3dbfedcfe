"""Every exit reason fits Pacemaker's 128 characters with its cause first.

Agents emit exit reasons in one place (Agent.main through ocfpy.reasons.fit). The reasons they
can produce are collected from the source: every OCFError/ParameterError raised in ocfpy/ and
agents/, rendered with worst-case values (long paths, long command output) for its
placeholders. Each must come out of fit() as one line of at most 128 bytes that still begins
with the reason's own leading words. Real failure paths of the ACS and DUCC agents are then run
to check the emission point itself and the words for their exit statuses.
"""

import ast
import os
import pathlib

import pytest
from ocfrun import REPO, run_agent

from ocfpy.reasons import LIMIT, fit

SOURCES = sorted(p for directory in ("ocfpy", "agents") for p in
                 (pathlib.Path(REPO) / directory).glob("*.py"))
RAISERS = {"OCFError", "ParameterError"}
# Worst-case values for a placeholder: a deep path, or a long line of a command's output.
LONG_PATH = "/srv/site-configuration/" + "deeply/nested/" * 4 + "resource-with-a-long-name.log"
LONG_TEXT = ("acsStart: cannot reach the naming service at corbaloc::192.0.2.50:3001/NameService "
             "after retrying for a long while " + LONG_PATH)


def _render(node):
    """(text with worst-case placeholders, leading literal words) of a reason expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, node.value
    if isinstance(node, ast.JoinedStr):
        pieces, lead, literal_so_far = [], None, True
        for part in node.values:
            if isinstance(part, ast.Constant):
                pieces.append(part.value)
            else:
                if literal_so_far:
                    lead = "".join(pieces)
                    literal_so_far = False
                source = ast.unparse(part.value)
                pieces.append(LONG_PATH if "path" in source or "file" in source or "dir" in source
                              else LONG_TEXT if len(pieces) > 1 else "acs-container")
        text = "".join(pieces)
        return text, text if lead is None else lead
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, lead = _render(node.left)
        right, _ = _render(node.right)
        return left + right, lead
    return LONG_TEXT, ""


def collected_reasons():
    """(file:line, rendered reason, leading words) of every reason raised in the sources."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in RAISERS):
                continue
            if len(node.args) < 2:
                continue
            text, lead = _render(node.args[1])
            if node.func.id == "ParameterError":  # shown as "parameter 'name' <reason>"
                text, lead = f"parameter 'some_parameter_name' {text}", "parameter"
            found.append((f"{path.name}:{node.lineno}", text, lead))
    return found


REASONS = collected_reasons()


def test_the_sources_raise_many_reasons():
    # The collection itself works: every agent module contributes.
    assert len(REASONS) > 80
    files = {where.split(":")[0] for where, _, _ in REASONS}
    assert {"acs_services.py", "acs_container.py", "ducc_env.py", "ducc_head.py",
            "epics_ioc.py", "agent.py"} <= files


@pytest.mark.parametrize("where, text, lead", REASONS, ids=[r[0] for r in REASONS])
def test_every_reason_fits_with_its_cause_first(where, text, lead):
    fitted = fit(text)
    assert len(fitted.encode()) <= LIMIT, (where, fitted)
    assert "\n" not in fitted
    lead_words = " ".join(lead.split()[:6])
    assert fitted.startswith(lead_words), (where, lead_words, fitted)


def test_fit_shortens_paths_before_cutting_details():
    reason = ("acsStart: failure (exit 42, log /run/ocfpy/acs-services/instance-0.log); "
              "acsStart: timed out waiting for the naming service")
    assert fit(reason) == reason  # short enough: unchanged
    deeper = reason.replace("/run/ocfpy", "/var/lib/site/a/b/c/d/e/f/g/h/i/j/k/l")
    assert fit(deeper) == ("acsStart: failure (exit 42, log .../acs-services/instance-0.log); "
                           "acsStart: timed out waiting for the naming service")
    fitted = fit(deeper * 2)  # too long even then: file names only, and the details cut
    assert fitted.startswith("acsStart: failure (exit 42, log .../instance-0.log); acsStart: ")
    assert len(fitted) <= LIMIT and fitted.endswith("...")
    assert fit("é" * 200).encode() and len(fit("é" * 200).encode()) <= LIMIT


def test_no_module_writes_an_exit_reason_itself():
    """The one emission point: nothing else prints the exit-reason prefix."""
    writers = [p.name for p in SOURCES if "OCF_EXIT_REASON_PREFIX" in p.read_text()
               or "ocf-exit-reason:" in p.read_text()]
    assert writers == ["agent.py"]


STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "acs_standin")


def test_acs_start_failure_names_the_status_and_keeps_the_log(tmp_path):
    """acsStart's exit 43 (bad arguments) from the stand-in, with a log deep in a tree."""
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 5)
    deep.mkdir(parents=True)
    (tmp_path / "acstmp").mkdir()
    params = {"acsroot": STANDIN, "acs_tmp": str(tmp_path / "acstmp"), "instance": "25",
              "logfile": str(deep / "services.log"), "start_options": "--no-such-option"}
    failed = run_agent("acs-services", "start", f"reasons{os.getpid()}", params)
    try:
        assert failed.rc == 6, failed
        assert len(failed.reason.encode()) <= LIMIT, failed.reason
        assert failed.reason.startswith("acsStart: bad arguments (exit 43, log "), failed.reason
        assert ".../a-rather-long-directory-name/services.log" in failed.reason
    finally:
        run_agent("acs-services", "stop", f"reasons{os.getpid()}", params)


def test_ducc_start_failure_names_the_status(tmp_path):
    """A DUCC_HOME whose admin/ducc.py refuses (exit 1, DUCC's usage exit)."""
    home = tmp_path / "ducc"
    (home / "admin").mkdir(parents=True)
    script = home / "admin" / "ducc.py"
    script.write_text("#!/bin/sh\necho 'NOTOK ducc_ling is not set up correctly'\nexit 1\n")
    script.chmod(0o755)
    params = {"ducc_home": str(home), "logfile": str(tmp_path / "ducc.log")}
    failed = run_agent("ducc-agent", "start", f"reasons{os.getpid()}", params)
    assert failed.rc == 1, failed
    assert failed.reason.startswith("ducc.py -c ag: refused (usage, bad arguments"), failed
    assert len(failed.reason.encode()) <= LIMIT
