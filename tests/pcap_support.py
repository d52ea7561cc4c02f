"""A tiny pcap reader for the reference captures: UDP datagrams over IPv4, nothing else.

The classic libpcap format: a 24-byte file header (magic 0xa1b2c3d4 for microsecond or
0xa1b23c4d for nanosecond time stamps, in either byte order, then version, snaplen and the link
type), then per packet a 16-byte record header (seconds, sub-seconds, captured length, original
length) and the captured bytes.  Link types handled: Ethernet (1, with 802.1Q tags), raw IP
(101, 228), Linux cooked v1 (113) and v2 (276), BSD loopback (0).  Frames that are not IPv4/UDP
(ARP from send_arp, say) are skipped; IPv4 fragments are not reassembled (heartbeat packets are
far below the MTU) but reported, so a test can insist there are none.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_VLAN = (0x8100, 0x88A8)


@dataclass(frozen=True)
class UdpDatagram:
    number: int  # 1-based frame number in the capture, as tcpdump/wireshark count
    timestamp: float
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes
    fragment: bool = False


def _ipv4_payload(frame: bytes, linktype: int) -> bytes | None:
    """The IPv4 packet inside a link-layer frame, or None if the frame carries something else."""
    if linktype == LINKTYPE_ETHERNET:
        offset, ethertype = 14, int.from_bytes(frame[12:14], "big")
        while ethertype in ETHERTYPE_VLAN and len(frame) >= offset + 4:
            ethertype = int.from_bytes(frame[offset + 2:offset + 4], "big")
            offset += 4
    elif linktype == LINKTYPE_LINUX_SLL:
        offset, ethertype = 16, int.from_bytes(frame[14:16], "big")
    elif linktype == LINKTYPE_LINUX_SLL2:
        offset, ethertype = 20, int.from_bytes(frame[0:2], "big")
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        offset, ethertype = 0, ETHERTYPE_IPV4 if frame[:1] and frame[0] >> 4 == 4 else 0
    elif linktype == LINKTYPE_NULL:  # 4-byte address family in the capturing host's order
        family = int.from_bytes(frame[:4], "little")
        if family > 0xFFFF:
            family = int.from_bytes(frame[:4], "big")
        offset, ethertype = 4, ETHERTYPE_IPV4 if family == 2 else 0
    else:
        raise ValueError(f"link type {linktype} not supported by this reader")
    return frame[offset:] if ethertype == ETHERTYPE_IPV4 else None


def _ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def read_udp(path: str | Path) -> list[UdpDatagram]:
    """Every IPv4/UDP datagram of a pcap file, in capture order."""
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise ValueError(f"{path}: too short for a pcap header")
    for order in ("<", ">"):
        magic = struct.unpack(order + "I", data[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        raise ValueError(f"{path}: not a pcap file (pcapng is not supported)")
    subsecond = 1e-9 if magic == 0xA1B23C4D else 1e-6
    linktype = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    datagrams, offset, number = [], 24, 0
    while offset < len(data):
        if offset + 16 > len(data):
            raise ValueError(f"{path}: truncated record header at byte {offset}")
        seconds, fraction, captured, original = record.unpack_from(data, offset)
        offset += 16
        frame = data[offset:offset + captured]
        offset += captured
        number += 1
        if len(frame) != captured or captured != original:
            raise ValueError(f"{path}: frame {number} is truncated (snaplen too small?)")
        packet = _ipv4_payload(frame, linktype)
        if packet is None or len(packet) < 20 or packet[9] != 17:
            continue
        header = (packet[0] & 0x0F) * 4
        total = int.from_bytes(packet[2:4], "big")
        flags_fragment = int.from_bytes(packet[6:8], "big")
        udp = packet[header:total]
        length = int.from_bytes(udp[4:6], "big")
        datagrams.append(UdpDatagram(
            number=number, timestamp=seconds + fraction * subsecond,
            src=_ip(packet[12:16]), sport=int.from_bytes(udp[0:2], "big"),
            dst=_ip(packet[16:20]), dport=int.from_bytes(udp[2:4], "big"),
            payload=udp[8:length], fragment=bool(flags_fragment & 0x3FFF)))
    return datagrams
