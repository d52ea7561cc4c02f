"""The heartbeat daemon: the thin I/O shell around one pure ``node.Node``.

One thread, one selector: the media's receive sockets (and serial ports), the control socket,
the FIFO (``fifo``), the resource worker's result socket and a wake-up pipe for signals.
Everything the protocol decides is the node's (its cores ``membership`` and ``resources``,
wired together in ``node``); this file only

* reads packets, a bounded batch per medium and loop turn, decodes and authenticates them
  (``wire.decode_received``: the digest before the parse, so a flood is cheap to refuse) and
  hands them to the core with the link they came in on and the real clock (``now_ms``); logs
  the kernel's drops on a medium (a full receive buffer) at most once a second;
* executes the core's actions: send a message on every medium (netstring on UDP, classic on
  serial, signed with the active authkeys entry), log, record node and link status for
  ``cl_status``;
* runs the core's timers (``tick``) at the time it asks for, at least every 250 ms (the C
  daemon's POLL_INTERVAL);
* hands resource group operations to one worker thread (``worker.ResourceWorker``) and
  its results back to the coordinator, so a script never holds up a heartbeat;
* runs the ``respawn``/``failfast`` programs (``respawn.ClientChildren``, rules in
  ``supervisor``): started once up, watched by a pidfd in the selector, stopped after the core
  (last ha.cf line first) before we exit or re-execute;
* SIGTERM/SIGINT (``heartbeat -k``): graceful stop: every group is stopped (right to left), then
  ``shutdone`` is sent and we exit about a second later; a stop that cannot finish (a group that
  will not stop) keeps the daemon running and heartbeating, so the peer does not take it;
  SIGHUP (``heartbeat -r``): as C, a changed ha.cf (mtime) restarts the daemon (it re-executes
  itself: same pid, next generation; resource groups are released first, as by a stop), a
  changed authkeys is re-read in place; a configuration that does not load is refused and the
  running one kept, and so is an ha.cf that loads but could not start (a medium on a missing
  interface, a serial port that does not open, a ping node that does not resolve: issue 19),
  tried before anything is given up (``check_startable``), with one located line in the log.

Packets that do not decode are dropped here, counted, and logged at most once a second per link
and peer address (issue 5, "Bad input") and at most four lines a second in all (issue 19: the
source address of a UDP packet is whatever the sender writes, so a flood from spoofed sources
must not get a line per packet).  The clock is injected (``clock.Clock``) so
that a test can drive the loop.
"""

from __future__ import annotations

import errno
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field

from . import PRODUCT, VERSION, wire
from .clock import SYSTEM_CLOCK, Clock
from .events import (EXECUTOR_ACTIONS, LinkStatusChanged, LocalHeartbeatLost, Log,
                     MessageReceived, NodeStatusChanged, PeerGenerationsChanged,
                     PingNodeStatus, RebootNode, ResourceStateChanged, SendMessage)
from ..oneline import one_line
from .hblog import HbLog
from .media import MediumDown, MediumError, medium_key, open_media, probe_media
from .node import Node
from .ratelimit import RateLimiter
from .statefiles import (StateFileError, format_uuid, next_generation, node_uuid,
                         read_peer_generations, remove_pid_file, write_peer_generations,
                         write_pid_file)

POLL_INTERVAL_MS = 250
PING_KINDS = ("ping", "ping6", "ping_group")
# a medium that went down (MediumDown) is tried again after 1 s, then 2, 4, 8 s between tries
MEDIUM_RETRY_FIRST_MS = 1000
MEDIUM_RETRY_MAX_MS = 8000
BAD_PACKET_LOG_INTERVAL_S = 1.0
BAD_PACKET_LOG_GLOBAL_INTERVAL_S = 0.25  # whatever the sources: at most 4 lines a second
BAD_PACKET_PEERS = 4096  # peers come from the network: keep the table bounded
KERNEL_DROP_LOG_INTERVAL_S = 1.0  # a line per medium at most once a second
# a bug met on a packet is logged whatever log_badpack says, once a minute per kind (issue 19)
PACKET_BUG_LOG_INTERVAL_S = 60.0
PACKET_BUG_KINDS = 64
REBOOT_ARGV = ("reboot", "-nf")
# Log levels of the cores (events.Log) as the C daemon writes them
_LEVELS = {"debug": "debug", "info": "info", "warning": "WARN", "error": "ERROR",
           "critical": "CRIT"}


class DaemonError(Exception):
    """The daemon cannot start; ``str()`` is a one-line reason."""


def read_loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            return handle.readline().strip()
    except OSError:
        return "0.00 0.00 0.00 1/1 1"


@dataclass
class BadPacketLog:
    """Counts bad packets and says when a log line is due: once a second per peer, and at most
    once a ``global_interval_s`` whatever the peer (both by the one rate limiter).  A peer's
    line due while the global budget is spent is held back and counted in the next line."""

    interval_s: float = BAD_PACKET_LOG_INTERVAL_S
    global_interval_s: float = BAD_PACKET_LOG_GLOBAL_INTERVAL_S
    total: int = 0
    held_globally: int = 0  # packets of peers whose line the global limit held back

    def __post_init__(self) -> None:
        self._per_peer = RateLimiter(self.interval_s, BAD_PACKET_PEERS)
        self._global = RateLimiter(self.global_interval_s, 1)

    def record(self, peer, now_s: float) -> tuple[int, int] | None:
        """Count one bad packet.  None if no line is due; else (this peer's packets since its
        last line, this one included; other peers' packets not reported since the last line)."""
        self.total += 1
        due = self._per_peer.due(peer, now_s)
        if due is None:
            return None
        if self._global.due(None, now_s) is None:
            self.held_globally += due
            return None
        others, self.held_globally = self.held_globally, 0
        return due, others


