"""Between the daemon shell and the membership core: the actions the shell executes, and an
interim core used until ``membership`` (the pure membership state machine, written apart)
lands.

The interim core is pure too (no sockets, no clock: ``now_ms`` comes in, actions go out) and
does only what a v1 two-node cluster needs to interoperate with 3.0.6 (SPEC §1d "Receive
processing", "Liveness"): status every keepalive (init, then up, then active at comm up) with
``dt`` and ``protocol=1``; a peer is dead after its advertised ``dt`` (``initdead`` before comm
up) or at once on ``shutdone``; links likewise per medium; generation/sequence checks (replay,
duplicates); ``reqnodes`` answered with ``repnodes``; flow-control ACKs every tenth seq;
retransmission from a short history, else ``NS_nak_rexmit``; unknown nodes and unauthenticated
packets dropped, counted, logged at most once a second per node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import wire


# --- actions --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Send:
    """Send ``message`` (the originator's fields) on every medium; the shell appends the control
    fields (src, srcuuid, seq, hg, ts, ld, ttl) and the auth codes.  ``seq`` None for NS_."""
    message: wire.Message
    seq: int | None


@dataclass(frozen=True)
class Log:
    level: str  # info, WARN, ERROR, CRIT, debug
    text: str


@dataclass(frozen=True)
class NodeStatus:
    node: str
    status: str  # init, up, active, dead


@dataclass(frozen=True)
class LinkStatus:
    node: str
    link: str
    status: str  # up, dead


@dataclass(frozen=True)
class Stopped:
    """The graceful stop is complete: the shell may exit."""


# --- the interim core -------------------------------------------------------------------------------

HISTORY = 200
ACK_EVERY = 10
INITIAL_DT_BONUS_MS = 2000  # dt is advertised 2 s longer during the first 5 s (LAB: 2ee0)
INITIAL_DT_PERIOD_MS = 5000
REQNODES_RETRY_MS = 1000


@dataclass
class Peer:
    name: str
    status: str = "dead"
    heard_ms: int | None = None
    dt_ms: int | None = None
    generation: int | None = None
    last_seq: int | None = None
    links: dict = field(default_factory=dict)  # link -> last heard ms
    link_up: dict = field(default_factory=dict)  # link -> bool
    declared_dead: bool = False


class InterimMembership:
    def __init__(self, *, node_name: str, nodes: list[str], links: list[str],
                 keepalive_ms: int, deadtime_ms: int, warntime_ms: int, initdead_ms: int):
        self.me = node_name
        self.nodes = list(nodes)
        self.links = list(links)
        self.keepalive_ms = keepalive_ms
        self.deadtime_ms = deadtime_ms
        self.warntime_ms = warntime_ms
        self.initdead_ms = initdead_ms
        self.peers = {name: Peer(name) for name in nodes if name != node_name}
        self.status = "init"
        self.seq = 0
        self.history: dict[int, wire.Message] = {}
        self.started_ms = 0
        self.next_status_ms = 0
        self.comm_up = False
        self.stopping = False
        self.done = False
        self.bad_log_ms: dict[str, int] = {}
        self.bad_counts: dict[str, int] = {}
        self.reqnodes_pending: str | None = None
        self.next_reqnodes_ms: int | None = None
        self.own_links: dict[str, bool] = {}

    # numbering and sending
    def _send(self, pairs, out) -> None:
        message = wire.Message.from_pairs(pairs)
        if (message.type or "").startswith("NS_"):
            out.append(Send(message, None))
            return
        self.seq += 1
        self.history[self.seq] = message
        self.history.pop(self.seq - HISTORY, None)
        out.append(Send(message, self.seq))

    def _dt_ms(self, now_ms: int) -> int:
        if now_ms - self.started_ms < INITIAL_DT_PERIOD_MS:
            return self.deadtime_ms + INITIAL_DT_BONUS_MS
        return self.deadtime_ms

    def _status(self, now_ms: int, out) -> None:
        self._send([("t", "status"), ("st", self.status),
                    ("dt", wire.format_number(self._dt_ms(now_ms), 16)), ("protocol", "1")], out)
        self.next_status_ms = now_ms + self.keepalive_ms

    def _set_local(self, status: str, now_ms: int, out) -> None:
        self.status = status
        out.append(Log("info", f"Local status now set to: '{status}'"))
        out.append(NodeStatus(self.me, status))
        self._status(now_ms, out)

    # inputs
    def start(self, now_ms: int) -> list:
        out = []
        self.started_ms = now_ms
        out.append(NodeStatus(self.me, "init"))
        for name in self.peers:
            out.append(NodeStatus(name, "dead"))
        self._status(now_ms, out)
        self._set_local("up", now_ms, out)
        return out

    def next_deadline_ms(self, now_ms: int) -> int | None:
        return self.next_status_ms

    def stopped(self, now_ms: int) -> bool:
        return self.done

    def shutdown(self, now_ms: int) -> list:
        out = []
        self.stopping = True
        self._send([("t", "shutdone"), ("st", "dead")], out)
        self.done = True
        out.append(Stopped())
        return out

    def _bad(self, key: str, text: str, now_ms: int, out) -> None:
        self.bad_counts[key] = self.bad_counts.get(key, 0) + 1
        last = self.bad_log_ms.get(key)
        if last is None or now_ms - last >= 1000:
            self.bad_log_ms[key] = now_ms
            out.append(Log("WARN", text))

    def receive(self, frame: wire.Frame, link: str, now_ms: int) -> list:
        out = []
        message = frame.message
        src = message.get("src")
        if not frame.authenticated:
            what = "netstring authentication failed" if frame.framing == wire.NETSTRING \
                else "failed authentication"
            self._bad(f"auth:{src}", f"{link}: packet from [{src}] {what}", now_ms, out)
            return out
        mtype = message.type
        if not isinstance(src, str) or mtype is None or message.get("ts") is None:
            self._bad(f"fields:{src}", f"{link}: message without t/src/ts dropped", now_ms, out)
            return out
        if src == self.me:  # our own echo (processed when sent): it only proves the link
            if not self.own_links.get(link):
                self.own_links[link] = True
                out.append(Log("info", f"Link {self.me}:{link} up."))
                out.append(LinkStatus(self.me, link, "up"))
            return out
        peer = self.peers.get(src)
        if peer is None:
            self._bad(f"node:{src}", f"process_status_message: bad node [{src}] in message",
                      now_ms, out)
            return out
        try:
            generation = message.number("hg")
            seq = None if mtype.startswith("NS_") else message.number("seq")
        except wire.DecodeError as error:
            self._bad(f"fields:{src}", f"{link}: bad field from {src}: {error.reason}",
                      now_ms, out)
            return out
        if not mtype.startswith("NS_") and seq is None:
            self._bad(f"fields:{src}", f"{link}: message from {src} without seq", now_ms, out)
            return out
        if generation is not None:
            if peer.generation is not None and generation < peer.generation:
                self._bad(f"replay:{src}", f"attempted replay attack from {src} "
                          f"(generation {generation} < {peer.generation})", now_ms, out)
                return out
            if peer.generation is not None and generation > peer.generation:
                out.append(Log("info", f"Heartbeat restart on node {src}"))
                peer.last_seq = None
            peer.generation = generation
        fresh = True
        if seq is not None:
            if peer.last_seq is not None and seq <= peer.last_seq:
                fresh = False  # duplicate or replay: refreshes the link only
            elif peer.last_seq is not None and seq > peer.last_seq + 1:
                out.append(Log("WARN", f"{seq - peer.last_seq - 1} lost packet(s) for [{src}] "
                               f"[{peer.last_seq}:{seq}]"))
            if fresh:
                peer.last_seq = seq
        self._heard(peer, link, now_ms, out)
        if not fresh:
            return out
        if seq is not None and seq % ACK_EVERY == 0:
            self._send([("t", "NS_ackmsg"), ("dest", src), ("ackseq", format(seq, "x"))], out)
        dest = message.get("dest")
        if dest is not None and dest != self.me:
            return out
        if mtype == "status":
            try:
                dt = message.number("dt")
            except wire.DecodeError:
                dt = None
            if dt:
                peer.dt_ms = dt
            st = message.get("st")
            if isinstance(st, str) and st != peer.status:
                peer.status = st
                peer.declared_dead = False
                out.append(Log("info", f"Status update for node {src}: status {st}"))
                out.append(NodeStatus(src, st))
        elif mtype == "shutdone":
            self._dead(peer, now_ms, out, "shutdown")
        elif mtype == "reqnodes":
            names = "".join(f"{name} " for name in self.nodes)
            self._send([("t", "repnodes"), ("dest", src), ("nodelist", names),
                        ("delnodelist", " ")], out)
        elif mtype == "repnodes":
            self.reqnodes_pending = None
        elif mtype == "NS_rexmit":
            try:
                first = message.number("firstseq")
                last = message.number("lastseq")
            except wire.DecodeError:
                return out
            for wanted in range(first, min(last, first + 50) + 1):
                old = self.history.get(wanted)
                if old is not None:
                    out.append(Send(old, wanted))
                else:
                    out.append(Send(wire.Message.from_pairs(
                        [("t", "NS_nak_rexmit"), ("firstseq", format(wanted, "x")),
                         ("dest", src), ("info", "seqno not found")]), None))
        self._check_comm_up(now_ms, out)
        return out

    def _heard(self, peer: Peer, link: str, now_ms: int, out) -> None:
        peer.heard_ms = now_ms
        peer.links[link] = now_ms
        if not peer.link_up.get(link):
            peer.link_up[link] = True
            out.append(Log("info", f"Link {peer.name}:{link} up."))
            out.append(LinkStatus(peer.name, link, "up"))
        if peer.declared_dead and peer.status == "dead":
            peer.declared_dead = False

    def _dead(self, peer: Peer, now_ms: int, out, why: str) -> None:
        if why == "shutdown":
            out.append(Log("info", f"Received shutdown notice from '{peer.name}'."))
        else:
            out.append(Log("WARN", f"node {peer.name}: is dead"))
        peer.status = "dead"
        peer.declared_dead = True
        peer.last_seq = None if why != "shutdown" else peer.last_seq
        out.append(NodeStatus(peer.name, "dead"))
        for link, up in list(peer.link_up.items()):
            if up and why != "shutdown":
                peer.link_up[link] = False
                out.append(Log("info", f"Link {peer.name}:{link} dead."))
                out.append(LinkStatus(peer.name, link, "dead"))

    def _check_comm_up(self, now_ms: int, out) -> None:
        if self.comm_up:
            return
        initdead_over = now_ms - self.started_ms >= self.initdead_ms
        if initdead_over or all(p.heard_ms is not None or p.declared_dead
                                for p in self.peers.values()):
            self.comm_up = True
            out.append(Log("info", "Comm_now_up(): updating status to active"))
            self._set_local("active", now_ms, out)

    def tick(self, now_ms: int) -> list:
        out = []
        if self.stopping:
            return out
        for peer in self.peers.values():
            limit = (peer.dt_ms or self.deadtime_ms) if self.comm_up else self.initdead_ms
            if peer.heard_ms is not None:
                for link, heard in peer.links.items():
                    if peer.link_up.get(link) and now_ms - heard > limit:
                        peer.link_up[link] = False
                        out.append(Log("info", f"Link {peer.name}:{link} dead."))
                        out.append(LinkStatus(peer.name, link, "dead"))
                if peer.status != "dead" and now_ms - peer.heard_ms > limit:
                    self._dead(peer, now_ms, out, "timeout")
            elif not peer.declared_dead and now_ms - self.started_ms > self.initdead_ms:
                peer.declared_dead = True
        self._check_comm_up(now_ms, out)
        if now_ms >= self.next_status_ms:
            self._status(now_ms, out)
        return out


# --- the adapter --------------------------------------------------------------------------------------

class CoreAdapter:
    """What the daemon calls; forwards to the core."""

    def __init__(self, daemon):
        cfg = daemon.ha_cf
        self.daemon = daemon
        self.core = InterimMembership(
            node_name=daemon.node_name, nodes=[n.name for n in cfg.nodes],
            links=[m.name for m in daemon.media], keepalive_ms=cfg.keepalive_ms,
            deadtime_ms=cfg.deadtime_ms, warntime_ms=cfg.warntime_ms,
            initdead_ms=cfg.initdead_ms)

    def start(self, now_ms):
        return self.core.start(now_ms)

    def receive(self, frame, link, now_ms):
        return self.core.receive(frame, link, now_ms)

    def tick(self, now_ms):
        return self.core.tick(now_ms)

    def shutdown(self, now_ms):
        return self.core.shutdown(now_ms)

    def stopped(self, now_ms):
        return self.core.stopped(now_ms)

    def next_deadline_ms(self, now_ms):
        return self.core.next_deadline_ms(now_ms)


def execute(daemon, action) -> None:
    if isinstance(action, Send):
        cfg = daemon.ha_cf
        message = wire.add_control_fields(
            action.message, src=daemon.node_name, srcuuid=daemon.uuid, seq=action.seq,
            generation=daemon.generation, timestamp=int(daemon.clock.wall()),
            load=_loadavg(), ttl=len(cfg.nodes) + cfg.hopfudge)
        daemon.send(message)
    elif isinstance(action, Log):
        daemon.log(action.level, action.text)
    elif isinstance(action, NodeStatus):
        daemon.set_node_status(action.node, action.status)
    elif isinstance(action, LinkStatus):
        daemon.set_link_status(action.node, action.link, action.status)
    elif isinstance(action, Stopped):
        pass


def _loadavg() -> str:
    from .daemon import read_loadavg
    return read_loadavg()
