"""mon.cf as mon 1.3.6 reads it (``read_cf`` in /usr/sbin/mon; SPEC §3).

Theory of operation
-------------------
Three layers, each copying mon's behaviour and nothing more:

1. **Lexer** (``_Parser.parse``, SPEC §3.1).  Physical lines are split on
   ``\\n`` only.  A line whose first non-blank character is ``#`` is dropped,
   even in the middle of a continuation.  A line ending in ``\\`` (blanks may
   follow it) continues: the text before the backslash is kept as is, spaces
   included, and the next line is appended without its leading blanks.  The
   logical line is then trimmed.  Every character remembers its physical line
   and column, so errors point at the offending token.

2. **Line grammars** (pyparsing, one per line shape: ``WORD = VALUE``,
   ``NAME=value``, ``KEYWORD rest``, ``hostgroup``/``alias``/``view``/``watch``
   headers, timevals, alert lines, alertafter/alertevery forms, ``period
   [LABEL:] SPEC``, monitor arguments with ``;;``, Text::ParseWords words).
   They transcribe mon's regular expressions, including their unanchored
   searches, and all whitespace is Perl's ASCII ``\\s``.

3. **Block state machine** (``_Parser.feed``).  mon keeps one of four
   mutually exclusive block flags -- hostgroup, alias, view, watch -- or none,
   and inside a watch the current service and whether a period section has
   started.  Each logical line is dispatched in mon's order (SPEC §3.2):

   ====  ================================  =====================================
   step  line                              effect
   ====  ================================  =====================================
   1     ``WORD = VALUE``, not in a watch   global option (even inside a hostgroup)
   2     empty                             ends any block
   3     ``hostgroup NAME hosts...``       starts a hostgroup (replaces one)
   4     anything, in a hostgroup          more hosts -- ``watch`` lines too
   5     ``alias NAME``                    starts an alias
   6     anything, in an alias             alias text
   7     ``view NAME groups...``           starts a view
   8     anything, in a view               more group names
   9     ``watch NAME``                    starts a watch
   10    anything, in a watch              env line, ``service``, ``period``,
                                           then service or period keywords
   11    anything else                     ignored
   ====  ================================  =====================================

The first error stops parsing, as in mon.  Lines that mon accepts but
misreads (swallowed by a hostgroup, dropped after a blank line inside a
watch, ignored garbage, known bugs of mon's runtime) become
``ConfigWarning``s; the model keeps mon's meaning, not the intended one.

Deviations from mon, on purpose: errors point at the token (mon reports the
last physical line of a continued line); an ``unack_summary`` error has a line
(mon's has none); files named ``*.m4`` are refused (we do not run m4); the
existence of ``authfile``/``userfile`` is not checked (mon checks it against
its working directory at start-up: a runtime concern, reported as a warning
when the path is relative); a period spec is refused when any sub-period is
malformed, whatever the time (see ``period.py``).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import os
import re
from dataclasses import dataclass, field
from typing import Callable

import pyparsing as pp

from .errors import ConfigError, ConfigWarning, Location, read_config_text
from .period import PERL_WHITESPACE, Period, parse_period, perl_digits_value, perl_number, perl_split

LVS_ALERT = "lvs.alert"

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalOption:
    """``name = value`` outside a watch (SPEC §3.3).

    ``value`` is the text after ``=``, trimmed and not unquoted.  ``typed_value``
    is what mon makes of it: seconds (float) for timevals, bool for flags, a
    ``Period`` for exclude_period, else the text.
    """

    name: str
    value: str
    location: Location
    typed_value: str | float | bool | Period


@dataclass(frozen=True)
class HostGroup:
    name: str
    hosts: tuple[str, ...]
    location: Location
    implicit: bool = False  # created by a ``watch`` line with no hostgroup of that name


@dataclass(frozen=True)
class Alias:
    """``alias NAME`` and its verbatim lines (client protocol only)."""

    name: str
    lines: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class View:
    """``view NAME groups...`` (client protocol only)."""

    name: str
    hostgroups: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    location: Location


@dataclass(frozen=True)
class MonitorCommand:
    """``monitor NAME [ARGS...] [;;]`` as mon runs it (SPEC §1.1).

    ``args`` are the words after NAME (Text::ParseWords, quotes removed);
    ``append_hosts`` is False when the line ends with ``;;``.
    """

    name: str
    args: tuple[str, ...]
    append_hosts: bool
    raw: str
    location: Location


ALERT_KINDS = ("alert", "upalert", "startupalert", "ackalert", "disablealert")


@dataclass(frozen=True)
class AlertLine:
    """One alert line of a period, or a service's ``redistribute`` (kind ``redistribute``).

    ``line_args`` is everything after the keyword, as mon stores it;
    ``raw_args`` the text after the alert name, as mon logs it; ``args`` its
    words.  ``exit_range`` is the ``exit=N[-M]`` filter (never for redistribute).
    """

    kind: str
    name: str
    args: tuple[str, ...]
    raw_args: str
    exit_range: tuple[int, int] | None
    location: Location
    line_args: str = ""


@dataclass(frozen=True)
class PeriodSection:
    """``period [LABEL:] SPEC`` and its keywords (SPEC §3.5, semantics §2.1 step 8).

    ``key`` is LABEL, or the spec text when there is no label ("" for ``period``
    alone).  The alertafter fields merge like mon's: ``alertafter N`` sets
    ``alertafter_consecutive``; ``alertafter T`` sets ``alertafter_seconds``;
    ``alertafter N T`` sets ``alertafter_count`` and ``alertafter_seconds``.  At
    run time a consecutive count, if any, wins over both time forms.
    """

    key: str
    label: str | None
    period: Period
    location: Location
    alerts: tuple[AlertLine, ...] = ()  # every kind, in file order
    alertevery_seconds: float | None = None
    alertevery_mode: str | None = None  # observe_detail, ignore_summary, strict; None: compare summaries
    alertafter_consecutive: int | None = None
    alertafter_count: int | None = None
    alertafter_seconds: float | None = None
    numalerts: int = 0  # 0: unlimited
    no_comp_alerts: bool = False
    alerts_dont_count: bool = False
    alertexitrange: tuple[int, int] | None = None
    upalertafter_seconds: float | None = None  # parsed, no effect (SPEC §2.1)

    def alerts_of(self, kind: str) -> tuple[AlertLine, ...]:
        return tuple(line for line in self.alerts if line.kind == kind)


@dataclass(frozen=True)
class Service:
    """A ``service`` of a watch.  Repeated keywords: the last one wins, as in mon.

    ``dep_behavior``, ``dep_memory_seconds`` and ``unack_summary`` start from the
    global options that precede the service in the file (mon copies them when
    it reads the ``service`` line).
    """

    name: str
    location: Location
    interval_seconds: float | None = None  # None: the monitor never runs
    failure_interval_seconds: float | None = None
    monitor: MonitorCommand | None = None
    description: str | None = None
    allow_empty_group: bool = False
    exclude_hosts: tuple[str, ...] = ()
    exclude_period: Period | None = None
    randskew_seconds: float | None = None
    redistribute: AlertLine | None = None
    traptimeout_seconds: float | None = None
    trapduration_seconds: float | None = None
    depend: str | None = None  # SELF: already replaced by "<watch>:"
    alertdepend: str | None = None
    monitordepend: str | None = None
    hostdepend: str | None = None
    dep_behavior: str = "a"
    dep_memory_seconds: float = 0.0
    unack_summary: bool = False
    env: tuple[EnvVar, ...] = ()
    periods: tuple[PeriodSection, ...] = ()

    @property
    def has_upalert(self) -> bool:
        """mon only sends up events for services with an upalert line somewhere (SPEC §1.7)."""
        return any(line.kind == "upalert" for period in self.periods for line in period.alerts)

    def period(self, key: str) -> PeriodSection | None:
        return next((period for period in self.periods if period.key == key), None)


@dataclass(frozen=True)
class Watch:
    name: str
    services: tuple[Service, ...]
    location: Location

    def service(self, name: str) -> Service | None:
        return next((service for service in self.services if service.name == name), None)


@dataclass(frozen=True)
class MonConfig:
    path: str
    global_options: tuple[GlobalOption, ...]
    hostgroups: tuple[HostGroup, ...]
    watches: tuple[Watch, ...]
    warnings: tuple[ConfigWarning, ...]
    aliases: tuple[Alias, ...] = ()
    views: tuple[View, ...] = ()

    def option(self, name: str) -> GlobalOption | None:
        """The effective (last) setting of a global option, or None."""
        return next((option for option in reversed(self.global_options) if option.name == name), None)

    def hostgroup(self, name: str) -> HostGroup | None:
        return next((group for group in self.hostgroups if group.name == name), None)

    def watch(self, name: str) -> Watch | None:
        return next((watch for watch in self.watches if watch.name == name), None)

    def hosts_for(self, watch: Watch | str) -> tuple[str, ...]:
        """The hosts a watch's monitors get: the hostgroup of the same name."""
        group = self.hostgroup(watch if isinstance(watch, str) else watch.name)
        return group.hosts if group else ()

    def lvs_alert_lines(self):
        """(watch, service, alert line) for every alert/upalert naming lvs.alert: what both
        ``lvs-compat check`` and the ``lvs`` resource script read the IPVS table from."""
        for watch in self.watches:
            for service in watch.services:
                for period in service.periods:
                    for line in period.alerts:
                        if line.kind in ("alert", "upalert") and os.path.basename(line.name) == LVS_ALERT:
                            yield watch, service, line


