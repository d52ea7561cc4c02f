"""Issue 19 item 8, without a network: a flood of correctly framed, wrongly signed packets is
refused by the cheapest checks (the full parse only runs for a packet whose digest is right),
the receive loop reads a bounded batch per turn, the receive buffer is enlarged and the kernel's
drops are logged.  The lab test under a real flood is tests/test_heartbeat_flood_netns.py; the
figures are bench/heartbeat_flood.py's."""

import os
import socket

import pytest

from lvs_compat.config.authkeys import parse_authkeys
from lvs_compat.heartbeat import media, wire
from lvs_compat.heartbeat.wire import DecodeError

KEYS = parse_authkeys("auth 1\n1 sha1 labsecret\n")
WRONG = parse_authkeys("auth 1\n1 sha1 not-the-key\n")


def heartbeat(src="nodeb", seq=1):
    message = wire.Message.from_pairs([("t", "status"), ("st", "active"), ("dt", "3e8"),
                                       ("protocol", "1")])
    return wire.add_control_fields(message, src=src, srcuuid=b"0123456789abcdef", seq=seq,
                                   generation=5, timestamp=0x6000000,
                                   load="0.00 0.01 0.05 1/100 1234", ttl=3)


@pytest.fixture
def calls(monkeypatch):
    """How often the digest is computed and a packet fully parsed."""
    counted = {"digest": 0, "parse": 0}

    def counting(name, real):
        def call(*args, **kwargs):
            counted[name] += 1
            return real(*args, **kwargs)
        return call
    monkeypatch.setattr(wire, "digest", counting("digest", wire.digest))
    for parser in ("_decode_netstring", "_decode_classic"):
        monkeypatch.setattr(wire, parser, counting("parse", getattr(wire, parser)))
    return counted


GOOD = wire.encode_netstring(heartbeat(), KEYS)
GOOD_CLASSIC = wire.encode_classic(heartbeat(), KEYS)


@pytest.mark.parametrize("packet, why", [
    (b"x" * (wire.MAXMSG + 1), "larger than MAXMSG"),
    (b"GET / HTTP/1.0\r\n\r\n", "no framing"),
    (GOOD[:GOOD.rindex(b"%%%\n") + 4], "netstring without its auth trailer"),
    (GOOD[:-1], "trailer cut short"),
    (GOOD[:-2] + b"G,", "trailer digest not lowercase hex"),
    (GOOD[:GOOD.rindex(b"%%%\n") + 4] + b"42:7 " + GOOD[-41:], "auth index not in authkeys"),
    (GOOD_CLASSIC.replace(b"auth=1 ", b"auth=7 "), "classic auth index not in authkeys"),
    (GOOD_CLASSIC.replace(b"\nauth=", b"\nnoauth="), "classic without an auth line"),
])
def test_packets_without_a_usable_auth_code_are_refused_before_any_digest(calls, packet, why):
    try:
        frame = wire.decode_received(packet, KEYS)
    except DecodeError:
        pass
    else:
        assert frame.authenticated is False, why
    assert calls == {"digest": 0, "parse": 0}, why


@pytest.mark.parametrize("framing", ["netstring", "classic"])
def test_a_wrongly_signed_packet_costs_one_digest_and_no_parse(calls, framing):
    encode = wire.encode_netstring if framing == "netstring" else wire.encode_classic
    frame = wire.decode_received(encode(heartbeat(), WRONG), KEYS)
    assert frame.authenticated is False
    assert calls == {"digest": 1, "parse": 0}
    # what the membership core needs for its "Dropped packet from [nodeb]" line
    assert frame.message.get("src") == "nodeb" and frame.framing == framing


@pytest.mark.parametrize("packet", [GOOD, GOOD_CLASSIC, GOOD_CLASSIC + b"\0",
                                    wire.encode_netstring(heartbeat(), KEYS, msgfmt="netstring")])
def test_a_rightly_signed_packet_is_parsed_once_and_equals_decode_frame(calls, packet):
    frame = wire.decode_received(packet, KEYS)
    assert frame.authenticated is True
    assert calls["parse"] == 1
    assert frame == wire.decode_frame(packet, KEYS)


def test_classic_text_that_3_0_6_accepts_is_accepted_by_the_cheap_path_too():
    """CR/LF runs between lines (C: string2msg_ll), an explicit (0) on string fields and a
    trailing NUL change nothing that auth_field_payload signs."""
    fields = [line if line.startswith(b"(1)") else b"(0)" + line
              for line in GOOD_CLASSIC.split(b"\n")[1:-2]]
    variant = (b">>>\n" + fields[0] + b"\r\n\n" + b"\n".join(fields[1:]) + b"\n<<<\n\0")
    assert variant.count(b"(0)") == len(fields) - 1
    assert wire.decode_frame(variant, KEYS).authenticated is True
    assert wire.decode_received(variant, KEYS).authenticated is True
    forged = variant.replace(b"st=active", b"st=dead")
    assert wire.decode_received(forged, KEYS).authenticated is False


