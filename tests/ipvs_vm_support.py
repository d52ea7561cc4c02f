"""The real-IPVS scenario, run INSIDE the VM (tools/ipvs-vm) in one boot.

It makes no judgement: each step runs lvs.alert or the lvs resource script
against the guest kernel's real IPVS table through the real /sbin/ipvsadm,
and records exit status, stderr and the table afterwards (``ipvsadm -S -n``
and ``-L -n``).  tests/test_ipvs_real.py asserts on the record, step by step; the last step,
keepalived with the exported keepalived.conf (tests/ipvs_vm_keepalived.py), is judged by
tests/test_export_keepalived_ipvs.py.
The record is printed as one JSON line after the marker line.

Python under TCG is ~16x slower and every import reads over 9p, so the
scenario starts as few interpreters as it can (~40).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import lvs_table_support
from ipvs_vm_keepalived import keepalived_record

REPO = Path(__file__).resolve().parent.parent
ALERT = ["/usr/bin/python3", "-I", str(REPO / "alert.d" / "lvs.alert")]
RESOURCE = ["/usr/bin/python3", "-I", str(REPO / "ha.d" / "resource.d" / "lvs")]
SEED_MON_CF = str(REPO / "examples" / "seed" / "mon.cf")
MON = ["-s", "http", "-g", "www1", "-h", "www1.domain.com"]
LINE1 = ["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5", "-F", "dr"]
MARKER = "=== ipvs-vm scenario record ==="
# issue 21, item 3: the table ours builds at this size is compared with the seed script's
TABLE_SERVICES, TABLE_SERVERS = 100, 10
# the seed's script itself, one ipvsadm per entry (~0.1-0.3 s each under emulation), on a part
TABLE_SEED_SERVICES = 3
# a conflicting entry slipped into ours' -R batch before its 5th line (the 2nd real server of
# the first service of a 3 x 3 table): ipvsadm refuses that line, goes on and exits 0
INJECTED_LINE = "-a -t 10.10.0.1:80 -r 192.168.0.2 -w 1 -g"
INJECTING_IPVSADM = f"""#!/bin/sh
if [ "$1" = -R ]; then
    awk 'NR == 5 {{ print "{INJECTED_LINE}" }} {{ print }}' | /sbin/ipvsadm -R
    exit $?
