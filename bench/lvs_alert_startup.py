#!/usr/bin/python3 -IS
"""Cold start of our lvs.alert against the seed's Perl one (issue 3, item 9).

Both run as mon runs them, one new process per event, with the same recorder
standing in for /sbin/ipvsadm (bind-mounted over /usr/sbin/ipvsadm in a
private mount namespace, as in ../shared/reference/mon/SPEC.md §5; the seed
hard-codes that path).  Ours runs with the interpreter `make install` puts in
its shebang, /usr/bin/python3 -IS, and as the single file of ``make dropins``
(build/dropins/alert.d/lvs.alert) copied alone into an empty directory and run by
its own shebang.  Runs alternate between the two so drift in
machine load hits both alike; the first few of each are warm-up (the page
cache and our .pyc files), then the median of RUNS wall times each.

    bench/lvs_alert_startup.py [RUNS]        (root; default 30 runs each)

Goal from the issue: ours <= 1.5x the seed's.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = REPO.parent / "shared" / "seed" / "examples" / "lvs.alert.pl"
OURS = REPO / "alert.d" / "lvs.alert"
DROPIN = REPO / "build" / "dropins" / "alert.d" / "lvs.alert"   # make dropins
PYTHON = ["/usr/bin/python3", "-IS"]  # the shebang tools/install-program writes
MON = ["-s", "http", "-g", "www1", "-h", "www1.domain.com", "-t", "1700000000"]
LINE = ["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5", "-F", "dr"]
CASES = {"down": MON + LINE, "up": MON + ["-u"] + LINE}
WARMUP = 3
INSIDE = "LVS_ALERT_BENCH_INSIDE_NAMESPACE"


def wall_time(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def bench(runs: int, work: Path) -> int:
    print(f"lvs.alert cold start, median of {runs} runs each (+{WARMUP} warm-up), "
          f"/sbin/ipvsadm = the same sh recorder for both")
    ratios, single_ratios = [], []
    for case, args in CASES.items():
        commands = {"seed (perl)": ["/usr/bin/perl", str(SEED), *args],
                    "ours (python3 -IS)": [*PYTHON, str(OURS), *args],
                    "single file": [str(work / "alert.d" / "lvs.alert"), *args]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_number in range(WARMUP + runs):
            for name, argv in commands.items():
                elapsed = wall_time(argv)
                if round_number >= WARMUP:
                    times[name].append(elapsed)
        medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
        seed_ms, ours_ms = medians["seed (perl)"], medians["ours (python3 -IS)"]
        single_ms = medians["single file"]
        ratios.append(ours_ms / seed_ms)
        single_ratios.append(single_ms / seed_ms)
        print(f"  {case:<5} seed {seed_ms:6.1f} ms   ours {ours_ms:6.1f} ms   ratio {ours_ms / seed_ms:.2f}x"
              f"   single file {single_ms:6.1f} ms   ratio {single_ms / seed_ms:.2f}x")
    calls = (work / "calls.log").read_text().splitlines()
    expected = 3 * (WARMUP + runs) * len(CASES)  # seed, ours and the single file
    print(f"  recorder saw {len(calls)} ipvsadm calls (expected {expected}: one per alert, as the seed)")
    print(f"median ratio ours/seed: {statistics.median(ratios):.2f}x, single file/seed: "
          f"{statistics.median(single_ratios):.2f}x (goal <= 1.5x)")
    return 0 if len(calls) == expected else 1


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    if os.environ.get(INSIDE):
        return bench(runs, Path(os.environ[INSIDE]))
    if not DROPIN.is_file():
        print(f"bench/lvs_alert_startup.py: no {DROPIN}: run make dropins first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lvs-alert-bench.") as work:
        (Path(work) / "alert.d").mkdir()
        shutil.copy2(DROPIN, Path(work) / "alert.d" / "lvs.alert")   # copied alone
        recorder = Path(work) / "ipvsadm-recorder"
        recorder.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {work}/calls.log\nexit 0\n")
        recorder.chmod(0o755)
        env = dict(os.environ, **{INSIDE: work, "LVS_COMPAT_RUN_DIR": f"{work}/run"})
        env.pop("IPVSADM", None)
        script = 'mount --bind "$1" /usr/sbin/ipvsadm && shift && exec "$@"'
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                               str(recorder), *PYTHON, str(Path(__file__).resolve()), str(runs)],
                              env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
