"""A heartbeat cluster in the namespace lab (``lvs_compat.lab``): our daemon and Debian's
heartbeat 3.0.6, for the tests, the benchmarks and ``make soak``.

The recipe is the one of ``../shared/reference/heartbeat/INTEROP.md``:

* one network namespace per node, named ``hbt<pid>x<N>n<index>``; the nodes are joined by a
  veth pair (two nodes) or a bridge living in a hub namespace ``hbt<pid>x<N>hub`` (more nodes);
  the interface is called ``hb0`` inside every node so that one ha.cf fits all; addresses
  10.251.0.N/24 exist only inside the namespaces.  Nothing is connected to a host interface.
* our daemon needs no more: ``--config-dir``, ``--state-dir``, ``--run-dir`` and
  ``--node-name`` keep its files apart.
* a real 3.0.6 node has compiled-in paths, so it also gets UTS + mount + PID namespaces
  (``unshare``); its init script sets the host name, mounts a tmpfs on /run, bind-mounts its
  own directories over /etc/ha.d and /var/lib/heartbeat, a harmless ``/bin/true`` over
  systemctl/systemd (so a ``reboot`` from ResourceManager cannot reach the host) and starts
  heartbeat.  SIGKILL to ``unshare`` (``--kill-child``) kills the whole node at once.
* ``TakeoverLab`` adds a passive ``client`` on the bridge (its ARP entry for the VIP tells who
  answers for it) and asks who holds a VIP.

Every process and namespace is recorded and removed by ``Lab.close`` (pytest finalizers and the
soak's ``finally`` call it; a failed ``open`` calls it itself); every wait has a timeout.  argv
lists only, never a shell string (the node init script is a file run by /bin/sh with fixed
arguments).  It runs this checkout's ``bin/heartbeat``: a tool of the source tree, not of an
installed director.  ``Node.heartbeat`` names another program for one of ours (a single-file
build, run by its own shebang), and ``Node.start_c(replace=...)`` bind-mounts files over the
C node's own (e.g. that build over /usr/libexec/heartbeat/heartbeat), as an operator copies them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lvs_compat.lab import Netlab, TimedOut, run, unique_name, wait_for

REPO = Path(__file__).resolve().parent.parent.parent
HEARTBEAT = REPO / "bin" / "heartbeat"
CL_STATUS = REPO / "bin" / "cl_status"
C_HEARTBEAT = "/usr/libexec/heartbeat/heartbeat"
C_CL_STATUS = "/usr/bin/cl_status"
SUBNET = "10.251.0"
IFNAME = "hb0"
VIP = f"{SUBNET}.100"
VIP2 = f"{SUBNET}.101"


def _text(path: Path) -> str:
    """A log file's text; empty before the daemon has written one."""
    return path.read_text(errors="replace") if path.exists() else ""


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
    heartbeat: Path = HEARTBEAT  # another path: executed directly (its shebang), not by sys.executable

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
        program = [sys.executable, str(HEARTBEAT)] if self.heartbeat == HEARTBEAT else [str(self.heartbeat)]
        return [*program, "--config-dir", str(self.etc),
                "--state-dir", str(self.state), "--run-dir", str(self.rundir),
                "--node-name", self.name, *args]

    def start(self, *args: str) -> None:
        """Start our daemon in the foreground (the lab owns the process)."""
        assert self.kind == "ours"
        self.state.mkdir(parents=True, exist_ok=True)
        self.rundir.mkdir(parents=True, exist_ok=True)
        with open(self.root / "daemon.out", "ab") as log:
            argv = self.heartbeat_argv("--foreground", *args)
            self.process = self.lab.net.start(self.netns, argv, stdout=log,
                                              stderr=subprocess.STDOUT)

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
        return self.lab.net.ns(self.netns, *self.heartbeat_argv(*args), timeout=timeout,
                               check=False)

    def cl_status(self, *args: str) -> subprocess.CompletedProcess:
        if self.kind == "ours":
            argv = [sys.executable, str(CL_STATUS), "--run-dir", str(self.rundir), *args]
            return run(argv, timeout=10, check=False)
        return self.nsenter(C_CL_STATUS, *args)

    def debian_client(self, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess:
        """A Debian client program (``/usr/bin/cl_status``, ``api_test``) run against this
        node's client API at its compiled-in path /run/heartbeat/register: inside a C node's
        namespaces, or for ours in a private mount namespace with this node's run dir
        bind-mounted there (``_CLIENT_INIT``)."""
        if self.kind == "c":
            return self.nsenter(*argv, timeout=timeout)
        return run(self.debian_client_argv(*argv), timeout=timeout, check=False)

    def debian_client_argv(self, *argv: str) -> list[str]:
        assert self.kind == "ours"
        init = self.root / "client-init.sh"
        if not init.exists():
            init.write_text(_CLIENT_INIT)
        return ["unshare", "--mount", "--propagation", "private", "/bin/sh", str(init),
                str(self.rundir), *argv]

    def kill9(self) -> None:
        """A crash: SIGKILL to the node (the whole PID namespace for a C node)."""
        if self.process is not None and self.process.poll() is None:
            if self.kind == "ours":
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
            self.process.wait(timeout=10)

    # --- a real heartbeat 3.0.6 node ----------------------------------------------------------
    def start_c(self, replace: dict[str, Path] | None = None) -> None:
        """Start the node's /usr/libexec/heartbeat/heartbeat in its namespaces; ``replace``
        maps paths of the system (that one, /usr/bin/cl_status) to files bind-mounted over
        them first: what an operator's copy does, inside the node only."""
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
        argv = ["unshare", "--uts", "--mount", "--pid", "--fork", "--kill-child=SIGKILL",
                "--mount-proc", "--propagation", "private",
                "/bin/sh", str(init), self.name, str(self.etc), str(varlib), C_HEARTBEAT]
        for target, source in (replace or {}).items():
            argv += [str(source), target]
        with open(self.root / "daemon.out", "ab") as log:
            self.process = self.lab.net.start(self.netns, argv, stdout=log,
                                              stderr=subprocess.STDOUT)

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
        return _text(self.root / "varlib" / "ha-log")

    def ha_log(self) -> str:
        """The whole ``logfile`` of ha_cf(), where write_config put it: the C node's or ours."""
        return self.c_log() if self.kind == "c" else _text(self.root / "ha-log")

    def log(self) -> str:
        parts = []
        for name in ("daemon.out", "ha-debug", "varlib/ha-debug"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {path}\n" + path.read_text(errors="replace")[-6000:])
        return "\n".join(parts)


# The init of a C node's namespaces: argv name etc varlib heartbeat [source target]...  Kept as a file run by
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
heartbeat=$4
shift 4
while [ $# -ge 2 ]; do
    mount --bind "$1" "$2"
    shift 2
done
"$heartbeat"
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


# A client of our node at Debian's paths: argv run-dir program args...  (a private mount
# namespace: a tmpfs over /run, the node's run dir bind-mounted at /run/heartbeat)
_CLIENT_INIT = r"""
set -e
mount -t tmpfs -o mode=0755 lab-client-run /run
mkdir -p /run/heartbeat
mount --bind "$1" /run/heartbeat
shift
exec "$@"
"""


@dataclass
class Lab:
    tmp: Path
    names: tuple[str, ...] = ("nodea", "nodeb")
    kinds: tuple[str, ...] = ()
    nodes: list[Node] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)  # daemonized processes of ours

    def __post_init__(self) -> None:
        self.prefix = unique_name("hbt")
        self.net = Netlab()

    @property
    def processes(self) -> list[subprocess.Popen]:
        """The processes the lab started (killed by ``close``)."""
        return self.net.processes

    def open(self) -> "Lab":
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        kinds = self.kinds or ("ours",) * len(self.names)
        for index, (name, kind) in enumerate(zip(self.names, kinds), start=1):
            netns = self.net.add(f"{self.prefix}n{index}")
            root = self.tmp / name
            root.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Node(self, index, name, netns, root, kind))
        if len(self.nodes) == 2:
            a, b = self.nodes
            self.net.pair(a.netns, IFNAME, b.netns, IFNAME)
        else:
            hub = self.net.bridge(f"{self.prefix}hub")
            for node in self.nodes:
                self.net.plug(node.netns, IFNAME, hub, f"p{node.index}")
        for node in self.nodes:
            self.net.address(node.netns, IFNAME, f"{node.address}/24", f"{SUBNET}.255")

    def ns(self, node: Node, *argv: str) -> subprocess.CompletedProcess:
        return self.net.ns(node.netns, *argv)

    def flood(self, sender: Node, target: Node, rate: float, seconds: float,
              senders: int = 2) -> dict:
        """``lvs_compat.lab.flood`` from ``sender``'s namespace at ``target``:694 for
        ``seconds`` (wrongly signed heartbeats claiming to be ``sender``'s), split over
        ``senders`` processes (one Python sender pays the delivery of each packet to the other
        namespace, and falls short of 20k/s on a loaded machine); their reports summed."""
        processes = [self.net.start(sender.netns, [
            sys.executable, "-m", "lvs_compat.lab.flood", "--to", target.address,
            "--rate", str(rate / senders), "--seconds", str(seconds), "--src", sender.name,
            "--interface", IFNAME], stdout=subprocess.PIPE, cwd=str(REPO))
            for _ in range(senders)]
        reports = []
        for process in processes:
            out, _ = process.communicate(timeout=seconds + 30)
            if process.returncode != 0:
                raise AssertionError(f"a flooder failed with status {process.returncode}")
            reports.append(json.loads(out.decode().strip().splitlines()[-1]))
        elapsed = max(report["seconds"] for report in reports)
        sent = sum(report["sent"] for report in reports)
        return {"sent": sent, "errors": sum(report["errors"] for report in reports),
                "seconds": elapsed, "rate": round(sent / elapsed) if elapsed else 0,
                "senders": senders}

    def udp_drops(self, node: Node, port: int = 694) -> int:
        """The kernel's drop counters (``/proc/net/udp``) of the UDP sockets bound to ``port``
        in ``node``'s network namespace: datagrams lost because a receive buffer was full."""
        table = self.ns(node, "cat", "/proc/net/udp").stdout
        drops = 0
        for line in table.splitlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                drops += int(fields[-1])
        return drops

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
        self.net.close()


class TakeoverLab(Lab):
    """Nodes plus a client namespace on one bridge (``names[-1]`` is the client)."""

    @property
    def client(self) -> Node:
        return self.nodes[-1]

    @property
    def members(self) -> list[Node]:
        return self.nodes[:-1]

    def open(self) -> "TakeoverLab":
        super().open()
        # the client takes every gratuitous ARP at once (default locktime is 1 s)
        self.ns(self.client, "sysctl", "-qw", f"net.ipv4.neigh.{IFNAME}.locktime=0")
        return self

    def mac(self, node) -> str:
        out = self.ns(node, "ip", "-j", "link", "show", IFNAME).stdout
        return json.loads(out)[0]["address"]

    def holders(self, vip: str = VIP) -> list[str]:
        """Names of the nodes that have ``vip`` configured."""
        found = []
        for node in self.members:
            out = self.ns(node, "ip", "-j", "-4", "addr", "show").stdout
            if any(info.get("local") == vip for link in json.loads(out)
                   for info in link.get("addr_info", ())):
                found.append(node.name)
        return found

    def client_sees(self, vip: str = VIP) -> str | None:
        """The MAC in the client's neighbour entry for ``vip`` (None if there is none)."""
        out = self.ns(self.client, "ip", "-j", "neigh", "show", vip).stdout
        entries = json.loads(out or "[]")
        return entries[0].get("lladdr") if entries else None

    def client_ping(self, vip: str = VIP) -> bool:
        """One ping from the client (fills its ARP cache); True if answered."""
        return self.net.ns(self.client.netns, "ping", "-c", "1", "-W", "1", vip, check=False,
                           timeout=5).returncode == 0

    def wait_holder(self, node, timeout: float, vip: str = VIP) -> float:
        """Wait until ``node`` alone holds ``vip``; the seconds it took."""
        started = time.monotonic()
        seen: list[list[str]] = []

        def alone() -> bool:
            holders = self.holders(vip)
            if not seen or seen[-1] != holders:
                seen.append(holders)
            return holders == [node.name]
        try:
            wait_for(alone, timeout, 0.05, f"{vip} on {node.name} alone")
        except TimedOut as error:       # the holders as they went, not as they were at the call
            raise TimedOut(f"{error} (holders, as they changed: {seen})") from None
        return time.monotonic() - started

    def wait_client_sees(self, node, timeout: float, vip: str = VIP) -> None:
        mac = self.mac(node)
        wait_for(lambda: self.client_sees(vip) == mac, timeout, 0.05,
                 f"the client's ARP entry for {vip} to be {node.name}'s {mac}")

    def crash(self, node, vips=(VIP,)) -> None:
        """What a machine's death does to the resources: kill -9 of the node, and its VIP and
        script state gone (INTEROP.md: a dead machine would no longer answer for it)."""
        node.kill9()
        for vip in vips:
            self.net.ns(node.netns, "ip", "addr", "del", f"{vip}/24", "dev", IFNAME,
                        check=False)
        for state in node.root.glob("rscstate.*"):
            state.unlink()


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


def rscstatus(node, signon_deadline_s: float = 3.0) -> str:
    """cl_status rscstatus of ``node``.  A running daemon serves each control request within
    0.5 s of its accept; on a loaded 2-core machine the client's own start can miss that, and
    cl_status then says "Cannot signon" with nothing on stdout: asked again until
    ``signon_deadline_s`` while the node's process lives (an answer, even "transition", is
    final)."""
    deadline = time.monotonic() + signon_deadline_s
    while True:
        answer = node.cl_status("rscstatus")
        alive = node.process is not None and node.process.poll() is None
        if (answer.stdout.strip() or "Cannot signon" not in answer.stderr or not alive
                or time.monotonic() >= deadline):
            return answer.stdout.strip()


def hb_tool(node, tool: str, *args: str):
    """``bin/hb_standby``/``bin/hb_takeover`` of ours against ``node``'s FIFO, or Debian's
    scripts inside a C node's namespaces."""
    if node.kind == "c":
        return node.nsenter(f"/usr/share/heartbeat/{tool}", *args)
    return run([sys.executable, str(REPO / "bin" / tool), "--state-dir", str(node.state), *args],
               check=False, timeout=10)
