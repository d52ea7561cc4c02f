"""Membership core of heartbeat 3.0.6: who is alive, over which link, and what to send about it.

Sans-I/O (``../shared/STYLE.md``, after h11): a ``Membership`` is fed events with the current time
(``handle(event, now_ms)``) and answers with a list of actions.  It owns no socket, no clock, no
thread and no file; the daemon shell reads media, decodes and authenticates packets, calls
``handle`` and executes what comes back (send, log, notify subscribers).  Everything that decides
membership lives in this file, and it applies the same rules to our own node as to the others
(heartbeat processes its own outbound messages through the receive path, C:
``process_outbound_packet`` -> ``process_clustermsg(msg, NULL)``; so do we).

Events in (``handle``):

* ``Start()``            once, first: status ``init``, then ``up`` twice (SPEC §1d, LAB).
* ``Tick()``             whenever ``next_deadline_ms()`` has come (or more often): keepalive,
                         dead/late checks, comm-up, ``reqnodes`` retries, ``NS_rexmit`` retries.
* ``Received(message, link, authenticated)``  a decoded packet.  ``message`` is anything with
                         ``.get(name) -> str | bytes | None`` (the wire codec's ``Message``, or a
                         dict in tests); ``link`` the medium name it arrived on (see
                         ``medium_link_name``), ``None`` for the FIFO.
* ``Send(fields)``       a cluster message from elsewhere (resource code, FIFO): the core gives it
                         its ``seq``, keeps it for retransmission and processes it locally.

Actions out: ``SendMessage`` (originator fields in wire order plus the ``seq`` the shell must put
in; the shell/encoder adds ``src``, ``srcuuid``, ``hg``, ``ts``, ``ld``, ``ttl``, ``auth`` with
``wire.add_control_fields``), ``Log`` (already rate limited: the shell writes every one),
``NodeStatusChanged``, ``LinkStatusChanged``, ``NodeRestarted``, ``HeartbeatLate``,
``PartitionHealed``, ``LocalHeartbeatLost``, ``PeerGenerationsChanged`` (what to keep of the
peers for our next start) and ``MessageReceived`` (every accepted message this
core does not consume itself, ours included: ``starting``, ``resource``, ``ip-request`` ... for
the resource layer).

Sequence numbers are protocol logic here, not codec detail: the core numbers every non-``NS_``
message it sends (1, 2, ... per start, SPEC §1d ``seq``) because it must answer ``NS_rexmit``
from its own history with the same number.

Deliberate differences from the C daemon, each small:

* ``repnodes`` does not add or remove nodes: ha.cf is authoritative (no ``addnode``/``delnode``,
  no autojoin in haresources mode); a differing list is logged once per sender.
* ``ping``/``ping_group`` nodes are not members here (their monitoring belongs to the media).
* Link timeouts use each node's own dead time (C reuses the last node's, an accident of a loop).
* Besides the C line logged when a late heartbeat finally arrives, a silent peer gets one
  warning (and a ``HeartbeatLate`` action) per lateness episode once ``warntime`` has passed.
* ``t=shutdone`` makes the sender dead at once (C leaves its status alone and lets the resource
  code take over); the status messages a stopping node still sends for about a second after it
  (LAB) are then ignored until it restarts, instead of reviving it.
* Retransmissions re-send the stored fields with the original ``seq``; the shell re-encodes them
  (so ``ts`` is fresh), where C re-sends the stored bytes.  Receivers only look at ``seq``.
* Replays (issue 19): besides C's "older generation" test, a seq already accepted from a peer's
  current generation is refused while we do not track its sequence (it is dead, or we
  restarted: the shell hands back what ``PeerGenerationsChanged`` said), and so is a
  non-heartbeat message whose ``ts`` is far behind the peer's clock (``_replayed``).
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..config.hacf import HaConfig
from ..config.libc import ascii_lower, c_atoi, c_scan_hex
from .events import (ACTIVE, DEAD, INIT, LINK_DEAD, LINK_UP, UP, HeartbeatLate,
                     LinkStatusChanged, LocalHeartbeatLost, LocalProtocolError, Log,
                     MembershipAction, MembershipEvent, MessageLike, MessageReceived,
                     NodeRestarted, NodeStatusChanged, PartitionHealed, PeerGenerationsChanged,
                     Received, Send, SendMessage, Start, Tick, text_of)
from .ratelimit import RateLimiter

# --------------------------------------------------------------------------------------------
# Constants (C names in brackets; SPEC section)

STARTUP_DEADTIME_BONUS_MS = 2000   # dt is deadtime + 2 s ...
STARTUP_BONUS_PERIOD_MS = 5000     # ... for the first 5 s (LAB: 2ee0, then 2710 at 4.995 s)
REQNODES_RETRY_MS = 1000           # reqnodes retried every 1 s until answered (SPEC §1d)
REXMIT_REPEAT_MS = 1000            # [REXMIT_MS] re-ask for a still missing seq / don't resend
MIN_REXMIT_DELAY_MS = 50           # first NS_rexmit after 50..max_rexmit_delay ms (SPEC §1d)
MAX_REXMIT_BATCH = 50              # [MAX_REXMIT_BATCH] retransmissions per NS_rexmit
MAX_LOST_BEFORE_RESET = 250        # more missing than this: start over (SPEC §1d receive 5)
MAX_MISSING_TRACKED = 50           # bound of the missing-seq list per peer
HISTORY_SIZE = 500                 # sent messages kept for retransmission
ACK_DIVISOR = 10                   # [ACK_MSG_DIV] NS_ackmsg when seq % 10 == ack trigger
PROTOCOL_VERSION = "1"             # status protocol=1: we do flow control
LOG_INTERVAL_MS = 1000             # noisy drops: at most one line a second per source
RATE_LIMIT_KEYS = 1024             # bound of the rate limiter's memory (forged names)
FLOW_TYPES_PREFIX = "NS_"          # [NOSEQ_PREFIX] no seq, no ld
PERSIST_INTERVAL_MS = 60_000       # a peer's newer seq is handed out for keeping at most this often,
PERSIST_CONTROL_MS = 1000          # or this soon after a message that is not a heartbeat
CLOCK_SLACK_MS = 2000              # ts is whole seconds on both sides, plus some network delay

T_STATUS, T_ACK, T_REXMIT, T_NAK = "status", "NS_ackmsg", "NS_rexmit", "NS_nak_rexmit"
T_REQNODES, T_REPNODES, T_SHUTDONE = "reqnodes", "repnodes", "shutdone"
_CONSUMED_TYPES = frozenset({T_STATUS, T_ACK, T_REXMIT, T_NAK, T_REQNODES, T_REPNODES,
                             T_SHUTDONE})

# --------------------------------------------------------------------------------------------
# Theory of operation: the transitions.
#
# A node's status is the word its last status message carried, except that silence longer than
# its dead time (``initdead`` before comm-up), or ``t=shutdone``, or a heartbeat later than our
# deadtime makes it "dead" (C: check_for_timeouts, mark_node_dead, HBDoMsg_T_SHUTDONE).  Only
# status messages refresh a node's liveness (C: local_lastupdate is set in HBDoMsg_T_STATUS);
# any accepted or duplicate packet refreshes the link it came over.  A node is therefore alive
# while any link hears its heartbeats.  The local node follows its own table: init -> up at
# start, up -> active at comm-up.  Comm-up: every node has been heard from or is dead, then (with
# flow control) our reqnodes is answered by repnodes, or no live peer is left to ask.
#
# Every status change goes through ``_transition`` with one of these triggers; anything else is a
# bug in this file (LocalProtocolError, as in h11).

PEER_TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    # trigger:          (statuses it never leaves, new status; None: the word received)
    "status":           (frozenset(), None),       # st= of a status message, any word
    "deadtime":         (frozenset({DEAD}), DEAD),  # silent longer than its dead time
    "late heartbeat":   (frozenset({DEAD}), DEAD),  # heartbeat later than deadtime (CRIT)
    "shutdown":         (frozenset({DEAD}), DEAD),  # t=shutdone st=dead
}
LOCAL_TRANSITIONS: dict[tuple[str, str], str] = {
    (INIT, "started"): UP,
    (UP, "comm up"): ACTIVE,
}
LINK_TRANSITIONS: dict[tuple[str, str], str] = {
    (LINK_DEAD, "heard"): LINK_UP,
    (LINK_UP, "deadtime"): LINK_DEAD,
}
COMM_STARTING, COMM_LINKS_UP, COMM_UP = "starting", "links up", "up"
COMM_TRANSITIONS: dict[tuple[str, str], str] = {
    (COMM_STARTING, "all heard or dead"): COMM_LINKS_UP,   # then reqnodes (flow control)
    (COMM_LINKS_UP, "repnodes"): COMM_UP,
    (COMM_LINKS_UP, "no peer to ask"): COMM_UP,
    (COMM_LINKS_UP, "no flow control"): COMM_UP,
    (COMM_STARTING, "repnodes"): COMM_UP,                 # C: T_REPNODES calls comm_now_up
}


Event = MembershipEvent
Action = MembershipAction

# --------------------------------------------------------------------------------------------
# Helpers


def medium_link_name(medium: Any) -> str | None:
    """The link name heartbeat gives a medium ("Link node:NAME up."), None for ping media."""
    kind = getattr(medium, "kind", None)
    if kind in ("bcast", "ucast", "mcast", "ucast6", "mcast6"):
        return medium.interface
    if kind == "serial":
        return medium.device
    return None


_text = text_of


class _Loopback:
    """Our own outbound message as the receive path sees it (C loopback processing)."""

    def __init__(self, fields: Iterable[tuple[str, str]]):
        self._fields = dict(fields)

    def get(self, name: str) -> str | None:
        return self._fields.get(name)

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The fields in order (the client API delivers the local copy to its clients)."""
        return tuple(self._fields.items())


