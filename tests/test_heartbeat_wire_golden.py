"""Golden tests: every heartbeat packet two real 3.0.6 nodes exchanged in the lab (SPEC §1c-1d,
INTEROP.md) decodes, authenticates with the key that run used, and re-encodes byte for byte."""

import re
import struct
from pathlib import Path

import pytest
from conftest import SHARED
from pcap_support import read_udp

from lvs_compat.config.authkeys import parse_authkeys
from lvs_compat.heartbeat import wire

pytestmark = pytest.mark.interop

REFERENCE = SHARED / "reference" / "heartbeat"
SHA1 = "auth 1\n1 sha1 hbAsecret\n"

# capture: (authkeys of that run, msgfmt, heartbeat packets in it per INTEROP.md)
CAPTURES = {
    "packets-full.pcap": (SHA1, "classic", 233),
    "packets-sha1-bcast-classic.pcap": (SHA1, "classic", 90),
    "packets-md5-bcast-classic.pcap": ("auth 2\n2 md5 hbAsecret\n", "classic", 93),
    "packets-crc-bcast-classic.pcap": ("auth 3\n3 crc\n", "classic", 89),
    "packets-sha1-ucast-classic.pcap": (SHA1, "classic", 93),
    "packets-sha1-mcast-classic.pcap": (SHA1, "classic", 98),
    "packets-sha1-bcast-netstring.pcap": (SHA1, "netstring", 124),
    "packets-failback-off.pcap": (SHA1, "classic", 198),
    "packets-failback-legacy.pcap": (SHA1, "classic", 150),
}


def heartbeat_packets(capture: str) -> list[bytes]:
    datagrams = read_udp(REFERENCE / capture)
    assert not any(d.fragment for d in datagrams)
    return [d.payload for d in datagrams if d.dport == 694]


def keys_of(capture: str):
    return parse_authkeys(CAPTURES[capture][0], f"{capture}:authkeys")


def test_the_reference_captures_are_all_covered():
    assert sorted(p.name for p in REFERENCE.glob("packets-*.pcap")) == sorted(CAPTURES)
    assert sum(count for _, _, count in CAPTURES.values()) == 1168  # SPEC: "1,168 packets"


@pytest.mark.parametrize("capture", sorted(CAPTURES))
def test_keys_above_are_the_ones_the_lab_run_used(capture):
    run = capture.removeprefix("packets-").removesuffix(".pcap")
    logged = REFERENCE / "logs" / f"{run}-authkeys"
    if not logged.exists():  # sha1-bcast-{classic,netstring}: packets.txt's default key
        assert CAPTURES[capture][0] == SHA1
        return
    assert logged.read_text() == CAPTURES[capture][0]


@pytest.mark.parametrize("capture", sorted(CAPTURES))
def test_every_captured_packet_decodes_authenticates_and_reencodes_identically(capture):
    keyfile, msgfmt, expected = CAPTURES[capture]
    keys = keys_of(capture)
    packets = heartbeat_packets(capture)
    assert len(packets) == expected
    for number, packet in enumerate(packets, 1):
        frame = wire.decode_frame(packet, keys)
        where = f"{capture} heartbeat packet {number}"
        assert frame.framing == wire.NETSTRING, where
        assert frame.authenticated is True, where
        assert frame.auth_index == keys.active_index, where
        assert wire.verify(packet, keys) and wire.verify(frame, keys), where
        assert wire.encode_netstring(frame.message, keys, msgfmt=msgfmt) == packet, where
        # the classic auth field: present and right with msgfmt classic, absent otherwise
        assert ("auth" in frame.message) is (msgfmt == "classic"), where
        assert wire.verify_auth_field(frame.message, keys) is (msgfmt == "classic"), where


@pytest.mark.parametrize("capture", sorted(CAPTURES))
def test_every_captured_message_survives_classic_framing_with_the_same_auth_field(capture):
    keys = keys_of(capture)
    for packet in heartbeat_packets(capture):
        message = wire.decode(packet)
        classic = wire.encode_classic(message, keys)
        frame = wire.decode_frame(classic, keys)
        assert frame.framing == wire.CLASSIC and frame.authenticated is True
        assert classic.startswith(b">>>\n") and classic.endswith(b"\n<<<\n")
        if "auth" in message:  # signed with the same key over the same fields: same digest
            assert frame.message == message
        else:
            assert frame.message.without("auth") == message
        assert wire.decode_frame(classic + b"\0", keys).authenticated is True


@pytest.mark.parametrize("capture", sorted(CAPTURES))
def test_captured_packets_are_rebuilt_from_the_originators_fields_plus_control_fields(capture):
    keys = keys_of(capture)
    msgfmt = CAPTURES[capture][1]
    for packet in heartbeat_packets(capture):
        sent = wire.decode(packet)
        names = [f.name for f in sent]
        first_control = names.index("src") - (names[names.index("src") - 1] == "destuuid")
        original = wire.Message(sent.fields[:first_control])
        rebuilt = wire.add_control_fields(
            original, src=sent.get("src"), srcuuid=sent.get("srcuuid"),
            seq=sent.number("seq"), generation=sent.number("hg"), timestamp=sent.number("ts"),
            load=sent.get("ld"), ttl=sent.number("ttl"), destuuid=sent.get("destuuid"))
        assert wire.encode_netstring(rebuilt, keys, msgfmt=msgfmt) == packet


