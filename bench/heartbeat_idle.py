#!/usr/bin/env python3
"""Benchmark: idle CPU and RSS of our heartbeat next to Debian's heartbeat 3.0.6, one run.

    sudo bench/heartbeat_idle.py [--seconds 60] [--keepalive 1] [--json]

One mixed two-node cluster in the heartbeat lab of lvs_compat/lab/heartbeat.py (INTEROP.md's recipe:
the C node in its own network/UTS/mount/PID namespaces, ``crm off``, empty haresources), bcast
with sha1, keepalive 1 s, deadtime 10 s.  Once both nodes see each other active, both are left
alone for ``--seconds`` and measured from /proc:

* CPU: utime + stime ticks over the window / CLK_TCK / seconds, in % of one core.  For the C
  node, every heartbeat process of its PID namespace (master control process, FIFO reader,
  read and write child per medium) is summed, as the daemon is all of them.
* RSS: VmRSS at the end of the window; for the C node the sum over its processes (pages shared
  by the forked children are counted once per process, so this over-counts) and the master's.

Goal (issue 5): ours <= 1 % CPU and <= 40 MiB RSS.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from lvs_compat.lab import wait_for  # noqa: E402
from lvs_compat.lab.heartbeat import Lab, ha_cf, have_c_heartbeat  # noqa: E402
from soak.daemons import rss_kib  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def measure(groups, seconds):
    """``groups``: name -> list of pids.  CPU % and RSS per group over ``seconds``."""
    start = {name: sum(cpu_ticks(p) for p in pids) for name, pids in groups.items()}
    began = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - began
    result = {}
    for name, pids in groups.items():
        ticks = sum(cpu_ticks(p) for p in pids) - start[name]
        result[name] = {
            "processes": len(pids),
            "cpu_percent": round(100.0 * ticks / CLK_TCK / elapsed, 3),
            "cpu_seconds": round(ticks / CLK_TCK, 3),
            "rss_mib_sum": round(sum(rss_kib(p) for p in pids) / 1024, 1),
            "rss_mib_main": round(rss_kib(pids[0]) / 1024, 1),
        }
    return result, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--keepalive", default="1")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    why = have_c_heartbeat()
    if why:
        sys.exit(f"heartbeat_idle: {why}")
    with tempfile.TemporaryDirectory(prefix="hb-bench-") as tmp:
        cluster = Lab(Path(tmp), names=("hbcnode", "ournode"), kinds=("c", "ours"))
        try:
            cluster.open()
            c, ours = cluster.nodes
            for node in (c, ours):
                node.write_config(ha_cf([c.name, ours.name], media="bcast hb0",
                                        keepalive=options.keepalive, deadtime="10",
                                        warntime="5", initdead="20"))
            c.start_c()
            ours.start()
            wait_for(lambda: c.cl_status("nodestatus", ours.name).stdout.strip() == "active"
                     and ours.cl_status("nodestatus", c.name).stdout.strip() == "active",
                     30, 0.2, "both nodes active")
            time.sleep(1)  # let start-up settle (reqnodes, first resource messages)
            our_pid = int((ours.rundir / "heartbeat.pid").read_text())
            groups = {"ours": [our_pid], "c-3.0.6": [pid for pid, _ in c.c_daemon_processes()]}
            result, elapsed = measure(groups, options.seconds)
            alive = (c.cl_status("nodestatus", ours.name).stdout.strip(),
                     ours.cl_status("nodestatus", c.name).stdout.strip())
        finally:
            cluster.close()
    report = {"seconds": round(elapsed, 1), "keepalive": options.keepalive,
              "still_active": alive == ("active", "active"), **result}
    if options.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"idle {report['seconds']} s, keepalive {options.keepalive} s, bcast sha1, "
          f"both still active: {report['still_active']}")
    print(f"{'daemon':<10}{'procs':>6}{'CPU %':>9}{'CPU s':>8}{'RSS MiB (sum)':>15}"
          f"{'RSS MiB (main)':>16}")
    for name in ("ours", "c-3.0.6"):
        row = result[name]
        print(f"{name:<10}{row['processes']:>6}{row['cpu_percent']:>9.3f}"
              f"{row['cpu_seconds']:>8.2f}{row['rss_mib_sum']:>15.1f}{row['rss_mib_main']:>16.1f}")
    ours_row = result["ours"]
    goal = ours_row["cpu_percent"] <= 1.0 and ours_row["rss_mib_main"] <= 40
    print(f"goal (ours <= 1 % CPU, <= 40 MiB RSS): {'met' if goal else 'NOT met'}")
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
