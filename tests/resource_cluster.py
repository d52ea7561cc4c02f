"""Two of our resource coordinators wired together through a fake message bus.

A stand-in for two daemons: messages queue per direction (heartbeat delivers in order) and are
delivered when a test says so; group operations wait in a per-node list until a test completes
them (ok or failed); a crash makes a node's groups vanish (a dead machine holds nothing) and
loses what was sent to it; the membership core is reduced to the events it would report.
``check`` asserts the invariant after every step: no group is held (anything but stopped) by
both live nodes.

The one timing assumption: a message reaches a live peer within ``MAX_IN_FLIGHT_MS``; time
does not pass beyond that while it is in flight.  Heartbeat retransmits a lost packet within
about a second, and a link silent for deadtime is a partition (split brain), not a delay.  The
v1 protocol needs it: a node whose ``RQSTDELAY`` (10 s) expires takes its local groups if the
peer said nothing about them meanwhile.
"""

from __future__ import annotations

from collections import deque

from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.heartbeat.membership import (Log, MessageReceived, NodeRestarted,
                                             NodeStatusChanged)
from lvs_compat.heartbeat.resources import (CoordinatorOptions, GroupStarted,
                                            GroupStopped, QueryGroupStatus,
                                            ReannounceAddresses, ResourceCoordinator,
                                            Send, ShutdownComplete, StartGroup,
                                            StatusResult, StopGroup, Tick)

NODES = ("hbanode1", "hbanode2")
HA_CF = """\
keepalive 1
deadtime 10
warntime 5
initdead 20
bcast eth0
auto_failback {mode}
node hbanode1
node hbanode2
"""
# The seed's roles: the primary director with its VIP, LVS and mon; a second group homed on
# the backup so that both nodes have local and foreign groups.
HARESOURCES = """\
hbanode1 10.0.0.100/24/eth0 lvs mon
hbanode2 10.0.0.101/24/eth0 fake
"""
PRIMARY_GROUP, BACKUP_GROUP = "10.0.0.100/24/eth0", "10.0.0.101/24/eth0"
MAX_IN_FLIGHT_MS = 2_000


def peer_of(node: str) -> str:
    return NODES[1 - NODES.index(node)]


