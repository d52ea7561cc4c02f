"""Heartbeat 3.0.6 messages on the wire: a pure codec, bytes <-> ``Message`` (SPEC §1c, §1d).

No sockets, no clock, no files: the daemon hands in the bytes it received and the authkeys it
loaded, and gets back a ``Frame`` (the message, which framing carried it, which auth index the
sender claimed and whether it authenticates); to send, it hands in a ``Message`` and gets bytes.
Standard library only (``wire`` is imported by every heartbeat program; no pyparsing here).

Theory of operation
-------------------
A message is an ordered tuple of ``Field(name, type, value)``: type 0 (``STRING``) has a ``str``
value, type 1 (``BINARY``, the 16-byte ``srcuuid``/``destuuid``) a ``bytes`` value.  Types 2-5
(nested message, list, compressed, uncompressed) never occur in v1 traffic (SPEC §1d); we
**reject** them with ``DecodeError`` instead of carrying them opaquely, so that every ``Message``
can be rendered in both framings and authenticated the way a 3.0.6 node does (a CRM-enabled peer,
whose messages nest, is out of scope for v1 anyway).

Two framings (SPEC §1d):

* netstring, what 3.0.6 sends on every UDP medium, whatever ``msgfmt`` says::

      ###\\n  <len>:(<type>)<name>=<raw value>,  ...  %%%\\n  <len>:<N> <hexdigest>,

  The trailer authenticates the bytes from ``###`` through ``%%%\\n``.  With ``msgfmt
  classic`` (the default) the message also carries the classic ``auth`` field as its last
  field; receivers do not check it on netstring packets (C: ``netstring2msg``).
* classic, on serial links and the FIFO::

      >>>\\n  <name>=<value>\\n  (1)<name>=<base64>\\n  ...  <<<\\n  [NUL]

  ``\\n`` inside a string value travels as byte 0x13.  It is authenticated only by its ``auth``
  field, a digest of the classic rendering of every other field (``auth_field_payload``).

Verification follows heartbeat, quirks included (``verify``):

* netstring trailer ``N hex``: recomputed with the *method* of the receiver's entry N but the
  *key* of the receiver's active (``auth N``) entry (SPEC §1c, C: ``hb_compute_authentication``
  passes ``config->authmethod``).  So both nodes must sign with the same method and key, and a
  rolling key change does not work on UDP.  Kept on purpose: a peer that 3.0.6 accepts, we
  accept, and the other way round.
* classic ``auth`` field ``N hex``: method *and* key of the receiver's entry N (C: ``isauthentic``).

The receive loop calls ``decode_received``, the same verdict with the cheapest checks first: the
digest is checked before the packet is parsed, so a flood of wrongly signed packets costs a
search, a digest and no per-field work (issue 19 item 8).

Strictness.  The decoder accepts exactly what 3.0.6 writes, plus two tolerances for classic
text: the trailing NUL (SPEC §1d) and runs of CR/LF between lines (C: ``string2msg_ll`` skips
them).  Everything else is a
``DecodeError`` with a short reason: a bad start marker, truncation, a length that is not plain
decimal (no sign, blank or leading zero), a missing ``,``, a field that is not
``(type)name=value``, a type digit other than 0/1, a name that is empty, not printable ASCII or
starts with ``(``, a NUL byte in a string value (C would cut the value there), a classic line
without ``=``, bad or non-canonical base64, a malformed auth string, bytes after the end, more
than MAXMSG bytes.  cluster-glue is laxer in places (it ignores bytes after the trailer, and
``assert``s rather than refuses a field not starting with ``(``); a real peer needs none of it.

String values are decoded as UTF-8 with surrogateescape (as ``config.errors.read_config_text``
reads ha.cf, so node names compare equal), which maps every byte sequence to a ``str`` and back,
so ``encode(decode(p)) == p`` holds for any well-formed packet.

Numbers inside fields are ASCII in a base that depends on the field (SPEC §1d):
``Message.number`` / ``Message.with_number`` and ``number_base`` are their one home.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple

from .auth import auth_string, digest, digests_equal, key_bytes

if TYPE_CHECKING:  # config.authkeys pulls in pyparsing; the codec only needs the attributes
    from ..config.authkeys import AuthKeys

STRING = 0
BINARY = 1
NETSTRING = "netstring"
CLASSIC = "classic"
MAXMSG = 256 * 1024  # C: MAXMSG, the largest message and the receive buffer

NETSTRING_START = b"###\n"
NETSTRING_END = b"%%%\n"
CLASSIC_START = b">>>\n"
CLASSIC_END = b"<<<\n"
CLASSIC_NEWLINE_ESCAPE = b"\x13"  # '\n' inside a classic string value (depth 0)

_UNUSED_TYPES = {2: "nested message", 3: "list", 4: "compressed", 5: "uncompressed"}
_MAX_LENGTH_DIGITS = len(str(MAXMSG))
_NAME = r"[!-'*-<>-~][!-<>-~]*"  # printable ASCII, no '=', not starting with '(' or ')'
_NAME_STR = re.compile(_NAME + r"\Z")
_NAME_BYTES = re.compile(_NAME.encode("ascii") + rb"\Z")
_AUTH_STRING = re.compile(rb"(0|[1-9][0-9]{0,2}) ([0-9a-f]{1,128})\Z")
_CLASSIC_NEWLINES = re.compile(rb"[\r\n]+")
_HEX_NUMBER = re.compile(r"[0-9a-fA-F]{1,16}\Z")
_DECIMAL_NUMBER = re.compile(r"[0-9]{1,20}\Z")
_ULONG_MAX = 2**64 - 1


class DecodeError(ValueError):
    """Bytes that are not a well-formed heartbeat message; ``reason`` says why, briefly."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Field(NamedTuple):
    name: str
    type: int  # STRING (value is str) or BINARY (value is bytes)
    value: str | bytes


