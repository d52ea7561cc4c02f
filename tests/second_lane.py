"""The second lane: make test's pure CPU layers (markers ``fuzz`` and ``simulator``) in a second
pytest process, beside the main one, once a core is free.

Why: for its first minutes ``make test`` keeps both cores busy, one with the background guest
chain (QEMU under emulation, tests/background_guests.py), the other with the host tests.  When
the chain ends, one core is idle while the host tests still have minutes to go.  The lane runs
the fuzz and simulator modules on it.  Those tests share nothing with the others (no namespace,
no daemon, no port, no file outside pytest's tmp_path; the simulator's clock and bus are fakes)
and none judges wall-clock time, so running them beside the rest changes no verdict.

When: at the end of the guest chain; or, if the host tests get to their end first, when the
first ``guest`` test (which waits for the chain) is set up; or at the end of the session at the
latest.  Without a chain (no root or no QEMU), at once.

Which runs use it: only ``make test`` (``LVS_COMPAT_LANE=on``) with pytest's default selection
(no ``-k``, the default ``-m``), so that the lane runs exactly the tests the main process
deselected; its junit XML is checked for that count.  The lane's process has
``LVS_COMPAT_LANE=child`` and never starts another.  A failure, an error or a missing test in the
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
MARKERS = ("fuzz", "simulator")
MARKEXPR = "(fuzz or simulator) and not slow"
DEFAULT_MARKEXPR = "not slow"        # setup.cfg's addopts
WAIT_LIMIT_S = 1200                  # far beyond its ~2 minutes: a hung lane still ends the run


def wanted(config) -> bool:
    """This process is make test's main one, with the default selection."""
    return (os.environ.get(ENV) == "on" and not config.option.keyword
            and config.option.markexpr == DEFAULT_MARKEXPR)


def in_lane(item) -> bool:
    return any(item.get_closest_marker(name) for name in MARKERS)


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
            env = dict(os.environ, **{ENV: "child"})
            argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "--durations=5", "-m", MARKEXPR, f"--junitxml={self.junit}", *self.files]
            with open(self.log, "wb") as log:
                self._process = subprocess.Popen(argv, cwd=self.cwd, env=env, stdout=log,
                                                 stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                                 preexec_fn=terminate_with_parent)
            threading.Thread(target=self._note_end, name="lane-end", daemon=True).start()

    def _note_end(self) -> None:
        self._process.wait()
        self.ended_at = time.monotonic()

    def start_after(self, event_wait) -> None:
        """Start once ``event_wait()`` returns, from a thread of its own that then lives as long
        as the lane: the lane's SIGTERM-with-parent (PR_SET_PDEATHSIG) follows the thread that
        forked it, not the process."""
        def run():
            event_wait()
            self.start()
            self._process.wait()
        threading.Thread(target=run, name="lane-trigger", daemon=True).start()

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
        ok = self.returncode == 0 and counts.get("tests") == len(self.nodeids)
        started = self.started_at - self.t0 if self.started_at else 0.0
        took = (self.ended_at - self.started_at) if self.ended_at and self.started_at else 0.0
        line = (f"second lane ({', '.join(MARKERS)}; {len(self.files)} modules): "
                f"{passed} of {len(self.nodeids)} passed, {counts.get('xfailed', '?')} xfailed, "
                f"exit {self.returncode}, "
                f"started {started:.0f} s into the run, took {took:.0f} s "
                f"(failures {counts.get('failures', '?')}, errors {counts.get('errors', '?')}, "
                f"skipped {counts.get('skipped', '?')})")
        return ok, line

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def slowest(self) -> list[str]:
        lines = self.output().splitlines()
        for index, line in enumerate(lines):
            if "slowest 5 durations" in line:
                return [text for text in lines[index + 1:index + 6] if text.strip()]
        return []
