"""What heartbeat's C code gets from libc, in one home for ha.cf, authkeys, haresources, the wire
and the command line: ``atoi``, ``sscanf("%d")``, ``sscanf("%lx")``, ``isspace`` and ``tolower``
in the C locale.  Only ``re``: ``heartbeat -V`` and ``cl_status`` may import it.

Lenient on purpose, like C: leading blanks are skipped, the number stops at the first character
that cannot continue it, and the caller decides whether trailing text matters.  The strict
numbers of the wire format itself (``%lu`` fields that must be digits only) are ``wire``'s.
"""

from __future__ import annotations

import re

C_ISSPACE = " \t\n\v\f\r"  # what strtol/sscanf skip
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_C_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_C_HEX = re.compile(r"[ \t\n\v\f\r]*(?:0[xX])?([0-9a-fA-F]+)")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lowercase like C ``tolower`` in the C locale (node names: ``inplace_ascii_strdown``)."""
    return text.translate(_ASCII_LOWER)


def c_strtol(text: str) -> tuple[int, int] | None:
    """``sscanf("%d")``: (value as a 32-bit int, characters used), or None without digits.

    glibc converts with ``strtol`` (saturating at the ``long`` limits) and stores the low 32 bits.
    """
    match = _C_INTEGER.match(text)
    if match is None:
        return None
    number = match[1]
    digits = number.lstrip("+-").lstrip("0") or "0"
    magnitude = int(digits) if len(digits) <= 19 else 2**63  # spare int() its digit limit
    value = max(-magnitude, _LONG_MIN) if number.startswith("-") else min(magnitude, _LONG_MAX)
    return ((value + 2**31) % 2**32) - 2**31, match.end()


def c_atoi(text: str) -> int:
    """C ``atoi``: the leading integer, 0 when there is none."""
    parsed = c_strtol(text)
    return 0 if parsed is None else parsed[0]


def c_scan_hex(text: str) -> int | None:
    """``sscanf("%lx")``: leading blanks, optional 0x, digits up to the first non-digit; None
    without digits."""
    match = _C_HEX.match(text)
    return None if match is None else int(match[1], 16)
