#!/usr/bin/python3 -IS
"""lvs.alert under a storm (issue 21, item 4): 200 alerts launched within a second.

100 real servers change state together and mon calls the alert twice for each (two
verdicts a monitor interval apart, ``-t`` 5 s apart, random up/down), all 200 at once
in shuffled order, so about half the newer verdicts start before the older ones;
all are forked first behind a barrier and released at the same instant
(tests/alert_storm_support.py).
The same storm is run with ours and with the seed's Perl lvs.alert, each against a
fresh table in the FAKE ipvsadm (tests/fake_ipvsadm, bind-mounted over
/usr/sbin/ipvsadm in a private mount namespace, because the seed hard-codes
/sbin/ipvsadm; like the kernel the fake has no lock of its own). Reported for each:
the total time from the release to the last exit, how many
alerts exited non-zero, and how many servers the table ends with in a state other
than their newest verdict.

    bench/lvs_alert_storm.py [SERVERS]        (root; default 100 servers, 200 alerts)

Most of the time is the FAKE ipvsadm's own interpreter start (~30 ms a call, one or
two calls per alert, serialized by ours): a C ipvsadm takes ~1 ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from alert_storm_support import alert_storm, storm_verdicts  # noqa: E402

SEED = REPO.parent / "shared" / "seed" / "examples" / "lvs.alert.pl"
OURS = REPO / "alert.d" / "lvs.alert"
FAKE_IPVSADM = REPO / "tests" / "fake_ipvsadm"
INSIDE = "LVS_ALERT_STORM_INSIDE_NAMESPACE"
VIP = "10.0.0.3:80"


def table(env: dict[str, str]) -> set[str]:
    saved = subprocess.run([str(FAKE_IPVSADM), "-S", "-n"], env=dict(env, FAKE_IPVSADM_LOG=""),
                           capture_output=True, text=True, check=True).stdout
    return {line.split()[4].rsplit(":", 1)[0] for line in saved.splitlines() if line.startswith("-a ")}


def one_storm(name: str, command: list[str], servers: int, work: Path) -> None:
    directory = work / name.split()[0]
    directory.mkdir()
    env = dict(os.environ, FAKE_IPVSADM_TABLE=str(directory / "table.json"), LVS_COMPAT_RUN_DIR=str(directory / "run"),
               PATH="/usr/bin:/bin:" + os.environ.get("PATH", ""))
    env.pop("IPVSADM", None)  # ours must find /sbin/ipvsadm, as the seed does
    subprocess.run([str(FAKE_IPVSADM), "-A", "-t", VIP, "-s", "wlc"], env=env, check=True)
    storm = alert_storm(command, env, storm_verdicts(servers, seed=21), VIP)
    present = table(env)
    wrong = sum((server in present) != up for server, up in storm.newest().items())
    failed = sum(status != 0 for status in storm.statuses)
    print(f"  {name:20} {len(storm.verdicts)} alerts released at once, all done in {storm.total_s:5.2f} s "
          f"({storm.total_s / len(storm.verdicts) * 1000:4.1f} ms per alert); {failed:3} exited non-zero; "
          f"{wrong:3} of {servers} servers not at their newest verdict")


def bench(servers: int, work: Path) -> int:
    print(f"lvs.alert storm: {servers} servers, 2 verdicts each, all alerts at once (FAKE ipvsadm as /sbin/ipvsadm)")
    one_storm("seed (perl)", ["/usr/bin/perl", str(SEED)], servers, work)
    one_storm("ours (python3 -IS)", ["/usr/bin/python3", "-IS", str(OURS)], servers, work)
    return 0


def main() -> int:
    servers = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    if os.environ.get(INSIDE):
        return bench(servers, Path(os.environ[INSIDE]))
    with tempfile.TemporaryDirectory(prefix="lvs-alert-storm.") as work:
        env = dict(os.environ, **{INSIDE: work})
        script = 'mount --bind "$1" /usr/sbin/ipvsadm && shift && exec "$@"'
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                               str(FAKE_IPVSADM), "/usr/bin/python3", "-IS", str(Path(__file__).resolve()),
                               str(servers)], env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
