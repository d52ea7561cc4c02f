"""The demo's guest run: ``make demo``'s scenario, headless with short timers, in one boot of the
tools/ipvs-vm guest, then a second scenario interrupted with SIGINT mid-run.

It is the longest single thing in ``make test`` (about 3 minutes under emulation) and needs
the host's CPU, not its network, so conftest.py starts it at the first test and lets it run
while the host-only tests do (most of those wait on heartbeat's timers and leave a core idle).
Tests that boot a guest of their own (marker ``guest``) run last, after this run has ended, one
guest at a time; test_demo.py's guest tests read what this run left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VM = str(REPO / "tools" / "ipvs-vm")
PYTHON = str(REPO / ".venv" / "bin" / "python")
INTERRUPT_AFTER_S = 30
# tools/ipvs-vm's own limit for the boot.  Alone the run takes about 190 s; beside the host
# tests (both cores shared) it has been seen to take up to 260 s.
VM_TIMEOUT_S = 420

GUEST_JOB = r"""
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
""".replace("@AFTER@", str(INTERRUPT_AFTER_S))


def can_run() -> bool:
    return os.geteuid() == 0 and shutil.which("qemu-system-x86_64") is not None


@dataclass
class DemoGuest:
    process: subprocess.Popen
    base: Path
    started: float
    returncode: int | None = None
    elapsed: float | None = None

    @property
    def out(self) -> Path:
        return self.base / "out"

    @property
    def interrupted(self) -> Path:
        return self.base / "interrupted"

    def wait(self) -> int:
        """Until the guest has powered off.  tools/ipvs-vm ends it at VM_TIMEOUT_S; past that
        and a minute more, the run is killed here (the demo's tests then fail, saying so)."""
        if self.returncode is None:
            left = VM_TIMEOUT_S + 60 - (time.monotonic() - self.started)
            try:
                self.returncode = self.process.wait(timeout=max(1.0, left))
            except subprocess.TimeoutExpired:
                self.stop()
                self.returncode = self.process.returncode
            self.elapsed = time.monotonic() - self.started
        return self.returncode

    def stop(self) -> None:
        """SIGTERM: tools/ipvs-vm powers the guest off and removes its job directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stderr(self) -> str:
        path = self.base / "vm.stderr"
        return path.read_text(errors="replace") if path.exists() else ""


def start(base: Path) -> DemoGuest:
    (base / "out").mkdir(parents=True)
    job = base / "job.sh"
    job.write_text(GUEST_JOB)
    with open(base / "vm.stdout", "wb") as stdout, open(base / "vm.stderr", "wb") as stderr:
        process = subprocess.Popen(
            [VM, "run", "-t", str(VM_TIMEOUT_S), "-s", str(REPO), "-s", str(base), "--",
             "sh", str(job), str(base / "out"), str(base / "interrupted"), PYTHON],
            cwd=REPO, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    return DemoGuest(process, base, time.monotonic())