@pytest.mark.parametrize("capture", ["packets-full.pcap", "packets-md5-bcast-classic.pcap",
                                     "packets-crc-bcast-classic.pcap"])
def test_a_wrong_key_or_method_never_authenticates_a_captured_packet(capture):
    right = keys_of(capture)
    index, method = right.active_index, right.active.method
    wrong_key = parse_authkeys(f"auth {index}\n{index} sha1 hbAsecreT\n")
    other_method = parse_authkeys(f"auth {index}\n{index} {'md5' if method != 'md5' else 'sha1'}"
                                  " hbAsecret\n")
    other_index = parse_authkeys(f"auth 7\n7 {method}{'' if method == 'crc' else ' hbAsecret'}\n")
    for packet in heartbeat_packets(capture)[:20]:
        assert wire.verify(packet, right)
        for wrong in (wrong_key, other_method, other_index):
            assert wire.decode_frame(packet, wrong).authenticated is False
            assert not wire.verify_auth_field(wire.decode(packet), wrong)


def test_crc_digests_are_unpadded_hex_as_captured():
    """SPEC §1c: '%lx', so the crc can be shorter than 8 digits; the crc run has such packets."""
    keys = keys_of("packets-crc-bcast-classic.pcap")
    packets = heartbeat_packets("packets-crc-bcast-classic.pcap")
    frames = [wire.decode_frame(packet, keys) for packet in packets]
    short = [f for f in frames if len(f.auth_digest) < 8]
    assert len(short) == 4 and {len(f.auth_digest) for f in short} == {6, 7}
    assert all(f.authenticated for f in short)
    short_fields = [f for f in frames if len(f.message.get("auth").split()[1]) < 8]
    assert len(short_fields) == 6 and all(wire.verify_auth_field(f.message, keys)
                                          for f in short_fields)


# --- packets.txt: the decoded reference ---------------------------------------------------------

PACKETS_TXT = REFERENCE / "packets.txt"
FIELD_LINE = re.compile(r"^\s+\((\d)\) (\S+) *= (.*)$")
BINARY_VALUE = re.compile(r"<(\d+) bytes binary: ([0-9a-f]*)>\Z")
CHECK_LINE = re.compile(r"auth check \((\w+), key '(.*)'\): (\{.*\})")


def packets_txt_sections():
    """(capture, decoded packets, payloads of the hex dumps) per PART of packets.txt."""
    sections = re.split(r"\n=+\nPART ", PACKETS_TXT.read_text())[1:]
    for section in sections:
        capture = re.search(r"packets-[\w-]+\.pcap", section.split("\n", 1)[0])
        if capture is None:  # PART C: gratuitous ARP, no heartbeat packets
            continue
        decoded = []
        for entry in re.split(r"\n(?=#\d+ )", section)[1:]:
            lines = entry.split("\n")
            fields = []
            for line in lines[1:]:
                if match := FIELD_LINE.match(line):
                    ftype, name, value = int(match[1]), match[2], match[3]
                    if binary := BINARY_VALUE.match(value):
                        value = bytes.fromhex(binary[2])
                        assert len(value) == int(binary[1])
                    fields.append((name, ftype, value))
            trailer = re.search(r"trailer auth  = (.*)", entry)[1]
            check = CHECK_LINE.search(entry)
            decoded.append({"title": lines[0], "fields": fields, "trailer": trailer,
                            "method": check[1], "key": check[2], "checks": eval(check[3])})
        dumps = []
        for dump in re.findall(r"((?:\n\t0x[0-9a-f]{4}:  [^\n]*)+)", section):
            hexdigits = "".join(line.split("  ")[1].replace(" ", "")
                                for line in dump.strip("\n").split("\n"))
            ip = bytes.fromhex(hexdigits)
            dumps.append(ip[(ip[0] & 0x0F) * 4 + 8:])
        yield capture[0], decoded, dumps


def test_packets_txt_first_status_packet_of_part_a():
    keys = keys_of("packets-full.pcap")
    frame = wire.decode_frame(heartbeat_packets("packets-full.pcap")[0], keys)
    assert frame.message == wire.Message.from_pairs([
        ("t", "status"), ("st", "init"), ("dt", "2ee0"), ("protocol", "1"), ("src", "hbanode1"),
        ("srcuuid", bytes.fromhex("8e6720b5adc0426cb981e88b833519bd")), ("seq", "1"),
        ("hg", "6b06ca78"), ("ts", "6b06ca77"), ("ld", "1.12 0.48 0.21 3/127 19"), ("ttl", "3"),
        ("auth", "1 7c210af7ad69558c2dd2ac8daca8dcf83877b9f9")])
    assert (frame.auth_index, frame.auth_digest) == (1, "737a445a6a0c2636ec98a19123260f4500942781")
    assert frame.authenticated and len(frame.signed) == 263  # "netstring body 263 bytes"
    message = frame.message
    assert message.type == "status"
    assert (message.number("dt"), message.number("seq"), message.number("hg")) == (
        12000, 1, 0x6B06CA78)  # dt 2ee0 = 12 s: the 10 s deadtime + 2 s at start
    assert message.number("ttl") == 3 and message.number("protocol") == 1


