"""The seed's scenario, end to end, in network namespaces with real IPVS (issue 7).

``Scenario.run()`` builds the cluster from the seed's own files (examples/seed: ha.conf,
haresources, mon.cf), starts it, tells the story and measures each reaction:

1. the client's requests to the VIP are balanced over www1 and www2;
2. www1's web server stops: mon (http.monitor, lvs.alert) removes it from the IPVS table;
3. it starts again: mon's upalert adds it back;
4. a long-lived client connection (HTTP keep-alive, one request every ``client_period_s``) is
   opened, and the standby's sync daemon has learned it;
5. lvs1 dies (every process killed, its namespace deleted): lvs2 takes the VIP, ``lvs`` and
   ``mon``; the client keeps getting answers and the long-lived connection survives;
6. lvs1 boots again and takes its resources back (auto_failback).

What runs is the real thing: our heartbeat daemons (one per director), our resource scripts
(``lvs``, ``mon``, ``LVSSyncDaemonSwap``), Debian's ``/usr/sbin/mon`` with our monitors and
lvs.alert, the real IPVS admin tool and the kernel's IPVS.  Only the clock differs between the demo
and the CI test (``Timers``).

What the seed's files needed for namespaces (each node gets its own copy under the work dir):

* ha.conf is heartbeat's ``ha.cf``; appended: ``auto_failback on`` (the seed's story; 3.0.6's
  default is ``legacy``), log files in the node's directory instead of syslog (``logfacility``
  stays), ``use_logd no``/``crm off``; the CI test shortens keepalive/deadtime/initdead.
* haresources: ``lvs`` and ``mon`` get mon.cf's path as their argument (``lvs::PATH``),
  ``LVSSyncDaemonSwap::master`` is added first (the seed's stack never synchronised
  connections) and ``lvs`` comes before the VIP (see ``haresources_text``).
* mon.cf: cfbasedir/alertdir/mondir point at the node's directories (mondir: our mon.d;
  alertdir: our alert.d, then the node's with a ``mail.alert`` that appends to a file), host
  names are the addresses (no DNS inside the namespaces); the CI test shortens interval and
  randstart.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lvs_compat.ipvs import IpvsadmError
from lvs_compat.resource_scripts.syncdaemon import roles as sync_roles

from .topology import CLIENT_ADDRESS, MACHINES, VIP, Topology, run

REPO = Path(__file__).resolve().parent.parent.parent
SEED = REPO / "examples" / "seed"
REAL_SERVERS = {"192.168.0.1": "www1", "192.168.0.2": "www2"}
DIRECTORS = ("lvs1", "lvs2")
CLONE_NEWNET = 0x40000000
LONG_LIVED_PATIENCE_S = 60.0


@dataclass(frozen=True)
class Timers:
    keepalive: str
    deadtime_s: int
    initdead_s: int | None       # None: the seed's (not set)
    warntime_s: int | None
    mon_interval_s: int | None   # None: the seed's 10s
    mon_randstart_s: int | None  # None: the seed's 30s
    balanced_s: float            # how long to show the balancing before the first event
    client_period_s: float
    sample_s: float
    settle_s: float              # quiet time after the last event


DEMO = Timers(keepalive="2", deadtime_s=10, initdead_s=None, warntime_s=None,
              mon_interval_s=None, mon_randstart_s=None, balanced_s=8, client_period_s=0.5,
              sample_s=1.0, settle_s=4)
FAST = Timers(keepalive="1", deadtime_s=4, initdead_s=8, warntime_s=2,
              mon_interval_s=3, mon_randstart_s=1, balanced_s=3, client_period_s=0.5,
              sample_s=0.5, settle_s=2)
SEED_MON_INTERVAL_S = 10
SEED_RANDSTART_S = 30


class ScenarioFailed(Exception):
    pass


def reaction_limits(timers: Timers) -> tuple[int, int]:
    """How long the scenario waits (seconds) for mon to react to a web server (two intervals,
    then the monitor's and lvs.alert's start-up) and for a takeover (deadtime, then the
    resources' start-up), before it fails.  Generous: under emulation a Python program's
    start-up alone takes seconds, more on a loaded machine."""
    interval = timers.mon_interval_s or SEED_MON_INTERVAL_S
    return interval * 2 + 20, timers.deadtime_s + 45


# --- the seed's files, per node ------------------------------------------------------------

def ha_cf_text(timers: Timers, node_dir: Path) -> str:
    text = (SEED / "ha.d" / "ha.conf").read_text()
    if timers is not DEMO:
        text = re.sub(r"(?m)^keepalive\s+\S+", f"keepalive {timers.keepalive}", text)
        text = re.sub(r"(?m)^deadtime\s+\S+", f"deadtime {timers.deadtime_s}", text)
    extra = ["", "# added by lvs_compat/demo (namespaces, the seed's story):",
             "auto_failback on", "use_logd no", "crm off",
             f"logfile {node_dir}/ha-log", f"debugfile {node_dir}/ha-debug"]
    if timers.initdead_s is not None:
        extra.append(f"initdead {timers.initdead_s}")
    if timers.warntime_s is not None:
        extra.append(f"warntime {timers.warntime_s}")
    return text + "\n".join(extra) + "\n"


def haresources_text(mon_cf: Path) -> str:
    """The seed's ``lvs1.domain.com 10.0.0.3 lvs mon`` becomes
    ``lvs1.domain.com LVSSyncDaemonSwap::master lvs::MON_CF 10.0.0.3 mon::MON_CF``.

    ``lvs`` moves before the VIP: a kernel's IPVS looks at packets only once it has a virtual
    service (``ipvs->enable``), so with the seed's order the new director's own TCP stack
    answers the client's packets with RSTs between the VIP's arrival and ``lvs start``, which
    kills the connections the sync daemon had handed over (seen in this demo).  heartbeat
    starts a group left to right and stops it right to left, so the VIP also goes before the
    table on the node that gives up."""
    text = (SEED / "ha.d" / "haresources").read_text()
    node, vip, *resources = text.split()
    adapted = {name: f"{name}::{mon_cf}" for name in ("lvs", "mon")}
    order = ["LVSSyncDaemonSwap::master", adapted["lvs"], vip,
             *(adapted.get(name, name) for name in resources if name != "lvs")]
    return " ".join([node, *order]) + "\n"


def mon_cf_text(timers: Timers, mon_dir: Path, alert_dir: Path) -> str:
    text = (SEED / "mon.cf").read_text()
    text = re.sub(r"(?m)^cfbasedir\s*=.*$", f"cfbasedir   = {mon_dir}", text)
    # our lvs.alert where it is (as installed in mon's alertdir), the demo's mail.alert beside
    text = re.sub(r"(?m)^alertdir\s*=.*$", f"alertdir   = {REPO / 'alert.d'}:{alert_dir}", text)
    text = re.sub(r"(?m)^mondir\s*=.*$", f"mondir     = {REPO / 'mon.d'}", text)
    for address, name in REAL_SERVERS.items():
        text = text.replace(f"{name}.domain.com", address)
    if timers.mon_interval_s is not None:
        text = re.sub(r"(?m)^(\s*)interval\s+\S+", rf"\g<1>interval {timers.mon_interval_s}s", text)
    if timers.mon_randstart_s is not None:
        text = re.sub(r"(?m)^randstart\s*=.*$", f"randstart = {timers.mon_randstart_s}s", text)
    return text


MON_AUTH_CF = """# mon client commands: anyone may list (the demo needs nothing else)
command section
list: all
"""

MAIL_ALERT = """#!/bin/sh
# The demo's mail.alert: appends what mon would have mailed to @MAIL_LOG@.
{ echo "$(date +%s) mail.alert $*"; cat; } >> "@MAIL_LOG@"
exit 0
"""


def write_node_files(node_dir: Path, timers: Timers) -> None:
    ha_dir, mon_dir, alert_dir = node_dir / "ha.d", node_dir / "mon", node_dir / "alert.d"
    for directory in (ha_dir / "resource.d", mon_dir, alert_dir):
        directory.mkdir(parents=True, exist_ok=True)
    mon_cf = mon_dir / "mon.cf"
    mon_cf.write_text(mon_cf_text(timers, mon_dir, alert_dir))
    # mon refuses to start without cfbasedir/auth.cf; the seed's /etc/mon had Debian's
    (mon_dir / "auth.cf").write_text(MON_AUTH_CF)
    (ha_dir / "ha.cf").write_text(ha_cf_text(timers, node_dir))
    (ha_dir / "haresources").write_text(haresources_text(mon_cf))
    keys = ha_dir / "authkeys"
    shutil.copyfile(SEED / "ha.d" / "authkeys", keys)
    keys.chmod(0o600)
    for name in ("lvs", "mon", "LVSSyncDaemonSwap"):
        link = ha_dir / "resource.d" / name
        if not link.exists():
            link.symlink_to(REPO / "ha.d" / "resource.d" / name)
    mail = alert_dir / "mail.alert"
    mail.write_text(MAIL_ALERT.replace("@MAIL_LOG@", str(node_dir / "mail.log")))
    mail.chmod(0o755)


# --- observing ------------------------------------------------------------------------------

@dataclass
class Sample:
    t: float
    holders: list[str]
    servers: dict[str, int]        # the active director's real servers: name -> weight
    mon: list[str]                 # directors where mon runs
    sync: dict[str, str]           # director -> "master"/"backup"/"master+backup"/""
    client_ok: int
    client_failed: int
    answered: str
    long_ok: int
    long_state: str
    long_known: list[str]          # directors whose IPVS connection table has the long one


@dataclass
class Event:
    name: str
    t: float
    reaction: str = ""
    reacted_t: float | None = None
    details: dict = field(default_factory=dict)

    @property
    def took_s(self) -> float | None:
        return None if self.reacted_t is None else self.reacted_t - self.t


def enter_netns(path: str) -> None:
    """Move the calling thread (only it) into a network namespace: its sockets live there."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def http_get(sock: socket.socket) -> str:
    """One keep-alive GET on a connected socket; the body's first line (who answered)."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: www.domain.com\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed by the server")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    return body.decode(errors="replace").strip()


class Client:
    """The client machine's two users: one opening a new connection per request, and one
    keeping a single connection for as long as it works.  Threads moved into the client's
    namespace, so the scenario stays one process."""

    def __init__(self, netns_path: str, period_s: float, started: float):
        self.netns_path, self.period_s, self.started = netns_path, period_s, started
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests: list[tuple[float, bool, str]] = []
        self.long_requests: list[tuple[float, bool, str]] = []
        self.long_state = "not opened"
        self.long_local_port: int | None = None
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self._spawn(self._short_loop)

    def open_long(self) -> None:
        self._spawn(self._long_loop)

    def _spawn(self, target) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self.threads.append(thread)

    def now(self) -> float:
        return time.monotonic() - self.started

    def _short_loop(self) -> None:
        enter_netns(self.netns_path)
        while not self.stopping.is_set():
            begun = time.monotonic()
            try:
                with socket.create_connection((VIP, 80), timeout=1.0) as sock:
                    who, ok = http_get(sock), True
            except OSError as error:
                who, ok = type(error).__name__, False
            with self.lock:
                self.requests.append((self.now(), ok, who))
            self.stopping.wait(max(0.0, self.period_s - (time.monotonic() - begun)))

    def _long_loop(self) -> None:
        enter_netns(self.netns_path)
        try:
            sock = socket.create_connection((VIP, 80), timeout=2.0)
        except OSError as error:
            self.long_state = f"could not open: {error}"
            return
        # a real long-lived connection: TCP's own retransmissions carry it over a director
        # failover (the VIP moves within deadtime), so wait as long as a user would
        sock.settimeout(LONG_LIVED_PATIENCE_S)
        self.long_local_port = sock.getsockname()[1]
        self.long_state = "open"
        with sock:
            while not self.stopping.is_set():
                try:
                    who, ok = http_get(sock), True
                except OSError as error:
                    who, ok = f"{type(error).__name__}: {error}", False
                with self.lock:
                    self.long_requests.append((self.now(), ok, who))
                if not ok:
                    self.long_state = f"lost ({who})"
                    return
                self.stopping.wait(self.period_s)
        self.long_state = "open until the end"

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def counts(self) -> tuple[int, int, str]:
        with self.lock:
            ok = sum(1 for _, good, _ in self.requests if good)
            last = self.requests[-1][2] if self.requests else "-"
            return ok, len(self.requests) - ok, last

    def answers_since(self, t: float) -> list[str]:
        with self.lock:
            return [who for when, good, who in self.requests if good and when >= t]

    def long_ok(self) -> int:
        with self.lock:
            return sum(1 for _, good, _ in self.long_requests if good)


def hex_address(address: str) -> str:
    return "".join(f"{int(part):02X}" for part in address.split("."))


def proc_real_servers(text: str) -> list[tuple[str, int]]:
    """The real servers of the VIP's port 80 service in /proc/net/ip_vs (hex addresses)."""
    found, in_service = [], False
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in ("TCP", "UDP", "FWM"):
            in_service = words[0] == "TCP" and words[1] == f"{hex_address(VIP)}:0050"
        elif in_service and words and words[0] == "->" and ":" in words[1]:
            hex_ip = words[1].split(":")[0]
            address = ".".join(str(int(hex_ip[i:i + 2], 16)) for i in range(0, 8, 2))
            found.append((address, int(words[3])))
    return found


# --- the scenario ---------------------------------------------------------------------------

class Scenario:
    def __init__(self, work_dir: Path, timers: Timers = DEMO, narrate=print,
                 prefix: str | None = None):
        self.work = Path(work_dir)
        self.timers = timers
        self.say = narrate
        self.topology = Topology(prefix or f"lvsdemo{os.getpid()}")
        self.processes: dict[str, subprocess.Popen] = {}
        self.started = time.monotonic()
        self.samples: list[Sample] = []
        self.events: list[Event] = []
        self.client: Client | None = None
        self.sampler_stop = threading.Event()
        self.sampler: threading.Thread | None = None
        self.mon_started_t: dict[str, float] = {}

    def now(self) -> float:
        return time.monotonic() - self.started

    # -- machines ---------------------------------------------------------------------------
    def node_dir(self, name: str) -> Path:
        return self.work / name

    def local_dir(self, name: str) -> Path:
        """Sockets, FIFOs and pid files: on a local file system (/run), never on the work
        directory, which the QEMU guest sees through 9p (no sockets there)."""
        return Path("/run") / self.topology.prefix / name

    def run_dir(self, name: str) -> Path:
        return self.local_dir(name) / "run"

    def state_dir(self, name: str) -> Path:
        return self.local_dir(name) / "state"

    def start_web(self, name: str) -> None:
        log = open(self.node_dir(name) / "webserver.out", "ab")
        argv = ["ip", "netns", "exec", self.topology.netns(name), sys.executable, "-m",
                "lvs_compat.demo.webserver", name, "80"]
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, cwd=REPO,
                                                start_new_session=True)
        log.close()

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)

    def boot_director(self, name: str) -> None:
        """What the director's boot does: clean /run, the backup sync daemon (its init script),
        then heartbeat."""
        node = self.node_dir(name)
        shutil.rmtree(self.run_dir(name), ignore_errors=True)
        shutil.rmtree(self.state_dir(name) / "rsctmp", ignore_errors=True)
        for directory in (self.run_dir(name) / "lvs-compat", self.state_dir(name)):
            directory.mkdir(parents=True, exist_ok=True)
        self.topology.ns(name, "sysctl", "-qw", "net.ipv4.vs.sync_threshold=3 10")
        # the boot's own sync daemon: backup, as LVSSyncDaemonSwap's stop leaves it
        self.topology.ns(name, str(REPO / "ha.d" / "resource.d" / "LVSSyncDaemonSwap"), "stop")
        machine = next(m for m in MACHINES if m.name == name)
        env = dict(os.environ, LVS_COMPAT_RUN_DIR=str(self.run_dir(name) / "lvs-compat"))
        argv = ["ip", "netns", "exec", self.topology.netns(name), sys.executable,
                str(REPO / "bin" / "heartbeat"), "--config-dir", str(node / "ha.d"),
                "--state-dir", str(self.state_dir(name)), "--run-dir", str(self.run_dir(name)),
                "--node-name", machine.node_name, "--foreground"]
        log = open(node / "heartbeat.out", "ab")
        self.processes[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, env=env,
                                                start_new_session=True)
        log.close()

    def crash_director(self, name: str) -> None:
        self.topology.unplug(name)          # the wire first: a power loss, not a shutdown
        self.stop_process(name)             # (killed with the namespace; reaped here)

    # -- observation ------------------------------------------------------------------------
    def nsexec(self, name: str, *argv: str) -> str:
        path = f"/run/netns/{self.topology.netns(name)}"
        if not os.path.exists(path):
            return ""
        result = run(["nsenter", f"--net={path}", *argv], check=False, timeout=10)
        return result.stdout

    def mon_running(self, name: str) -> bool:
        from lvs_compat.resource_scripts.mon import read_pid
        return read_pid(str(self.run_dir(name) / "lvs-compat" / "mon" / "mon.pid")) is not None

    def read_net(self, name: str, *files: str) -> list[str] | None:
        """``/proc/net/<file>`` as the director sees them, read by this thread after entering
        its network namespace (no process to start: the emulated CPU is slow); None if the
        director is down."""
        path = f"/run/netns/{self.topology.netns(name)}"
        try:
            enter_netns(path)
            texts = []
            for file in files:
                with open(f"/proc/thread-self/net/{file}", encoding="ascii") as handle:
                    texts.append(handle.read())
            return texts
        except OSError:
            return None

    def observe(self) -> Sample:
        holders, tables, syncs = [], {}, {}
        for name in DIRECTORS:
            texts = self.read_net(name, "fib_trie", "ip_vs")
            if texts is None:
                syncs[name] = ""
                continue
            if re.search(rf"\|-- {re.escape(VIP)}\n\s+/32 host LOCAL", texts[0]):
                holders.append(name)
            tables[name] = {REAL_SERVERS.get(address, address): weight
                            for address, weight in proc_real_servers(texts[1])}
            try:   # run from this thread, so in the director's namespace
                daemons = sync_roles()
            except (OSError, IpvsadmError):
                # the director is dying: its processes are being killed, our ipvsadm among
                # them (seen in CI: "exit status -9" ended the sampler thread)
                daemons = set()
            syncs[name] = "+".join(role for role in ("master", "backup") if role in daemons)
        active = holders[0] if len(holders) == 1 else None
        ok, failed, last = self.client.counts() if self.client else (0, 0, "-")
        return Sample(
            t=round(self.now(), 2), holders=holders,
            servers=tables.get(active, {}) if active else {},
            mon=[name for name in DIRECTORS if self.mon_running(name)], sync=syncs,
            client_ok=ok, client_failed=failed, answered=last,
            long_ok=self.client.long_ok() if self.client else 0,
            long_state=self.client.long_state if self.client else "not opened",
            long_known=[name for name in DIRECTORS if self.synced_to(name)])

    def status_line(self, sample: Sample) -> str:
        holder = ",".join(sample.holders) or "nobody"
        servers = " ".join(f"{name}:{weight}" for name, weight in sorted(sample.servers.items()))
        return (f"{sample.t:6.1f}s  VIP {holder:<9} IPVS [{servers or 'empty':<17}] "
                f"mon@{','.join(sample.mon) or '-':<9} sync {sample.sync.get('lvs1') or '-'}/"
                f"{sample.sync.get('lvs2') or '-'}  client ok {sample.client_ok:>3} "
                f"failed {sample.client_failed:>2} last {sample.answered:<5} "
                f"long-lived {sample.long_state} ({sample.long_ok} answers)")

    def _sample_loop(self) -> None:
        last_printed = -1e9
        while not self.sampler_stop.is_set():
            begun = time.monotonic()
            sample = self.observe()
            self.samples.append(sample)
            if time.monotonic() - last_printed >= 0.95:
                self.say(self.status_line(sample))
                last_printed = time.monotonic()
            self.sampler_stop.wait(max(0.0, self.timers.sample_s - (time.monotonic() - begun)))

    def wait_until(self, predicate, timeout: float, what: str) -> float:
        """Wait for a sample (taken after this call) that satisfies ``predicate``; its time.
        Only the sampler thread observes: it is the one that enters the directors'
        namespaces."""
        deadline = time.monotonic() + timeout
        seen = len(self.samples)
        while True:
            while len(self.samples) > seen:
                sample = self.samples[seen]
                seen += 1
                if predicate(sample):
                    return sample.t
            if time.monotonic() > deadline:
                last = self.status_line(self.samples[-1]) if self.samples else "no sample"
                raise ScenarioFailed(f"timed out after {timeout:.0f} s waiting for {what}; "
                                     f"now: {last}")
            if self.sampler is not None and not self.sampler.is_alive():
                raise ScenarioFailed("the sampler thread died")
            time.sleep(0.1)

    def event(self, name: str, **details) -> Event:
        event = Event(name, round(self.now(), 2), details=details)
        self.events.append(event)
        self.say(f"=== {event.t:6.1f}s  {name}")
        return event

    def reacted(self, event: Event, reaction: str, t: float) -> None:
        event.reaction, event.reacted_t = reaction, round(t, 2)
        self.say(f"=== {t:6.1f}s  {reaction} ({event.took_s:.1f} s after: {event.name})")

    # -- the story ------------------------------------------------------------------------
    def run(self) -> dict:
        timers = self.timers
        interval = timers.mon_interval_s or SEED_MON_INTERVAL_S
        randstart = timers.mon_randstart_s or SEED_RANDSTART_S
        mon_reaction_s, takeover_s = reaction_limits(timers)
        self.say(f"lvs-compat demo: building the seed's network in namespaces "
                 f"{self.topology.prefix}-* (client {CLIENT_ADDRESS}, lvs1 10.0.0.1, "
                 f"lvs2 10.0.0.2, www1 192.168.0.1, www2 192.168.0.2, VIP {VIP}, "
                 f"direct routing)")
        for machine in MACHINES:
            self.node_dir(machine.name).mkdir(parents=True, exist_ok=True)
        self.topology.build()
        for name in DIRECTORS:
            write_node_files(self.node_dir(name), timers)
        self.start_web("www1")
        self.start_web("www2")
        self.client = Client(f"/run/netns/{self.topology.netns('client')}",
                             timers.client_period_s, self.started)
        self.sampler = threading.Thread(target=self._sample_loop, daemon=True)
        self.sampler.start()

        boot = self.event("lvs1 and lvs2 boot (sync backup daemon, heartbeat)")
        self.boot_director("lvs1")
        self.boot_director("lvs2")
        up = lambda s: (s.holders == ["lvs1"] and set(s.servers) == {"www1", "www2"}
                        and "lvs1" in s.mon and s.sync.get("lvs1") == "master")
        self.reacted(boot, "lvs1 holds the VIP, lvs (both real servers), mon and the master "
                     "sync daemon", self.wait_until(up, takeover_s + 60, "the cluster to come up"))
        mon_up_t = self.now()
        self.client.start()

        balanced = self.event("client requests through the VIP")
        both = lambda s: {"www1", "www2"} <= set(self.client.answers_since(balanced.t))
        t = self.wait_until(both, 30, "answers from both www1 and www2")
        self.reacted(balanced, "balanced: answers from www1 and www2", t)
        # mon's first checks come within randstart of its start
        settle = max(timers.balanced_s, mon_up_t + randstart + 1 - self.now())
        time.sleep(max(0.0, settle))

        down = self.event("www1's web server stops", interval_s=interval)
        self.stop_process("www1")
        t = self.wait_until(lambda s: s.holders == ["lvs1"] and set(s.servers) == {"www2"},
                            mon_reaction_s, "mon to remove www1")
        self.reacted(down, "mon removed www1 from the IPVS table", t)
        time.sleep(timers.balanced_s / 2)

        back = self.event("www1's web server starts again", interval_s=interval)
        self.start_web("www1")
        t = self.wait_until(lambda s: set(s.servers) == {"www1", "www2"}, mon_reaction_s,
                            "mon to add www1 back")
        self.reacted(back, "mon added www1 back (upalert)", t)

        opened = self.event("a long-lived client connection opens (keep-alive)")
        self.client.open_long()
        t = self.wait_until(lambda s: self.client.long_ok() >= 3 and "lvs2" in s.long_known,
                            30, "the long-lived connection in lvs2's synchronised table")
        self.reacted(opened, "lvs2's backup sync daemon knows the connection", t)
        opened.details["server"] = self.long_server()

        crash = self.event("lvs1 dies (processes killed, its network namespace deleted)",
                           deadtime_s=timers.deadtime_s)
        long_before = self.client.long_ok()
        self.crash_director("lvs1")
        t = self.wait_until(lambda s: s.holders == ["lvs2"], takeover_s, "lvs2 to take the VIP")
        self.reacted(crash, "lvs2 holds the VIP", t)
        crash.details["vip_s"] = round(t - crash.t, 2)
        t = self.wait_until(lambda s: (set(s.servers) == {"www1", "www2"} and "lvs2" in s.mon
                                       and s.sync.get("lvs2") == "master"),
                            takeover_s, "lvs2 to start lvs, mon and the master sync daemon")
        crash.details["resources_s"] = round(t - crash.t, 2)
        first = self.wait_until(lambda s: bool(self.client.answers_since(t)), 20,
                                "the client to get answers through lvs2")
        crash.details["client_answered_s"] = round(first - crash.t, 2)
        t = self.wait_until(lambda s: self.client.long_ok() >= long_before + 3
                            or self.client.long_state.startswith("lost"), 30,
                            "the long-lived connection to answer or fail")
        crash.details["long_lived"] = self.client.long_state
        crash.details["long_lived_answers_after"] = self.client.long_ok() - long_before

        failback = self.event("lvs1 boots again", auto_failback="on")
        self.topology.plug("lvs1")
        self.boot_director("lvs1")
        long_before = self.client.long_ok()
        t = self.wait_until(lambda s: (s.holders == ["lvs1"] and set(s.servers) == {"www1", "www2"}
                                       and s.mon == ["lvs1"] and s.sync.get("lvs1") == "master"
                                       and s.sync.get("lvs2") == "backup"),
                            takeover_s + 60, "lvs1 to take its resources back")
        self.reacted(failback, "lvs1 holds the VIP, lvs and mon again; lvs2 is standby", t)
        time.sleep(timers.settle_s)
        failback.details["long_lived"] = self.client.long_state
        failback.details["long_lived_answers_after"] = self.client.long_ok() - long_before
        return self.record()

    def synced_to(self, name: str) -> bool:
        port = self.client.long_local_port if self.client else None
        if port is None:
            return False
        texts = self.read_net(name, "ip_vs_conn")
        wanted = f"{hex_address(CLIENT_ADDRESS)} {port:04X} {hex_address(VIP)} 0050"
        return texts is not None and wanted in texts[0]

    def long_server(self) -> str:
        with self.client.lock:
            answers = [who for _, good, who in self.client.long_requests if good]
        return answers[-1] if answers else ""

    def record(self) -> dict:
        client = self.client
        with client.lock:
            requests, long_requests = list(client.requests), list(client.long_requests)
        return {
            "timers": asdict(self.timers),
            "events": [dict(asdict(event), took_s=event.took_s) for event in self.events],
            "samples": [asdict(sample) for sample in self.samples],
            "requests": requests,
            "long_requests": long_requests,
            "long_state": client.long_state,
            "duration_s": round(self.now(), 2),
        }

    def close(self) -> None:
        self.sampler_stop.set()
        if self.client is not None:
            self.client.stop()
        if self.sampler is not None:
            self.sampler.join(timeout=15)
        for name in list(self.processes):
            self.stop_process(name)
        self.topology.destroy()
        shutil.rmtree(Path("/run") / self.topology.prefix, ignore_errors=True)


