"""ha.d/resource.d/mon: start Debian's real mon (``/usr/sbin/mon``) as a heartbeat resource.

The seed's haresources names ``mon``, i.e. ``/etc/rc.d/init.d/mon``; this is that init script
with every file of its own, so that two nodes (or two network namespaces on one machine) never
share one:

``mon [MON_CF] start|stop|status``

* MON_CF defaults to ``/etc/mon/mon.cf`` (as the lvs resource).  mon's pid file, state and log
  directory go to ``$LVS_COMPAT_RUN_DIR/mon`` (default ``/run/lvs-compat/mon``).
* ``start`` runs ``mon -f -c MON_CF -P PIDFILE -D STATEDIR -L LOGDIR`` (mon forks itself) and
  waits until the pid file names a live process; a mon that is already running is left alone.
* ``stop`` sends SIGTERM to that process and waits for it (SIGKILL after 10 s).
* ``status`` prints ``running`` or ``stopped`` and exits 0 or 3 (LSB), as ResourceManager reads it.

``$MON`` overrides the binary (tests).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

PROGRAM = "mon"
DEFAULT_MON = "/usr/sbin/mon"
DEFAULT_MON_CF = ("/etc/mon/mon.cf", "/etc/mon.cf")
USAGE = f"usage: {PROGRAM} [MON_CF] {{start|stop|status}}"
START_WAIT_S = 30.0   # mon compiles its config in Perl: slow on an emulated CPU
STOP_WAIT_S = 10.0


def state_dir() -> str:
    from lvs_compat.ipvs import run_dir
    return os.path.join(run_dir(), "mon")


def read_pid(pid_file: str) -> int | None:
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(mon_cf: str, directory: str, pid_file: str) -> int:
    if read_pid(pid_file) is not None:
        return 0
    os.makedirs(directory, exist_ok=True)
    binary = os.environ.get("MON") or DEFAULT_MON
    argv = [binary, "-f", "-c", mon_cf, "-P", pid_file, "-D", directory, "-L", directory]
    try:
        with open(os.path.join(directory, "mon.out"), "ab") as out:
            result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    timeout=START_WAIT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        sys.stderr.write(f"{PROGRAM}: cannot run {binary}: {error}\n")
        return 1
    if result.returncode != 0:
        sys.stderr.write(f"{PROGRAM}: {binary} exited {result.returncode} "
                         f"(see {directory}/mon.out)\n")
        return 1
    deadline = time.monotonic() + START_WAIT_S
    while read_pid(pid_file) is None:
        if time.monotonic() > deadline:
            sys.stderr.write(f"{PROGRAM}: no live process in {pid_file} "
                             f"after {START_WAIT_S:.0f} s\n")
            return 1
        time.sleep(0.1)
    print(f"{PROGRAM}: started (pid {read_pid(pid_file)})", flush=True)
    return 0


def stop(pid_file: str) -> int:
    pid = read_pid(pid_file)
    if pid is None:
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    try:
        os.unlink(pid_file)
    except FileNotFoundError:
        pass
    print(f"{PROGRAM}: stopped (pid {pid})", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[-1] not in ("start", "stop", "status") or len(argv) > 2:
        sys.stderr.write(USAGE + "\n")
        return 2
    action = argv[-1]
    if len(argv) == 2:
        mon_cf = argv[0]
    else:
        mon_cf = next((p for p in DEFAULT_MON_CF if os.path.exists(p)), DEFAULT_MON_CF[0])
    from lvs_compat.ipvs import UntrustedPath
    try:
        directory = state_dir()
    except UntrustedPath as error:
        sys.stderr.write(f"{PROGRAM}: {error}\n")
        return 1
    pid_file = os.path.join(directory, "mon.pid")
    if action == "status":
        running = read_pid(pid_file) is not None
        print("running" if running else "stopped")
        return 0 if running else 3
    if action == "start":
        if not os.path.exists(mon_cf):
            sys.stderr.write(f"{PROGRAM}: {mon_cf}: no such file\n")
            return 1
        return start(mon_cf, directory, pid_file)
    return stop(pid_file)
