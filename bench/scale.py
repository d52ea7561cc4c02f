#!/usr/bin/env python3
"""Benchmark (issue 21): thousands of real servers, ours beside Debian's Perl monitors, one run.

    sudo bench/scale.py [--quick] [--runs 3]

Everything happens in a private network namespace (``unshare -n``: only ``lo``). Every
host is a real listener of its own on 127.1.x.y (tests/scale_support.py: one process,
one selectors loop); 5 % of them accept and never answer. Each monitor runs as mon
runs it, under a soft RLIMIT_NOFILE of 1024 (``prlimit --nofile=1024:HARD``), ours as
`make install` installs it (``/usr/bin/python3 -IS``). Measured per case: wall time of
the whole monitor process (median of ``--runs``), its peak RSS (GNU time's ``%M``,
the largest of the runs), and whether the summary names exactly the hung
hosts (``exact``: every run's summary named exactly the hung hosts; ``no(N)``: N hosts
wrongly in or out of the worst run's summary). Run it on an otherwise idle machine:
5,000 healthy hosts take ours ~0.3 s, but two cores shared with a test run can
starve the servers or the monitor past the deadline.

  (a) http.monitor and ftp.monitor, ``-t 2``, 1,000 and 5,000 hosts:
      goals for ours: wall <= timeout + 0.5 s, RSS <= 64 MiB, summary exact;
  (b) fping.monitor over 1,000 hosts (``-r 1 -t 500``), 5 % dropped by an nft rule.

The Perl http/ftp monitors check one host after another, each hung host costing the
whole ``-t``: 1,000 hosts with 50 hung take over 100 s. They are therefore run at a
cut-off of ``PERL_CUTOFF`` hosts (the same 5 % hung) and their time is extrapolated
linearly to the full size (``t(N) = t(cutoff) * N / cutoff``; their cost is per host,
and the hung share is the same); the table marks those figures ``~``. Perl's
fping.monitor runs the same fping as ours, at full size. ``--quick``: 1,000 hosts
only, a Perl cut-off of 20, no fping, one run.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import scale_support  # noqa: E402

PERL = Path("/usr/lib/mon/mon.d")
PYTHON = "/usr/bin/python3"
HTTP_PORT, FTP_PORT = 8001, 2121
TIMEOUT_S = 2
PERL_CUTOFF = 100
QUICK_PERL_CUTOFF = 20
WALL_GOAL_S = TIMEOUT_S + 0.5
RSS_GOAL_MIB = 64
FPING_ARGS = ["-r", "1", "-t", "500"]


def hosts_and_hung(count):
    hosts = scale_support.hosts_in_range(count)
    return hosts, set(hosts[::20])


def command(who, monitor, args):
    soft_1024 = ["prlimit", f"--nofile=1024:{resource.getrlimit(resource.RLIMIT_NOFILE)[1]}", "--"]
    if who == "perl":
        return [*soft_1024, str(PERL / monitor), *args]
    return [*soft_1024, PYTHON, "-IS", str(REPO / "mon.d" / monitor), *args]


def run_once(argv):
    """(wall s, peak RSS MiB, exit status, stdout) of one monitor process.

    The peak RSS comes from GNU time (``%M``), a small C program that forks the
    monitor: ru_maxrss of a child forked straight from this (larger) Python process
    would start at this process's size, as the kernel keeps the high-water mark
    across fork and exec."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as rss_file:
        started = time.perf_counter()
        process = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *argv],
                                 stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        out.seek(0)
        peak_kib = int(rss_file.read().split()[-1])
        return wall, peak_kib / 1024, process.returncode, out.read().decode(errors="replace")


def measure(argv, runs, expected_failed):
    """(median wall s, largest RSS MiB, worst run's hosts wrongly in or out of the
    summary: 0 means every run named exactly ``expected_failed`` with exit 1)."""
    walls, rss, wrong = [], [], 0
    for _ in range(runs):
        wall, peak, status, stdout = run_once(argv)
        walls.append(wall)
        rss.append(peak)
        summary = set(stdout.split("\n", 1)[0].split())
        wrong = max(wrong, len(summary ^ expected_failed) + (status != (1 if expected_failed else 0)))
    return statistics.median(walls), max(rss), wrong


def start_servers(protocol, port, hosts, hung, directory):
    spec = {"port": port, "protocol": protocol, "hosts": {host: "hung" if host in hung else "ok" for host in hosts}}
    spec_file = Path(directory) / f"{protocol}.json"
    spec_file.write_text(json.dumps(spec))
    server = subprocess.Popen([sys.executable, scale_support.__file__, str(spec_file)], stdout=subprocess.PIPE, text=True)
    if server.stdout.readline().strip() != "ready":
        raise SystemExit(f"{protocol} servers did not start")
    return server


