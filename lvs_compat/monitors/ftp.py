"""ftp.monitor: mon 1.3.6's ftp.monitor, every host at once under one deadline.

The dialogue and its verdicts are the original's (SPEC.md §4.3): read the greeting
up to the first ``220 `` line, send ``quit``, then read until the server closes,
accepting ``NNN-`` continuation lines and ``221 `` lines only. The detail is the
transcript, ``    < `` for each line received (CRLF kept) and ``    > quit``.

Deviations from the original, each on purpose:
* a name that does not resolve reads ``gethostbyname failure (<resolver message>)``;
* IPv6 hosts work (the original resolves IPv4 only);
* a timeout that is not a positive number falls back to 30 s (Perl's ``alarm`` would
  never fire) and a fractional one is honoured;
* failed and OK blocks are in sorted host order (the original's are in hash order).
* with more hosts than the open-file limit allows connections by the deadline (thousands),
  a host never tried is ``not checked`` in the detail, not in the summary; exit 2 if no
  checked host failed (``core.exit_status``; the original checks one host at a time).
"""

import sys

from lvs_compat.monitors import core, tcp

USAGE = "usage: ftp.monitor [-p port] [-t secs] host [host...]"
OPTIONS = "p:t:"
DEFAULT_PORT = "21"
DEFAULT_TIMEOUT = "30"
TRANSCRIPT_LIMIT = 1 << 16


class FtpDialogue:
    """The original's dialogue as a conversation: fed bytes, answers bytes."""

    def __init__(self):
        self.buffer = b""
        self.detail = b""
        self.greeted = False  # a "220 " line was seen and quit sent
        self.error = None
        self.finished = False

    def opening(self):
        return b""

    def receive(self, data):
        self.buffer += data
        reply = b""
        while not self.finished:
            newline = self.buffer.find(b"\n")
            if newline == -1:
                break
            line, self.buffer = self.buffer[:newline + 1], self.buffer[newline + 1:]
            reply += self._line(line)
        return reply

    def end_of_stream(self):
        if self.buffer and not self.finished:
            self._line(self.buffer)  # Perl's <S> hands over a last unterminated line
            self.buffer = b""
        if not self.greeted and self.error is None:
            self.error = "Connection refused"  # sic: the original's word for "no 220"
        self.finished = True

    def _line(self, line):
        if len(self.detail) < TRANSCRIPT_LIMIT:
            self.detail += b"    < " + line
        if not self.greeted:
            if line.startswith(b"220 "):
                self.greeted = True
                self.detail += b"    > quit\n"
                return b"quit\r\n"
            return b""
        if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b"-":
            return b""
        if not line.startswith(b"221 "):
            self.error = "FTP server error after quit"
            self.finished = True
        return b""


def outcome(probe, port_error):
    """(ok, error, detail) for one host, with the original's error texts; ok is
    None for a host not checked at all (error: why)."""
    dialogue = probe.conversation
    if probe.unchecked:
        return None, probe.unchecked_reason, b""
    if port_error:
        return False, port_error, b""
    if probe.resolve_error is not None:
        return False, f"gethostbyname failure ({probe.resolve_error})", b""
    if probe.timed_out:
        return False, "timeout", dialogue.detail
    if not probe.connected:
        return False, probe.connect_error or "connect: failed", b""
    if dialogue.error is not None:
        return False, dialogue.error, dialogue.detail
    return True, None, dialogue.detail


def format_report(results):
    """``results``: (host, ok, error, detail). Summary, failed blocks, a line per host
    not checked (ok None; never in the summary, see ``core.exit_status``), one empty
    line (printed even with no hosts), OK blocks; blocks in sorted host order."""
    failed = [result for result in results if result[1] is False]
    out = [core.to_bytes(core.failed_summary(host for host, *_ in failed)) + b"\n"]
    rule = core.separator("=").encode() + b"\n"
    for host, _, error, detail in sorted(failed):
        out.append(core.to_bytes(f"{host} failed with error {error}\ndetail for {host}\n") + rule)
        out.append((detail or b"no detail\n") + b"\n")
    for host, _, why, _ in sorted(result for result in results if result[1] is None):
        out.append(core.to_bytes(f"{host} not checked: {why}\n"))
    out.append(b"\n")
    for host, _, _, detail in sorted(result for result in results if result[1]):
        out.append(core.to_bytes(f"{host} succeeded\ndetail for {host}\n") + rule)
        out.append((detail or b"no detail\n") + b"\n")
    return b"".join(out)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    command = core.parse_command_line(argv[1:], OPTIONS)
    problems = core.problems_text(command, USAGE)
    hosts = core.unique(command.hosts)
    timeout_s = core.number(command.value("t", DEFAULT_TIMEOUT), float(DEFAULT_TIMEOUT))
    port, port_error = tcp.resolve_port(command.value("p", DEFAULT_PORT))
    probes = [tcp.Probe(host, FtpDialogue()) for host in hosts]
    if probes and port_error is None:
        tcp.check_all(probes, port, timeout_s)
    results = [(probe.host, *outcome(probe, port_error)) for probe in probes]
    core.write_output(format_report(results), problems)
    return core.exit_status(any(ok is False for _, ok, _, _ in results), any(ok is None for _, ok, _, _ in results))
