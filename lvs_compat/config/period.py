"""Time periods as Time::Period 1.25 reads them (mon's ``period`` and ``exclude_period``).

``in_period(spec, when)`` is a line-by-line port of ``Time::Period::inPeriod``
and returns what it returns: 1 (inside), 0 (outside) or -1 (malformed).  It is
deliberately literal, including the parts that look like accidents:

* sub-periods are tried left to right and the first match returns 1, so a
  malformed sub-period is only noticed when no earlier one matched -- the
  result of a half-broken spec depends on the time (SPEC §3.7);
* ``yd`` decrements its value before checking it for non-digits, so Perl's
  string-to-number conversion leaks through (``yd {1x}`` is day 1);
* only ASCII is lowercased, ``\\s`` is ASCII whitespace: mon reads bytes.

``parse_period`` is the config-time check.  mon calls ``inPeriod(time, spec)``
once at startup and refuses the file on -1, so the same text can be accepted
at noon and refused at midnight.  We refuse a spec when *any* of its
sub-periods is malformed, whatever the time: mon would refuse it at some
restart.  A ``Period`` is only ever built from a spec that passed, so
``contains`` never meets -1.

The caller supplies the local time (mon evaluates periods in its own TZ);
nothing here reads a clock.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass

from .errors import ConfigError, Location

# --- Perl string semantics (shared with moncf) -------------------------------
# mon and Time::Period work on bytes without locale: \s is ASCII whitespace
# (vertical tab included since Perl 5.18), lc() only folds A-Z.
PERL_WHITESPACE = " \t\n\r\f\v"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PERL_NUMBER = re.compile(
    r"\s*([+-]?)(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(inf(?:inity)?|nan))",
    re.ASCII | re.IGNORECASE,
)


def perl_lc(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def perl_number(text: str) -> float:
    """The number Perl makes of a string in numeric context ("12abc" -> 12, "x" -> 0)."""
    match = _PERL_NUMBER.match(text)
    if not match:
        return 0.0
    sign = -1.0 if match.group(1) == "-" else 1.0
    if match.group(2) is not None:
        return sign * float(match.group(2))
    return sign * float(match.group(3).lower()[:3])


# --- inPeriod -----------------------------------------------------------------

_LONG_SCALE_NAMES = {
    "year": "yr", "month": "mo", "week": "wk", "mday": "md", "wday": "wd",
    "yday": "yd", "hour": "hr", "minute": "min", "second": "sec",
}
_SCALE_CODES = frozenset(_LONG_SCALE_NAMES.values())
_MONTHS = {name: index for index, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_WEEKDAYS = {name: index for index, name in enumerate(("su", "mo", "tu", "we", "th", "fr", "sa"))}

_NON_DIGIT = re.compile(r"\D", re.ASCII)
_WORD_CHAR = re.compile(r"\w", re.ASCII)
_RANGE = re.compile(r"(.*)-(.*)")  # greedy: "1-2-3" is ("1-2", "3"), as in Perl
_SCALE = re.compile(r"([a-z]*)\s*\{\s*(.*)", re.ASCII)
# Perl's s/(\w+)\s*-\s*(\w+)/$1-$2/g.  A match can only start where a word starts, and
# backtracking into a word or the blanks never helps, so the lookbehind and the
# possessive quantifiers change no result; they keep a long word linear (make fuzz).
_JOIN_DASHES = re.compile(r"(?<!\w)(\w++)\s*+-\s*+(\w++)", re.ASCII)
_SCALE_SEPARATOR = re.compile(r"\}\s*", re.ASCII)
_WHITESPACE_RUN = re.compile(r"\s+", re.ASCII)
_LEADING_SPACE = re.compile(r"^\s*(.*)", re.ASCII)
_HOUR_SUFFIX = re.compile(r"^(\d+)(am|pm|noon)$", re.ASCII)

INVALID = -1


def perl_split(pattern: re.Pattern, text: str) -> list[str]:
    """Perl's split(/PATTERN/, TEXT): no fields for "", trailing empty fields dropped."""
    fields = pattern.split(text) if text else []
    while fields and fields[-1] == "":
        fields.pop()
    return fields


