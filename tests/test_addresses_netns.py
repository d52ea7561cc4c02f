"""IP takeover in private network namespaces (tests/addresses_netns_support.py): the gratuitous
ARP of a takeover, captured by tcpdump in the client namespace: 10 requests and 10 replies
alternating every 250 ms, broadcast, sender IP = target IP = VIP, and the client's neighbour entry
for the VIP moves to the new holder's MAC; ``reannounce`` after a split brain moves it back to the
winner.  Lab: the spacing of the frames is timed.  The differential against Debian's IPaddr and
findif, which times nothing, is tests/test_addresses_debian_netns.py.
"""

from __future__ import annotations

import signal
import statistics
import struct

import pytest

from addresses_netns_support import SUBNET, VIP, net  # noqa: F401 (fixture)
from lvs_compat.addresses import IPADDR_ARP, arp_schedule

pytestmark = [pytest.mark.interop, pytest.mark.lab]


def read_arp_pcap(path) -> list[tuple[float, bytes]]:
    """(time, Ethernet frame) of every record of a classic little-endian pcap file."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), hex(magic)
    scale = 1e-6 if magic == 0xA1B2C3D4 else 1e-9
    frames, offset = [], 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack_from("<IIII", data, offset)
        offset += 16
        frames.append((seconds + fraction * scale, data[offset:offset + captured]))
        offset += captured
    return frames


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


# --- differential: Debian's IPaddr and findif ------------------------------------------------
def test_takeover_announces_the_vip_like_send_arp_and_the_client_follows(net, tmp_path):
    haresources = f"nodea {VIP}/24/eth0\n"
    # node B held the VIP and the client talked to it
    net.executor("b", haresources, ["start", "wait"], arp={"IPaddr": [100, 1]})
    net.ping_from_client()
    mac_a, mac_b = net.mac("a"), net.mac("b")
    assert net.client_neighbour() == mac_b
    net.ns_run("b", ["ip", "link", "set", "eth0", "down"])  # B dies with the VIP configured

    capture = tmp_path / "arp.pcap"
    tcpdump = net.start_capture(capture)
    report = net.executor("a", haresources, ["start", "wait"])
    tcpdump.send_signal(signal.SIGINT)
    tcpdump.wait(10)

    start, wait = report
    assert start["ok"] and start["seconds"] < 1.0, start  # ARP does not hold up the takeover
    assert wait["done"] and wait["frames"] == [20] and not wait["errors"], wait
    assert net.vip_entries("a") == [("eth0", "eth0:0", 24, f"{SUBNET}.255", True)]
    assert net.client_neighbour() == mac_a

    frames = [(t, f) for t, f in read_arp_pcap(capture) if f[6:12] == _mac_bytes(mac_a)]
    assert len(frames) == 20, " ".join(f"{t - frames[0][0]:.3f}:{f[21]}" for t, f in frames)
    vip = bytes(int(part) for part in VIP.split("."))
    ops = []
    for _, frame in frames:
        assert frame[0:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
        arp = frame[14:42]
        assert arp[:6] == bytes.fromhex("000108000604")
        op = struct.unpack_from(">H", arp, 6)[0]
        ops.append(op)
        assert arp[8:14] == _mac_bytes(mac_a) and arp[14:18] == vip and arp[24:28] == vip
        assert arp[18:24] == (b"\0" * 6 if op == 1 else _mac_bytes(mac_a))
    assert ops == [1, 2] * 10
    # send_arp's 250 ms steps, kept as offsets from the first frame (arp_schedule): never early,
    # and a frame a loaded machine sent late does not push back the ones after it (a loaded run
    # saw gaps of 0.45 s then 0.04 s), so the spacing is judged on the median gap
    gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
    offsets = [t - frames[0][0] for t, _ in frames]
    planned = [offset for offset, _ in arp_schedule(IPADDR_ARP)]
    assert all(offset > plan - 0.05 for offset, plan in zip(offsets, planned)), offsets
    assert 0.2 < statistics.median(gaps) < 0.3, gaps
    assert 4.5 < frames[-1][0] - frames[0][0] < 5.2
    # the first frame waits for scapy's import in the sender thread (~0.1 s), not more
    first_frame_delay = frames[0][0] - start["wall"]
    print(f"first gratuitous ARP {first_frame_delay * 1000:.0f} ms after start_group began")
    assert first_frame_delay < 1.0

    stopped = net.executor("a", haresources, ["stop"])
    assert stopped[0]["ok"] and net.vip_entries("a") == []
    debug = (tmp_path / "ha-debug-a").read_text()
    assert "label eth0:0" in debug and "released from eth0:0" in debug


def test_reannounce_after_a_split_brain_wins_the_clients_arp_entry_back(net):
    haresources = f"nodea {VIP}/24/eth0\n"
    quick = {"IPaddr": [100, 2]}
    assert net.executor("a", haresources, ["start", "wait"], arp=quick)[0]["ok"]
    net.ping_from_client()
    assert net.client_neighbour() == net.mac("a")
    # the link heals with both holding the VIP; B's announcement was the last one heard
    assert net.executor("b", haresources, ["start", "wait"], arp=quick)[0]["ok"]
    assert net.client_neighbour() == net.mac("b")
    # the auto_failback winner releases nothing and re-sends gratuitous ARP; the loser stops
    assert net.executor("b", haresources, ["stop", "reannounce"])[1]["ips"] == []
    report = net.executor("a", haresources, ["reannounce", "wait"], arp=quick)
    assert report[0]["ips"] == [VIP] and report[1]["frames"] == [4]
    assert net.client_neighbour() == net.mac("a")


def test_sendarp_announces_without_adding_the_address(net, tmp_path):
    capture = tmp_path / "sendarp.pcap"
    tcpdump = net.start_capture(capture)
    report = net.executor("a", f"nodea SendArp::{VIP}/eth0\n", ["start", "wait", "stop"],
                          arp={"SendArp": [100, 2]})
    tcpdump.send_signal(signal.SIGINT)
    tcpdump.wait(10)
    assert report[0]["ok"] and report[1]["frames"] == [4] and report[2]["ok"]
    assert net.vip_entries("a") == []
    mac_a = _mac_bytes(net.mac("a"))
    assert len([f for _, f in read_arp_pcap(capture) if f[6:12] == mac_a]) == 4


# --- Filesystem ---------------------------------------------------------------------------------