@dataclass
class _Link:
    status: str = LINK_DEAD
    last_heard_ms: int | None = None


@dataclass
class _Node:
    name: str
    deadtime_ms: int                     # its advertised dt, else our deadtime
    links: dict[str, _Link]
    ack_trigger: int
    status: str = INIT
    heard: bool = False                  # [anypacketsyet]
    generation: int = 0                  # from its heartbeats [t->generation]
    heard_generation: int = 0            # ours: from any message of it, this run
    last_seq: int | None = None          # None: [NOSEQUENCE]
    missing: dict[int, int] = field(default_factory=dict)   # seq -> when to (re)ask
    status_seq: int = 0
    remote_time: int = 0                 # ts of its last status [rmt_lastupdate]
    last_status_ms: int | None = None    # our time of its last status [local_lastupdate]
    late_warned: bool = False
    nodelist_warned: bool = False
    shut_down: bool = False              # dead by t=shutdone, until it restarts
    # Replay defence (issue 19), kept across its death and, by the shell, across our restarts:
    known_generation: int = 0            # the highest hg accepted from it, ever
    known_seq: int = 0                   # the highest seq accepted from it in known_generation
    clock_offset_ms: int | None = None   # its ts (ms) minus our now at its latest status, this
                                         # generation (its clock as our monotonic clock sees it)

    @property
    def first_missing(self) -> int:
        return min(self.missing) if self.missing else 0


