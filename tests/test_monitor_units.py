"""The monitors' pure parts, without sockets: command line, verdicts, output layout.

Layouts are checked against the recorded runs of the Perl originals in
../shared/reference/mon/traces/monitors-edge-cases/ (blocks compared as a mapping
where the original printed them in Perl hash order).
"""

import re
import time

from hypothesis import given, strategies as st

from conftest import SHARED
from lvs_compat.monitors import core, fping, ftp, http

TRACES = SHARED / "reference/mon/traces/monitors-edge-cases"


def trace(name):
    return (TRACES / f"{name}.stdout").read_bytes()


def blocks(text, starts):
    """Split a report into its summary and a set of blocks starting with ``starts``."""
    summary, _, rest = text.partition(b"\n")
    return summary, set(re.split(b"(?m)^(?=" + starts + b")", rest)) - {b""}


# ------------------------------------------------------------------ command line

def test_getopt_std_rules_clustering_attached_values_and_double_dash():
    line = core.parse_command_line(["-ot5", "-p", "8080", "--", "-x", "h"], "p:t:o")
    assert line.options == {"o": True, "t": "5", "p": "8080"}
    assert line.hosts == ["-x", "h"] and line.problems == []


def test_options_stop_at_the_first_host():
    line = core.parse_command_line(["h1", "-o"], "o")
    assert line.options == {} and line.hosts == ["h1", "-o"]


def test_unknown_option_is_reported_and_skipped_like_getopt_std():
    line = core.parse_command_line(["-Zo", "-q", "h"], "o")
    assert line.problems == ["Unknown option: Z", "Unknown option: q"]
    assert line.options == {"o": True} and line.hosts == ["h"]


def test_missing_value_is_reported_and_leaves_no_hosts():
    line = core.parse_command_line(["-t"], "t:")
    assert line.problems == ["Option -t needs a value"] and line.hosts == []


def test_empty_or_zero_option_values_fall_back_to_the_default_as_perls_or_does():
    line = core.parse_command_line(["-p", "0", "-t", "", "-u", "00"], "p:t:u:")
    assert (line.value("p", "80"), line.value("t", "30"), line.value("u", "/")) == ("80", "30", "00")


# ------------------------------------------------------------------------- http

PERL_STATUS = re.compile(rb"^HTTP\/([\d\.]+)\s+(200|30[12]|401)\b")
PERL_HEADER = re.compile(rb"^(.*?)\r?\n\r?\n", re.S)
status_lines = st.tuples(
    st.sampled_from([b"HTTP/", b"HTTP", b"http/", b" HTTP/"]), st.sampled_from([b"1.0", b"1.1", b"", b"2", b"1.x"]),
    st.sampled_from([b" ", b"  ", b"\t", b"", b"\r\n"]), st.sampled_from([b"200", b"204", b"301", b"302", b"303", b"304", b"401", b"404", b"500", b"2000", b"20"]),
    st.sampled_from([b"", b" OK", b"0", b"x", b"_", b"-", b".", b"\r\n\r\nbody"]),
).map(b"".join)
http_like = status_lines | st.lists(st.sampled_from([b"HTTP/", b"1.0", b"1", b".", b" ", b"\t", b"\r", b"\n", b"200", b"301",
                                      b"302", b"401", b"404", b"204", b"2", b"4", b"0", b"x", b"_", b"-", b"OK"]), max_size=12).map(b"".join)


@given(http_like)
def test_status_check_is_the_originals_regex(content):
    assert http.status_is_good(content) == bool(PERL_STATUS.search(content))


@given(http_like)
def test_header_is_the_originals_regex(content):
    match = PERL_HEADER.search(content)
    assert http.header_of(content) == (match[1] if match else None)


def test_regex_overrides_the_status_and_timeout_names_only_hosts_still_failing():
    ok_500 = b"HTTP/1.0 500 Oops\r\n\r\nMARKER"
    assert http.judge(ok_500, False, re.compile(b"MARKER", re.S), "30") == (True, None)
    assert http.judge(b"HTTP/1.0 200 OK\r\n\r\n", False, re.compile(b"NOPE"), "30") == (False, "Regex match failed")
    assert http.judge(b"HTTP/1.0 200 OK\r\n", True, None, "2") == (True, None)  # good data beats the alarm
    assert http.judge(b"HT", True, None, "2") == (False, "timeout after 2 seconds")
    assert http.judge(b"", False, None, "2") == (False, "HTTP response code failure")