fi
exec /sbin/ipvsadm "$@"
"""
SCENARIO_EXIT_STATUS = 3


class SyslogCollector:
    """A /dev/log (datagram) that keeps what lvs.alert sends: the guest has no syslogd."""

    def __init__(self, path: str = "/dev/log"):
        if os.path.exists(path):
            os.unlink(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        self.lines: list[str] = []
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self) -> None:
        while True:
            self.lines.append(self.socket.recv(65536).decode(errors="replace"))


def ipvsadm(*args: str) -> str:
    return subprocess.run(["/sbin/ipvsadm", *args], capture_output=True, text=True, check=False).stdout


def main() -> int:
    syslog = SyslogCollector()
    record: dict[str, dict] = {}
    tick = iter(range(1700000000, 1700001000))

    def step(name: str, argv: list[str], stdin: str = "", env: dict | None = None) -> None:
        started = time.monotonic()
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, env=env)
        record[name] = {"argv": argv, "rc": result.returncode, "stdout": result.stdout,
                        "stderr": result.stderr, "seconds": round(time.monotonic() - started, 2),
                        "saved": ipvsadm("-S", "-n"), "listed": ipvsadm("-L", "-n")}

    def alert(name: str, *args: str) -> None:
        step(name, [*ALERT, *MON, "-t", str(next(tick)), *args], stdin="www1.domain.com: refused\n")

    # A service lvs.alert and lvs never own: it must survive everything below.
    ipvsadm("-A", "-u", "10.0.0.9:53", "-s", "rr")
    step("status_before_start", [*RESOURCE, SEED_MON_CF, "status"])
    step("start", [*RESOURCE, SEED_MON_CF, "start"])
    step("start_again", [*RESOURCE, SEED_MON_CF, "start"])
    step("status_after_start", [*RESOURCE, SEED_MON_CF, "status"])
    alert("down", *LINE1)
    alert("down_again", *LINE1)
    alert("up", "-u", *LINE1)
    alert("up_again", "-u", *LINE1)
    alert("up_new_weight_nat", "-u", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "9", "-F", "nat")
    alert("quiesce_down", "-Q", "-L", "local3", *LINE1)
    alert("quiesce_up", "-u", "-Q", *LINE1)
    alert("ipv6_up_creating_service", "-u", "-B", "-S", "rr", "-P", "tcp", "-V", "[2001:db8::1]:80",
          "-R", "[2001:db8::2]", "-W", "3", "-F", "tun")
    alert("bad_input", "-u", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1;ipvsadm -C", "-W", "5")
    alert("up_without_service", "-u", "-P", "udp", "-V", "10.0.0.7:53", "-R", "192.168.0.1", "-W", "5")

    # mon's maxprocs 20: twenty alerts at once, shuffled, each with its own -t.
    rng = random.Random(8)
    servers = [f"192.168.0.{n}" for n in range(1, 5)]
    verdicts = [(next(tick), rng.choice(servers), rng.choice([True, False])) for _ in range(20)]
    order = verdicts[:]
    rng.shuffle(order)
    alerts = [subprocess.Popen([*ALERT, *MON, "-t", str(when), *(["-u"] if up else []), "-P", "tcp", "-V",
                                "10.0.0.3:80", "-R", server, "-W", "5", "-F", "dr"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
              for when, server, up in order]
    errors = [proc.stderr.read() for proc in alerts if proc.wait() != 0]
    record["concurrent"] = {"verdicts": verdicts, "errors": errors, "saved": ipvsadm("-S", "-n")}

    step("stop", [*RESOURCE, SEED_MON_CF, "stop"])
    step("status_after_stop", [*RESOURCE, SEED_MON_CF, "status"])
    step("stop_again", [*RESOURCE, SEED_MON_CF, "stop"])
    # keepalived with the exported keepalived.conf, on the table lvs left (test_export_keepalived_ipvs.py)
    record["keepalived"] = keepalived_record()
    record["syslog"] = {"lines": syslog.lines}
    with open("/proc/sys/net/ipv4/ip_forward") as knob:
        record["ip_forward"] = {"value": knob.read().strip()}
    large_table(step)
    print(MARKER)
    print(json.dumps(record))
    # Not 0: the host checks that tools/ipvs-vm passes the guest's exit status through.
    return SCENARIO_EXIT_STATUS


def large_table(step) -> None:
    """Ours builds 100 services x 10 real servers from mon.cf; the seed script's own lines build
    the same table (as one ``ipvsadm -R`` here: 1,100 processes would take minutes under
    emulation, bench/lvs_table.py times them), and the seed script itself, one process per
    entry, builds the first services; then a refused line in ours' batch on the real kernel."""
    work = Path(tempfile.mkdtemp(prefix="lvs-table-"))
    env = dict(os.environ, LVS_COMPAT_RUN_DIR=str(work / "run"))
    mon_cf = work / "mon.cf"
    mon_cf.write_text(lvs_table_support.mon_cf_text(TABLE_SERVICES, TABLE_SERVERS))
    ipvsadm("-C")
    step("table_ours", [*RESOURCE, str(mon_cf), "start"], env=env)
    ipvsadm("-C")
    seed = lvs_table_support.seed_script_text(TABLE_SERVICES, TABLE_SERVERS)
    seed_lines = "".join(line.strip().removeprefix("$IPVSADM ") + "\n" for line in seed.splitlines()
                         if line.strip().startswith(("$IPVSADM -A ", "$IPVSADM -a ")))
    step("table_seed_lines", ["/sbin/ipvsadm", "-R"], stdin=seed_lines)
    ipvsadm("-C")
    script = work / "lvs.init"
    script.write_text(lvs_table_support.seed_script_text(TABLE_SEED_SERVICES, TABLE_SERVERS))
    step("table_seed_script", ["sh", str(script), "start"])
    ipvsadm("-C")
    ipvsadm("-A", "-u", "10.0.0.9:53", "-s", "rr")  # not ours: must be there after the undo
    small = work / "small.cf"
    small.write_text(lvs_table_support.mon_cf_text(3, 3))
    injecting = work / "ipvsadm"
    injecting.write_text(INJECTING_IPVSADM)
    injecting.chmod(0o755)
    step("table_refused_line", [*RESOURCE, str(small), "start"], env=dict(env, IPVSADM=str(injecting)))
    ipvsadm("-C")


if __name__ == "__main__":
    sys.exit(main())
