"""ocfpy.numbers: the one integer syntax for the OCF environment and integer parameters, the
ranges every integer parameter declares, and what odd numbers in the environment do."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocfrun import AGENT_DIR, pacemaker_environment, run_agent

from ocfpy import catalogue
from ocfpy.numbers import PACEMAKER_MAX_MS, PACEMAKER_MAX_S, int_or, is_digits, parse_int
from ocfpy.params import Parameter
from ocfpy.request import DEFAULT_TIMEOUT_MS, Request


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("42", 42), (" 7\n", 7), ("+5", 5), ("-5", -5), ("007", 7),
    ("0" * 60 + "1", 1),
])
def test_accepted_spellings(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text", [
    "", " ", "+", "-", "--5", "+-5", "5-", "²", "٣", "1²", "1_000", "0x10", "1e3", "1.0",
    "five", "\u00a05", "5 5",
])
def test_refused_spellings(text):
    with pytest.raises(ValueError, match="is not an integer"):
        parse_int(text)


def test_ranges_are_inclusive_and_huge_numbers_are_never_converted():
    assert parse_int("10", 0, 10) == 10
    with pytest.raises(ValueError, match="at least 1"):
        parse_int("0", 1, 10)
    with pytest.raises(ValueError, match="at most 10"):
        parse_int("11", 1, 10)
    with pytest.raises(ValueError, match="out of range"):
        parse_int("9" * 400, 0, 10)
    with pytest.raises(ValueError, match="out of range"):
        parse_int("9" * 5000)  # past Python's own int-string limit: still a clean ValueError
    assert int_or("x", 3) == 3 and int_or(None, 3) == 3 and int_or("4", 3) == 4


@given(st.text(max_size=30))
@settings(max_examples=400, deadline=None)
def test_any_text_is_a_number_or_a_value_error(text):
    try:
        value = parse_int(text, -(10**6), 10**6)
    except ValueError:
        return
    assert -(10**6) <= value <= 10**6
    assert text.strip(" \t\n").lstrip("+-").isascii()


def test_every_integer_parameter_declares_a_bounded_range_shown_in_the_metadata():
    from ocfpy.metadata import render

    for name in catalogue.names():
        cls = catalogue.load(name)
        xml = render(cls, True)
        for p in cls.parameters:
            if p.kind != "integer":
                continue
            assert p.minimum is not None and p.maximum is not None, (name, p.name)
            # A timeout or other duration never exceeds Pacemaker's own longest operation.
            assert p.maximum <= PACEMAKER_MAX_MS, (name, p.name)
            if "Seconds" in p.shortdesc:
                assert p.maximum <= PACEMAKER_MAX_S, (name, p.name)
            assert f"An integer {p.range_text()}." in xml, (name, p.name)
    with pytest.raises(ValueError, match="minimum and maximum"):
        Parameter("n", "integer", shortdesc="x", minimum=0)


@pytest.mark.parametrize("variable, value", [
    ("OCF_RESKEY_CRM_meta_timeout", "--5"), ("OCF_RESKEY_CRM_meta_timeout", "²"),
    ("OCF_RESKEY_CRM_meta_timeout", "0"), ("OCF_RESKEY_CRM_meta_timeout", "9" * 400),
    ("OCF_RESKEY_CRM_meta_interval", "-1"), ("OCF_CHECK_LEVEL", "²"), ("OCF_CHECK_LEVEL", "-3"),
    ("OCF_RA_VERSION_MAJOR", "²"), ("OCF_RESKEY_CRM_meta_clone_max", "1²"),
])
def test_odd_environment_numbers_take_their_defaults_and_are_noted(variable, value):
    request = Request("monitor", (), {variable: value})
    assert (request.timeout_ms, request.interval_ms, request.check_level) == (
        DEFAULT_TIMEOUT_MS, 0, 0)
    assert request.ocf_version == (None, None) and request.clone_max is None
    if variable != "OCF_RESKEY_CRM_meta_clone_max":  # read only when asked for
        assert [name for name, _ in request.ignored] == [variable]


@pytest.mark.parametrize("variable, value", [
    ("OCF_RESKEY_CRM_meta_timeout", "--5"), ("OCF_CHECK_LEVEL", "²"),
    ("OCF_RESKEY_CRM_meta_interval", "٣"),
])
def test_a_probe_with_odd_numbers_answers_not_running(tmp_path, variable, value):
    params = {"command": "sleep 60", "pidfile": str(tmp_path / "d.pid")}
    done = run_agent("daemon", "monitor", "numbers-probe", params, extra={variable: value})
    assert done.rc == 7, done
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert f"ignoring {variable}" in done.stderr


def test_metadata_with_an_odd_version_has_no_traceback():
    import subprocess

    env = pacemaker_environment("md", {}, extra={"OCF_RA_VERSION_MAJOR": "²"})
    done = subprocess.run([f"{AGENT_DIR}/daemon", "meta-data"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert "<version>1.0</version>" in done.stdout  # an unreadable version is no 1.1 caller


@pytest.mark.parametrize("name", ["kill_after", "start_settle"])
def test_a_400_digit_integer_fails_validate_all_not_a_later_action(tmp_path, name):
    params = {"command": "sleep 60", "pidfile": str(tmp_path / "d.pid"), name: "9" * 400}
    done = run_agent("daemon", "validate-all", "numbers-big", params)
    assert done.rc == 6 and f"parameter '{name}'" in done.reason and "out of range" in done.reason


@pytest.mark.parametrize("text, digits", [
    ("0", True), ("5064", True), ("007", True), ("", False), ("²", False), ("5²", False),
    ("٣", False), ("+5", False), ("-5", False), (" 5", False), ("5\n", False), ("1_0", False),
])
def test_is_digits_is_ascii_digits_only(text, digits):
    assert is_digits(text) is digits


def test_numbers_inside_other_syntax_refuse_unicode_digits_cleanly():
    from ocfpy import alert, ca, crmstatus, runners

    with pytest.raises(ca.ConfigError, match="not a port"):
        ca._port_of("5²", "EPICS_CA_SERVER_PORT")
    with pytest.raises(ValueError, match="is not NODE=PID"):
        runners.parse_pids(["node1=²"])
    # An odd alert timestamp falls back to the time of reception, a number all the same.
    assert isinstance(alert._time({"CRM_alert_timestamp_epoch": "²"}), float)
    assert alert.record({"CRM_alert_kind": "node", "CRM_alert_timestamp_epoch": "17",
                         "CRM_alert_timestamp_usec": "٣"})["time"] == 17.0
    assert crmstatus._interval("2000ms") == 2000 and crmstatus._interval("2000") == 2000
    assert crmstatus._interval("²ms") == 0 and crmstatus._interval(None) == 0


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n",   # '²' in latin-1, as headers are read
    b"HTTP/1.1 2\xb20 OK\r\nContent-Length: 0\r\n\r\n",
])
def test_an_http_peer_sending_unicode_digits_gets_a_clear_failure(head):
    import socket
    import threading

    from ocfpy import httpget

    listener = socket.create_server(("127.0.0.1", 0))

    def answer():
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(head)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(httpget.HTTPFailure, match="sent"):
            httpget.get("127.0.0.1", listener.getsockname()[1], "/", 10)
    finally:
        thread.join(10)
        listener.close()