def test_request_bytes_are_the_originals_and_ipv6_literals_are_bracketed():
    assert http.build_request("127.0.0.21", "/", "mon.d/http.monitor") == (
        b"GET / HTTP/1.0\r\nHost: 127.0.0.21\r\nUser-Agent: mon.d/http.monitor\r\n\r\n")
    assert b"Host: [::1]\r\n" in http.build_request("::1", "/", "a")


def results_from_trace(text, failing_errors):
    results = []
    for block in re.split(b"(?m)^(?=HOST )", text.partition(b"\n")[2]):
        if block:
            first, _, header = block.partition(b"\n")
            host, _, verdict = first[5:].decode().partition(": ")
            results.append(http.HostResult(host, verdict == "ok", None if verdict == "ok" else verdict,
                                           header[:-2] if header.endswith(b"\n\n") else header.rstrip(b"\n")))
    return results


def test_http_report_layout_matches_the_trace_200_404_302_500_204_401():
    recorded = trace("01-http-200-404-302-500-204-401")
    ours = http.format_report(results_from_trace(recorded, ()), omit_healthy=False)
    assert blocks(ours, b"HOST ") == blocks(recorded, b"HOST ")
    assert ours.startswith(b"127.0.0.22 127.0.0.24 127.0.0.25\nHOST 127.0.0.22: HTTP response code failure\n")


def test_http_report_layout_for_failures_without_header_and_with_o():
    refused = trace("02-http-refused-and-unresolvable")
    assert blocks(http.format_report(results_from_trace(refused, ()), False), b"HOST ") == blocks(refused, b"HOST ")
    omitted = trace("04-http-omit-headers-o")
    results = results_from_trace(omitted, ()) + [http.HostResult("127.0.0.21", True, None, b"HTTP/1.0 200 OK")]
    assert http.format_report(results, omit_healthy=True) == omitted


# -------------------------------------------------------------------------- ftp

def dialogue_with(chunks):
    dialogue = ftp.FtpDialogue()
    sent = b"".join(dialogue.receive(chunk) for chunk in chunks)
    if not dialogue.finished:
        dialogue.end_of_stream()
    return dialogue, sent


SERVER_BYTES = b"220-Welcome\r\n220-second line\r\n220 ready\r\n221-bye part\r\n221 Goodbye\r\n"


@given(st.lists(st.integers(1, len(SERVER_BYTES) - 1), unique=True).map(sorted))
def test_ftp_dialogue_does_not_depend_on_how_tcp_splits_the_bytes(cuts):
    pieces = [SERVER_BYTES[start:end] for start, end in zip([0, *cuts], [*cuts, len(SERVER_BYTES)])]
    dialogue, sent = dialogue_with(pieces)
    assert sent == b"quit\r\n" and dialogue.error is None and dialogue.greeted
    assert dialogue.detail == (b"    < 220-Welcome\r\n    < 220-second line\r\n    < 220 ready\r\n    > quit\n"
                               b"    < 221-bye part\r\n    < 221 Goodbye\r\n")


def test_ftp_dialogue_errors_use_the_originals_words():
    assert dialogue_with([b"421 busy\r\n"])[0].error == "Connection refused"   # no 220 before EOF
    assert dialogue_with([])[0].error == "Connection refused"
    assert dialogue_with([b"220 ok\r\n", b"500 what\r\n"])[0].error == "FTP server error after quit"
    assert dialogue_with([b"220 ok\r\n"])[0].error is None                     # closed after quit: fine


def test_ftp_report_layout_matches_the_traces():
    multiline = ftp.FtpDialogue()
    multiline.receive(SERVER_BYTES)
    assert ftp.format_report([("127.0.0.32", True, None, multiline.detail)]) == trace("10-ftp-multiline-ok")
    assert ftp.format_report([]) == trace("14-ftp-no-hosts") == b"\n\n"
    refused = [("127.0.0.39", False, "connect: Connection refused", b""),
               ("no-such-host.invalid", False, "gethostbyname failure", b"")]
    assert ftp.format_report(refused) == trace("13-ftp-refused-unresolvable")
    timeout = [("127.0.0.31", False, "timeout", b"    < 421 Service not available\r\n")]
    assert ftp.format_report(timeout) == trace("09-ftp-421-greeting")


# ------------------------------------------------------------------------ fping

def fping_report(raw, hosts, args, fping_exit, slow=None):
    report = fping.classify(raw, hosts, float(slow) if slow else None)
    summary, status = fping.verdict(report, fping_exit, "-a" in args, len(hosts))
    start = time.mktime((2026, 11, 25, 11, 50, 38, 0, 0, -1))
    detail = fping.format_detail(report, start, start + 1, slow)
    return (summary + detail).encode(), status