def _field_of(name: str, value: str | bytes) -> Field:
    if isinstance(value, str):
        return _checked_field(Field(name, STRING, value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _checked_field(Field(name, BINARY, bytes(value)))
    raise TypeError(f"field {name!r}: value must be str or bytes, not {type(value).__name__}"
                    " (numbers: use with_number)")


def _checked_field(item: Field | tuple) -> Field:
    name, ftype, value = item
    if not isinstance(name, str) or not _NAME_STR.match(name):
        raise ValueError(f"bad field name {name!r}: printable ASCII without '=', not "
                         "starting with '('")
    if ftype == STRING:
        if not isinstance(value, str):
            raise TypeError(f"field {name!r}: a string field needs a str value")
        if "\0" in value:
            raise ValueError(f"field {name!r}: NUL byte in a string value")
        try:
            value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise ValueError(f"field {name!r}: value is not text that has bytes (a lone "
                             "surrogate outside surrogateescape's range)") from None
    elif ftype == BINARY:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"field {name!r}: a binary field needs a bytes value")
        value = bytes(value)
    elif ftype in _UNUSED_TYPES:
        raise ValueError(f"field {name!r}: type {ftype} ({_UNUSED_TYPES[ftype]}) is not used "
                         "in v1 traffic and not supported")
    else:
        raise ValueError(f"field {name!r}: unknown field type {ftype!r}")
    return Field(name, ftype, value)


@dataclass(frozen=True, slots=True)
class Message:
    """An ordered tuple of fields; duplicates are allowed (heartbeat does not use them)."""

    fields: tuple[Field, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(_checked_field(f) for f in self.fields))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str | bytes]]) -> Message:
        """``[("t", "status"), ("srcuuid", b"...")]``: str values are type 0, bytes type 1."""
        return cls._trusted(tuple(_field_of(name, value) for name, value in pairs))

    @classmethod
    def _trusted(cls, fields: tuple[Field, ...]) -> Message:
        message = object.__new__(cls)
        object.__setattr__(message, "fields", fields)
        return message

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.fields)

    def __repr__(self) -> str:
        return f"Message.from_pairs({[(f.name, f.value) for f in self.fields]!r})"

    def get(self, name: str, default=None):
        """The value of the first field called ``name`` (C: ``ha_msg_value``)."""
        for f in self.fields:
            if f.name == name:
                return f.value
        return default

    @property
    def type(self) -> str | None:
        """The message type, the ``t`` field (``status``, ``NS_ackmsg`` ...)."""
        value = self.get("t")
        return value if isinstance(value, str) else None

    def with_field(self, name: str, value: str | bytes) -> Message:
        """Overwrite the first field called ``name`` in place, or append it (as
        ``add_control_msg_fields`` does); str is a string field, bytes a binary one."""
        new = _field_of(name, value)
        fields = list(self.fields)
        for i, f in enumerate(fields):
            if f.name == name:
                fields[i] = new
                break
        else:
            fields.append(new)
        return Message._trusted(tuple(fields))

    def without(self, name: str) -> Message:
        """The message without any field called ``name``."""
        return Message._trusted(tuple(f for f in self.fields if f.name != name))

    def number(self, name: str, default: int | None = None) -> int | None:
        """Field ``name`` as a number in its wire base (``number_base``); ``default`` when the
        field is absent, ``DecodeError`` when it is not a number in that base."""
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise DecodeError(f"field {name}: binary, not a number")
        return parse_number(value, number_base(self.type, name), name)

    def with_number(self, name: str, number: int) -> Message:
        return self.with_field(name, format_number(number, number_base(self.type, name)))