# ---------------------------------------------------------------------------
# Line grammars
# ---------------------------------------------------------------------------
# Every grammar leaves whitespace alone (mon's patterns say where blanks go)
# and keeps tabs (pyparsing would expand them otherwise).


def _grammar(expression: pp.ParserElement) -> pp.ParserElement:
    return expression.leave_whitespace().parse_with_tabs()


def _regex(pattern: str, flags: int = 0) -> pp.Regex:
    return pp.Regex(pattern, flags=flags | re.ASCII)


_WS = _regex(r"\s+")
_OPT_WS = _regex(r"\s*")
_REST = _regex(r".*")  # to the end of the logical line (which has no newline)
_WORD = _regex(r"\w+")
_NAME = _regex(r"[a-zA-Z0-9_.-]+")  # hostgroup, watch, service, alias and view names
_END = pp.StringEnd()

# read_cf: /^(\w+) \s* = \s* (.*) \s*$/x
GLOBAL_OPTION = _grammar(_WORD("name") + _OPT_WS + "=" + _OPT_WS + _REST("value") + _END)
# /^([A-Z_][A-Z0-9_]*)=(.*)/ -- no blank before "=" (SPEC §3.5)
ENV_LINE = _grammar(_regex(r"[A-Z_][A-Z0-9_]*")("name") + "=" + _REST("value"))
# /^(\w+)\s*(.*)$/
KEYWORD_LINE = _grammar(_WORD("keyword") + _OPT_WS + _REST("args"))
HOSTGROUP_LINE = _grammar("hostgroup" + _WS + _NAME("name") + _OPT_WS + _REST("hosts"))
ALIAS_LINE = _grammar("alias" + _WS + _NAME("name") + _OPT_WS + _END)
VIEW_LINE = _grammar("view" + _WS + _NAME("name") + _WS + _REST("hostgroups"))
WATCH_LINE = _grammar("watch" + _WS + _NAME("name"))  # anything after NAME is ignored
SERVICE_NAME = _grammar(_NAME + _END)

# dhmstos(): /^\s*(\d+(?:\.\d+)?)([dhms])\s*$/i -- the unit is mandatory (SPEC §3.4)
TIMEVAL = _grammar(_OPT_WS + _regex(r"\d+(?:\.\d+)?")("number") + _regex(r"[dhms]", re.I)("unit")
                   + _OPT_WS + _END)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# period: /^([a-z_]\w*) \s* : \s* (.*)$/ix
PERIOD_ARGS = _grammar(pp.Opt(_regex(r"[a-z_]\w*", re.I)("label") + _OPT_WS + ":" + _OPT_WS)
                       + _REST("spec"))

