"""A flood of correctly framed, wrongly signed heartbeat packets, for the lab (issue 19 item 8).

    python3 -m lvs_compat.lab.flood --to 10.251.0.1 --rate 20000 --seconds 5 --src nodeb

Run inside a lab namespace (``Netlab.start``), it sends ``status`` heartbeats claiming to come
from ``--src`` (a real node name, so that a node-name check cannot refuse them for free), each
with its own ``seq``, netstring-framed and signed with a key that is not the cluster's, to
``--to``:``--port`` at ``--rate`` packets a second for ``--seconds``: every 5 ms the packets due
by then are sent, at most two slots' worth at once (a sender that falls behind, on a loaded
machine, sends less rather than bursts).  At the end it prints one JSON line: packets sent, send
errors, seconds and the rate reached.
Standard library and the codec only; nothing leaves the namespace it runs in.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

from lvs_compat.config.authkeys import parse_authkeys
from lvs_compat.heartbeat import wire

SLOT_S = 0.005
DISTINCT_PACKETS = 1000


def forged_packets(src: str, count: int) -> list[bytes]:
    """``count`` heartbeats from ``src`` as 3.0.6 frames them, with the wrong key."""
    wrong = parse_authkeys("auth 1\n1 sha1 not-the-cluster-key\n")
    now = int(time.time())
    packets = []
    for seq in range(1, count + 1):
        message = wire.Message.from_pairs([("t", "status"), ("st", "active"), ("dt", "3e8"),
                                           ("protocol", "1")])
        message = wire.add_control_fields(message, src=src, srcuuid=bytes(16), seq=seq,
                                          generation=now, timestamp=now,
                                          load="0.00 0.00 0.00 1/100 1000", ttl=3)
        packets.append(wire.encode_netstring(message, wrong))
    return packets


def flood(destination: tuple[str, int], rate: float, seconds: float, packets: list[bytes],
          interface: str | None = None) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if interface:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode() + b"\0")
    sock.connect(destination)  # send() on a connected socket: no address to parse per packet
    send = sock.send
    sent = errors = 0
    started = time.monotonic()
    end = started + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = min(int((now - started) * rate), sent + int(rate * SLOT_S) * 2)
        while sent < due:
            try:
                send(packets[sent % len(packets)])
            except OSError:  # ENOBUFS when the link's queue is full: counted, not retried
                errors += 1
            sent += 1
        time.sleep(max(0.0, min(SLOT_S, end - time.monotonic())))
    elapsed = time.monotonic() - started
    sock.close()
    return {"sent": sent, "errors": errors, "seconds": round(elapsed, 3),
            "rate": round(sent / elapsed) if elapsed else 0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", required=True, help="the flooded node's address")
    parser.add_argument("--port", type=int, default=694)
    parser.add_argument("--rate", type=float, default=20000, help="packets a second")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--src", default="nodeb", help="the node name the packets claim")
    parser.add_argument("--interface", help="SO_BINDTODEVICE, e.g. hb0")
    options = parser.parse_args(argv)
    packets = forged_packets(options.src, DISTINCT_PACKETS)
    print(json.dumps(flood((options.to, options.port), options.rate, options.seconds,
                           packets, options.interface)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
