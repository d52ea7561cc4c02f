#!/usr/bin/env python3
"""Benchmark (issue 21, item 3): the ``lvs`` resource builds 100 virtual services x 10 real servers.

    sudo .venv/bin/python bench/lvs_table.py [--services 100] [--servers 10] [--rounds 3]
                                             [--baseline DIR] [--json]

Time from "start" to a complete IPVS table, in the tools/ipvs-vm guest (Debian's stock kernel
under QEMU, the real /sbin/ipvsadm 1.31: this host's kernel has no IPVS), one boot for the
whole run.  Each round, on an empty table (``ipvsadm -C`` before each):

* the seed's /etc/rc.d/init.d/lvs (../shared/seed/examples/lvs.init) with its ipvsadm lines
  scaled to the table (tests/lvs_table_support.py): one ipvsadm process per entry, 1,100;
* ours: ``ha.d/resource.d/lvs MON_CF start`` reading the same table from mon.cf (one hostgroup
  and watch per real server, the seed's lvs.alert lines): ipvsadm -S, one -R, -S;
* with ``--baseline DIR``: the resource script of another checkout (e.g. ``git archive`` of the
  commit before issue 21, unpacked), which ran one ipvsadm per entry.

After each, ``ipvsadm -L -n`` must be the same text for all of them, else the run fails.  Ours
is also timed without its mon.cf (``python3 -c`` that imports the script and builds the same
table with ``ipvs.Ipvsadm.restore``), to show what of its time is parsing mon.cf.  Prints the
medians and the ratios ours / seed.  Under QEMU's emulation (TCG, no KVM here) every process
start and Python import is slow; the ratios, not the seconds, carry over to a real director.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
import lvs_table_support  # noqa: E402

IPVSADM = "/sbin/ipvsadm"
GUEST_PYTHON = ["/usr/bin/python3", "-I"]  # as installed: Debian's python3, no venv
VM_TIMEOUT_S = 1800


def ipvsadm(*args: str) -> str:
    return subprocess.run([IPVSADM, *args], capture_output=True, text=True, check=True).stdout


def timed(argv: list[str], env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    ipvsadm("-C")
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"lvs_table: {argv[:4]} exited {result.returncode}: {result.stderr[-2000:]}")
    return elapsed, result


def count_entries(listed: str) -> int:
    """Services and real servers in ``ipvsadm -L -n`` (not its two header lines)."""
    return sum(1 for line in listed.splitlines()
               if line.startswith(("TCP ", "  -> ")) and "RemoteAddress" not in line)


def in_guest(options) -> int:
    """Runs in the guest: the rounds, then the result as JSON in ``options.out``."""
    work = Path(tempfile.mkdtemp(prefix="lvs-table-"))
    mon_cf = work / "mon.cf"
    mon_cf.write_text(lvs_table_support.mon_cf_text(options.services, options.servers))
    seed = work / "lvs.init"
    seed.write_text(lvs_table_support.seed_script_text(options.services, options.servers))
    batch = work / "batch.py"  # ours without mon.cf: the same plan, one -R
    batch.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from lvs_compat import ipvs\n"
        "import lvs_table_support\n"
        "entries = lvs_table_support.entries(int(sys.argv[1]), int(sys.argv[2]))\n"
        "batch = [['-A', '-t', vip, '-s', 'wlc'] for vip, _ in entries]\n"
        "batch += [['-a', '-t', vip, '-r', f'{server}:80', '-w', '5', '-g'] for vip, real in entries"
        " for server in real]\n"
        "ipvs.Ipvsadm().restore(batch)\n")
    cases = {
        "seed": (["sh", str(seed), "start"], None),
        "ours": ([*GUEST_PYTHON, str(REPO / "ha.d" / "resource.d" / "lvs"), str(mon_cf), "start"], None),
        "ours_without_mon_cf": ([*GUEST_PYTHON, str(batch), str(options.services), str(options.servers)], None),
    }
    if options.baseline:
        cases["baseline"] = ([*GUEST_PYTHON, str(Path(options.baseline) / "ha.d" / "resource.d" / "lvs"),
                              str(mon_cf), "start"], None)
    narration = open(Path(options.out) / "narration", "a", buffering=1)
    times: dict[str, list[float]] = {name: [] for name in cases}
    listed: dict[str, str] = {}
    env_run = dict(os.environ, LVS_COMPAT_RUN_DIR=str(work / "run"))
    for round_number in range(options.rounds):
        for name, (argv, _) in cases.items():
            elapsed, result = timed(argv, env_run)
            times[name].append(elapsed)
            table = ipvsadm("-L", "-n")
            if name in listed and listed[name] != table:
                raise SystemExit(f"lvs_table: {name} built another table in round {round_number + 1}")
            listed[name] = table
            entries = count_entries(table)
            narration.write(f"round {round_number + 1}: {name} {elapsed:.2f} s, {entries} entries\n")
    ipvsadm("-C")
    reference = listed["seed"]
    expected_lines = options.services * (options.servers + 1)
    result = {
        "services": options.services, "servers": options.servers, "rounds": options.rounds,
        "seconds": {name: [round(t, 3) for t in values] for name, values in times.items()},
        "median": {name: round(statistics.median(values), 3) for name, values in times.items()},
        "same_table": {name: table == reference for name, table in listed.items()},
        "entries": count_entries(reference),
        "expected_entries": expected_lines,
    }
    (Path(options.out) / "result.json").write_text(json.dumps(result))
    narration.write("done\n")
    return 0


def on_host(options) -> int:
    from lvs_compat.guestrun import EXIT_TIMEOUT, EXIT_VM_FAILURE, python_for_guest, run_in_guest

    out = REPO / "build" / "bench-lvs-table"
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").unlink(missing_ok=True)
    (out / "narration").unlink(missing_ok=True)
    argv = [python_for_guest(), str(Path(__file__).resolve()), "--in-guest", "--out", str(out),
            "--services", str(options.services), "--servers", str(options.servers),
            "--rounds", str(options.rounds)]
    shares: tuple[str, ...] = ()
    if options.baseline:
        argv += ["--baseline", str(Path(options.baseline).resolve())]
        shares = (f"{Path(options.baseline).resolve()}:ro",)
    started = time.monotonic()
    status = run_in_guest(argv, out, "narration", VM_TIMEOUT_S, "lvs_table", shares=shares)
    if status in (EXIT_TIMEOUT, EXIT_VM_FAILURE) or status != 0:
        return 1
    result = json.loads((out / "result.json").read_text())
    result["guest_run_seconds"] = round(time.monotonic() - started, 1)
    seed = result["median"]["seed"]
    result["ratio_to_seed"] = {name: round(value / seed, 3) for name, value in result["median"].items()}
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"lvs resource, {result['services']} services x {result['servers']} real servers "
              f"({result['entries']} entries in ipvsadm -L -n), median of {result['rounds']} rounds, "
              f"tools/ipvs-vm guest (TCG), one boot of {result['guest_run_seconds']} s")
        for name, median in result["median"].items():
            print(f"  {name:<22}{median:>8.2f} s   ratio to seed {result['ratio_to_seed'][name]:.3f}   "
                  f"same table as seed: {result['same_table'][name]}   runs {result['seconds'][name]}")
    ok = all(result["same_table"].values()) and result["entries"] == result["expected_entries"]
    if not ok:
        print("lvs_table: the tables differ, or are not complete", file=sys.stderr)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--servers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", metavar="DIR", help="another checkout's resource script, timed beside")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--in-guest", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    options = parser.parse_args()
    return in_guest(options) if options.in_guest else on_host(options)


if __name__ == "__main__":
    sys.exit(main())
