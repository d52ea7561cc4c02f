"""Time::Period 1.25 as mon uses it: the recorded truth table, the real Perl module, and properties."""

import datetime
import os
import random
import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SHARED, running_in_ci
from lvs_compat.config.errors import ConfigError, Location
from lvs_compat.config.period import Period, in_period, parse_period

TRUTH_TABLE = SHARED / "reference" / "mon" / "traces" / "time-period-inPeriod-checks.txt"
HERE = Location("mon.cf", 7, 16)

# The table's columns name only a weekday and a time.  Its own rows pin the dates:
# yr {2025}, mo {nov} and md {27} hold on Thursday, wk {4-5} fails on Sunday, so
# the week is Thursday 27 - Sunday 30 November 2025.
COLUMN_DATES = {"Thu": datetime.date(2025, 11, 27), "Sat": datetime.date(2025, 11, 29),
                "Sun": datetime.date(2025, 11, 30)}


def utc(year, month, day, hour=0, minute=0, second=0):
    return datetime.datetime(year, month, day, hour, minute, second)


def truth_table_rows():
    lines = TRUTH_TABLE.read_text().splitlines()
    columns = []
    for label in lines[0].split("(UTC)", 1)[1].split("|"):
        weekday, clock = label.split()
        when = datetime.datetime.combine(COLUMN_DATES[weekday], datetime.time.fromisoformat(clock))
        assert when.strftime("%a") == weekday
        columns.append(when)
    for line in lines[1:]:
        spec, results = re.fullmatch(r"\[(.*)\]\s+(.*)", line).groups()
        for when, expected in zip(columns, results.split("|"), strict=True):
            yield pytest.param(spec, when, int(expected), id=f"[{spec}]@{when:%a %H:%M}")


@pytest.mark.parametrize("spec, when, expected", list(truth_table_rows()))
def test_recorded_truth_table(spec, when, expected):
    assert in_period(spec, when) == expected
    if expected == -1:
        with pytest.raises(ConfigError):
            parse_period(spec, HERE)
    else:
        assert parse_period(spec, HERE).contains(when) is (expected == 1)


def test_office_hours_cover_the_whole_of_5pm():
    office = parse_period("wd {Mon-Fri} hr {9am-5pm}", HERE)
    assert office.spec == "wd {Mon-Fri} hr {9am-5pm}"
    assert office.contains(utc(2025, 11, 27, 17, 59, 59))  # a Thursday
    assert not office.contains(utc(2025, 11, 27, 18, 0, 0))
    assert not office.contains(utc(2025, 11, 29, 12, 0))  # Saturday


def test_ranges_wrap_around_except_years():
    night = parse_period("hr {6pm-8am}", HERE)
    assert night.contains(utc(2025, 11, 27, 23)) and night.contains(utc(2025, 11, 27, 3))
    assert not night.contains(utc(2025, 11, 27, 12))
    assert parse_period("wd {Fri-Mon}", HERE).contains(utc(2025, 11, 30))  # Sunday
    assert parse_period("mo {nov-feb}", HERE).contains(utc(2026, 1, 15))
    assert parse_period("min {50-10}", HERE).contains(utc(2026, 1, 15, 3, 5))
    # Years are swapped, not wrapped: 2030-2020 means 2020..2030.
    assert parse_period("yr {2030-2020}", HERE).contains(utc(2025, 1, 1))


def test_long_scale_names_names_and_case_are_all_accepted():
    spec = ("Year {2025} Month {November} Week {5} YDay {331} MDay {27} WDay {Thursday} Hour {5pm} "
            "Minute {0-29} Second {0-59}")
    assert parse_period(spec, HERE).contains(utc(2025, 11, 27, 17, 12, 0))
    assert not parse_period(spec, HERE).contains(utc(2025, 11, 27, 17, 30, 0))


def test_scales_of_a_sub_period_are_anded_repeats_ored_and_sub_periods_ored():
    when = utc(2025, 11, 27, 10)  # Thursday 10:00
    assert in_period("wd {Thu} hr {10}", when) == 1
    assert in_period("wd {Thu} hr {11}", when) == 0
    assert in_period("hr {11} hr {10}", when) == 1
    assert in_period("wd {Fri}, hr {10}", when) == 1
    assert in_period("wd{thu}hr{10}", when) == 1  # whitespace is free


def test_twelve_o_clock_words():
    assert in_period("hr {12am}", utc(2025, 1, 1, 0)) == 1
    assert in_period("hr {12noon}", utc(2025, 1, 1, 12)) == 1
    assert in_period("hr {12pm}", utc(2025, 1, 1, 12)) == 1
    assert in_period("hr {11noon}", utc(2025, 1, 1, 11)) == -1


def test_two_digit_years_take_the_century_of_the_time_tested():
    assert in_period("yr {25}", utc(2025, 6, 1)) == 1
    assert in_period("yr {25}", utc(2125, 6, 1)) == 1  # the same text names 2125 then
    assert in_period("yr {2025}", utc(2125, 6, 1)) == 0


def test_blank_is_always_and_none_is_never():
    assert parse_period("   ", HERE).always
    assert parse_period("None", HERE).never
    assert not parse_period("None", HERE).contains(utc(2025, 1, 1))


def test_a_half_broken_spec_is_valid_only_while_an_earlier_part_matches():
    # Time::Period stops at the first matching sub-period, so mon accepts this at
    # start-up on a Thursday and refuses it on a Friday.  We refuse it always.
    spec = "wd {Thu}, weekdays"
    assert in_period(spec, utc(2025, 11, 27)) == 1
    assert in_period(spec, utc(2025, 11, 28)) == -1
    with pytest.raises(ConfigError) as error:
        parse_period(spec, HERE)
    assert error.value.location == HERE
    assert error.value.message.startswith("malformed period 'wd {Thu}, weekdays'")


