"""The membership core fed real heartbeat 3.0.6 traffic (INTEROP.md lab, ``../shared/reference/
heartbeat``), standing in for hbanode2: it must reach the node states, and write the membership
log lines, that the C hbanode2 wrote in ``logs/full-node2-ha-log``.

The packets are read without the wire codec on purpose (the decoded listings of packets.txt, and
a twenty-line netstring reader for the pcap), so that these tests judge the membership logic only.
"""

from __future__ import annotations

import datetime
import re
import struct
from pathlib import Path

import pytest

from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.heartbeat.membership import (
    Log, Membership, NodeStatusChanged, Received, SendMessage, Start, Tick)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "heartbeat"
if not REFERENCE.is_dir():   # the shared tree sits beside the checkout
    REFERENCE = Path("/work/shared/reference/heartbeat")

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not (REFERENCE / "packets.txt").is_file(),
                                 reason="reference captures not available")]

POLL_MS = 250   # C: POLL_INTERVAL, how often heartbeat checks for dead nodes


def node2_config(run="full"):
    return parse_ha_cf((REFERENCE / "logs" / f"{run}-node2-ha.cf").read_text(), "ha.cf")


# -- packets.txt -------------------------------------------------------------------------------

_PACKET = re.compile(r"^#(\d+)\s+(\S+):\d+ -> ")
_FIELD = re.compile(r"^\s+\((\d)\) (\S+)\s*= (.*)$")
_STAMP = re.compile(r"^(2026-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) ")


def packets_txt_part_a():
    """[(epoch seconds, {field: value})] of part A, in capture order."""
    lines = (REFERENCE / "packets.txt").read_text().split("\n")
    start = lines.index("A.1 decoded (field order exactly as on the wire) and auth-verified")
    end = next(i for i, line in enumerate(lines) if line.startswith("A.2 "))
    messages = []
    for line in lines[start:end]:
        if _PACKET.match(line):
            messages.append({})
        elif (m := _FIELD.match(line)) and messages and m.group(1) == "0":
            messages[-1][m.group(2)] = m.group(3)   # binary uuids are not needed here
    stamps = [datetime.datetime.fromisoformat(m.group(1))
              .replace(tzinfo=datetime.timezone.utc).timestamp()
              for line in lines[end:] if (m := _STAMP.match(line))][:len(messages)]
    assert len(messages) == len(stamps) == 41
    return list(zip(stamps, messages))


def test_start_up_from_packets_txt_reaches_active_like_the_c_node():
    captured = packets_txt_part_a()
    # hbanode1's first run, up to the first resource message: seq 2..8 without a gap.
    first_run = [(t, m) for t, m in captured
                 if m["src"] == "hbanode1" and m["hg"] == "6b06ca78"][1:9]
    start = int(first_run[0][0] * 1000)
    core = Membership(node2_config(), "hbanode2", 0x6b06ca78, start, seed=2)
    actions = core.handle(Start(), start)
    for when, message in first_run:
        actions += core.handle(Received(message, "hbAeth0", True), int(when * 1000))
    texts = [a.text for a in actions if isinstance(a, Log)]
    assert texts[texts.index("Link hbanode1:hbAeth0 up."):] == [
        "Link hbanode1:hbAeth0 up.",
        "Status update for node hbanode1: status up",
        "Comm_now_up(): updating status to active",
        "Local status now set to: 'active'",
        "Status update for node hbanode1: status active"]
    assert core.node_status("hbanode1") == "active" and core.local_status == "active"
    # Our answer to hbanode1's reqnodes (#9) is what the real hbanode2 answered (#12).
    real_reply = next(m for t, m in captured
                      if m["t"] == "repnodes" and m["src"] == "hbanode2")
    (ours,) = [a for a in actions if isinstance(a, SendMessage) and a.message_type == "repnodes"]
    assert ours.fields == tuple((k, real_reply[k]) for k in ("dest", "t", "nodelist",
                                                             "delnodelist"))
    assert [a.new for a in actions if isinstance(a, NodeStatusChanged)
            and a.node == "hbanode1"] == ["up", "active"]


# -- packets-full.pcap against logs/full-node2-ha-log -------------------------------------------


def pcap_udp_payloads(path):
    """(epoch seconds, source IP, UDP payload) of an Ethernet pcap."""
    data = path.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4
    assert struct.unpack("<I", data[20:24])[0] == 1
    offset = 24
    while offset < len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        ip = frame[14:]
        if frame[12:14] != b"\x08\x00" or ip[9] != 17:
            continue
        header = (ip[0] & 15) * 4
        yield seconds + micros / 1e6, ".".join(map(str, ip[12:16])), ip[header + 8:]