def _sub_periods(spec: str) -> list[str]:
    r"""Perl's ``split(/\s*,\s*/, spec)`` in linear time: blanks next to a comma go with it.

    The regex itself backtracks quadratically over a long run of blanks that no
    comma follows (found by ``make fuzz``).
    """
    pieces = spec.split(",") if spec else []
    last = len(pieces) - 1
    fields = [piece if last == 0 else  # no comma at all: nothing to strip
              piece.rstrip(PERL_WHITESPACE) if index == 0 else
              piece.lstrip(PERL_WHITESPACE) if index == last else piece.strip(PERL_WHITESPACE)
              for index, piece in enumerate(pieces)]
    while fields and fields[-1] == "":
        fields.pop()
    return fields


@dataclass(frozen=True)
class _TimeFields:
    """getTimeVars(): the values each scale compares against (0-based where Perl's are)."""

    yr: int
    mo: int
    wk: int
    yd: int
    md: int
    wd: int
    hr: int
    min: int
    sec: int

    @classmethod
    def of(cls, when: datetime.datetime) -> "_TimeFields":
        weekday = (when.weekday() + 1) % 7  # Perl localtime: 0 = Sunday
        first_weekday = (weekday - (when.day - 1)) % 7
        # Week of the month: weeks start on Sunday, day 1 is always in week 0.
        week = sum(1 for day in range(2, when.day + 1) if (first_weekday + day - 1) % 7 == 0)
        return cls(when.year, when.month - 1, week, when.timetuple().tm_yday - 1, when.day,
                   weekday, when.hour, when.minute, when.second)


def perl_digits_value(digits: str) -> int:
    """The value of a run of ASCII digits for a range check, as Perl compares it.

    Past 18 significant digits every value is simply "huge" (10**18): Perl makes
    it a float, and Python's int() refuses more than 4,300 digits.
    """
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= 18 else 10**18


def _in_range(low: int, high: int, value: int) -> int:
    """A wrap-around range (all scales but yr): 'fri-mon' covers fri, sat, sun, mon."""
    if low > high:
        return 1 if low <= value or high >= value else 0
    return 1 if low <= value <= high else 0


def _bounded_digits(text: str, lowest: int, highest: int, offset: int = 0) -> int | None:
    """Digits-only value minus offset, within [lowest, highest]; None when invalid."""
    if _NON_DIGIT.search(text):
        return None
    value = perl_digits_value(text) - offset
    return value if lowest <= value <= highest else None


def _named_or_numbered(names: dict[str, int], significant: int, highest: int):
    """mo and wd: a name (first letters significant) or 1-based number."""

    def convert(text: str) -> int | None:
        if re.search(r"[a-z]", text):
            return names.get(text[:significant])
        return _bounded_digits(text, 0, highest, offset=1)

    return convert


def _hour_value(text: str) -> int | None:
    match = _HOUR_SUFFIX.match(text)
    if match:
        number, suffix = perl_digits_value(match.group(1)), match.group(2)
        if suffix == "am":
            text = "0" if number == 12 else match.group(1)
        elif suffix == "pm":
            text = str(number if number == 12 else number + 12)
        elif number != 12:  # "noon" only as 12noon
            return None
        else:
            text = match.group(1)
    return _bounded_digits(text, 0, 23)


def _year_day_value(text: str) -> int | None:
    # A single yd value (not a range) is decremented before its /\D/ test, so
    # Perl's numeric conversion decides ("1x" -> 0, "1e2" -> 99).
    value = perl_number(text) - 1
    if math.isfinite(value) and value == int(value) and 0 <= value <= 365:
        return int(value)
    return None


_SCALE_VALUES = {
    "mo": _named_or_numbered(_MONTHS, 3, 11),
    "wd": _named_or_numbered(_WEEKDAYS, 2, 6),
    "wk": lambda text: _bounded_digits(text, 0, 5, offset=1),
    "yd": lambda text: _bounded_digits(text, 0, 365, offset=1),
    "md": lambda text: _bounded_digits(text, 1, 31),
    "hr": _hour_value,
    "min": lambda text: _bounded_digits(text, 0, 59),
    "sec": lambda text: _bounded_digits(text, 0, 59),
}


def _year_value(text: str, year: int) -> int | None:
    if _NON_DIGIT.search(text):
        return None
    value = perl_digits_value(text)
    if 99 < value < 1970:
        return None
    # Two digits take the century of the time being tested.
    return 100 * int(str(year)[:2]) + value if value <= 99 else value