def test_exclude_period_errors_say_so():
    with pytest.raises(ConfigError) as error:
        parse_period("hr {25}", HERE, keyword="exclude_period")
    assert str(error.value).startswith("mon.cf:7:16: malformed exclude_period 'hr {25}'")


def test_perl_numbers_leak_into_single_yday_values():
    # "$range--" happens before the /\D/ test for a single yd value.
    assert in_period("yd {1x}", utc(2025, 1, 1)) == 1
    assert in_period("yd {1e2}", utc(2025, 4, 10)) == 1  # day 100
    assert in_period("yd {1x-2}", utc(2025, 1, 1)) == -1  # ranges are checked first


# --- differential test against the real Time::Period -----------------------------

PERL_BATCH = r"""
use Time::Period;
while (my $line = <STDIN>) {
    chomp $line;
    my ($hex, $epoch) = split / /, $line;
    print inPeriod($epoch, pack("H*", $hex)), "\n";
}
"""

SCALE_VALUES = {
    "wd": ["Mon", "fri", "SUN", "thursday", "1", "7", "0", "8", "Sa", "x"],
    "hr": ["9am", "5PM", "12am", "12pm", "12noon", "11noon", "0", "23", "24", "13am", "0pm"],
    "min": ["0", "29", "59", "60"], "sec": ["0", "30", "59", "61"],
    "md": ["1", "15", "31", "0", "32"], "yd": ["1", "100", "366", "367", "1x", "1e2", "2.0"],
    "mo": ["jan", "Dec", "november", "1", "12", "13", "ja"], "wk": ["1", "3", "6", "7", "0"],
    "yr": ["2025", "26", "1999", "99", "100", "1969", "2100"],
}
LONG_NAMES = {"wd": "wday", "hr": "hour", "min": "minute", "sec": "second", "md": "mday", "yd": "yday",
              "mo": "month", "wk": "week", "yr": "year"}


def random_spec(rng: random.Random) -> str:
    """Mostly plausible specs, with the mistakes people make mixed in."""
    if rng.random() < 0.05:
        return rng.choice(["", "none", "NONE", "  none ", "weekdays", "wd {Mon-Fri", "é {1}"])

    def scale_item():
        code = rng.choice(list(SCALE_VALUES))
        name = rng.choice([code, code.upper(), LONG_NAMES[code], rng.choice(["w", "day", "hours"])])
        values = []
        for _ in range(rng.randint(0, 3)):
            value = rng.choice(SCALE_VALUES[code])
            if rng.random() < 0.5:
                value += rng.choice(["-", " - ", "- "]) + rng.choice(SCALE_VALUES[code])
            values.append(value)
        opening, closing = rng.choice([("{", "}")] * 8 + [("{", ""), ("", "}"), ("{{", "}}")])
        return f"{name}{rng.choice(['', ' '])}{opening}{' '.join(values)}{closing}"

    def sub_period():
        return rng.choice(["", " "]).join(scale_item() for _ in range(rng.randint(1, 3)))

    spec = rng.choice([",", ", ", " , "]).join(sub_period() for _ in range(rng.randint(1, 3)))
    return rng.choice(["", " ", ",", "\t"]) + spec if rng.random() < 0.1 else spec


def perl_has_time_period() -> bool:
    return shutil.which("perl") is not None and subprocess.run(
        ["perl", "-MTime::Period", "-e", "1"], capture_output=True).returncode == 0


def test_in_period_agrees_with_the_real_time_period_module():
    if not perl_has_time_period():
        message = "perl with Time::Period (Debian: libtime-period-perl) is needed for the differential test"
        if running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    rng = random.Random(20251127)
    cases = [(random_spec(rng), rng.randint(0, 4_102_444_800)) for _ in range(600)]
    batch = "".join(f"{spec.encode().hex()} {epoch}\n" for spec, epoch in cases)
    perl = subprocess.run(["perl", "-e", PERL_BATCH], input=batch, capture_output=True, text=True,
                          env={**os.environ, "TZ": "UTC"}, check=True)
    answers = [int(answer) for answer in perl.stdout.split()]
    assert len(answers) == len(cases)
    mismatches = [(spec, epoch, answer, ours) for (spec, epoch), answer in zip(cases, answers)
                  if (ours := in_period(spec, datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc))) != answer]
    assert mismatches == []
    assert {-1, 0, 1} <= set(answers)  # the generator reaches every outcome
    for (spec, _), answer in zip(cases, answers):
        if answer == -1:  # malformed at some time: parse_period always refuses it
            with pytest.raises(ConfigError):
                parse_period(spec, HERE)


# --- properties ---------------------------------------------------------------------

PERIOD_ALPHABET = st.sampled_from(list("wdhrminsecmoykWDHR{}-, \t0123456789apmnoAPMNO") + ["é", "\n"])


@given(spec=st.one_of(st.text(), st.text(PERIOD_ALPHABET)), when=st.datetimes())
def test_any_text_is_a_period_or_a_located_error(spec, when):
    assert in_period(spec, when) in (-1, 0, 1)
    try:
        period = parse_period(spec, HERE)
    except ConfigError as error:
        assert error.location == HERE
    else:
        assert isinstance(period, Period) and period.spec == spec
        assert in_period(spec, when) in (0, 1)
