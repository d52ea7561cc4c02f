"""Fuzz targets: one check per parser and one for the heartbeat decoder.

A check takes raw input bytes and returns ``ACCEPTED`` or ``REFUSED`` (the documented error
type: ``ConfigError`` with a location, ``DecodeError`` with a reason).  Anything else raises
``Finding``, whose ``kind`` is one of:

* ``UNEXPECTED_EXCEPTION``: an exception other than the documented one;
* ``BAD_LOCATION``: a ``ConfigError`` (or a warning) whose location cannot be shown to an
  operator: another path, a negative line or column, a line past the end of the file;
* ``BAD_AUTH``: a packet that authenticates although what its digest vouches for was never
  signed with those keys (the oracle is the set of authenticated contents of the seed packets,
  and no mutation signs anything);
* ``INCONSISTENT``: two entry points that must agree do not (``decode`` vs ``decode_frame``,
  ``verify`` vs ``Frame.authenticated``; a period ``parse_period`` accepts but ``in_period``
  calls malformed).

Config bytes are decoded as ``read_config_text`` decodes a file (UTF-8, surrogateescape).
"""

from __future__ import annotations

import datetime
import functools
import traceback
from dataclasses import dataclass
from typing import Callable

from lvs_compat.config import authkeys as authkeys_module
from lvs_compat.config import hacf, haresources, moncf, period
from lvs_compat.config.errors import ConfigError, Location
from lvs_compat.heartbeat import wire

from . import corpus, mutate

ACCEPTED = "accepted"
REFUSED = "refused"

UNEXPECTED_EXCEPTION = "unexpected exception"
BAD_LOCATION = "bad error location"
BAD_AUTH = "accepted with bad authentication"
INCONSISTENT = "inconsistent answers"
FINDING_KINDS = (UNEXPECTED_EXCEPTION, BAD_LOCATION, BAD_AUTH, INCONSISTENT)


class Finding(AssertionError):
    """Input that shows a bug; ``detail`` says what, with the traceback if there is one."""

    def __init__(self, kind: str, target: str, detail: str):
        super().__init__(f"{target}: {kind}: {detail}")
        self.kind = kind
        self.target = target
        self.detail = detail


def _unexpected(target: str, error: BaseException) -> Finding:
    text = "".join(traceback.format_exception(error)).rstrip()
    return Finding(UNEXPECTED_EXCEPTION, target, f"{type(error).__name__}: {error}\n{text}")


@dataclass(frozen=True)
class Target:
    name: str
    check: Callable[[bytes], str]
    mutate: Callable[[bytes, object], bytes]  # (data, random.Random) -> data
    max_len: int  # libFuzzer's -max_len for this target


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


# --- configuration files --------------------------------------------------------------------

def _check_location(target: str, location: Location, path: str, text: str, what: str) -> None:
    last_line = text.count("\n") + 1
    if location.path != path or not 0 <= location.line <= last_line or location.column < 0:
        raise Finding(BAD_LOCATION, target, f"{what} at {location!r} (path {path!r}, "
                                            f"{last_line} lines)")


def _check_config(target: str, parse: Callable[[str, str], object], path: str,
                  data: bytes) -> str:
    text = _text(data)
    try:
        model = parse(text, path)
    except ConfigError as error:
        _check_location(target, error.location, path, text, f"error {error.message!r}")
        if not error.message or not str(error):
            raise Finding(BAD_LOCATION, target, "ConfigError without a message") from error
        return REFUSED
    except Exception as error:  # noqa: BLE001 - anything else is what we are looking for
        raise _unexpected(target, error) from error
    for warning in getattr(model, "warnings", ()):
        _check_location(target, warning.location, path, text, f"warning {warning.message!r}")
    return ACCEPTED