# alertafter: /^(\d+)$/, /^(\d+[hms])$/ and, searched anywhere, /(\d+)\s+(\d+[hms])$/
_ALERTAFTER_DURATION = _regex(r"\d+[hms]")  # integer, h/m/s only, lower case (SPEC §3.4)
ALERTAFTER_CONSECUTIVE = _grammar(_regex(r"\d+")("count") + _END)
ALERTAFTER_TIME = _grammar(_ALERTAFTER_DURATION("duration") + _END)
ALERTAFTER_COUNT_IN_TIME = _grammar(_regex(r"\d+")("count") + _WS + _ALERTAFTER_DURATION("duration") + _END)

# alertevery: each mode is searched anywhere, in this order; the first match wins.
ALERTEVERY_MODES = tuple(
    (mode, _grammar(_regex(r"\S+")("value") + _WS + _regex(word, re.I) + tail))
    for mode, word, tail in (
        ("observe_detail", "observe_detail", _OPT_WS + _END),
        ("ignore_summary", "ignore_summary", _OPT_WS + _END),
        (None, "summary", pp.Empty()),  # legacy no-op, and not anchored at the end
        ("strict", "strict", _OPT_WS + _END),
    )
)

_EXIT_CODE_RANGE = _regex(r"\d+-\d+") | _regex(r"\d+")
# alertexitrange: /^\s*(\d+|\d+-\d+)\s*$/
ALERTEXITRANGE = _grammar(_OPT_WS + _EXIT_CODE_RANGE("range") + _OPT_WS + _END)
NUMALERTS = _grammar(_regex(r"\d+") + _END)
# do_alert(): /^exit\s*=\s*((\d+|\d+-\d+))\s/i
ALERT_EXIT_FILTER = _grammar(_regex(r"exit", re.I) + _OPT_WS + "=" + _OPT_WS
                             + _regex(r"(?:\d+|\d+-\d+)(?=\s)")("range"))
# gen_scriptdir_hash() registers alert programs under s/^(\S+=\S+ )*(\S+).*$/$2/
_REGISTERED_ALERT_NAME = re.compile(r"^(?:\S+=\S+ )*(\S+).*$", re.ASCII)

# run_monitor(): /^(\S+)(\s+(.*))?$/, then ";;" at the end means "no hosts"
MONITOR_LINE = _grammar(_regex(r"\S+")("name") + pp.Opt(pp.Combine(_WS + _REST)("args")) + _END)
_NO_HOSTS_MARK = re.compile(r";;\s*$", re.ASCII)
_NO_HOSTS_STRIP = re.compile(r"\s*;;\s*$", re.ASCII)

# Text::ParseWords::quotewords('\s+', 0, ...): "..." (backslash escapes removed),
# '...' (kept verbatim), unquoted runs with backslash escapes, and blank runs that
# separate words.  A plain regex scanner, not pyparsing: every alert line goes
# through it, and the pyparsing version was most of `lvs-compat check`'s time on a
# 1,000-watch mon.cf (bench/check_scale.py).
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_QUOTEWORDS_TOKEN = re.compile(
    r"""(?P<blank>\s+)"""
    r'|"(?P<double>(?:[^\\"]|\\.)*)"'
    r"""|'(?P<single>(?:[^\\']|\\.)*)'"""
    r"""|(?P<bare>(?:\\.|[^\\"'\s])+)""",
    re.ASCII | re.DOTALL,
)


def _match(grammar: pp.ParserElement, text: str, needs: str = "") -> pp.ParseResults | None:
    """``grammar`` at the start of ``text``, or None.  ``needs``: a string every match contains
    (a header's keyword, an assignment's "="); lacking it, the answer is None without asking
    pyparsing, which takes tens of microseconds even to fail, and every line of mon.cf is tried
    against several headers (bench/check_scale.py)."""
    if needs not in text:
        return None
    return _parse(grammar, text)


@functools.lru_cache(maxsize=4096)
def _parse(grammar: pp.ParserElement, text: str) -> pp.ParseResults | None:
    """Cached: mon.cf repeats its lines (``service http``, ``interval 10s``, the mail alerts)
    in every watch.  Callers only read the results."""
    try:
        return grammar.parse_string(text)
    except pp.ParseException:
        return None


def _search(grammar: pp.ParserElement, text: str) -> pp.ParseResults | None:
    """The leftmost match anywhere in ``text`` (a Perl match without ``^``)."""
    return next((tokens for tokens, _, _ in grammar.scan_string(text, max_matches=1)), None)


def perl_quotewords(text: str) -> tuple[str, ...] | None:
    """Text::ParseWords::quotewords('\\s+', 0, text); None where Perl returns nothing.

    Unbalanced quotes and a trailing lone backslash make quotewords return an
    empty list, which is None here.  Perl's undef words (from leading or
    trailing blanks) are "".
    """
    if text == "":
        return ()
    words, current, position = [], "", 0
    while position < len(text):
        token = _QUOTEWORDS_TOKEN.match(text, position)
        if token is None:  # an unbalanced quote or a lone trailing backslash
            return None
        position = token.end()
        if token["blank"] is not None:
            words.append(current)
            current = ""
        elif token["single"] is not None:
            current += token["single"]
        else:  # adjacent pieces make one word, as in Perl
            current += _UNESCAPE.sub(r"\1", token["double"] if token["double"] is not None else token["bare"])
    words.append(current)
    return tuple(words)


@dataclass(frozen=True)
class Timeval:
    seconds: float
    perl_true: bool  # dhmstos() returns "0" for 0s and 0 for 0m/0h/0d, but "0.0" for 0.0s


def parse_timeval(text: str) -> Timeval | None:
    """mon's dhmstos(): NUMBER with a mandatory s/m/h/d unit (SPEC §3.4)."""
    tokens = _match(TIMEVAL, text)
    if tokens is None:
        return None
    unit = tokens["unit"].lower()
    seconds = float(tokens["number"]) * _UNIT_SECONDS[unit]
    return Timeval(seconds, tokens["number"] != "0" if unit == "s" else seconds != 0)


