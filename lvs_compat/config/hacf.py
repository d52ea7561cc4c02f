"""``ha.cf`` exactly as heartbeat 3.0.6 reads it (SPEC §1a; C: ``parse_config``, ``init_config``).

Lexical rules, in the order heartbeat applies them to each ``\\n``-terminated line:

* A NUL ends the line (C string); ``#`` anywhere starts a comment; the first CR ends the line.
* Leading ``WHITESPACE`` (space, tab, CR, LF, FF) is skipped; the directive runs to the next
  whitespace character and is compared case-sensitively.  ``udp`` is replaced by ``bcast``
  with a warning (SPEC §1a rule 4).  Anything not in the directive table is an error.
* After the directive, ``DELIMS`` (``WHITESPACE`` plus comma) are skipped.  *Whole-line*
  directives (``stonith``, ``stonith_host``, ``apiauth``, ``respawn``, ``failfast`` and the
  media ``ucast``, ``mcast``, ``ucast6``, ``mcast6``, ``ping_group``) get the rest of the line and
  split it on whitespace only.  Every other directive is a *list* directive: the rest is split on
  ``DELIMS`` and each token is applied as if the directive were repeated, so the last token of a
  single-valued directive wins and ``keepalive 500 ms`` fails on the token ``ms`` (rule 6).  A
  list directive without any token is silently ignored by heartbeat (we warn).

Values follow cluster-glue: ``cl_get_msec`` for times (seconds by default, ``ms``/``us`` by their
first two letters, rounded to the millisecond), ``cl_str_to_boolean`` for booleans, C ``atoi`` for
integers (leading garbage reads as 0, trailing garbage is ignored; we warn).

Order matters (rule 7): the bcast, ucast and ucast6 plugins each fix their UDP port when their
first medium is created, and the serial plugin fixes its baud rate when it is loaded, so a later
``udpport``/``baud`` does not reach them.  Every medium records the port/baud really in force.

Checks that need the running host (interfaces, serial devices, DNS, users, plugin files, ``uname
-n`` among the nodes) are left to the daemon; ``HaConfig.has_node`` is the helper for the last.

The C helpers shared by the heartbeat readers (``scan_words``, ``is_ipv4_address``) live here,
the first module that needs them; libc's numbers and ``tolower`` are ``libc``'s.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Union

import pyparsing as pp

from .libc import ascii_lower, c_atoi, c_strtol
from .errors import ConfigError, ConfigWarning, Location, read_config_text
from .hacf_defaults import HA_CF_DEFAULTS, default_text
from .hacf_honoured import unhonoured_warnings

# --------------------------------------------------------------------------------------------
# C conventions shared by the heartbeat readers

WHITESPACE = " \t\n\r\f"  # heartbeat.h WHITESPACE
DELIMS = ", \t\n\r\f"  # heartbeat.h DELIMS
_DIGITS = "0123456789"


@functools.lru_cache(maxsize=None)
def _word(delims: str) -> pp.ParserElement:
    # parse_with_tabs: scan_string would otherwise expand tabs and shift every column.
    return pp.CharsNotIn(delims).leave_whitespace().parse_with_tabs()


def scan_words(text: str, delims: str, offset: int = 0) -> list[tuple[str, int]]:
    """Maximal runs of characters not in ``delims``, with 0-based offsets (a ``strcspn`` loop)."""
    matches = _word(delims).scan_string(text, always_skip_whitespace=False)
    return [(tokens[0], start + offset) for tokens, start, _ in matches]


def is_ipv4_address(text: str) -> bool:
    """Strict dotted quad as glibc ``inet_pton(AF_INET)`` takes it (no leading zeros)."""
    parts = text.split(".")
    return len(parts) == 4 and all(
        0 < len(part) <= 3 and all(c in _DIGITS for c in part)
        and (part == "0" or part[0] != "0") and int(part) <= 255
        for part in parts)


def _ipv6(text: str) -> ipaddress.IPv6Address | None:
    if "%" in text or not text.isascii():
        return None
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Values (cluster-glue cl_get_msec, cl_str_to_boolean)

_TIME_VALUE = (
    pp.Opt(pp.White(WHITESPACE)).suppress()
    + pp.Word(_DIGITS + ".")("number")
    + pp.Opt(pp.White(WHITESPACE)).suppress()
    + pp.Regex(r".*", re.S)("unit")
).leave_whitespace().parse_with_tabs()
_ATOF_PREFIX = re.compile(r"[0-9]*(?:\.[0-9]*)?")


def parse_msec(text: str) -> int | None:
    """``cl_get_msec``: milliseconds, or None where it returns a negative number.

    ``2`` = 2000, ``0.5`` = 500, ``1500ms``/``1500MSxyz`` = 1500 (only two letters compared; so
    is the bogus ``cl_g`` prefix of the original), ``250000us``/``usec`` = 250, ``2s`` = error.
    """
    try:
        match = _TIME_VALUE.parse_string(text)
    except pp.ParseException:
        return None
    unit = match["unit"] if "unit" in match else ""
    unit = ascii_lower(unit[:4])  # strncasecmp: ASCII only
    if unit[:2] == "ms" or unit == "cl_g":
        multiplier, divisor = 1, 1
    elif unit[:2] == "us":
        multiplier, divisor = 1, 1000
    elif unit[:1] in ("", "\n", "\r"):
        multiplier, divisor = 1000, 1
    else:
        return None
    number = _ATOF_PREFIX.match(match["number"]).group()
    seconds = float(number) if any(c in _DIGITS for c in number) else 0.0
    milliseconds = seconds * multiplier / divisor + 0.5
    # (long) of an out-of-range double is LONG_MIN on x86: every setter rejects it.
    return int(milliseconds) if milliseconds < 2**63 else None


_TRUE = ("true", "on", "yes", "y", "1")
_FALSE = ("false", "off", "no", "n", "0")


def parse_boolean(text: str) -> bool | None:
    """``cl_str_to_boolean`` (case-insensitive), None if the text is not a boolean."""
    lowered = ascii_lower(text)
    return True if lowered in _TRUE else False if lowered in _FALSE else None


# --------------------------------------------------------------------------------------------
# Model

@dataclass(frozen=True)
class Directive:
    """One directive line as written (before the ``udp`` alias), for tools that echo the file."""

    name: str
    args: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class Node:
    name: str  # lowercased, as heartbeat stores it
    location: Location


@dataclass(frozen=True)
class Bcast:
    interface: str
    udp_port: int
    location: Location
    kind: str = field(default="bcast", init=False)


@dataclass(frozen=True)
class Ucast:
    interface: str
    peer: str
    udp_port: int
    location: Location
    kind: str = field(default="ucast", init=False)


@dataclass(frozen=True)
class Mcast:
    interface: str
    group: str
    port: int
    ttl: int
    loop: int
    location: Location
    kind: str = field(default="mcast", init=False)


@dataclass(frozen=True)
class Ucast6:
    interface: str
    peer: str
    udp_port: int
    location: Location
    kind: str = field(default="ucast6", init=False)


@dataclass(frozen=True)
class Mcast6:
    interface: str
    group: str
    port: int
    hops: int
    loop: int
    location: Location
    kind: str = field(default="mcast6", init=False)


@dataclass(frozen=True)
class Serial:
    device: str
    baud: int
    location: Location
    kind: str = field(default="serial", init=False)


@dataclass(frozen=True)
class Ping:
    host: str
    ipv6: bool
    location: Location
    kind: str = field(default="ping", init=False)


@dataclass(frozen=True)
class PingGroup:
    name: str
    hosts: tuple[str, ...]
    location: Location
    kind: str = field(default="ping_group", init=False)


Medium = Union[Bcast, Ucast, Mcast, Ucast6, Mcast6, Serial, Ping, PingGroup]


@dataclass(frozen=True)
class ClientChild:
    """``respawn``/``failfast USER /abs/path [args]``."""

    user: str
    command: str
    failfast: bool
    location: Location


@dataclass(frozen=True)
class ApiAuth:
    client: str
    uids: tuple[str, ...]
    gids: tuple[str, ...]
    location: Location


@dataclass(frozen=True)
class StonithDevice:
    """``stonith TYPE FILE`` (host None) or ``stonith_host HOST|* TYPE PARAMS``."""

    host: str | None
    stonith_type: str
    params: str
    location: Location


@dataclass(frozen=True)
class HaConfig:
    path: str
    nodes: tuple[Node, ...]
    ping_nodes: tuple[Node, ...]
    media: tuple[Medium, ...]
    keepalive_ms: int
    deadtime_ms: int
    warntime_ms: int
    initdead_ms: int
    deadping_ms: int
    udp_port: int
    baud: int
    hopfudge: int
    auto_failback: str  # 'on' | 'off' | 'legacy'
    logfacility: str | None
    logfile: str | None
    debugfile: str | None
    use_logd: bool
    debug_level: int
    msgfmt: str
    hbgenmethod: str
    uuidfrom: str
    autojoin: str
    pacemaker: str  # 'off' or the mode that turns haresources management off
    realtime: bool
    rtprio: int | None
    watchdog: str | None
    cluster: str
    quorum_server: str | None
    compression: str
    compression_threshold_kb: int
    traditional_compression: bool
    max_rexmit_delay_ms: int
    conn_logd_time_ms: int
    memreserve_kb: int
    log_badpack: bool
    syslogmsgfmt: bool
    coredumps: bool
    coreroot: str | None
    use_apphbd: bool
    env: tuple[tuple[str, str], ...]
    respawn: tuple[ClientChild, ...]
    apiauth: tuple[ApiAuth, ...]
    stonith: tuple[StonithDevice, ...]
    directives: tuple[Directive, ...]
    warnings: tuple[ConfigWarning, ...]

    def has_node(self, name: str) -> bool:
        """Is ``name`` (e.g. ``uname -n``) a declared node?  Case-insensitive, like heartbeat."""
        return any(node.name == ascii_lower(name) for node in self.nodes)

    @property
    def manages_resources(self) -> bool:
        """v1 haresources mode (``DoManageResources``): pacemaker/crm is off."""
        return self.pacemaker == "off"


# --------------------------------------------------------------------------------------------
# Directive table

MAXMEDIA = 64
MAXNODE = 100
HOSTLENG = 100
DEFAULT_UDP_PORT = 694  # UDPPORT; we do not consult /etc/services for "ha-cluster"
DEFAULT_BAUD = c_atoi(default_text("baud"))  # the serial plugin's, before parse_config's end
_BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 460800)
_SCHED_FIFO_PRIORITIES = (1, 99)  # sched_get_priority_min/max(SCHED_FIFO) on Linux
_COMPRESSION_PLUGINS = ("zlib", "bz2")  # /usr/lib/heartbeat/plugins/compress in Debian
_FACILITIES = {  # glibc facilitynames; "none" means no syslog (0)
    "none": 0, "kern": 0, "user": 8, "mail": 16, "daemon": 24, "auth": 32, "security": 32,
    "syslog": 40, "lpr": 48, "news": 56, "uucp": 64, "cron": 72, "authpriv": 80, "ftp": 88,
    "mark": 192, **{f"local{n}": 128 + 8 * n for n in range(8)}}

_TIMES = {"keepalive": 1, "deadtime": 0, "deadping": 0, "initdead": 0, "warntime": 1,
          "conn_logd_time": 1}  # name: lowest accepted milliseconds
_INTEGERS = {"hopfudge": (0, 255), "debug": (0, 255), "rtprio": _SCHED_FIFO_PRIORITIES,
             "compression_threshold": (1, None), "max_rexmit_delay": (1, None),
             "memreserve": (1, None)}  # name: (lowest, highest or None)
_BOOLEANS = ("realtime", "use_logd", "use_apphbd", "log_badpack", "syslogmsgfmt", "coredumps",
             "traditional_compression", "record_config_changes", "record_pengine_inputs",
             "enable_config_writes")
_CHOICES = {"hbgenmethod": ("file", "time"), "msgfmt": ("classic", "netstring"),
            "uuidfrom": ("file", "nodename")}
_STRINGS = ("cluster", "logfile", "debugfile", "coreroot")
_WHOLE_LINE = ("stonith", "stonith_host", "apiauth", "respawn", "failfast",
               "ucast", "mcast", "ucast6", "mcast6", "ping_group")
_LIST_MEDIA = ("bcast", "serial", "ping", "ping6")
_OTHER_LIST = ("node", "udpport", "baud", "watchdog", "logfacility", "nice_failback",
               "auto_failback", "autojoin", "pacemaker", "crm", "crm_daemon_dir",
               "crmd_spawns_pengine", "compression", "env", "quorum_server")
DIRECTIVES = frozenset((*_TIMES, *_INTEGERS, *_BOOLEANS, *_CHOICES, *_STRINGS, *_WHOLE_LINE,
                        *_LIST_MEDIA, *_OTHER_LIST))


class _Reader:
    """Mutable state of one ``parse_config`` pass; ``result()`` freezes it into a ``HaConfig``."""

    def __init__(self, path: str):
        self.path = path
        self.values: dict[str, object] = {}  # SetParameterValue: last accepted value wins
        self.where: dict[str, Location] = {}  # ... and the token that set it
        self.nodes: list[Node] = []
        self.ping_nodes: list[Node] = []
        self.media: list[Medium] = []
        self.env: list[tuple[str, str]] = []
        self.children: list[ClientChild] = []
        self.apiauth: list[ApiAuth] = []
        self.stonith: list[StonithDevice] = []
        self.directives: list[Directive] = []
        self.warnings: list[ConfigWarning] = []
        self.plugin_ports: dict[str, int] = {}  # bcast/ucast/ucast6 port fixed by 1st medium
        self.serial_baud: int | None = None  # fixed when the serial plugin is loaded
        self.baud_seen = self.watchdog_seen = self.pacemaker_seen = False
        self.failback = "legacy"  # nice_failback/auto_failback interplay, see _nice_failback

    # -- helpers ---------------------------------------------------------------------------

    def loc(self, line: int, offset: int) -> Location:
        return Location(self.path, line, offset + 1)

    def warn(self, location: Location, message: str) -> None:
        self.warnings.append(ConfigWarning(location, message))

    def integer(self, name: str, value: str, location: Location) -> int:
        parsed = c_strtol(value)
        number = parsed[0] if parsed else 0
        if parsed is None or parsed[1] != len(value):
            self.warn(location, f"{name} [{value}] is read by atoi() as {number}")
        return number

    def add_node(self, name: str, location: Location, ping: bool) -> None:
        if len(self.nodes) + len(self.ping_nodes) >= MAXNODE:
            raise ConfigError(location, f"Too many nodes (max {MAXNODE})")
        if len(name) >= HOSTLENG:
            raise ConfigError(location, f"Node name [{name}] is too long (max {HOSTLENG - 1})")
        node = Node(ascii_lower(name), location)
        if any(other.name == node.name for other in self.nodes + self.ping_nodes):
            self.warn(location, f"node [{node.name}] is declared twice")
        (self.ping_nodes if ping else self.nodes).append(node)

    def add_medium(self, medium: Medium) -> None:
        if len(self.media) >= MAXMEDIA:
            raise ConfigError(medium.location, f"Too many media specified (> {MAXMEDIA})")
        self.media.append(medium)

    def plugin_port(self, kind: str, location: Location) -> int:
        """The port a bcast/ucast/ucast6 medium uses: fixed when its plugin makes its first one."""
        if kind not in self.plugin_ports:
            port = self.values.get("udpport", DEFAULT_UDP_PORT)
            if kind == "ucast6" and port > 0xFFFF:
                raise ConfigError(location, f"ucast6: bad port number {port}")
            self.plugin_ports[kind] = port & 0xFFFF  # htons() keeps the low 16 bits
        return self.plugin_ports[kind]

    # -- list directives: one token each -----------------------------------------------------

    def option(self, name: str, value: str, location: Location) -> None:
        if name in _TIMES:
            msec = parse_msec(value)
            if msec is None or msec < _TIMES[name]:
                what = "Warn time" if name == "warntime" else f"{name} time"
                raise ConfigError(location, f"{what} [{value}] is invalid")
            self.values[name] = msec
        elif name in _INTEGERS:
            lowest, highest = _INTEGERS[name]
            number = self.integer(name, value, location)
            if number < lowest or (highest is not None and number > highest):
                limit = f"{lowest}-{highest}" if highest is not None else f">= {lowest}"
                raise ConfigError(location, f"Invalid {name} [{value}] (must be {limit})")
            self.values[name] = number
        elif name in _BOOLEANS:
            self.values[name] = self.boolean(name, value, location)
        elif name in _CHOICES:
            if value not in _CHOICES[name]:
                choices = " or ".join(_CHOICES[name])
                raise ConfigError(location, f"Invalid {name} [{value}] (must be {choices})")
            self.values[name] = value
        elif name in _STRINGS:
            self.values[name] = value
        else:
            getattr(self, f"_{name}")(value, location)
        self.where[name] = location

    def boolean(self, name: str, value: str, location: Location) -> bool:
        parsed = parse_boolean(value)
        if parsed is None:
            raise ConfigError(location, f"Invalid {name} value [{value}] "
                              "(expected true/false, on/off, yes/no, y/n or 1/0)")
        return parsed

    def _node(self, value: str, location: Location) -> None:
        self.add_node(value, location, ping=False)

    def _udpport(self, value: str, location: Location) -> None:
        port = self.integer("udpport", value, location)
        if port <= 0:
            raise ConfigError(location, f"invalid port [{value}] specified")
        if port > 0xFFFF:
            self.warn(location, f"udpport [{value}] is truncated to {port & 0xFFFF} on the wire")
        for kind, fixed in self.plugin_ports.items():
            if fixed != port & 0xFFFF:
                self.warn(location, f"udpport setting must precede media statements: the "
                          f"{kind} media above keep port {fixed} (SPEC §1a rule 7)")
        self.values["udpport"] = port

    def _baud(self, value: str, location: Location) -> None:
        if self.baud_seen:
            raise ConfigError(location, "Baudrate multiply specified")
        self.baud_seen = True
        if c_atoi(value) not in _BAUDS:
            raise ConfigError(location, f"invalid baudrate [{value}] specified")
        if self.serial_baud is not None:
            self.warn(location, "baudrate setting must precede media statements: the serial "
                      f"media above keep {self.serial_baud} baud (SPEC §1a rule 7)")
        self.values["baud"] = c_atoi(value)

    def _watchdog(self, value: str, location: Location) -> None:
        if self.watchdog_seen:
            raise ConfigError(location, "Watchdog device multiply specified")
        self.watchdog_seen = True
        self.values["watchdog"] = value

    def _logfacility(self, value: str, location: Location) -> None:
        if value not in _FACILITIES:
            raise ConfigError(location, f"Log facility({value}) not valid")
        self.values["logfacility"] = value

    def _auto_failback(self, value: str, location: Location) -> None:
        parsed = parse_boolean(value)
        if parsed is None and ascii_lower(value) != "legacy":
            raise ConfigError(location, f"Invalid auto_failback [{value}] (on, off or legacy)")
        self.failback = "legacy" if parsed is None else "on" if parsed else "off"
        self.values["auto_failback"] = self.failback

    def _nice_failback(self, value: str, location: Location) -> None:
        # C set_nice_failback tests the *current* nice_failback flag, not the value it was given:
        # after auto_failback on/off it yields "off", otherwise "legacy".  Without any
        # auto_failback directive the "legacy" default is applied after parsing anyway.
        self.boolean("nice_failback", value, location)
        self.failback = "off" if self.failback in ("on", "off") else "legacy"
        self.warn(location, f"nice_failback is obsolete: heartbeat reads it as 'auto_failback "
                  f"{self.failback}' here; use auto_failback {{on, off, legacy}}")

    def _autojoin(self, value: str, location: Location) -> None:
        if ascii_lower(value) not in ("none", "other", "any"):
            raise ConfigError(location, f"Invalid autojoin directive [{value}]")
        self.values["autojoin"] = ascii_lower(value)

    def _crm(self, value: str, location: Location) -> None:
        self._pacemaker(value, location)  # historical alias (set_release2mode)

    def _pacemaker(self, value: str, location: Location) -> None:
        if self.pacemaker_seen:
            raise ConfigError(location, "pacemaker/crm directive used multiple times!")
        self.pacemaker_seen = True
        lowered = ascii_lower(value)
        modes = {"minimal": "minimal", "manual": "minimal", "respawn": "respawn",
                 "ccm-only": "ccm-only", "valgrind": "valgrind"}
        if lowered in modes:
            mode = modes[lowered]
        else:
            mode = "on" if self.boolean("pacemaker", value, location) else "off"
        if mode != "off":
            self.warn(location, f"pacemaker {value} turns off haresources (v1) resource "
                      "management; lvs-compat only implements v1 mode")
        self.values["pacemaker"] = mode

    def _crm_daemon_dir(self, value: str, location: Location) -> None:
        self.before_pacemaker("crm_daemon_dir", location)
        self.values["crm_daemon_dir"] = value

    def _crmd_spawns_pengine(self, value: str, location: Location) -> None:
        self.before_pacemaker("crmd_spawns_pengine", location)
        self.values["crmd_spawns_pengine"] = self.boolean("crmd_spawns_pengine", value, location)

    def before_pacemaker(self, name: str, location: Location) -> None:
        if "pacemaker" in self.values:
            raise ConfigError(location, f"If you specify {name}, it must come before the "
                              "pacemaker directive")

    def _compression(self, value: str, location: Location) -> None:
        if value not in _COMPRESSION_PLUGINS:
            raise ConfigError(location, f"Unknown compression module [{value}] "
                              f"(installed: {', '.join(_COMPRESSION_PLUGINS)})")
        self.values["compression"] = value

    def _env(self, value: str, location: Location) -> None:
        name, equals, setting = value.partition("=")
        if not name or not equals:  # without '=' the C code reads past the string
            raise ConfigError(location, f"set_env: invalid nvpair({value})")
        self.env.append((name, setting))

    def _quorum_server(self, value: str, location: Location) -> None:
        self.values["quorum_server"] = self.values["cluster"] = value

    def _bcast(self, value: str, location: Location) -> None:
        self.add_medium(Bcast(value, self.plugin_port("bcast", location), location))

    def _serial(self, value: str, location: Location) -> None:
        if self.serial_baud is None:
            self.serial_baud = self.values.get("baud", DEFAULT_BAUD)
        if not value.startswith("/"):
            raise ConfigError(location, f"Serial port not full pathname [{value}] in config file")
        self.add_medium(Serial(value, self.serial_baud, location))

    def _ping(self, value: str, location: Location) -> None:
        self.add_medium(Ping(value, False, location))
        self.add_node(value, location, ping=True)

    def _ping6(self, value: str, location: Location) -> None:
        self.add_medium(Ping(value, True, location))
        self.add_node(value, location, ping=True)

    # -- whole-line directives: whitespace-separated words -----------------------------------

    def whole_line(self, name: str, words: list[tuple[str, Location]], rest: str,
                   location: Location) -> None:
        if name in ("ucast", "ucast6"):
            self.unicast(name, words, location)
        elif name in ("mcast", "mcast6"):
            self.multicast(name, words, location)
        elif name in ("respawn", "failfast"):
            self.client_child(words, rest, location, failfast=name == "failfast")
        else:
            getattr(self, f"_line_{name}")(words, rest, location)
        self.where[name] = location

    def unicast(self, kind: str, words, location: Location) -> None:
        if not words:
            raise ConfigError(location, f"{kind} statement without device")
        (interface, where), peer = words[0], words[1:2]
        if not peer:
            raise ConfigError(where, f"{kind}: [{interface}] missing target IP address/hostname")
        if len(words) > 2:
            self.warn(words[2][1], f"{kind} takes one peer per line; [{words[2][0]}] and the "
                      "rest of the line are ignored")
        peer_text, peer_location = peer[0]
        if kind == "ucast6":
            if _ipv6(peer_text) is None:
                raise ConfigError(peer_location, f"ucast6 [{interface}] bad addr [{peer_text}]")
            self.add_medium(Ucast6(interface, peer_text, self.plugin_port(kind, where), where))
        else:
            self.add_medium(Ucast(interface, peer_text, self.plugin_port(kind, where), where))

    def multicast(self, kind: str, words, location: Location) -> None:
        labels = (f"{kind} address", "port", "hops" if kind == "mcast6" else "ttl", "loop")
        if not words:
            raise ConfigError(location, f"{kind} statement without device")
        interface, where = words[0]
        for label, index in zip(labels, range(1, 5)):
            if index >= len(words):
                raise ConfigError(words[-1][1], f"{kind} [{interface}] missing {label}")
        (group, group_at), (port, port_at), (ttl, ttl_at), (loop, loop_at) = words[1:5]
        if kind == "mcast":
            if not is_ipv4_address(group) or not 224 <= int(group.split(".")[0]) <= 239:
                raise ConfigError(group_at, f"mcast [{interface}] bad addr [{group}]")
            port_number = c_atoi(port) & 0xFFFF  # (u_short)atoi()
        else:
            address = _ipv6(group)
            if address is None or not address.is_multicast:
                raise ConfigError(group_at, f"mcast6 [{interface}] bad addr [{group}]")
            port_number = c_atoi(port) if all(c in _DIGITS for c in port) else -1
            port_number = port_number if port_number <= 0xFFFF else -1
        if port_number <= 0:
            raise ConfigError(port_at, f"{kind} [{interface}] bad port [{port}]")
        ttl_number, loop_number = c_atoi(ttl) & 0xFF, c_atoi(loop) & 0xFF  # (u_char)atoi()
        if ttl_number > 4:
            raise ConfigError(ttl_at, f"{kind} [{interface}] bad {labels[2]} [{ttl}] (0-4)")
        if loop_number > 1:
            raise ConfigError(loop_at, f"{kind} [{interface}] bad loop [{loop}] (0 or 1)")
        medium = Mcast if kind == "mcast" else Mcast6
        self.add_medium(medium(interface, group, port_number, ttl_number, loop_number, where))

    def _line_ping_group(self, words, rest, location) -> None:
        if len(words) < 2:
            raise ConfigError(location, "ping_group needs a name and at least one host")
        name, where = words[0]
        self.add_medium(PingGroup(name, tuple(word for word, _ in words[1:]), where))
        self.add_node(name, where, ping=True)

    def _line_stonith(self, words, rest, location) -> None:
        if not words:
            raise ConfigError(location, "No Stonith type given")
        self.stonith.append(StonithDevice(None, words[0][0], _after_words(rest, 1), location))

    def _line_stonith_host(self, words, rest, location) -> None:
        if not words:
            raise ConfigError(location, "No Stonith hostname argument given")
        if len(words) < 2:
            raise ConfigError(words[0][1], "No Stonith type given")
        host = ascii_lower(words[0][0])
        self.stonith.append(StonithDevice(host, words[1][0], _after_words(rest, 2), location))

    def _line_apiauth(self, words, rest, location) -> None:
        lists: dict[str, tuple[str, ...]] = {}
        for word, where in words[1:]:
            key = word[:4]
            if key not in ("uid=", "gid="):
                raise ConfigError(where, f"Invalid apiauth directive [{rest}]: Missing uid or gid")
            if key in lists:
                raise ConfigError(where, f"Duplicate {key[:3]} list in apiauth")
            lists[key] = tuple(item for item in word[4:].split(",") if item)
        if not lists:
            raise ConfigError(location, f"Invalid apiauth directive [{rest}]: Syntax: "
                              "apiauth client [uid=uidlist] [gid=gidlist]")
        client = words[0][0]
        if any(entry.client == client for entry in self.apiauth):
            raise ConfigError(location, f"Duplicate apiauth directive for API client {client}")
        self.apiauth.append(ApiAuth(client, lists.get("uid=", ()), lists.get("gid=", ()),
                                    location))

    def client_child(self, words, rest: str, location: Location, failfast: bool) -> None:
        command = _after_words(rest, 1)
        if not command.startswith("/"):
            where = words[1][1] if len(words) > 1 else location
            raise ConfigError(where, f"Client child command [{command}] is not full pathname")
        self.children.append(ClientChild(words[0][0], command, failfast, location))

    # -- after the last line (init_config) ---------------------------------------------------

    def at(self, *names: str) -> Location:
        """Where the first of ``names`` was set, else the file as a whole."""
        return next((self.where[n] for n in names if n in self.where), Location(self.path))

    def defaults(self) -> dict[str, object]:
        """The values of the directives this file leaves unset: their ``heartbeat -D`` text read
        by the directive's own handler, as C's parse_config does (``add_option``)."""
        scratch = _Reader(self.path)
        for name, text, _ in HA_CF_DEFAULTS:
            if name not in self.values:
                scratch.option(name, text, Location(self.path))
        return scratch.values

    def result(self) -> HaConfig:
        values, at = {**self.defaults(), **self.values}, self.at
        if not self.media:
            raise ConfigError(at(), "No heartbeat media defined")
        if all(isinstance(medium, (Ping, PingGroup)) for medium in self.media):
            self.warn(at("ping", "ping6", "ping_group"), "only ping media: cluster nodes cannot "
                      "hear each other (heartbeat 3.0.6 accepts this; SPEC §1a says it would not)")
        autojoin = values["autojoin"]
        if not self.nodes and autojoin != "any":
            raise ConfigError(at(), "no nodes defined")
        keepalive = values["keepalive"]
        deadtime = values["deadtime"]
        if deadtime <= 2 * keepalive:
            raise ConfigError(at("deadtime", "keepalive"), f"Dead time [{deadtime}] is too small "
                              f"compared to keepalive [{keepalive}]")
        initdead = values.get("initdead", deadtime if deadtime > 10000
                              else 12000 if deadtime < 6000 else 2 * deadtime)
        if initdead < deadtime:
            raise ConfigError(at("initdead"), f"Initial dead time [{initdead}] is smaller than "
                              f"deadtime [{deadtime}]")
        if initdead < 10000:
            self.warn(at("initdead", "deadtime"), f"Initial dead time [{initdead} ms] may be too "
                      "small! It should be >= deadtime and >= 10 seconds")
        deadping = values.get("deadping", deadtime)
        if "deadping" in self.values and deadping <= 2 * keepalive:
            raise ConfigError(at("deadping"), f"Ping dead time [{deadping}] is too small compared "
                              f"to keepalive [{keepalive}]")
        pacemaker = values["pacemaker"]
        auto_failback = (self.failback if "auto_failback" in self.values
                         else values["auto_failback"])
        if auto_failback == "legacy" and pacemaker == "off":
            self.warn(at("auto_failback"), "Deprecated 'legacy' auto_failback option selected. "
                      "Please convert to 'auto_failback on'")
        logging = (values.get("logfile") or values.get("debugfile")
                   or _FACILITIES.get(values.get("logfacility", "none"), 0) > 0)
        use_logd = values.get("use_logd", not logging)
        if not logging and not use_logd:
            raise ConfigError(at("use_logd"), "No log entry found in ha.cf and use_logd is set "
                              "to off")
        if pacemaker == "off" and autojoin != "none":
            raise ConfigError(at("autojoin"), "R1 style resource management conflicts with "
                              "autojoin set: unset autojoin (haresources mode)")
        return HaConfig(
            path=self.path, nodes=tuple(self.nodes), ping_nodes=tuple(self.ping_nodes),
            media=tuple(self.media), keepalive_ms=keepalive, deadtime_ms=deadtime,
            warntime_ms=values.get("warntime", deadtime // 2), initdead_ms=initdead,
            deadping_ms=deadping, udp_port=values.get("udpport", DEFAULT_UDP_PORT) & 0xFFFF,
            baud=values["baud"], hopfudge=values["hopfudge"],
            auto_failback=auto_failback, logfacility=values.get("logfacility"),
            logfile=values.get("logfile"), debugfile=values.get("debugfile"), use_logd=use_logd,
            debug_level=values.get("debug", 0), msgfmt=values["msgfmt"],
            hbgenmethod=values["hbgenmethod"],
            uuidfrom=values["uuidfrom"], autojoin=autojoin, pacemaker=pacemaker,
            realtime=values["realtime"], rtprio=values.get("rtprio"),
            watchdog=values.get("watchdog"), cluster=values["cluster"],
            quorum_server=values.get("quorum_server"),
            compression=values["compression"],
            compression_threshold_kb=values["compression_threshold"],
            traditional_compression=values["traditional_compression"],
            max_rexmit_delay_ms=values["max_rexmit_delay"],
            conn_logd_time_ms=values["conn_logd_time"],
            memreserve_kb=values["memreserve"],
            log_badpack=values["log_badpack"],
            syslogmsgfmt=values["syslogmsgfmt"],
            coredumps=values["coredumps"], coreroot=values.get("coreroot"),
            use_apphbd=values.get("use_apphbd", False), env=tuple(self.env),
            respawn=tuple(self.children), apiauth=tuple(self.apiauth),
            stonith=tuple(self.stonith), directives=tuple(self.directives),
            warnings=(*self.warnings, *unhonoured_warnings(self.directives)))


def _after_words(text: str, count: int) -> str:
    """The rest of ``text`` from its word number ``count`` (0-based) on, trailing blanks cut."""
    words = scan_words(text, WHITESPACE)
    return text[words[count][1]:].rstrip(WHITESPACE) if len(words) > count else ""


def parse_ha_cf(text: str, path: str = "ha.cf") -> HaConfig:
    """Parse ``ha.cf`` text; raise ``ConfigError`` at the first problem heartbeat would refuse."""
    reader = _Reader(path)
    lines = text.split("\n")
    for number, raw in enumerate(lines, 1):
        line = raw.split("\0", 1)[0].split("#", 1)[0].split("\r", 1)[0]
        words = scan_words(line, WHITESPACE)
        if not words:
            continue
        written, start = words[0]
        location = reader.loc(number, start)
        name = written
        if written == "udp":
            reader.warn(location, "directive 'udp' replaced by 'bcast' (an exact alias, SPEC §1a "
                        "rule 4)")
            name = "bcast"
        if name not in DIRECTIVES:
            raise ConfigError(location, f"Illegal directive [{written}]")
        after = start + len(written)
        rest = line[after:]
        rest_offset = after + len(rest) - len(rest.lstrip(DELIMS))
        rest = rest.lstrip(DELIMS)
        if name in _WHOLE_LINE:
            tokens = scan_words(rest, WHITESPACE, rest_offset)
            reader.directives.append(Directive(written, tuple(t for t, _ in tokens), location))
            reader.whole_line(name, [(t, reader.loc(number, o)) for t, o in tokens], rest,
                              location)
            continue
        tokens = scan_words(rest, DELIMS, rest_offset)
        reader.directives.append(Directive(written, tuple(t for t, _ in tokens), location))
        if not tokens:
            reader.warn(location, f"{written} without a value is ignored")
        for token, offset in tokens:
            reader.option(name, token, reader.loc(number, offset))
    return reader.result()


def load_ha_cf(path: str) -> HaConfig:
    return parse_ha_cf(read_config_text(path), path)
