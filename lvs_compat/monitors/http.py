"""http.monitor: mon 1.3.6's http.monitor, every host at once under one deadline.

Verdicts are the original's (SPEC.md §4.2): a host is OK iff the raw response starts
with ``HTTP/<digits.dots> <code>`` and the code is 200, 301, 302 or 401; ``-m REGEX``
replaces that test by a match against the whole raw response (headers and body, dot
matching newline); a host that is not OK when the deadline strikes is reported as
``timeout after <t> seconds``, one whose partial answer already passes is OK.

The client is a raw socket (``tcp``), not ``http.client`` or requests, by the numbers
and by need. Import cost with Debian's ``python3 -I -X importtime`` on a 2-core VM
(bench/monitors.py prints them): socket ≈ 4 ms (``_socket`` + ``select``, which
``tcp`` uses, ≈ 0.2 ms), http.client ≈ 17 ms, requests ≈ 55-60 ms, against a whole
run of the Perl original of ≈ 13 ms; requests alone would make every run 5x
slower. And the original's verdict needs what those clients hide: its exact
HTTP/1.0 request bytes, the raw response (the header text verbatim, ``-m`` over
headers and body), and what arrived before a timeout.

Deviations from the original, each on purpose:
* a connect or resolve error is still reported as ``HTTP response code failure`` (the
  original overwrites the real error) but followed by `` (<the real error>)``;
* IPv6 hosts work (the original resolves IPv4 only); an IPv6 literal is sent in
  brackets in the ``Host:`` header;
* ``-m`` is a Python ``re`` pattern (the same as Perl's for ordinary patterns); an
  invalid one stops the monitor with exit status 255, as Perl's ``die`` does;
* a timeout that is not a positive number falls back to 30 s (Perl's ``alarm`` would
  never fire) and a fractional one is honoured (``alarm`` truncates it);
* at most ``CONTENT_LIMIT`` bytes of a response are kept (the rest is read and dropped).
* with more hosts than the open-file limit allows connections by the deadline (thousands),
  a host never tried is ``not checked`` in the detail, not in the summary; exit 2 if no
  checked host failed (``core.exit_status``; the original checks one host at a time).
"""

import sys

from lvs_compat.monitors import core, tcp

USAGE = "usage: http.monitor [-p port] [-t secs] [-u url] [-a agent] [-m regex] [-o] host [host...]"
OPTIONS = "p:t:u:a:m:o"
DEFAULT_PORT = "80"
DEFAULT_TIMEOUT = "30"
DEFAULT_PATH = "/"
DEFAULT_AGENT = "mon.d/http.monitor"
GOOD_CODES = (b"200", b"301", b"302", b"401")
CONTENT_LIMIT = 1 << 20
CODE_FAILURE = "HTTP response code failure"
REGEX_FAILURE = "Regex match failed"
PERL_SPACE = b" \t\n\r\f\v"
PERL_WORD = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


class HttpGet:
    """Send one request, keep what comes back until the server closes."""

    finished = False

    def __init__(self, request):
        self.request = request
        self.chunks = []
        self.size = 0

    def opening(self):
        return self.request

    def receive(self, data):
        if self.size < CONTENT_LIMIT:
            self.chunks.append(data[:CONTENT_LIMIT - self.size])
            self.size += len(self.chunks[-1])
        return b""

    def end_of_stream(self):
        pass

    @property
    def content(self):
        return b"".join(self.chunks)


def build_request(host, path, agent):
    """The original's request, byte for byte (traces/monitors-edge-cases/http-requests.log)."""
    host_field = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return core.to_bytes(f"GET {path} HTTP/1.0\r\nHost: {host_field}\r\nUser-Agent: {agent}\r\n\r\n")


def status_is_good(content):
    """Perl's ``/^HTTP\\/([\\d\\.]+)\\s+(200|30[12]|401)\\b/`` without loading ``re``."""
    if not content.startswith(b"HTTP/"):
        return False
    position = 5
    while position < len(content) and content[position] in b"0123456789.":
        position += 1
    if position == 5:
        return False
    spaces = position
    while position < len(content) and content[position] in PERL_SPACE:
        position += 1
    if position == spaces:
        return False
    code = content[position:position + 3]
    after = content[position + 3:position + 4]
    return code in GOOD_CODES and (after == b"" or after not in PERL_WORD)


