"""Issue 8 item 2, the quick part: structure-aware mutations of the real config files.

The seeds are the files operators and the interop lab used (``fuzz/corpus.py``: the seed
HOWTO's, the mon traces', the heartbeat lab's and Debian's samples).  Each example takes one and
deletes, duplicates, swaps and moves lines, puts the grammar's own keywords and tricky tokens
(Unicode digits, numbers past every limit, separators) in place of words, inserts random
Unicode and NULs, mixes CR/LF/VT/FF/NEL line ends and grows lines and files.  Whatever comes
out, every parser returns a model or raises ``ConfigError`` with a location inside the file,
and Time::Period's two entry points agree.  ``make fuzz`` runs the same mutations for longer,
coverage-guided (``fuzz/run.py``).
"""

import sys
import time

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(REPO))
from fuzz import corpus, mutate, targets  # noqa: E402

from lvs_compat.config.errors import ConfigError, Location  # noqa: E402
from lvs_compat.config.moncf import parse_mon_cf  # noqa: E402
from lvs_compat.config.period import parse_period  # noqa: E402

pytestmark = pytest.mark.fuzz

CONFIG_TARGETS = ["moncf", "period", "hacf", "haresources", "authkeys"]
KEYWORDS = {"moncf": targets.MONCF_KEYWORDS, "period": targets.PERIOD_KEYWORDS,
            "hacf": targets.HACF_KEYWORDS, "haresources": targets.HARESOURCES_KEYWORDS,
            "authkeys": targets.AUTHKEYS_KEYWORDS}
# Small enough that a few hundred examples per parser stay within seconds; long inputs are
# tested below and by make fuzz.
MAX_SIZE = 16 * 1024


def check(name: str, data: bytes) -> str:
    """The target's check; a Finding fails the test with the input and the traceback."""
    return targets.TARGETS[name].check(data)


@pytest.mark.parametrize("name", CONFIG_TARGETS)
def test_every_parser_has_real_files_to_start_from(name):
    seeds = corpus.seeds(name)
    outcomes = [check(name, data) for data in seeds]
    assert len(seeds) >= 3
    # Real files, but mon's T01-T24 and Debian's commented-out samples are refused on purpose.
    assert outcomes.count(targets.ACCEPTED) >= 2


def mutated(name: str, mutations=None, max_size: int = MAX_SIZE):
    """A seed of ``name`` after 1-4 structure-aware mutations (or the ones given)."""

    @st.composite
    def strategy(draw):
        data = draw(st.sampled_from(corpus.seeds(name)))
        rng = draw(st.randoms(use_true_random=False))
        chosen = draw(st.lists(st.sampled_from(mutations or mutate.TEXT_MUTATIONS),
                               min_size=1, max_size=4))
        for mutation in chosen:
            result = mutation(data, rng, KEYWORDS[name])
            if len(result) <= max_size:
                data = result
        return data

    return strategy()


@pytest.mark.parametrize("name", CONFIG_TARGETS)
@settings(max_examples=400)
@given(data=st.data())
def test_a_mutated_real_file_gives_a_model_or_a_located_error(name, data):
    check(name, data.draw(mutated(name)))


LINE_MUTATIONS = (mutate.delete_lines, mutate.duplicate_line, mutate.swap_lines,
                  mutate.move_line, mutate.insert_keyword_line)
CHARACTER_MUTATIONS = (mutate.insert_unicode, mutate.insert_nul, mutate.mix_newlines,
                       mutate.replace_token, mutate.flip_byte, mutate.insert_bytes)


@pytest.mark.parametrize("name", ["moncf", "hacf", "haresources", "authkeys"])
@settings(max_examples=100)
@given(data=st.data())
def test_reordered_and_repeated_lines_of_a_real_file_give_a_model_or_a_located_error(name, data):
    check(name, data.draw(mutated(name, LINE_MUTATIONS)))


@pytest.mark.parametrize("name", CONFIG_TARGETS)
@settings(max_examples=100)
@given(data=st.data())
def test_unicode_nul_and_mixed_line_ends_give_a_model_or_a_located_error(name, data):
    check(name, data.draw(mutated(name, CHARACTER_MUTATIONS)))


@pytest.mark.parametrize("name", CONFIG_TARGETS)
@settings(max_examples=100)
@given(first=st.data())
def test_halves_of_two_real_files_give_a_model_or_a_located_error(name, first):
    seeds = corpus.seeds(name)
    one, other = first.draw(st.sampled_from(seeds)), first.draw(st.sampled_from(seeds))
    check(name, mutate.splice_lines(one, other, first.draw(st.randoms(use_true_random=False))))


