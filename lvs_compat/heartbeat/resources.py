"""v1 (haresources) resource management of heartbeat 3.0.6, as a pure coordinator.

Sans-I/O (``../shared/STYLE.md``, after h11): a ``ResourceCoordinator`` is fed events with the
current time (``handle(event, now_ms)``) and answers with actions.  It runs no script, owns no
socket, no clock and no timer; ``next_deadline_ms()`` says when it wants a ``Tick``.  It decides
*which* resource groups this node holds and *what* to tell the peer, exactly as heartbeat's
``hb_resource.c`` together with ``ResourceManager``, ``req_resource``, ``mach_down``,
``hb_standby`` and the ``rc.d`` scripts do (SPEC §1e), so that a real 3.0.6 peer cooperates.

How the daemon wires it
-----------------------

Build it once: ``ResourceCoordinator(ha_config, haresources, local_node, options)``.

Events in (``handle``):

* the membership core's own actions, passed through unchanged: ``NodeStatusChanged`` (our
  ``up -> active`` with reason ``"comm up"`` is comm-up; a peer's ``-> dead`` is a death, reason
  ``"shutdown"`` is its ``t=shutdone``), ``NodeRestarted``, ``PartitionHealed`` and
  ``MessageReceived`` (``starting``, ``resource``, ``ask_resources``, ``ip-request``,
  ``ip-request-resp``, ``hb_takeover``, ``stonith``; other types are ignored).  Our own messages
  come back as ``MessageReceived`` too: they are ignored, because the coordinator processes every
  message it sends at the moment it sends it (C processes its outbound messages locally).
* ``PingNodeStatus(node, status)`` from the ping media (see "Ping nodes" below).
* local requests: ``StandbyRequest("all"|"local"|"foreign"|"failback")`` (``hb_standby``),
  ``TakeoverRequest(...)`` (``hb_takeover``), ``ShutdownRequest()`` (``heartbeat -k``/SIGTERM).
  The FIFO reader must turn a ``t=ask_resources info=me`` or ``t=hb_takeover`` written by a
  local script into these events instead of sending it: the request is checked here *before*
  anything goes on the wire (C sends first and refuses afterwards, see "Deviations").
* results of the executor: ``GroupStarted(key, ok, failed_resource)``, ``GroupStopped(key,
  ok)``, ``StatusResult(key, running)``.
* ``Tick()`` at ``next_deadline_ms()`` (or more often).

Actions out:

* ``Send(fields)``: originator fields in C's wire order; the membership core's own ``Send``
  event (``events``), handed to it as is.
* ``StartGroup(key)``: run the group's resources left to right (``status`` first: skip a
  running one; else ``start``), stop at the first failure and report ``GroupStarted(key,
  ok=False, failed_resource=name)`` without releasing anything: the coordinator then asks
  ``StopGroup``.  ``StopGroup(key)``: ``stop`` every resource right to left (ones never started
  too: stop of a stopped resource must succeed, LSB) and report ``GroupStopped(key, ok)``, ok
  only if every stop succeeded.  The coordinator retries a failed stop itself (every
  ``stop_retry_interval_ms``, ``stop_retry_max`` times, ``HA_STOPRETRYMAX``) and then asks
  ``QueryGroupStatus(key)``; answer ``StatusResult(key, running)``, running meaning any
  resource of the group (its address above all) still reports running.  At most one operation
  per group is outstanding; operations on different groups may overlap.
* ``ReannounceAddresses(key)``: send the gratuitous ARP of the group's addresses again (split
  brain winner).
* ``Log(level, text)`` (the membership core's class), C's lines where C has one.
* ``ResourceStateChanged(old, new)``: what ``cl_status rscstatus`` prints (C:
  ``hb_rsc_resource_state``): ``none``/``local``/``foreign``/``all`` when stable, else
  ``transition``.  ``resource_status`` gives the current value.
* ``ShutdownComplete()``: ``t=shutdone`` is sent; the daemon may stop (C: one second later).
* ``RebootNode(reason)``: only with ``failed_stop_action="reboot"`` (C's
  ``RecoverFromFailedStop``).

Theory of operation (C names: ``resourcestate``, ``going_standby``, ``i_hold_resources``,
``other_holds_resources``, ``other_is_stable``)
--------------------------------------------------------------------------------------------

Groups are "local" (haresources NODE is us) or "foreign"; a node announces which of the two
sets it holds (``rsc_hold``), and whether it is *stable* (done moving resources).  Two rules
keep a group on one node (C's comment above ``HB_UPD_RSC``): take unclaimed resources only when
the other side is stable (or dead), and take only *local* ones when a timer (``RQSTDELAY``)
expires without anyone becoming stable.  Every other move is a hand-over in which the holder
stops first and then says so (``ask_resources info=done``, ``ip-request-resp``, ``shutdone``),
or the holder is dead.  ``STARTUP_TRANSITIONS``, ``STANDBY_TRANSITIONS`` and the ``Job`` kinds
below are all the ways the state moves; anything else is a bug here (``LocalProtocolError``).

Work that C forks (``req_our_resources``, ``go_standby``, the shutdown give-up) is a ``Job``
here: a set of groups to start or stop plus what to send when they are done.  Work C queues
through ``harc`` (``mach_down``, ``ip-request``, ``ip-request-resp``) is a *queued* job that
starts only when no other job runs, as ``StartNextRemoteRscReq`` does; that is also why the
messages come out in the order of the lab captures.

Deviations from the C daemon (each deliberate):

* A failed stop never reboots by default (``failed_stop_action="hold"``): the group stays
  *held*: it counts in ``rsc_hold``, and the message that would let the peer take it
  (``ask_resources info=done``, ``ip-request-resp``, ``shutdone``) is withheld.  A standby is
  aborted (``resource ... isstable=1 info=standby_aborted``, which our peers understand and C
  ignores), a shutdown stays blocked (no ``shutdone``, no ``ShutdownComplete``; the daemon
  keeps heartbeating so the peer does not take over after deadtime).  So the VIP is never on
  both nodes; groups stopped before the failure stay down until an operator acts.
* Requests are checked before they are sent; a peer-dead standby is refused (C would wait 10 s).
  A standby (hb_standby, a peer's ``ask_resources me``, auto-failback) also waits while group
  operations are still running here: C would give up a set that a queued ``mach_down`` is
  about to start, and then start it anyway.
* ``hb_takeover failback`` sends ``rsc_hold=local`` (C's script sends the word ``failback``,
  which the peer's ``rc.d/hb_takeover`` turns into ``hb_standby`` of everything).
* After a failed start the set handed over is the failed group's own (``local`` if its home is
  us); C's ``StandbyGroupType`` compares a resource with whole lines and nearly always says
  ``foreign``.
* ``RQSTDELAY`` does not take local groups from a peer that announced ``info=shutdown`` and has
  not sent ``shutdone`` yet (it says ``none`` before it has stopped them).  And while stopping,
  a node answers ``starting`` with what it still holds and ``info=shutdown`` (C: ``none``), so a
  peer that starts meanwhile waits for the ``shutdone`` too.
* A peer restart we did not see as a death (``NodeRestarted`` while alive): its new daemon
  holds nothing, so we take our own (local) groups back if we lacked them; its groups it takes
  itself through the start-up handshake (taking them here would race that).  C does nothing.
* Split brain (``PartitionHealed``): C gives everything up and restarts.  Here every group goes
  to its home node (the haresources NODE), whatever ``auto_failback`` says: deterministic, both
  sides decide alike without a message, and a C peer (which restarts) takes its home groups back
  through the start-up handshake.  The loser stops its groups; the winner re-sends gratuitous
  ARP at once and again when the peer next reports.
* No STONITH: ``stonith`` devices in ha.cf are logged as unsupported and ``n_stnth`` is sent.
* A peer's ``stonith node=<us>`` while we hold groups (we were frozen or cut off longer than its
  deadtime, and our membership did not see it dead) is handled as a healed split brain.  C
  ignores it.
* Legacy mode: a peer's ``ip-request-resp`` addressed to itself (it came up before hearing us
  and takes its group without asking) makes us release that group if we hold it.  C ignores it
  (rc.d/ip-request-resp acts only on ``dest`` = us), and both nodes keep the group.
* In legacy mode ``i_hold`` (hence ``rscstatus``) follows the groups actually held (C leaves it
  ``none`` there).
* A node's death after its ``shutdone`` is not seen twice (the membership core keeps it dead),
  so no second ``stonith result=unneeded`` follows a graceful stop.

What remains (for the daemon integration, or later):

* At start, the daemon should check ``status`` of every group before comm-up (C only logs,
  ``ResourceManager verifyallidle``): an address left by a ``kill -9``-ed daemon is not known
  here, and the peer may take that group.  Shutdown stops every group, held or not, already.
* STONITH, ``ipfail``, more than two nodes, and C's 2 s restart after a healed partition are
  not done.  The ``harc``/``rc.d`` hooks are not run: the decisions they carried are here.
* The FIFO reader must turn local ``ask_resources info=me`` / ``hb_takeover`` into
  ``StandbyRequest`` / ``TakeoverRequest`` (see above), and feed the membership core's
  ``NodeStatusChanged``, ``NodeRestarted``, ``PartitionHealed`` and ``MessageReceived``.

Ping nodes: in 3.0.6 v1 a ping node's death runs ``mach_down`` with ``info=ping``, which exits at
once; only ``ipfail`` (not provided) acts on them.  ``PingNodeStatus`` is therefore logged and
kept (``ping_node_status``) and changes no resource.

``initdead``: the membership core applies it; a peer found dead before comm-up is taken over at
once (C: ``mark_node_dead`` runs ``hb_rsc_recover_dead_resources`` in any comm state).  With no
live peer at comm-up the state goes straight to RSCRCVD, so ``RQSTDELAY`` later makes it stable.
"""

