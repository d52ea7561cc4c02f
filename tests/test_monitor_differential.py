"""Debian's Perl monitors and ours on the same live targets: same verdicts.

Every case runs the real /usr/lib/mon/mon.d/<name>.monitor and our mon.d/<name>.monitor
with the same arguments, at once, against scripted servers (and a real vsftpd) on
127.0.0.x inside a private network namespace, and asserts identical exit codes and
identical sets of failed hosts (stdout's first line). Where the detail text is also
compared, the only differences allowed are the ones named in the test:

* block order: the originals print per-host blocks in Perl hash order (random), ours
  sorted, so blocks are compared as a mapping host -> block;
* ``(reason)``: where the original overwrites the real error (http: refused, DNS) or
  gives none (ftp: DNS), ours appends `` (<real error>)``; it is stripped here;
* fping rtt figures are measurements, so only the host sets of each section count;
* fping, a name that does not resolve: see test_fping_unresolvable_name_is_a_failed_host.
"""

import re

import pytest

from lvs_compat.monitors.fping import USAGE_LINE as USAGE_FPING
from monitor_support import Namespace, perl_and_ours, run_monitor, OUR_MONITORS, PERL_MONITORS

pytestmark = pytest.mark.interop

HTTP_PORT = 8001
FTP_PORT = 2121
HTTP_STATUSES = {
    "127.0.0.21": "200 OK", "127.0.0.22": "404 Not Found", "127.0.0.23": "302 Found",
    "127.0.0.24": "500 Internal Server Error", "127.0.0.25": "204 No Content",
    "127.0.0.26": "401 Unauthorized", "127.0.0.28": "301 Moved Permanently",
}
HTTP_SILENT, HTTP_TRICKLE, HTTP_REFUSED = "127.0.0.27", "127.0.0.30", "127.0.0.29"
FTP_VSFTPD, FTP_MULTILINE, FTP_BAD_QUIT = "127.0.0.38", "127.0.0.32", "127.0.0.33"
FTP_421_HOLD, FTP_SILENT, FTP_421_CLOSE, FTP_NO_GREETING = "127.0.0.31", "127.0.0.34", "127.0.0.35", "127.0.0.36"
FTP_REFUSED, FTP_TRICKLE = "127.0.0.39", "127.0.0.37"
PING_DOWN = "127.0.0.9"
UNRESOLVABLE = "nonexistent.invalid"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("lab")
    with Namespace() as namespace:
        listeners = [{"kind": "http", "host": host, "port": HTTP_PORT, "status": status,
                      "log": str(workdir / "requests.log")} for host, status in HTTP_STATUSES.items()]
        listeners += [
            {"kind": "silent", "host": HTTP_SILENT, "port": HTTP_PORT},
            {"kind": "trickle", "host": HTTP_TRICKLE, "port": HTTP_PORT, "text": "HTTP/1.0 200 OK\\r\\n\\r\\n"},
            {"kind": "ftp", "host": FTP_421_HOLD, "port": FTP_PORT,
             "greeting": "421 Service not available\\r\\n", "after_quit": ""},
            {"kind": "ftp", "host": FTP_MULTILINE, "port": FTP_PORT,
             "greeting": "220-Welcome\\r\\n220-second line\\r\\n220 ready\\r\\n",
             "after_quit": "221-bye part\\r\\n221 Goodbye\\r\\n"},
            {"kind": "ftp", "host": FTP_BAD_QUIT, "port": FTP_PORT,
             "greeting": "220 ready\\r\\n", "after_quit": "500 unknown command\\r\\n"},
            {"kind": "silent", "host": FTP_SILENT, "port": FTP_PORT},
            {"kind": "trickle", "host": FTP_TRICKLE, "port": FTP_PORT, "text": "220 slow\\r\\n"},
            {"kind": "close", "host": FTP_421_CLOSE, "port": FTP_PORT, "text": "421 Service not available, closing\\r\\n"},
            {"kind": "close", "host": FTP_NO_GREETING, "port": FTP_PORT, "text": ""},
        ]
        namespace.serve(listeners)
        namespace.vsftpd(FTP_VSFTPD, FTP_PORT, "lvs-compat test vsftpd", workdir)
        namespace.drop_ping(PING_DOWN)
        namespace.workdir = workdir
        yield namespace


