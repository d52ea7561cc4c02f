"""Issue 8 item 2, the quick part, decoder side: every captured packet of every lab run
(bcast/ucast/mcast, sha1/md5/crc, classic/netstring, failback on/off/legacy) and the same
messages in classic framing, mutated field-wise and never re-signed, against every key set of
the lab and the seed plus one with several entries.

``tests/test_heartbeat_wire_fuzz.py`` mutates five captures byte-wise against their own keys;
this adds the field-aware mutations of ``fuzz/mutate.py`` (length fields off by one or signed,
type digits, NUL/CR/0x13 inside values with the length kept right, the digest's index and case,
bytes moved across the trailer, netstring carried to classic with its auth field and back),
every key set at once, and the agreement of ``decode``, ``decode_frame`` and ``verify``.
A mutated packet must be refused with ``DecodeError`` or decoded; it may authenticate only as
something that was really signed with those keys (``fuzz.targets.check_wire``).
"""

import sys

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(REPO))
from fuzz import corpus, mutate, targets  # noqa: E402

from lvs_compat.heartbeat import wire  # noqa: E402

pytestmark = pytest.mark.fuzz

PACKETS = corpus.seeds("wire")


def test_the_corpus_has_every_capture_and_both_framings():
    frames = [wire.decode_frame(packet) for packet in PACKETS]
    assert {frame.framing for frame in frames} == {wire.NETSTRING, wire.CLASSIC}
    assert len({frame.message.type for frame in frames}) >= 5
    signed = targets.genuinely_signed()
    assert all(signed[name] for name, _ in targets.key_sets() if name != "authkeys"), \
        "every lab key set authenticates some captured packet"
    assert [targets.check_wire(packet) for packet in PACKETS] == [targets.ACCEPTED] * len(PACKETS)


@st.composite
def mutated_packets(draw, mutations=mutate.PACKET_MUTATIONS):
    packet = draw(st.sampled_from(PACKETS))
    rng = draw(st.randoms(use_true_random=False))
    for mutation in draw(st.lists(st.sampled_from(mutations), min_size=1, max_size=3)):
        packet = mutation(packet, rng)
    return packet


@settings(max_examples=1500)
@given(mutated_packets())
def test_a_field_wise_mutated_packet_is_refused_or_authenticates_only_as_signed(packet):
    targets.check_wire(packet)


@settings(max_examples=200)
@given(mutated_packets((mutate.tamper_trailer, mutate.reframe, mutate.mangle_newlines)))
def test_a_packet_with_its_digest_moved_or_changed_never_authenticates_as_something_else(packet):
    targets.check_wire(packet)


@pytest.mark.parametrize("packet", [p for p in PACKETS if p.startswith(b"###")][:40])
def test_a_netstring_packet_carried_to_classic_authenticates_only_with_its_classic_auth_field(
        packet):
    """3.0.6 with msgfmt classic puts the classic auth field into netstring packets too: moved
    to a serial link, the packet is genuine; a netstring packet without it is not."""
    classic = mutate.reframe(packet, None)
    assert targets.check_wire(classic) == targets.ACCEPTED
    frame = wire.decode_frame(packet)
    for _, keys in targets.key_sets():
        assert wire.verify(classic, keys) == wire.verify_auth_field(frame.message, keys)


@settings(max_examples=150)
@given(st.sampled_from(PACKETS), st.binary(min_size=1, max_size=64),
       st.integers(min_value=0), st.booleans())
def test_bytes_spliced_into_a_captured_packet_are_refused_or_decoded(packet, junk, where, keep):
    at = where % (len(packet) + 1)
    targets.check_wire(packet[:at] + junk + packet[at + (0 if keep else len(junk)):])


def _grown_to(packet: bytes, size: int) -> bytes:
    """A captured netstring packet with a padding field inserted, exactly ``size`` bytes."""
    body_end = packet.index(b"%%%\n")
    padding = size - len(packet)
    while True:
        item = b"(0)pad=" + b"x" * (padding - len(b"(0)pad=") - len(b"%d:," % padding))
        grown = packet[:body_end] + b"%d:%s," % (len(item), item) + packet[body_end:]
        if len(grown) == size:
            return grown
        padding += size - len(grown)


@pytest.mark.parametrize("size", [wire.MAXMSG - 1, wire.MAXMSG, wire.MAXMSG + 1])
def test_a_packet_grown_to_maxmsg_is_decoded_up_to_the_limit_and_never_authenticates(size):
    grown = _grown_to(next(p for p in PACKETS if p.startswith(b"###")), size)
    expected = targets.ACCEPTED if size <= wire.MAXMSG else targets.REFUSED
    assert targets.check_wire(grown) == expected
    assert not any(wire.verify(grown, keys) for _, keys in targets.key_sets())


def test_the_oracle_calls_a_packet_signed_outside_the_corpus_a_forgery():
    """What the fuzzing counts as 'accepted with bad authentication': had a mutation produced
    this (it cannot: it has no key), check_wire would say so."""
    keys = next(keys for _, keys in targets.key_sets() if len(keys.entries) == 1 and
                (keys.active.method, keys.active.key) == ("sha1", "hbAsecret"))  # the lab's
    message = wire.Message.from_pairs([("t", "status"), ("st", "active"), ("src", "intruder")])
    for forged in (wire.encode_netstring(message, keys), wire.encode_classic(message, keys)):
        with pytest.raises(targets.Finding) as finding:
            targets.check_wire(forged)
        assert finding.value.kind == targets.BAD_AUTH
