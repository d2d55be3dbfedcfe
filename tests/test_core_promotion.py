"""The promotion-score helper runs the real crm_attribute --promotion with the request's own
environment. Outside a cluster it fails, and that is logged, not fatal (the scores themselves
are shown by ducc-head's promotable clone on the three-node cluster: test_ducc_cluster.py)."""

import os

from ocfpy.promotion import clear_score, set_score
from ocfpy.request import Request

PATH = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")


class Lines:
    def __init__(self):
        self.lines = []

    def warning(self, message):
        self.lines.append(message)


def test_a_failing_crm_attribute_is_logged_not_fatal():
    request = Request("promote", (), {"OCF_RESOURCE_INSTANCE": "head:1", "PATH": PATH})
    log = Lines()
    assert set_score(5, request, log) is False
    assert len(log.lines) == 1
    assert log.lines[0].startswith("crm_attribute --promotion -v 5 exited with ")
    assert "Could not connect to the CIB" in log.lines[0]      # its own last line, kept


def test_crm_attribute_gets_the_requests_environment_not_the_agents():
    """Without OCF_RESOURCE_INSTANCE in the request, crm_attribute says --promotion needs it,
    whatever the calling process's own environment holds."""
    os.environ["OCF_RESOURCE_INSTANCE"] = "not-passed"
    try:
        log = Lines()
        assert clear_score(Request("demote", (), {"PATH": PATH}), log) is False
    finally:
        del os.environ["OCF_RESOURCE_INSTANCE"]
    assert log.lines[0].startswith("crm_attribute --promotion -D exited with ")
    assert "must be called from an OCF resource agent" in log.lines[0]


def test_a_missing_crm_attribute_is_logged_not_fatal():
    log = Lines()
    assert set_score(1, Request("promote", (), {"PATH": "/nonexistent"}), log) is False
    assert log.lines == ["crm_attribute --promotion -v 1 failed: cannot run crm_attribute: No "
                         "such file or directory"]
