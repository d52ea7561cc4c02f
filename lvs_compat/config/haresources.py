"""``haresources`` as ``/usr/share/heartbeat/ResourceManager`` reads it (SPEC §1b).

Heartbeat itself only checks the node names (see ``hadir``); everything else is the shell script,
whose ``ipres`` pipeline we reproduce step by step (GNU sed, then awk):

1. ``s%#.*%%`` strips a comment from each physical line;
2. a line ending in ``\\`` is joined with the next one, backslash and newline removed (no blank is
   added).  The comment strip is *not* applied to the joined-in line, so a ``#`` after a
   continuation survives as resource text (we reject it).  A backslash on the very last line
   makes GNU sed print the line raw;
3. runs of blanks/tabs become one field separator, empty lines vanish, the first field is
   lowercased (ASCII, awk ``tolower`` in the C locale).  Only space and tab separate fields, so a
   CR of a DOS line ending sticks to the last resource (we reject it).

A line is one resource group ``NODE RESOURCE...``; its first resource is the *key*, looked up by
grepping ``" KEY "``, so it must not appear in another group.  A resource is
``NAME[::ARG[::ARG...]]`` (empty arguments vanish in the shell's word splitting); one that matches
the glob ``[0-9]*.[0-9]*.[0-9]*.[0-9]*`` is ``IPaddr::<resource>``.  ``IPaddr``/``IPaddr2`` take
exactly one argument ``IP[/NETMASK[/NIC][/BROADCAST]]`` which we split like the resource.d
wrappers and validate like ``findif`` ("IP address [x] not valid.", rc 6 = OCF_ERR_CONFIGURED),
because a bad one would only fail when the group is taken over.  Resources start left to right
and stop right to left.
"""

from __future__ import annotations

import bisect
import fnmatch
import itertools
from dataclasses import dataclass

from .errors import ConfigError, ConfigWarning, Location, read_config_text
from .hacf import is_ipv4_address, scan_words
from .libc import ascii_lower

_FIELD_SEPARATORS = " \t\n"  # awk's default FS
_IP_SHORTHAND = "[0-9]*.[0-9]*.[0-9]*.[0-9]*"  # ResourceManager isip()
_IP_SCRIPTS = ("IPaddr", "IPaddr2")
_DIGITS = "0123456789"


@dataclass(frozen=True)
class IpAddressSpec:
    """What the wrapper exports as ``OCF_RESKEY_ip``, ``_cidr_netmask`` (as written: bits or a
    dotted quad), ``_nic`` and ``_broadcast``."""

    ip: str
    cidr_netmask: str | None
    nic: str | None
    broadcast: str | None


@dataclass(frozen=True)
class Resource:
    name: str  # the script, looked up in /etc/ha.d/resource.d then /etc/init.d
    args: tuple[str, ...]
    raw: str
    location: Location
    ip_address: IpAddressSpec | None = None

    @property
    def command(self) -> tuple[str, ...]:
        """``<script> [args...]``; the action (start/stop/status) goes last."""
        return (self.name, *self.args)


@dataclass(frozen=True)
class ResourceGroup:
    node: str  # preferred node, lowercased
    key: str
    resources: tuple[Resource, ...]
    location: Location

    @property
    def start_order(self) -> tuple[Resource, ...]:
        return self.resources

    @property
    def stop_order(self) -> tuple[Resource, ...]:
        return self.resources[::-1]


@dataclass(frozen=True)
class HaResources:
    path: str
    groups: tuple[ResourceGroup, ...]
    warnings: tuple[ConfigWarning, ...]

    def group(self, key: str) -> ResourceGroup | None:
        return next((group for group in self.groups if group.key == key), None)

    def groups_of(self, node: str) -> tuple[ResourceGroup, ...]:
        """The groups whose preferred node is ``node`` (``ResourceManager listkeys``)."""
        return tuple(group for group in self.groups if group.node == ascii_lower(node))


def parse_ip_spec(text: str) -> tuple[str, str | None, str | None, str | None]:
    """Split ``IP[/NETMASK[/NIC][/BROADCAST]]`` like resource.d/IPaddr: a third part that starts
    with a digit is the broadcast, otherwise it is the NIC and a fourth part the broadcast."""
    ip, _, rest = text.partition("/")
    netmask = nic = broadcast = None
    rest = rest.lstrip("/")
    if rest:
        netmask, _, rest = rest.partition("/")
        third, _, rest = rest.lstrip("/").partition("/")
        if third[:1] in tuple(_DIGITS):
            broadcast = third
        elif third:
            nic, broadcast = third, rest.lstrip("/").partition("/")[0] or None
    return ip, netmask, nic, broadcast


def _valid_netmask(text: str) -> bool:
    """findif: 1-32 bits, or a dotted quad other than 0.0.0.0."""
    if text and all(c in _DIGITS for c in text):
        significant = text.lstrip("0")  # int() refuses over 4,300 digits
        return 1 <= len(significant) <= 2 and 1 <= int(significant) <= 32
    return is_ipv4_address(text) and text != "0.0.0.0"


