"""What the soak does to a director's heartbeat, for our daemon and for Debian's 3.0.6.

One interface, two implementations, so that ``soak/run.py`` injects the same faults into a
cluster of ours or a mixed one (``--peer c``: the backup runs Debian's heartbeat 3.0.6, the
migration's half-way state):

* ``OurDaemon``: our daemon runs in the foreground as one process of the lab's
  (``Node.start``); its process group is the daemon and whatever script it runs.
* ``CDaemon``: a 3.0.6 node lives in its own PID, mount and UTS namespaces
  (``Node.start_c``, lvs_compat/lab/heartbeat.py); its daemon is several processes ("heartbeat: master
  control process", readers and writers per medium, the FIFO reader), found by their PID
  namespace and process title.

Figures (RSS, open descriptors) are summed over the daemon's processes; ``main_pid`` is what
must not change for the survivor.
"""

from __future__ import annotations

import os
import subprocess
import time

from lvs_compat.lab.heartbeat import C_HEARTBEAT


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of a process (0 once it is gone): ``VmRSS`` all of it, ``RssAnon`` its
    private heap and stacks (what a leak grows), ``RssFile`` the mapped files' pages it has
    touched (code and libraries: grows with first-time code paths, shrinks under reclaim)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid: int | str = "self") -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class OurDaemon:
    kind = "ours"

    def __init__(self, node):
        self.node = node

    def start(self) -> None:
        self.node.start()

    def kill(self) -> None:
        self.node.kill9()

    def alive(self) -> bool:
        return self.node.process is not None and self.node.process.poll() is None

    def main_pid(self) -> int | None:
        return self.node.process.pid if self.alive() else None

    def pids(self) -> list[int]:
        return [self.node.process.pid] if self.alive() else []

    def signal(self, signum: int) -> None:
        os.killpg(self.node.process.pid, signum)

    def reload(self) -> subprocess.CompletedProcess:
        return self.node.ctl("-r", timeout=30)

    def stop(self) -> str:
        """``heartbeat -k``: "" if it and the daemon exited 0, else what went wrong."""
        result = self.node.ctl("-k", timeout=60)
        try:
            self.node.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            return f"the daemon still runs 60 s after heartbeat -k (exit {result.returncode})"
        if result.returncode != 0 or self.node.process.returncode != 0:
            return (f"heartbeat -k exited {result.returncode}, the daemon "
                    f"{self.node.process.returncode}: {result.stderr.strip()[-300:]}")
        return ""

    def log(self) -> str:
        return self.node.log()


class CDaemon:
    kind = "c"
    MASTER = "heartbeat: master control process"

    def __init__(self, node):
        self.node = node

    def start(self) -> None:
        self.node.start_c()

    def kill(self) -> None:
        self.node.kill9()          # SIGKILL to unshare: the whole PID namespace goes

    def _processes(self) -> list[tuple[int, str]]:
        return self.node.c_daemon_processes()

    def pids(self) -> list[int]:
        return [pid for pid, _ in self._processes()]

    def main_pid(self) -> int | None:
        return next((pid for pid, title in self._processes()
                     if title.startswith(self.MASTER)), None)

    def alive(self) -> bool:
        return self.main_pid() is not None

    def signal(self, signum: int) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def reload(self) -> subprocess.CompletedProcess:
        return self.node.nsenter(C_HEARTBEAT, "-r", timeout=30)

    def stop(self) -> str:
        before = self._processes()
        try:
            result = self.node.nsenter(C_HEARTBEAT, "-k", timeout=90)
        except subprocess.TimeoutExpired:
            return f"heartbeat -k did not return within 90 s (processes: {before})"
        deadline = time.monotonic() + 60
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        if result.returncode != 0 or self.pids():
            said = (result.stdout + result.stderr).strip()[-300:]
            return (f"heartbeat -k exited {result.returncode} ({said!r}); processes before "
                    f"{before}, after {self._processes()}")
        return ""

    def log(self) -> str:
        return self.node.log() + "\n--- ha-log\n" + self.node.c_log()[-20000:]


def daemon_for(node):
    return CDaemon(node) if node.kind == "c" else OurDaemon(node)


__all__ = ["CDaemon", "OurDaemon", "daemon_for", "open_fds", "rss_kib"]