def netstring_fields(payload):
    """The string fields of a ``###`` ... ``%%%`` message (SPEC §1d framing 1)."""
    assert payload.startswith(b"###\n")
    fields, pos = {}, 4
    while not payload.startswith(b"%%%\n", pos):
        colon = payload.index(b":", pos)
        size = int(payload[pos:colon])
        item = payload[colon + 1:colon + 1 + size]
        pos = colon + 2 + size
        kind, _, rest = item.partition(b")")
        name, _, value = rest.partition(b"=")
        if kind == b"(0":
            fields[name.decode()] = value.decode()
    return fields


MEMBERSHIP_LINE = re.compile(
    r"^(Link hbanode1:|Status update for node hbanode1:|node hbanode1: is dead"
    r"|Heartbeat restart on node hbanode1|Received shutdown notice from 'hbanode1'"
    r"|\d+ lost packet\(s\) for \[hbanode1\]|No pkts missing from hbanode1"
    r"|Late heartbeat: Node hbanode1: interval|Cluster node hbanode1)")
C_LOG_LINE = re.compile(r"^\w{3} \d+ (\d\d:\d\d:\d\d) hbanode2 heartbeat: \[\d+\]: \w+: (.*)$")


def c_membership_lines(run="full"):
    lines = (REFERENCE / "logs" / f"{run}-node2-ha-log").read_text().split("\n")
    return [(m.group(1), m.group(2)) for line in lines
            if (m := C_LOG_LINE.match(line)) and MEMBERSHIP_LINE.match(m.group(2))]


RUNS = ["full", "failback-off", "failback-legacy", "sha1-ucast-classic", "sha1-mcast-classic",
        "md5-bcast-classic", "crc-bcast-classic"]


@pytest.mark.parametrize("run", RUNS)
def test_captured_run_gives_the_membership_log_of_the_c_node(run):
    """full: start, crash of hbanode1, restart, heartbeat -k, restart, stop (INTEROP.md steps
    1-6); the others: start, (crash and restart), stop, over each medium and auth method."""
    traffic = [(t, netstring_fields(p)) for t, _, p in
               pcap_udp_payloads(REFERENCE / f"packets-{run}.pcap")]
    from_node1 = [(t, m) for t, m in traffic if m["src"] == "hbanode1"]
    expected = c_membership_lines(run)
    # When the C hbanode2 began to listen is not in the capture: hbanode1 started a few ms
    # earlier and some of its first packets went unheard.  Begin with the first packet
    # hbanode1 sent after hbanode2's first, or with hbanode1's first status carrying the word
    # the C log reports first, whichever came first.
    node2_first = min(t for t, m in traffic if m["src"] == "hbanode2")
    first_word = next(text.rsplit(" ", 1)[1] for _, text in expected
                      if text.startswith("Status update"))
    begin = min(next(i for i, (t, m) in enumerate(from_node1) if t > node2_first),
                next(i for i, (t, m) in enumerate(from_node1) if m.get("st") == first_word))
    from_node1 = from_node1[begin:]
    start_ms = int(from_node1[0][0] * 1000)
    stop_ms = int(max(t for t, m in traffic if m["src"] == "hbanode2") * 1000)
    config = node2_config(run)
    (link,) = {medium.interface for medium in config.media}
    core = Membership(config, "hbanode2", 0x6b06ca78, start_ms, seed=3)
    ours, now = [], start_ms

    def record(actions):
        ours.extend((now, a.text) for a in actions if isinstance(a, Log))

    record(core.handle(Start(), now))
    for when, message in from_node1:
        when_ms = int(when * 1000)
        if when_ms > stop_ms:        # the C hbanode2 had stopped by then
            break
        while now + POLL_MS < when_ms:
            now += POLL_MS
            record(core.handle(Tick(), now))
        now = when_ms
        record(core.handle(Received(message, link, True), now))
    while now + POLL_MS <= stop_ms:
        now += POLL_MS
        record(core.handle(Tick(), now))

    wall = [(datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc), text)
            for ms, text in ours if MEMBERSHIP_LINE.match(text)]
    assert [text for _, text in wall] == [text for _, text in expected]
    for (stamp, text), (c_time, _) in zip(wall, expected):
        c_stamp = stamp.replace(hour=int(c_time[:2]), minute=int(c_time[3:5]),
                                second=int(c_time[6:]), microsecond=0)
        assert abs((stamp - c_stamp).total_seconds()) < 1.5, (text, stamp, c_time)
    assert core.counters["bad authentication"] == core.counters["unknown node"] == 0
