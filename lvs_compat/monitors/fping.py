"""fping.monitor: mon 1.3.6's fping.monitor, driving the real ``fping`` binary.

As the original (SPEC.md §4.1): one ``fping -e -r R -t T HOST...`` for all hosts,
its output classified line by line, the summary and exit status chosen from fping's
exit code, the detail in the original's layout (78-dash rules, ``%-40s %.2f ms``).

Deviations from the original, each on purpose:
* a host fping cannot resolve (fping 5.x prints ``H: <resolver message>``; the
  original counts it nowhere, so its summary is empty and, under mon, its stderr
  complaint becomes the summary) is a failed, unreachable host: it is named in the
  summary and its reason is in the detail under ``address not found for H`` (the
  original's own layout for that case, written for older fping). So with ``-a``
  and every host unresolvable the exit status is 1 where the original's is 0;
* fping is executed directly, not through ``/bin/sh``: a host is one argument, never
  shell text, and never an option: fping gets ``--`` before the hosts (the original's
  ``fping ... @hosts`` let ``-f FILE`` read targets from a file), and ``-T`` runs no
  traceroute for a host starting with ``-``; if fping cannot be run at all, that is said on stderr and the result is
  the original's ``fping: system call failure`` (exit 1), where the original's shell
  would give ``unknown return code (127) from fping`` and exit 127;
* fping is killed if it outlives its own worst case (``-t`` with fping's 1.5 backoff
  over ``-r`` retries) plus one second; hosts without a verdict then count as
  unreachable. ``-T`` traceroutes run at once, bounded the same way, and their
  output follows the report (the original's could precede it, being unbuffered).
"""

import sys
import time

from lvs_compat.monitors import core, spawn

USAGE_LINE = "usage: fping.monitor [-a] [-r num] [-s num] [-t num] [-T] host [host...]"
HELP = USAGE_LINE + """

    -a\t\tonly report failure if all hosts are unreachable
    -r num\tretry "num" times for each host before reporting failure
    -s num\tconsider hosts which respond in over "num" msecs failures
    -t num\twait "num" msecs before sending retries
    -T\t\ttraceroute to each failed host. CAUTION: this may cause
    \t\tthis monitor to hang for a very long time

"""
OPTIONS = "ahr:s:t:T"
DEFAULT_RETRIES = "3"
DEFAULT_TIMEOUT_MS = "2000"
FPING_BACKOFF = 1.5
FPING_INTERVAL_MS = 10
GRACE_S = 1.0


class Report:
    """fping's output, classified as the original does."""

    def __init__(self):
        self.unreachable = []     # in fping's order
        self.alive = []           # (host, rtt text)
        self.slow = []            # (host, rtt text)
        self.not_found = []       # hosts fping could not resolve
        self.reasons = []         # (host, why it counts as unreachable), for the detail
        self.unidentified = []    # lines the original would complain about


def classify(output, hosts, slow_ms=None):
    """Classify fping's merged output lines (pure; ``hosts`` as given to fping)."""
    report = Report()
    given = set(hosts)
    for line in output.splitlines():
        words = line.split(None, 1) if line[:1].strip() else []
        first, rest = (words + ["", ""])[:2]
        if rest.startswith("is unreachable"):
            report.unreachable.append(first)
        elif rest.startswith("is alive (") and rest[10:].split():
            rtt = rest[10:].split()[0]
            if slow_ms is not None and _perl_number(rtt) > slow_ms:
                report.slow.append((first, rtt))
            else:
                report.alive.append((first, rtt))
        elif rest.split()[:3] == ["address", "not", "found"]:
            report.not_found.append(first)
            report.unreachable.append(first)
        elif line.startswith("ICMP ") and " for ICMP Echo sent to " in line:
            pass  # the original ignores these; the verdict line follows
        elif first.endswith(":") and first[:-1] in given:
            report.not_found.append(first[:-1])
            report.reasons.append((first[:-1], rest))
            report.unreachable.append(first[:-1])
        else:
            report.unidentified.append(line)
    return report


def verdict(report, fping_exit, all_flag, host_count):
    """(summary line or None, exit status) following the original's branches.
    A summary of None means the original prints its one-line complaint instead."""
    failed = [host for host in report.unreachable] + [host for host, _ in report.slow]
    if fping_exit == 3:
        return None, 1
    if fping_exit == 4:
        return None, 1
    if fping_exit in (1, 2) or report.slow:
        summary = core.failed_summary(failed) + "\n\n"
    elif fping_exit == 0:
        summary = "\n"
    else:
        summary = f"unknown return code ({fping_exit}) from fping\n"
    if all_flag:
        return summary, 1 if len(report.unreachable) == host_count else 0
    if report.slow:
        return summary, 1
    return summary, fping_exit