def test_a_forged_src_inside_another_value_only_names_the_log_line():
    """The refused frame's src is found by a search, not a parse: a decoy in a value can
    choose the name in the log line (as the real src could), nothing else."""
    decoy = heartbeat("intruder").with_field("info", "x:(0)src=nodea,")
    frame = wire.decode_received(wire.encode_netstring(decoy, WRONG), KEYS)
    assert frame.authenticated is False and len(frame.message) == 1


# --- the receive loop ---------------------------------------------------------------------------

class EndlessSocket:
    """A receive socket under a flood that never ends: always another datagram."""

    def __init__(self):
        self.reads = 0

    def recvfrom(self, size):
        self.reads += 1
        return b"###\n", ("10.0.0.9", 694)


def test_a_flooded_socket_is_read_in_bounded_batches():
    """Each readiness event reads at most _RECV_BATCH datagrams and returns, so the daemon's
    loop runs its timers (our own heartbeats) between two batches however long the flood."""
    medium = media.UdpMedium("hb0", ("10.0.0.255", 694))
    medium.receiver = EndlessSocket()
    assert len(medium.read()) == media._RECV_BATCH
    assert len(medium.read()) == media._RECV_BATCH
    assert medium.receiver.reads == 2 * media._RECV_BATCH


def test_the_receive_buffer_is_enlarged_and_the_kernel_drops_are_counted():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        default = receiver.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        given = media._enlarge_receive_buffer(receiver, media.RECEIVE_BUFFER_BYTES)
        with open("/proc/sys/net/core/rmem_max") as handle:
            rmem_max = int(handle.read())
        expected = 2 * media.RECEIVE_BUFFER_BYTES if os.geteuid() == 0 \
            else max(default, 2 * min(media.RECEIVE_BUFFER_BYTES, rmem_max))
        assert given == expected > default
        medium = media.UdpMedium("lo", receiver.getsockname())
        medium.receiver = receiver
        assert medium.kernel_drops() == 0
        media._enlarge_receive_buffer(receiver, 4096)   # never made smaller
        assert receiver.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == given
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny one, to fill
        for _ in range(200):
            sender.sendto(b"x" * 300, receiver.getsockname())
        assert 0 < medium.kernel_drops() < 200
        assert len(medium.read()) == 200 - medium.kernel_drops()


def test_the_daemon_logs_kernel_drops_once_a_second_per_medium(tmp_path):
    from test_heartbeat_daemon_units import GOOD as GOOD_HA_DIR
    from test_heartbeat_daemon_units import FakeClock, write_ha_dir

    from lvs_compat.config.hadir import load_ha_dir
    from lvs_compat.heartbeat.daemon import Daemon
    from lvs_compat.heartbeat.hblog import HbLog

    write_ha_dir(tmp_path / "etc", GOOD_HA_DIR)
    ha_dir = load_ha_dir(str(tmp_path / "etc"))
    clock = FakeClock()
    log = HbLog(node_name="nodea", logfile=str(tmp_path / "ha-log"), clock=clock)
    daemon = Daemon(ha_dir, "nodea", state_dir=str(tmp_path), run_dir=str(tmp_path),
                    pid_file=None, log=log, clock=clock)

    class Medium:
        name, kind, drops = "hb0", "bcast", 0

        def read(self):
            self.drops += 10
            return [(b"garbage", ("10.0.0.9", 694))]

        def kernel_drops(self):
            return self.drops

    medium = Medium()
    for _ in range(30):  # 3 s, 300 drops
        daemon._receive(medium)
        clock.ms += 100
    lines = [line for line in (tmp_path / "ha-log").read_text().splitlines()
             if "kernel dropped" in line]
    assert len(lines) == 3, lines
    assert lines[0].endswith("WARN: bcast hb0: the kernel dropped 10 packet(s) (receive "
                             "buffer full), 10 since it was opened")
    assert lines[1].endswith("dropped 100 packet(s) (receive buffer full), 110 since it was "
                             "opened")


def test_the_keys_of_a_reloaded_authkeys_apply_at_once():
    """The index table is kept per authkeys object: a reload's new keys are used for the very
    next packet, and the old ones no longer."""
    assert wire.decode_received(GOOD, KEYS).authenticated is True
    reloaded = parse_authkeys("auth 1\n1 sha1 labsecret\n")  # equal, but another object
    assert wire.decode_received(GOOD, reloaded).authenticated is True
    assert wire.decode_received(GOOD, WRONG).authenticated is False
    assert wire.decode_received(wire.encode_netstring(heartbeat(), WRONG), WRONG).authenticated
    assert wire.decode_received(GOOD, KEYS).authenticated is True
