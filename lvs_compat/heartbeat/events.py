"""The vocabulary of the two pure cores: what goes in and what comes out.

``membership.Membership`` (who is alive, over which link; the message layer) and
``resources.ResourceCoordinator`` (which haresources groups this node holds) speak in these
events and actions, and ``node.Node`` routes them between the two; the daemon (``daemon``)
is the only one that turns actions into I/O.  Everything here is a frozen value: no clock, no
socket, no file; it imports nothing of the project.

Imports flow one way: ``cli`` -> ``daemon`` -> ``node`` -> the cores -> ``events``
(tests/test_heartbeat_imports.py fails if a circle comes back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Union

INIT, UP, ACTIVE, DEAD = "init", "up", "active", "dead"  # node status words (SPEC §1d st=)
LINK_UP, LINK_DEAD = "up", "dead"                         # link status words ("Link X:if up.")


class LocalProtocolError(RuntimeError):
    """A transition a core's tables do not allow: a bug there, never bad input."""


class MessageLike(Protocol):
    def get(self, name: str, /) -> Any: ...


def text_of(message: MessageLike, name: str) -> str | None:
    """A field of a received message as text (ASCII), None if absent or not text."""
    value = message.get(name)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


class _Fields:
    fields: tuple[tuple[str, str], ...]

    @property
    def message_type(self) -> str:
        return dict(self.fields).get("t", "")

    def get(self, name: str) -> str | None:
        return dict(self.fields).get(name)


# --------------------------------------------------------------------------------------------
# Events in: both cores


@dataclass(frozen=True)
class Tick:
    """Time has passed; call at ``next_deadline_ms()`` at the latest."""


# --------------------------------------------------------------------------------------------
# Events in: the membership core


@dataclass(frozen=True)
class Start:
    """First event: the local node starts sending heartbeats."""


@dataclass(frozen=True)
class Received:
    message: MessageLike
    link: str | None          # medium name ("eth0", "/dev/ttyS0"); None: FIFO / unknown
    authenticated: bool


@dataclass(frozen=True)
class Send(_Fields):
    """Send a message (the membership core numbers it and keeps it for retransmission); the
    coordinator asks for one with this too."""
    fields: tuple[tuple[str, str], ...]   # originator fields in wire order, "t" among them


# --------------------------------------------------------------------------------------------
# Actions out of the membership core (the coordinator takes NodeStatusChanged, NodeRestarted,
# PartitionHealed and MessageReceived as its events)


@dataclass(frozen=True)
class SendMessage(_Fields):
    """Send to all media.  ``seq``: put it in (hex) unless None (``NS_`` types)."""
    fields: tuple[tuple[str, str], ...]
    seq: int | None
    retransmission: bool = False


@dataclass(frozen=True)
class Log:
    level: str   # "debug" | "info" | "warning" | "error" | "critical" (C: LOG_WARNING = "WARN")
    text: str


@dataclass(frozen=True)
class NodeStatusChanged:
    node: str
    old: str
    new: str
    reason: str  # "status", "started", "comm up", "deadtime", "late heartbeat", "shutdown"


@dataclass(frozen=True)
class LinkStatusChanged:
    node: str
    link: str
    new: str     # "up" | "dead"


@dataclass(frozen=True)
class NodeRestarted:
    node: str
    generation: int


@dataclass(frozen=True)
class HeartbeatLate:
    node: str
    silent_ms: int


@dataclass(frozen=True)
class PartitionHealed:
    """A dead node talks again without restarting (split brain).  C gives up its resources
    and restarts 2 s later in haresources mode; that is the shell's decision."""
    node: str


@dataclass(frozen=True)
class LocalHeartbeatLost:
    """We did not process our own heartbeat for our dead time (C: "No local heartbeat.
    Forcing restart.").  The shell should restart the daemon."""


@dataclass(frozen=True)
class PeerGenerationsChanged:
    """What we know of each peer's sending history: ``(node, generation, highest seq)``, to be
    kept across our restarts (``statefiles.write_peer_generations``) and fed back to the next
    core, so that a capture of an earlier packet is not taken for a fresh start (issue 19)."""
    records: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class MessageReceived:
    node: str
    message_type: str
    message: MessageLike
    link: str | None


# --------------------------------------------------------------------------------------------
# Events in: the coordinator (besides the membership actions above)


@dataclass(frozen=True)
class StandbyRequest:
    which: str = "all"     # all | local | foreign | failback (= foreign), as hb_standby


@dataclass(frozen=True)
class TakeoverRequest:
    which: str = "all"     # all | local | foreign | failback (= local), as hb_takeover


@dataclass(frozen=True)
class ShutdownRequest:
    """``heartbeat -k`` / SIGTERM: release everything, then ``t=shutdone``."""


@dataclass(frozen=True)
class GroupStarted:
    key: str
    ok: bool
    failed_resource: str | None = None   # the resource whose start failed (for the log)


@dataclass(frozen=True)
class GroupStopped:
    key: str
    ok: bool


@dataclass(frozen=True)
class StatusResult:
    key: str
    running: bool


@dataclass(frozen=True)
class PingNodeStatus:
    node: str
    status: str            # "ping" (alive) | "dead"


# --------------------------------------------------------------------------------------------
# Actions out of the coordinator (besides Send and Log above)


@dataclass(frozen=True)
class StartGroup:
    key: str


@dataclass(frozen=True)
class StopGroup:
    key: str


@dataclass(frozen=True)
class QueryGroupStatus:
    key: str


@dataclass(frozen=True)
class ReannounceAddresses:
    key: str


@dataclass(frozen=True)
class ResourceStateChanged:
    old: str
    new: str


@dataclass(frozen=True)
class ShutdownComplete:
    """``t=shutdone`` has been sent: every group is stopped."""


@dataclass(frozen=True)
class RebootNode:
    reason: str


MembershipEvent = Union[Start, Tick, Received, Send]
MembershipAction = Union[SendMessage, Log, NodeStatusChanged, LinkStatusChanged, NodeRestarted,
                         HeartbeatLate, PartitionHealed, LocalHeartbeatLost, MessageReceived,
                         PeerGenerationsChanged]
CoordinatorEvent = Union[Tick, StandbyRequest, TakeoverRequest, ShutdownRequest, GroupStarted,
                         GroupStopped, StatusResult, PingNodeStatus, NodeStatusChanged,
                         NodeRestarted, PartitionHealed, MessageReceived]
CoordinatorAction = Union[Send, StartGroup, StopGroup, QueryGroupStatus, ReannounceAddresses,
                          ResourceStateChanged, ShutdownComplete, RebootNode, Log]
# what the executor (the daemon's resource worker) is asked to do
EXECUTOR_ACTIONS = (StartGroup, StopGroup, QueryGroupStatus, ReannounceAddresses)