def format_detail(report, start, end, slow_text, traceroutes=None):
    rule = core.separator("-") + "\n"
    out = [f"start time: {time.ctime(start)}\n",
           f"end time  : {time.ctime(end)}\n",
           f"duration  : {int(end) - int(start)} seconds\n\n"]
    if report.unreachable:
        out.append(f"{rule}unreachable hosts\n{rule}")
        out.append("\n".join(report.unreachable) + "\n\n")
        if report.not_found:
            out.append("address not found for " + " ".join(report.not_found) + "\n")
        out.extend(f"{host}: {reason}\n" for host, reason in report.reasons)
        out.append("\n")
    if report.slow:
        out.append(f"{rule}slow hosts (response time which exceeds {slow_text}ms)\n{rule}")
        out.extend(f"{host:<40} {_perl_number(rtt):.2f} ms\n" for host, rtt in report.slow)
    if report.alive:
        out.append(f"{rule}{'reachable hosts':<40} rtt\n{rule}")
        out.extend(f"{host:<40} {_perl_number(rtt):.2f} ms\n" for host, rtt in report.alive)
    if traceroutes:
        out.extend(traceroutes)
        out.append("\n")
    return "".join(out)


MAX_RETRIES = 100  # fping itself refuses more than a few; keeps the budget sum finite


def fping_budget_s(timeout_text, retries_text, host_count):
    """fping's own worst case: -t doubled by 1.5 each retry, plus send spacing."""
    timeout_ms = core.number(timeout_text, float(DEFAULT_TIMEOUT_MS), maximum=core.MAX_TIMEOUT)
    try:
        retries = min(max(0, int(retries_text)), MAX_RETRIES)
    except ValueError:
        retries = int(DEFAULT_RETRIES)
    waits = sum(timeout_ms * FPING_BACKOFF ** attempt for attempt in range(retries + 1))
    spacing = FPING_INTERVAL_MS * host_count * (retries + 1)
    return (waits + spacing) / 1000.0 + GRACE_S


def main(argv=None):
    argv = sys.argv if argv is None else argv
    command = core.parse_command_line(argv[1:], OPTIONS)
    problems = "".join(line + "\n" for line in command.problems)
    if problems:
        problems += USAGE_LINE + "\n"
    if command.options.get("h"):
        core.write_output(HELP.encode(), problems.encode())
        return 0
    hosts = command.hosts
    if not hosts:
        core.write_output(b"", problems.encode())
        return 0

    timeout_text = command.value("t", DEFAULT_TIMEOUT_MS)
    retries_text = command.value("r", DEFAULT_RETRIES)
    slow_text = command.options.get("s")
    slow_ms = _perl_number(slow_text) if slow_text not in (None, "", "0") else None
    budget = fping_budget_s(timeout_text, retries_text, len(hosts))
    # "--": a host is never an fping option ("-f/etc/shadow" would read targets from a file
    # and print each line in an error message; fping 5.1 takes "--", issue 19)
    fping_argv = ["fping", "-e", "-r", retries_text, "-t", timeout_text, "--", *hosts]

    start = time.time()
    run, = spawn.run_all([fping_argv], time.monotonic() + budget)
    end = time.time()
    output = run.output.decode("utf-8", "surrogateescape")
    report = classify(output, hosts, slow_ms)
    fping_exit = run.exit_code
    if run.start_error is not None:
        problems += f"could not run fping: {run.start_error}\n"
        fping_exit = 4  # the original's "system call failure"
    elif run.killed:
        _count_silent_hosts_unreachable(report, hosts)
        fping_exit = 1
    problems += "".join(f"unidentified output from fping: [{line}]\n" for line in report.unidentified)

    summary, status = verdict(report, fping_exit, bool(command.options.get("a")), len(hosts))
    if summary is None:
        message = ("fping: invalid cmdline arguments [" + " ".join(fping_argv) + "]\n"
                   if fping_exit == 3 else "fping: system call failure\n")
        core.write_output(core.to_bytes(message), core.to_bytes(problems))
        return status
    traceroutes = None
    if command.options.get("T") and report.unreachable:
        traceroutes = _traceroutes(report.unreachable, budget)
    detail = format_detail(report, start, end, slow_text, traceroutes)
    core.write_output(core.to_bytes(summary + detail), core.to_bytes(problems))
    return status


def _count_silent_hosts_unreachable(report, hosts):
    answered = set(report.unreachable) | {host for host, _ in report.alive + report.slow}
    for host in hosts:
        if host not in answered:
            report.unreachable.append(host)
            report.reasons.append((host, "no verdict from fping before the deadline"))
            answered.add(host)


def _traceroutes(hosts, budget):
    # a name starting with "-" is no host (RFC 1123) and would be a traceroute option
    optionlike = [host for host in hosts if host.startswith("-")]
    texts = [f"traceroute: not run for [{host}]: a host name cannot start with '-'\n"
             for host in optionlike]
    runs = spawn.run_all([["traceroute", "-w", "3", host] for host in hosts
                          if not host.startswith("-")], time.monotonic() + budget)
    for run in runs:
        if run.start_error is not None:
            texts.append(f"traceroute: {run.start_error}\n")
        else:
            texts.append(run.output.decode("utf-8", "surrogateescape"))
            if run.killed:
                texts.append(f"(traceroute to {run.argv[-1]} stopped after {budget:.0f} s)\n")
    return texts


def _perl_number(text):
    """Perl's numeric value of a string: its leading number, else 0."""
    text = (text or "").strip()
    end = 0
    while end < len(text) and (text[end].isdigit() or text[end] in ".-+eE"):
        end += 1
    while end:
        try:
            return float(text[:end])
        except ValueError:
            end -= 1
    return 0.0
