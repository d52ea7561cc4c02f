#!/usr/bin/env python3
"""Benchmark: our http/ftp.monitor side by side with Debian's Perl originals, one run.

    sudo bench/monitors.py [--slow-runs 3] [--cold-runs 31] [--requests-python PATH]

Everything happens in a private network namespace (``unshare -n``: only ``lo``), with
scripted servers on 127.0.x.y (tests/monitor_support.py). Measured, as wall time of
the whole monitor process, medians over alternating runs (Perl, ours, Perl, ...):

  (a) 20 hosts of which 5 never answer, ``-t 2``  (goal: ours <= 1/4 of Perl's)
  (b) cold start on one healthy host             (goal: ours <= 1.5 x Perl's)
  (c) the same two for ftp.monitor

Ours runs as `make install` installs it: ``/usr/bin/python3 -IS <monitor>``, and, for the
cold starts, as the single file of ``make dropins`` (build/dropins/mon.d/<monitor>) copied
alone into an empty directory and run by its own shebang ("single"). The
import cost of the candidate HTTP clients is printed too (``-X importtime``, median
of several interpreters' cumulative microseconds); pass ``--requests-python`` an
interpreter that has requests to include it (the project does not depend on it).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import monitor_support  # noqa: E402

PERL = Path("/usr/lib/mon/mon.d")
DROPINS = REPO / "build" / "dropins" / "mon.d"   # make dropins
PYTHON = "/usr/bin/python3"
HTTP_PORT, FTP_PORT = 8001, 2121
GOOD = [f"127.0.10.{n}" for n in range(1, 16)]
HUNG = [f"127.0.20.{n}" for n in range(1, 6)]


def listeners():
    specs = []
    for host in GOOD:
        specs.append({"kind": "http", "host": host, "port": HTTP_PORT, "status": "200 OK"})
        specs.append({"kind": "ftp", "host": host, "port": FTP_PORT, "greeting": "220 ready\\r\\n",
                      "after_quit": "221 Goodbye\\r\\n"})
    for host in HUNG:
        specs.append({"kind": "silent", "host": host, "port": HTTP_PORT})
        specs.append({"kind": "silent", "host": host, "port": FTP_PORT})
    return specs


def commands(monitor, args, single=None):
    argvs = {"perl": [str(PERL / monitor), *args],
             "ours": [PYTHON, "-IS", str(REPO / "mon.d" / monitor), *args]}
    if single is not None:
        argvs["single"] = [str(single / monitor), *args]
    return argvs


def wall_times(argvs, runs, expect_rc):
    """Alternate the programs run by run; the median wall time of each, in ms."""
    times = {name: [] for name in argvs}
    for _ in range(runs):
        for name, argv in argvs.items():
            started = time.perf_counter()
            result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            times[name].append((time.perf_counter() - started) * 1000)
            if result.returncode != expect_rc:
                raise SystemExit(f"{name}: exit {result.returncode}, expected {expect_rc}:\n{result.stdout.decode()}")
    return {name: statistics.median(values) for name, values in times.items()}


def import_cost_us(python, module, runs=9):
    costs = []
    for _ in range(runs):
        result = subprocess.run([python, "-I", "-X", "importtime", "-c", f"import {module}"],
                                capture_output=True, text=True)
        for line in result.stderr.splitlines():
            if line.split("|")[-1].strip() == module:
                costs.append(int(line.split("|")[1]))
    return statistics.median(costs) if costs else None


def measure(options, single):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    server = subprocess.Popen([sys.executable, monitor_support.__file__, "serve", json.dumps(listeners())],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        rows = []
        for monitor, port in (("http.monitor", HTTP_PORT), ("ftp.monitor", FTP_PORT)):
            slow = wall_times(commands(monitor, ["-p", str(port), "-t", "2", *GOOD, *HUNG]), options.slow_runs, 1)
            rows.append((f"{monitor}: 20 hosts, 5 never answer, -t 2", slow, 0.25))
            wall_times(commands(monitor, ["-p", str(port), GOOD[0]], single), 3, 0)  # warm caches
            cold = wall_times(commands(monitor, ["-p", str(port), GOOD[0]], single), options.cold_runs, 0)
            rows.append((f"{monitor}: cold start, 1 healthy host", cold, 1.5))
    finally:
        server.kill()
        server.wait()

    print(f"{'case':48} {'Perl ms':>9} {'ours ms':>9} {'ours/Perl':>9}  goal")
    for name, medians, goal in rows:
        for label in ("ours", "single"):
            if label not in medians:
                continue
            ratio = medians[label] / medians["perl"]
            verdict = "met" if ratio <= goal else "MISSED"
            case = name if label == "ours" else "  the same, the copied single file"
            print(f"{case:48} {medians['perl']:9.1f} {medians[label]:9.1f} {ratio:9.2f}  <= {goal} {verdict}")
    print(f"(medians: {options.slow_runs} runs each for the 20-host cases, {options.cold_runs} for cold starts)")

    print("\nimport cost, python3 -I -X importtime, cumulative us (median of 9):")
    for module in ("socket", "selectors", "threading", "re", "subprocess", "http.client", "urllib.request"):
        print(f"  {module:16} {import_cost_us(PYTHON, module):>8}")
    if options.requests_python:
        print(f"  {'requests':16} {import_cost_us(options.requests_python, 'requests'):>8}  ({options.requests_python})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slow-runs", type=int, default=3)
    parser.add_argument("--cold-runs", type=int, default=31)
    parser.add_argument("--requests-python", help="an interpreter with requests installed")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if not options.inside:
        # A private network namespace with only lo: nothing leaves the box, and the
        # servers vanish with it.
        os.execvp("unshare", ["unshare", "-n", sys.executable, __file__, "--inside", *sys.argv[1:]])
    if not (DROPINS / "http.monitor").is_file():
        raise SystemExit(f"bench/monitors.py: no {DROPINS}/http.monitor: run make dropins first")
    with tempfile.TemporaryDirectory(prefix="bench-monitors.") as alone:
        single = Path(alone) / "mon.d"   # copied alone, as an operator does
        single.mkdir()
        for monitor in ("http.monitor", "ftp.monitor"):
            shutil.copy2(DROPINS / monitor, single / monitor)
        measure(options, single)


if __name__ == "__main__":
    main()
