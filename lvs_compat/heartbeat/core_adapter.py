"""Between the daemon shell and the pure membership core (``membership.Membership``): turn the
shell's inputs into the core's events and execute the core's actions.

* a decoded ``wire.Frame`` becomes ``Received(message, link, authenticated)``;
* ``SendMessage`` gets the control fields (``wire.add_control_fields``: src, srcuuid, seq, hg,
  the wall-clock ``ts``, ``/proc/loadavg``, ttl) and goes out on every medium;
* ``Log`` levels become the C words (WARN, ERROR, CRIT);
* node and link changes are recorded for ``cl_status``;
* a graceful stop is ``Send(t=shutdone st=dead)``, the last message the C daemon sends (SPEC
  §1e "Graceful shutdown" step 4; with no resources there is nothing to give up first);
* ``MessageReceived`` (resource-layer messages) are logged at debug level until the resource
  code exists.
"""

from __future__ import annotations

import random

from . import membership, wire

_LEVELS = {"debug": "debug", "info": "info", "warning": "WARN", "error": "ERROR",
           "critical": "CRIT"}


class CoreAdapter:
    """What the daemon calls (start, receive, tick, shutdown, stopped, next_deadline_ms)."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.core = membership.Membership(daemon.ha_cf, daemon.node_name, daemon.generation,
                                          daemon.clock.now_ms(),
                                          seed=random.SystemRandom().random())
        self._stopped = False

    def start(self, now_ms: int) -> list:
        return self.core.handle(membership.Start(), now_ms)

    def receive(self, frame: wire.Frame, link: str, now_ms: int) -> list:
        return self.core.handle(membership.Received(frame.message, link,
                                                    bool(frame.authenticated)), now_ms)

    def tick(self, now_ms: int) -> list:
        if self._stopped:
            return []
        return self.core.handle(membership.Tick(), now_ms)

    def shutdown(self, now_ms: int) -> list:
        actions = self.core.handle(membership.Send((("t", "shutdone"), ("st", "dead"))), now_ms)
        self._stopped = True
        return actions

    def stopped(self, now_ms: int) -> bool:
        return self._stopped

    def next_deadline_ms(self, now_ms: int) -> int:
        return self.core.next_deadline_ms()

    def node_status(self, node: str) -> str | None:
        return self.core.node_status(node)

    def link_status(self, node: str, link: str) -> str | None:
        return self.core.link_status(node, link)


def execute(daemon, action) -> None:
    if isinstance(action, membership.SendMessage):
        cfg = daemon.ha_cf
        message = wire.add_control_fields(
            wire.Message.from_pairs(action.fields), src=daemon.node_name, srcuuid=daemon.uuid,
            seq=action.seq, generation=daemon.generation, timestamp=int(daemon.clock.wall()),
            load=_loadavg(), ttl=len(cfg.nodes) + cfg.hopfudge)
        daemon.send(message)
    elif isinstance(action, membership.Log):
        daemon.log(_LEVELS.get(action.level, "info"), action.text)
    elif isinstance(action, membership.NodeStatusChanged):
        daemon.set_node_status(action.node, action.new)
    elif isinstance(action, membership.LinkStatusChanged):
        daemon.set_link_status(action.node, action.link, action.new)
    elif isinstance(action, membership.LocalHeartbeatLost):
        daemon.log("ERROR", "no local heartbeat: our own packets do not come back on any "
                   "medium")
    elif isinstance(action, membership.MessageReceived):
        daemon.log("debug", f"{action.message_type} from {action.node} (no resource layer yet)")
    # NodeRestarted, HeartbeatLate, PartitionHealed: logged by the core already; the resource
    # layer (issue 5 part 2) will act on them.


def _loadavg() -> str:
    from .daemon import read_loadavg
    return read_loadavg()
