"""A heartbeat lab in private network namespaces: our daemon and Debian's heartbeat 3.0.6.

The recipe is the one of ``../shared/reference/heartbeat/INTEROP.md``:

* one network namespace per node, named ``<prefix><pid>n<N>`` so that parallel runs never
  collide; the nodes are joined by veth pairs (two nodes) or a bridge living in a hub
  namespace of our own (more nodes); the interface is called ``hb0`` inside every node so that
  one ha.cf fits all; addresses 10.251.0.N/24 exist only inside the namespaces.  Nothing is
  connected to a host interface.
* our daemon needs no more: ``--config-dir``, ``--state-dir``, ``--run-dir`` and
  ``--node-name`` keep its files apart.
* a real 3.0.6 node has compiled-in paths, so it also gets UTS + mount + PID namespaces
  (``unshare``); its init script sets the host name, mounts a tmpfs on /run, bind-mounts its
  own directories over /etc/ha.d and /var/lib/heartbeat, a harmless ``/bin/true`` over
  systemctl/systemd (so a ``reboot`` from ResourceManager cannot reach the host) and starts
  heartbeat.  SIGKILL to ``unshare`` (``--kill-child``) kills the whole node at once.

Every process and namespace is recorded and removed by ``Lab.close`` (pytest finalizers call it
even when a test fails); every wait has a timeout.  argv lists only, never a shell string
(the node init script is a file run by /bin/sh with fixed arguments).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEARTBEAT = REPO / "bin" / "heartbeat"
CL_STATUS = REPO / "bin" / "cl_status"
C_HEARTBEAT = "/usr/libexec/heartbeat/heartbeat"
C_CL_STATUS = "/usr/bin/cl_status"
SUBNET = "10.251.0"
IFNAME = "hb0"
_counter = itertools.count(1)


def have_lab() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


def have_c_heartbeat() -> str | None:
    if not os.access(C_HEARTBEAT, os.X_OK) or not os.access(C_CL_STATUS, os.X_OK):
        return "needs Debian's heartbeat package (make deps)"
    return have_lab()


def run(argv, timeout=20, check=True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, timeout=timeout, check=check, capture_output=True, text=True,
                          **kwargs)


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


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


@dataclass
class Node:
    lab: "Lab"
    index: int
    name: str
    netns: str
    root: Path
    kind: str = "ours"  # "ours" or "c"
    process: subprocess.Popen | None = None
    ns_init_pid: int | None = None

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.index}"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def rundir(self) -> Path:
        return self.root / "run"

    # --- configuration ---------------------------------------------------------------------
    def write_config(self, ha_cf: str, authkeys: str = "auth 1\n1 sha1 labsecret\n",
                     haresources: str = "") -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        logdir = str(self.root) if self.kind == "ours" else "/var/lib/heartbeat"
        (self.etc / "ha.cf").write_text(ha_cf.replace("@LOGDIR@", logdir))
        (self.etc / "haresources").write_text(haresources)
        keys = self.etc / "authkeys"
        keys.write_text(authkeys)
        keys.chmod(0o600)

    # --- our daemon --------------------------------------------------------------------------
    def heartbeat_argv(self, *args: str) -> list[str]:
        return [sys.executable, str(HEARTBEAT), "--config-dir", str(self.etc),
                "--state-dir", str(self.state), "--run-dir", str(self.rundir),
                "--node-name", self.name, *args]

    def start(self, *args: str) -> None:
        """Start our daemon in the foreground (the lab owns the process)."""
        assert self.kind == "ours"
        self.state.mkdir(parents=True, exist_ok=True)
        self.rundir.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "daemon.out", "ab")
        argv = ["ip", "netns", "exec", self.netns, *self.heartbeat_argv("--foreground", *args)]
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.lab.processes.append(self.process)

    def start_daemon(self) -> int:
        """Start our daemon as an operator would (it daemonizes); its pid from the pid file,
        recorded so that ``Lab.close`` kills it whatever happens."""
        self.state.mkdir(parents=True, exist_ok=True)
        self.rundir.mkdir(parents=True, exist_ok=True)
        result = self.ctl(timeout=15)
        if result.returncode != 0:
            raise AssertionError(f"heartbeat did not start: {result.stderr}")
        pid_file = self.rundir / "heartbeat.pid"
        wait_for(lambda: pid_file.exists(), 5, 0.02, "the pid file")
        pid = int(pid_file.read_text())
        self.lab.pids.append(pid)
        return pid

    def ctl(self, *args: str, timeout: float = 15) -> subprocess.CompletedProcess:
        """``bin/heartbeat -k`` etc. against this node's run dir."""
        argv = ["ip", "netns", "exec", self.netns, *self.heartbeat_argv(*args)]
        return run(argv, timeout=timeout, check=False)

    def cl_status(self, *args: str) -> subprocess.CompletedProcess:
        if self.kind == "ours":
            argv = [sys.executable, str(CL_STATUS), "--run-dir", str(self.rundir), *args]
            return run(argv, timeout=10, check=False)
        return self.nsenter(C_CL_STATUS, *args)

    def kill9(self) -> None:
        """A crash: SIGKILL to the node (the whole PID namespace for a C node)."""
        if self.process is not None and self.process.poll() is None:
            if self.kind == "ours":
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
            self.process.wait(timeout=10)

    # --- a real heartbeat 3.0.6 node ----------------------------------------------------------
    def start_c(self) -> None:
        assert self.kind == "c"
        varlib = self.root / "varlib"
        if not varlib.exists():
            shutil.copytree("/var/lib/heartbeat", varlib, symlinks=True,
                            ignore=lambda d, names: [n for n in names
                                                     if os.path.isfile(os.path.join(d, n))])
        for item in Path("/etc/ha.d").iterdir():
            target = self.etc / item.name
            if item.name in ("ha.cf", "haresources", "authkeys") or target.exists():
                continue
            if item.is_dir():
                shutil.copytree(item, target, symlinks=True)
            else:
                shutil.copy2(item, target)
        init = self.root / "init.sh"
        init.write_text(_C_NODE_INIT)
        log = open(self.root / "daemon.out", "ab")
        argv = ["ip", "netns", "exec", self.netns, "unshare", "--uts", "--mount", "--pid",
                "--fork", "--kill-child=SIGKILL", "--mount-proc", "--propagation", "private",
                "/bin/sh", str(init), self.name, str(self.etc), str(varlib), C_HEARTBEAT]
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.lab.processes.append(self.process)

        def child():
            try:
                text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
            except OSError:
                return None
            return int(text.split()[0]) if text.split() else None
        self.ns_init_pid = wait_for(child, 10, 0.02, "the C node's namespace init")
        wait_for(lambda: (self.root / "varlib" / "hb_uuid").exists()
                 or self.process.poll() is not None, 15, 0.1, "the C daemon's start")

    def c_daemon_processes(self) -> list[tuple[int, str]]:
        """(pid, process title) of every live heartbeat process in a C node's PID namespace:
        "heartbeat: master control process", the medium readers and writers, the FIFO reader."""
        if self.ns_init_pid is None:
            return []
        try:
            namespace = os.readlink(f"/proc/{self.ns_init_pid}/ns/pid")
        except OSError:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != namespace:
                    continue
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() != "heartbeat":
                        continue
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    title = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            if title:             # a zombie has none
                found.append((int(entry), title))
        return sorted(found)

    def nsenter(self, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess:
        assert self.ns_init_pid is not None
        # -r -w: the target's root and cwd too (in a chroot, as in the tools/ipvs-vm guest,
        # entering the mount namespace alone would land in that namespace's real root)
        return run(["nsenter", "-t", str(self.ns_init_pid), "-a", "-r", "-w", *argv],
                   timeout=timeout, check=False)

    def c_log(self) -> str:
        path = self.root / "varlib" / "ha-log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log(self) -> str:
        parts = []
        for name in ("daemon.out", "ha-debug", "varlib/ha-debug"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {path}\n" + path.read_text(errors="replace")[-6000:])
        return "\n".join(parts)


# The init of a C node's namespaces: argv name etc varlib heartbeat.  Kept as a file run by
# /bin/sh with fixed arguments (no string is ever handed to a shell by Python).
_C_NODE_INIT = r"""
set -e
hostname "$1"
mount -t tmpfs -o mode=0755 lab-run /run
mkdir -p /run/heartbeat /run/resource-agents /run/lock
chown hacluster:haclient /run/heartbeat
chmod 0750 /run/heartbeat
mount --bind "$2" /etc/ha.d
mount --bind "$3" /var/lib/heartbeat
for f in /bin/systemctl /lib/systemd/systemd; do
    [ -e "$f" ] && mount --bind /bin/true "$f"
done
"$4"
# PID 1 of the namespace adopts the daemonized heartbeat: reap it, as a real init does (else
# the exited master stays a zombie and `heartbeat -k`, which waits for its pid, never returns)
exec /usr/bin/python3 -c '
import os, time
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
'
"""


@dataclass
class Lab:
    tmp: Path
    names: tuple[str, ...] = ("nodea", "nodeb")
    kinds: tuple[str, ...] = ()
    nodes: list[Node] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)  # daemonized processes of ours
    netns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = f"hbt{os.getpid()}x{next(_counter)}"

    def open(self) -> "Lab":
        kinds = self.kinds or ("ours",) * len(self.names)
        for index, (name, kind) in enumerate(zip(self.names, kinds), start=1):
            netns = f"{self.prefix}n{index}"
            run(["ip", "netns", "add", netns])
            self.netns.append(netns)
            root = self.tmp / name
            root.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Node(self, index, name, netns, root, kind))
        for node in self.nodes:
            self.ns(node, "ip", "link", "set", "lo", "up")
        if len(self.nodes) == 2:
            a, b = self.nodes
            run(["ip", "link", "add", f"{self.prefix}a", "netns", a.netns, "type", "veth",
                 "peer", "name", f"{self.prefix}b", "netns", b.netns])
            self._setup_if(a, f"{self.prefix}a")
            self._setup_if(b, f"{self.prefix}b")
        else:
            hub = f"{self.prefix}hub"
            run(["ip", "netns", "add", hub])
            self.netns.append(hub)
            run(["ip", "-n", hub, "link", "add", "br0", "type", "bridge"])
            run(["ip", "-n", hub, "link", "set", "br0", "up"])
            for node in self.nodes:
                outer = f"{self.prefix}p{node.index}"
                inner = f"{self.prefix}i{node.index}"
                run(["ip", "link", "add", outer, "netns", hub, "type", "veth", "peer", "name",
                     inner, "netns", node.netns])
                run(["ip", "-n", hub, "link", "set", outer, "master", "br0", "up"])
                self._setup_if(node, inner)
        return self

    def _setup_if(self, node: Node, current: str) -> None:
        self.ns(node, "ip", "link", "set", current, "name", IFNAME)
        self.ns(node, "ip", "addr", "add", f"{node.address}/24", "broadcast",
                f"{SUBNET}.255", "dev", IFNAME)
        self.ns(node, "ip", "link", "set", IFNAME, "up")

    def ns(self, node: Node, *argv: str) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", node.netns, *argv])

    def set_link(self, node: Node, up: bool) -> None:
        self.ns(node, "ip", "link", "set", IFNAME, "up" if up else "down")

    def close(self) -> None:
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    ours = b"heartbeat" in handle.read()
                if ours:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    process.kill()
                except ProcessLookupError:
                    pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for netns in reversed(self.netns):
            run(["ip", "netns", "del", netns], check=False)
        self.netns.clear()


def ha_cf(names, *, media: str, keepalive: str = "500ms", deadtime: str = "2",
          warntime: str = "1", initdead: str = "4", extra: str = "") -> str:
    """An ha.cf for the lab: crm off, no logd, the given media lines; logs in the node's
    directory (``@LOGDIR@`` is replaced by ``Node.write_config``)."""
    lines = ["logfile @LOGDIR@/ha-log", "debugfile @LOGDIR@/ha-debug",
             f"keepalive {keepalive}", f"deadtime {deadtime}", f"warntime {warntime}",
             f"initdead {initdead}", "udpport 694", "use_logd no", "crm off",
             "auto_failback on", extra, media,
             *(f"node {name}" for name in names)]
    return "\n".join(line for line in lines if line) + "\n"


@pytest.fixture
def pty_pair(tmp_path):
    """Two linked ptys, tmp_path/ttyA <-> tmp_path/ttyB (socat), for as long as the test runs."""
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        wait_for(lambda: a.exists() and b.exists(), 5, 0.02, "socat's ptys")
        yield str(a), str(b)
    finally:
        os.killpg(socat.pid, signal.SIGTERM)
        socat.wait(timeout=5)