def drop_ping(addresses):
    rules = ["add table inet benchscale",
             "add chain inet benchscale in { type filter hook input priority 0; }",
             "add set inet benchscale dropped { type ipv4_addr; }",
             "add element inet benchscale dropped { " + ", ".join(sorted(addresses)) + " }",
             "add rule inet benchscale in ip daddr @dropped icmp type echo-request drop"]
    subprocess.run(["nft", "-f", "-"], input="\n".join(rules) + "\n", text=True, check=True)


def measure_all(options):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    scale_support.raise_own_nofile()
    sizes = [1000] if options.quick else [1000, 5000]
    cutoff = QUICK_PERL_CUTOFF if options.quick else PERL_CUTOFF
    largest_hosts, largest_hung = hosts_and_hung(max(sizes))
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        servers = [start_servers("http", HTTP_PORT, largest_hosts, largest_hung, directory),
                   start_servers("ftp", FTP_PORT, largest_hosts, largest_hung, directory)]
        try:
            for monitor, port in (("http.monitor", HTTP_PORT), ("ftp.monitor", FTP_PORT)):
                args = ["-p", str(port), "-t", str(TIMEOUT_S)]
                perl_hosts, perl_hung = hosts_and_hung(cutoff)
                perl = measure(command("perl", monitor, [*args, *perl_hosts]), options.perl_runs, perl_hung)
                for size in sizes:
                    hosts, hung = hosts_and_hung(size)
                    ours = measure(command("ours", monitor, [*args, *hosts]), options.runs, hung)
                    perl_wall = perl[0] * size / cutoff
                    rows.append((f"{monitor} {size} hosts, {len(hung)} hung, -t {TIMEOUT_S}", perl_wall, perl[1],
                                 perl[2], ours, True))
        finally:
            for server in servers:
                server.kill()
                server.wait()
    if not options.quick:
        hosts, dropped = hosts_and_hung(1000)
        drop_ping(dropped)
        perl = measure(command("perl", "fping.monitor", [*FPING_ARGS, *hosts]), 1, dropped)
        ours = measure(command("ours", "fping.monitor", [*FPING_ARGS, *hosts]), 1, dropped)
        rows.append((f"fping.monitor 1000 hosts, {len(dropped)} dropped, {' '.join(FPING_ARGS)}",
                     perl[0], perl[1], perl[2], ours, False))

    print(f"{'case':44} {'Perl s':>9} {'ours s':>7} {'ours/Perl':>9} {'Perl MiB':>8} {'ours MiB':>8}"
          f" {'exact P/o':>9}  goals (ours)")
    missed = False
    for name, perl_wall, perl_rss, perl_wrong, (wall, rss, wrong), extrapolated in rows:
        goals = ""
        if name.startswith(("http", "ftp")):
            met = wall <= WALL_GOAL_S and rss <= RSS_GOAL_MIB and not wrong
            missed |= not met
            goals = f"<= {WALL_GOAL_S} s, <= {RSS_GOAL_MIB} MiB: {'met' if met else 'MISSED'}"
        perl_text = f"{'~' if extrapolated else ''}{perl_wall:.2f}"
        perl_exact_text = "-" if extrapolated else ("yes" if not perl_wrong else f"no({perl_wrong})")
        ours_exact_text = "yes" if not wrong else f"no({wrong})"
        print(f"{name:44} {perl_text:>9} {wall:7.2f} {wall / perl_wall:9.3f} {perl_rss:8.1f} {rss:8.1f}"
              f" {perl_exact_text + '/' + ours_exact_text:>9}  {goals}")
    print(f"(~: Perl measured at {cutoff} hosts, same 5 % hung, scaled by hosts/{cutoff}; "
          f"Perl's summary checked at that size: {'exact' if not any(row[3] for row in rows) else 'NOT exact'}; "
          f"ours: median of {options.runs} runs, RSS the largest; soft RLIMIT_NOFILE 1024 for both)")
    return 1 if missed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 hosts, Perl cut-off 20, no fping, one run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--perl-runs", type=int, default=1)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.quick:
        options.runs = 1
    if not options.inside:
        # A private network namespace with only lo: nothing leaves the box, and the
        # servers and the nft rules vanish with it.
        os.execvp("unshare", ["unshare", "-n", sys.executable, __file__, "--inside", *sys.argv[1:]])
    sys.exit(measure_all(options))


if __name__ == "__main__":
    main()