def assert_same_verdict(perl, ours):
    assert perl.returncode == ours.returncode, (perl.merged, ours.merged)
    assert perl.failed_hosts == ours.failed_hosts, (perl.merged, ours.merged)


# Our documented addition: the real error after the original's words.
REASON = re.compile(r"(HTTP response code failure|gethostbyname failure) \([^()]*\)$")


def strip_reason(verdict):
    return REASON.sub(r"\1", verdict)


def http_blocks(stdout):
    """host -> (verdict text with our documented reason suffix removed, header)."""
    blocks = {}
    for chunk in stdout.split("\n", 1)[1].split("\n\n"):
        if not chunk:
            continue
        first, _, header = chunk.partition("\n")
        host, _, verdict = first[len("HOST "):].partition(": ")
        blocks[host] = (strip_reason(verdict), header)
    return blocks


def ftp_blocks(stdout):
    """host -> (verdict line with our documented reason suffix removed, transcript)."""
    blocks, lines, current = {}, stdout.split("\n")[1:], None
    start = re.compile(r"^(\S+) (failed with error .*|succeeded)$")
    for index, line in enumerate(lines):
        match = start.match(line)
        if match and lines[index + 1:index + 3] == [f"detail for {match[1]}", "=" * 78]:
            current = match[1]
            blocks[current] = [strip_reason(match[2]), []]
        elif current is not None and not line.startswith(("detail for ", "=" * 78)):
            blocks[current][1].append(line)
    return {host: (verdict, "\n".join(detail).strip("\n")) for host, (verdict, detail) in blocks.items()}


def fping_sections(stdout):
    """section title -> set of hosts listed under it ("unreachable hosts", ...)."""
    sections, title, rule = {}, None, "-" * 78
    lines = stdout.split("\n")
    index = 0
    while index < len(lines):
        if lines[index] == rule and lines[index + 2:index + 3] == [rule]:
            title = lines[index + 1].split("  ")[0].split(" (")[0]
            sections[title] = set()
            index += 3
            continue
        line = lines[index]
        if title and line and not line.startswith("address not found") and not re.match(r"\S+: ", line):
            sections[title].add(line.split()[0])
        index += 1
    return sections


# ------------------------------------------------------------------------- http

def test_http_status_codes_200_301_302_401_pass_and_204_404_500_fail(lab):
    perl, ours = perl_and_ours(lab, "http.monitor", ["-p", HTTP_PORT, "-t", 3, *HTTP_STATUSES])
    assert_same_verdict(perl, ours)
    assert ours.failed_hosts == {"127.0.0.22", "127.0.0.24", "127.0.0.25"}
    assert http_blocks(perl.stdout) == http_blocks(ours.stdout)


def test_http_refused_port_and_unresolvable_name_fail_with_the_real_reason_added(lab):
    perl, ours = perl_and_ours(lab, "http.monitor", ["-p", HTTP_PORT, "-t", 3, HTTP_REFUSED, UNRESOLVABLE, "127.0.0.21"])
    assert_same_verdict(perl, ours)
    assert ours.failed_hosts == {HTTP_REFUSED, UNRESOLVABLE}
    assert http_blocks(perl.stdout) == http_blocks(ours.stdout)
    # Documented deviation: the original says only "HTTP response code failure".
    assert f"HOST {HTTP_REFUSED}: HTTP response code failure (connect: Connection refused)\n" in ours.stdout
    assert re.search(rf"HOST {UNRESOLVABLE}: HTTP response code failure \(gethostbyname failure: .+\)\n", ours.stdout)
    assert "Traceback" not in ours.merged