def _scale_matches(scale: str, value_range: str, fields: _TimeFields) -> int:
    """One range of one scale: 1, 0 or -1 (Time::Period's yr()/mo()/... functions)."""
    now = getattr(fields, scale)
    bounds = _RANGE.match(value_range)
    if scale == "yr":
        if bounds:
            low, high = (_year_value(part, now) for part in bounds.groups())
            if low is None or high is None:
                return INVALID
            return 1 if min(low, high) <= now <= max(low, high) else 0  # years never wrap
        single = _year_value(value_range, now)
        return INVALID if single is None else int(single == now)
    convert = _SCALE_VALUES[scale]
    if bounds:
        low, high = (convert(part) for part in bounds.groups())
        if low is None or high is None:
            return INVALID
        return _in_range(low, high, now)
    single = _year_day_value(value_range) if scale == "yd" else convert(value_range)
    return INVALID if single is None else int(single == now)


def _sub_period_matches(sub_period: str, fields: _TimeFields) -> int:
    """One comma-separated part: every scale named must match (1), else 0; -1 if malformed."""
    braces = sub_period.count("{")
    if braces != sub_period.count("}") or braces == 0:
        return INVALID
    scales = perl_split(_SCALE_SEPARATOR, sub_period)
    if braces != len(scales):
        return INVALID
    results: dict[str, int] = {}
    for scale_text in scales:
        match = _SCALE.match(scale_text)
        if not match:
            return INVALID
        name, range_data = match.groups()
        if len(name) > 3:
            name = _LONG_SCALE_NAMES.get(name)
        elif len(name) <= 1 or name not in _SCALE_CODES:
            name = None
        if name is None:
            return INVALID
        results.setdefault(name, 0)
        for value_range in perl_split(_WHITESPACE_RUN, _JOIN_DASHES.sub(r"\1-\2", range_data)):
            bounds = _RANGE.match(value_range)
            parts = bounds.groups() if bounds else (value_range,)
            if not all(_WORD_CHAR.search(part) for part in parts):
                return INVALID
            result = _scale_matches(name, value_range, fields)
            if result == INVALID:
                return INVALID
            if result == 1:
                results[name] = 1  # a repeated scale ORs its ranges
    return int(all(results.values()))


def _normalise(spec: str) -> str:
    spec = _LEADING_SPACE.sub(r"\1", spec, count=1)
    spec = spec.rstrip(PERL_WHITESPACE)  # s/\s*$//, without the regex's quadratic backtracking
    return perl_lc(spec)


def in_period(spec: str, when: datetime.datetime) -> int:
    """Time::Period::inPeriod(when, spec): 1 inside, 0 outside, -1 malformed.

    ``when`` is read field by field as local time (year, month, ..., second);
    its tzinfo is ignored.
    """
    spec = _normalise(spec)
    if spec == "":
        return 1
    if spec == "none":
        return 0
    fields = _TimeFields.of(when)
    for sub_period in _sub_periods(spec):
        result = _sub_period_matches(sub_period, fields)
        if result != 0:
            return result  # the first match wins; the rest are never looked at
    return 0


# Any time will do: whether a sub-period is malformed does not depend on it.
_VALIDATION_TIME = _TimeFields.of(datetime.datetime(2000, 1, 1))


@dataclass(frozen=True)
class Period:
    """A validated Time::Period spec; ``spec`` is the text as written."""

    spec: str

    @property
    def always(self) -> bool:
        return _normalise(self.spec) == ""

    @property
    def never(self) -> bool:
        return _normalise(self.spec) == "none"

    def contains(self, when: datetime.datetime) -> bool:
        """Whether local time ``when`` is inside the period."""
        return in_period(self.spec, when) == 1


def parse_period(spec: str, location: Location, keyword: str = "period") -> Period:
    """Validate a period spec; ``keyword`` names it in the error (mon says exclude_period too)."""
    normalised = _normalise(spec)
    if normalised not in ("", "none"):
        for sub_period in _sub_periods(normalised):
            if _sub_period_matches(sub_period, _VALIDATION_TIME) == INVALID:
                raise ConfigError(location, f"malformed {keyword} '{spec}' (the specified time period "
                                            "is not valid as per Time::Period::inPeriod)")
    return Period(spec)