def test_every_decoded_packet_in_packets_txt_matches_ours():
    matched = {}
    for capture, decoded, dumps in packets_txt_sections():
        packets = heartbeat_packets(capture)
        by_trailer = {}
        for packet in packets:
            frame = wire.decode_frame(packet)
            by_trailer[f"{frame.auth_index} {frame.auth_digest}"] = (packet, frame)
        for entry in decoded:
            packet, frame = by_trailer[entry["trailer"]]
            assert [tuple(f) for f in frame.message] == entry["fields"], entry["title"]
            keys = parse_authkeys(f"auth {frame.auth_index}\n{frame.auth_index} {entry['method']}"
                                  f"{' ' + entry['key'] if entry['key'] else ''}\n")
            assert wire.verify(frame, keys) is entry["checks"]["trailer"]
            if "field" in entry["checks"]:
                assert wire.verify_auth_field(frame.message, keys) is entry["checks"]["field"]
            assert f"payload {len(packet)} bytes" in entry["title"]
            assert f"netstring body {len(frame.signed)} bytes" in entry["title"]
        for payload in dumps:  # tcpdump's hex = our pcap reader's payloads
            assert payload in packets
        matched[capture] = (len(decoded), len(dumps))
    assert matched == {"packets-full.pcap": (41, 41), "packets-md5-bcast-classic.pcap": (1, 1),
                       "packets-crc-bcast-classic.pcap": (1, 1),
                       "packets-sha1-ucast-classic.pcap": (1, 1),
                       "packets-sha1-mcast-classic.pcap": (1, 1),
                       "packets-sha1-bcast-netstring.pcap": (1, 1),
                       "packets-failback-legacy.pcap": (5, 5)}


def test_source_ports_are_ephemeral_so_peers_are_known_by_src_not_by_address():
    """Not in the SPEC: each daemon sends from a random port (a new one after each restart);
    only the destination port is udpport."""
    datagrams = [d for d in read_udp(REFERENCE / "packets-full.pcap") if d.dport == 694]
    ports = {}
    for d in datagrams:
        ports.setdefault(wire.decode(d.payload).get("src"), set()).add(d.sport)
    assert len(ports["hbanode1"]) == 3 and 694 not in ports["hbanode1"] | ports["hbanode2"]


def test_pcap_reader_reads_the_ethernet_captures_and_skips_their_arp_frames():
    path = REFERENCE / "packets-full.pcap"
    data = Path(path).read_bytes()
    assert data[:4] == bytes.fromhex("d4c3b2a1") and data[20] == 1  # LE, microseconds, Ethernet
    datagrams = read_udp(path)
    assert len(datagrams) == 233 and datagrams[0].number == 1
    assert datagrams[-1].number == 333  # 100 gratuitous ARP frames in between were skipped
    first = datagrams[0]
    assert (first.src, first.sport, first.dst, first.dport) == ("10.250.0.1", 51536,
                                                                "10.250.0.255", 694)
    assert len(first.payload) == 309


def test_pcap_reader_handles_cooked_raw_big_endian_and_nanosecond_captures(tmp_path):
    """The lab captured Ethernet; `tcpdump -i any` writes Linux cooked frames instead."""
    path = REFERENCE / "packets-full.pcap"
    frame = path.read_bytes()[24 + 16:24 + 16 + 351]  # the first frame: Ethernet + IPv4 + UDP
    ip = frame[14:]
    wrapped = {
        113: b"\x00\x04\x00\x01\x00\x06" + frame[6:12] + b"\x00\x00\x08\x00" + ip,
        276: b"\x08\x00\x00\x00" + b"\x00\x00\x00\x02\x00\x01\x04\x06" + frame[6:12] +
             b"\x00\x00" + ip,
        101: ip,
        228: ip,
        0: struct.pack("<I", 2) + ip,
        1: frame[:12] + b"\x81\x00\x00\x05" + frame[12:],  # an 802.1Q tag
    }
    for linktype, link_frame in wrapped.items():
        for order, magic in (("<", 0xA1B2C3D4), (">", 0xA1B2C3D4), ("<", 0xA1B23C4D)):
            capture = tmp_path / f"{linktype}-{order}-{magic:x}.pcap"
            capture.write_bytes(
                struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype) +
                struct.pack(order + "IIII", 1, 5, len(link_frame), len(link_frame)) +
                link_frame)
            (datagram,) = read_udp(capture)
            assert datagram.payload == heartbeat_packets("packets-full.pcap")[0], capture.name
            assert (datagram.sport, datagram.dport) == (51536, 694)
