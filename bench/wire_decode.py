#!/usr/bin/env python3
"""Benchmark: decoding and verifying one captured keepalive (``wire.decode_frame``), per auth
method, best of 5 passes over 50 packets of each capture in ../shared/reference/heartbeat.

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


def main() -> int:
    for name, capture, keyfile in CASES:
        keys = parse_authkeys(keyfile)
        packets = [d.payload for d in read_udp(REFERENCE / capture)][:50]
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for packet in packets:
                wire.decode_frame(packet, keys)
            best = min(best, (time.perf_counter() - start) / len(packets))
        print(f"{name:5} {best * 1e6:7.1f} us per packet (best of 5 x {len(packets)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
