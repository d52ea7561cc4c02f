"""lvs-compat-demo: the seed's scenario with real IPVS, here or in the QEMU guest.

``lvs-compat-demo [--fast] [--out DIR]`` (``make demo``): checks what the scenario needs, then
runs ``lvs_compat.demo.scenario`` directly when this kernel has IPVS, else inside the guest of
``tools/ipvs-vm`` (Debian's stock kernel, which has it), showing its narration live.  A missing
prerequisite is one line saying what and how to fix it (exit 2), before anything is created.

Ctrl-C (or SIGTERM): directly, the scenario removes every namespace and process it started;
in the guest, the VM is powered off at once, which takes everything in it along.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PROGRAM = "lvs-compat-demo"
REPO = Path(__file__).resolve().parent.parent.parent
VM_TIMEOUT_S = 290
EXIT_MISSING = 2
NOT_ROOT = ("needs root (network namespaces, IPVS, installing packages): run it as root, e.g. "
            "`sudo make demo`")


class Missing(Exception):
    """A prerequisite is missing: the message says what and how to fix it."""


def host_has_ipvs() -> bool:
    if os.path.exists("/proc/net/ip_vs"):
        return True
    if shutil.which("modprobe") is None:
        return False
    loaded = subprocess.run(["modprobe", "-q", "ip_vs"], capture_output=True, check=False)
    return loaded.returncode == 0 and os.path.exists("/proc/net/ip_vs")


def check_prerequisites(force_vm: bool) -> str:
    """``"host"`` or ``"vm"``: where the scenario can run; Missing otherwise."""
    if os.geteuid() != 0:
        raise Missing(NOT_ROOT)
    from .prerequisites import missing_tool
    missing = missing_tool()
    if missing:
        raise Missing(missing)
    if not force_vm and host_has_ipvs():
        return "host"
    if shutil.which("qemu-system-x86_64") is None:
        raise Missing("this kernel has no IPVS (modprobe ip_vs fails) and QEMU is not installed "
                      "to boot one that has: `make deps` installs qemu-system-x86 "
                      "(or use a kernel with CONFIG_IP_VS)")
    venv_python = REPO / ".venv" / "bin" / "python"
    if not venv_python.exists():
        raise Missing(f"no virtualenv at {REPO / '.venv'}: run `make venv` (or `make demo`)")
    return "vm"


def python_for_guest() -> str:
    venv_python = REPO / ".venv" / "bin" / "python"
    return str(venv_python if venv_python.exists() else sys.executable)


def run_on_host(scenario_args: list[str]) -> int:
    from .scenario import main as scenario_main
    return scenario_main(scenario_args)


def run_in_vm(scenario_args: list[str], out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    narration = out / "narration.log"
    narration.unlink(missing_ok=True)
    print(f"{PROGRAM}: this kernel has no IPVS; booting Debian's stock kernel under QEMU "
          f"(tools/ipvs-vm) and running the scenario there", flush=True)
    argv = [str(REPO / "tools" / "ipvs-vm"), "run", "-t", str(VM_TIMEOUT_S), "-s", str(REPO),
            *(["-s", str(out)] if not str(out.resolve()).startswith(str(REPO) + "/") else []),
            "--", python_for_guest(), "-m", "lvs_compat.demo.scenario", *scenario_args]
    log = open(out / "ipvs-vm.out", "w")
    vm = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
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
        print(f"\n{PROGRAM}: interrupted; powering the VM off (everything in it goes with it)",
              flush=True)
        stop_vm(vm)
        return 130
    status = vm.returncode
    if status in (124, 125) or not narration.exists():
        tail = (out / "ipvs-vm.out").read_text(errors="replace")[-3000:]
        print(f"{PROGRAM}: tools/ipvs-vm exited {status} (124 timeout, 125 VM failure):\n{tail}",
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


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true",
                        help="short timers (heartbeat deadtime 4 s, mon interval 3 s)")
    parser.add_argument("--out", default=str(REPO / "build" / "demo"),
                        help="where the record, the narration and the plot go")
    parser.add_argument("--vm", action="store_true",
                        help="use the QEMU guest even if this kernel has IPVS")
    parser.add_argument("--preflight", action="store_true",
                        help="only check what `make demo` cannot install itself (root)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.preflight:
        if os.geteuid() != 0:
            sys.stderr.write(f"{PROGRAM}: {NOT_ROOT}\n")
            return EXIT_MISSING
        return 0
    try:
        where = check_prerequisites(args.vm)
    except Missing as missing:
        sys.stderr.write(f"{PROGRAM}: {missing}\n")
        return EXIT_MISSING
    out = Path(args.out).resolve()
    scenario_args = [*(["--fast"] if args.fast else []), str(out)]
    signal.signal(signal.SIGTERM, _interrupt)
    if where == "host":
        return run_on_host(scenario_args)
    return run_in_vm(scenario_args, out)