def test_http_server_that_never_answers_and_one_that_trickles_time_out(lab):
    args = ["-p", HTTP_PORT, "-t", 2, HTTP_SILENT, HTTP_TRICKLE, "127.0.0.21"]
    perl, ours = perl_and_ours(lab, "http.monitor", args)
    assert_same_verdict(perl, ours)
    assert ours.failed_hosts == {HTTP_SILENT, HTTP_TRICKLE}
    assert http_blocks(perl.stdout) == http_blocks(ours.stdout)
    assert f"HOST {HTTP_TRICKLE}: timeout after 2 seconds\n" in ours.stdout


@pytest.mark.parametrize("regex, host, failed", [
    ("MARKER-500", "127.0.0.24", set()),                 # -m overrides the status: a 500 passes
    ("NOPE", "127.0.0.21", {"127.0.0.21"}),              # and a 200 without the text fails
    ("Content-Type: text/plain\r?\nX-Test", "127.0.0.22", set()),  # headers and body, across lines
])
def test_http_regex_match_and_mismatch(lab, regex, host, failed):
    perl, ours = perl_and_ours(lab, "http.monitor", ["-m", regex, "-p", HTTP_PORT, "-t", 3, host])
    assert_same_verdict(perl, ours)
    assert ours.failed_hosts == failed
    assert http_blocks(perl.stdout) == http_blocks(ours.stdout)


def test_http_path_and_agent_are_sent_as_the_original_sends_them(lab):
    log = lab.workdir / "requests.log"
    args = ["-u", "/some/path?x=1", "-a", "my-agent/1.0", "-p", HTTP_PORT, "-t", 3, "127.0.0.21"]
    sent = []
    for monitor in (PERL_MONITORS, OUR_MONITORS):
        log.write_bytes(b"")
        result = run_monitor(lab, monitor / "http.monitor", args)
        assert result.returncode == 0, result.merged
        sent.append(log.read_bytes())
    assert sent[0] == sent[1]
    assert (b"GET /some/path?x=1 HTTP/1.0\r\nHost: 127.0.0.21\r\nUser-Agent: my-agent/1.0\r\n\r\n") in sent[1]


def test_http_omit_healthy_blocks_with_o(lab):
    perl, ours = perl_and_ours(lab, "http.monitor", ["-o", "-p", HTTP_PORT, "-t", 3, "127.0.0.21", "127.0.0.22"])
    assert_same_verdict(perl, ours)
    assert http_blocks(perl.stdout) == http_blocks(ours.stdout) == {
        "127.0.0.22": ("HTTP response code failure",
                       "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nX-Test: yes")}


def test_http_port_by_service_name_and_unknown_service(lab):
    # "http" is port 80, where nothing listens; an unknown name fails every host.
    for port in ("http", "no-such-service"):
        perl, ours = perl_and_ours(lab, "http.monitor", ["-p", port, "-t", 2, "127.0.0.21", "127.0.0.22"])
        assert_same_verdict(perl, ours)
        assert ours.failed_hosts == {"127.0.0.21", "127.0.0.22"}


@pytest.mark.parametrize("args", [
    ["-Z", "-p", HTTP_PORT, "127.0.0.21"],         # unknown option: warned, then ignored
    ["-Z", "-p", HTTP_PORT, "127.0.0.22"],
    ["-p", HTTP_PORT, "-t"],                        # missing value: no hosts left
    ["-p", HTTP_PORT],                              # no hosts
    ["-ot3", "-p", HTTP_PORT, "127.0.0.21"],        # clustered flags, attached value
    ["-p", HTTP_PORT, "127.0.0.22", "-o"],          # options after hosts are hosts
])
def test_http_command_line_edge_cases_give_the_same_exit_and_summary(lab, args):
    perl, ours = perl_and_ours(lab, "http.monitor", args)
    assert_same_verdict(perl, ours)
    if "-Z" in args:
        assert perl.summary == ours.summary == "Unknown option: Z"  # mon's summary: stderr came first
        assert "usage: http.monitor" in ours.stderr
    if args[-1] == "-t":
        assert "usage: http.monitor" in ours.stderr
    if len(args) == 2:
        assert perl.stdout == ours.stdout == ""