def without_times(text):
    return re.sub(rb"(start time|end time  ): .*\n", b"", re.sub(rb"duration  : \d+", b"duration  : N", text))


def test_fping_layout_one_down_matches_the_trace():
    ours, status = fping_report("127.0.0.1 is alive (0.03 ms)\n127.0.0.9 is unreachable\n",
                                ["127.0.0.1", "127.0.0.9"], [], 1)
    assert status == 1 and without_times(ours) == without_times(trace("15-fping-one-down"))


def test_fping_all_flag_fails_only_when_every_host_is_unreachable():
    one_down, status = fping_report("127.0.0.1 is alive (0.04 ms)\n127.0.0.9 is unreachable\n",
                                    ["127.0.0.1", "127.0.0.9"], ["-a"], 1)
    assert status == 0 and without_times(one_down) == without_times(trace("16-fping-all-flag-one-down"))
    all_down, status = fping_report("127.0.0.9 is unreachable\n", ["127.0.0.9"], ["-a"], 1)
    assert status == 1 and without_times(all_down) == without_times(trace("17-fping-all-flag-all-down"))


def test_fping_slow_hosts_fail_with_their_own_section():
    ours, status = fping_report("127.0.0.1 is alive (0.04 ms)\n127.0.0.2 is alive (0.11 ms)\n",
                                ["127.0.0.1", "127.0.0.2"], [], 0, slow="0.001")
    assert status == 1 and without_times(ours) == without_times(trace("18-fping-slow-threshold"))


def test_fping_all_up_and_help_match_the_traces():
    ours, status = fping_report("127.0.0.1 is alive (0.08 ms)\n127.0.0.2 is alive (0.05 ms)\n",
                                ["127.0.0.1", "127.0.0.2"], [], 0)
    assert status == 0 and without_times(ours) == without_times(trace("23-fping-defaults-all-up"))
    assert fping.HELP.encode() == trace("22-fping-help")


def test_fping_unresolvable_host_is_unreachable_with_its_reason():
    report = fping.classify("nonexistent.invalid: Name or service not known\n127.0.0.1 is alive (0.05 ms)\n",
                            ["127.0.0.1", "nonexistent.invalid"])
    assert report.unreachable == ["nonexistent.invalid"] and report.unidentified == []
    summary, status = fping.verdict(report, 2, False, 2)
    assert (summary, status) == ("nonexistent.invalid\n\n", 2)


def test_fping_lines_it_does_not_know_are_passed_on_as_the_original_does():
    report = fping.classify("fping: invalid option -- 'Z'\nICMP Host Unreachable from 10.0.0.1 for ICMP Echo "
                            "sent to 10.0.0.2\n", ["10.0.0.2"])
    assert report.unidentified == ["fping: invalid option -- 'Z'"] and report.unreachable == []
    assert fping.verdict(report, 3, False, 1) == (None, 1)
    assert fping.verdict(report, 7, False, 1) == ("unknown return code (7) from fping\n", 7)


def test_fping_deadline_is_its_own_worst_case_plus_a_second():
    assert fping.fping_budget_s("300", "1", 2) == (300 + 450 + 10 * 2 * 2) / 1000 + 1
    assert round(fping.fping_budget_s("2000", "3", 1), 3) == round((2000 * (1 + 1.5 + 2.25 + 3.375) + 40) / 1000 + 1, 3)


# ------------------------------------------------------------------ hosts not checked (issue 21)

def test_a_host_not_checked_is_in_the_detail_never_in_the_summary():
    results = [http.HostResult("10.0.0.1", False, "timeout after 2 seconds", None),
               http.HostResult("10.0.0.2", True, None, b"HTTP/1.0 200 OK"),
               http.HostResult("10.0.0.3", False, None, None, "no connection free when the deadline came")]
    report = http.format_report(results, omit_healthy=False)
    assert report.startswith(b"10.0.0.1\n")
    assert b"HOST 10.0.0.3: not checked (no connection free when the deadline came)\n" in report
    ftp_report = ftp.format_report([("10.0.0.1", False, "timeout", b""), ("10.0.0.2", True, None, b""),
                                    ("10.0.0.3", None, "no connection free", b"")])
    assert ftp_report.startswith(b"10.0.0.1\n")
    assert b"10.0.0.3 not checked: no connection free\n" in ftp_report


def test_exit_status_a_failure_outranks_a_host_not_checked():
    assert core.exit_status(any_failed=False, any_unchecked=False) == 0
    assert core.exit_status(any_failed=True, any_unchecked=True) == 1
    assert core.exit_status(any_failed=False, any_unchecked=True) == core.NOT_CHECKED_EXIT == 2
