"""The second lane: make test's host tests that share nothing with the lab, in a second pytest
process beside the main one.

Why: the main process runs the lab first (marker ``lab``: namespaces and real daemons waiting on
heartbeat's timers, about 550 s one after the other, the CPU mostly idle), the background guest
chain keeps one core busy (QEMU under emulation, tests/background_guests.py), and the other host
tests (units, the simulator, fuzz: CPU, no waiting) used to run after the lab, one after the
other: the run took the sum.  The lane runs those host tests from the first minute on the core
the lab leaves idle, so the run takes about the lab plus the few tests kept in the main process.

Which tests: every module whose tests are neither ``lab`` nor ``guest`` nor ``slow``, and the lab
modules of LAB_IN_LANE.  Lane modules start no daemon outside their own tmp_path, containers or
namespaces whose names carry the lane's pid, or a private mount namespace (the lab's C nodes have
theirs too), bind only ports they chose free or addresses in their own namespaces; those that
judge wall time (monitor deadlines under a 5,000-host load, a hung agent killed on time) allow
seconds, and passed beside a CPU hog (issue 13 item 4), which is the load the lane adds to the
lab.  The modules that run ``make`` in this checkout (RUN_MAKE: ``make install`` and ``make deb``
both rebuild build/dropins) run in one process, the lane, one after the other; if one of them
cannot go to the lane, none does.

When: at the start of the session (a core is idle from the first lab test on); without a guest
chain (no root or no QEMU) too.

Which runs use it: only ``make test`` (``LVS_COMPAT_LANE=on``) with pytest's default selection
(no ``-k``, the default ``-m``), so that the lane runs exactly the tests the main process
deselected; its junit XML is checked for that count.  The lane's process has
no ``LVS_COMPAT_LANE`` (a variable of ours that resource scripts would see) and never starts
another.  A failure, an error or a missing test in the
lane fails the run and its whole output is printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from background_guests import terminate_group, terminate_with_parent

REPO = Path(__file__).resolve().parent.parent
ENV = "LVS_COMPAT_LANE"
NOT_IN_LANE = ("guest", "slow")      # markers of tests the lane never takes (slow: neither
                                     # process runs them; the lane deselects them itself); and
                                     # "lab" outside LAB_IN_LANE
DEFAULT_MARKEXPR = "not slow"        # setup.cfg's addopts, also the lane's selection
# lab modules the lane takes, and why they may run beside the lab
LAB_IN_LANE = {
    # 75 s alone (make deb with lintian, two booted containers), about 110 s in make test: the
    # lab's longest module, and self-contained: systemd-nspawn containers and namespaces named
    # after its pytest process's pid, on a bridge of its own, their own heartbeat timers
    "test_deb_systemd.py": "booted containers of its own; make deb (RUN_MAKE)",
}
# modules that run make in this checkout (they rewrite build/): one process runs them all
RUN_MAKE = {
    "test_deb_systemd.py": "make deb (make install into build/deb, build/dropins, lintian)",
    "test_install.py": "make install and make uninstall (rebuild build/dropins)",
    "test_heartbeat_daemon_units.py": "make install (build/dropins)",
    "test_monitor_deadline.py": "make install (build/dropins)",
}
# The lane yields to the lab's daemons and to the guest chain, the run's critical path (QEMU
# under emulation, up to two cores): its own process, and its session's autogroup where the
# kernel groups sessions (CONFIG_SCHED_AUTOGROUP: there a process's nice only counts inside
# its session).  The lane still ends before the main process (about 470 s of lab).
LANE_NICE = 5
WAIT_LIMIT_S = 1800                  # far beyond its ~6 minutes: a hung lane still ends the run
SLOWEST = 15


def wanted(config) -> bool:
    """This process is make test's main one, with the default selection."""
    return (os.environ.get(ENV) == "on" and not config.option.keyword
            and not config.option.collectonly
            and config.option.markexpr == DEFAULT_MARKEXPR)


def _in_the_lane() -> None:
    """In the lane's process, after setsid: SIGTERM with the parent, and a lower priority."""
    terminate_with_parent()
    os.nice(LANE_NICE)
    try:
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(LANE_NICE))
    except OSError:             # no autogroup in this kernel: the process's nice is enough
        pass


def eligible(item) -> bool:
    if any(item.get_closest_marker(name) for name in NOT_IN_LANE):
        return False
    return item.get_closest_marker("lab") is None or item.path.name in LAB_IN_LANE


