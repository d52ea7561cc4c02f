#!/usr/bin/python3 -IS
"""Debian's C ``cl_status`` against our own ``bin/cl_status``, both asking our daemon (issue 16,
item 5): is ours still needed now that Debian's talks to our daemon through the client API?

One node of ours runs alone in the namespace lab (as in tests/test_heartbeat_api_interop.py);
this script then re-executes itself in a private mount namespace where the node's run directory
is bind-mounted at /run/heartbeat, the path compiled into Debian's cl_status (and our default).
There, for each sub-command, runs alternate between the two programs (so drift in machine load
hits both alike); the first few are warm-up, then the median of RUNS wall times each.  Ours runs
as installed (``/usr/bin/python3 -IS``).  Both programs' stdout and exit codes are compared too.

    bench/cl_status_startup.py [RUNS]        (root; default 30 runs each)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
C_CL_STATUS = "/usr/bin/cl_status"
OURS = ["/usr/bin/python3", "-IS", str(REPO / "bin" / "cl_status")]
CASES = (["hbstatus"], ["listnodes"], ["nodestatus", "n1"], ["hbparameter", "-p", "deadtime"],
         ["listnodes", "-v"], ["clientstatus", "n1", "ipfail"])
WARMUP = 3
INSIDE = "CL_STATUS_BENCH_INSIDE_NAMESPACE"
_INIT = r"""
set -e
mount -t tmpfs -o mode=0755 bench-run /run
mkdir -p /run/heartbeat
mount --bind "$1" /run/heartbeat
shift
exec "$@"
"""


def timed(argv: list[str]) -> tuple[float, str, int]:
    started = time.perf_counter()
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            check=False)
    return time.perf_counter() - started, result.stdout, result.returncode


def bench(runs: int) -> int:
    print(f"cl_status against our daemon, median of {runs} runs each (+{WARMUP} warm-up)")
    ratios, differ = [], []
    for args in CASES:
        commands = {"debian (C)": [C_CL_STATUS, *args], "ours": [*OURS, *args]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        answers: dict[str, tuple[str, int]] = {}
        for round_number in range(WARMUP + runs):
            for name, argv in commands.items():
                elapsed, stdout, code = timed(argv)
                answers[name] = (stdout, code)
                if round_number >= WARMUP:
                    times[name].append(elapsed)
        c_ms, ours_ms = (statistics.median(times[n]) * 1000 for n in commands)
        ratios.append(ours_ms / c_ms)
        same = answers["debian (C)"] == answers["ours"]
        if not same:
            differ.append((args, answers))
        print(f"  {' '.join(args):<28} debian {c_ms:6.1f} ms   ours {ours_ms:6.1f} ms   "
              f"ratio {ours_ms / c_ms:5.2f}x   {'same answer' if same else 'DIFFERENT answer'}")
    print(f"median ratio ours/debian: {statistics.median(ratios):.2f}x")
    for args, answers in differ:
        print(f"  {' '.join(args)}: debian {answers['debian (C)']!r}, ours {answers['ours']!r}")
    return 0


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    if os.environ.get(INSIDE):
        return bench(runs)
    if os.geteuid() != 0 or not os.access(C_CL_STATUS, os.X_OK):
        print("bench/cl_status_startup.py: needs root and Debian's heartbeat package",
              file=sys.stderr)
        return 2
    from lvs_compat.lab import wait_for
    from lvs_compat.lab.heartbeat import Lab, ha_cf
    with tempfile.TemporaryDirectory(prefix="cl-status-bench.") as work:
        lab = Lab(Path(work), names=("n1",))
        try:
            node = lab.open().nodes[0]
            node.write_config(ha_cf(["n1", "n2"], media="bcast hb0", extra="ping 10.251.0.1"))
            node.start()
            wait_for(lambda: (node.rundir / "register").exists(), 30, 0.1, "comm-up")
            init = Path(work) / "init.sh"
            init.write_text(_INIT)
            env = dict(os.environ, **{INSIDE: "1"})
            return subprocess.run(["unshare", "--mount", "--propagation", "private", "/bin/sh",
                                   str(init), str(node.rundir), sys.executable, "-IS",
                                   str(Path(__file__).resolve()), str(runs)],
                                  env=env, check=False).returncode
        finally:
            lab.close()


if __name__ == "__main__":
    sys.exit(main())