def _unack_summary_value(text: str) -> bool | None:
    """unack_summary: contains y -> 1, contains n -> 0, else exactly 0/1; None if invalid."""
    if re.search("y", text, re.I):
        return True
    if re.search("n", text, re.I):
        return False
    return {"0": False, "1": True}.get(text)


def _exit_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return perl_digits_value(low), perl_digits_value(high or low)


# ---------------------------------------------------------------------------
# Lexer (SPEC §3.1)
# ---------------------------------------------------------------------------

_COMMENT = re.compile(r"^\s*#", re.ASCII)
_CONTINUED = re.compile(r"^(.*)\\\s*$", re.ASCII)


@dataclass
class _LogicalLine:
    path: str
    text: str = ""
    # (offset in the untrimmed text, physical line, 0-based column) of each piece
    pieces: list[tuple[int, int, int]] = field(default_factory=list)
    trimmed_offset: int = 0

    def append(self, piece: str, line: int, column: int) -> None:
        self.pieces.append((len(self.text), line, column))
        self.text += piece

    def finish(self) -> "_LogicalLine":
        stripped = self.text.lstrip(PERL_WHITESPACE)
        self.trimmed_offset = len(self.text) - len(stripped)
        self.text = stripped.rstrip(PERL_WHITESPACE)
        return self

    @property
    def first_line(self) -> int:
        return self.pieces[0][1]

    def location(self, offset: int = 0) -> Location:
        """Where character ``offset`` of the trimmed text was written."""
        position = offset + self.trimmed_offset
        starts = [start for start, _, _ in self.pieces]
        start, line, column = self.pieces[max(bisect.bisect_right(starts, position) - 1, 0)]
        return Location(self.path, line, column + position - start + 1)

    def location_of_suffix(self, suffix: str) -> Location:
        """Where ``suffix`` (the tail of the text, e.g. a keyword's arguments) starts."""
        return self.location(len(self.text) - len(suffix) if suffix else 0)


def _physical_lines(text: str) -> list[str]:
    lines = text.split("\n")  # Perl's <CFG> splits on \n only; \r stays (and is whitespace)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# ---------------------------------------------------------------------------
# Block state machine (SPEC §3.2, §3.5, §3.6)
# ---------------------------------------------------------------------------

# Timevals mon tests for truth, so 0 is refused (SPEC §3.4).  {shown} is what
# mon prints: dhmstos()'s result ('' or '0'), not the text written.
_POSITIVE_TIMEVAL_ERRORS = {
    "interval": "invalid time interval '{shown}' (syntax: interval = {{positive number}}{{smhd}})",
    "failure_interval": "invalid interval '{shown}' (syntax: failure_interval = {{positive number}}{{smhd}})",
    "traptimeout": "invalid traptimeout interval '{shown}' (syntax: traptimeout = {{positive number}}{{smhd}})",
    "trapduration": "invalid trapduration interval '{shown}' (syntax: trapduration = {{positive number}}{{smhd}})",
    "randskew": "invalid randskew time interval '{shown}' (syntax: randskew = {{positive number}}{{smhd}})",
    "dep_memory": "bad value '{args}' for dep_memory option (syntax: dep_memory = timeval)",
    "alertevery": "invalid time interval '{shown}' (syntax: alertevery {{positive number}}{{smhd}} "
                  "[ strict | observe_detail | ignore_summary ])",
    "upalertafter": "invalid upalertafter specification '{shown}' (syntax: upalertafter = {{positive number}}{{smhd}})",
}
_SERVICE_TIMEVAL_FIELDS = {"interval": "interval_seconds", "failure_interval": "failure_interval_seconds",
                           "traptimeout": "traptimeout_seconds", "trapduration": "trapduration_seconds",
                           "randskew": "randskew_seconds", "dep_memory": "dep_memory_seconds"}
_DEPENDENCY_KEYWORDS = ("depend", "alertdepend", "monitordepend", "hostdepend")
_DEPENDENCY_TOKEN = re.compile(r"[a-zA-Z0-9_.-]+:[a-zA-Z0-9_.-]+", re.ASCII)
_DEP_BEHAVIORS = ("a", "m", "hm")
# Global options that mon copies into each service read after them: option -> Service field.
_SERVICE_DEFAULTS = {"dep_behavior": "dep_behavior", "dep_memory": "dep_memory_seconds",
                     "unack_summary": "unack_summary"}

# Global timevals: only an unparsable value is refused, 0 is fine (SPEC §3.3).
_GLOBAL_TIMEVALS = {
    "randstart": "bad value '{value}' for randstart option (syntax: randstart = timeval)",
    "historictime": "bad value '{value}' for historictime command (syntax: historictime = timeval)",
    "cltimeout": "bad value '{value}' for cltimeout command (syntax: cltimeout = secs)",
    "dep_memory": "bad value '{value}' for dep_memory option (syntax: dep_memory = timeval)",
}
GLOBAL_OPTIONS = frozenset(_GLOBAL_TIMEVALS) | {
    "alertdir", "basedir", "cfbasedir", "mondir", "logdir", "histlength", "serverport", "trapport",
    "serverbind", "clientallow", "trapbind", "pidfile", "maxprocs", "statedir", "authfile", "authtype",
    "pamservice", "userfile", "historicfile", "monerrfile", "dtlogfile", "dtlogging", "dep_recur_limit",
    "dep_behavior", "unack_summary", "syslog_facility", "startupalerts_on_reset", "monremote",
    "exclude_period",
}


@dataclass
class _PeriodDraft:
    fields: dict
    alerts: list[AlertLine] = field(default_factory=list)

    def freeze(self) -> PeriodSection:
        return PeriodSection(alerts=tuple(self.alerts), **self.fields)


@dataclass
class _ServiceDraft:
    fields: dict
    env: dict[str, EnvVar] = field(default_factory=dict)
    periods: dict[str, _PeriodDraft] = field(default_factory=dict)
    keyword_locations: dict[str, Location] = field(default_factory=dict)

    def freeze(self) -> Service:
        return Service(env=tuple(self.env.values()),
                       periods=tuple(period.freeze() for period in self.periods.values()), **self.fields)