def lane_items(items: list) -> list:
    """The items of every module all of whose items may run in the lane (the lane's process is
    given whole modules), the RUN_MAKE modules all or none."""
    by_module: dict = {}
    for item in items:
        by_module.setdefault(item.path, []).append(item)
    whole = {path for path, its in by_module.items() if all(eligible(item) for item in its)}
    makers = {path for path in by_module if path.name in RUN_MAKE}
    if not makers <= whole:
        whole -= makers
    return [item for item in items if item.path in whole]


class Lane:
    def __init__(self, nodeids: list[str], base: Path, t0: float, cwd: Path = REPO):
        self.nodeids = nodeids
        self.cwd = cwd
        self.files = sorted({nodeid.split("::", 1)[0] for nodeid in nodeids})
        self.base = base
        self.t0 = t0                  # the session's start, for "started N s into the run"
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.returncode: int | None = None
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @property
    def log(self) -> Path:
        return self.base / "lane.log"

    @property
    def junit(self) -> Path:
        return self.base / "lane.xml"

    def start(self) -> None:
        with self._lock:
            if self._process is not None:
                return
            self.started_at = time.monotonic()
            env = {name: value for name, value in os.environ.items() if name != ENV}
            argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--durations={SLOWEST}", "-m", DEFAULT_MARKEXPR,
                    f"--junitxml={self.junit}", *self.files]
            with open(self.log, "wb") as log:
                self._process = subprocess.Popen(argv, cwd=self.cwd, env=env, stdout=log,
                                                 stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                                 preexec_fn=_in_the_lane)
            threading.Thread(target=self._note_end, name="lane-end", daemon=True).start()

    def _note_end(self) -> None:
        self._process.wait()
        self.ended_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def wait(self) -> int:
        self.start()
        try:
            self.returncode = self._process.wait(timeout=WAIT_LIMIT_S)
        except subprocess.TimeoutExpired:
            self.stop()
            self.returncode = -1
        if self.ended_at is None:
            self.ended_at = time.monotonic()
        return self.returncode

    def stop(self) -> None:
        terminate_group(self._process)

    def counts(self) -> dict[str, int]:
        """tests/failures/errors/skipped from the lane's junit XML ({} if it wrote none)."""
        if not self.junit.exists():
            return {}
        root = ET.parse(self.junit).getroot()
        suites = [root] if root.tag == "testsuite" else list(root)
        counts = {key: sum(int(suite.get(key, 0)) for suite in suites)
                  for key in ("tests", "failures", "errors", "skipped")}
        # an expected failure is written as a skip of type pytest.xfail: not a skip
        counts["xfailed"] = sum(1 for skipped in root.iter("skipped")
                                if skipped.get("type") == "pytest.xfail")
        counts["skipped"] -= counts["xfailed"]
        return counts

    def verdict(self) -> tuple[bool, str]:
        counts = self.counts()
        passed = counts.get("tests", 0) - sum(counts.get(key, 0)
                                              for key in ("failures", "errors", "skipped",
                                                          "xfailed"))
        # pytest's exit 0: nothing failed (under CI=true a skip is a failure, tests/conftest.py);
        # the count: every test taken from the main run ran here
        missing = len(self.nodeids) - counts.get("tests", 0)
        ok = self.returncode == 0 and missing == 0
        started = self.started_at - self.t0 if self.started_at else 0.0
        took = (self.ended_at - self.started_at) if self.ended_at and self.started_at else 0.0
        line = (f"second lane ({len(self.files)} modules of host tests): "
                f"{passed} of {len(self.nodeids)} passed, {counts.get('xfailed', '?')} xfailed, "
                f"exit {self.returncode}, "
                f"started {started:.0f} s into the run, took {took:.0f} s "
                f"(failures {counts.get('failures', '?')}, errors {counts.get('errors', '?')}, "
                f"skipped {counts.get('skipped', '?')})"
                + (f"; {missing} of the tests taken from the main run did not run here"
                   if missing else ""))
        return ok, line

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def slowest(self) -> list[str]:
        lines = self.output().splitlines()
        for index, line in enumerate(lines):
            if f"slowest {SLOWEST} durations" in line:
                return [text for text in lines[index + 1:index + 1 + SLOWEST] if text.strip()]
        return []