def test_http_double_dash_help_goes_on_like_getopt_std(lab):
    """Documented deviation: Getopt::Std answers --help with its own help text (on
    stderr, so under mon it is the summary) and goes on; ours puts one line and the
    usage line there instead and goes on. The verdict is the same."""
    perl, ours = perl_and_ours(lab, "http.monitor", ["--help", "-p", HTTP_PORT, "127.0.0.22"])
    assert_same_verdict(perl, ours)
    assert perl.returncode == 1 and "Getopt::Std" in perl.summary
    assert ours.summary == "--help is not an option of this monitor"
    assert ours.stdout.startswith("127.0.0.22\nHOST 127.0.0.22: HTTP response code failure\n")


# -------------------------------------------------------------------------- ftp

def test_ftp_good_multiline_and_bad_dialogues(lab):
    hosts = [FTP_VSFTPD, FTP_MULTILINE, FTP_BAD_QUIT, FTP_421_CLOSE, FTP_NO_GREETING]
    perl, ours = perl_and_ours(lab, "ftp.monitor", ["-p", FTP_PORT, "-t", 3, *hosts])
    assert_same_verdict(perl, ours)
    assert ours.failed_hosts == {FTP_BAD_QUIT, FTP_421_CLOSE, FTP_NO_GREETING}
    assert ftp_blocks(perl.stdout) == ftp_blocks(ours.stdout)
    assert ftp_blocks(ours.stdout)[FTP_VSFTPD] == (
        "succeeded", "    < 220 lvs-compat test vsftpd\r\n    > quit\n    < 221 Goodbye.\r")


def test_ftp_hung_servers_time_out_with_what_was_read(lab):
    hosts = [FTP_421_HOLD, FTP_SILENT, FTP_TRICKLE, FTP_MULTILINE]
    perl, ours = perl_and_ours(lab, "ftp.monitor", ["-p", FTP_PORT, "-t", 2, *hosts])
    assert_same_verdict(perl, ours)
    assert ours.failed_hosts == {FTP_421_HOLD, FTP_SILENT, FTP_TRICKLE}
    assert ftp_blocks(perl.stdout) == ftp_blocks(ours.stdout)
    assert ftp_blocks(ours.stdout)[FTP_421_HOLD] == ("failed with error timeout", "    < 421 Service not available\r")


def test_ftp_refused_port_and_unresolvable_name(lab):
    perl, ours = perl_and_ours(lab, "ftp.monitor", ["-p", FTP_PORT, "-t", 3, FTP_REFUSED, UNRESOLVABLE])
    assert_same_verdict(perl, ours)
    assert ftp_blocks(perl.stdout) == ftp_blocks(ours.stdout)
    assert f"{FTP_REFUSED} failed with error connect: Connection refused\n" in ours.stdout
    # Documented deviation: the resolver's own message follows the original's text.
    assert re.search(rf"{UNRESOLVABLE} failed with error gethostbyname failure \(.+\)\n", ours.stdout)


@pytest.mark.parametrize("args", [
    ["-p", FTP_PORT],                               # no hosts: still two empty lines
    ["-x", "-p", FTP_PORT, FTP_MULTILINE],          # unknown option: warned, then ignored
    ["-h", "-p", FTP_PORT, FTP_REFUSED],            # there is no -h
    ["-p", FTP_PORT, "-t"],
    ["-p", "no-such-service", "-t", 2, FTP_MULTILINE],
])
def test_ftp_command_line_edge_cases(lab, args):
    perl, ours = perl_and_ours(lab, "ftp.monitor", args)
    assert_same_verdict(perl, ours)
    assert ftp_blocks(perl.stdout) == ftp_blocks(ours.stdout)
    if args == ["-p", FTP_PORT]:
        assert perl.stdout == ours.stdout == "\n\n"
    if args[0] in ("-x", "-h"):
        assert perl.summary == ours.summary == f"Unknown option: {args[0][1]}"


# ------------------------------------------------------------------------ fping

