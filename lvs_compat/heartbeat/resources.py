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
from .standby import (DONE, INFO_STANDBY_ABORTED, ME, NOT, OTHER, STANDBY_TRANSITIONS,
                      Standby)
from .takeover import (R_BOTHSTARTING, R_INIT, R_RSCRCVD, R_SHUTDOWN, R_STABLE, R_STARTING,
                       STARTUP_TRANSITIONS, next_startup_state)
from .resource_terms import (ALL, AUTO_FAILBACK_RETRY_MS, FAILED_START_HANDOVER_MS, FOREIGN,
                             LOCAL, NONE, RQSTDELAY_MS, SET_NAMES, STANDBY_INIT_TIMEOUT_MS,
                             STANDBY_RESOURCE_TIMEOUT_MS, STOP_RETRY_INTERVAL_MS,
                             STOP_RETRY_MAX, TRANSITION, CoordinatorOptions, mirror)

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
        self.local_node = ascii_lower(local_node)
        names = [node.name for node in config.nodes]
        if self.local_node not in names:
            raise ValueError(f"local node {self.local_node!r} is not a node of {config.path}")
        peers = [name for name in names if name != self.local_node]
        if len(peers) > 1:
            raise ValueError("v1 resource management (haresources) handles two nodes at most")
        self.peer: str | None = peers[0] if peers else None
        self.options = options or CoordinatorOptions()
        self.nice = config.auto_failback in ("on", "off")       # nice_failback
        self.auto_failback = config.auto_failback == "on"
        self.groups = Groups(resources, self.local_node, self.options)
        self.now = 0
        # C's globals
        self._state = R_INIT
        self.standby = Standby(self)
        self.i_hold = NONE
        self.other_holds = NONE
        self.other_is_stable = False
        self._takeover_in_progress = False
        self._rsc_needs_failback = False
        self._auto_failback_at: int | None = None
        self._local_takeover_at: int | None = None
        self._local_takeover_armed = False
        self.shutdown_requested = False
        self.shutdown_in_progress = False
        self._shutdown_delay_logged = False
        self._shutdone_sent = False
        self._comm_up = False
        self.peer_status = "init" if self.peer else DEAD
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
    def state(self) -> str:
        return self._state

    @property
    def standby_state(self) -> str:
        return self.standby.state

    def group_state(self, key: str) -> str:
        return self.groups.state(key)

    @property
    def held_groups(self) -> tuple[str, ...]:
        """Groups that may have something running here (started, or not yet stopped)."""
        return self.groups.held_keys()

    @property
    def holds(self) -> str:
        return SET_NAMES[self.i_hold]

    def is_stable(self) -> bool:
        """C: hb_rsc_isstable."""
        if self.groups.jobs:
            return False
        if not self.nice:
            return True
        if self.shutdown_in_progress and self._state == R_INIT:
            return True
        return (self.other_is_stable and not self._takeover_in_progress
                and not self.standby.pending
                and self._state in (R_STABLE, R_SHUTDOWN, R_INIT))

    @property
    def resource_status(self) -> str:
        """What ``cl_status rscstatus`` prints (C: hb_rsc_resource_state)."""
        return SET_NAMES[self.i_hold] if self.is_stable() else TRANSITION

    @property
    def shutdown_complete(self) -> bool:
        return self._shutdone_sent

    def next_deadline_ms(self) -> int | None:
        times = [t for t in (self.standby.deadline, self._auto_failback_at,
                             self._local_takeover_at if self._state == R_RSCRCVD else None)
                 if t is not None]
        times += self.groups.deadlines()
        # C: "cmp_longclock(now, local_takeover_time) > 0": the timer fires 1 ms after
        return min(times) if times else None

    # -- the one entry point ------------------------------------------------------------------

    def handle(self, event: Event, now_ms: int) -> list[Action]:
        self.now = now_ms
        out: list[Action] = []
        if isinstance(event, Tick):
            self._tick(out)
        elif isinstance(event, MessageReceived):
            if event.node != self.local_node and event.node == self.peer:
                self._peer_heard = True
                self._on_message(out, event.message_type, event.message)
        elif isinstance(event, NodeStatusChanged):
            self._on_node_status(out, event)
        elif isinstance(event, NodeRestarted):
            if event.node == self.peer:
                self._on_peer_restarted(out)
        elif isinstance(event, PartitionHealed):
            if event.node == self.peer:
                self._on_partition_healed(out)
        elif isinstance(event, GroupStarted):
            self.groups.on_started(out, event, now_ms, hand_over=not self.shutdown_in_progress)
        elif isinstance(event, GroupStopped):
            self.groups.on_stopped(out, event, now_ms)
        elif isinstance(event, StatusResult):
            self.groups.on_status(out, event)
        elif isinstance(event, StandbyRequest):
            self.standby.request(out, event.which)
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
        self._state = next_startup_state(self._state, trigger)

    def _standby_to(self, trigger: str) -> None:      # kept for the tests of the tables
        self.standby.to(trigger)

    def _settle(self, out: list) -> None:
        """Start, finish and chain jobs until nothing moves; then the shutdown and rscstatus."""
        for _ in range(1000):
            moved = self.groups.step_jobs(out)
            if self.shutdown_requested and not self.shutdown_in_progress and self.is_stable():
                self._giveup_resources(out)
                moved = True
            if not moved:
                break
        else:  # pragma: no cover - a loop here would be a bug in the job chaining
            raise LocalProtocolError("resource jobs do not settle")
        if not self.nice:
            self.i_hold = self.groups.held_bits()
        status = self.resource_status
        if status != self._last_status:
            out.append(ResourceStateChanged(self._last_status, status))
            self._last_status = status

    # -- sending (and processing our own message, as C does) ----------------------------------

    def send(self, out: list, *fields: tuple[str, str]) -> None:
        out.append(Send(tuple(fields)))
        message = dict(fields)
        kind = message["t"]
        if kind == "resource":
            self._on_resource(out, message, from_us=True)
        elif kind == "ask_resources":
            self.standby.on_message(out, message, from_us=True)

    def send_resources_held(self, out: list, stable: bool, info: str | None = None) -> None:
        """C: hb_send_resources_held (nice_failback only)."""
        if not self.nice:
            return
        hold = self.i_hold
        if info not in ("standby", "shutdown"):   # those two say "going away" (C's values)
            # ours: never announce less than what is still up or moving here (C announces
            # its intent, which a restarted or starting peer may take for a release)
            hold |= self.groups.held_bits()
        if self.shutdown_in_progress and info is None:
            # ours: what is still being stopped, and why (C says "none" here), so that a
            # peer starting meanwhile does not take it when its RQSTDELAY expires
            hold, info = self.groups.held_bits(), "shutdown"
        fields = [("t", "resource"), ("rsc_hold", SET_NAMES[hold]), ("rtype", "full"),
                  ("isstable", "1" if stable else "0")]
        if info:
            fields.append(("info", info))
        self.send(out, *fields)

    def local_work_done(self, out: list, reason: str) -> None:
        self._local_work_done = True
        self._announce(out, reason)

    def _announce(self, out: list, reason: str) -> None:
        """C: AnnounceTakeover."""
        if self._announced or not (self._local_work_done and self._foreign_work_done):
            return
        out.append(Log("info", f"Initial resource acquisition complete ({reason})"))
        self._announced = True

    # -- membership events --------------------------------------------------------------------

    def _on_node_status(self, out: list, event: NodeStatusChanged) -> None:
        if event.node == self.local_node:
            if event.new == "active" and not self._comm_up:
                self._comm_up_action(out)
            return
        if event.node != self.peer:
            return
        was_dead = self.peer_status == DEAD
        self.peer_status = event.new
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
        if self.peer is None or self.peer_status == DEAD:
            self._foreign_work_done = True      # C: deadcount == 0 ... (nobody to take from)
        if not self.nice:
            self._req_our_resources(out, anyway=False)
            return
        self.send(out, ("t", "starting"))
        if self._state == R_INIT:
            if self.peer is None or self.peer_status == DEAD:
                self._to("comm up alone")
                self._arm_rqstdelay()
            else:
                self._to("comm up")

    def _arm_rqstdelay(self) -> None:
        if not self._local_takeover_armed:            # C arms local_takeover_time once
            self._local_takeover_armed = True
            self._local_takeover_at = self.now + self.options.rqstdelay_ms

    def _on_peer_restarted(self, out: list) -> None:
        """The peer's daemon restarted; unless we saw it die, its new daemon holds nothing
        and will take its own (home) groups through the start-up handshake.  We take back
        ours if it held them; we do not take its groups (that would race its start-up)."""
        peer_held = self.other_holds
        self._peer_shutting_down = False
        self._healing = False
        self.other_holds = NONE
        self._forget_peer_requests()
        if self.peer_status == DEAD or self.shutdown_in_progress:
            return
        given = NONE
        if self.standby.pending:
            given = self.standby.cancel(out, Log("info", "Cancelling pending standby operation"))
        self.i_hold |= self.groups.held_bits()          # what a cancelled acquisition started
        if given:
            # the daemon that was to take them is gone: take back what our standby released
            out.append(Log("info", f"taking back the {SET_NAMES[given]} resources released "
                                   "for the cancelled standby"))
            self.i_hold |= given
            self._rsc_needs_failback = bool(given & FOREIGN) or self._rsc_needs_failback
            self.groups.job("standby cancelled", "start", self.groups.keys_of(given),
                      lambda job, out: self.send_resources_held(out, True))
        self.other_is_stable = False
        if self.nice:
            missing = peer_held & FOREIGN or not self.i_hold & LOCAL
        else:
            missing = not all(self.groups.is_held(k) for k in self.groups.keys_of(LOCAL))
        if missing:
            out.append(Log("info", f"{self.peer} restarted without being declared dead: "
                                   "taking our resources back"))
            self._req_our_resources(out, anyway=True)

    def _forget_peer_requests(self) -> None:
        """The peer's daemon is gone: its ip-requests get no answer (a new daemon of it would
        take the answer for its own; ours, C's queue would still answer)."""
        self.groups.forget_jobs("ip-request")

    def _recover_dead_resources(self, out: list, *, heard: bool) -> None:
        """C: hb_rsc_recover_dead_resources (a peer died without shutdone)."""
        peer = self.peer
        self._forget_peer_requests()
        self._peer_shutting_down = False
        if self.standby.pending:
            self.standby.cancel(out, Log("info", "Cancelling pending standby operation"))
            if not self.other_is_stable and self.i_hold == ALL:
                self.other_is_stable = True
        if self._state in (R_STARTING, R_BOTHSTARTING):
            self._to("peer dead")
            self._arm_rqstdelay()
        if self.shutdown_in_progress:
            return                                # we are stopping everything anyway
        self._rsc_needs_failback = True
        need_stonith = True
        if heard and (self.other_holds == NONE if self.nice else False):
            need_stonith = False
        if need_stonith:
            if self._config.stonith:
                out.append(Log("warning", "STONITH devices in ha.cf are not supported: "
                                          f"{peer} is not reset"))
            self.send(out, ("t", "stonith"), ("node", peer), ("result", "n_stnth"))
            out.append(Log("warning", "No STONITH device configured."))
            out.append(Log("warning", "Shared disks are not protected."))
            self._takeover_from_node(out, peer)
            return
        out.append(Log("info", f"Dead node {peer} gave up resources."))
        self.send(out, ("t", "stonith"), ("node", peer), ("result", "unneeded"))
        if self.i_hold == ALL:
            self.other_is_stable = True
            return
        if not self.i_hold & LOCAL:
            self._req_our_resources(out, anyway=True)
        if not self.i_hold & FOREIGN:
            self._takeover_from_node(out, peer)

    def _takeover_from_node(self, out: list, node: str) -> None:
        """C: takeover_from_node: mach_down (queued) and req_our_resources(anyway)."""
        if self.shutdown_in_progress:
            out.append(Log("info", "Resource takeover cancelled - shutdown in progress."))
            return
        out.append(Log("info", f"Resources being acquired from {node}."))
        keys = self.groups.keys_homed_at(node)

        def announce_keys(out: list) -> None:
            for key in keys:
                out.append(Log("info", f"Taking over resource group {key}"))

        def mach_down_done(job: Job, out: list) -> None:
            if self.nice:
                out.append(Log("info", "mach_down: nice_failback: foreign resources acquired"))
            out.append(Log("info", f"mach_down takeover complete for node {node}."))
            if self.nice:
                self.send(out, ("t", "resource"), ("rsc_hold", "foreign"),
                           ("info", "mach_down"))

        self.groups.job("mach_down", "start", keys, mach_down_done, queued=True,
                  before_start=announce_keys)
        if self.nice:
            self.i_hold |= FOREIGN
            self.other_holds = NONE
            self.other_is_stable = True
            self._takeover_in_progress = True
        self._req_our_resources(out, anyway=True)

    def _req_our_resources(self, out: list, *, anyway: bool) -> None:
        """C: req_our_resources + req_resource for every key of ``listkeys <us>``."""
        if self.shutdown_in_progress:
            return
        if self.nice:
            if ((self.other_holds & FOREIGN or self.i_hold & LOCAL) and not anyway
                    and not self.standby.active):
                out.append(Log("info", "Local Resource acquisition completed. (none)"))
                return
            self.i_hold |= LOCAL
        keys = self.groups.keys_of(LOCAL)
        alone = self.peer_status != "active"
        asking = not self.nice and not alone
        start_keys = () if asking else tuple(k for k in keys if self.groups.state(k) != RUNNING)

        def request(out: list) -> None:
            for key in keys:
                if self.groups.state(key) in (RUNNING, STARTING):
                    continue                      # req_resource: status says we own it
                if asking:
                    self.send(out, ("t", "ip-request"), ("ipaddr", key))
                else:
                    self.send(out, ("t", "ip-request-resp"), ("dest", self.local_node),
                               ("ipaddr", key), ("weown", "yes"), ("ok", "OK"))

        def done(job: Job, out: list) -> None:
            if not keys:
                out.append(Log("info", "No local resources [/usr/share/heartbeat/"
                                       f"ResourceManager listkeys {self.local_node}] to acquire."))
            else:
                out.append(Log("info", "Local Resource acquisition completed."))
            self._local_work_done = True
            self._announce(out, "req_our_resources")
            self.send_resources_held(out, True, "req_our_resources()")

        self.groups.job("req_our_resources", "start", start_keys, done, before_start=request)

    def _on_peer_shutdone(self, out: list) -> None:
        """C: HBDoMsg_T_SHUTDONE + process_resources(T_SHUTDONE): take over at once."""
        peer = self.peer
        self._peer_shutting_down = False
        self._forget_peer_requests()
        held_before = self.i_hold
        self.other_is_stable = True
        self.other_holds = NONE
        if self.standby.pending:
            self.standby.cancel(out)
        self._takeover_from_node(out, peer)
        if self.nice and held_before != ALL and not self.shutdown_in_progress:
            rtype = {FOREIGN: LOCAL, LOCAL: FOREIGN}.get(held_before, ALL)
            self.standby.acquire_from_stopped_peer(out, rtype)

    def _on_partition_healed(self, out: list) -> None:
        """Split brain: every group goes to its home node; the loser stops it.  Seen twice in
        one episode (our membership's PartitionHealed and the peer's stonith naming us),
        the second time only re-announces."""
        peer = self.peer
        self.peer_status = "active"
        if self._healing:
            for key in self.groups.keys_of(LOCAL):
                if self.groups.is_held(key):
                    self._reannounce_now_and_later(out, key)
            return
        self._healing = True
        out.append(Log("critical", f"Split brain with {peer} healed: resource groups go to "
                                   "their haresources node"))
        if self.standby.pending:
            self.standby.cancel(out)
        self._rsc_needs_failback = False
        self._auto_failback_at = None
        self.other_holds = ALL
        self.other_is_stable = False
        lose = []
        # a takeover of the peer's groups still queued (mach_down behind another job) would
        # start them after this: it is dropped, they stay with their home node
        self.groups.drop_queued_starts(self.groups.keys_of(FOREIGN))
        for key in self.groups.keys:
            if not self.groups.wanted_here(key):
                continue
            if self.groups.home(key) == self.local_node:
                self._reannounce_now_and_later(out, key)
            else:
                out.append(Log("warning", f"Split brain: giving resource group {key} back "
                                          f"to {self.groups.home(key)}"))
                lose.append(key)

        def released(job: Job, out: list) -> None:
            self.i_hold = self.groups.held_bits()
            if job.stuck:
                out.append(Log("critical", "Split brain: could not stop "
                                           f"{' '.join(job.stuck)}; still held here"))
            self.send_resources_held(out, True)

        self.i_hold = self.groups.held_bits()
        self.groups.job("split brain", "stop", tuple(lose), released)

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
            self.standby.on_message(out, message, from_us=False)
        elif kind == "ip-request":
            self._on_ip_request(out, _text(message, "ipaddr"))
        elif kind == "ip-request-resp":
            self._on_ip_request_resp(out, message)
        elif kind == "hb_takeover":
            which = {"local": "foreign", "foreign": "local"}.get(
                _text(message, "rsc_hold") or "all", "all")
            self.standby.request(out, which)
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
        if _text(message, "node") != self.local_node or self.shutdown_in_progress:
            return
        if not self.groups.held_bits():
            return                                # nothing here that the peer could double
        out.append(Log("warning", f"{self.peer} declared us dead while we held resources "
                                  "(frozen or cut off longer than its deadtime)"))
        self._on_partition_healed(out)

    def _on_starting(self, out: list) -> None:
        """A peer's t=starting: answer with what we hold (C: process_resources)."""
        if not self.nice:
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
        self.other_is_stable = False
        if self._takeover_in_progress:
            out.append(Log("warning", "T_STARTING received during takeover."))
        self.send_resources_held(out, self._state == R_STABLE)

    def _on_resource(self, out: list, message: Any, *, from_us: bool) -> None:
        """C: process_resources for T_RESOURCES."""
        if not self.nice:
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
            if not self.auto_failback:
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
        self.i_hold = bits if full else (NONE if bits == NONE else bits | self.i_hold)
        if self.i_hold & LOCAL:
            self._local_work_done = True
            self._announce(out, "T_RESOURCES(us)")
        if info == "mach_down":
            out.append(Log("info", "mach_down takeover complete."))
            self._takeover_in_progress = False
            self.i_hold |= FOREIGN
            self._rsc_needs_failback = True
            self.other_is_stable = True
            self._foreign_work_done = True
            self._announce(out, "mach_down")
        elif info == "shutdown" and self._state != R_SHUTDOWN:
            self._to("shutdown")

    def _on_peer_resource(self, out: list, bits: int, full: bool, stable: str | None,
                          info: str | None) -> None:
        self.other_holds = bits if full else (NONE if bits == NONE else
                                               bits | self.other_holds)
        if info == "shutdown":
            self._peer_shutting_down = True           # until its shutdone (or restart)
        if info == INFO_STANDBY_ABORTED:
            self.standby.on_peer_aborted(out, bits)
        if stable == "1":
            self._flush_reannounce(out)
            if not self.other_is_stable:
                out.append(Log("info", "remote resource transition completed."))
                self.other_is_stable = True
                self.send_resources_held(out, self._state == R_STABLE)
                self._perform_auto_failback(out)
        elif stable is not None:
            self.other_is_stable = False
        if self._state not in (R_STABLE, R_SHUTDOWN) and self.other_is_stable:
            out.append(Log("info", "remote resource transition completed."))
            self._req_our_resources(out, anyway=False)
            self._to("peer stable")
            self.send_resources_held(out, True)
            self._perform_auto_failback(out)
            self._foreign_work_done = True
            if not self.auto_failback and self.other_holds & FOREIGN:
                self._local_work_done = True
            self._announce(out, "T_RESOURCES(them)")

    def _reannounce_now_and_later(self, out: list, key: str) -> None:
        """A split brain's winner: gratuitous ARP now if the group is up, and again when the
        peer next reports (it has released the group by then)."""
        if self.groups.state(key) == RUNNING:
            out.append(ReannounceAddresses(key))
        self._reannounce_pending.add(key)

    def _flush_reannounce(self, out: list) -> None:
        self._healing = False                     # the peer is stable again: episode over
        for key in sorted(self._reannounce_pending):
            if self.groups.state(key) == RUNNING:
                out.append(ReannounceAddresses(key))
        self._reannounce_pending.clear()

    def _audit(self, out: list) -> None:
        """C: AuditResources (logs only)."""
        if self.i_hold & LOCAL and self.other_holds & FOREIGN:
            out.append(Log("error", "Both machines own our resources!"))
        if self.other_holds & LOCAL and self.i_hold & FOREIGN:
            out.append(Log("error", "Both machines own foreign resources!"))

    def _perform_auto_failback(self, out: list) -> None:
        """C: PerformAutoFailback: the survivor offers the returner its groups back."""
        self._auto_failback_at = None
        if (self.shutdown_in_progress or not self.i_hold & FOREIGN
                or not self._rsc_needs_failback or not self.auto_failback):
            self._rsc_needs_failback = False
            return
        if self.peer_status == DEAD:
            return                                # it comes back through "starting"
        if (self.standby.active or not self.other_is_stable or self._state != R_STABLE
                or self.groups.jobs):                   # ours: not while a takeover still runs
            out.append(Log("debug", "Auto failback delayed."))
            self._auto_failback_at = self.now + AUTO_FAILBACK_RETRY_MS
            return
        self._rsc_needs_failback = False
        self.standby.offer_failback(out)

    # -- local requests -----------------------------------------------------------------------

    def _on_takeover_request(self, out: list, which: str) -> None:
        which = {"failback": "local"}.get(which, which)
        if which not in ("all", "local", "foreign"):
            out.append(Log("error", f"hb_takeover: wrong resources({which})."))
            return
        if not self.nice:
            out.append(Log("info", "Standby mode only implemented when nice_failback on"))
            return
        if self.peer is None or self.peer_status == DEAD:
            out.append(Log("warning", f"hb_takeover [{which}] ignored: no other node is "
                                      "active, we hold everything already"))
            return
        self.send(out, ("t", "hb_takeover"), ("rsc_hold", which))

    def _on_shutdown_request(self, out: list) -> None:
        """C: hb_giveup_resources (through hb_shutdown_if_needed when not stable)."""
        if self.shutdown_in_progress and not self.groups.jobs and not self._shutdone_sent:
            self._giveup_all(out)                 # retry a blocked shutdown
            return
        self.shutdown_requested = True
        if not self.is_stable() and not self._shutdown_delay_logged:
            out.append(Log("warning", "Shutdown delayed until current resource activity "
                                      "finishes."))
            self._shutdown_delay_logged = True

    def _giveup_resources(self, out: list) -> None:
        self.shutdown_in_progress = True
        self.i_hold = NONE
        self._auto_failback_at = None
        self.groups.cancel_handovers()
        if self._state != R_SHUTDOWN:
            self._to("shutdown")
        self.send_resources_held(out, False, "shutdown")
        out.append(Log("info", "Heartbeat shutdown in progress."))
        self._giveup_all(out)

    def _giveup_all(self, out: list) -> None:
        """Stop every group, held or not (C: givegroup for ``listkeys '.*'``): a stale
        address left by a crash of an earlier daemon goes too."""
        out.append(Log("info", "Giving up all HA resources."))

        def done(job: Job, out: list) -> None:
            if job.stuck:
                self.i_hold = self.groups.held_bits()
                out.append(Log("critical", "Shutdown blocked: resource group(s) "
                                           f"{' '.join(job.stuck)} could not be stopped; not "
                                           "sending shutdone, so the other node does not take "
                                           "them over.  Fix them, then stop heartbeat again."))
                return
            out.append(Log("info", "All HA resources relinquished."))
            self.send(out, ("t", "shutdone"), ("st", "dead"))
            self._shutdone_sent = True
            out.append(ShutdownComplete())

        self.groups.job("giveup", "stop", self.groups.keys, done)

    # -- legacy ip-request / ip-request-resp (rc.d scripts) -----------------------------------

    def _on_ip_request(self, out: list, key: str | None) -> None:
        if key is None or key not in self.groups:
            out.append(Log("warning", f"ip-request for unknown resource group [{key}]"))
            return
        peer = self.peer
        weown = []

        def check(out: list) -> None:                 # rc.d/ip-request: status, when it runs
            weown.append(self.groups.wanted_here(key))

        def reply(job: Job, out: list) -> None:
            if job.void:
                return
            if job.stuck:
                out.append(Log("critical", f"ip-request from {peer}: resource group {key} "
                                           "could not be stopped; not answering"))
                return
            self.send(out, ("t", "ip-request-resp"), ("dest", peer), ("ipaddr", key),
                       ("weown", "yes" if weown[0] else "no"), ("ok", "OK"))

        self.groups.job("ip-request", "stop", (key,), reply, queued=True, before_start=check)

    def _on_ip_request_resp(self, out: list, message: Any) -> None:
        key = _text(message, "ipaddr")
        dest = _text(message, "dest")
        if key in self.groups and dest == self.peer and dest is not None:
            self._on_peer_takes_without_asking(out, key, message)
            return
        if dest != self.local_node or key not in self.groups:
            return
        ok, weown = _text(message, "ok"), _text(message, "weown")
        out.append(Log("info", f"received ip-request-resp {key} {ok} {weown}"))
        if ok == "OK" and not self.shutdown_in_progress:
            self.groups.job("ip-request-resp", "start", (key,), lambda job, out: None, queued=True)

    def _on_peer_takes_without_asking(self, out: list, key: str, message: Any) -> None:
        """Legacy mode: the peer answered its own request (``req_resource`` with HA_DONTASK:
        it found no other *active* node when it came up) and its rc.d/ip-request-resp now runs
        ``takegroup``.  3.0.6 sends this when it restarts just as we take its groups over
        after its death: it came up before it heard us, so it did not ask.  C ignores the
        message on the other node and both keep the group; here the group's home is the
        peer, so we give it up (cancel our queued takeover, stop what we started)."""
        if self.nice or _text(message, "ok") != "OK" or self.groups.set_of(key) != FOREIGN:
            return
        if not self.groups.wanted_here(key) and not self.groups.start_queued_for(key):
            return
        out.append(Log("warning", f"{self.peer} takes resource group {key} without asking "
                                  "(it found no active node when it came up): releasing it "
                                  "here"))
        self.groups.drop_queued_starts((key,))
        self.groups.job("yield to home node", "stop", (key,), lambda job, out: None)

    # -- timers -------------------------------------------------------------------------------

    def _tick(self, out: list) -> None:
        now = self.now
        self.standby.tick(out, now)
        self.groups.retry_due_stops(out, now)
        if (self.nice and self._state == R_RSCRCVD and self._local_takeover_at is not None
                and now >= self._local_takeover_at):
            self._to("rqstdelay")
            if self._peer_shutting_down:
                out.append(Log("info", f"{self.peer} is shutting down: waiting for its "
                                       "shutdone before taking local resources"))
            else:
                self._req_our_resources(out, anyway=False)
            out.append(Log("info", "local resource transition completed."))
            self.send_resources_held(out, True)
            self._audit(out)
        if self._auto_failback_at is not None and now >= self._auto_failback_at:
            self._perform_auto_failback(out)
        for key in self.groups.due_handovers(now):
            if self.groups.state(key) != STOPPED or self.shutdown_requested:
                continue                          # taken again meanwhile, or stopping for good
            which = SET_NAMES[self.groups.set_of(key)]
            out.append(Log("info", f"Handing the {which} resources to the other node after "
                                   f"the failed start of {key}"))
            if (not self.standby.request(out, which) and self.nice
                    and self.peer_status not in (DEAD, None)):
                # ours: C runs hb_standby once; a refusal while in flux would leave the
                # group down for good, so ask again a second later.
                self.groups.hand_over_later(key, now + AUTO_FAILBACK_RETRY_MS)
