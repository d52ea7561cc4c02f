#!/usr/bin/env python3
"""Benchmark: decoding and verifying one captured keepalive (``wire.decode_frame``), per auth
method, best of 5 passes over 50 packets of each capture in ../shared/reference/heartbeat; and
refusing the same packets wrongly signed, by the full decoder and by the receive loop's
``wire.decode_received`` (cheapest checks first, issue 19 item 8).

    bench/wire_decode.py

The C daemon's own cost is not measured here (it has no entry point for it); the figure is for
budgeting: at keepalive 200 ms and a 20k packets/s flood the loop has about 50 us per packet.
"""

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from lvs_compat.config.authkeys import parse_authkeys  # noqa: E402
from lvs_compat.heartbeat import wire  # noqa: E402
from pcap_support import read_udp  # noqa: E402

REFERENCE = REPO.parent / "shared" / "reference" / "heartbeat"
CASES = (("sha1", "packets-full.pcap", "auth 1\n1 sha1 hbAsecret\n"),
         ("md5", "packets-md5-bcast-classic.pcap", "auth 2\n2 md5 hbAsecret\n"),
         ("crc", "packets-crc-bcast-classic.pcap", "auth 3\n3 crc\n"))


def best_per_packet(function, packets, keys) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for packet in packets:
            function(packet, keys)
        best = min(best, (time.perf_counter() - start) / len(packets))
    return best * 1e6


def main() -> int:
    print(f"{'method':6}{'signed: decode_frame':>22}{'wrongly signed: decode_frame':>30}"
          f"{'decode_received':>17}{'ratio':>7}   (us per packet, best of 5 x 50)")
    for name, capture, keyfile in CASES:
        keys = parse_authkeys(keyfile)
        packets = [d.payload for d in read_udp(REFERENCE / capture)][:50]
        # the same packets with one digit of the trailer's digest changed: a flood's packets
        forged = [p[:-2] + (b"0" if p[-2:-1] != b"0" else b"1") + b"," for p in packets]
        assert not any(wire.decode_received(p, keys).authenticated for p in forged)
        good = best_per_packet(wire.decode_frame, packets, keys)
        full = best_per_packet(wire.decode_frame, forged, keys)
        cheap = best_per_packet(wire.decode_received, forged, keys)
        print(f"{name:6}{good:>22.1f}{full:>30.1f}{cheap:>17.1f}{full / cheap:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