@dataclass
class _WatchDraft:
    name: str
    location: Location
    services: dict[str, _ServiceDraft] = field(default_factory=dict)


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.warnings: list[ConfigWarning] = []
        self.global_options: list[GlobalOption] = []
        self.hostgroups: dict[str, HostGroup] = {}
        self.aliases: dict[str, Alias] = {}
        self.views: dict[str, View] = {}
        self.watches: dict[str, _WatchDraft] = {}
        # mon's ingroup/inalias/inview/inwatch flags, at most one set at a time
        self.block: str | None = None
        self.block_name = ""
        self.service: _ServiceDraft | None = None
        self.period: _PeriodDraft | None = None
        # Service defaults taken from the global options read so far.
        self.service_defaults = {field_name: getattr(Service, field_name) for field_name in _SERVICE_DEFAULTS.values()}
        # For warnings about lines mon swallows or drops.
        self.watch_ended_by_blank: tuple[int, str] | None = None
        self.region_warned = False

    # -- helpers -------------------------------------------------------------

    def warn(self, location: Location, message: str) -> None:
        self.warnings.append(ConfigWarning(location, message))

    def start_block(self, block: str | None, name: str = "") -> None:
        self.block, self.block_name = block, name
        self.period = None
        self.watch_ended_by_blank = None
        self.region_warned = False

    # -- lexer -----------------------------------------------------------------

    def parse(self, text: str) -> MonConfig:
        pending: _LogicalLine | None = None
        for number, physical in enumerate(_physical_lines(text), 1):
            if _COMMENT.match(physical):
                continue  # even inside a continuation (SPEC §3.1)
            column = 0
            if pending is not None:
                stripped = physical.lstrip(PERL_WHITESPACE)
                column, physical = len(physical) - len(stripped), stripped
            continued = _CONTINUED.match(physical)
            line = pending or _LogicalLine(self.path)
            line.append(continued.group(1) if continued else physical, number, column)
            if continued:
                pending = line
                continue
            pending = None
            self.feed(line.finish())
        if pending is not None:
            self.warn(pending.finish().location(), "the file ends inside a continued line (trailing "
                      "backslash); mon ignores this line")
        return self.finish()

    # -- dispatch (SPEC §3.2) ----------------------------------------------------

    def feed(self, line: _LogicalLine) -> None:
        text = line.text
        if self.block != "watch" and (option := _match(GLOBAL_OPTION, text, needs="=")) is not None:
            self.global_option(line, option["name"], option["value"])
        elif text == "":
            if self.block is not None:  # a new stretch of lines outside any block
                self.watch_ended_by_blank = (line.first_line, self.block_name) if self.block == "watch" else None
                self.region_warned = False
            self.block, self.period = None, None
        elif (header := _match(HOSTGROUP_LINE, text, needs="hostgroup")) is not None:
            self.start_hostgroup(line, header["name"], header["hosts"])
        elif self.block == "hostgroup":
            self.swallowed(line, "as host names")
            group = self.hostgroups[self.block_name]
            self.hostgroups[group.name] = dataclasses.replace(group, hosts=group.hosts + tuple(_split(text)))
        elif (header := _match(ALIAS_LINE, text, needs="alias")) is not None:
            self.start_block("alias", header["name"])
            # A repeated alias adds to the earlier one (mon pushes onto the same list).
            earlier = self.aliases.get(header["name"])
            self.aliases[header["name"]] = earlier or Alias(header["name"], (), line.location())
        elif self.block == "alias":
            self.swallowed(line, "as alias text")
            alias = self.aliases[self.block_name]
            self.aliases[alias.name] = dataclasses.replace(alias, lines=alias.lines + (text,))
        elif (header := _match(VIEW_LINE, text, needs="view")) is not None:
            self.start_block("view", header["name"])
            self.views[header["name"]] = View(header["name"], _unique(_split(header["hostgroups"])),
                                              line.location())
        elif self.block == "view":
            self.swallowed(line, "as hostgroup names of the view")
            view = self.views[self.block_name]
            self.views[view.name] = dataclasses.replace(view, hostgroups=_unique(view.hostgroups + tuple(_split(text))))
        elif (header := _match(WATCH_LINE, text, needs="watch")) is not None:
            self.start_watch(line, header["name"])
        elif self.block == "watch":
            self.watch_line(line)
        else:
            self.ignored(line)

    # -- warnings about lines mon misreads ----------------------------------------

    def swallowed(self, line: _LogicalLine, how: str) -> None:
        """A hostgroup/alias/view not closed by a blank line takes mon.cf lines as data (SPEC §3.2 rule 4)."""
        first_word = _split(line.text)[0]
        looks_like_config = first_word in _MON_WORDS or _match(ENV_LINE, line.text, needs="=") is not None
        if looks_like_config and (first_word in ("watch", "service") or not self.region_warned):
            self.region_warned = True
            self.warn(line.location(), f"{self.block} '{self.block_name}' is not closed by a blank line, "
                                       f"so mon reads '{line.text}' {how}")

    def ignored(self, line: _LogicalLine) -> None:
        keyword_line = _match(KEYWORD_LINE, line.text)
        keyword = keyword_line["keyword"] if keyword_line is not None else None
        if self.watch_ended_by_blank is not None:  # SPEC §3.1: a blank line inside a watch ends it
            blank_line, watch = self.watch_ended_by_blank
            reason = f"the blank line at line {blank_line} ended watch '{watch}'"
            if keyword == "service":
                self.warn(line.location(), f"service '{keyword_line['args']}' is ignored: {reason}")
            elif not self.region_warned:
                self.warn(line.location(), f"'{line.text}' is ignored: {reason}")
            self.region_warned = True
        else:
            self.warn(line.location(), f"mon ignores '{line.text}': not a global option, hostgroup, "
                                       "watch, alias or view line (there is no include directive)")

    # -- global options (SPEC §3.3) ------------------------------------------------

    def global_option(self, line: _LogicalLine, name: str, value: str) -> None:
        value_location = line.location_of_suffix(value)
        typed_value: str | float | bool | Period = value
        if name not in GLOBAL_OPTIONS:
            raise ConfigError(line.location(), f"unknown variable '{name}'")
        if name in _GLOBAL_TIMEVALS:
            timeval = parse_timeval(value)
            if timeval is None:
                raise ConfigError(value_location, _GLOBAL_TIMEVALS[name].format(value=value))
            typed_value = timeval.seconds
        elif name == "dtlogging":
            typed_value = perl_number(value) == 1 or value in ("yes", "true")
        elif name == "startupalerts_on_reset":
            typed_value = re.search(r"^1|yes|true|on$", value, re.I) is not None  # sic: mon's regex
        elif name == "unack_summary":
            typed_value = _unack_summary_value(value)
            if typed_value is None:
                raise ConfigError(value_location, f"invalid unack_summary value '{value}' "
                                                  "(syntax: unack_summary [0|1|y|yes|n|no])")
        elif name == "dep_behavior":
            if value not in _DEP_BEHAVIORS:
                raise ConfigError(value_location, f"unknown dependency behavior '{value}'")
        elif name == "exclude_period":
            typed_value = parse_period(value, value_location, keyword="exclude_period")
        elif name in ("authfile", "userfile") and not value.startswith("/"):
            self.warn(value_location, f"{name} '{value}' is relative: mon checks that it is readable from "
                                      "its working directory at start-up, not from cfbasedir")
        if name in _SERVICE_DEFAULTS:  # defaults for the services that follow it, not a setting of its own
            self.service_defaults[_SERVICE_DEFAULTS[name]] = typed_value
        self.global_options.append(GlobalOption(name, value, line.location(), typed_value))

    # -- blocks ----------------------------------------------------------------------

    def start_hostgroup(self, line: _LogicalLine, name: str, hosts: str) -> None:
        self.start_block("hostgroup", name)
        earlier = self.hostgroups.pop(name, None)
        if earlier is not None and not earlier.implicit:
            self.warn(line.location(), f"hostgroup '{name}' is defined again; mon keeps only this definition "
                                       f"(the one at line {earlier.location.line} is discarded)")
        self.hostgroups[name] = HostGroup(name, tuple(_split(hosts)), line.location())

    def start_watch(self, line: _LogicalLine, name: str) -> None:
        name_location = line.location(line.text.index(name, len("watch")))
        if name not in self.hostgroups:
            self.hostgroups[name] = HostGroup(name, (name,), line.location(), implicit=True)
            self.warn(line.location(), f"watch group {name} defined with no corresponding hostgroup "
                                       f"(mon makes one with the single host {name})")
        if name in self.watches and self.watches[name].services:
            # mon only records a watch once it has a service, so an empty one can be repeated.
            raise ConfigError(name_location, f"watch '{name}' already defined")
        self.start_block("watch", name)
        self.watches[name] = _WatchDraft(name, line.location())
        self.service = None

    def watch_line(self, line: _LogicalLine) -> None:
        """A line inside a watch (SPEC §3.5)."""
        text = line.text
        watch = self.watches[self.block_name]
        if (env := _match(ENV_LINE, text, needs="=")) is not None:
            if self.service is None:
                raise ConfigError(line.location(), "environment variable defined without a service")
            self.service.env[env["name"]] = EnvVar(env["name"], env["value"], line.location())
            return
        keyword_line = _match(KEYWORD_LINE, text)
        # A line not starting with a word character has no keyword: always an error below.
        keyword, args = (keyword_line["keyword"], keyword_line["args"]) if keyword_line is not None else (None, "")
        if keyword == "service":
            if _match(SERVICE_NAME, args) is None:
                raise ConfigError(line.location_of_suffix(args), f"invalid service tag '{args}'")
            if args in watch.services:
                raise ConfigError(line.location_of_suffix(args),
                                  f"service {args} already defined for watch group {watch.name}")
            self.service = _ServiceDraft({"name": args, "location": line.location(), **self.service_defaults})
            watch.services[args] = self.service
            self.period = None
            return
        if self.service is None:
            raise ConfigError(line.location(), "need to specify service in watch record")
        if keyword == "period":
            self.start_period(line, args)
            return
        if self.period is not None:
            handler = _PERIOD_HANDLERS.get(keyword)
        else:
            handler = _SERVICE_HANDLERS.get(keyword)
        if handler is None:
            raise ConfigError(line.location(), f"unknown syntax [{text}]")
        handler(self, keyword, args, line)

    def start_period(self, line: _LogicalLine, args: str) -> None:
        tokens = _match(PERIOD_ARGS, args)
        label = tokens.get("label")
        key = label if label is not None else args
        if key in self.service.periods:
            raise ConfigError(line.location_of_suffix(args), f"period '{key}' already defined for watch group "
                                                            f"{self.block_name} service {self.service.fields['name']}")
        spec = tokens["spec"]
        period = parse_period(spec, line.location_of_suffix(spec))
        self.period = _PeriodDraft({"key": key, "label": label, "period": period, "location": line.location()})
        self.service.periods[key] = self.period

    # -- end of file -------------------------------------------------------------------

    def finish(self) -> MonConfig:
        for draft in [draft for draft in self.watches.values() if not draft.services]:
            self.warn(draft.location, f"watch {draft.name} has no service, so mon does not keep it")
            del self.watches[draft.name]
        watches = tuple(Watch(draft.name, tuple(service.freeze() for service in draft.services.values()),
                              draft.location) for draft in self.watches.values())
        for group in self.hostgroups.values():
            if group.name not in self.watches:
                self.warn(group.location, f"hostgroup {group.name} has no watch assigned to it!")
        config = MonConfig(self.path, tuple(self.global_options), tuple(self.hostgroups.values()), watches,
                           (), tuple(self.aliases.values()), tuple(self.views.values()))
        self.check_runtime_lookups(config)
        return dataclasses.replace(config, warnings=tuple(self.warnings))

    def check_runtime_lookups(self, config: MonConfig) -> None:
        """Warn about names mon resolves at start-up and will never find (SPEC §1.1, §2.1)."""
        registered = set()  # gen_scriptdir_hash(): the names mon can later call
        for watch in config.watches:
            for service in watch.services:
                if service.redistribute is not None:
                    registered.add(service.redistribute.line_args)  # the whole line: mon's bug
                for period in service.periods:
                    for alert in period.alerts:
                        registered.add(_registered_alert_name(alert))
        for watch in config.watches:
            for service, draft in zip(watch.services, self.watches[watch.name].services.values()):
                self.check_monitor(service.monitor)
                alerts = [line for period in service.periods for line in period.alerts]
                for alert in alerts + ([service.redistribute] if service.redistribute else []):
                    self.check_alert_name(alert, registered)
                self.check_dependencies(config, service, draft.keyword_locations)

    def check_monitor(self, monitor: MonitorCommand | None) -> None:
        if monitor is None:
            return
        if monitor.name == "":
            self.warn(monitor.location, "monitor line without a program name: mon never runs it")
        elif monitor.name.startswith("/"):
            self.warn(monitor.location, f"monitor '{monitor.name}' is an absolute path: mon looks for it as "
                                        "MONDIR//path and never finds it (SPEC §1.1)")
        elif monitor.name.endswith(";;"):
            self.warn(monitor.location, f"mon looks for a monitor named '{monitor.name}' and never finds it: "
                                        "put a space before ';;'")

    def check_alert_name(self, alert: AlertLine, registered: set[str]) -> None:
        if alert.name == "":
            self.warn(alert.location, f"{alert.kind} line without an alert name: mon finds nothing to run")
        elif alert.name not in registered:
            if alert.kind == "redistribute":
                why = ("mon registers redistribute alerts under the whole line, so "
                       f"'{alert.name}' is only found when an alert line also names it (SPEC §2.1 step 2)")
            elif alert.exit_range is not None:
                why = ("write 'exit=N ALERT' with no spaces around '=' and one space before the alert name "
                       "(SPEC §3.5)")
            else:
                why = (f"mon registers this line's program as '{_registered_alert_name(alert)}' "
                       "(it skips leading WORD=WORD words only there)")
            self.warn(alert.location, f"mon never finds alert '{alert.name}': {why}")

    def check_dependencies(self, config: MonConfig, service: Service, locations: dict[str, Location]) -> None:
        for keyword in _DEPENDENCY_KEYWORDS:
            expression = getattr(service, keyword)
            for token in _DEPENDENCY_TOKEN.findall(expression or ""):
                group, _, name = token.partition(":")
                watch = config.watch(group)
                if watch is None or watch.service(name) is None:
                    self.warn(locations[keyword], f"{keyword} names {token}, which is not a service of this "
                                                  "file: mon counts it as failing forever (SPEC §2.1 step 4)")
        if service.alertdepend is not None and not (service.depend is not None and service.dep_behavior == "a"):
            self.warn(locations["alertdepend"], "alertdepend without 'depend' + 'dep_behavior a' is never "
                                                "evaluated, so mon never sends this service's failure alerts "
                                                "(SPEC §2.1 step 4)")