def header_of(content):
    """Perl's ``($header) = $content =~ /^(.*?)\\r?\\n\\r?\\n/s``: the text before the
    first empty line, without the last line's ``\\r``; None when there is none."""
    newline = content.find(b"\n")
    while newline != -1:
        following = content[newline + 1:newline + 3]
        if following.startswith(b"\n") or following == b"\r\n":
            end = newline - 1 if newline > 0 and content[newline - 1:newline] == b"\r" else newline
            return content[:end]
        newline = content.find(b"\n", newline + 1)
    return None


def judge(content, timed_out, pattern, timeout_text):
    """(ok, error) for one host, in the original's order: status line, then ``-m``
    overriding it, then ``timeout`` for a host that is still not OK."""
    ok = status_is_good(content)
    error = None if ok else CODE_FAILURE
    if pattern is not None:
        ok = pattern.search(content) is not None
        error = None if ok else REGEX_FAILURE
    if not ok and timed_out:
        error = f"timeout after {timeout_text} seconds"
    return ok, error


class HostResult:
    def __init__(self, host, ok, error, header, unchecked_reason=None):
        self.host = host
        self.ok = ok
        self.error = error
        self.header = header
        self.unchecked_reason = unchecked_reason  # not checked at all: neither OK nor failed


def format_report(results, omit_healthy):
    """Summary line, then a block per failed host, one per host not checked (never
    in the summary, see ``core.exit_status``), then (unless ``-o``) per OK host.
    The original prints the blocks in Perl hash order; ours are sorted."""
    failed = [result for result in results if not result.ok and result.unchecked_reason is None]
    lines = [core.to_bytes(core.failed_summary(result.host for result in failed)) + b"\n"]
    for result in sorted(failed, key=lambda result: result.host):
        lines.append(core.to_bytes(f"HOST {result.host}: {result.error}\n"))
        if result.header:
            lines.append(result.header + b"\n")
        lines.append(b"\n")
    for result in sorted((result for result in results if result.unchecked_reason is not None),
                         key=lambda result: result.host):
        lines.append(core.to_bytes(f"HOST {result.host}: not checked ({result.unchecked_reason})\n\n"))
    if not omit_healthy:
        for result in sorted((result for result in results if result.ok), key=lambda result: result.host):
            lines.append(core.to_bytes(f"HOST {result.host}: ok\n"))
            lines.append((result.header or b"") + b"\n\n")
    return b"".join(lines)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    command = core.parse_command_line(argv[1:], OPTIONS)
    problems = core.problems_text(command, USAGE)
    hosts = core.unique(command.hosts)
    if not hosts:
        core.write_output(b"", problems)
        return 0

    timeout_text = command.value("t", DEFAULT_TIMEOUT)
    path = command.value("u", DEFAULT_PATH)
    agent = command.value("a", DEFAULT_AGENT)
    pattern = None
    if command.options.get("m") not in (None, ""):  # Perl: $MATCHRE ne ""
        import re
        try:
            pattern = re.compile(core.to_bytes(command.options["m"]), re.DOTALL)
        except re.error as error:
            core.write_output(b"", problems + core.to_bytes(f"http.monitor: invalid -m regex: {error}\n"))
            return 255

    port, port_error = tcp.resolve_port(command.value("p", DEFAULT_PORT))
    probes = [tcp.Probe(host, HttpGet(build_request(host, path, agent))) for host in hosts]
    if port_error is None:
        tcp.check_all(probes, port, core.number(timeout_text, float(DEFAULT_TIMEOUT)))

    results = []
    for probe in probes:
        if probe.unchecked:
            results.append(HostResult(probe.host, False, None, None, probe.unchecked_reason))
            continue
        content = probe.conversation.content
        ok, error = judge(content, probe.timed_out, pattern, timeout_text)
        reason = port_error or _resolve_text(probe.resolve_error) or probe.connect_error
        if not ok and not content and reason and not probe.timed_out:
            error = f"{error} ({reason})"
        results.append(HostResult(probe.host, ok, error, header_of(content)))
    core.write_output(format_report(results, bool(command.options.get("o"))), problems)
    return core.exit_status(any(not result.ok and result.unchecked_reason is None for result in results),
                            any(result.unchecked_reason is not None for result in results))


def _resolve_text(resolve_error):
    return f"gethostbyname failure: {resolve_error}" if resolve_error else None
