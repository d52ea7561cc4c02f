"""One heartbeat node: the membership core (``membership.Membership``) and the v1 resource
coordinator (``resources.ResourceCoordinator``) wired together, still pure: plain values in
(configuration, node name, generation, the time), events in, actions out.  The daemon
(``daemon``) feeds it and carries out what it answers; a test can run two of them over a fake
bus with a fake clock.

Wiring (see the docstring of ``resources``):

* a decoded ``wire.Frame`` becomes ``Received(message, link, authenticated)``;
* the membership core's ``NodeStatusChanged``, ``NodeRestarted``, ``PartitionHealed`` and
  ``MessageReceived`` go on to the coordinator; the coordinator's ``Send`` goes back to the
  membership core (which numbers it, keeps it for retransmission and hands it back as our own
  ``MessageReceived``, which the coordinator ignores);
* everything else comes out, in order, for the daemon: ``SendMessage`` (the shell adds the
  control fields and sends it on every medium), ``Log``, status changes, the executor's
  ``StartGroup``/``StopGroup``/``QueryGroupStatus``/``ReannounceAddresses``, and
  ``PeerGenerationsChanged`` (the daemon keeps it for the next run);
* a graceful stop is the coordinator's ``ShutdownRequest``: it stops every group, then sends
  ``t=shutdone st=dead``; ``ShutdownComplete`` makes ``stopped()`` true a second later (C
  lingers as long).  With no resource group at all ``shutdone`` is sent at once.

Events and actions are ``events``' classes.
"""

from __future__ import annotations

import random

from ..config.hacf import HaConfig
from ..config.haresources import HaResources, parse_haresources
from . import membership, resources, wire
from .events import (MessageReceived, NodeRestarted, NodeStatusChanged,
                     PartitionHealed, Received, Send, ShutdownComplete, ShutdownRequest, Start,
                     SendMessage, Tick)
from .resources import CoordinatorOptions

# membership actions the coordinator consumes
_TO_COORDINATOR = (NodeStatusChanged, NodeRestarted, PartitionHealed, MessageReceived)
SHUTDONE_LINGER_MS = 1000     # C exits about a second after shutdone (answers rexmit meanwhile)


class Node:
    """One heartbeat node's logic: what the daemon calls (start, receive, tick, shutdown,
    stopped, next_deadline_ms, executor_result, local_request), built from plain values.

    ``haresources``: the parsed file, or None for none (no groups); ``seed``: the membership
    core's random rexmit delays (a test passes a number, the daemon a system random one);
    ``peer_generations``: what the last run's ``PeerGenerationsChanged`` said (the daemon
    keeps it in ``statefiles``)."""

    def __init__(self, ha_cf: HaConfig, haresources: HaResources | None, node_name: str,
                 generation: int, now_ms: int, options: CoordinatorOptions | None = None,
                 seed: float | None = None, uuid: bytes | None = None,
                 peer_generations: dict[str, tuple[int, int]] | None = None):
        self.name, self.generation, self.uuid = node_name, generation, uuid
        self._ttl = len(ha_cf.nodes) + ha_cf.hopfudge
        self.core = membership.Membership(ha_cf, node_name, generation, now_ms,
                                          seed=random.random() if seed is None else seed,
                                          peer_generations=peer_generations)
        haresources = haresources or parse_haresources("", "haresources")
        self.has_groups = bool(haresources.groups)
        self.coordinator = resources.ResourceCoordinator(ha_cf, haresources, node_name, options)
        self._stopped_at: int | None = None

    # -- inputs -----------------------------------------------------------------------------
    def start(self, now_ms: int) -> list:
        return self._pump(self.core.handle(Start(), now_ms), now_ms)

    def receive(self, frame: wire.Frame, link: str, now_ms: int) -> list:
        return self._pump(self.core.handle(Received(
            frame.message, link, bool(frame.authenticated)), now_ms), now_ms)

    def send_fields(self, fields, now_ms: int) -> list:
        """A message written to the FIFO by a script: send it (and process it locally)."""
        return self._pump(self.core.handle(Send(tuple(fields)), now_ms), now_ms)

    def tick(self, now_ms: int) -> list:
        if self._stopped_at is not None:
            return []
        out = self._pump(self.core.handle(Tick(), now_ms), now_ms)
        due = self.coordinator.next_deadline_ms()
        if due is not None and now_ms >= due:
            out += self._coordinate(Tick(), now_ms)
        return out

    def executor_result(self, event, now_ms: int) -> list:
        """``GroupStarted``/``GroupStopped``/``StatusResult`` from the worker."""
        return self._coordinate(event, now_ms)

    def local_request(self, event, now_ms: int) -> list:
        """``StandbyRequest``/``TakeoverRequest`` (hb_standby, hb_takeover), ``PingNodeStatus``."""
        return self._coordinate(event, now_ms)

    def shutdown(self, now_ms: int) -> list:
        if not self.has_groups and not self.coordinator.held_groups:
            # nothing to release: shutdone at once (as before resources existed)
            out = self._pump(self.core.handle(
                Send((("t", "shutdone"), ("st", "dead"))), now_ms), now_ms)
            self._stopped_at = now_ms
            return out
        return self._coordinate(ShutdownRequest(), now_ms)

    def wire_message(self, action: SendMessage, wall_s: float, load: str) -> wire.Message:
        """The message a ``SendMessage`` puts on the wire: its fields and the control fields
        (src, srcuuid, seq, hg, ts, ld, ttl); the medium encodes and signs it."""
        return wire.add_control_fields(
            wire.Message.from_pairs(action.fields), src=self.name, srcuuid=self.uuid,
            seq=action.seq, generation=self.generation, timestamp=int(wall_s), load=load,
            ttl=self._ttl)

    # -- queries ----------------------------------------------------------------------------
    def stopped(self, now_ms: int) -> bool:
        return self._stopped_at is not None and (
            not self.has_groups or now_ms >= self._stopped_at + SHUTDONE_LINGER_MS)

    def next_deadline_ms(self, now_ms: int) -> int:
        deadline = self.core.next_deadline_ms()
        due = self.coordinator.next_deadline_ms()
        if due is not None:
            deadline = min(deadline, due + 1) if deadline is not None else due + 1
        if self._stopped_at is not None:
            deadline = self._stopped_at + SHUTDONE_LINGER_MS
        return deadline

    def node_status(self, node: str) -> str | None:
        return self.core.node_status(node)

    def peer_generations(self) -> tuple[tuple[str, int, int], ...]:
        return self.core.peer_generations()

    def link_status(self, node: str, link: str) -> str | None:
        return self.core.link_status(node, link)

    @property
    def resource_status(self) -> str:
        return self.coordinator.resource_status

    # -- routing ----------------------------------------------------------------------------
    def _pump(self, actions: list, now_ms: int) -> list:
        """The membership core's actions, in order, with the coordinator's answers (and what
        they make the membership core do) right after the action that caused them."""
        out: list = []
        for action in actions:
            out.append(action)
            if isinstance(action, _TO_COORDINATOR):
                out += self._coordinate(action, now_ms)
        return out

    def _coordinate(self, event, now_ms: int) -> list:
        out: list = []
        for action in self.coordinator.handle(event, now_ms):
            if isinstance(action, Send):
                out += self._pump(self.core.handle(action, now_ms), now_ms)
            else:
                if isinstance(action, ShutdownComplete):
                    self._stopped_at = now_ms
                out.append(action)
        return out