# ---------------------------------------------------------------------------
# Keyword handlers: (parser, keyword, args, line) -> None
# ---------------------------------------------------------------------------

Handler = Callable[[_Parser, str, str, _LogicalLine], None]


_WHITESPACE_RUN = re.compile(r"\s+", re.ASCII)


def _split(text: str) -> list[str]:
    """Perl's split(/\\s+/, text)."""
    return perl_split(_WHITESPACE_RUN, text)


def _unique(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _registered_alert_name(alert: AlertLine) -> str:
    """The name gen_scriptdir_hash() registers for an alert line: s/^(\\S+=\\S+ )*(\\S+).*$/$2/."""
    return _REGISTERED_ALERT_NAME.sub(r"\1", alert.line_args)


def _set(parser: _Parser, name: str, value, line: _LogicalLine) -> None:
    parser.service.fields[name] = value
    parser.service.keyword_locations[name] = line.location()


def _positive_seconds(keyword: str, value: str, args: str, line: _LogicalLine) -> float:
    """A timeval that mon tests for truth; errors point at the keyword's arguments."""
    timeval = parse_timeval(value)
    if timeval is None or not timeval.perl_true:
        shown = "" if timeval is None else "0"
        raise ConfigError(line.location_of_suffix(args),
                          _POSITIVE_TIMEVAL_ERRORS[keyword].format(shown=shown, args=args))
    return timeval.seconds


def _service_timeval(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    _set(parser, _SERVICE_TIMEVAL_FIELDS[keyword], _positive_seconds(keyword, args, args, line), line)


def _monitor(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    location = line.location_of_suffix(args)
    tokens = _match(MONITOR_LINE, args)
    if tokens is None:  # "monitor" alone
        _set(parser, "monitor", MonitorCommand("", (), True, args, location), line)
        return
    name, arg_text = tokens["name"], tokens.get("args", "")
    command = f"{name} {arg_text}" if arg_text else name
    append_hosts = _NO_HOSTS_MARK.search(command) is None
    if not append_hosts:
        command = _NO_HOSTS_STRIP.sub("", command, count=1)
    words = perl_quotewords(command)
    if words is None:
        parser.warn(location, "unbalanced quotes or a trailing backslash: mon runs this monitor with no "
                              "arguments of its own")
    _set(parser, "monitor", MonitorCommand(name, tuple(words or ())[1:], append_hosts, args, location), line)


def _alert_line(parser: _Parser, kind: str, args: str, line: _LogicalLine) -> AlertLine:
    """An alert line as do_alert() reads it at run time (SPEC §2.1 step 8.5, §2.2)."""
    exit_range = None
    if kind != "redistribute" and (exit_filter := _match(ALERT_EXIT_FILTER, args, needs="=")) is not None:
        exit_range = _exit_range(exit_filter["range"])
        _, name, raw_args = (re.split(r"\s+", args, maxsplit=2, flags=re.ASCII) + ["", ""])[:3]
    else:
        name, raw_args = (re.split(r"\s+", args, maxsplit=1, flags=re.ASCII) + [""])[:2]
    words = perl_quotewords(raw_args)
    if words is None:
        parser.warn(line.location(), "unbalanced quotes or a trailing backslash: mon passes no arguments "
                                     "of this line to the alert")
    return AlertLine(kind, name, words or (), raw_args, exit_range, line.location(), line_args=args)


def _redistribute(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    # An empty redistribute line switches it off (mon tests `ne ''`).
    _set(parser, "redistribute", _alert_line(parser, "redistribute", args, line) if args else None, line)


def _dependency(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    _set(parser, keyword, args.replace("SELF:", f"{parser.block_name}:"), line)


def _dep_behavior(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    if args not in _DEP_BEHAVIORS:
        raise ConfigError(line.location_of_suffix(args),
                          f"unknown dependency behavior '{args}' (syntax: dep_behavior = {{m|a}})")
    _set(parser, keyword, args, line)


def _unack_summary(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    value = _unack_summary_value(args)
    if value is None:
        raise ConfigError(line.location_of_suffix(args),
                          f"invalid unack_summary value '{args}' (syntax: unack_summary [0|1|y|yes|n|no])")
    _set(parser, keyword, value, line)


def _exclude_period(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    period = parse_period(args, line.location_of_suffix(args), keyword="exclude_period")
    _set(parser, keyword, period if args else None, line)  # mon skips an empty exclude_period


_SERVICE_HANDLERS: dict[str, Handler] = {
    **{keyword: _service_timeval for keyword in _SERVICE_TIMEVAL_FIELDS},
    **{keyword: _dependency for keyword in _DEPENDENCY_KEYWORDS},
    "monitor": _monitor,
    "redistribute": _redistribute,
    "description": lambda parser, keyword, args, line: _set(parser, keyword, args, line),
    "allow_empty_group": lambda parser, keyword, args, line: _set(parser, keyword, True, line),
    "exclude_hosts": lambda parser, keyword, args, line: _set(parser, keyword, _unique(_split(args)), line),
    "exclude_period": _exclude_period,
    "dep_behavior": _dep_behavior,
    "unack_summary": _unack_summary,
}


def _period_alert(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    parser.period.alerts.append(_alert_line(parser, keyword, args, line))


def _alertevery(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    mode, value = None, args
    for candidate, grammar in ALERTEVERY_MODES:
        if (tokens := _search(grammar, args)) is not None:
            mode, value = candidate, tokens["value"]
            break
    parser.period.fields.update(alertevery_seconds=_positive_seconds(keyword, value, args, line),
                                alertevery_mode=mode)


def _alertafter(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    fields, location = parser.period.fields, line.location_of_suffix(args)
    if (tokens := _match(ALERTAFTER_CONSECUTIVE, args)) is not None:
        fields["alertafter_consecutive"] = perl_digits_value(tokens["count"])
    elif (tokens := _match(ALERTAFTER_TIME, args)) is not None:
        timeval = parse_timeval(tokens["duration"])
        if not timeval.perl_true:
            raise ConfigError(location, f"invalid time interval '{args}' (syntax: alertafter = "
                                        "[{positive integer}] [{positive number}{smhd}])")
        fields["alertafter_seconds"] = timeval.seconds
    elif (tokens := _search(ALERTAFTER_COUNT_IN_TIME, args)) is not None:
        count, seconds = perl_digits_value(tokens["count"]), parse_timeval(tokens["duration"]).seconds
        # Checked against the interval read so far (SPEC §3.5); no interval counts as 0.
        if (count - 1) * (parser.service.fields.get("interval_seconds") or 0) >= seconds:
            raise ConfigError(location, "interval & alertafter not sensible. No alerts can be generated "
                                        "with those parameters")
        fields.update(alertafter_count=count, alertafter_seconds=seconds)
    else:
        raise ConfigError(location, f"invalid interval specification '{args}'")


def _upalertafter(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    parser.period.fields["upalertafter_seconds"] = _positive_seconds(keyword, args, args, line)
    parser.warn(line.location(), "upalertafter has no effect in mon 1.3.6: upalerts are sent on the first "
                                 "success regardless (SPEC §2.1)")


def _numalerts(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    if _match(NUMALERTS, args) is None:
        raise ConfigError(line.location_of_suffix(args),
                          f"-numeric arg '{args}' (syntax: numalerts = {{positive integer}}")
    parser.period.fields["numalerts"] = perl_digits_value(args)


def _alertexitrange(parser: _Parser, keyword: str, args: str, line: _LogicalLine) -> None:
    if (tokens := _match(ALERTEXITRANGE, args)) is None:
        raise ConfigError(line.location_of_suffix(args), f"invalid exit code range '{args}'")
    parser.period.fields["alertexitrange"] = _exit_range(tokens["range"])


_PERIOD_HANDLERS: dict[str, Handler] = {
    **{kind: _period_alert for kind in ALERT_KINDS},
    "alertevery": _alertevery,
    "alertafter": _alertafter,
    "upalertafter": _upalertafter,
    "numalerts": _numalerts,
    "no_comp_alerts": lambda parser, keyword, args, line: parser.period.fields.update(no_comp_alerts=True),
    "alerts_dont_count": lambda parser, keyword, args, line: parser.period.fields.update(alerts_dont_count=True),
    "alertexitrange": _alertexitrange,
}


# Words that show a line was meant as mon.cf syntax when a block swallows it.
_MON_WORDS = set(_SERVICE_HANDLERS) | set(_PERIOD_HANDLERS) | {"watch", "service", "period", "alias", "view"}


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def parse_mon_cf(text: str, path: str) -> MonConfig:
    """Parse mon.cf text; raise ``ConfigError`` at the first error, as mon does."""
    if path.endswith(".m4"):
        # mon pipes *.m4 files through m4 (SPEC §3.1); we do not run a macro processor.
        raise ConfigError(Location(path), "m4 preprocessing is not supported (mon would pipe this *.m4 file "
                                          "through m4): expand it first and check the result")
    return _Parser(path).parse(text)


def load_mon_cf(path: str) -> MonConfig:
    return parse_mon_cf(read_config_text(path), path)
