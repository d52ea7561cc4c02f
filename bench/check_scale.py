#!/usr/bin/env python3
"""Benchmark (issue 21, item 5): `lvs-compat check` on large configurations.

    bench/check_scale.py [--runs 5] [--json]

The files come from tests/check_scale_support.py (tests/test_check_scale.py checks the summary
of the same files): a mon.cf of N hostgroups and N watches, each watch with the seed's alert
lines (mail.alert and lvs.alert, as alert and upalert), for N = 1,000, 2,000 and 5,000; and an
ha.d directory (ha.cf, authkeys, haresources) of 100 and 1,000 resource groups, each
``IPaddr::VIP/24/eth0`` and two script resources; and a haresources of one group continued with
backslashes over 1,000 and 10,000 lines (one resource a line: the join was quadratic before
issue 21, 47 s for 16,000 lines).  Each case runs the whole command as an
operator does (``bin/lvs-compat check --mon-cf FILE`` or ``--ha-dir DIR``, this interpreter, a
fresh process per run) and reports the median wall time of ``--runs`` runs and the time per
watch (or group).  Goal: <= 1 s at 1,000 watches and at 100 groups, and linear growth: the
5,000-watch run costs about five times the 1,000-watch one (``growth`` compares the per-watch
costs; a quadratic path would make it about 5).

There is no original to run beside it: neither mon nor heartbeat has a check-only mode.
``--baseline DIR`` runs another checkout's ``bin/lvs-compat`` (e.g. ``git archive`` of an older
commit, unpacked) on the same files in the same run, and prints the ratios (ours / baseline).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import check_scale_support  # noqa: E402

CHECK = [sys.executable, str(REPO / "bin" / "lvs-compat"), "check"]
WATCHES = (1000, 2000, 5000)
GROUPS = (100, 1000)
CONTINUED = (1000, 10000)
GOAL_S = 1.0


def median_wall(argv, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            sys.exit(f"check_scale: {argv} failed ({result.returncode}): {result.stderr.strip()}")
    return statistics.median(times)


def timed(args, options):
    """This checkout's median, and the baseline's and the ratio with ``--baseline``."""
    row = {"seconds": round(median_wall([*CHECK, *args], options.runs), 3)}
    if options.baseline:
        baseline = [sys.executable, str(Path(options.baseline) / "bin" / "lvs-compat"), "check"]
        row["baseline_seconds"] = round(median_wall([*baseline, *args], options.runs), 3)
        row["ratio"] = round(row["seconds"] / row["baseline_seconds"], 2)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--baseline", metavar="DIR", help="another checkout to time beside this one")
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="check-scale-") as tmp:
        for watches in WATCHES:
            mon_cf = Path(tmp) / f"mon-{watches}.cf"
            mon_cf.write_text(check_scale_support.mon_cf_text(watches))
            rows.append({"case": f"mon.cf, {watches} hostgroups and watches", "size": watches, "kind": "mon",
                         **timed(["--mon-cf", str(mon_cf)], options)})
        for groups in GROUPS:
            ha_dir = check_scale_support.ha_dir(Path(tmp) / f"ha-{groups}.d", groups)
            rows.append({"case": f"ha.cf + haresources, {groups} groups", "size": groups, "kind": "ha",
                         **timed(["--ha-dir", str(ha_dir)], options)})
        for lines in CONTINUED:
            ha_dir = check_scale_support.ha_dir(Path(tmp) / f"cont-{lines}.d", 1, continued_lines=lines)
            rows.append({"case": f"haresources, 1 group over {lines} lines", "size": lines, "kind": "cont",
                         **timed(["--ha-dir", str(ha_dir)], options)})
    by_size = {(row["kind"], row["size"]): row["seconds"] for row in rows}
    growth = {kind: round((by_size[(kind, sizes[-1])] / sizes[-1]) / (by_size[(kind, sizes[0])] / sizes[0]), 2)
              for kind, sizes in (("mon", WATCHES), ("ha", GROUPS), ("cont", CONTINUED))}
    goal = by_size[("mon", 1000)] <= GOAL_S and by_size[("ha", 100)] <= GOAL_S
    report = {"runs": options.runs, "rows": rows, "per_item_cost_growth": growth, "goal_met": goal}
    if options.json:
        print(json.dumps(report, indent=2))
        return 0 if goal else 1
    print(f"lvs-compat check, median of {options.runs} runs each")
    baseline_titles = f"{'baseline s':>12}{'ratio':>7}" if options.baseline else ""
    print(f"{'case':<44}{'wall s':>8}{'ms per item':>13}{baseline_titles}")
    for row in rows:
        print(f"{row['case']:<44}{row['seconds']:>8.3f}{1000 * row['seconds'] / row['size']:>13.3f}"
              + (f"{row['baseline_seconds']:>12.3f}{row['ratio']:>7.2f}" if options.baseline else ""))
    print(f"per-item cost, largest / smallest size: mon.cf {growth['mon']}, ha.d {growth['ha']}, "
          f"continued haresources {growth['cont']} "
          "(1 is linear; start-up makes it fall below 1)")
    print(f"goal (<= {GOAL_S:g} s at 1,000 watches and at 100 groups): {'met' if goal else 'NOT met'}")
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
