"""Perl's ``Getopt::Std::getopts``: the command-line rules of mon's monitors and alerts.

mon.cf lines were written for Perl programs that parse their options with
``getopts(SPEC)``, so ours must split argv the same way (../shared/reference/
mon/SPEC.md §4): options only before the first non-option word; a lone ``-``
is a word; ``--`` ends the options; flags cluster (``-ot5``); a value is
attached (``-t5``) or the next word; the last repetition wins.  Getopt::Std
does not stop at a problem: it warns and goes on, so this returns the problems
and leaves the policy to the caller (the monitors go on like the originals,
lvs.alert refuses to run).

Standard library only, no imports at all: monitors and alerts are started by
mon every few seconds.
"""

UNKNOWN_OPTION = "unknown option"
MISSING_VALUE = "missing value"
LONG_OPTION = "long option"  # --help / --version, which Getopt::Std answers itself


def getopts(args, spec):
    """Split ``args`` (argv without argv[0]) like Getopt::Std's ``getopts(spec)``.

    ``spec`` is Getopt::Std's string: letters; a letter followed by ``:`` takes
    a value.  Returns ``(options, remaining, problems)``: ``options`` maps a
    letter to its value (``True`` for a flag, ``None`` for a value option given
    last with no value), ``remaining`` are the words after the options, and
    ``problems`` is a list of ``(kind, letter)`` with ``kind`` one of
    UNKNOWN_OPTION, MISSING_VALUE, LONG_OPTION (``letter`` is then the long
    option's name), in the order met.
    """
    takes_value = {letter: spec[i + 1:i + 2] == ":" for i, letter in enumerate(spec) if letter != ":"}
    options, problems = {}, []
    args = list(args)
    while args and len(args[0]) >= 2 and args[0].startswith("-"):
        word = args[0]
        if word == "--":
            args.pop(0)
            break
        letter, rest = word[1], word[2:]
        if letter == "-" and rest in ("help", "version"):
            problems.append((LONG_OPTION, rest))
            args.pop(0)
        elif takes_value.get(letter):
            args.pop(0)
            if rest == "":
                if not args:
                    problems.append((MISSING_VALUE, letter))
                    options[letter] = None
                    break
                rest = args.pop(0)
            options[letter] = rest
        else:
            if letter in takes_value:
                options[letter] = True
            else:
                problems.append((UNKNOWN_OPTION, letter))
            if rest:
                args[0] = "-" + rest
            else:
                args.pop(0)
    return options, args, problems
