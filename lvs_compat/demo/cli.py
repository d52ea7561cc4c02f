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


def run_on_host(scenario_args: list[str]) -> int:
    from .scenario import main as scenario_main
    return scenario_main(scenario_args)


def run_in_vm(scenario_args: list[str], out: Path) -> int:
    from ..guestrun import python_for_guest, run_in_guest
    print(f"{PROGRAM}: this kernel has no IPVS; booting Debian's stock kernel under QEMU "
          f"(tools/ipvs-vm) and running the scenario there", flush=True)
    return run_in_guest([python_for_guest(), "-m", "lvs_compat.demo.scenario", *scenario_args],
                        out, "narration.log", VM_TIMEOUT_S, PROGRAM)


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
