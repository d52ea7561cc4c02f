#!/usr/bin/env python3
"""Benchmark: what a client sees of a failback (auto_failback on), ours beside Debian's 3.0.6.

    sudo bench/failback_gap.py [--runs 3] [--json]

Pairs, in one run (INTEROP.md's lab: two directors and a client on a bridge in namespaces,
``NODEA VIP/24/hb0/BCAST`` in haresources, bcast, sha1, keepalive 500 ms, deadtime 4 s as in
the soak): 3.0.6 + 3.0.6, ours + ours, and the two half-migrated pairs (home director ours
with a 3.0.6 backup, and the other way round).

For each run: the home director A holds the VIP; its machine dies (link down, kill -9, VIP
gone); the backup B takes over; A comes back and its heartbeat starts, and auto_failback moves
the VIP home.  The client pings the VIP every 10 ms from before A's start until both report
stable.  The figure is the **client-visible gap of the failback**: the longest time between
two echo replies in that window (the VIP leaves B, comes up on A, and the client's ARP entry
follows A's gratuitous ARP), minus the 10 ms probe interval.  Also reported: how long the
failback took from A's start to the VIP being on A alone.  The VIP is checked never to be on
both directors (``ip addr`` every 50 ms during the failback).

Goal for ours (issue 13): a gap of at most 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from heartbeat_failover import die, stable, start, summary  # noqa: E402
from lvs_compat.lab import wait_for  # noqa: E402
from lvs_compat.lab.heartbeat import (IFNAME, SUBNET, VIP, TakeoverLab, ha_cf,  # noqa: E402
                                      have_c_heartbeat)

PAIRS = {"c+c": ("c", "c"), "ours+ours": ("ours", "ours"),
         "ours home+c": ("ours", "c"), "c home+ours": ("c", "ours")}
PROBE_INTERVAL_S = 0.01
TIMERS = {"keepalive": "500ms", "deadtime": "4", "warntime": "2", "initdead": "12"}


class Replies:
    """The client's echo probe (bench/heartbeat_failover.py --probe), replies collected live."""

    def __init__(self, lab):
        self.stamps: list[float] = []
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", lab.client.netns, sys.executable,
             str(REPO / "bench" / "heartbeat_failover.py"), "--probe", VIP],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lab.processes.append(self.process)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.stamps.append(float(line))

    def stop(self) -> list[float]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        return self.stamps


class BothWatch:
    """``ip addr`` of both directors every 50 ms: was the VIP ever on both?"""

    def __init__(self, lab):
        self.lab, self.both, self.stopping = lab, 0, threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(0.05):
            if len(self.lab.holders()) > 1:
                self.both += 1

    def stop(self) -> int:
        self.stopping.set()
        self.thread.join(timeout=10)
        return self.both


def longest_gap(stamps: list[float], begin: float, end: float) -> float:
    """The longest time without a reply in [begin, end], less one probe interval."""
    inside = [begin] + [s for s in stamps if begin <= s <= end] + [end]
    return max(b - a for a, b in zip(inside, inside[1:])) - PROBE_INTERVAL_S


def measure(pair: str, tmp: str, runs: int) -> dict:
    kind_a, kind_b = PAIRS[pair]
    names = ("fbga", "fbgb", "fbgclient")
    lab = TakeoverLab(Path(tempfile.mkdtemp(dir=tmp)), names=names,
                      kinds=(kind_a, kind_b, "client"))
    figures = {"gap_s": [], "failback_s": [], "samples_with_two_holders": []}
    try:
        lab.open()
        a, b = lab.members
        for node in (a, b):
            node.write_config(ha_cf([a.name, b.name], media="bcast hb0", **TIMERS),
                              haresources=f"{a.name} {VIP}/24/{IFNAME}/{SUBNET}.255\n")
        start(a)
        start(b)
        lab.wait_holder(a, 40)
        wait_for(lambda: stable(a, b), 30, 0.2, "both stable")
        for _ in range(runs):
            time.sleep(5.5)                  # past the start-up bonus on deadtime
            die(lab, a)
            lab.wait_holder(b, 30)
            wait_for(lambda: stable(b), 20, 0.1, "the survivor stable")
            wait_for(lambda: lab.client_ping(), 10, 0.1, "the client answered by the backup")
            lab.set_link(a, True)
            replies = Replies(lab)
            wait_for(lambda: len(replies.stamps) > 10, 10, 0.05, "the probe answered")
            watch = BothWatch(lab)
            begin, moment = time.time(), time.monotonic()
            start(a)
            lab.wait_holder(a, 30)
            figures["failback_s"].append(time.monotonic() - moment)
            wait_for(lambda: stable(a, b), 30, 0.2, "both stable after the failback")
            time.sleep(1.0)                  # the client keeps probing the new holder
            end = time.time()
            figures["gap_s"].append(longest_gap(replies.stop(), begin, end))
            figures["samples_with_two_holders"].append(watch.stop())
        return figures
    finally:
        lab.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pairs", default=",".join(PAIRS),
                        help="comma-separated subset of: " + ", ".join(PAIRS))
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    pairs = [p.strip() for p in options.pairs.split(",") if p.strip()]
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown or options.runs < 1:
        sys.stderr.write(f"failback_gap: unknown pair {unknown[0]!r}\n" if unknown else
                         "failback_gap: --runs must be at least 1\n")
        return 2
    if any("c" in PAIRS[p] for p in pairs):
        why = have_c_heartbeat()
        if why:
            sys.stderr.write(f"failback_gap: {why}\n")
            return 2
    figures = {}
    with tempfile.TemporaryDirectory(prefix="fbgap") as tmp:
        for pair in pairs:
            figures[pair] = measure(pair, tmp, options.runs)
    if options.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{'pair (home + backup)':22}{'client-visible gap':34}{'failback (start to VIP home)':34}"
          "samples with two holders")
    for pair, fig in figures.items():
        print(f"{pair:22}{summary(fig['gap_s']):34}{summary(fig['failback_s']):34}"
              f"{sum(fig['samples_with_two_holders'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