@pytest.mark.parametrize("name", CONFIG_TARGETS)
@pytest.mark.parametrize("line", [
    "9" * 200_000, "a" * 200_000, "\t" * 200_000, "{" * 100_000, "\\" * 100_000,
    "# " + "x" * 200_000, "\0" * 100_000, "\u00e9" * 100_000, "\r" * 100_000,
], ids=["digits", "letters", "tabs", "braces", "backslashes", "comment", "nuls", "utf8", "crs"])
def test_a_huge_line_after_a_real_file_is_parsed_in_a_second(name, line):
    seed = corpus.seeds(name)[0]
    started = time.process_time()
    check(name, seed + line.encode("utf-8"))
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize("name", ["moncf", "hacf", "haresources", "authkeys"])
def test_thousands_of_lines_are_parsed_in_a_second(name):
    seed = corpus.seeds(name)[0]
    started = time.process_time()
    check(name, seed + b"\n".join(seed.splitlines()[-3:]) * 300)
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize("name", CONFIG_TARGETS)
@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n\r", "\x0b", "\x0c", "\x85", "\u2028",
                                     "\x00\n", " \\\n"])
def test_every_real_file_with_other_line_ends_gives_a_model_or_a_located_error(name, newline):
    for data in corpus.seeds(name):
        check(name, data.replace(b"\n", newline.encode("utf-8")))


# --- bugs found by the fuzzing (fixed): inputs that hung or crashed a parser ----------------
# Each input would take minutes with the quadratic code it caught; linear code reads it in
# milliseconds.  The bound is only there so that a regression fails instead of hanging.

HANG = 10.0  # seconds
# The bounds here are on this process's CPU time (time.process_time): a quadratic parser shows
# in it, a process starved of the CPU does not (fresh run 45L, beside a CPU hog: 5.7 s and
# 22.8 s of wall time for parses these bounds had passed in every other run).


def finishes(parse, *args):
    started = time.process_time()
    try:
        parse(*args)
    except ConfigError:
        pass
    return time.process_time() - started < HANG


@pytest.mark.parametrize("spec", [
    "wd {Mon-Fri}" + " " * 300_000 + "hr {9am-5pm}",      # a run of blanks no comma follows
    "wd {Mon-Fri}" + " \t" * 150_000 + ", hr {9am}",     # ... or one that a comma does
    "wd {" + "a" * 200_000 + "}",                        # a long word before no dash
])
def test_a_period_with_a_huge_run_of_blanks_or_letters_does_not_hang(spec):
    assert finishes(parse_period, spec, Location("mon.cf", 7, 10))


def test_a_mon_cf_period_line_with_a_huge_run_of_blanks_does_not_hang():
    text = ("hostgroup servers 10.0.0.1\n\nwatch servers\n    service http\n"
            "        interval 10s\n        monitor http.monitor\n"
            "        period wd {Mon-Fri}" + " " * 300_000 + "hr {9am-5pm}\n"
            "            alert mail.alert root\n")
    assert finishes(parse_mon_cf, text, "mon.cf")


@pytest.mark.parametrize("spec", ["yr {" + "9" * 6000 + "}", "hr {" + "1" * 6000 + "pm}",
                                  "wd {" + "0" * 6000 + "1-3}", "md {1-" + "7" * 5000 + "}"])
def test_a_period_with_thousands_of_digits_is_a_located_error_or_a_period(spec):
    # int() refuses more than 4,300 digits; Perl just compares a huge number.
    try:
        period = parse_period(spec, Location("mon.cf", 3, 5))
    except ConfigError as error:
        assert error.line == 3
    else:
        assert period.spec == spec


def test_mon_cf_numbers_with_thousands_of_digits_are_read_as_huge():
    text = ("hostgroup g 10.0.0.1\n\nwatch g\n    service s\n        interval 10s\n"
            "        period\n            numalerts " + "9" * 5000 + "\n"
            "            alertafter " + "8" * 5000 + "\n"
            "            alert exit=" + "1" * 5000 + " mail.alert root\n")
    period = parse_mon_cf(text, "mon.cf").watches[0].services[0].periods[0]
    assert period.numalerts == period.alertafter_consecutive == 10**18


def test_a_generated_haresources_with_thousands_of_groups_does_not_hang():
    from lvs_compat.config.haresources import parse_haresources

    text = "".join(f"node1 10.0.{i // 250}.{i % 250 + 1} httpd{i}\n" for i in range(20_000))
    started = time.process_time()
    assert len(parse_haresources(text).groups) == 20_000
    assert time.process_time() - started < HANG


def test_a_netmask_with_thousands_of_digits_is_refused_not_crashed():
    from lvs_compat.config.haresources import parse_haresources

    with pytest.raises(ConfigError):
        parse_haresources("node1 10.0.0.3/" + "3" * 5000 + "\n")