# --- numbers inside fields (SPEC §1d, table of control fields and message types) ---------------

_HEX_FIELDS = frozenset({"seq", "hg", "ts", "dt", "ackseq"})
_DECIMAL_FIELDS = frozenset({"ttl", "protocol", "isstable"})


def number_base(message_type: str | None, name: str) -> int:
    """16 or 10: ``seq``/``hg``/``ts``/``dt``/``ackseq`` are hex; ``ttl``/``protocol``/
    ``isstable`` decimal; ``firstseq``/``lastseq`` decimal in ``NS_rexmit`` but ``firstseq`` hex
    in ``NS_nak_rexmit`` (SPEC §1d)."""
    if name in ("firstseq", "lastseq"):
        return 10 if message_type == "NS_rexmit" else 16
    if name in _HEX_FIELDS:
        return 16
    if name in _DECIMAL_FIELDS:
        return 10
    raise KeyError(f"no known number base for field {name!r}")


def format_number(number: int, base: int) -> str:
    """``%lx`` (lowercase, no padding) or ``%lu``/``%d``, as heartbeat writes them."""
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= _ULONG_MAX:
        raise ValueError(f"{number!r} is not an unsigned 64-bit number")
    return format(number, "x") if base == 16 else str(number)


def parse_number(text: str, base: int, name: str = "number") -> int:
    """Digits only (upper-case hex accepted, as ``%lx`` does); no sign, blank or ``0x``."""
    pattern = _HEX_NUMBER if base == 16 else _DECIMAL_NUMBER
    if not pattern.match(text) or (number := int(text, base)) > _ULONG_MAX:
        kind = "hex" if base == 16 else "decimal"
        raise DecodeError(f"field {name}: {text[:24]!r} is not a {kind} number")
    return number


def add_control_fields(message: Message, *, src: str, srcuuid: bytes | None,
                       seq: int | None, generation: int, timestamp: int, load: str | None,
                       ttl: int, destuuid: bytes | None = None) -> Message:
    """What ``add_control_msg_fields`` appends to every outbound message (SPEC §1d), in order,
    each overwriting a field of the same name in place: ``destuuid`` (only when the message has
    ``dest`` and ``destuuid`` is given), ``src`` (the caller's lowercased node name),
    ``srcuuid`` (if known), ``seq`` (hex; not for ``NS_`` types), ``hg`` (hex), ``ts`` (hex
    ``time()``, passed in: the codec has no clock), ``ld`` (``/proc/loadavg``'s first line;
    not for ``NS_`` types), ``ttl`` (decimal).  The ``auth`` field is the encoder's job."""
    flow_control = (message.type or "").startswith("NS_")
    if destuuid is not None and message.get("dest") is not None:
        message = message.with_field("destuuid", destuuid)
    message = message.with_field("src", src)
    if srcuuid is not None:
        message = message.with_field("srcuuid", srcuuid)
    if not flow_control:
        if seq is None or load is None:
            raise ValueError(f"a {message.type!r} message needs seq and load")
        message = message.with_field("seq", format_number(seq, 16))
    message = message.with_field("hg", format_number(generation, 16))
    message = message.with_field("ts", format_number(timestamp, 16))
    if not flow_control:
        message = message.with_field("ld", load)
    return message.with_field("ttl", format_number(ttl, 10))