def timeline_text(record: dict) -> str:
    lines = ["", "Timeline (seconds since start; reaction time in brackets):"]
    for number, event in enumerate(record["events"], start=1):
        took = "" if event["took_s"] is None else f"[{event['took_s']:5.1f} s]"
        lines.append(f"{number:>2} {event['t']:6.1f}  {event['name']}")
        if event["reaction"]:
            lines.append(f"   {event['reacted_t']:6.1f}  {took} {event['reaction']}")
        for key, value in event["details"].items():
            lines.append(f"           {key}: {value}")
    ok = sum(1 for _, good, _ in record["requests"] if good)
    lines.append(f"  client: {ok} of {len(record['requests'])} requests answered; long-lived "
                 f"connection: {record['long_state']} "
                 f"({sum(1 for _, good, _ in record['long_requests'] if good)} answers)")
    return "\n".join(lines)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Inside the machine with IPVS: ``python -m lvs_compat.demo.scenario [--fast] OUT_DIR``."""
    import argparse
    parser = argparse.ArgumentParser(prog="lvs-compat-demo scenario")
    parser.add_argument("--fast", action="store_true", help="short timers (the CI test)")
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # the narration also goes to a file: from the QEMU guest, the host shows it live from there
    narration = open(out / "narration.log", "w", buffering=1, encoding="utf-8")

    def narrate(line: str) -> None:
        print(line, flush=True)
        narration.write(line + "\n")
        narration.flush()

    for stale in ("record.json", "timeline.png"):
        (out / stale).unlink(missing_ok=True)
    shutil.rmtree(out / "nodes", ignore_errors=True)
    scenario = Scenario(out / "nodes", FAST if args.fast else DEMO, narrate=narrate)
    # Ctrl-C and SIGTERM both end in the finally below: every process and namespace goes
    signal.signal(signal.SIGTERM, _interrupt)
    record, status = None, 0
    try:
        record = scenario.run()
    except ScenarioFailed as error:
        narrate(f"lvs-compat-demo: FAILED: {error}")
        status = 1
    except KeyboardInterrupt:
        print("lvs-compat-demo: interrupted; cleaning up", flush=True)
        status = 130
    except (OSError, subprocess.SubprocessError) as error:
        import traceback
        detail = getattr(error, "stderr", "") or ""
        narrate(f"lvs-compat-demo: FAILED: {error} {detail.strip()}")
        (out / "traceback.txt").write_text(traceback.format_exc())
        status = 1
    finally:
        # the clean-up must finish: a second Ctrl-C (or coreutils timeout's signal to the
        # process group after the one to us) would stop it halfway and leave namespaces
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        scenario.close()
    if record is None and status != 130:
        record = scenario.record() if scenario.client else None
    if record is not None:
        (out / "record.json").write_text(json.dumps(record, indent=1))
        narrate(timeline_text(record))
        from .plot import write_plot
        png = out / "timeline.png"
        write_plot(record, png)
        from .plot import LEGEND
        narrate(f"\nplot: {png}\n({LEGEND})")
    narrate(f"=== end (status {status})")
    narration.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