class Cluster:
    def __init__(self, mode: str = "on", haresources: str = HARESOURCES,
                 options: CoordinatorOptions | None = None):
        self.config = parse_ha_cf(HA_CF.format(mode=mode))
        self.resources = parse_haresources(haresources)
        self.options = options or CoordinatorOptions()
        self.now = 0
        self.nodes: dict[str, ResourceCoordinator | None] = dict.fromkeys(NODES)
        self.wire: dict[str, deque] = {node: deque() for node in NODES}   # by sender
        self.ops: dict[str, list] = {node: [] for node in NODES}
        self.sent: list[tuple[str, tuple]] = []
        self.logs: dict[str, list[Log]] = {node: [] for node in NODES}
        self.reannounced: list[tuple[str, str]] = []
        self.seen: set[str] = set()                 # started at least once (peer knows it)
        self.undetected: set[str] = set()           # crashed, peer not told yet
        self.stuck_stop: set[tuple[str, str]] = set()
        # strict: no group on both nodes after any step.  Off for the interleavings where a
        # 3.0.6-like peer takes a group without asking; then every step's overlap is kept.
        self.strict = True
        self.both_held: list[tuple[int, str]] = []

    # -- queries ----------------------------------------------------------------------------

    def alive(self, node: str) -> bool:
        return self.nodes[node] is not None

    def holders(self, key: str) -> list[str]:
        return [node for node, c in self.nodes.items()
                if c is not None and key in c.held_groups]

    def check(self) -> None:
        for group in self.resources.groups:
            holders = self.holders(group.key)
            if len(holders) > 1 and not self.strict:
                self.both_held.append((self.now, group.key))
                continue
            assert len(holders) <= 1, f"{group.key} held by {holders} at {self.now} ms"

    def messages(self, node: str, kind: str | None = None) -> list[dict]:
        return [dict(fields) for src, fields in self.sent
                if src == node and (kind is None or dict(fields)["t"] == kind)]

    def log_texts(self, node: str) -> list[str]:
        return [log.text for log in self.logs[node]]

    # -- plumbing ---------------------------------------------------------------------------

    def feed(self, node: str, event) -> list:
        coordinator = self.nodes[node]
        if coordinator is None:
            return []
        actions = coordinator.handle(event, self.now)
        for action in actions:
            if isinstance(action, Send):
                self.sent.append((node, action.fields))
                self.wire[node].append((self.now, action.fields))   # lost if nobody is there
            elif isinstance(action, (StartGroup, StopGroup, QueryGroupStatus)):
                self.ops[node].append(action)
            elif isinstance(action, ReannounceAddresses):
                self.reannounced.append((node, action.key))
            elif isinstance(action, Log):
                self.logs[node].append(action)
            elif isinstance(action, ShutdownComplete):
                self.nodes[node] = None
                self.ops[node].clear()
        self.check()
        return actions

    def start(self, node: str, *, hears_peer_first: bool = True) -> None:
        """Start (or restart) a node's daemon up to comm-up.  ``hears_peer_first=False``: its
        comm-up comes before it has heard the live peer's status (its first heartbeat from the
        peer is late); 3.0.6 then finds no active node and, in legacy mode, takes its groups
        without asking (``req_resource`` with HA_DONTASK)."""
        peer = peer_of(node)
        self.wire[node].clear()                     # the old generation's packets are refused
        self.wire[peer].clear()                     # and what was sent to it is lost
        self.ops[node].clear()
        self.nodes[node] = ResourceCoordinator(self.config, self.resources, node, self.options)
        self.undetected.discard(node)
        if self.alive(peer):
            if hears_peer_first:
                self.feed(node, NodeStatusChanged(peer, "init", "active", "status"))
            if node in self.seen:
                self.feed(peer, NodeRestarted(node, len(self.sent) + 1))
            self.feed(peer, NodeStatusChanged(node, "dead", "active", "status"))
        else:
            self.undetected.discard(peer)               # we find it dead: initdead
            self.feed(node, NodeStatusChanged(peer, "init", "dead", "deadtime"))
        self.seen.add(node)
        self.feed(node, NodeStatusChanged(node, "up", "active", "comm up"))
        if self.alive(peer) and not hears_peer_first:
            self.feed(node, NodeStatusChanged(peer, "init", "active", "status"))

    def start_both(self) -> None:
        for node in NODES:
            self.nodes[node] = ResourceCoordinator(self.config, self.resources, node,
                                                   self.options)
            self.seen.add(node)
        for node in NODES:
            self.feed(node, NodeStatusChanged(peer_of(node), "init", "active", "status"))
        for node in NODES:
            self.feed(node, NodeStatusChanged(node, "up", "active", "comm up"))

    def deliver(self, sender: str) -> dict | None:
        if not self.wire[sender]:
            return None
        _, fields = self.wire[sender].popleft()
        receiver, message = peer_of(sender), dict(fields)
        if message["t"] == "shutdone":
            self.feed(receiver, NodeStatusChanged(sender, "active", "dead", "shutdown"))
        else:
            self.feed(receiver, MessageReceived(sender, message["t"], message, None))
        return message

    def deliver_all(self) -> None:
        while any(self.wire[node] for node in NODES):
            for node in NODES:
                self.deliver(node)

    def complete(self, node: str, index: int = 0, ok: bool = True) -> object:
        op = self.ops[node].pop(index)
        if isinstance(op, StartGroup):
            self.feed(node, GroupStarted(op.key, ok, None if ok else "lvs"))
        elif isinstance(op, StopGroup):
            self.feed(node, GroupStopped(op.key, ok))
        else:   # a group it never held cannot be running there (no stale resources here)
            running = ((node, op.key) in self.stuck_stop
                       and self.nodes[node].group_state(op.key) != "cleaning")
            self.feed(node, StatusResult(op.key, running))
        return op

    def advance(self, ms: int) -> None:
        target = self.now + ms
        while True:
            due = [(c.next_deadline_ms(), node) for node, c in self.nodes.items()
                   if c is not None and c.next_deadline_ms() is not None
                   and c.next_deadline_ms() <= target]
            when = min(due)[0] if due else target
            self._deliver_older_than(when - MAX_IN_FLIGHT_MS)
            if not due:
                break
            when, node = min(due)
            self.now = max(self.now, when)
            self.feed(node, Tick())
        self.now = target

    def _deliver_older_than(self, limit: int) -> None:
        while True:
            old = [node for node in NODES if self.wire[node] and self.wire[node][0][0] < limit]
            if not old:
                return
            for node in old:
                if self.alive(peer_of(node)):
                    self.deliver(node)
                else:
                    self.wire[node].popleft()

    def crash(self, node: str) -> None:
        """kill -9 of the whole machine: its groups vanish, what was sent to it is lost."""
        self.nodes[node] = None
        self.ops[node].clear()
        self.wire[peer_of(node)].clear()
        self.undetected.add(node)

    def detect_death(self, node: str) -> None:
        """The peer's deadtime expired."""
        self.undetected.discard(node)
        self.feed(peer_of(node), NodeStatusChanged(node, "active", "dead", "deadtime"))

    def settle(self, limit: int = 500) -> None:
        """Deliver everything, complete every operation (ok), let timers run."""
        for _ in range(limit):
            if any(self.wire[n] for n in NODES if self.alive(peer_of(n))):
                for node in NODES:
                    if self.alive(peer_of(node)):
                        self.deliver(node)
                    else:
                        self.wire[node].clear()
                continue
            if any(self.ops[n] for n in NODES):
                for node in NODES:
                    if self.ops[node]:
                        self.complete(node)
                continue
            deadlines = [c.next_deadline_ms() for c in self.nodes.values()
                         if c is not None and c.next_deadline_ms() is not None]
            if not deadlines:
                return
            self.advance(max(0, min(deadlines) - self.now))
        raise AssertionError("the cluster does not settle")
