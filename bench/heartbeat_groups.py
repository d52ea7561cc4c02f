#!/usr/bin/env python3
"""Benchmark (issue 21, item 5): heartbeat with 100 resource groups, ours beside Debian's 3.0.6.

    sudo bench/heartbeat_groups.py [--groups 100] [--runs 1] [--json]

For each implementation, a two-node cluster in the heartbeat lab (lvs_compat/lab/heartbeat.py,
INTEROP.md's recipe for the C node): bcast, sha1, keepalive 500 ms, deadtime 2 s, initdead 4 s,
``auto_failback on``, and a haresources of ``--groups`` groups all preferring node A, each one
script resource ``benchrsc::gN``.  The script (``resource.d/benchrsc``, written below) only
creates or removes a file per group next to itself and answers ``status`` from it, so the
figures are the daemons' own cost of driving many groups, not the resources'.  Measured, the
state directories polled every 20 ms:

* **start-up**: both nodes started; from A's start to every group held on A (and none on B);
* **takeover**: A killed with SIGKILL (its group files removed, as a dead machine's resources
  are gone); from the kill to every group held on B;
* **failback**: A started again; from its start to every group on A and none on B.

No goal is asserted; the figures go to the README's bench table.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from lvs_compat.lab import wait_for  # noqa: E402
from lvs_compat.lab.heartbeat import Lab, ha_cf, have_c_heartbeat  # noqa: E402

RESOURCE_SCRIPT = """#!/bin/sh
# bench/heartbeat_groups.py: benchrsc GROUP start|stop|status; one file per held group
dir=$(dirname "$0")/state
case "$2" in
start) mkdir -p "$dir" && : > "$dir/$1" ;;
stop) rm -f "$dir/$1" ;;
status) if [ -e "$dir/$1" ]; then echo running; else echo stopped; fi ;;
esac
exit 0
"""
TIMEOUT_S = 180


def held(node) -> int:
    state = node.etc / "resource.d" / "state"
    return sum(1 for _ in state.iterdir()) if state.is_dir() else 0


def start(node):
    if node.kind == "c":
        node.start_c()
    else:
        node.start()


def measure(kind, tmp, groups, runs):
    names = {"c": ("grpca", "grpcb"), "ours": ("grpoa", "grpob")}[kind]
    lab = Lab(Path(tempfile.mkdtemp(dir=tmp)), names=names, kinds=(kind, kind))
    figures = {"startup_s": [], "takeover_s": [], "failback_s": []}
    try:
        lab.open()
        a, b = lab.nodes
        haresources = "".join(f"{a.name} benchrsc::g{n}\n" for n in range(groups))
        for node in (a, b):
            node.write_config(ha_cf([a.name, b.name], media="bcast hb0", keepalive="500ms",
                                    deadtime="2", warntime="1", initdead="4"),
                              haresources=haresources)
            script = node.etc / "resource.d" / "benchrsc"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(RESOURCE_SCRIPT)
            script.chmod(0o755)
        began = time.monotonic()
        start(a)
        start(b)
        wait_for(lambda: held(a) == groups and held(b) == 0, TIMEOUT_S, 0.02, f"{groups} groups on {a.name}")
        figures["startup_s"].append(time.monotonic() - began)
        for _ in range(runs):
            time.sleep(6)  # settled, and past the start-up bonus on deadtime
            killed = time.monotonic()
            a.kill9()
            for group in (a.etc / "resource.d" / "state").iterdir():
                group.unlink()
            wait_for(lambda: held(b) == groups, TIMEOUT_S, 0.02, f"{groups} groups on {b.name}")
            figures["takeover_s"].append(time.monotonic() - killed)
            time.sleep(1)
            began = time.monotonic()
            start(a)
            wait_for(lambda: held(a) == groups and held(b) == 0, TIMEOUT_S, 0.02,
                     f"{groups} groups back on {a.name}")
            figures["failback_s"].append(time.monotonic() - began)
        return figures
    finally:
        lab.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1, help="takeover/failback cycles")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    why = have_c_heartbeat()
    if why:
        sys.exit(f"heartbeat_groups: {why}")
    with tempfile.TemporaryDirectory(prefix="hbgroups") as tmp:
        figures = {kind: measure(kind, tmp, options.groups, options.runs) for kind in ("c", "ours")}
    if options.json:
        print(json.dumps({"groups": options.groups, **figures}, indent=2))
        return 0
    print(f"{options.groups} resource groups, keepalive 500 ms, deadtime 2 s (medians)")
    print(f"{'':12}{'heartbeat 3.0.6 (C)':>22}{'lvs-compat':>14}{'ratio':>8}")
    for key, title in (("startup_s", "start-up"), ("takeover_s", "takeover"), ("failback_s", "failback")):
        c, ours = statistics.median(figures["c"][key]), statistics.median(figures["ours"][key])
        print(f"{title:12}{c:>20.2f} s{ours:>12.2f} s{ours / c:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
