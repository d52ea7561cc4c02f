"""Guest runs in the background: the chaos soak, the demo's scenario and the real-IPVS
scenario, each one boot of the tools/ipvs-vm guest, run one after the other while the host's
own tests run.

They are the longest things in ``make test`` (about 2.5, 3 and 0.7 minutes under emulation)
and need the CPU, while the lab tests (marker ``lab``: namespaces and real daemons that wait on
heartbeat's timers) mostly leave it idle.  conftest.py orders the run lab tests first, then
the other host tests, then the tests that boot a guest in the foreground (marker ``guest``),
and starts this chain at the first test: the soak first (its judge is the strictest about
time), then the demo, then real IPVS (no timing in its verdicts).  The foreground guest tests wait for the chain to end, so that there is
never more than one guest; test_soak.py and test_demo.py read what the runs left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VM = str(REPO / "tools" / "ipvs-vm")
PYTHON = str(REPO / ".venv" / "bin" / "python")
SOAK = REPO / "soak" / "run.py"

# --- the demo: make demo's scenario with short timers, then one interrupted with SIGINT ------
DEMO_INTERRUPT_AFTER_S = 30
# tools/ipvs-vm's own limit for the boot.  Alone the run takes about 190 s.
DEMO_VM_TIMEOUT_S = 420
DEMO_JOB = r"""
out=$1 interrupted=$2 python=$3
"$python" -m lvs_compat.demo.scenario --fast "$out" > "$out/run.log" 2>&1
echo $? > "$out/rc"
mkdir -p "$interrupted"
timeout --preserve-status -s INT @AFTER@ \
    "$python" -m lvs_compat.demo.scenario --fast "$interrupted" \
    > "$interrupted/run.log" 2>&1
echo $? > "$interrupted/rc"
# a condition with a deadline, not a fixed second: namespaces may take a moment to go
for i in $(seq 50); do ip netns list | grep -q lvsdemo || break; sleep 0.2; done
ip netns list > "$interrupted/netns_after"
ps -eo pid,args > "$interrupted/ps_after"
ls /run > "$interrupted/run_after"
""".replace("@AFTER@", str(DEMO_INTERRUPT_AFTER_S))

# --- the soak: every fault kind but kill on two of our directors (see test_soak.py) ----------
SOAK_SEED = 2544
SOAK_ROUNDS = "2"
SOAK_KINDS = "freeze,link-one,link-all,netem,reload"
SOAK_TIMEOUT_S = 1300     # soak/run.py bounds two rounds at 610 s, its guest at 600 more


def can_boot() -> bool:
    return os.geteuid() == 0 and shutil.which("qemu-system-x86_64") is not None


def host_state() -> dict:
    """What a guest run could leave on the host: namespaces, tools/ipvs-vm job directories,
    QEMU processes."""
    netns = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True,
                           check=False).stdout
    jobs = sorted(path.name for path in Path("/var/tmp").glob("ipvs-vm-job.*"))
    qemus = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            # QEMU itself, not a process that names it (apt-get install qemu-system-x86,
            # pgrep -f qemu-system-x86_64): "pid argv" to say which one was left
            if os.path.basename(argv[0]).startswith(b"qemu-system"):
                qemus.append(f"{entry} {b' '.join(argv).decode(errors='replace')[:300]}")
    return {"netns": {item["name"] for item in json.loads(netns or "[]")}, "jobs": jobs,
            "qemus": sorted(qemus)}


@dataclass
class Run:
    name: str
    argv: list[str]
    base: Path
    timeout_s: float
    returncode: int | None = None
    elapsed: float | None = None
    before: dict | None = None
    after: dict | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def stdout(self) -> str:
        return _read(self.base / "run.stdout")

    def stderr(self) -> str:
        return _read(self.base / "run.stderr")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def demo_run(base: Path) -> Run:
    (base / "out").mkdir(parents=True)
    (base / "job.sh").write_text(DEMO_JOB)
    return Run("demo", [VM, "run", "-t", str(DEMO_VM_TIMEOUT_S), "-s", str(REPO), "-s", str(base),
                        "--", "sh", str(base / "job.sh"), str(base / "out"),
                        str(base / "interrupted"), PYTHON],
               base, DEMO_VM_TIMEOUT_S + 60)


# --- real IPVS: lvs.alert and the lvs resource against the kernel's table (test_ipvs_real.py)
IPVS_VM_TIMEOUT_S = 600


def ipvs_real_run(base: Path) -> Run:
    return Run("ipvs_real", [VM, "run", "-t", str(IPVS_VM_TIMEOUT_S), "--", PYTHON,
                             "tests/ipvs_vm_support.py"], base, IPVS_VM_TIMEOUT_S + 60)


def soak_run(base: Path) -> Run:
    out = base / "out"
    out.mkdir(parents=True)
    return Run("soak", [sys.executable, str(SOAK), "--rounds", SOAK_ROUNDS, "--seed",
                        str(SOAK_SEED), "--kinds", SOAK_KINDS, "--out", str(out)],
               base, SOAK_TIMEOUT_S)


def terminate_with_parent() -> None:
    """In the child: SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


def terminate_group(process: subprocess.Popen | None) -> None:
    """SIGTERM to a process started with start_new_session, its whole group; SIGKILL after
    30 s."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Chain:
    """Runs one after the other in a thread; ``wait(run)`` until that one has ended."""

    def __init__(self, runs: list[Run]):
        self.runs = runs
        self._current: subprocess.Popen | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run_all, name="guests", daemon=True)
        self._thread.start()

    def _run_all(self) -> None:
        for run in self.runs:
            try:
                if not self._stopping:
                    self._run_one(run)
            finally:
                run.done.set()

    def _run_one(self, run: Run) -> None:
        run.before = host_state()
        started = time.monotonic()
        with open(run.base / "run.stdout", "wb") as stdout, \
                open(run.base / "run.stderr", "wb") as stderr, self._lock:
            if self._stopping:
                return
            # its own process group: stop() reaches tools/ipvs-vm under the soak's Python too;
            # SIGTERM when this thread's process dies (pytest killed: no finalizer runs)
            self._current = subprocess.Popen(run.argv, cwd=REPO, stdout=stdout, stderr=stderr,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             preexec_fn=terminate_with_parent)
        try:
            run.returncode = self._current.wait(timeout=run.timeout_s)
        except subprocess.TimeoutExpired:
            self._terminate()
            run.returncode = self._current.returncode
        run.elapsed = time.monotonic() - started
        run.after = host_state()

    def _terminate(self) -> None:
        """SIGTERM: tools/ipvs-vm (and the soak through it) powers the guest off and removes its
        job directory."""
        terminate_group(self._current)

    def wait(self, run: Run) -> Run:
        run.done.wait()
        return run

    def wait_all(self) -> None:
        for run in self.runs:
            run.done.wait()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._terminate()
        self._thread.join(timeout=60)