# --- frames -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded packet: the message and how it was framed and authenticated.

    ``auth_index``/``auth_digest``: what the sender claimed (netstring trailer, or the classic
    ``auth`` field), ``None`` when absent.  ``authenticated``: ``None`` when decoded without
    authkeys, else whether heartbeat 3.0.6 would accept it.  ``signed``: the bytes the digest
    covers (netstring: ``###`` through ``%%%\\n``; classic: ``auth_field_payload``).
    """

    message: Message
    framing: str  # NETSTRING or CLASSIC
    auth_index: int | None
    auth_digest: str | None
    authenticated: bool | None = None
    signed: bytes = field(default=b"", repr=False)

    def verify(self, authkeys: AuthKeys) -> bool:
        return _authentic(self.framing, self.auth_index, self.auth_digest, self.signed, authkeys)


def decode(data: bytes) -> Message:
    """The message in ``data`` (either framing), or ``DecodeError``.  No authentication."""
    return decode_frame(data).message


def decode_frame(data: bytes, authkeys: AuthKeys | None = None) -> Frame:
    """Decode ``data`` (either framing); with ``authkeys``, also authenticate it."""
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) > MAXMSG:
        raise DecodeError(f"{len(data)} bytes, more than MAXMSG ({MAXMSG})")
    if data.startswith(NETSTRING_START):
        fields, index, hexdigest, signed = _decode_netstring(data)
        framing = NETSTRING
    elif data.startswith(CLASSIC_START):
        fields, index, hexdigest, signed = _decode_classic(data)
        framing = CLASSIC
    elif not data:
        raise DecodeError("empty packet")
    elif NETSTRING_START.startswith(data) or CLASSIC_START.startswith(data):
        raise DecodeError("truncated in the start marker")
    else:
        raise DecodeError("neither netstring (###) nor classic (>>>) framing")
    authenticated = None
    if authkeys is not None:
        authenticated = _authentic(framing, index, hexdigest, signed, authkeys)
    return Frame(Message._trusted(fields), framing, index, hexdigest, authenticated, signed)


def verify(data: bytes | Frame, authkeys: AuthKeys) -> bool:
    """Whether heartbeat 3.0.6 with these authkeys accepts the packet (False if malformed)."""
    if not isinstance(data, Frame):
        try:
            data = decode_frame(data)
        except DecodeError:
            return False
    return data.verify(authkeys)


def decode_received(data: bytes, authkeys: AuthKeys) -> Frame:
    """``decode_frame(data, authkeys)`` for the receive loop, with the cheapest checks first, so
    that a flood of wrongly signed packets costs a few microseconds each (issue 19 item 8).

    In order: the size bound and the start marker (``DecodeError``); the auth code's presence
    and form (netstring: the trailer at the end, found without walking the fields; classic: the
    one ``auth`` line); the authkeys entry it names; the digest, compared in constant time; and
    only for a packet that passes, the full parse by ``decode_frame``, whose verdict is the one
    returned.  A packet that fails comes back as a ``Frame`` with ``authenticated=False`` whose
    message holds only the ``src`` it claims (found by a search, for the log line), unparsed.

    The verdict is ``decode_frame``'s: the digest is computed over the same bytes (for a
    netstring packet that decodes, its trailer is what follows its last ``%%%\n``; a classic
    packet's lines give the same ``auth_field_payload`` unless they are malformed), so a packet
    refused here is one ``decode_frame`` refuses too, as unauthentic or malformed.  There is no
    known-node check before the digest: 3.0.6 authenticates first (SPEC "Receive processing"),
    node names travel in clear in every heartbeat, and a digest costs ~4 us.
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    if len(data) > MAXMSG:
        raise DecodeError(f"{len(data)} bytes, more than MAXMSG ({MAXMSG})")
    if data.startswith(NETSTRING_START):
        framing = NETSTRING
        trailer = _NETSTRING_TRAILER.search(data, max(0, len(data) - _NETSTRING_TRAILER_MAX))
        if trailer is None or int(trailer[1]) != trailer.end(2) - trailer.start(2):
            return _refused(data, framing, None, None)
        index, hexdigest = int(trailer[3]), trailer[4].decode("ascii")
        signed = data[:trailer.start(1)]
    elif data.startswith(CLASSIC_START):
        framing = CLASSIC
        end = data.find(b"\n" + CLASSIC_END, len(CLASSIC_START) - 1)
        if end < 0 or data[end + 1 + len(CLASSIC_END):] not in (b"", b"\0"):
            return decode_frame(data, authkeys)  # malformed: refused as such, at once
        # The classic lines as auth_field_payload renders them, by whole-buffer operations
        # (no loop over lines, so many tiny lines cost no more than a few long ones): runs of
        # CR/LF become one LF (C: string2msg_ll), a string field's "(0)" goes (implicit).
        text = _CLASSIC_NEWLINES.sub(b"\n", b"\n" + data[len(CLASSIC_START):end] + b"\n")
        text = text.replace(b"\n(0)", b"\n")
        if text.count(b"\nauth=") != 1:
            return _refused(data, framing, None, None)
        start = text.index(b"\nauth=")
        stop = text.index(b"\n", start + 1)
        auth = _AUTH_STRING.match(text, start + 6, stop)
        if auth is None:
            return _refused(data, framing, None, None)
        index, hexdigest = int(auth[1]), auth[2].decode("ascii")
        signed = text[1:start + 1] + text[stop + 1:]
    else:
        return decode_frame(data, authkeys)  # no framing at all: refused as malformed
    if not _authentic(framing, index, hexdigest, signed, authkeys):
        return _refused(data, framing, index, hexdigest)
    return decode_frame(data, authkeys)


_NETSTRING_TRAILER = re.compile(
    rb"%%%\n([1-9][0-9]{0,2}):((0|[1-9][0-9]{0,2}) ([0-9a-f]{1,128})),\Z")
_NETSTRING_TRAILER_MAX = 4 + 3 + 1 + 3 + 1 + 128 + 1
_CLAIMED_SOURCE = {NETSTRING: re.compile(rb":\(0\)src=([^\0,]{1,255}),"),
                   CLASSIC: re.compile(rb"\n(?:\(0\))?src=([^\0\r\n]{1,255})\n")}


def _refused(data: bytes, framing: str, index: int | None, hexdigest: str | None) -> Frame:
    """An unauthentic packet as a ``Frame``: only its claimed ``src``, for the log line."""
    claimed = _CLAIMED_SOURCE[framing].search(data)
    fields = ()
    if claimed is not None:
        name = claimed[1].replace(CLASSIC_NEWLINE_ESCAPE, b"\n") if framing == CLASSIC \
            else claimed[1]
        fields = (Field("src", STRING, name.decode("utf-8", "surrogateescape")),)
    return Frame(Message._trusted(fields), framing, index, hexdigest, False)


def _authentic(framing: str, index: int | None, hexdigest: str | None, signed: bytes,
               authkeys: AuthKeys) -> bool:
    if index is None or hexdigest is None:
        return False
    checker = _checkers(authkeys).get(index)
    if checker is None:
        return False
    method, netstring_key, classic_key = checker
    return digests_equal(digest(method, netstring_key if framing == NETSTRING else classic_key,
                                signed), hexdigest)


_checkers_cache: tuple = (None, {})  # the last authkeys seen and its table, replaced whole


def _checkers(authkeys: AuthKeys) -> dict[int, tuple[str, bytes, bytes]]:
    """Index -> (method, key for a netstring trailer, key for a classic auth field), once per
    authkeys rather than once per packet (a reload brings a new authkeys).  SPEC §1c: the
    netstring trailer is recomputed with the method of entry N but the key of the receiver's
    *active* entry (C: hb_compute_authentication); the classic auth field with entry N's own
    key (C: isauthentic)."""
    global _checkers_cache
    cached = _checkers_cache
    if cached[0] is not authkeys:
        active = key_bytes(authkeys.active.key)
        cached = (authkeys, {entry.index: (entry.method, active, key_bytes(entry.key))
                             for entry in authkeys.entries})
        _checkers_cache = cached
    return cached[1]


def _decode_name(raw: bytes, where: str) -> str:
    name = _NAME_CACHE.get(raw)
    if name is None:
        if not raw:
            raise DecodeError(f"{where}: empty field name")
        if raw[:1] in (b"(", b")"):
            raise DecodeError(f"{where}: field name starts with {raw[:1].decode()!r}")
        if not _NAME_BYTES.match(raw):
            raise DecodeError(f"{where}: field name is not printable ASCII")
        name = raw.decode("ascii")
        if len(_NAME_CACHE) < 256:  # bounded: names come from the network
            _NAME_CACHE[raw] = name
    return name


_NAME_CACHE: dict[bytes, str] = {}


def _type_digit(digit: int, where: str) -> int:
    ftype = digit - 48
    if ftype in (STRING, BINARY):
        return ftype
    if ftype in _UNUSED_TYPES:
        raise DecodeError(f"{where}: type {ftype} ({_UNUSED_TYPES[ftype]}) is not used in v1")
    raise DecodeError(f"{where}: bad type digit {bytes([digit])!r}")


def _string_value(raw: bytes, name: str) -> str:
    if b"\0" in raw:
        raise DecodeError(f"field {name}: NUL byte in a string value")
    return raw.decode("utf-8", "surrogateescape")


def _auth_parts(raw: bytes, where: str) -> tuple[int, str]:
    match = _AUTH_STRING.match(raw)
    if match is None:
        raise DecodeError(f"{where} is not '<index> <lowercase hex digest>'")
    return int(match[1]), match[2].decode("ascii")


def _peel(data: bytes, pos: int, where: str) -> tuple[int, int]:
    """Bounds (start, stop) of the netstring ``<len>:<bytes>,`` at ``pos``; ``data[stop]`` is
    the comma."""
    colon = data.find(b":", pos, pos + _MAX_LENGTH_DIGITS + 1)
    digits = data[pos:colon] if colon >= 0 else data[pos:pos + _MAX_LENGTH_DIGITS + 1]
    if not digits.isdigit():
        raise DecodeError(f"{where}: length is not a decimal number")
    if colon < 0:
        if pos + len(digits) >= len(data):
            raise DecodeError(f"truncated in the length of {where}")
        raise DecodeError(f"{where}: length too long or no ':' after it")
    if digits[0] == 0x30 and len(digits) > 1:
        raise DecodeError(f"{where}: length has a leading zero")
    start = colon + 1
    stop = start + int(digits)
    if stop >= len(data):
        raise DecodeError(f"truncated in {where}")
    if data[stop] != 0x2C:
        raise DecodeError(f"{where}: no ',' after its {stop - start} bytes")
    return start, stop


def _decode_netstring(data: bytes) -> tuple[tuple[Field, ...], int | None, str | None, bytes]:
    size = len(data)
    pos = len(NETSTRING_START)
    fields = []
    while not data.startswith(NETSTRING_END, pos):
        if size - pos < len(NETSTRING_END) and NETSTRING_END.startswith(data[pos:]):
            raise DecodeError("truncated: no %%% end marker")
        where = f"field {len(fields) + 1}"
        start, stop = _peel(data, pos, where)
        if stop - start < 4 or data[start] != 0x28 or data[start + 2] != 0x29:
            raise DecodeError(f"{where}: not '(type)name=value'")
        ftype = _type_digit(data[start + 1], where)
        equals = data.find(b"=", start + 3, stop)
        if equals < 0:
            raise DecodeError(f"{where}: no '='")
        name = _decode_name(data[start + 3:equals], where)
        raw = data[equals + 1:stop]
        fields.append(Field(name, ftype, _string_value(raw, name) if ftype == STRING else raw))
        pos = stop + 1
    body_end = pos + len(NETSTRING_END)
    if body_end == size:
        return tuple(fields), None, None, data
    start, stop = _peel(data, body_end, "auth trailer")
    if stop + 1 != size:
        raise DecodeError("bytes after the auth trailer")
    index, hexdigest = _auth_parts(data[start:stop], "auth trailer")
    return tuple(fields), index, hexdigest, data[:body_end]


def _decode_classic(data: bytes) -> tuple[tuple[Field, ...], int | None, str | None, bytes]:
    end = data.find(b"\n" + CLASSIC_END, len(CLASSIC_START) - 1)
    if end < 0:
        raise DecodeError("truncated: no <<< end line")
    if data[end + 1 + len(CLASSIC_END):] not in (b"", b"\0"):
        raise DecodeError("bytes after the <<< end line")
    body = data[len(CLASSIC_START):end]
    if b"\0" in body:
        raise DecodeError("NUL byte inside a classic message")
    fields = []
    # C (string2msg_ll) skips runs of CR/LF between lines.
    for line in _CLASSIC_NEWLINES.split(body):
        if not line:
            continue
        where = f"line {len(fields) + 1}"
        ftype = STRING
        if line[:1] == b"(":
            if len(line) < 3 or line[2] != 0x29:
                raise DecodeError(f"{where}: bad '(type)' prefix")
            ftype = _type_digit(line[1], where)
            line = line[3:]
        equals = line.find(b"=")
        if equals < 0:
            raise DecodeError(f"{where}: no '='")
        name = _decode_name(line[:equals], where)
        raw = line[equals + 1:]
        if ftype == STRING:
            value = _string_value(raw.replace(CLASSIC_NEWLINE_ESCAPE, b"\n"), name)
        else:
            try:
                value = base64.b64decode(raw, validate=True)
            except binascii.Error:
                raise DecodeError(f"field {name}: bad base64") from None
            if base64.b64encode(value) != raw:
                raise DecodeError(f"field {name}: non-canonical base64")
        fields.append(Field(name, ftype, value))
    auth = [f for f in fields if f.name == "auth"]
    if len(auth) > 1:
        raise DecodeError("more than one auth field")
    if not auth:
        return tuple(fields), None, None, auth_field_payload(fields)
    if auth[0].type != STRING:
        raise DecodeError("auth field is binary")
    index, hexdigest = _auth_parts(auth[0].value.encode("ascii", "replace"), "auth field")
    return tuple(fields), index, hexdigest, auth_field_payload(fields)


# --- encoding -----------------------------------------------------------------------------------

def _value_bytes(f: Field) -> bytes:
    return f.value.encode("utf-8", "surrogateescape") if f.type == STRING else f.value


def _classic_line(f: Field) -> bytes:
    if f.type == STRING:
        return b"%s=%s\n" % (f.name.encode("ascii"),
                             _value_bytes(f).replace(b"\n", CLASSIC_NEWLINE_ESCAPE))
    return b"(%d)%s=%s\n" % (f.type, f.name.encode("ascii"), base64.b64encode(f.value))


def auth_field_payload(fields: Iterable[Field] | Message) -> bytes:
    """What the classic ``auth`` field authenticates: the classic rendering of every field
    except ``auth``, in order, without the ``>>>``/``<<<`` lines (SPEC §1c)."""
    return b"".join(_classic_line(f) for f in fields if f.name != "auth")


def verify_auth_field(message: Message, authkeys: AuthKeys) -> bool:
    """Whether the message's own ``auth`` field is right, checked as ``isauthentic`` does (the
    method and key of entry N).  Receivers check it only on classic frames."""
    values = [f.value for f in message.fields if f.name == "auth"]
    if len(values) != 1 or not isinstance(values[0], str):
        return False
    try:
        index, hexdigest = _auth_parts(values[0].encode("ascii", "replace"), "auth field")
    except DecodeError:
        return False
    return _authentic(CLASSIC, index, hexdigest, auth_field_payload(message), authkeys)


def with_auth_field(message: Message, authkeys: AuthKeys) -> Message:
    """The message with its classic ``auth`` field (re)computed with the active entry, in place
    if it has one, else appended last."""
    if sum(f.name == "auth" for f in message.fields) > 1:
        raise ValueError("message has more than one auth field")
    active = authkeys.active
    return message.with_field("auth", auth_string(active.index, active.method, active.key,
                                                  auth_field_payload(message)))


def encode_netstring(message: Message, authkeys: AuthKeys, *, msgfmt: str = "classic") -> bytes:
    """The UDP packet heartbeat 3.0.6 sends: with ``msgfmt="classic"`` (the default) the ``auth``
    field is (re)computed first; with ``"netstring"`` any ``auth`` field is dropped.  Then the
    netstring body and its trailer, signed with the active entry."""
    if msgfmt == "classic":
        message = with_auth_field(message, authkeys)
    elif msgfmt == "netstring":
        message = message.without("auth")
    else:
        raise ValueError(f"msgfmt must be 'classic' or 'netstring', not {msgfmt!r}")
    items = []
    for f in message.fields:
        item = b"(%d)%s=%s" % (f.type, f.name.encode("ascii"), _value_bytes(f))
        items.append(b"%d:%s," % (len(item), item))
    body = b"".join((NETSTRING_START, *items, NETSTRING_END))
    active = authkeys.active
    trailer = auth_string(active.index, active.method, active.key, body).encode("ascii")
    packet = b"%s%d:%s," % (body, len(trailer), trailer)
    if len(packet) > MAXMSG:
        raise ValueError(f"message of {len(packet)} bytes is larger than MAXMSG ({MAXMSG})")
    return packet


def encode_classic(message: Message, authkeys: AuthKeys, *, trailing_nul: bool = False) -> bytes:
    """Classic text (serial links, the FIFO) with the ``auth`` field (re)computed with the active
    entry; ``trailing_nul`` adds the NUL that ``msg2wirefmt_noac`` sends."""
    message = with_auth_field(message, authkeys)
    for f in message.fields:
        if f.type == STRING and ("\r" in f.value or "\x13" in f.value):
            raise ValueError(f"field {f.name}: CR or 0x13 in a value cannot travel in classic "
                             "text")
    packet = b"".join((CLASSIC_START, *map(_classic_line, message.fields), CLASSIC_END,
                       b"\0" if trailing_nul else b""))
    if len(packet) > MAXMSG:
        raise ValueError(f"message of {len(packet)} bytes is larger than MAXMSG ({MAXMSG})")
    return packet


def encode_unsigned(message: Message, framing: str) -> bytes:
    """The body of a local IPC message (the client API, ``api``): the same two framings without
    any authentication (C: ``msg2wirefmt_noac`` without MSG_NEEDAUTH); classic ends in the NUL
    that the clplumbing frame length counts, netstring has no trailer."""
    if framing == CLASSIC:
        for f in message.fields:
            if f.type == STRING and ("\r" in f.value or "\x13" in f.value):
                raise ValueError(f"field {f.name}: CR or 0x13 in a value cannot travel in "
                                 "classic text")
        packet = b"".join((CLASSIC_START, *map(_classic_line, message.fields), CLASSIC_END,
                           b"\0"))
    elif framing == NETSTRING:
        items = []
        for f in message.fields:
            item = b"(%d)%s=%s" % (f.type, f.name.encode("ascii"), _value_bytes(f))
            items.append(b"%d:%s," % (len(item), item))
        packet = b"".join((NETSTRING_START, *items, NETSTRING_END))
    else:
        raise ValueError(f"framing must be {CLASSIC!r} or {NETSTRING!r}, not {framing!r}")
    if len(packet) > MAXMSG:
        raise ValueError(f"message of {len(packet)} bytes is larger than MAXMSG ({MAXMSG})")
    return packet
