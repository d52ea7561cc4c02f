"""The pure parts of ``lvs_compat.addresses``: findif's choice from /proc/net/route, the IPaddr
alias label, the gratuitous ARP schedule and frames (against packets.txt part C), /proc/mounts."""

from __future__ import annotations

import re

import pytest

from conftest import SHARED
from lvs_compat.addresses import (ARP_REPLY, ARP_REQUEST, IPADDR2_ARP, IPADDR_ARP, AddressError,
                                  ArpSettings, alias_label, arp_frames, arp_schedule,
                                  find_interface, mount_points, netmask_bits, parse_route_table,
                                  parse_sendarp_arg, parse_filesystem_args)
from lvs_compat.config.haresources import IpAddressSpec, parse_ip_spec

PACKETS_TXT = SHARED / "reference" / "heartbeat" / "packets.txt"

# /proc/net/route of a director: default via eth0, eth0 10.9.0.0/24, eth1 10.8.0.0/16, and a
# more specific 10.8.5.0/24 on eth0 with a worse metric, listed after the /16.
ROUTES = parse_route_table("""\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\tFE00090A\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth1\t0000080A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t0005080A\t00000000\t0001\t0\t0\t5\t00FFFFFF\t0\t0\t0
eth0\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
""")
INTERFACES = ["lo", "eth0", "eth1"]


def findif(text: str) -> str:
    return find_interface(IpAddressSpec(*parse_ip_spec(text)), ROUTES, INTERFACES).findif_line()


@pytest.mark.parametrize("spec, line", [
    ("10.9.0.100", "eth0\tnetmask 255.255.255.0\tbroadcast 10.9.0.255"),
    ("10.9.0.100/25", "eth0\tnetmask 255.255.255.128\tbroadcast 10.9.0.127"),
    ("10.9.0.100/24/eth1", "eth1\tnetmask 255.255.255.0\tbroadcast 10.9.0.255"),
    ("10.9.0.100/24/10.9.0.127", "eth0\tnetmask 255.255.255.0\tbroadcast 10.9.0.127"),
    ("10.9.0.100/24/eth1/10.9.0.200", "eth1\tnetmask 255.255.255.0\tbroadcast 10.9.0.200"),
    ("10.9.0.100/255.255.0.0", "eth0\tnetmask 255.255.0.0\tbroadcast 10.9.255.255"),
    ("10.7.0.100/16", "eth0\tnetmask 255.255.0.0\tbroadcast 10.7.255.255"),  # default route's NIC
    ("127.0.0.5", "lo\tnetmask 255.0.0.0\tbroadcast 127.255.255.255"),
    # findif, not the kernel: the /24 on eth0 loses to the /16 on eth1 because of its metric
    ("10.8.5.9", "eth1\tnetmask 255.255.0.0\tbroadcast 10.8.255.255"),
])
def test_interface_and_netmask_are_found_like_findif(spec, line):
    assert findif(spec) == line


def test_a_nic_without_netmask_gives_a_host_address_like_findif():
    choice = find_interface(IpAddressSpec("10.9.0.100", None, "eth1", None), ROUTES, INTERFACES)
    assert choice.findif_line() == "eth1\tnetmask 255.255.255.255\tbroadcast 10.9.0.100"


@pytest.mark.parametrize("spec, message", [
    ("10.7.0.100", r"Cannot use default route w/o netmask \[10.7.0.100\]"),
    ("10.9.0.100/24/eth9", r"eth9: unknown interface"),
    ("10.9.0.100/33", r"Invalid netmask specification \[33\]"),
    ("10.9.0.100/123", r"Invalid netmask specification \[123\]"),
])
def test_what_findif_refuses_we_refuse(spec, message):
    with pytest.raises(AddressError, match=message):
        findif(spec)


def test_no_route_at_all():
    with pytest.raises(AddressError, match="No route to 10.1.1.1"):
        find_interface(IpAddressSpec("10.1.1.1", None, None, None), ROUTES[1:], INTERFACES)


@pytest.mark.parametrize("text, bits", [("24", 24), ("8", 8), ("255.255.255.0", 24),
                                        ("255.255.255.255", 32), ("255.0.255.0", 24)])
def test_netmask_bits(text, bits):
    assert netmask_bits(text) == bits  # findif counts trailing zero bits only


def test_ipaddr_takes_the_first_free_alias_label():
    assert alias_label("eth0", {"eth0", "lo"}) == "eth0:0"  # LAB: hbAeth0:0
    assert alias_label("eth0", {"eth0", "eth0:0", "eth0:2"}) == "eth0:1"


def test_arp_schedule_is_ten_requests_and_ten_replies_250_ms_apart():
    schedule = arp_schedule(IPADDR_ARP)
    assert len(schedule) == 20
    assert [op for _, op in schedule] == [ARP_REQUEST, ARP_REPLY] * 10
    assert [round(t, 3) for t, _ in schedule] == [round(0.25 * i, 3) for i in range(20)]
    assert schedule[-1][0] == pytest.approx(4.75)  # SPEC §1e: 20 frames in 4.75 s
    assert len(arp_schedule(IPADDR2_ARP)) == 10
    assert arp_schedule(ArpSettings(100, 0)) == []


def _part_c_frames() -> list[tuple[str, bytes]]:
    """(summary line, ARP bytes) of the four frames in packets.txt part C."""
    text = PACKETS_TXT.read_text()
    part = text[text.index("PART C."):]
    frames, summary, data = [], None, b""
    for line in part.splitlines():
        if re.match(r"\d{4}-\d\d-\d\d ", line):
            if summary:
                frames.append((summary, data))
            summary, data = line, b""
        elif summary and re.match(r"\s+0x[0-9a-f]{4}:", line):
            hexpart = line.split(":", 1)[1][:41]
            data += bytes.fromhex(hexpart.replace(" ", ""))
        elif summary and line.startswith("===="):
            break
    if summary:
        frames.append((summary, data))
    return frames


def test_arp_frames_are_byte_for_byte_those_of_send_arp_in_the_lab():
    frames = _part_c_frames()
    assert len(frames) == 4
    packets = arp_frames("96:94:cf:01:98:dd", "10.250.0.100")
    for summary, arp_bytes in frames:
        op = ARP_REQUEST if "Request" in summary else ARP_REPLY
        frame = packets[op]
        assert frame[:6] == b"\xff" * 6 and frame[6:12] == bytes.fromhex("9694cf0198dd")
        assert frame[12:14] == b"\x08\x06"
        assert frame[14:] == arp_bytes, summary


def test_proc_mounts_fields_are_unescaped():
    rows = mount_points("tmpfs /srv/my\\040data tmpfs rw 0 0\n/dev/sda1 / ext4 rw 0 0\n")
    assert rows == [("tmpfs", "/srv/my data", "tmpfs"), ("/dev/sda1", "/", "ext4")]


def test_sendarp_and_filesystem_arguments():
    assert parse_sendarp_arg("10.0.0.3/eth0") == ("10.0.0.3", "eth0")
    with pytest.raises(AddressError):
        parse_sendarp_arg("10.0.0.3")
    spec = parse_filesystem_args(("/dev/sda1", "/data1", "ext2"))
    assert (spec.device, spec.directory, spec.fstype, spec.options) == (
        "/dev/sda1", "/data1", "ext2", None)
    with pytest.raises(AddressError):
        parse_filesystem_args(("/dev/sda1",))
