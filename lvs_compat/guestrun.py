"""Running one of our Python programs inside the tools/ipvs-vm guest, its narration shown live.

The guest boots Debian's stock kernel under QEMU; it has what this host's kernel may lack (IPVS
for ``make demo``, ``sch_netem`` for ``make soak``).  The program writes its narration to a file
in ``out`` (shared with the guest at the same path); the host prints each new complete line as
it appears, because tools/ipvs-vm hands back the guest's stdout only at the end.

Ctrl-C (or SIGTERM turned into KeyboardInterrupt by the caller) powers the guest off at once,
which takes every namespace and process in it along.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXIT_TIMEOUT, EXIT_VM_FAILURE, EXIT_INTERRUPTED = 124, 125, 130


def python_for_guest() -> str:
    """The venv's interpreter (the guest sees the host's /usr and this checkout)."""
    venv_python = REPO / ".venv" / "bin" / "python"
    return str(venv_python if venv_python.exists() else sys.executable)


def run_in_guest(argv: list[str], out: Path, narration_name: str, timeout_s: int,
                 program: str, env: tuple[str, ...] = (), shares: tuple[str, ...] = ()) -> int:
    """Run ``argv`` in the guest (cwd: the checkout, shared with ``out`` and ``shares``) and
    echo ``out/narration_name`` live; the guest command's exit status (124: timed out, 125: the
    VM failed)."""
    out.mkdir(parents=True, exist_ok=True)
    narration = out / narration_name
    narration.unlink(missing_ok=True)
    share_options = ["-s", str(REPO)]
    if not str(out.resolve()).startswith(str(REPO) + "/"):
        share_options += ["-s", str(out)]
    for share in shares:              # more host folders, "DIR" or "DIR:ro"
        share_options += ["-s", share]
    vm_argv = [str(REPO / "tools" / "ipvs-vm"), "run", "-t", str(timeout_s), *share_options,
               *(item for setting in env for item in ("-e", setting)), "--", *argv]
    log = open(out / "ipvs-vm.out", "w")
    vm = subprocess.Popen(vm_argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    shown = 0
    try:
        while True:
            finished = vm.poll() is not None
            shown = show_new_lines(narration, shown)
            if finished:
                break
            time.sleep(0.3)
    except KeyboardInterrupt:
        print(f"\n{program}: interrupted; powering the VM off (everything in it goes with it)",
              flush=True)
        stop_vm(vm)
        return EXIT_INTERRUPTED
    status = vm.returncode
    if status in (EXIT_TIMEOUT, EXIT_VM_FAILURE) or not narration.exists():
        tail = (out / "ipvs-vm.out").read_text(errors="replace")[-3000:]
        print(f"{program}: tools/ipvs-vm exited {status} (124 timeout, 125 VM failure):\n{tail}",
              flush=True)
    return status


def show_new_lines(path: Path, shown: int) -> int:
    try:
        with open(path, "rb") as handle:
            handle.seek(shown)
            data = handle.read()
    except FileNotFoundError:
        return shown
    complete = data[:data.rfind(b"\n") + 1]
    if complete:
        sys.stdout.write(complete.decode(errors="replace"))
        sys.stdout.flush()
    return shown + len(complete)


def stop_vm(vm: subprocess.Popen) -> None:
    """SIGTERM to tools/ipvs-vm (it kills QEMU and removes its job directory), then SIGKILL to
    whatever of its group is left."""
    try:
        os.killpg(vm.pid, signal.SIGTERM)
        vm.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(vm.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    vm.wait()
