"""Issue 5 item 7, decoder side: mutated captured packets and random bytes never crash the
decoder and never pass authentication unless the authenticated bytes survived the mutation."""

import pytest

from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st
from pcap_support import read_udp

from lvs_compat.config.authkeys import parse_authkeys
from lvs_compat.heartbeat import wire
from lvs_compat.heartbeat.wire import DecodeError, Frame, Message

pytestmark = pytest.mark.fuzz

REFERENCE = SHARED / "reference" / "heartbeat"
RUNS = [  # capture, authkeys of that run
    ("packets-full.pcap", "auth 1\n1 sha1 hbAsecret\n"),
    ("packets-md5-bcast-classic.pcap", "auth 2\n2 md5 hbAsecret\n"),
    ("packets-crc-bcast-classic.pcap", "auth 3\n3 crc\n"),
    ("packets-sha1-bcast-netstring.pcap", "auth 1\n1 sha1 hbAsecret\n"),
    ("packets-failback-legacy.pcap", "auth 1\n1 sha1 hbAsecret\n"),
]


def _pool():
    """(packet, keys, its authenticated frame): captured netstring packets of every message
    type and auth method, and the same messages in classic framing."""
    pool = []
    for capture, keyfile in RUNS:
        keys = parse_authkeys(keyfile)
        seen_types = {}
        for datagram in read_udp(REFERENCE / capture):
            message = wire.decode(datagram.payload)
            if seen_types.setdefault(message.type, 0) >= 3:
                continue
            seen_types[message.type] += 1
            for packet in (datagram.payload, wire.encode_classic(message, keys)):
                frame = wire.decode_frame(packet, keys)
                assert frame.authenticated
                pool.append((packet, keys, frame))
    return pool


POOL = _pool()


def spans(packet: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the fields of a well-formed packet (netstring items or classic lines)."""
    result = []
    if packet.startswith(b">>>\n"):
        pos = 4
        while not packet.startswith(b"<<<\n", pos):
            end = packet.index(b"\n", pos) + 1
            result.append((pos, end))
            pos = end
        return result
    pos = 4
    while not packet.startswith(b"%%%\n", pos):
        colon = packet.index(b":", pos)
        end = colon + 1 + int(packet[pos:colon]) + 1
        result.append((pos, end))
        pos = end
    return result


@st.composite
def mutations(draw):
    packet, keys, frame = draw(st.sampled_from(POOL))
    size = len(packet)
    at = draw(st.integers(0, size))
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite",
                                 "duplicate", "swap", "drop", "renumber", "append"]))
    if kind == "flip":
        at = min(at, size - 1)
        mutated = bytearray(packet)
        mutated[at] ^= 1 << draw(st.integers(0, 7))
        mutated = bytes(mutated)
    elif kind == "truncate":
        mutated = packet[:at]
    elif kind == "insert":
        mutated = packet[:at] + draw(st.binary(min_size=1, max_size=8)) + packet[at:]
    elif kind == "delete":
        mutated = packet[:at] + packet[at + draw(st.integers(1, 16)):]
    elif kind == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=8))
        mutated = packet[:at] + junk + packet[at + len(junk):]
    elif kind == "append":
        mutated = packet + draw(st.binary(min_size=1, max_size=8))
    else:
        fields = spans(packet)
        i, j = draw(st.integers(0, len(fields) - 1)), draw(st.integers(0, len(fields) - 1))
        (a, b), (c, d) = sorted([fields[i], fields[j]])
        if kind == "duplicate":
            mutated = packet[:b] + packet[a:b] + packet[b:]
        elif kind == "drop":
            mutated = packet[:a] + packet[b:]
        elif kind == "swap":
            mutated = packet[:a] + packet[c:d] + packet[b:c] + packet[a:b] + packet[d:]
        else:  # renumber: another length in front of a netstring item
            digits = packet[a:b].split(b":", 1)[0]
            other = str(draw(st.integers(0, 400))).encode()
            mutated = packet[:a] + (other if packet[a:a + 1].isdigit() else digits) + \
                packet[a + len(digits):]
    return packet, keys, frame, kind, mutated


def authenticated_content(frame: Frame) -> tuple[bytes, Message]:
    """What the digest vouches for: the signed bytes, and the message they determine (a classic
    frame's auth field is outside of what it signs)."""
    message = frame.message.without("auth") if frame.framing == wire.CLASSIC else frame.message
    return frame.signed, message


@settings(max_examples=2000)
@given(mutations())
def test_a_mutated_packet_is_refused_or_authenticates_only_with_its_signed_bytes_intact(case):
    packet, keys, original, kind, mutated = case
    try:
        frame = wire.decode_frame(mutated, keys)
    except DecodeError as error:
        assert error.reason
        return
    assert isinstance(frame, Frame) and frame.authenticated in (True, False)
    assert frame.authenticated == wire.verify(mutated, keys)
    if frame.authenticated:
        assert authenticated_content(frame) == authenticated_content(original), kind


def _verdict(decode, packet, keys):
    try:
        frame = decode(packet, keys)
    except DecodeError:
        return "refused"
    return frame if frame.authenticated else "refused"


@settings(max_examples=2000)
@given(mutations())
def test_the_receive_loops_cheap_checks_refuse_exactly_what_decode_frame_refuses(case):
    """Issue 19 item 8: ``decode_received`` checks the auth code before parsing; on any mutated
    packet it accepts the same frame as ``decode_frame`` or refuses it too."""
    packet, keys, original, kind, mutated = case
    assert _verdict(wire.decode_received, mutated, keys) == \
        _verdict(wire.decode_frame, mutated, keys), kind


@given(st.sampled_from([b"", b"###\n", b">>>\n"]), st.binary(max_size=300))
def test_random_bytes_are_refused_or_decoded_never_a_crash(prefix, junk):
    keys = POOL[0][1]
    try:
        frame = wire.decode_frame(prefix + junk, keys)
    except DecodeError:
        return
    assert frame.authenticated is False


names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="="),
                min_size=1, max_size=12).filter(lambda name: name[0] not in "()")