# Grammar words, so that a mutated file keeps reaching past its first line.
MONCF_KEYWORDS = (
    "hostgroup", "watch", "service", "period", "alias", "view", "interval", "monitor",
    "allow_empty_group", "description", "exclude_hosts", "exclude_period", "redistribute",
    "depend", "alertdepend", "monitordepend", "hostdepend", "dep_behavior", "dep_memory",
    "unack_summary", "failure_interval", "traptimeout", "trapduration", "randskew", "alert",
    "upalert", "startupalert", "ackalert", "disablealert", "alertevery", "alertafter",
    "upalertafter", "numalerts", "no_comp_alerts", "alerts_dont_count", "alertexitrange",
    "summary", "strict", "alertdir", "mondir", "logdir", "statedir", "basedir", "cfbasedir",
    "authfile", "userfile", "maxprocs", "histlength", "randstart", "historictime", "cltimeout",
    "serverbind", "serverport", "trapbind", "trapport", "dtlogging", "startupalerts_on_reset",
    "monerrfile", "pidfile", "syslog_facility", "snmpport", "lvs.alert", "fping.monitor",
    "http.monitor", "mail.alert", "wd {Mon-Fri} hr {9am-5pm}", "a:", "1m", "30s", "2h", "1d",
    "10s", "5", "1-3", "hm", "10m 5", "-P tcp -V 10.0.0.1:80", "SOME_ENV=val", "\\", "#",
)
PERIOD_KEYWORDS = (
    "wd", "hr", "min", "sec", "md", "mo", "wk", "yd", "yr", "year", "month", "week", "mday",
    "wday", "yday", "hour", "minute", "second", "{", "}", "-", ",", "none", "NONE", "mon", "tue",
    "wed", "thu", "fri", "sat", "sun", "Mon-Fri", "jan", "dec", "12am", "12pm", "12noon", "9am",
    "5pm", "1", "7", "12", "23", "24", "31", "59", "60", "366", "1970", "2037", "0", "{1-7}",
)
HACF_KEYWORDS = (*sorted(hacf.DIRECTIVES), "udp", "eth0", "lo", "10.0.0.1", "225.0.0.1", "694",
                 "1", "2", "10", "30", "500ms", "2s", "on", "off", "yes", "no", "legacy", "true",
                 "/dev/ttyS0", "19200", "local0", "none", "classic", "netstring", "file", "time")
HARESOURCES_KEYWORDS = (
    "IPaddr", "IPaddr2", "IPaddr::10.0.0.1/24/eth0", "10.0.0.1", "10.0.0.1/24",
    "10.0.0.1/24/eth0/10.0.0.255", "::", "::1", "Filesystem::/dev/sda1::/data::ext4",
    "SendArp::10.0.0.1/eth0", "lvs", "httpd", "node1", "node2", "\\", "#", "1.2.3.4.5",
    "IPaddr::", "IPaddr::::", "/", "//", "0.0.0.0",
)
AUTHKEYS_KEYWORDS = ("auth", "crc", "md5", "sha1", "0", "1", "2", "15", "16", "-1", "key",
                     "secret", "auth 1", "1 sha1 k", "1 md5 k", "1 crc", "#")


def check_moncf(data: bytes) -> str:
    return _check_config("moncf", moncf.parse_mon_cf, "mon.cf", data)


def check_hacf(data: bytes) -> str:
    return _check_config("hacf", hacf.parse_ha_cf, "ha.cf", data)


def check_haresources(data: bytes) -> str:
    return _check_config("haresources", haresources.parse_haresources, "haresources", data)


def check_authkeys(data: bytes) -> str:
    return _check_config("authkeys", authkeys_module.parse_authkeys, "authkeys", data)


# Times from the Time::Period trace plus the edges of every scale.
PERIOD_TIMES = tuple(datetime.datetime(*fields) for fields in (
    (2026, 1, 1, 16, 59), (2026, 1, 1, 17, 30), (2026, 1, 3, 0, 0), (2026, 1, 4, 12, 0),
    (2024, 2, 29, 23, 59, 59), (2026, 12, 31, 0, 0, 0), (1970, 1, 1), (2038, 1, 19, 3, 14, 8),
))
_PERIOD_LOCATION = Location("mon.cf", 1, 1)


def check_period(data: bytes) -> str:
    spec = _text(data)
    try:
        parsed = period.parse_period(spec, _PERIOD_LOCATION)
        answers = [period.in_period(spec, when) for when in PERIOD_TIMES]
    except ConfigError as error:
        if error.location != _PERIOD_LOCATION or not error.message:
            raise Finding(BAD_LOCATION, "period", f"error at {error.location!r}") from error
        try:
            answers = [period.in_period(spec, when) for when in PERIOD_TIMES]
        except Exception as other:  # noqa: BLE001
            raise _unexpected("period", other) from other
        if any(answer not in (-1, 0, 1) for answer in answers):
            raise Finding(INCONSISTENT, "period", f"in_period answered {answers}")
        return REFUSED
    except Exception as error:  # noqa: BLE001
        raise _unexpected("period", error) from error
    if any(answer not in (0, 1) for answer in answers):
        raise Finding(INCONSISTENT, "period", f"parse_period accepted {spec!r} but in_period "
                                              f"answered {answers} at {PERIOD_TIMES}")
    try:
        contains = [parsed.contains(when) for when in PERIOD_TIMES]
    except Exception as error:  # noqa: BLE001
        raise _unexpected("period", error) from error
    if contains != [answer == 1 for answer in answers]:
        raise Finding(INCONSISTENT, "period", f"contains() {contains} vs in_period {answers}")
    return ACCEPTED


