"""Getopt::Std's rules, compared with Perl's own getopts on the same argv."""

import json
import subprocess

import pytest

from lvs_compat.getopt_std import LONG_OPTION, MISSING_VALUE, UNKNOWN_OPTION, getopts

PERL = r'''
use Getopt::Std; use JSON::PP;
$SIG{__WARN__} = sub {};
my $spec = shift @ARGV; my %o; getopts($spec, \%o);
print JSON::PP->new->canonical->encode({opts => \%o, rest => [@ARGV]});
'''

CASES = [
    ["-ot5", "-p", "8080", "h1", "h2"],
    ["-o", "-t", "5", "--", "-x", "h"],
    ["h1", "-o"],
    ["-", "-o"],
    ["-t"],
    ["-p80", "-p", "81", "h"],
    ["-ox", "h"],
    ["-o-t", "h"],
]


def perl_getopts(spec, args):
    out = subprocess.run(["perl", "-e", PERL, spec, *args],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("args", CASES)
def test_same_split_as_perls_getopt_std(args):
    spec = "p:t:o"
    options, rest, _ = getopts(args, spec)
    perl = perl_getopts(spec, args)
    ours = {letter: (1 if value is True else value) for letter, value in options.items() if value is not None}
    perl_options = {letter: value for letter, value in perl["opts"].items() if value is not None}
    assert (ours, rest) == (perl_options, perl["rest"])


def test_problems_are_reported_in_order_and_parsing_goes_on():
    options, rest, problems = getopts(["-x", "--help", "-o", "-t"], "t:o")
    assert problems == [(UNKNOWN_OPTION, "x"), (LONG_OPTION, "help"), (MISSING_VALUE, "t")]
    assert options == {"o": True, "t": None} and rest == []