names = names.filter(lambda name: name != "auth")  # the encoders own that field
escaped_bytes = st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)  # surrogateescape
string_values = st.text(st.one_of(
    st.characters(exclude_categories=["Cs"], exclude_characters="\0"), escaped_bytes),
    max_size=40)
classic_safe_values = st.text(st.one_of(
    st.characters(exclude_categories=["Cs"], exclude_characters="\0\r\x13"), escaped_bytes),
    max_size=40)


def messages(values):
    field = st.one_of(st.tuples(names, values), st.tuples(names, st.binary(max_size=24)))
    return st.lists(field, max_size=12).map(Message.from_pairs)


KEYFILES = ["auth 1\n1 sha1 hbAsecret\n", "auth 2\n2 md5 hbAsecret\n", "auth 3\n3 crc\n"]


@given(messages(string_values), st.sampled_from(KEYFILES), st.sampled_from(["classic",
                                                                          "netstring"]))
def test_any_message_survives_netstring_framing(message, keyfile, msgfmt):
    keys = parse_authkeys(keyfile)
    packet = wire.encode_netstring(message, keys, msgfmt=msgfmt)
    frame = wire.decode_frame(packet, keys)
    assert frame.authenticated and frame.framing == wire.NETSTRING
    assert frame.message.without("auth") == message.without("auth")
    assert wire.encode_netstring(frame.message, keys, msgfmt=msgfmt) == packet


@given(messages(classic_safe_values), st.sampled_from(KEYFILES))
def test_any_message_without_cr_survives_classic_framing(message, keyfile):
    keys = parse_authkeys(keyfile)
    packet = wire.encode_classic(message, keys)
    frame = wire.decode_frame(packet, keys)
    assert frame.authenticated and frame.framing == wire.CLASSIC
    assert frame.message.without("auth") == message.without("auth")
    assert wire.encode_classic(frame.message, keys) == packet