@dataclass
class _Sent:
    fields: tuple[tuple[str, str], ...]
    last_rexmit_ms: int | None = None


# --------------------------------------------------------------------------------------------
# The core


class Membership:
    """One node's view of the cluster.  Construct, ``handle(Start(), now)``, then feed it.

    ``generation`` is our ``hg`` (the shell keeps ``hb_generation``); ``seed`` makes the random
    parts (per-peer ACK trigger, NS_rexmit delay) reproducible in tests: the shell passes
    ``random.SystemRandom().random()`` or similar.  ``peer_generations``: node -> (generation,
    highest seq) as the last run handed it out (``PeerGenerationsChanged``), so that a capture
    of what a peer sent before our restart is refused like a replay within one run.
    """

    def __init__(self, config: HaConfig, local_node: str, generation: int, now_ms: int,
                 *, seed: object = 0,
                 peer_generations: Mapping[str, tuple[int, int]] | None = None):
        local = ascii_lower(local_node)
        names = [node.name for node in config.nodes]
        if local not in names:
            raise ValueError(f"local node {local!r} is not a node of {config.path}")
        self._config = config
        self._local = local
        self._generation = generation
        self._random = random.Random(seed)
        self._links = tuple(dict.fromkeys(
            name for name in map(medium_link_name, config.media) if name is not None))
        self._nodes: dict[str, _Node] = {
            name: _Node(name, config.deadtime_ms, {link: _Link() for link in self._links},
                        self._random.randrange(ACK_DIVISOR), last_status_ms=now_ms)
            for name in names}
        self._started_ms = now_ms
        self._now = now_ms
        self._started = False
        self._comm = COMM_STARTING
        self._flow_control = True
        self._next_seq = 1
        self._history: OrderedDict[int, _Sent] = OrderedDict()
        self._deadtime_bonus = True
        self._next_status_ms: int | None = None
        self._reqnodes_index: int | None = None
        self._reqnodes_retry_ms: int | None = None
        self._local_lost = False
        self._limiter = RateLimiter(LOG_INTERVAL_MS, RATE_LIMIT_KEYS)
        self.counters: Counter[str] = Counter()
        for name, (known_generation, known_seq) in (peer_generations or {}).items():
            node = self._nodes.get(ascii_lower(name))
            if node is not None and node.name != local:   # ha.cf may have changed
                node.known_generation, node.known_seq = known_generation, known_seq
        self._peer_history_due_ms: int | None = None   # when to hand out a newer seq
        self._peer_history_sent_ms = now_ms

    # -- queries ----------------------------------------------------------------------------

    @property
    def local_node(self) -> str:
        return self._local

    @property
    def local_status(self) -> str:
        return self._nodes[self._local].status

    @property
    def comm_up(self) -> bool:
        return self._comm == COMM_UP

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    @property
    def links(self) -> tuple[str, ...]:
        return self._links

    def node_status(self, node: str) -> str | None:
        entry = self._nodes.get(ascii_lower(node))
        return entry.status if entry else None

    def link_status(self, node: str, link: str) -> str | None:
        entry = self._nodes.get(ascii_lower(node))
        return entry.links[link].status if entry and link in entry.links else None

    def node_deadtime_ms(self, node: str) -> int | None:
        entry = self._nodes.get(ascii_lower(node))
        return entry.deadtime_ms if entry else None

    def peer_generations(self) -> tuple[tuple[str, int, int], ...]:
        """(node, generation, highest seq) of every peer heard from, ever: what the shell keeps
        for the next run (the ``peer_generations`` argument)."""
        return tuple((node.name, node.known_generation, node.known_seq)
                     for node in self._nodes.values()
                     if node.name != self._local and node.known_generation)

    def advertised_deadtime_ms(self) -> int:
        """Our dt: deadtime, plus 2 s during the first 5 s (SPEC §1d status)."""
        bonus = STARTUP_DEADTIME_BONUS_MS if self._deadtime_bonus else 0
        return self._config.deadtime_ms + bonus

    def next_deadline_ms(self) -> int:
        """The latest time at which the shell must send a ``Tick``."""
        deadlines = [self._next_status_ms if self._next_status_ms is not None else self._now]
        if self._deadtime_bonus:
            deadlines.append(self._started_ms + STARTUP_BONUS_PERIOD_MS)
        if self._reqnodes_retry_ms is not None:
            deadlines.append(self._reqnodes_retry_ms)
        if self._peer_history_due_ms is not None:
            deadlines.append(self._peer_history_due_ms)
        for node in self._nodes.values():
            deadlines.extend(node.missing.values())
            limit = self._dead_limit(node)
            if node.name != self._local:       # links outlive their node (after shutdone)
                deadlines.extend(link.last_heard_ms + limit + 1 for link in node.links.values()
                                 if link.status == LINK_UP and link.last_heard_ms is not None)
            if node.status == DEAD or node.last_status_ms is None:
                continue
            deadlines.append(node.last_status_ms + limit + 1)
            if node.name != self._local and not node.late_warned:
                deadlines.append(node.last_status_ms + self._config.warntime_ms + 1)
        return min(deadlines)

    # -- the one entry point ------------------------------------------------------------------

    def handle(self, event: Event, now_ms: int) -> list[Action]:
        # The shell's clock is monotonic; a step back would only make us wait longer.
        now = self._now = max(now_ms, self._now)
        out: list[Action] = []
        if isinstance(event, Start):
            if self._started:
                raise LocalProtocolError("Start twice")
            self._started = True
            self._start(out, now)
        elif not self._started:
            raise LocalProtocolError(f"{type(event).__name__} before Start")
        elif isinstance(event, Tick):
            self._tick(out, now)
        elif isinstance(event, Received):
            self._receive(out, event.message, event.link, event.authenticated, now)
        elif isinstance(event, Send):
            self._send(out, event.fields, now)
        else:
            raise TypeError(f"not a membership event: {event!r}")
        return out

    # -- start and timers ---------------------------------------------------------------------

    def _start(self, out: list[Action], now: int) -> None:
        # LAB: a fresh node sends init, up, up within a millisecond: the initial status, the
        # one set_local_status(up) sends, and the first keepalive tick.
        self._send_status(out, now)
        self._set_local_status(out, "started", now)
        self._send_status(out, now)
        self._next_status_ms = now + self._config.keepalive_ms
        self._check_comm(out, now)

    def _tick(self, out: list[Action], now: int) -> None:
        if self._deadtime_bonus and now >= self._started_ms + STARTUP_BONUS_PERIOD_MS:
            self._deadtime_bonus = False     # C: hb_pop_deadtime sends the new dt at once
            self._send_status(out, now)
        self._check_timeouts(out, now)
        self._check_rexmit_requests(out, now)
        self._check_comm(out, now)
        if self._reqnodes_retry_ms is not None and now >= self._reqnodes_retry_ms:
            self._send_reqnodes(out, now)
        if self._next_status_ms is not None and now >= self._next_status_ms:
            self._send_status(out, now)
            self._next_status_ms = now + self._config.keepalive_ms
        if self._peer_history_due_ms is not None and now >= self._peer_history_due_ms:
            self._hand_out_peer_history(out, now)

    def _peer_history_changed(self, out: list[Action], message_type: str, now: int) -> None:
        """A newer seq: kept within a minute, or within a second for a message that is not a
        heartbeat (rare, and the ones worth replaying: hb_takeover, ip-request ...)."""
        delay = PERSIST_INTERVAL_MS if message_type == T_STATUS else PERSIST_CONTROL_MS
        due = max(now, self._peer_history_sent_ms + delay)
        if self._peer_history_due_ms is None or due < self._peer_history_due_ms:
            self._peer_history_due_ms = due
        if now >= self._peer_history_due_ms:
            self._hand_out_peer_history(out, now)

    def _hand_out_peer_history(self, out: list[Action], now: int) -> None:
        self._peer_history_due_ms = None
        self._peer_history_sent_ms = now
        out.append(PeerGenerationsChanged(self.peer_generations()))

    def _dead_limit(self, node: _Node) -> int:
        return self._config.initdead_ms if self._comm == COMM_STARTING else node.deadtime_ms

    def _check_timeouts(self, out: list[Action], now: int) -> None:
        for node in self._nodes.values():
            if node.status == DEAD or node.last_status_ms is None:
                continue
            silent = now - node.last_status_ms
            if silent > self._dead_limit(node):
                self._mark_dead(out, node, "deadtime", now)
            elif (node.name != self._local and not node.late_warned
                  and silent > self._config.warntime_ms):
                node.late_warned = True
                out.append(Log("warning", f"Late heartbeat: Node {node.name}: no heartbeat "
                                          f"for {silent} ms"))
                out.append(HeartbeatLate(node.name, silent))
        for node in self._nodes.values():
            if node.name == self._local:
                continue                        # C never times out our own links
            limit = self._dead_limit(node)
            for name, link in node.links.items():
                if (link.status == LINK_UP and link.last_heard_ms is not None
                        and now - link.last_heard_ms > limit):
                    self._set_link(out, node, name, "deadtime")

    def _mark_dead(self, out: list[Action], node: _Node, trigger: str, now: int) -> None:
        out.append(Log("warning", f"node {node.name}: is dead"))
        if node.name == self._local:
            if not self._local_lost:
                self._local_lost = True
                out.append(Log("error", "No local heartbeat. Forcing restart."))
                out.append(LocalHeartbeatLost())
            node.last_status_ms = now         # one report per episode, not one per tick
            return
        self._transition(out, node, trigger)
        node.remote_time = 0
        node.heard = False
        node.missing.clear()
        node.last_seq = None
        node.late_warned = False

    # -- status and comm-up -------------------------------------------------------------------

    def _transition(self, out: list[Action], node: _Node, trigger: str,
                    received: str | None = None) -> None:
        stays, new = PEER_TRANSITIONS[trigger]
        new = new or received
        if node.status in stays or not new or node.name == self._local:
            raise LocalProtocolError(f"{node.name}: {node.status} --{trigger}--> {new}")
        old, node.status = node.status, new
        out.append(NodeStatusChanged(node.name, old, new, trigger))

    def _set_local_status(self, out: list[Action], trigger: str, now: int) -> None:
        local = self._nodes[self._local]
        new = LOCAL_TRANSITIONS.get((local.status, trigger))
        if new is None:
            raise LocalProtocolError(f"local {local.status} --{trigger}-->")
        old, local.status = local.status, new
        self._send_status(out, now)
        out.append(Log("info", f"Local status now set to: '{new}'"))
        out.append(NodeStatusChanged(self._local, old, new, trigger))

    def _set_comm(self, trigger: str) -> bool:
        new = COMM_TRANSITIONS.get((self._comm, trigger))
        if new is None:
            return False
        self._comm = new
        return True

    def _check_comm(self, out: list[Action], now: int) -> None:
        """C: check_comm_isup."""
        if self._comm != COMM_STARTING or self.local_status == INIT:
            return                      # (while starting: Start checks once it is up)
        if not all(node.heard or node.status == DEAD for node in self._nodes.values()):
            return
        self._set_comm("all heard or dead")
        if self._flow_control:
            self._reqnodes_index = 0
            self._send_reqnodes(out, now)
        else:
            self._comm_now_up(out, "no flow control", now)

    def _send_reqnodes(self, out: list[Action], now: int) -> None:
        """C: send_reqnodes_msg: ask the first live peer, again every second until answered."""
        self._reqnodes_retry_ms = None
        names = list(self._nodes)
        start = self._reqnodes_index or 0
        for index in range(start if start < len(names) else 0, len(names)):
            node = self._nodes[names[index]]
            if node.status != DEAD and node.name != self._local:
                self._reqnodes_index = index
                self._send(out, (("t", T_REQNODES), ("dest", node.name)), now)
                self._reqnodes_retry_ms = now + REQNODES_RETRY_MS
                return
        self._comm_now_up(out, "no peer to ask", now)

    def _comm_now_up(self, out: list[Action], trigger: str, now: int) -> None:
        self._reqnodes_retry_ms = None
        if not self._set_comm(trigger):
            return
        out.append(Log("info", "Comm_now_up(): updating status to active"))
        self._set_local_status(out, "comm up", now)

    def _limit(self, kind: str, source: str, level: str, text: str, now: int) -> list[Log]:
        """At most one line per (kind, source) per LOG_INTERVAL_MS, saying what it swallowed."""
        due = self._limiter.due((kind, source), now)
        if due is None:
            return []
        return [Log(level, text + (f" ({due - 1} more suppressed)" if due > 1 else ""))]

    # -- sending ------------------------------------------------------------------------------

    def _send_status(self, out: list[Action], now: int) -> None:
        fields = [("t", T_STATUS), ("st", self.local_status),
                  ("dt", format(self.advertised_deadtime_ms(), "x"))]
        if self._flow_control:
            fields.append(("protocol", PROTOCOL_VERSION))
        self._send(out, tuple(fields), now)

    def _send(self, out: list[Action], fields: tuple[tuple[str, str], ...], now: int) -> None:
        fields = tuple(fields)
        if not all(isinstance(item, str) for pair in fields for item in pair):
            raise TypeError(f"cluster message fields are (str, str) pairs: {fields!r}")
        message_type = dict(fields).get("t")
        if not message_type:
            raise ValueError(f"a cluster message needs a type: {fields!r}")
        seq = None
        if not message_type.startswith(FLOW_TYPES_PREFIX):
            seq, self._next_seq = self._next_seq, self._next_seq + 1
            self._history[seq] = _Sent(fields)
            while len(self._history) > HISTORY_SIZE:
                self._history.popitem(last=False)
        out.append(SendMessage(fields, seq))
        # C processes every outbound message locally before sending it (loopback).
        control = [("src", self._local), ("hg", format(self._generation, "x")),
                   ("ts", format(max(now // 1000, 1), "x"))]
        if seq is not None:
            control.append(("seq", format(seq, "x")))
        self._receive(out, _Loopback(fields + tuple(control)), None, True, now)

    # -- receiving ----------------------------------------------------------------------------

    def _receive(self, out: list[Action], message: MessageLike, link: str | None,
                 authenticated: bool, now: int) -> None:
        """C: process_clustermsg."""
        source = _text(message, "src")
        if not authenticated:
            # Per claimed node; names we do not know share one line per link, so that forged
            # names cannot buy more log lines.
            self.counters["bad authentication"] += 1
            who = source if source is not None else "?"
            key = who if ascii_lower(who) in self._nodes else f"link {link}"
            out += self._limit("auth", key, "error",
                               f"Dropped packet from [{who}] on link {link or '?'}: "
                               "failed authentication", now)
            return
        message_type = _text(message, "t")
        ts = _text(message, "ts")
        seq_text = _text(message, "seq")
        if source is None or ts is None or message_type is None or (
                seq_text is None and not message_type.startswith(FLOW_TYPES_PREFIX)):
            self.counters["malformed"] += 1
            what = "missing from/ts/type" if None in (source, ts, message_type) \
                else "missing seqno"
            out += self._limit("malformed", source or f"link {link}", "error",
                               f"process_clustermsg: {what}: iface {link or '?'}, "
                               f"from {source or '<?>'}", now)
            return
        remote_time = c_scan_hex(ts)
        if not remote_time:
            self.counters["malformed"] += 1
            return
        node = self._nodes.get(ascii_lower(source))
        if node is None:
            self.counters["unknown node"] += 1
            out += self._limit("unknown", source, "error",
                               f"process_status_message: bad node [{source}] in message", now)
            return
        node.heard = True
        verdict = self._should_drop(out, node, message, message_type, remote_time, now)
        if verdict == "drop":
            return
        if link is not None and link in node.links:   # a duplicate still refreshes its link
            node.links[link].last_heard_ms = now
            if node.links[link].status != LINK_UP:
                self._set_link(out, node, link, "heard")
        if verdict == "duplicate":
            self.counters["duplicate"] += 1
            return
        self._dispatch(out, node, message, message_type, remote_time, link, now)
        self._check_comm(out, now)

    def _set_link(self, out: list[Action], node: _Node, link: str, trigger: str) -> None:
        entry = node.links[link]
        entry.status = LINK_TRANSITIONS[(entry.status, trigger)]
        out.append(Log("info", f"Link {node.name}:{link} {entry.status}."))
        out.append(LinkStatusChanged(node.name, link, entry.status))

    def _should_drop(self, out: list[Action], node: _Node, message: MessageLike,
                     message_type: str, remote_time: int, now: int) -> str:
        """C: should_drop_message.  "keep", "duplicate" or "drop"."""
        dest = _text(message, "dest")
        to_us = dest is None or ascii_lower(dest) == self._local
        if message_type.startswith(FLOW_TYPES_PREFIX):
            if message_type == T_NAK:
                nak_seq = c_scan_hex(_text(message, "firstseq") or "")
                if not nak_seq:
                    self.counters["malformed"] += 1
                    return "drop"
                if to_us:
                    out.append(Log("error", f"Irretrievably lost packet: node {node.name} "
                                            f"seq {nak_seq}"))
                self._found_missing(out, node, nak_seq, now)
                return "drop"
            return "keep" if to_us else "drop"
        seq = c_scan_hex(_text(message, "seq") or "")
        if not seq:
            self.counters["malformed"] += 1
            out += self._limit("badseq", node.name, "error",
                               "should_drop_message: bad sequence number", now)
            return "drop"
        hg_text = _text(message, "hg")
        generation = 0 if hg_text is None else c_scan_hex(hg_text)
        if generation is None:
            self.counters["malformed"] += 1
            return "drop"
        # A node's message to itself is news for everyone (C drops it on the other nodes):
        # e.g. legacy req_resource's ip-request-resp to itself (SPEC §1e) says that node is
        # taking a group now, and the resource coordinator must see it.
        to_itself = dest is not None and ascii_lower(dest) == node.name
        keep = "keep" if to_us or to_itself else "drop"
        restarted = healed = new_generation = False
        if generation < max(node.generation, node.known_generation):
            return self._replay(out, node, f"gen = {generation}, curgen = "
                                           f"{max(node.generation, node.known_generation)}", now)
        replay = self._replayed(node, message_type, generation, seq, remote_time, now)
        if replay is not None:
            node.missing.pop(seq, None)    # (a retransmission too old to act on: stop asking)
            return self._replay(out, node, replay, now)
        if message_type == T_STATUS:
            if generation == node.generation and generation > 0:
                if node.status == DEAD and not node.shut_down:
                    if seq <= node.status_seq:
                        self.counters["stale"] += 1
                        return "drop"
                    healed = True
                    self._partition_healed(out, node)
            elif generation > node.generation:
                restarted = True
                # ours: also when we heard only other messages of its previous generation (we
                # started between two of its heartbeats): C sees no restart then, and a standby
                # exchange with the gone daemon waits for an hour (issue 19)
                if node.generation > 0 or 0 < node.heard_generation < generation:
                    out.append(Log("info", f"Heartbeat restart on node {node.name}"))
                    out.append(NodeRestarted(node.name, generation))
                node.remote_time = 0
                node.last_status_ms = None
                node.status_seq = 0
                node.late_warned = False
                node.shut_down = False
            if generation != node.generation:
                node.clock_offset_ms = None
            node.generation = generation
            if generation > node.known_generation and node.name != self._local:
                node.known_generation, node.known_seq = generation, 0
                new_generation = True
        node.heard_generation = max(node.heard_generation, generation)
        if generation == node.known_generation and seq > node.known_seq \
                and node.name != self._local:
            node.known_seq = seq
            if not new_generation:
                self._peer_history_changed(out, message_type, now)
        if new_generation:              # kept at once: refused after our restart from now on
            self._hand_out_peer_history(out, now)
        if node.last_seq is None or seq == node.last_seq + 1:
            node.last_seq = seq
            self._ack_if_needed(out, node, seq, now)
            return keep
        if seq == node.last_seq:
            return "duplicate"
        if seq > node.last_seq:
            lost = seq - node.last_seq - 1
            out.append(Log("warning", f"{lost} lost packet(s) for [{node.name}] "
                                      f"[{node.last_seq}:{seq}]"))
            self.counters["lost"] += lost
            if lost > MAX_LOST_BEFORE_RESET:
                node.missing.clear()
                out.append(Log("error", "lost a lot of packets!"))
            else:
                delay = self._random.randint(
                    MIN_REXMIT_DELAY_MS, max(MIN_REXMIT_DELAY_MS,
                                             self._config.max_rexmit_delay_ms))
                for missing in range(node.last_seq + 1, seq):
                    node.missing[missing] = now + delay
                while len(node.missing) > MAX_MISSING_TRACKED:
                    del node.missing[min(node.missing)]
            node.last_seq = seq
            return keep
        if seq in node.missing:                      # an older packet that fills a gap
            self._found_missing(out, node, seq, now)
            return keep
        if healed or restarted:
            self._ack_if_needed(out, node, seq, now)
            node.missing.clear()
            node.last_seq = seq
            return keep
        self.counters["old seq"] += 1
        return "drop"

    def _replayed(self, node: _Node, message_type: str, generation: int, seq: int,
                  remote_time: int, now: int) -> str | None:
        """Why a message of a generation we accept is a replay, or None (issue 19; the C daemon
        only has the generation test above, and forgets it at our restart).

        * While we track its sequence, an old seq is dropped below (C as well).  When we do not
          (after our restart, or once it was dead) a seq we accepted before in its current
          generation is a capture: it can only come again if someone recorded it.
        * Every message but the heartbeat itself whose ``ts`` is older than the peer's clock
          as its latest heartbeat showed it (minus its dead time and the slack of whole
          seconds) is a capture of something we did not see: a retransmission is at most
          about a dead time old, since a peer silent longer is dead and forgets our requests.
          Heartbeats are not held to this, so that a peer's clock stepped back never makes it
          dead; they teach the offset again instead."""
        if node.name == self._local:
            return None
        if node.last_seq is None and generation == node.known_generation \
                and seq <= node.known_seq:
            return f"gen = {generation}, seq = {seq}, seen up to {node.known_seq}"
        if message_type != T_STATUS and node.clock_offset_ms is not None \
                and generation == node.generation:
            age_ms = node.clock_offset_ms - (remote_time * 1000 - now)
            if age_ms > node.deadtime_ms + CLOCK_SLACK_MS:
                return f"t = {message_type}, ts {age_ms // 1000} s behind its clock"
        return None

    def _replay(self, out: list[Action], node: _Node, why: str, now: int) -> str:
        self.counters["replay"] += 1
        out += self._limit("replay", node.name, "error",
                           f"should_drop_message: attempted replay attack [{node.name}]? "
                           f"[{why}]", now)
        return "drop"

    def _partition_healed(self, out: list[Action], node: _Node) -> None:
        out.append(Log("critical", f"Cluster node {node.name} returning after partition."))
        out.append(Log("info", "For information on cluster partitions, See URL: "
                               "http://linux-ha.org/wiki/SplitBrain"))
        out.append(Log("warning", "Deadtime value may be too small."))
        out.append(Log("info", "See FAQ for information on tuning deadtime."))
        out.append(Log("info", "URL: http://linux-ha.org/wiki/FAQ#heavy_load"))
        out.append(PartitionHealed(node.name))

    def _found_missing(self, out: list[Action], node: _Node, seq: int, now: int) -> None:
        """C: is_lost_packet: forget a missing seq (received, or NAKed by its sender)."""
        if seq not in node.missing:
            return
        old_first = node.first_missing
        del node.missing[seq]
        if not node.missing:
            out.append(Log("info", f"No pkts missing from {node.name}!"))
        if self._flow_control and seq == old_first and node.last_seq is not None:
            # ACK the newest trigger-aligned seq below the next hole (C formula).
            upto = node.first_missing - 1 if node.missing else node.last_seq
            ack = upto - (upto % ACK_DIVISOR) + node.ack_trigger
            if ack > upto:
                ack -= ACK_DIVISOR
            if ack >= old_first:
                self._send_ack(out, node, ack, now)

    def _ack_if_needed(self, out: list[Action], node: _Node, seq: int, now: int) -> None:
        if not self._flow_control or seq % ACK_DIVISOR != node.ack_trigger:
            return
        if node.missing and seq > node.first_missing:
            return
        self._send_ack(out, node, seq, now)

    def _send_ack(self, out: list[Action], node: _Node, seq: int, now: int) -> None:
        self._send(out, (("t", T_ACK), ("dest", node.name), ("ackseq", format(seq, "x"))),
                   now)

    def _check_rexmit_requests(self, out: list[Action], now: int) -> None:
        for node in self._nodes.values():
            for seq, due in sorted(node.missing.items()):
                if due <= now:
                    node.missing[seq] = now + REXMIT_REPEAT_MS
                    self._send(out, (("t", T_REXMIT), ("dest", node.name),
                                     ("firstseq", str(seq)), ("lastseq", str(seq))), now)

    # -- message types ------------------------------------------------------------------------

    def _dispatch(self, out: list[Action], node: _Node, message: MessageLike,
                  message_type: str, remote_time: int, link: str | None, now: int) -> None:
        if message_type == T_STATUS:
            self._on_status(out, node, message, remote_time, now)
        elif message_type == T_REXMIT:
            if node.name != self._local:
                self._on_rexmit(out, node, message, now)
        elif message_type == T_REQNODES:
            if node.name == self._local:
                out.append(Log("error", "HBDoMsg_T_REQNODES: get reqnodes msg from myself!"))
            else:
                nodelist = "".join(f"{name} " for name in self._nodes)
                self._send(out, (("dest", node.name), ("t", T_REPNODES),
                                 ("nodelist", nodelist), ("delnodelist", " ")), now)
        elif message_type == T_REPNODES:
            if node.name != self._local:
                self._on_repnodes(out, node, message, now)
        elif message_type == T_SHUTDONE:
            if node.name != self._local:
                out.append(Log("info", f"Received shutdown notice from '{node.name}'."))
                if node.status != DEAD:
                    self._transition(out, node, "shutdown")
                node.shut_down = True
                node.late_warned = False
        elif message_type not in _CONSUMED_TYPES:
            out.append(MessageReceived(node.name, message_type, message, link))

    def _on_status(self, out: list[Action], node: _Node, message: MessageLike,
                   remote_time: int, now: int) -> None:
        """C: HBDoMsg_T_STATUS."""
        status = _text(message, "st")
        if not status:
            out.append(Log("error", "HBDoMsg_T_STATUS: status update without st field"))
            return
        if node.shut_down:
            # LAB: a stopping node still sends "active" for about a second after shutdone;
            # it stays dead for us until it restarts (C keeps its old status instead).
            return
        seq = c_scan_hex(_text(message, "seq") or "") or 0
        if remote_time < node.remote_time and seq < node.status_seq:
            return                                   # we already have a newer status
        if (node.name != self._local and self._flow_control
                and _text(message, "protocol") is None):
            out.append(Log("info", "flow control disabled due to different version heartbeat"))
            self._flow_control = False
        if node.last_status_ms is not None:
            interval = now - node.last_status_ms
            if interval > self._config.deadtime_ms:
                out.append(Log("critical", f"Late heartbeat: Node {node.name}: interval "
                                           f"{interval} ms (> deadtime)"))
                if node.name != self._local and node.status != DEAD:
                    self._mark_dead(out, node, "late heartbeat", now)
            elif interval > self._config.warntime_ms:
                out.append(Log("warning", f"Late heartbeat: Node {node.name}: interval "
                                          f"{interval} ms"))
        if node.name != self._local and status.lower() != node.status.lower():
            out.append(Log("info", f"Status update for node {node.name}: status {status}"))
            self._transition(out, node, "status", status)
        deadtime = c_scan_hex(_text(message, "dt") or "")
        if deadtime:
            node.deadtime_ms = deadtime
        node.remote_time = remote_time
        node.clock_offset_ms = remote_time * 1000 - now
        node.last_status_ms = now
        node.status_seq = seq
        node.late_warned = False
        if node.name == self._local:
            self._local_lost = False

    def _on_rexmit(self, out: list[Action], node: _Node, message: MessageLike,
                   now: int) -> None:
        """C: process_rexmit: resend from our history, or NS_nak_rexmit."""
        first = c_atoi(_text(message, "firstseq") or "")
        last = c_atoi(_text(message, "lastseq") or "")
        if first <= 0 or last <= 0 or first > last:
            out += self._limit("rexmit", node.name, "error", "Invalid rexmit seqnos", now)
            return
        lowest = next(iter(self._history), self._next_seq)
        highest = self._next_seq - 1
        sent = 0                        # resends and NAKs: one request never floods a link
        for seq in range(first, min(last, first + HISTORY_SIZE) + 1):
            if sent >= MAX_REXMIT_BATCH:
                return
            if seq < lowest:
                sent += 1
                self._nak(out, node, seq, "seqno too low", now)
            elif seq > highest:
                out += self._limit("rexmit", node.name, "warning",
                                   f"Rexmit of seq {seq} requested. {highest} is max.", now)
            else:
                entry = self._history.get(seq)
                sent += 1
                if entry is None:
                    self._nak(out, node, seq, "seqno not found", now)
                    continue
                if entry.last_rexmit_ms is not None and \
                        now - entry.last_rexmit_ms < REXMIT_REPEAT_MS:
                    continue
                entry.last_rexmit_ms = now
                out.append(SendMessage(entry.fields, seq, retransmission=True))

    def _nak(self, out: list[Action], node: _Node, seq: int, reason: str, now: int) -> None:
        out += self._limit("nak", node.name, "error",
                           f"Cannot rexmit pkt {seq} for {node.name}: {reason}", now)
        self._send(out, (("t", T_NAK), ("firstseq", format(seq, "x")), ("dest", node.name),
                         ("info", reason)), now)

    def _on_repnodes(self, out: list[Action], node: _Node, message: MessageLike,
                     now: int) -> None:
        listed = (_text(message, "nodelist") or "").split()
        if set(map(ascii_lower, listed)) != set(self._nodes) \
                and not node.nodelist_warned:
            node.nodelist_warned = True
            out.append(Log("warning", f"repnodes from {node.name} lists nodes "
                                      f"[{' '.join(listed)}], ha.cf [{' '.join(self._nodes)}]:"
                                      " keeping ha.cf"))
        self._comm_now_up(out, "repnodes", now)