@pytest.mark.parametrize("args, failed", [
    (["-r", 1, "-t", 300, "127.0.0.1", "127.0.0.2"], set()),
    (["127.0.0.1", "127.0.0.2"], set()),                                    # defaults -r 3 -t 2000
    (["-r", 1, "-t", 300, "127.0.0.1", PING_DOWN], {PING_DOWN}),
    (["-r", 0, "-t", 200, PING_DOWN, "127.0.0.3"], {PING_DOWN}),
    (["-a", "-r", 1, "-t", 300, "127.0.0.1", PING_DOWN], {PING_DOWN}),     # exit 0, host still named
    (["-a", "-r", 1, "-t", 300, PING_DOWN], {PING_DOWN}),                  # all down: exit 1
    (["-s", "0.0001", "-r", 1, "-t", 300, "127.0.0.1", "127.0.0.2"], {"127.0.0.1", "127.0.0.2"}),
    (["-r", 1, "-t", 300, "::1", "127.0.0.1"], set()),
])
def test_fping_up_down_all_slow_retries_and_timeout(lab, args, failed):
    perl, ours = perl_and_ours(lab, "fping.monitor", args)
    assert_same_verdict(perl, ours)
    assert ours.failed_hosts == failed
    assert fping_sections(perl.stdout) == fping_sections(ours.stdout)
    assert perl.stderr == ours.stderr == ""


def test_fping_unresolvable_name_is_a_failed_host(lab):
    """Documented deviation. fping 5.1 reports ``H: <resolver message>``, a form the
    original does not know: it prints ``unidentified output from fping: [...]`` on
    stderr, so under mon that complaint is the summary, its stdout summary is empty,
    and the exit is fping's 2. Ours gives the same exit 2 and names the host in the
    summary with the reason in the detail. The failed host set mon sees from the
    original is the host named inside its (stderr) summary."""
    perl, ours = perl_and_ours(lab, "fping.monitor", ["-r", 1, "-t", 300, "127.0.0.1", UNRESOLVABLE])
    assert perl.returncode == ours.returncode == 2
    assert re.fullmatch(rf"unidentified output from fping: \[{UNRESOLVABLE}: .+\]", perl.summary)
    assert ours.summary == UNRESOLVABLE and ours.failed_hosts == {UNRESOLVABLE}
    assert re.search(rf"^address not found for {UNRESOLVABLE}\n{UNRESOLVABLE}: .+$", ours.stdout, re.M)
    assert fping_sections(perl.stdout)["reachable hosts"] == fping_sections(ours.stdout)["reachable hosts"]
    assert "Traceback" not in ours.merged


def test_a_host_that_looks_like_an_option_is_a_host_to_ours_and_an_option_to_perls(lab):
    """Documented deviation (issue 19): the original hands its host list to fping after the
    options, so a "host" ``-Z`` is taken by fping as an option (its complaint, exit 1: and a
    host such as ``-fFILE`` would make fping read FILE).  Ours puts ``--`` before the hosts:
    ``-Z`` is a host that does not resolve, named as the failure, and the others are checked."""
    perl, ours = perl_and_ours(lab, "fping.monitor", ["-r", 1, "-t", 300, "--", "-Z", "127.0.0.1"])
    assert perl.returncode == 1 and "invalid option -- 'Z'" in perl.merged
    assert ours.returncode == 2 and ours.summary == "-Z" and ours.failed_hosts == {"-Z"}
    assert fping_sections(ours.stdout)["reachable hosts"] == {"127.0.0.1"}
    assert "Traceback" not in ours.merged


@pytest.mark.parametrize("args", [
    ["-Z", "-r", 1, "-t", 300, "127.0.0.1"],          # our option parser: warned, ignored
    ["-h"],
    ["-r"],
    [],
])
def test_fping_command_line_edge_cases(lab, args):
    perl, ours = perl_and_ours(lab, "fping.monitor", args)
    assert_same_verdict(perl, ours)
    if args == ["-r"]:
        # Documented deviation: Getopt::Std says nothing about a missing value; we
        # print it and the usage line (the exit, 0 with no hosts left, is the same).
        assert (perl.merged, ours.merged) == ("", "Option -r needs a value\n" + USAGE_FPING + "\n")
    else:
        assert perl.summary == ours.summary
    if args == ["-h"]:
        assert perl.stdout == ours.stdout
    if args == []:
        assert perl.merged == ours.merged == ""