from __future__ import annotations

from typing import Any

from ..config.haresources import HaResources
from ..config.hacf import HaConfig, ascii_lower
from .events import (DEAD, CoordinatorAction, CoordinatorEvent, GroupStarted, GroupStopped,
                     LocalProtocolError, Log, MessageReceived, NodeRestarted, NodeStatusChanged,
                     PartitionHealed, PingNodeStatus, QueryGroupStatus, ReannounceAddresses,
                     RebootNode, ResourceStateChanged, Send, ShutdownComplete, ShutdownRequest,
                     StandbyRequest, StartGroup, StatusResult, StopGroup, TakeoverRequest, Tick,
                     text_of)
from .groups import RUNNING, STARTING, STOPPED, Groups, Job
from .resource_terms import (ALL, AUTO_FAILBACK_RETRY_MS, FAILED_START_HANDOVER_MS, FOREIGN,
                             LOCAL, NONE, RQSTDELAY_MS, SET_NAMES, STANDBY_INIT_TIMEOUT_MS,
                             STANDBY_RESOURCE_TIMEOUT_MS, STOP_RETRY_INTERVAL_MS,
                             STOP_RETRY_MAX, TRANSITION, CoordinatorOptions, mirror)

# --------------------------------------------------------------------------------------------
# Constants (C names in brackets; SPEC §1e)

INFO_STANDBY_ABORTED = "standby_aborted"   # ours: a standby we could not finish (failed stop)

# resourcestate [hb_rsc_state]
R_INIT, R_STARTING, R_BOTHSTARTING, R_RSCRCVD, R_STABLE, R_SHUTDOWN = (
    "init", "starting", "both starting", "resources received", "stable", "shutdown")
# going_standby [enum standby]
NOT, ME, OTHER, DONE = "not", "me", "other", "done"
_STANDBY_NUMBER = {NOT: 0, ME: 1, OTHER: 2, DONE: 3}   # C logs the state as a number

# --------------------------------------------------------------------------------------------
# Theory of operation: the transition tables (see the module docstring).

STARTUP_TRANSITIONS: dict[tuple[str, str], str] = {
    (R_INIT, "comm up"): R_STARTING,                 # t=starting sent
    (R_INIT, "comm up alone"): R_RSCRCVD,            # no live peer to answer: RQSTDELAY runs
    (R_STARTING, "peer starting"): R_BOTHSTARTING,
    (R_STARTING, "resource"): R_RSCRCVD,              # a resource message, theirs or ours
    (R_BOTHSTARTING, "resource"): R_RSCRCVD,
    (R_STARTING, "peer stable"): R_STABLE,
    (R_BOTHSTARTING, "peer stable"): R_STABLE,
    (R_RSCRCVD, "peer stable"): R_STABLE,             # "remote resource transition completed."
    (R_RSCRCVD, "rqstdelay"): R_STABLE,               # "local resource transition completed."
    (R_STARTING, "peer dead"): R_RSCRCVD,             # nobody will answer any more
    (R_BOTHSTARTING, "peer dead"): R_RSCRCVD,
    **{(state, "shutdown"): R_SHUTDOWN for state in
       (R_INIT, R_STARTING, R_BOTHSTARTING, R_RSCRCVD, R_STABLE)},
}
# The 3-phase standby protocol (C: ask_for_resources).  The node giving resources up is ME,
# the one taking them OTHER; both end in DONE until the last "done" arrives.
STANDBY_TRANSITIONS: dict[tuple[str, str], str] = {
    (NOT, "me from us"): ME,          # hb_standby / auto-failback: we want to give up a set
    (NOT, "me from peer"): OTHER,     # we answer "other" and wait for their "done"
    (ME, "other from peer"): ME,      # we stop the set, then send "done"
    (ME, "done from us"): DONE,       # our set is stopped
    (OTHER, "done from peer"): DONE,  # we start the set, then send "done"
    (DONE, "done from us"): NOT,
    (DONE, "done from peer"): NOT,
    (DONE, "peer shut down"): DONE,   # shutdone: acquire the complement at once
    (NOT, "peer shut down"): DONE,
    **{(state, "cancel"): NOT for state in (NOT, ME, OTHER, DONE)},
}


