"""A pure simulator of a heartbeat cluster (issue 14, item 3): real ``node.Node``s, each the
membership core and the resource coordinator as the daemon runs them, over a fake broadcast
bus with a fake clock.  No socket, no thread, no sleep: a minute of cluster time takes a few
tens of milliseconds.

What is real: every message goes through the real codec (``Node.wire_message``, netstring
framing, sha1 signature, ``wire.decode_frame``), a node hears its own broadcasts back (as on
a bcast medium), and a node is driven as the daemon drives it (``tick`` after every event and
at least every 250 ms, ``next_deadline_ms``, ``stopped`` after a graceful stop).  What is
modelled: the machine around a node.  Its resource groups are a set (a group is running from
its start's completion to its stop's completion, each taking ``OP_MS``); a crash takes the
machine down with its groups; a freeze (SIGSTOP) holds the node and its executor while its
groups keep running and packets to it wait in order; a partition cuts the bus between the
two sides (a node still hears itself); loss drops a packet with a given probability.  What
a daemon keeps of its peers across its restarts (hb_peer_generations) is what it last wrote:
at each ``PeerGenerationsChanged`` and at a clean exit (a crash loses what came after).

``check`` runs after every step: a group running on two machines is a violation once the bus
has been whole (no cut, nobody frozen) for longer than ``settle_ms`` (deadtime, a keepalive and
two operations: the time to see the split brain and stop the loser).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field

from lvs_compat.config.authkeys import parse_authkeys
from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.heartbeat import wire
from lvs_compat.heartbeat.events import (GroupStarted, GroupStopped, Log,
                                         PeerGenerationsChanged, QueryGroupStatus,
                                         ReannounceAddresses, SendMessage, StandbyRequest,
                                         StartGroup, StatusResult, StopGroup)
from lvs_compat.heartbeat.node import Node

NODES = ("lvs1", "lvs2")
HA_CF = """\
keepalive 500ms
deadtime 4
warntime 2
initdead 8
bcast eth0
auto_failback {mode}
node lvs1
node lvs2
"""
# The seed's director group on lvs1, and a second one homed on lvs2, so that both nodes have
# a local and a foreign group.
HARESOURCES = "lvs1 10.0.0.3 lvs mon\nlvs2 10.0.0.4 other\n"
VIP, VIP2 = "10.0.0.3", "10.0.0.4"
HOME = {VIP: "lvs1", VIP2: "lvs2"}
AUTHKEYS = parse_authkeys("auth 1\n1 sha1 simulated\n")
OP_MS = 100                  # a group's start or stop
POLL_MS = 250                # the daemon wakes at least this often (POLL_INTERVAL_MS)
WALL_BASE_S = 1_765_000_000  # the wall clock at simulated time 0 (the ts field)
LOAD = "0.00 0.00 0.00 1/1 1"


def _kept(records) -> dict[str, tuple[int, int]]:
    return {name: (generation, seq) for name, generation, seq in records}


@dataclass
class Machine:
    name: str
    node: Node | None = None          # the running daemon's logic, None when it is not running
    generation: int = 0
    running: set[str] = field(default_factory=set)     # groups whose resources are up
    frozen_until: int | None = None
    next_tick: int | None = None
    stopping: bool = False
    logs: list[str] = field(default_factory=list)
    reannounced: list[tuple[int, str]] = field(default_factory=list)
    # hb_peer_generations: what the daemon last wrote (at a PeerGenerationsChanged, at exit)
    peer_generations: dict[str, tuple[int, int]] = field(default_factory=dict)


class Sim:
    def __init__(self, mode: str = "on", *, seed: int = 0, loss: float = 0.0,
                 delay_ms: tuple[int, int] = (1, 3)):
        self.config = parse_ha_cf(HA_CF.format(mode=mode))
        self.resources = parse_haresources(HARESOURCES)
        self.rng = random.Random(seed)
        self.loss, self.delay_ms = loss, delay_ms
        self.now = 0
        self.machines = {name: Machine(name) for name in NODES}
        self._events: list = []           # heap: (time, order, kind, payload)
        self._order = itertools.count()
        self.cut = False
        self.whole_since = 0
        self.settle_ms = (self.config.deadtime_ms + self.config.keepalive_ms + 2 * OP_MS
                          + 1000)
        self.violations: list[tuple[int, str, list[str]]] = []
        self.both: list[tuple[int, str]] = []          # every step with two holders

    # -- queries ----------------------------------------------------------------------------

    def holders(self, key: str) -> list[str]:
        return [m.name for m in self.machines.values() if key in m.running]

    def whole(self) -> bool:
        return not self.cut and all(m.frozen_until is None for m in self.machines.values())

    def status(self, name: str, of: str) -> str | None:
        node = self.machines[name].node
        return node.node_status(of) if node is not None else None

    def check(self) -> None:
        for group in self.resources.groups:
            holders = self.holders(group.key)
            if len(holders) > 1:
                self.both.append((self.now, group.key))
                if self.whole() and self.now - self.whole_since > self.settle_ms:
                    self.violations.append((self.now, group.key, holders))

    # -- faults and commands ----------------------------------------------------------------

    def start(self, name: str) -> None:
        machine = self.machines[name]
        assert machine.node is None, f"{name} is running"
        machine.generation += 1
        machine.stopping = False
        # a daemon that starts holds nothing: the worker stops any leftover first
        machine.running.clear()
        machine.node = Node(self.config, self.resources, name, machine.generation, self.now,
                            seed=self.rng.random(), uuid=name.encode().ljust(16, b"\0"),
                            peer_generations=dict(machine.peer_generations))
        self._apply(machine, machine.node.start(self.now))

    def crash(self, name: str) -> None:
        """The machine dies: the daemon and every resource on it."""
        machine = self.machines[name]
        machine.node = None
        machine.running.clear()
        machine.frozen_until = None
        machine.next_tick = None
        self._mark_whole_if_so()

    def freeze(self, name: str, ms: int) -> None:
        """SIGSTOP for ``ms``: the daemon and its worker stop; the resources stay up."""
        self.machines[name].frozen_until = self.now + ms
        self._push(self.now + ms, "wake", name)

    def partition(self) -> None:
        self.cut = True

    def heal(self) -> None:
        self.cut = False
        self._mark_whole_if_so()

    def shutdown(self, name: str) -> None:
        """``heartbeat -k``: the daemon releases its groups, sends shutdone and exits."""
        machine = self.machines[name]
        machine.stopping = True
        self._apply(machine, machine.node.shutdown(self.now))

    def standby(self, name: str, which: str = "all") -> None:
        machine = self.machines[name]
        self._apply(machine, machine.node.local_request(StandbyRequest(which), self.now))

    # -- the clock ----------------------------------------------------------------------------

    def run_for(self, ms: int) -> None:
        self.run_until(lambda: False, ms)

    def run_until(self, predicate, within_ms: int) -> int | None:
        """Step until ``predicate()`` holds (the time it took) or ``within_ms`` passed (None)."""
        start, deadline = self.now, self.now + within_ms
        while True:
            if predicate():
                return self.now - start
            when = self._next_time()
            if when is None or when > deadline:
                self.now = deadline
                return self.now - start if predicate() else None
            self._step(when)

    def _next_time(self) -> int | None:
        times = [self._events[0][0]] if self._events else []
        for machine in self.machines.values():
            if machine.node is not None and machine.frozen_until is None:
                times.append(self._tick_due(machine))
        return min(times) if times else None

    def _tick_due(self, machine: Machine) -> int:
        if machine.next_tick is None:
            machine.next_tick = self.now
        deadline = machine.node.next_deadline_ms(self.now)
        due = machine.next_tick if deadline is None else min(deadline, machine.next_tick)
        return max(due, self.now)

    def _step(self, when: int) -> None:
        self.now = max(self.now, when)
        if self._events and self._events[0][0] <= self.now:
            _, order, kind, payload = heapq.heappop(self._events)
            self._handle(order, kind, payload)
        else:
            for machine in self.machines.values():
                if (machine.node is not None and machine.frozen_until is None
                        and self._tick_due(machine) <= self.now):
                    self._tick(machine)
                    break
        self.check()

    def _tick(self, machine: Machine) -> None:
        machine.next_tick = self.now + POLL_MS
        self._apply(machine, machine.node.tick(self.now))
        if machine.stopping and machine.node is not None and machine.node.stopped(self.now):
            machine.peer_generations = _kept(machine.node.peer_generations())
            machine.node = None       # the daemon exits
            machine.next_tick = None

    def _push(self, when: int, kind: str, payload, order: int | None = None) -> None:
        heapq.heappush(self._events, (when, next(self._order) if order is None else order,
                                      kind, payload))

    def _wake_if_due(self, machine: Machine) -> None:
        if machine.frozen_until is not None and machine.frozen_until <= self.now:
            machine.frozen_until = None
            self._mark_whole_if_so()

    def _handle(self, order: int, kind: str, payload) -> None:
        if kind == "wake":
            self._wake_if_due(self.machines[payload])
            return
        machine, node = self.machines[payload[0]], payload[1]
        self._wake_if_due(machine)        # its packets may come before its wake-up event
        if node is None or machine.node is not node:
            return                     # nobody listened, or that daemon has gone since
        if machine.frozen_until is not None:
            self._push(machine.frozen_until, kind, payload, order)   # waits, in order
            return
        if kind == "packet":
            frame = wire.decode_frame(payload[2], AUTHKEYS)
            self._apply(machine, node.receive(frame, "eth0", self.now))
        else:
            self._apply(machine, node.executor_result(self._perform(machine, payload[2]),
                                                      self.now))
        if machine.node is node:
            self._tick(machine)        # the daemon's loop ticks after every event

    def _perform(self, machine: Machine, action):
        if isinstance(action, StartGroup):
            machine.running.add(action.key)
            return GroupStarted(action.key, True)
        if isinstance(action, StopGroup):
            machine.running.discard(action.key)
            return GroupStopped(action.key, True)
        return StatusResult(action.key, action.key in machine.running)

    def _mark_whole_if_so(self) -> None:
        if self.whole():
            self.whole_since = self.now

    # -- actions ----------------------------------------------------------------------------

    def _apply(self, machine: Machine, actions) -> None:
        node = machine.node
        for action in actions:
            if isinstance(action, SendMessage):
                data = wire.encode_netstring(
                    node.wire_message(action, WALL_BASE_S + self.now / 1000, LOAD), AUTHKEYS)
                for target in self.machines.values():
                    if target is not machine and (self.cut or self.rng.random() < self.loss):
                        continue
                    delay = 0 if target is machine else self.rng.randint(*self.delay_ms)
                    self._push(self.now + delay, "packet", (target.name, target.node, data))
            elif isinstance(action, (StartGroup, StopGroup, QueryGroupStatus)):
                self._push(self.now + OP_MS, "op", (machine.name, node, action))
            elif isinstance(action, ReannounceAddresses):
                machine.reannounced.append((self.now, action.key))
            elif isinstance(action, PeerGenerationsChanged):
                machine.peer_generations = _kept(action.records)
            elif isinstance(action, Log):
                machine.logs.append(action.text)