# --- the heartbeat decoder ----------------------------------------------------------------------

@functools.cache
def key_sets() -> tuple[tuple[str, authkeys_module.AuthKeys], ...]:
    return tuple((name, authkeys_module.parse_authkeys(text)) for name, text in corpus.keyfiles())


def _authenticated_content(frame: wire.Frame) -> tuple:
    """What a good digest vouches for: the signed bytes of a netstring packet (and so its
    message); for a classic packet, the message less its auth field (the digest covers their
    rendering, not the raw bytes: CR/LF runs between lines may change, C skips them too)."""
    if frame.framing == wire.NETSTRING:
        return (wire.NETSTRING, frame.signed)
    return (wire.CLASSIC, frame.message.without("auth").fields)


@functools.cache
def genuinely_signed() -> dict[str, frozenset]:
    """Per key set, the authenticated content of every seed packet that authenticates with it,
    and of the classic auth field a netstring packet carries (msgfmt classic): the only things
    that a mutated packet may authenticate as."""
    genuine: dict[str, set] = {name: set() for name, _ in key_sets()}
    for packet in corpus.seeds("wire"):
        try:
            frame = wire.decode_frame(packet)
        except wire.DecodeError:
            continue
        for name, keys in key_sets():
            if frame.verify(keys):
                genuine[name].add(_authenticated_content(frame))
            if wire.verify_auth_field(frame.message, keys):
                genuine[name].add((wire.CLASSIC, frame.message.without("auth").fields))
    return {name: frozenset(contents) for name, contents in genuine.items()}


def check_wire(data: bytes) -> str:
    try:
        try:
            message = wire.decode(data)
        except wire.DecodeError as error:
            if not error.reason:
                raise Finding(INCONSISTENT, "wire", "DecodeError without a reason") from error
            message = None
        for name, keys in key_sets():
            try:
                frame = wire.decode_frame(data, keys)
            except wire.DecodeError:
                if message is not None:
                    raise Finding(INCONSISTENT, "wire", "decode_frame refuses what decode "
                                                        "accepts") from None
                if wire.verify(data, keys) is not False:
                    raise Finding(BAD_AUTH, "wire", f"a malformed packet verifies ({name})")
                continue
            verified = wire.verify(data, keys)
            if message is None or frame.message != message or \
                    frame.authenticated is not verified or frame.verify(keys) is not verified:
                raise Finding(INCONSISTENT, "wire", f"decode/decode_frame/verify disagree "
                                                    f"({name}: authenticated "
                                                    f"{frame.authenticated}, verify {verified})")
            if verified and _authenticated_content(frame) not in genuinely_signed()[name]:
                raise Finding(BAD_AUTH, "wire", f"a packet never signed with key set {name} "
                                                f"authenticates: {data[:200]!r}")
    except Finding:
        raise
    except Exception as error:  # noqa: BLE001
        raise _unexpected("wire", error) from error
    return REFUSED if message is None else ACCEPTED


# --- the registry ---------------------------------------------------------------------------

def _text_mutator(keywords, max_size: int = mutate.MAX_TEXT):
    return lambda data, rng: mutate.mutate_text(data, rng, keywords, max_size=max_size)


# A period is one line of mon.cf: 4 KiB is plenty, and longer runs of blanks only hit the
# known quadratic check again (tests/test_fuzz_parsers.py, the xfail tests).
PERIOD_MAX = 4096


TARGETS = {target.name: target for target in (
    Target("moncf", check_moncf, _text_mutator(MONCF_KEYWORDS), mutate.MAX_TEXT),
    Target("period", check_period, _text_mutator(PERIOD_KEYWORDS, PERIOD_MAX), PERIOD_MAX),
    Target("hacf", check_hacf, _text_mutator(HACF_KEYWORDS), mutate.MAX_TEXT),
    Target("haresources", check_haresources, _text_mutator(HARESOURCES_KEYWORDS), mutate.MAX_TEXT),
    Target("authkeys", check_authkeys, _text_mutator(AUTHKEYS_KEYWORDS), mutate.MAX_TEXT),
    Target("wire", check_wire, mutate.mutate_packet, wire.MAXMSG + 64),
)}