Event = CoordinatorEvent
Action = CoordinatorAction


# --------------------------------------------------------------------------------------------
# Internals


_text = text_of


class ResourceCoordinator:
    """Which haresources groups this node holds, and the v1 messages about them."""

    def __init__(self, config: HaConfig, resources: HaResources, local_node: str,
                 options: CoordinatorOptions | None = None):
        self._config = config
        self._local = ascii_lower(local_node)
        names = [node.name for node in config.nodes]
        if self._local not in names:
            raise ValueError(f"local node {self._local!r} is not a node of {config.path}")
        peers = [name for name in names if name != self._local]
        if len(peers) > 1:
            raise ValueError("v1 resource management (haresources) handles two nodes at most")
        self._peer: str | None = peers[0] if peers else None
        self._options = options or CoordinatorOptions()
        self._nice = config.auto_failback in ("on", "off")       # nice_failback
        self._auto_failback = config.auto_failback == "on"
        self._groups = Groups(resources, self._local, self._options)
        self._now = 0
        # C's globals
        self._state = R_INIT
        self._standby = NOT
        self._i_hold = NONE
        self._other_holds = NONE
        self._other_is_stable = False
        self._takeover_in_progress = False
        self._standby_deadline: int | None = None
        self._standby_rsctype = ALL
        self._giving_up = NONE                # the set our standby (ME) is releasing
        self._rsc_needs_failback = False
        self._auto_failback_at: int | None = None
        self._local_takeover_at: int | None = None
        self._local_takeover_armed = False
        self._shutdown_requested = False
        self._shutdown_in_progress = False
        self._shutdown_delay_logged = False
        self._shutdone_sent = False
        self._comm_up = False
        self._peer_status = "init" if self._peer else DEAD
        self._peer_heard = False              # anypacketsyet
        self._peer_shutting_down = False
        self._local_work_done = False
        self._foreign_work_done = False
        self._announced = False
        self._reannounce_pending: set[str] = set()
        self._healing = False                 # a split brain's hand-back not yet confirmed
        self._last_status = self.resource_status
        self.ping_node_status: dict[str, str] = {}

    # -- queries ------------------------------------------------------------------------------

    @property
    def local_node(self) -> str:
        return self._local

    @property
    def state(self) -> str:
        return self._state

    @property
    def standby_state(self) -> str:
        return self._standby

    def group_state(self, key: str) -> str:
        return self._groups.state(key)

    @property
    def held_groups(self) -> tuple[str, ...]:
        """Groups that may have something running here (started, or not yet stopped)."""
        return self._groups.held_keys()

    @property
    def holds(self) -> str:
        return SET_NAMES[self._i_hold]

    def is_stable(self) -> bool:
        """C: hb_rsc_isstable."""
        if self._groups.jobs:
            return False
        if not self._nice:
            return True
        if self._shutdown_in_progress and self._state == R_INIT:
            return True
        return (self._other_is_stable and not self._takeover_in_progress
                and self._standby == NOT and self._standby_deadline is None
                and self._state in (R_STABLE, R_SHUTDOWN, R_INIT))

    @property
    def resource_status(self) -> str:
        """What ``cl_status rscstatus`` prints (C: hb_rsc_resource_state)."""
        return SET_NAMES[self._i_hold] if self.is_stable() else TRANSITION

    @property
    def shutdown_complete(self) -> bool:
        return self._shutdone_sent

    def next_deadline_ms(self) -> int | None:
        times = [t for t in (self._standby_deadline, self._auto_failback_at,
                             self._local_takeover_at if self._state == R_RSCRCVD else None)
                 if t is not None]
        times += self._groups.deadlines()
        # C: "cmp_longclock(now, local_takeover_time) > 0": the timer fires 1 ms after
        return min(times) if times else None

    # -- the one entry point ------------------------------------------------------------------

    def handle(self, event: Event, now_ms: int) -> list[Action]:
        self._now = now_ms
        out: list[Action] = []
        if isinstance(event, Tick):
            self._tick(out)
        elif isinstance(event, MessageReceived):
            if event.node != self._local and event.node == self._peer:
                self._peer_heard = True
                self._on_message(out, event.message_type, event.message)
        elif isinstance(event, NodeStatusChanged):
            self._on_node_status(out, event)
        elif isinstance(event, NodeRestarted):
            if event.node == self._peer:
                self._on_peer_restarted(out)
        elif isinstance(event, PartitionHealed):
            if event.node == self._peer:
                self._on_partition_healed(out)
        elif isinstance(event, GroupStarted):
            self._groups.on_started(out, event, now_ms, hand_over=not self._shutdown_in_progress)
        elif isinstance(event, GroupStopped):
            self._groups.on_stopped(out, event, now_ms)
        elif isinstance(event, StatusResult):
            self._groups.on_status(out, event)
        elif isinstance(event, StandbyRequest):
            self._on_standby_request(out, event.which)
        elif isinstance(event, TakeoverRequest):
            self._on_takeover_request(out, event.which)
        elif isinstance(event, ShutdownRequest):
            self._on_shutdown_request(out)
        elif isinstance(event, PingNodeStatus):
            self._on_ping_node(out, event)
        else:
            raise TypeError(f"not a resource coordinator event: {event!r}")
        self._settle(out)
        return out

    # -- state changes through the tables -----------------------------------------------------

    def _to(self, trigger: str) -> None:
        new = STARTUP_TRANSITIONS.get((self._state, trigger))
        if new is None:
            raise LocalProtocolError(f"resource state {self._state!r} has no {trigger!r}")
        self._state = new

    def _standby_to(self, trigger: str) -> None:
        new = STANDBY_TRANSITIONS.get((self._standby, trigger))
        if new is None:
            raise LocalProtocolError(f"standby state {self._standby!r} has no {trigger!r}")
        self._standby = new

    def _settle(self, out: list) -> None:
        """Start, finish and chain jobs until nothing moves; then the shutdown and rscstatus."""
        for _ in range(1000):
            moved = self._groups.step_jobs(out)
            if self._shutdown_requested and not self._shutdown_in_progress and self.is_stable():
                self._giveup_resources(out)
                moved = True
            if not moved:
                break
        else:  # pragma: no cover - a loop here would be a bug in the job chaining
            raise LocalProtocolError("resource jobs do not settle")
        if not self._nice:
            self._i_hold = self._groups.held_bits()
        status = self.resource_status
        if status != self._last_status:
            out.append(ResourceStateChanged(self._last_status, status))
            self._last_status = status

    # -- sending (and processing our own message, as C does) ----------------------------------

    def _send(self, out: list, *fields: tuple[str, str]) -> None:
        out.append(Send(tuple(fields)))
        message = dict(fields)
        kind = message["t"]
        if kind == "resource":
            self._on_resource(out, message, from_us=True)
        elif kind == "ask_resources":
            self._ask_for_resources(out, message, from_us=True)

    def _send_resources_held(self, out: list, stable: bool, info: str | None = None) -> None:
        """C: hb_send_resources_held (nice_failback only)."""
        if not self._nice:
            return
        hold = self._i_hold
        if info not in ("standby", "shutdown"):   # those two say "going away" (C's values)
            # ours: never announce less than what is still up or moving here (C announces
            # its intent, which a restarted or starting peer may take for a release)
            hold |= self._groups.held_bits()
        if self._shutdown_in_progress and info is None:
            # ours: what is still being stopped, and why (C says "none" here), so that a
            # peer starting meanwhile does not take it when its RQSTDELAY expires
            hold, info = self._groups.held_bits(), "shutdown"
        fields = [("t", "resource"), ("rsc_hold", SET_NAMES[hold]), ("rtype", "full"),
                  ("isstable", "1" if stable else "0")]
        if info:
            fields.append(("info", info))
        self._send(out, *fields)

    def _send_standby(self, out: list, state: str, rsctype: int | None = None) -> None:
        rsc = SET_NAMES[self._standby_rsctype if rsctype is None else rsctype]
        self._send(out, ("t", "ask_resources"), ("rsc_hold", rsc), ("info", state))

    def _announce(self, out: list, reason: str) -> None:
        """C: AnnounceTakeover."""
        if self._announced or not (self._local_work_done and self._foreign_work_done):
            return
        out.append(Log("info", f"Initial resource acquisition complete ({reason})"))
        self._announced = True

    # -- membership events --------------------------------------------------------------------

    def _on_node_status(self, out: list, event: NodeStatusChanged) -> None:
        if event.node == self._local:
            if event.new == "active" and not self._comm_up:
                self._comm_up_action(out)
            return
        if event.node != self._peer:
            return
        was_dead = self._peer_status == DEAD
        self._peer_status = event.new
        if event.new == DEAD:
            self._healing = False                 # a later return is a new episode
        if event.new == DEAD and not was_dead:
            if event.reason == "shutdown":
                self._on_peer_shutdone(out)
            else:
                self._recover_dead_resources(out, heard=event.old != "init")
            self._peer_heard = False

    def _comm_up_action(self, out: list) -> None:
        """C: comm_up_resource_action."""
        self._comm_up = True
        if self._peer is None or self._peer_status == DEAD:
            self._foreign_work_done = True      # C: deadcount == 0 ... (nobody to take from)
        if not self._nice:
            self._req_our_resources(out, anyway=False)
            return
        self._send(out, ("t", "starting"))
        if self._state == R_INIT:
            if self._peer is None or self._peer_status == DEAD:
                self._to("comm up alone")
                self._arm_rqstdelay()
            else:
                self._to("comm up")

    def _arm_rqstdelay(self) -> None:
        if not self._local_takeover_armed:            # C arms local_takeover_time once
            self._local_takeover_armed = True
            self._local_takeover_at = self._now + self._options.rqstdelay_ms

    def _on_peer_restarted(self, out: list) -> None:
        """The peer's daemon restarted; unless we saw it die, its new daemon holds nothing
        and will take its own (home) groups through the start-up handshake.  We take back
        ours if it held them; we do not take its groups (that would race its start-up)."""
        peer_held = self._other_holds
        self._peer_shutting_down = False
        self._healing = False
        self._other_holds = NONE
        self._forget_peer_requests()
        if self._peer_status == DEAD or self._shutdown_in_progress:
            return
        if self._standby != NOT or self._standby_deadline is not None:
            out.append(Log("info", "Cancelling pending standby operation"))
            self._standby_to("cancel")
            self._standby_deadline = None
        self._i_hold |= self._groups.held_bits()          # what a cancelled acquisition started
        if self._giving_up:
            # the daemon that was to take them is gone: take back what our standby released
            given, self._giving_up = self._giving_up, NONE
            out.append(Log("info", f"taking back the {SET_NAMES[given]} resources released "
                                   "for the cancelled standby"))
            self._i_hold |= given
            self._rsc_needs_failback = bool(given & FOREIGN) or self._rsc_needs_failback
            self._groups.job("standby cancelled", "start", self._groups.keys_of(given),
                      lambda job, out: self._send_resources_held(out, True))
        self._other_is_stable = False
        if self._nice:
            missing = peer_held & FOREIGN or not self._i_hold & LOCAL
        else:
            missing = not all(self._groups.is_held(k) for k in self._groups.keys_of(LOCAL))
        if missing:
            out.append(Log("info", f"{self._peer} restarted without being declared dead: "
                                   "taking our resources back"))
            self._req_our_resources(out, anyway=True)

    def _forget_peer_requests(self) -> None:
        """The peer's daemon is gone: its ip-requests get no answer (a new daemon of it would
        take the answer for its own; ours, C's queue would still answer)."""
        self._groups.forget_jobs("ip-request")

    def _recover_dead_resources(self, out: list, *, heard: bool) -> None:
        """C: hb_rsc_recover_dead_resources (a peer died without shutdone)."""
        peer = self._peer
        self._forget_peer_requests()
        self._peer_shutting_down = False
        if self._standby != NOT or self._standby_deadline is not None:
            out.append(Log("info", "Cancelling pending standby operation"))
            self._standby_to("cancel")
            self._giving_up = NONE
            self._standby_deadline = None
            if not self._other_is_stable and self._i_hold == ALL:
                self._other_is_stable = True
        if self._state in (R_STARTING, R_BOTHSTARTING):
            self._to("peer dead")
            self._arm_rqstdelay()
        if self._shutdown_in_progress:
            return                                # we are stopping everything anyway
        self._rsc_needs_failback = True
        need_stonith = True
        if heard and (self._other_holds == NONE if self._nice else False):
            need_stonith = False
        if need_stonith:
            if self._config.stonith:
                out.append(Log("warning", "STONITH devices in ha.cf are not supported: "
                                          f"{peer} is not reset"))
            self._send(out, ("t", "stonith"), ("node", peer), ("result", "n_stnth"))
            out.append(Log("warning", "No STONITH device configured."))
            out.append(Log("warning", "Shared disks are not protected."))
            self._takeover_from_node(out, peer)
            return
        out.append(Log("info", f"Dead node {peer} gave up resources."))
        self._send(out, ("t", "stonith"), ("node", peer), ("result", "unneeded"))
        if self._i_hold == ALL:
            self._other_is_stable = True
            return
        if not self._i_hold & LOCAL:
            self._req_our_resources(out, anyway=True)
        if not self._i_hold & FOREIGN:
            self._takeover_from_node(out, peer)

    def _takeover_from_node(self, out: list, node: str) -> None:
        """C: takeover_from_node: mach_down (queued) and req_our_resources(anyway)."""
        if self._shutdown_in_progress:
            out.append(Log("info", "Resource takeover cancelled - shutdown in progress."))
            return
        out.append(Log("info", f"Resources being acquired from {node}."))
        keys = self._groups.keys_homed_at(node)

        def announce_keys(out: list) -> None:
            for key in keys:
                out.append(Log("info", f"Taking over resource group {key}"))

        def mach_down_done(job: Job, out: list) -> None:
            if self._nice:
                out.append(Log("info", "mach_down: nice_failback: foreign resources acquired"))
            out.append(Log("info", f"mach_down takeover complete for node {node}."))
            if self._nice:
                self._send(out, ("t", "resource"), ("rsc_hold", "foreign"),
                           ("info", "mach_down"))

        self._groups.job("mach_down", "start", keys, mach_down_done, queued=True,
                  before_start=announce_keys)
        if self._nice:
            self._i_hold |= FOREIGN
            self._other_holds = NONE
            self._other_is_stable = True
            self._takeover_in_progress = True
        self._req_our_resources(out, anyway=True)

    def _req_our_resources(self, out: list, *, anyway: bool) -> None:
        """C: req_our_resources + req_resource for every key of ``listkeys <us>``."""
        if self._shutdown_in_progress:
            return
        if self._nice:
            if ((self._other_holds & FOREIGN or self._i_hold & LOCAL) and not anyway
                    and self._standby == NOT):
                out.append(Log("info", "Local Resource acquisition completed. (none)"))
                return
            self._i_hold |= LOCAL
        keys = self._groups.keys_of(LOCAL)
        alone = self._peer_status != "active"
        asking = not self._nice and not alone
        start_keys = () if asking else tuple(k for k in keys if self._groups.state(k) != RUNNING)

        def request(out: list) -> None:
            for key in keys:
                if self._groups.state(key) in (RUNNING, STARTING):
                    continue                      # req_resource: status says we own it
                if asking:
                    self._send(out, ("t", "ip-request"), ("ipaddr", key))
                else:
                    self._send(out, ("t", "ip-request-resp"), ("dest", self._local),
                               ("ipaddr", key), ("weown", "yes"), ("ok", "OK"))

        def done(job: Job, out: list) -> None:
            if not keys:
                out.append(Log("info", "No local resources [/usr/share/heartbeat/"
                                       f"ResourceManager listkeys {self._local}] to acquire."))
            else:
                out.append(Log("info", "Local Resource acquisition completed."))
            self._local_work_done = True
            self._announce(out, "req_our_resources")
            self._send_resources_held(out, True, "req_our_resources()")

        self._groups.job("req_our_resources", "start", start_keys, done, before_start=request)

    def _on_peer_shutdone(self, out: list) -> None:
        """C: HBDoMsg_T_SHUTDONE + process_resources(T_SHUTDONE): take over at once."""
        peer = self._peer
        self._peer_shutting_down = False
        self._forget_peer_requests()
        held_before = self._i_hold
        self._other_is_stable = True
        self._other_holds = NONE
        if self._standby != NOT or self._standby_deadline is not None:
            self._standby_to("cancel")
            self._giving_up = NONE
            self._standby_deadline = None
        self._takeover_from_node(out, peer)
        if self._nice and held_before != ALL and not self._shutdown_in_progress:
            rtype = {FOREIGN: LOCAL, LOCAL: FOREIGN}.get(held_before, ALL)
            self._standby_to("peer shut down")
            self._go_standby(out, OTHER, rtype)

    def _on_partition_healed(self, out: list) -> None:
        """Split brain: every group goes to its home node; the loser stops it.  Seen twice in
        one episode (our membership's PartitionHealed and the peer's stonith naming us),
        the second time only re-announces."""
        peer = self._peer
        self._peer_status = "active"
        if self._healing:
            for key in self._groups.keys_of(LOCAL):
                if self._groups.is_held(key):
                    self._reannounce_now_and_later(out, key)
            return
        self._healing = True
        out.append(Log("critical", f"Split brain with {peer} healed: resource groups go to "
                                   "their haresources node"))
        if self._standby != NOT or self._standby_deadline is not None:
            self._standby_to("cancel")
            self._giving_up = NONE
            self._standby_deadline = None
        self._rsc_needs_failback = False
        self._auto_failback_at = None
        self._other_holds = ALL
        self._other_is_stable = False
        lose = []
        # a takeover of the peer's groups still queued (mach_down behind another job) would
        # start them after this: it is dropped, they stay with their home node
        self._groups.drop_queued_starts(self._groups.keys_of(FOREIGN))
        for key in self._groups.keys:
            if not self._groups.wanted_here(key):
                continue
            if self._groups.home(key) == self._local:
                self._reannounce_now_and_later(out, key)
            else:
                out.append(Log("warning", f"Split brain: giving resource group {key} back "
                                          f"to {self._groups.home(key)}"))
                lose.append(key)

        def released(job: Job, out: list) -> None:
            self._i_hold = self._groups.held_bits()
            if job.stuck:
                out.append(Log("critical", "Split brain: could not stop "
                                           f"{' '.join(job.stuck)}; still held here"))
            self._send_resources_held(out, True)

        self._i_hold = self._groups.held_bits()
        self._groups.job("split brain", "stop", tuple(lose), released)

    def _on_ping_node(self, out: list, event: PingNodeStatus) -> None:
        old = self.ping_node_status.get(event.node)
        self.ping_node_status[event.node] = event.status
        if old != event.status:
            out.append(Log("info", f"Ping node {event.node} status: {event.status} "
                                   "(no resource action in v1 without ipfail)"))

    # -- received messages --------------------------------------------------------------------

    def _on_message(self, out: list, kind: str, message: Any) -> None:
        if kind == "starting":
            self._on_starting(out)
        elif kind == "resource":
            self._on_resource(out, message, from_us=False)
        elif kind == "ask_resources":
            self._ask_for_resources(out, message, from_us=False)
        elif kind == "ip-request":
            self._on_ip_request(out, _text(message, "ipaddr"))
        elif kind == "ip-request-resp":
            self._on_ip_request_resp(out, message)
        elif kind == "hb_takeover":
            which = {"local": "foreign", "foreign": "local"}.get(
                _text(message, "rsc_hold") or "all", "all")
            self._on_standby_request(out, which)
        elif kind == "stonith":
            self._on_declared_dead_by_peer(out, message)

    def _on_declared_dead_by_peer(self, out: list, message: Any) -> None:
        """The peer's ``t=stonith node=<us>``: it declared us dead (we were frozen, or cut off,
        for longer than its deadtime) and is taking our groups over while we still hold them.
        Our membership reports ``PartitionHealed`` only if it too saw the peer dead, which a
        node waking from SIGSTOP usually does not (it reads the peer's queued heartbeats before
        its own timers run); without this the home node kept the VIP without a gratuitous ARP
        and clients stayed on the peer's MAC after the peer let it go (soak, freeze of the
        holder).  So it is the same split brain, seen from this side: handle it as one."""
        if _text(message, "node") != self._local or self._shutdown_in_progress:
            return
        if not self._groups.held_bits():
            return                                # nothing here that the peer could double
        out.append(Log("warning", f"{self._peer} declared us dead while we held resources "
                                  "(frozen or cut off longer than its deadtime)"))
        self._on_partition_healed(out)

    def _on_starting(self, out: list) -> None:
        """A peer's t=starting: answer with what we hold (C: process_resources)."""
        if not self._nice:
            return
        self._peer_shutting_down = False
        self._flush_reannounce(out)
        if self._state == R_STARTING:
            self._to("peer starting")
            self._foreign_work_done = True
            self._announce(out, "HB_R_BOTHSTARTING")
        elif self._state not in (R_RSCRCVD, R_STABLE, R_SHUTDOWN):
            out.append(Log("error", f"Received 'starting' message in state {self._state}"))
            return
        self._other_is_stable = False
        if self._takeover_in_progress:
            out.append(Log("warning", "T_STARTING received during takeover."))
        self._send_resources_held(out, self._state == R_STABLE)

    def _on_resource(self, out: list, message: Any, *, from_us: bool) -> None:
        """C: process_resources for T_RESOURCES."""
        if not self._nice:
            return
        rsc = _text(message, "rsc_hold")
        if rsc is None:
            out.append(Log("error", "resource message without rsc_hold field."))
            return
        if rsc in SET_NAMES:
            bits = SET_NAMES.index(rsc)
        else:
            out.append(Log("error", f"encode_resources: bad resource type [{rsc}]"))
            bits = NONE
        full = _text(message, "rtype") == "full"
        info = _text(message, "info")
        if self._state in (R_STARTING, R_BOTHSTARTING):
            self._to("resource")
            if not self._auto_failback:
                self._foreign_work_done = True
                self._announce(out, "T_RESOURCES")
        elif self._state == R_INIT and not from_us:
            out.append(Log("error", f"resource message received in state {self._state}"))
            return
        if from_us:
            self._on_own_resource(out, bits, full, info)
        else:
            self._on_peer_resource(out, bits, full, _text(message, "isstable"), info)
        if self._state == R_RSCRCVD:
            self._arm_rqstdelay()
        self._audit(out)

    def _on_own_resource(self, out: list, bits: int, full: bool, info: str | None) -> None:
        self._i_hold = bits if full else (NONE if bits == NONE else bits | self._i_hold)
        if self._i_hold & LOCAL:
            self._local_work_done = True
            self._announce(out, "T_RESOURCES(us)")
        if info == "mach_down":
            out.append(Log("info", "mach_down takeover complete."))
            self._takeover_in_progress = False
            self._i_hold |= FOREIGN
            self._rsc_needs_failback = True
            self._other_is_stable = True
            self._foreign_work_done = True
            self._announce(out, "mach_down")
        elif info == "shutdown" and self._state != R_SHUTDOWN:
            self._to("shutdown")

    def _on_peer_resource(self, out: list, bits: int, full: bool, stable: str | None,
                          info: str | None) -> None:
        self._other_holds = bits if full else (NONE if bits == NONE else
                                               bits | self._other_holds)
        if info == "shutdown":
            self._peer_shutting_down = True           # until its shutdone (or restart)
        if info == INFO_STANDBY_ABORTED and self._standby in (OTHER, DONE):
            out.append(Log("warning", f"{self._peer} aborted its standby: it still holds "
                                      f"{SET_NAMES[bits]} resources"))
            self._standby_to("cancel")
            self._giving_up = NONE
            self._standby_deadline = None
        if stable == "1":
            self._flush_reannounce(out)
            if not self._other_is_stable:
                out.append(Log("info", "remote resource transition completed."))
                self._other_is_stable = True
                self._send_resources_held(out, self._state == R_STABLE)
                self._perform_auto_failback(out)
        elif stable is not None:
            self._other_is_stable = False
        if self._state not in (R_STABLE, R_SHUTDOWN) and self._other_is_stable:
            out.append(Log("info", "remote resource transition completed."))
            self._req_our_resources(out, anyway=False)
            self._to("peer stable")
            self._send_resources_held(out, True)
            self._perform_auto_failback(out)
            self._foreign_work_done = True
            if not self._auto_failback and self._other_holds & FOREIGN:
                self._local_work_done = True
            self._announce(out, "T_RESOURCES(them)")

    def _reannounce_now_and_later(self, out: list, key: str) -> None:
        """A split brain's winner: gratuitous ARP now if the group is up, and again when the
        peer next reports (it has released the group by then)."""
        if self._groups.state(key) == RUNNING:
            out.append(ReannounceAddresses(key))
        self._reannounce_pending.add(key)

    def _flush_reannounce(self, out: list) -> None:
        self._healing = False                     # the peer is stable again: episode over
        for key in sorted(self._reannounce_pending):
            if self._groups.state(key) == RUNNING:
                out.append(ReannounceAddresses(key))
        self._reannounce_pending.clear()

    def _audit(self, out: list) -> None:
        """C: AuditResources (logs only)."""
        if self._i_hold & LOCAL and self._other_holds & FOREIGN:
            out.append(Log("error", "Both machines own our resources!"))
        if self._other_holds & LOCAL and self._i_hold & FOREIGN:
            out.append(Log("error", "Both machines own foreign resources!"))

    def _perform_auto_failback(self, out: list) -> None:
        """C: PerformAutoFailback: the survivor offers the returner its groups back."""
        self._auto_failback_at = None
        if (self._shutdown_in_progress or not self._i_hold & FOREIGN
                or not self._rsc_needs_failback or not self._auto_failback):
            self._rsc_needs_failback = False
            return
        if self._peer_status == DEAD:
            return                                # it comes back through "starting"
        if (self._standby != NOT or not self._other_is_stable or self._state != R_STABLE
                or self._groups.jobs):                   # ours: not while a takeover still runs
            out.append(Log("debug", "Auto failback delayed."))
            self._auto_failback_at = self._now + AUTO_FAILBACK_RETRY_MS
            return
        self._standby_rsctype = FOREIGN
        self._rsc_needs_failback = False
        self._send_standby(out, ME)

    # -- the standby protocol (C: ask_for_resources, go_standby) -------------------------------

    def _ask_for_resources(self, out: list, message: Any, *, from_us: bool) -> None:
        if not self._nice:
            out.append(Log("info", "Standby mode only implemented when nice_failback on"))
            return
        if self._state == R_SHUTDOWN:
            return
        info = _text(message, "info")
        sender = self._local if from_us else self._peer
        rsc = _text(message, "rsc_hold")
        rtype = ALL if rsc is None else SET_NAMES.index(rsc) if rsc in SET_NAMES else NONE
        if info is None:
            out.append(Log("error", "Received standby message without info/from"))
            return
        if (self._standby_deadline is not None and self._now < self._standby_deadline
                and info == "me"):
            left = (self._standby_deadline - self._now + 999) // 1000
            out.append(Log("warning", f"Standby in progress- new request from {sender} "
                                      f"ignored [{left} seconds left]"))
            return
        original = self._standby
        ignored = False
        if self._standby == NOT:
            if not self._other_is_stable:
                out.append(Log("warning", f"standby message [{info}] from {sender} ignored.  "
                                          "Other side is in flux."))
                return
            if self._state != R_STABLE or (self._groups.jobs and not from_us):
                # ours: also while groups are still being started or stopped here
                out.append(Log("warning", f"standby message [{info}] from {sender} ignored.  "
                                          "local resources in flux."))
                return
            self._standby_rsctype = rtype
            if info == "me":
                self._other_is_stable = False
                out.append(Log("info", f"{sender} wants to go standby [{SET_NAMES[rtype]}]"))
                if from_us:
                    self._standby_deadline = self._now + self._options.standby_init_timeout_ms
                    self._standby_to("me from us")
                else:
                    self._standby_to("me from peer")
                    self._send_standby(out, OTHER)
                    self._standby_deadline = (self._now
                                              + self._options.standby_resource_timeout_ms)
            else:
                ignored = True
        elif self._standby == ME:
            if not from_us:
                self._standby_rsctype = rtype
                self._standby_deadline = self._now + self._options.standby_resource_timeout_ms
                if info == "other":
                    out.append(Log("info", f"standby: {sender} can take our "
                                           f"{SET_NAMES[rtype]} resources"))
                    self._standby_to("other from peer")
                    self._go_standby(out, ME, rtype)
                else:
                    ignored = True
            elif info == "done":
                out.append(Log("info", f"Local standby process completed [{SET_NAMES[rtype]}]."))
                self._standby_to("done from us")
                self._i_hold &= ~self._standby_rsctype
                self._standby_deadline = self._now + self._options.standby_resource_timeout_ms
            else:
                ignored = True
        elif self._standby == OTHER:
            self._standby_rsctype = rtype
            if info == "done":
                self._standby_deadline = self._now + self._options.standby_resource_timeout_ms
                if not from_us:
                    out.append(Log("info", f"standby: acquire [{SET_NAMES[rtype]}] resources "
                                           f"from {sender}"))
                    self._standby_to("done from peer")
                    self._go_standby(out, OTHER, rtype)
                else:
                    ignored = True
            elif not from_us or info != "other":
                ignored = True
        else:  # DONE
            self._standby_rsctype = rtype
            if info == "done":
                self._standby_deadline = None
                self._giving_up = NONE
                self._standby_to("done from us" if from_us else "done from peer")
                if from_us:
                    out.append(Log("info", "Standby resource acquisition done "
                                           f"[{SET_NAMES[rtype]}]."))
                    if self._auto_failback:
                        self._local_work_done = True
                        self._announce(out, "auto_failback")
                    self._i_hold |= mirror(rtype)
                else:
                    out.append(Log("info", "Other node completed standby takeover of "
                                           f"{SET_NAMES[rtype]} resources."))
                self._send_resources_held(out, True)
            else:
                ignored = True
        if ignored:
            out.append(Log("error", f"Ignored standby message '{info}' from {sender} in "
                                    f"state {_STANDBY_NUMBER[original]}"))

    def _go_standby(self, out: list, who: str, resourceset: int) -> None:
        """C: go_standby: ME gives ``resourceset`` up, OTHER acquires the mirror of it."""
        rsctype_now = self._standby_rsctype          # the child's copy of standby_rsctype
        if who == ME:
            self._giving_up = resourceset
            self._other_is_stable = False
            self._i_hold &= ~resourceset
            self._send_resources_held(out, False, "standby")
            act = resourceset
        else:
            act = mirror(resourceset)
        verb = "give up" if who == ME else "acquire"
        out.append(Log("info", f"{verb} {SET_NAMES[act]} HA resources (standby)."))

        def done(job: Job, out: list) -> None:
            if job.stuck:
                self._abort_standby(out, job.stuck)
                return
            what = "release" if who == ME else "acquisition"
            out.append(Log("info", f"{SET_NAMES[act]} HA resource {what} completed "
                                   "(standby)."))
            self._send_standby(out, DONE, rsctype_now)

        self._groups.job("go_standby", "stop" if who == ME else "start", self._groups.keys_of(act), done)

    def _abort_standby(self, out: list, stuck: list[str]) -> None:
        out.append(Log("critical", f"Standby aborted: resource group(s) {' '.join(stuck)} "
                                   "could not be stopped and stay held here; the other node "
                                   "is not told to take them"))
        for key in stuck:
            self._i_hold |= self._groups.set_of(key)
        self._standby_to("cancel")
        self._standby_deadline = None
        given, self._giving_up = self._giving_up, NONE
        self._i_hold |= given
        self._send_resources_held(out, True, INFO_STANDBY_ABORTED)
        # nobody takes the rest of the set now: start again what was stopped for it
        self._groups.job("standby aborted", "start",
                  tuple(k for k in self._groups.keys_of(given) if not self._groups.is_held(k)),
                  lambda job, out: None)

    def _standby_refusal(self, rtype: int) -> str | None:
        me = self._local
        if not self._nice:
            return "Standby mode only implemented when nice_failback on"
        if self._shutdown_requested or self._state == R_SHUTDOWN:
            return "standby message ignored during shutdown"
        if self._standby_deadline is not None and self._now < self._standby_deadline:
            left = (self._standby_deadline - self._now + 999) // 1000
            return f"Standby in progress- new request from {me} ignored [{left} seconds left]"
        if self._standby != NOT:
            return (f"Ignored standby message 'me' from {me} in state "
                    f"{_STANDBY_NUMBER[self._standby]}")
        if self._peer is None or self._peer_status == DEAD:
            return f"standby message [me] from {me} ignored.  No other node is active."
        if not self._other_is_stable:
            return f"standby message [me] from {me} ignored.  Other side is in flux."
        if self._state != R_STABLE or self._groups.jobs:
            return f"standby message [me] from {me} ignored.  local resources in flux."
        return None

    # -- local requests -----------------------------------------------------------------------

    def _on_standby_request(self, out: list, which: str) -> bool:
        which = {"failback": "foreign"}.get(which, which)
        if which not in ("all", "local", "foreign"):
            out.append(Log("error", f"hb_standby: wrong resources({which})."))
            return False
        rtype = SET_NAMES.index(which)
        out.append(Log("info", f"Going standby [{which}]."))
        refusal = self._standby_refusal(rtype)
        if refusal:
            out.append(Log("info" if not self._nice else "warning", refusal))
            return False
        self._send_standby(out, ME, rtype)
        return True

    def _on_takeover_request(self, out: list, which: str) -> None:
        which = {"failback": "local"}.get(which, which)
        if which not in ("all", "local", "foreign"):
            out.append(Log("error", f"hb_takeover: wrong resources({which})."))
            return
        if not self._nice:
            out.append(Log("info", "Standby mode only implemented when nice_failback on"))
            return
        if self._peer is None or self._peer_status == DEAD:
            out.append(Log("warning", f"hb_takeover [{which}] ignored: no other node is "
                                      "active, we hold everything already"))
            return
        self._send(out, ("t", "hb_takeover"), ("rsc_hold", which))

    def _on_shutdown_request(self, out: list) -> None:
        """C: hb_giveup_resources (through hb_shutdown_if_needed when not stable)."""
        if self._shutdown_in_progress and not self._groups.jobs and not self._shutdone_sent:
            self._giveup_all(out)                 # retry a blocked shutdown
            return
        self._shutdown_requested = True
        if not self.is_stable() and not self._shutdown_delay_logged:
            out.append(Log("warning", "Shutdown delayed until current resource activity "
                                      "finishes."))
            self._shutdown_delay_logged = True

    def _giveup_resources(self, out: list) -> None:
        self._shutdown_in_progress = True
        self._i_hold = NONE
        self._auto_failback_at = None
        self._groups.cancel_handovers()
        if self._state != R_SHUTDOWN:
            self._to("shutdown")
        self._send_resources_held(out, False, "shutdown")
        out.append(Log("info", "Heartbeat shutdown in progress."))
        self._giveup_all(out)

    def _giveup_all(self, out: list) -> None:
        """Stop every group, held or not (C: givegroup for ``listkeys '.*'``): a stale
        address left by a crash of an earlier daemon goes too."""
        out.append(Log("info", "Giving up all HA resources."))

        def done(job: Job, out: list) -> None:
            if job.stuck:
                self._i_hold = self._groups.held_bits()
                out.append(Log("critical", "Shutdown blocked: resource group(s) "
                                           f"{' '.join(job.stuck)} could not be stopped; not "
                                           "sending shutdone, so the other node does not take "
                                           "them over.  Fix them, then stop heartbeat again."))
                return
            out.append(Log("info", "All HA resources relinquished."))
            self._send(out, ("t", "shutdone"), ("st", "dead"))
            self._shutdone_sent = True
            out.append(ShutdownComplete())

        self._groups.job("giveup", "stop", self._groups.keys, done)

    # -- legacy ip-request / ip-request-resp (rc.d scripts) -----------------------------------

    def _on_ip_request(self, out: list, key: str | None) -> None:
        if key is None or key not in self._groups:
            out.append(Log("warning", f"ip-request for unknown resource group [{key}]"))
            return
        peer = self._peer
        weown = []

        def check(out: list) -> None:                 # rc.d/ip-request: status, when it runs
            weown.append(self._groups.wanted_here(key))

        def reply(job: Job, out: list) -> None:
            if job.void:
                return
            if job.stuck:
                out.append(Log("critical", f"ip-request from {peer}: resource group {key} "
                                           "could not be stopped; not answering"))
                return
            self._send(out, ("t", "ip-request-resp"), ("dest", peer), ("ipaddr", key),
                       ("weown", "yes" if weown[0] else "no"), ("ok", "OK"))

        self._groups.job("ip-request", "stop", (key,), reply, queued=True, before_start=check)

    def _on_ip_request_resp(self, out: list, message: Any) -> None:
        key = _text(message, "ipaddr")
        dest = _text(message, "dest")
        if key in self._groups and dest == self._peer and dest is not None:
            self._on_peer_takes_without_asking(out, key, message)
            return
        if dest != self._local or key not in self._groups:
            return
        ok, weown = _text(message, "ok"), _text(message, "weown")
        out.append(Log("info", f"received ip-request-resp {key} {ok} {weown}"))
        if ok == "OK" and not self._shutdown_in_progress:
            self._groups.job("ip-request-resp", "start", (key,), lambda job, out: None, queued=True)

    def _on_peer_takes_without_asking(self, out: list, key: str, message: Any) -> None:
        """Legacy mode: the peer answered its own request (``req_resource`` with HA_DONTASK:
        it found no other *active* node when it came up) and its rc.d/ip-request-resp now runs
        ``takegroup``.  3.0.6 sends this when it restarts just as we take its groups over
        after its death: it came up before it heard us, so it did not ask.  C ignores the
        message on the other node and both keep the group; here the group's home is the
        peer, so we give it up (cancel our queued takeover, stop what we started)."""
        if self._nice or _text(message, "ok") != "OK" or self._groups.set_of(key) != FOREIGN:
            return
        if not self._groups.wanted_here(key) and not self._groups.start_queued_for(key):
            return
        out.append(Log("warning", f"{self._peer} takes resource group {key} without asking "
                                  "(it found no active node when it came up): releasing it "
                                  "here"))
        self._groups.drop_queued_starts((key,))
        self._groups.job("yield to home node", "stop", (key,), lambda job, out: None)

    # -- timers -------------------------------------------------------------------------------

    def _tick(self, out: list) -> None:
        now = self._now
        if self._standby_deadline is not None and now >= self._standby_deadline:
            self._standby_deadline = None
            self._other_is_stable = True
            self._standby_to("cancel")
            self._giving_up = NONE
            out.append(Log("warning", "No reply to standby request.  Standby request "
                                      "cancelled."))
        self._groups.retry_due_stops(out, now)
        if (self._nice and self._state == R_RSCRCVD and self._local_takeover_at is not None
                and now >= self._local_takeover_at):
            self._to("rqstdelay")
            if self._peer_shutting_down:
                out.append(Log("info", f"{self._peer} is shutting down: waiting for its "
                                       "shutdone before taking local resources"))
            else:
                self._req_our_resources(out, anyway=False)
            out.append(Log("info", "local resource transition completed."))
            self._send_resources_held(out, True)
            self._audit(out)
        if self._auto_failback_at is not None and now >= self._auto_failback_at:
            self._perform_auto_failback(out)
        for key in self._groups.due_handovers(now):
            if self._groups.state(key) != STOPPED or self._shutdown_requested:
                continue                          # taken again meanwhile, or stopping for good
            which = SET_NAMES[self._groups.set_of(key)]
            out.append(Log("info", f"Handing the {which} resources to the other node after "
                                   f"the failed start of {key}"))
            if (not self._on_standby_request(out, which) and self._nice
                    and self._peer_status not in (DEAD, None)):
                # ours: C runs hb_standby once; a refusal while in flux would leave the
                # group down for good, so ask again a second later.
                self._groups.hand_over_later(key, now + AUTO_FAILBACK_RETRY_MS)