def _ip_address(name: str, args: tuple[str, ...], location: Location) -> IpAddressSpec:
    if len(args) != 1:
        raise ConfigError(location, f"{name} takes exactly one argument "
                          f"IP[/NETMASK[/NIC][/BROADCAST]], not {len(args)}")
    ip, netmask, nic, broadcast = parse_ip_spec(args[0])
    if not is_ipv4_address(ip):
        raise ConfigError(location, f"IP address [{ip}] not valid.")
    if netmask is not None and not _valid_netmask(netmask):
        raise ConfigError(location, f"Invalid netmask specification [{netmask}]")
    if broadcast is not None and not is_ipv4_address(broadcast):
        raise ConfigError(location, f"Invalid broadcast address [{broadcast}].")
    return IpAddressSpec(ip, netmask, nic, broadcast)


def parse_resource(raw: str, location: Location) -> Resource:
    """One resource token as ResourceManager's canonname/resource2script/resource2arg see it."""
    if "\r" in raw:
        raise ConfigError(location, f"Resource [{raw!r}] contains a carriage return: DOS line "
                          "endings are not stripped by ResourceManager")
    if "#" in raw:  # only a continuation line can leave one (see the module docstring)
        raise ConfigError(location, f"Resource [{raw}]: '#' after a backslash continuation is "
                          "not a comment for ResourceManager (SPEC §1b)")
    name, separator, rest = raw.partition("::")
    args = tuple(arg for arg in rest.split("::") if arg) if separator else ()
    if fnmatch.fnmatchcase(raw, _IP_SHORTHAND):
        # canonname gives IPaddr::<raw>; resource2arg still strips up to the first '::' of raw
        name, args = "IPaddr", args if separator else (raw,)
    spec = _ip_address(name, args, location) if name in _IP_SCRIPTS else None
    return Resource(name, args, raw, location, spec)


def _logical_lines(text: str, path: str) -> list[list[tuple[str, Location]]]:
    """The fields of every non-empty logical line, each with the place of its first character.

    Linear in the size of ``text``: a logical line is kept as pieces (physical line, how much of
    it counts), so a continuation appends one piece and removing its backslash shortens the last
    one, whatever the number of lines joined (the pattern space used to be copied at every
    continuation: quadratic, issue 21).  bench/check_scale.py times a 10,000-line continuation.
    """
    path_lines = text.split("\n")
    if text.endswith("\n"):
        path_lines.pop()
    logical: list[list[tuple[str, Location]]] = []
    index = 0
    while index < len(path_lines):
        # sed's pattern space: [physical line text, characters that count, line number], never
        # an empty piece, so that pieces[-1] holds the pattern space's last character.
        first = path_lines[index].split("#")[0]
        pieces = [[first, len(first), index + 1]] if first else []
        index += 1
        while pieces and pieces[-1][0][pieces[-1][1] - 1] == "\\" and index < len(path_lines):
            pieces[-1][1] -= 1  # backslash and newline removed, no blank added
            if not pieces[-1][1]:
                pieces.pop()
            if path_lines[index]:
                pieces.append([path_lines[index], len(path_lines[index]), index + 1])
            index += 1
        joined = "".join(line[:length] for line, length, _ in pieces)
        fields = []
        if joined:
            starts = list(itertools.accumulate((length for _, length, _ in pieces), initial=0))
            for word, offset in scan_words(joined, _FIELD_SEPARATORS):
                piece = bisect.bisect_right(starts, offset) - 1
                fields.append((word, Location(path, pieces[piece][2], offset - starts[piece] + 1)))
        if fields:
            logical.append(fields)
    return logical


def parse_haresources(text: str, path: str = "haresources") -> HaResources:
    """Parse ``haresources`` text; raise ``ConfigError`` at the first group that cannot work."""
    groups: list[ResourceGroup] = []
    warnings: list[ConfigWarning] = []
    lines = _logical_lines(text, path)
    # Which lines name each resource word: a key found on another line is ambiguous.
    lines_naming: dict[str, list[int]] = {}
    for number, fields in enumerate(lines):
        for word, _ in fields[1:]:
            naming = lines_naming.setdefault(word, [])
            if not naming or naming[-1] != number:
                naming.append(number)
    for number, fields in enumerate(lines):
        (node, node_at), resources = fields[0], fields[1:]
        if not resources:
            warnings.append(ConfigWarning(node_at, f"resource group of [{node}] has no resources "
                                          "and is ignored by ResourceManager"))
            continue
        key, key_at = resources[0]
        other = next((n for n in lines_naming[key] if n != number), None)
        if other is not None:
            raise ConfigError(key_at, f"Resource group key [{key}] is not unique: "
                              f"ResourceManager greps for it and also finds line "
                              f"{lines[other][0][1].line}")
        parsed = tuple(parse_resource(word, at) for word, at in resources)
        groups.append(ResourceGroup(ascii_lower(node), key, parsed, node_at))
    return HaResources(path, tuple(groups), tuple(warnings))


def load_haresources(path: str) -> HaResources:
    return parse_haresources(read_config_text(path), path)