class Daemon:
    def __init__(self, ha_dir, node_name: str, *, state_dir: str, run_dir: str,
                 pid_file: str | None, log: HbLog, clock: Clock | None = None,
                 config_dir: str | None = None, coordinator_options=None):
        self.ha_dir = ha_dir
        self.ha_cf = ha_dir.ha_cf
        self.authkeys = ha_dir.authkeys
        self.node_name = node_name
        self.state_dir = state_dir
        self.run_dir = run_dir
        self.pid_file = pid_file
        self.config_dir = config_dir or ha_dir.directory
        self.log = log
        self.clock = clock or SYSTEM_CLOCK
        self.media = []
        self._media_keys: dict = {}      # medium -> its ha.cf item without the location
        self._down_media: dict = {}      # medium -> (next try ms, back-off ms, down was logged)
        self._reopened_media: dict = {}  # medium -> (when it was opened again, back-off then)
        self.selector = selectors.DefaultSelector()
        self.control = None
        self.core = None
        self.bad_packets = BadPacketLog()
        self._kernel_drops: dict = {}  # medium -> drops it had at its last log line
        self._kernel_drop_log = RateLimiter(KERNEL_DROP_LOG_INTERVAL_S, 64)
        self._packet_bugs = RateLimiter(PACKET_BUG_LOG_INTERVAL_S, PACKET_BUG_KINDS)
        self.stopping = False
        self.exit_code = 0
        self.started_ms = 0
        self.node_status: dict[str, str] = {}
        self.link_status: dict[tuple[str, str], str] = {}
        self._wake_r = self._wake_w = None
        self._pending_signals: list[int] = []
        self._stop_deadline_ms: int | None = None
        self.restart_requested = False
        self.config_mtimes = self._mtimes()
        self.coordinator_options = coordinator_options
        self.worker = None
        self.fifo = None
        self.ping_nodes = None
        self.children = None  # respawn/failfast lines (respawn.ClientChildren)
        self.api = None          # the client API's socket (apisocket), opened at comm-up

    # --- start-up --------------------------------------------------------------------------
    def open_io(self) -> None:
        """Directories, media and the control socket: what can fail because of the machine
        (no such interface, port in use, a respawn user or program missing).  Done before
        daemonizing, so that the operator sees the one-line reason and exit status 1."""
        from .respawn import ChildError, ClientChildren, child_environment, resolve_children
        try:
            children = resolve_children(self.ha_cf)
        except ChildError as error:
            raise DaemonError(str(error)) from None
        self.children = ClientChildren(
            children, child_environment(self.ha_cf, self.node_name, self.config_dir),
            self.selector, self.execute, self.reboot)
        try:
            os.makedirs(self.state_dir, exist_ok=True)
            os.makedirs(self.run_dir, exist_ok=True)
        except OSError as error:
            raise DaemonError(f"{error.filename}: {error.strerror}") from None
        try:
            self.media = open_media(self.ha_cf.media, self.clock)
        except MediumError as error:
            raise DaemonError(str(error)) from None
        specs = [spec for spec in self.ha_cf.media if spec.kind not in PING_KINDS]
        self._media_keys = {medium: medium_key(spec) for medium, spec in zip(self.media, specs)}
        for medium in self.media:
            self.selector.register(medium, selectors.EVENT_READ, ("medium", medium))
        from .control import ControlServer
        try:
            self.control = ControlServer(self.run_dir, self.selector)
        except OSError as error:
            raise DaemonError(f"control socket in {self.run_dir}: {error.strerror}") from None
        from .fifo import FifoReader
        try:
            self.fifo = FifoReader(self.state_dir)
        except OSError as error:
            raise DaemonError(f"{error.filename or self.state_dir}: "
                              f"{error.strerror or error}") from None
        self.selector.register(self.fifo, selectors.EVENT_READ, ("fifo", None))
        from .pingnodes import PingNodes
        try:
            self.ping_nodes = PingNodes(self.ha_cf.media, self.ha_cf.keepalive_ms,
                                        self.ha_cf.deadping_ms, self.clock.now_ms())
        except OSError as error:
            raise DaemonError(f"ping nodes: {error.strerror or error}") from None
        if self.ping_nodes:
            self.selector.register(self.ping_nodes, selectors.EVENT_READ, ("ping", None))

    def start(self) -> None:
        """In the final process: pid file, generation (incremented and fsync'ed), uuid,
        signals, then the core's first status messages."""
        cfg = self.ha_cf
        if self.pid_file:
            try:
                write_pid_file(self.pid_file, os.getpid())
            except StateFileError as error:
                raise DaemonError(str(error)) from None
        try:
            generation, note = next_generation(self.state_dir, cfg.hbgenmethod, self.clock.wall())
            uuid = node_uuid(self.state_dir, cfg.uuidfrom, self.node_name)
        except StateFileError as error:
            raise DaemonError(str(error)) from None
        self.log.info(f"Configuration validated. Starting heartbeat {VERSION} ({PRODUCT})")
        self.log.info(note)
        self.log.info(f"Local node {self.node_name}, uuid {format_uuid(uuid)}")
        try:
            peer_generations = read_peer_generations(self.state_dir)
        except StateFileError as error:   # only a hardening aid: start without it, say so
            self.log.warn(f"{error}: ignored, replays from before this start are not refused")
            peer_generations = {}
        for medium in self.media:
            self.log.info(f"{medium.kind} heartbeat started on {medium.name}")
        self.generation = generation
        self.uuid = uuid
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, ("signal", None))
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.core = Node(cfg, self.ha_dir.haresources, self.node_name, generation,
                         self.clock.now_ms(), self.coordinator_options,
                         seed=random.SystemRandom().random(), uuid=uuid,
                         peer_generations=peer_generations)
        if self.core.has_groups:
            if hasattr(os, "sched_setscheduler") and os.sched_getscheduler(0) != os.SCHED_OTHER:
                # inherited (a SIGHUP re-exec of a realtime daemon): not for the worker
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            self._start_worker()
        self._make_realtime()
        for host in self.ping_nodes.unsupported if self.ping_nodes is not None else ():
            self.log.warn(f"ping6 node {host}: IPv6 ping nodes are not supported; it stays dead")
        self.started_ms = self.clock.now_ms()
        self.execute(self.core.start(self.started_ms))

    def _make_realtime(self) -> None:
        """``realtime on`` (the default, as C): the loop thread runs SCHED_RR at ``rtprio``
        (default 1), so a busy machine does not delay heartbeats past deadtime.  Only this
        thread: the resource worker and the ARP threads started before it, and the scripts
        they run, keep the normal policy (C resets its forked children likewise).  mlockall
        is not done."""
        if not self.ha_cf.realtime or not hasattr(os, "sched_setscheduler"):
            return
        priority = self.ha_cf.rtprio or 1
        try:
            os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(priority))
        except (OSError, ValueError) as error:
            self.log.warn(f"cannot run realtime (SCHED_RR {priority}): "
                          f"{getattr(error, 'strerror', None) or error}")
        else:
            self.log.info(f"realtime scheduling: SCHED_RR priority {priority}")

    def _start_worker(self) -> None:
        """The executor lives in the final process (its ARP threads must not cross a fork)."""
        from .worker import ResourceWorker
        from .agents import GroupExecutor
        from .resource_terms import CoordinatorOptions
        # the coordinator retries a failed stop itself (groups.py); scripts are told how often
        options = self.coordinator_options or CoordinatorOptions()
        executor = GroupExecutor.from_ha_dir(
            self.ha_dir, self.node_name, stop_retry_max=options.stop_retry_max,
            state_dir=os.path.join(self.state_dir, "rsctmp"), clock=self.clock)
        self.worker = ResourceWorker(executor)
        self.worker.verify_all_idle()
        self.selector.register(self.worker, selectors.EVENT_READ, ("worker", None))

    def run_resource_action(self, action) -> None:
        if self.worker is None:
            self.log.error(f"no resource worker for {action!r}")
            return
        self.worker.submit(action)

    def _worker_results(self) -> None:
        for result in self.worker.results():
            if isinstance(result, Log):
                self.execute([result])
            else:
                self.execute(self.core.executor_result(result, self.clock.now_ms()))

    def _fifo_messages(self) -> None:
        from .fifo import outbound_fields
        messages, complaints = self.fifo.read()
        for complaint in complaints:
            self.log.warn(complaint)
        for fields in messages:
            if dict(fields).get("t"):
                self._send_from_local(outbound_fields(fields))
            else:
                self.log.warn("FIFO: message without t= dropped")

    def _send_from_local(self, fields) -> None:
        """A cluster message from a local program (a script through the FIFO, a client of the
        API): ``ask_resources info=me`` (hb_standby, ipfail's giveup) and ``hb_takeover`` are
        requests to the coordinator, checked before anything is sent; the rest is sent and
        processed here too (``resources``: "The FIFO reader must turn ...")."""
        from .fifo import request_of
        now = self.clock.now_ms()
        request = request_of(list(fields))
        if request is not None:
            self.execute(self.core.local_request(request, now))
        else:
            self.execute(self.core.send_fields(fields, now))

    def _ping_changes(self, changes) -> None:
        """Ping node status changes: logged as C does, shown by cl_status, told to the
        coordinator (which moves nothing on them in v1, see ``pingnodes``)."""
        for node, old, new in changes:
            self.node_status[node] = new
            if new == "dead":
                self.log.warn(f"node {node}: is dead")
            else:
                self.log.info(f"Status update for node {node}: status {new}")
            self.execute(self.core.local_request(PingNodeStatus(node, new),
                                                 self.clock.now_ms()))
            if self.api is not None:   # CLIENT-API §4.1 (what ipfail acts on)
                from .api import ping_node_messages
                for fields in ping_node_messages(node, old, new, self.clock.wall()):
                    self._api_execute(self.api.server.deliver(fields))

    def _on_signal(self, signum, frame) -> None:
        self._pending_signals.append(signum)

    # --- the loop --------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            now = self.clock.now_ms()
            deadline = self.core.next_deadline_ms(now)
            if self.api is not None:
                api_deadline = self.api.next_deadline_ms()
                if api_deadline is not None:
                    deadline = api_deadline if deadline is None else min(deadline, api_deadline)
            if self.control is not None:
                # a control client's deadline (its whole request, not each read: issue 19)
                client_deadline = self.control.next_deadline_ms()
                if client_deadline is not None:
                    deadline = client_deadline if deadline is None else min(deadline,
                                                                            client_deadline)
            if self.children:
                child_deadline = self.children.next_deadline_ms()
                if child_deadline is not None:
                    deadline = child_deadline if deadline is None else min(deadline,
                                                                          child_deadline)
            wait_ms = POLL_INTERVAL_MS if deadline is None else deadline - now
            wait_ms = max(0, min(wait_ms, POLL_INTERVAL_MS))
            try:
                events = self.selector.select(wait_ms / 1000)
            except InterruptedError:
                events = []
            for key, mask in events:
                kind, medium = key.data
                if kind == "medium":
                    self._receive(medium)
                elif kind == "control":  # the listener (None) or one client, never blocking
                    self.control.ready(medium, self._control_request, self.clock.now_ms())
                elif kind == "api":    # the listener (None) or one client, never blocking
                    if self.api is not None:
                        self._api_execute(self.api.ready(medium, mask, self.api_view,
                                                         self.clock.now_ms()))
                elif kind == "worker":
                    self._worker_results()
                elif kind == "fifo":
                    self._fifo_messages()
                elif kind == "ping":
                    self._ping_changes(self.ping_nodes.receive(self.clock.now_ms()))
                elif kind == "child":  # a respawn child's pidfd: it died
                    self.children.ready(medium, self.clock.now_ms())
                else:
                    self._drain_wakeup()
            self._handle_signals()
            now = self.clock.now_ms()
            if self.control is not None:
                self.control.expire(now)
            if self.api is not None:
                self._api_execute(self.api.expire(now))
            if self._down_media:
                self._retry_media(now)
            self.execute(self.core.tick(now))
            if self.ping_nodes:
                self._ping_changes(self.ping_nodes.tick(now))
            if self.children:
                self.children.tick(now)
            if self.stopping and (self.core.stopped(now) or
                                  (self._stop_deadline_ms is not None
                                   and now >= self._stop_deadline_ms)):
                if not self.children:
                    return self.exit_code
                # C: the children after the groups, last ha.cf line first (supervisor)
                self.children.shutdown(now)
                if self.children.stopped:
                    return self.exit_code

    def _drain_wakeup(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _handle_signals(self) -> None:
        while self._pending_signals:
            signum = self._pending_signals.pop(0)
            if signum in (signal.SIGTERM, signal.SIGINT):
                self.begin_stop()
            elif signum == signal.SIGHUP:
                self.reload()

    def begin_stop(self) -> None:
        now = self.clock.now_ms()
        if self.stopping:
            if self.core.has_groups and not self.restart_requested:
                self.execute(self.core.shutdown(now))   # retries a blocked shutdown
            return
        self.stopping = True
        self.log.info(f"Heartbeat shutdown in progress. ({os.getpid()})")
        if not self.core.has_groups:
            # Enough for the core's shutdown messages; a core that never says "stopped"
            # cannot keep us alive past it.  With resources the stop takes as long as the
            # scripts (and a group that will not stop keeps us running, see above).
            self._stop_deadline_ms = now + max(2 * self.ha_cf.keepalive_ms, 2000)
        self.execute(self.core.shutdown(now))

    def _mtimes(self) -> tuple[int | None, int | None]:
        def mtime(path):
            try:
                return os.stat(path).st_mtime_ns
            except OSError:
                return None
        return (mtime(self.ha_dir.config_path),
                mtime(os.path.join(self.config_dir, "authkeys")))

    def reload(self) -> str | None:
        """SIGHUP, as the C daemon: a changed ha.cf (mtime) means a full restart (re-exec, new
        generation; peers log "Heartbeat restart"), a changed authkeys is re-read in place.
        A configuration that does not load, or a changed ha.cf that could not start
        (``check_startable``), is refused and the running one kept: a SIGHUP from systemd or
        ``kill -HUP`` has had no ``heartbeat -r`` check before it.  Returns the refusal's
        log line (``heartbeat -r`` reports it, issue 19), else None."""
        from ..config.errors import ConfigError
        self.log.reopen()  # the log files too, for a logrotate that renames and sends SIGHUP
        ha_cf_mtime, authkeys_mtime = self._mtimes()
        try:
            ha_dir = load_config(self.config_dir, self.node_name)
            if ha_cf_mtime != self.config_mtimes[0]:
                # the restart gives our groups away and re-executes: the new process must
                # be able to start, or the director is gone (issue 19)
                self.check_startable(ha_dir.ha_cf)
        except (ConfigError, OSError, DaemonError) as error:
            refused = f"reload refused, configuration kept: {one_line(str(error))}"
            self.log.error(refused)
            return refused
        if authkeys_mtime != self.config_mtimes[1]:
            # what the peer will see, before a restart as well (issue 19)
            from ..config.authkeys import outbound_change
            change = outbound_change(self.authkeys, ha_dir.authkeys)
            if change is not None:
                self.log.warn(change)
        if ha_cf_mtime != self.config_mtimes[0]:
            self.log.info("ha.cf changed: restarting heartbeat (SIGHUP)")
            if self.core.has_groups:
                # as a stop: our groups go to the peer first (shutdone), then we re-execute
                self.begin_stop()
                self.restart_requested = True
                return
            self.restart_requested = True
            self.stopping = True
            self._stop_deadline_ms = self.clock.now_ms()
            return
        if authkeys_mtime != self.config_mtimes[1]:
            for warning in ha_dir.authkeys.warnings:  # a restart logs them all at its start
                self.log.warn(str(warning))
            self.authkeys = ha_dir.authkeys
            self.config_mtimes = (ha_cf_mtime, authkeys_mtime)
            self.log.info("authkeys re-read (SIGHUP)")
        else:
            self.log.info("configuration re-read (SIGHUP): nothing changed")

    def check_startable(self, cfg) -> None:
        """What ``open_io`` would fail on with ``cfg``, for a reload, tried without giving
        anything up: every medium we do not hold open now is opened and closed at once
        (``media.probe_media``), and the ping nodes resolved and their socket opened.  The rest
        of start-up depends on the command line and the state files, which a reload keeps.
        ``DaemonError`` (located at the ha.cf line) on the first problem."""
        open_now = {key for medium, key in self._media_keys.items()
                    if medium not in self._down_media}
        try:
            probe_media(cfg.media, self.clock, open_already=open_now)
        except MediumError as error:
            raise DaemonError(str(error)) from None
        from .respawn import ChildError, resolve_children
        try:
            resolve_children(cfg)
        except ChildError as error:
            raise DaemonError(str(error)) from None
        from .pingnodes import PingNodes
        # only new ping nodes: a name is resolved here, in the loop's thread, and the ones we
        # ping now resolved at start
        pinged = {medium_key(spec) for spec in self.ha_cf.media if spec.kind in PING_KINDS}
        for spec in cfg.media:
            if spec.kind in ("ping", "ping_group") and medium_key(spec) not in pinged:
                try:
                    PingNodes([spec], cfg.keepalive_ms, cfg.deadping_ms, 0).close()
                except OSError as error:
                    raise DaemonError(f"{spec.location}: {error.strerror or error}") from None

    # --- packets in ------------------------------------------------------------------------
    def _receive(self, medium) -> None:
        try:
            packets = medium.read()
        except MediumDown as error:
            self._medium_down(medium, str(error))
            return
        for packet in packets:
            data, peer = packet if isinstance(packet, tuple) else (packet, None)
            try:
                # the cheap checks first: a wrongly signed packet is never parsed (issue 19)
                frame = wire.decode_received(data, self.authkeys)
            except wire.DecodeError as error:
                self._bad_packet(medium, peer, f"dropped a malformed packet: {error.reason}")
                continue
            now = self.clock.now_ms()
            try:
                actions = self.core.receive(frame, medium.name, now)
            except Exception as error:  # a packet must never stop the daemon, even via a bug
                self._packet_bug(medium, peer, error)
                continue
            self.execute(actions)
        if packets:
            self._count_kernel_drops(medium)

    def _count_kernel_drops(self, medium) -> None:
        """Log, at most once a second per medium, the packets the kernel dropped because the
        receive buffer was full: real heartbeats may be among them (issue 19 item 8)."""
        drops = getattr(medium, "kernel_drops", lambda: None)()
        reported = self._kernel_drops.get(medium, 0)
        if drops is None or drops <= reported:
            return
        if self._kernel_drop_log.due(medium.name, self.clock.now_ms() / 1000) is not None:
            self._kernel_drops[medium] = drops
            self.log.warn(f"{medium.kind} {medium.name}: the kernel dropped {drops - reported} "
                          f"packet(s) (receive buffer full), {drops} since it was opened")

    def _medium_down(self, medium, reason: str) -> None:
        """Stop reading a medium that failed and close it; ``_retry_media`` opens it again.
        Its peers' links over it go dead by the usual deadtime, as when a cable is pulled."""
        self.selector.unregister(medium)
        medium.close()
        now = self.clock.now_ms()
        backoff, logged = MEDIUM_RETRY_FIRST_MS, True
        reopened_ms, last_backoff = self._reopened_media.pop(medium, (None, 0))
        if reopened_ms is not None and now - reopened_ms < MEDIUM_RETRY_MAX_MS:
            # down again soon after it was opened again: a flapping line backs off further,
            # and is not logged each time
            backoff, logged = min(2 * last_backoff, MEDIUM_RETRY_MAX_MS), False
        else:
            self.log.warn(f"{reason}: {medium.kind} {medium.name} closed, tried again every "
                          f"{MEDIUM_RETRY_FIRST_MS // 1000}-{MEDIUM_RETRY_MAX_MS // 1000} s")
        self._down_media[medium] = (now + backoff, backoff, logged)

    def _retry_media(self, now: int) -> None:
        for medium, (due, backoff, logged) in list(self._down_media.items()):
            if now < due:
                continue
            try:
                medium.reopen()
            except MediumError:
                backoff = min(2 * backoff, MEDIUM_RETRY_MAX_MS)
                self._down_media[medium] = (now + backoff, backoff, logged)
                continue
            del self._down_media[medium]
            self._reopened_media[medium] = (now, backoff)
            self.selector.register(medium, selectors.EVENT_READ, ("medium", medium))
            if logged:
                self.log.info(f"{medium.kind} {medium.name} open again")

    def _packet_bug(self, medium, peer, error: Exception) -> None:
        """A bug met while handling a packet: the packet is dropped and the daemon goes on.
        It is ours, not the peer's, so it is logged whatever ``log_badpack`` says, as an
        error, once a minute per kind (exception type and where it was raised) with the
        count held back since; the traceback goes to the debug file with each line."""
        import traceback
        frames = traceback.extract_tb(error.__traceback__)
        origin = (frames[-1].filename, frames[-1].lineno) if frames else None
        due = self._packet_bugs.due((type(error).__name__, origin), self.clock.now_ms() / 1000)
        if due is None:
            return
        where = f"{medium.name}" + (f" from {peer[0]}" if peer else "")
        suffix = f" ({due} such packets since the last report)" if due > 1 else ""
        self.log.error(f"{where}: internal error on a packet, dropped: "
                       f"{type(error).__name__}: {error}{suffix}")
        for chunk in traceback.format_exception(error):
            for line in chunk.splitlines():
                self.log.debugfile_only(line)

    def _bad_packet(self, medium, peer, text: str) -> None:
        where = f"{medium.name}" + (f" from {peer[0]}" if peer else "")
        report = self.bad_packets.record((medium.name, peer[0] if peer else None),
                                         self.clock.now_ms() / 1000)
        if report is not None and self.ha_cf.log_badpack:
            due, others = report
            notes = []
            if due > 1:
                notes.append(f"{due} bad packets since the last report")
            if others:
                notes.append(f"{others} more from other sources not logged")
            suffix = f" ({'; '.join(notes)})" if notes else ""
            self.log.warn(f"{where}: {text}{suffix}")

    # --- actions out -----------------------------------------------------------------------
    def send(self, message) -> None:
        encoded = {}
        for medium in self.media:
            framing = medium.framing
            if framing not in encoded:
                try:
                    if framing == wire.NETSTRING:
                        encoded[framing] = wire.encode_netstring(message, self.authkeys,
                                                                 msgfmt=self.ha_cf.msgfmt)
                    else:
                        encoded[framing] = wire.encode_classic(message, self.authkeys)
                except ValueError as error:
                    self.log.error(f"cannot encode a {message.type} message: {error}")
                    return
            medium.write(encoded[framing])

    def set_node_status(self, node: str, status: str) -> None:
        self.node_status[node] = status

    def set_link_status(self, node: str, link: str, status: str) -> None:
        self.link_status[(node, link)] = status

    def execute(self, actions) -> None:
        for action in actions or ():
            self._execute(action)

    def _execute(self, action) -> None:
        """One action of the node (``node.Node``): the only place they become I/O."""
        if isinstance(action, SendMessage):
            self.send(self.core.wire_message(action, self.clock.wall(), read_loadavg()))
        elif isinstance(action, Log):
            self.log(_LEVELS.get(action.level, "info"), action.text)
        elif isinstance(action, NodeStatusChanged):
            self.set_node_status(action.node, action.new)
            if action.node == self.node_name and action.reason == "comm up":
                self.open_api()
                if self.children:  # C: after the API socket (heartbeat.c comm_now_up)
                    self.children.start(self.clock.now_ms())
            elif self.api is not None:   # CLIENT-API §4.1: a status change
                self._api_execute(self.api.server.deliver(
                    (("t", "status"), ("src", action.node), ("st", action.new))))
        elif isinstance(action, LinkStatusChanged):
            self.set_link_status(action.node, action.link, action.new)
            if self.api is not None:
                self._api_execute(self.api.server.deliver(
                    (("t", "ifstat"), ("node", action.node), ("ifname", action.link),
                     ("st", action.new))))
        elif isinstance(action, MessageReceived):
            if self.api is not None:
                message = action.message
                if not isinstance(message, wire.Message):   # our own, through the loop-back
                    pairs = message.pairs()
                    if "src" not in dict(pairs):
                        pairs += (("src", action.node),)
                    message = wire.Message.from_pairs(pairs)
                self._api_execute(self.api.server.cluster_message(message, self.api_view()))
        elif isinstance(action, LocalHeartbeatLost):
            self.log("ERROR", "no local heartbeat: our own packets do not come back on any "
                     "medium")
        elif isinstance(action, EXECUTOR_ACTIONS):
            self.run_resource_action(action)
        elif isinstance(action, PeerGenerationsChanged):
            self.keep_peer_generations(action.records)
        elif isinstance(action, ResourceStateChanged):
            self.log("debug", f"resource state {action.old} -> {action.new}")
        elif isinstance(action, RebootNode):
            self.log("CRIT", f"Rebooting this node: {action.reason} (failed_stop_action reboot)")
            self.reboot(action.reason)
        # ShutdownComplete: Node.stopped() says so.  MessageReceived, NodeRestarted,
        # HeartbeatLate, PartitionHealed: the coordinator has them; the core logged them.

    def reboot(self, reason: str) -> None:
        """Reboot this node now (a failed stop with ``failed_stop_action reboot``, a failfast
        child's death); the caller has logged why."""
        try:
            subprocess.run(list(REBOOT_ARGV), timeout=30, check=False,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as error:
            self.log("CRIT", f"reboot failed ({reason}): {error}")

    def keep_peer_generations(self, records) -> None:
        try:
            write_peer_generations(self.state_dir, records)
        except StateFileError as error:
            self.log.error(str(error))

    # --- the client API ---------------------------------------------------------------------
    def open_api(self) -> None:
        """At comm-up, as 3.0.6 (CLIENT-API §1.1): ``<run dir>/register``.  A failure is
        logged; heartbeating goes on without clients."""
        if self.api is not None:
            return
        import grp
        import pwd
        from . import api
        from .apisocket import ApiSocket

        def uid_of(name):
            try:
                return pwd.getpwnam(name).pw_uid
            except KeyError:
                return None

        def gid_of(name):
            try:
                return grp.getgrnam(name).gr_gid
            except KeyError:
                return None
        cfg = self.ha_cf
        rules = api.authorization_rules(cfg.apiauth, not cfg.manages_resources, uid_of, gid_of)
        server = api.ApiServer(self.node_name, rules, daemon_uid=os.geteuid())
        try:
            self.api = ApiSocket(self.run_dir, self.selector, server, cfg.msgfmt)
        except OSError as error:
            self.log.error(f"client API socket in {self.run_dir}: {error.strerror or error}")
            return
        self._api_parameters = api.recorded_parameters(cfg, self.log.debug_level)
        self.log.info(f"client API listening on {self.api.path}")

    def api_view(self):
        """What the client API answers from (``api.ClusterView``), built from the core."""
        from . import api
        from ..config.hacf import _FACILITIES
        cfg = self.ha_cf
        links = [medium.name for medium in self.media]
        entries = [(node.location.line or 0, "normal", node.name) for node in cfg.nodes]
        entries += [(node.location.line or 0, "ping", node.name) for node in cfg.ping_nodes]
        nodes = []
        for _, kind, name in sorted(entries, key=lambda item: item[0]):
            if kind == "ping":
                status = self.node_status.get(name, "init")
                status = "ping" if status not in ("dead", "init") else status
                nodes.append(api.NodeInfo(name, "ping", status,
                                          ((name, "up" if status == "ping" else "dead"),)))
            else:
                nodes.append(api.NodeInfo(
                    name, "normal", self.core.node_status(name) or "init",
                    tuple((link, self.core.link_status(name, link) or "dead") for link in links),
                    uuid=self.uuid if name == self.node_name else None))
        return api.ClusterView(
            local=self.node_name, nodes=tuple(nodes), deadtime_ms=cfg.deadtime_ms,
            keepalive_ms=cfg.keepalive_ms, hbversion=f"{VERSION} ({PRODUCT})",
            parameters=self._api_parameters, resources=self.core.resource_status,
            logfacility=_FACILITIES.get(cfg.logfacility, -1) if cfg.logfacility else -1)

    def _api_execute(self, actions) -> None:
        """The client API's actions (``api``); a cluster message a client sends goes through
        the core like the FIFO's, and its loop-back copy comes back as ``MessageReceived``."""
        from . import api
        for action in actions:
            if isinstance(action, api.Deliver):
                self._api_execute(self.api.send(action.connection, action.message))
            elif isinstance(action, api.Disconnect):
                self.api.close(action.connection)
            elif isinstance(action, api.SendToCluster):
                self._send_from_local(action.fields)
            elif isinstance(action, api.SetSendQueue):
                self.api.set_queue(action.connection, action.length)
            elif isinstance(action, Log):
                self.execute([action])

    # --- control socket ---------------------------------------------------------------------
    def snapshot(self) -> dict:
        cfg = self.ha_cf
        nodes = []
        for node in cfg.nodes:
            name = node.name
            links = {medium.name: self.core.link_status(name, medium.name) or "dead"
                     for medium in self.media}
            nodes.append({"name": name, "type": "normal",
                          "status": self.core.node_status(name) or "dead",
                          "links": links, "weight": 100, "site": ""})
        for node in cfg.ping_nodes:
            nodes.append({"name": node.name, "type": "ping",
                          "status": self.node_status.get(node.name, "dead"),
                          "links": {"ping": self.node_status.get(node.name, "dead")},
                          "weight": 100, "site": ""})
        return {
            "version": f"{VERSION} ({PRODUCT})",
            "node": self.node_name,
            "pid": os.getpid(),
            "generation": self.generation,
            "nodes": nodes,
            "rscstatus": self.core.resource_status,
            "bad_packets": self.bad_packets.total,
            "parameters": _parameters(cfg),
        }

    def _control_request(self, request: dict) -> dict:
        command = request.get("command")
        if command == "status":
            return {"ok": True, "status": self.snapshot()}
        if command == "stop":
            self.begin_stop()
            return {"ok": True}
        if command == "reload":
            refused = self.reload()
            return {"ok": True} if refused is None else {"ok": False, "error": refused}
        return {"ok": False, "error": f"unknown command {command!r}"}

    # --- the end ---------------------------------------------------------------------------
    def close(self) -> None:
        if self.core is not None:          # the newest seqs, for our next start
            self.keep_peer_generations(self.core.peer_generations())
        try:
            signal.set_wakeup_fd(-1)
        except ValueError:
            pass
        if self.worker is not None:
            self.worker.close()
        if self.children is not None:
            self.children.close()
        if self.fifo is not None:
            self.fifo.close()
        if self.ping_nodes is not None:
            self.ping_nodes.close()
        for medium in self.media:
            medium.close()
        if self.control is not None:
            self.control.close()
        if self.api is not None:
            self.api.shutdown()
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self.selector.close()
        if self.pid_file:
            try:
                remove_pid_file(self.pid_file, os.getpid())
            except OSError:
                pass


def _seconds(ms: int) -> str:
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1000:g}"


def _parameters(cfg) -> dict:
    """``cl_status hbparameter -p NAME`` values (the C daemon answers in seconds)."""
    return {
        "keepalive": _seconds(cfg.keepalive_ms), "deadtime": _seconds(cfg.deadtime_ms),
        "warntime": _seconds(cfg.warntime_ms), "initdead": _seconds(cfg.initdead_ms),
        "deadping": _seconds(cfg.deadping_ms), "udpport": str(cfg.udp_port),
        "baud": str(cfg.baud), "hopfudge": str(cfg.hopfudge),
        "auto_failback": cfg.auto_failback, "hbgenmethod": cfg.hbgenmethod,
        "msgfmt": cfg.msgfmt, "uuidfrom": cfg.uuidfrom, "autojoin": cfg.autojoin,
        "cluster": cfg.cluster, "logfacility": cfg.logfacility or "",
        "logfile": cfg.logfile or "", "debugfile": cfg.debugfile or "",
    }


# --- the configuration --------------------------------------------------------------------

def load_config(config_dir: str, node_name: str):
    """The ha.d directory, checked as the daemon needs it (``config.hadir``), and every
    resource script of haresources found; ``ConfigError`` on any problem."""
    from ..config.hadir import load_heartbeat_dir
    ha_dir = load_heartbeat_dir(config_dir, node_name)
    if ha_dir.haresources is not None:
        from .agents import check_group_scripts
        check_group_scripts(ha_dir.haresources, config_dir)
    return ha_dir


# --- process plumbing ------------------------------------------------------------------------

def daemonize() -> None:
    """Double fork, new session, stdio to /dev/null (as the C daemon does)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def run_daemon(ha_dir, options, node_name: str, pid_file: str) -> int:
    cfg = ha_dir.ha_cf
    log = HbLog(node_name=node_name, logfacility=cfg.logfacility, logfile=cfg.logfile,
                debugfile=cfg.debugfile, debug_level=max(cfg.debug_level, options.debug),
                stderr=bool(options.verbose) or (options.foreground and not (
                    cfg.logfile or cfg.debugfile or cfg.logfacility not in (None, "none"))))
    for warning in ha_dir.warnings:
        log.warn(str(warning))
    from .statefiles import running_pid
    other = running_pid(pid_file)
    if other is not None and other != os.getpid():
        raise DaemonError(f"heartbeat already running (pid {other}, {pid_file})")
    from .resources import CoordinatorOptions
    daemon = Daemon(ha_dir, node_name, state_dir=options.state_dir, run_dir=options.run_dir,
                    pid_file=pid_file, log=log, config_dir=options.config_dir,
                    coordinator_options=CoordinatorOptions(
                        failed_stop_action=options.failed_stop_action))
    try:
        daemon.open_io()
        if not options.foreground:
            sys.stdout.flush()
            sys.stderr.flush()
            daemonize()
            log.stderr = False
        daemon.start()
        code = daemon.run()
    except DaemonError as error:
        log.error(str(error))
        raise
    except OSError as error:
        if error.errno == errno.EINTR:
            code = 1
        else:
            log.error(f"fatal: {error}")
            raise DaemonError(str(error)) from None
    except Exception as error:  # a bug: one line in the log, the traceback in the debug file
        import traceback
        log.error(f"internal error, heartbeat stops: {type(error).__name__}: {error}")
        for line in traceback.format_exc().splitlines():
            log.debugfile_only(line)
        raise DaemonError(f"internal error: {type(error).__name__}: {error}") from None
    finally:
        daemon.close()
    if daemon.restart_requested:
        restart_self(log)
    log.info("Heartbeat shutdown complete.")
    return code


def restart_self(log: HbLog) -> None:
    """Exec the same command line again (already detached: keep the pid, stay in the
    foreground).  Returns only if the exec fails."""
    argv = list(sys.orig_argv)
    if "--foreground" not in argv:
        argv.append("--foreground")
    try:
        os.execv(sys.executable, argv)
    except OSError as error:
        log.error(f"restart failed: {error.strerror}")
