"""What the three monitors share: the command line, option defaults and output.

The command line follows Perl's Getopt::Std exactly, because mon.cf lines written for
the Perl monitors must mean the same here (SPEC.md §4): options only before the hosts,
clustering (``-ot5``), an attached or a separate value, ``--`` ends the options. Like
Getopt::Std, an unknown option or a missing value does not stop the monitor: the
original goes on and its exit status is that of the checks, so ours does too, after
printing the problem and the usage line on stderr (which mon takes as the summary,
SPEC.md §1.2, just as it takes Getopt::Std's ``Unknown option: x``).
"""

import os
import sys

from lvs_compat import getopt_std

SEPARATOR_WIDTH = 78


class CommandLine:
    """The parsed command line: ``options`` maps a letter to its value (flags to True)."""

    def __init__(self, options, hosts, problems):
        self.options = options
        self.hosts = hosts
        self.problems = problems  # one line each, already worded as Getopt::Std would

    def value(self, letter, default):
        """The option's value with Perl's ``$opt_x || default``: unset, "" and "0" give the default."""
        value = self.options.get(letter)
        if value is None or value is True or value in ("", "0"):
            return default
        return value


# Getopt::Std's own words for each problem; --help/--version get our usage line instead.
PROBLEM_WORDS = {
    getopt_std.UNKNOWN_OPTION: "Unknown option: {}",
    getopt_std.MISSING_VALUE: "Option -{} needs a value",
    getopt_std.LONG_OPTION: "--{} is not an option of this monitor",
}


def parse_command_line(args, spec):
    """Parse ``args`` (without argv[0]) like Getopt::Std's ``getopts(spec)``."""
    options, hosts, problems = getopt_std.getopts(args, spec)
    return CommandLine(options, hosts, [PROBLEM_WORDS[kind].format(letter) for kind, letter in problems])


def problems_text(command, usage):
    """What goes to stderr before anything else: Getopt::Std's warnings, then the usage line."""
    if not command.problems:
        return b""
    return b"".join(to_bytes(line + "\n") for line in command.problems) + usage.encode() + b"\n"


def unique(hosts):
    """The hosts once each, in argument order (the originals keep results in a hash)."""
    return list(dict.fromkeys(hosts))


def failed_summary(failed_hosts):
    """mon's summary line: the failed hosts in ascending codepoint order, space-separated."""
    return " ".join(sorted(failed_hosts))


# Exit status when no host failed but some could not be checked before the deadline.
NOT_CHECKED_EXIT = 2


def exit_status(any_failed, any_unchecked):
    """0 all OK, 1 a host failed (the originals' status), else 2 if a host went unchecked.

    A host the monitor could not check (its own limits, issue 21; ``tcp``) is never
    in the summary: alerts that act on the summary's hosts (a custom "pull these
    servers" alert, mail.alert's subject) must not act on a server nobody saw fail.
    Nor is the run a success: exit 0 would tell mon all is well and fire the
    upalerts of earlier failures (lvs.alert -u puts a server back) for hosts nobody
    saw working. So it is a failure with its own status, 2, which mon.cf can route
    apart with ``alert exit=1 lvs.alert ...`` / ``alertexitrange`` (SPEC.md §3);
    lvs.alert ignores the summary and acts on its static ``-R``, one real server
    per watch, where a single host never meets these limits. The detail names each
    unchecked host and why.
    """
    if any_failed:
        return 1
    return NOT_CHECKED_EXIT if any_unchecked else 0


def separator(char):
    return char * SEPARATOR_WIDTH


# A timeout no poll() can take means "as long as possible": cap it (~11 days).
MAX_TIMEOUT = 1e6


def number(text, default, maximum=MAX_TIMEOUT):
    """A float from an option value, or ``default`` when it is not a positive number.

    At most ``maximum``: ``-t 1e400`` (inf) or 5,000 digits must not overflow poll().
    """
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        return default
    return min(value, maximum) if value > 0 else default


def write_output(stdout, stderr=b""):
    """Write stderr first, then stdout, as the Perl monitors do (their STDERR is
    unbuffered, their STDOUT block-buffered into mon's pipe)."""
    try:
        if stderr:
            sys.stderr.buffer.write(stderr)
            sys.stderr.flush()
        out = sys.stdout.buffer
        out.write(stdout)
        out.flush()
    except BrokenPipeError:
        pass


def to_bytes(text):
    """argv strings back to the bytes mon gave us (argv may hold any bytes)."""
    return os.fsencode(text)
