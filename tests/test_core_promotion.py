"""Command construction of the promotion-score helper (pytest-subprocess: construction only;
real promotion is shown by ducc-head's promotable clone on the three-node cluster)."""

from ocfpy.promotion import clear_score, set_score
from ocfpy.request import Request


class Lines:
    def __init__(self):
        self.lines = []

    def warning(self, message):
        self.lines.append(message)


def test_scores_go_through_crm_attribute_promotion(fp):
    request = Request("promote", (), {"OCF_RESOURCE_INSTANCE": "head:1"})
    fp.register(["crm_attribute", "--promotion", "-v", "10"])
    fp.register(["crm_attribute", "--promotion", "-D"])
    log = Lines()
    assert set_score(10, request, log) and clear_score(request, log)
    assert fp.call_count(["crm_attribute", "--promotion", "-v", "10"]) == 1
    assert log.lines == []


def test_a_failing_crm_attribute_is_logged_not_fatal(fp):
    request = Request("promote", (), {})
    fp.register(["crm_attribute", "--promotion", "-v", "5"], returncode=1,
                stderr="Error performing operation: No such device or address")
    log = Lines()
    assert set_score(5, request, log) is False
    assert "exited 1" in log.lines[0] and "No such device" in log.lines[0]
