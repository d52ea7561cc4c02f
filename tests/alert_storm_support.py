"""A storm of lvs.alert runs (issue 21): many verdicts launched at once, as mon does
when many services fail together. Shared by tests/test_lvs_alert.py and
bench/lvs_alert_storm.py, so it imports nothing outside the standard library."""

from __future__ import annotations

import random
import subprocess
import time


class StormResult:
    """What a storm of alerts left behind: exit statuses, messages, timings."""

    def __init__(self, verdicts, statuses, stderrs, setup_s, total_s):
        self.verdicts = verdicts          # (epoch, server, up) in launch order
        self.statuses = statuses
        self.stderrs = stderrs
        self.setup_s = setup_s    # forking them all behind the barrier (not part of the storm)
        self.total_s = total_s    # barrier lifted to the last exit

    def newest(self) -> dict[str, bool]:
        """Each server's newest verdict (highest -t): what the table must end with."""
        latest: dict[str, tuple[int, bool]] = {}
        for when, server, up in self.verdicts:
            if server not in latest or when > latest[server][0]:
                latest[server] = (when, up)
        return {server: up for server, (_, up) in latest.items()}


def storm_verdicts(servers: int, seed: int) -> list[tuple[int, str, bool]]:
    """Two verdicts per server, a monitor interval apart (-t differs), with random
    up/down, in shuffled launch order: about half the newer ones start first."""
    rng = random.Random(seed)
    verdicts = []
    for n in range(servers):
        server = f"192.168.{n // 250}.{n % 250 + 1}"
        verdicts += [(1700000000, server, rng.choice([True, False])), (1700000005, server, rng.choice([True, False]))]
    rng.shuffle(verdicts)
    return verdicts


def alert_storm(command: list[str], env: dict[str, str], verdicts: list[tuple[int, str, bool]],
                vip: str = "10.0.0.3:80", timeout_s: float = 300) -> StormResult:
    """Run one alert per verdict, all released at the same instant, as mon does for
    many services failing together (``command``: the alert, e.g. [python3, -IS,
    alert.d/lvs.alert]); wait for all.

    Each alert is started behind a barrier (``flock -s`` on a file this process holds
    exclusively) and says it is there by creating a file; once all are there the
    barrier is lifted, so the alerts arrive within milliseconds of each other however
    long it took to fork them."""
    import fcntl
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="alert-storm.") as work:
        barrier = os.path.join(work, "barrier")
        waiting = os.path.join(work, "waiting")
        os.mkdir(waiting)
        holder = os.open(barrier, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(holder, fcntl.LOCK_EX)
        forking = time.monotonic()
        alerts = []
        for when, server, up in verdicts:
            argv = [*command, "-s", "http", "-g", server, "-h", server, "-t", str(when), *(["-u"] if up else []),
                    "-P", "tcp", "-V", vip, "-R", server, "-W", "5", "-F", "dr"]
            alerts.append(subprocess.Popen(
                ["sh", "-c", ': > "$0/$$"; barrier=$1; shift; exec flock -s "$barrier" "$@"', waiting, barrier, *argv],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        deadline = time.monotonic() + timeout_s
        while len(os.listdir(waiting)) < len(alerts) and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a condition with a deadline, not a fixed wait
        released = time.monotonic()
        os.close(holder)  # lifts the barrier: every alert starts now
        statuses, stderrs = [], []
        for alert in alerts:
            stderrs.append(alert.stderr.read().decode(errors="replace"))
            statuses.append(alert.wait(timeout=timeout_s))
        return StormResult(verdicts, statuses, stderrs, released - forking, time.monotonic() - released)
