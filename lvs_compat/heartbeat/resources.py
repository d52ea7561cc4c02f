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
or the holder is dead.  ``STARTUP_TRANSITIONS`` (``takeover``), ``STANDBY_TRANSITIONS``
(``standby``), ``GROUP_TRANSITIONS`` and the ``Job`` kinds (``groups``) are all the ways the
state moves; anything else is a bug (``LocalProtocolError``).

Work that C forks (``req_our_resources``, ``go_standby``, the shutdown give-up) is a ``Job``
(``groups``): a set of groups to start or stop plus what to send when they are done.  Work C
queues through ``harc`` (``mach_down``, ``ip-request``, ``ip-request-resp``) is a *queued* job
that starts only when no other job runs, as ``StartNextRemoteRscReq`` does; that is also why
the messages come out in the order of the lab captures.

How it is built: this module is the facade (the one entry point, C's shared globals, sending,
the shutdown, the legacy ``ip-request`` exchange and the ``rscstatus`` bookkeeping) over three
machines, each with its rules and transition table at the top of its module: ``groups`` (the
executor's side: group states, jobs, the only stop-retry policy), ``takeover`` (start-up
handshake, takeovers, split brain, auto-failback) and ``standby`` (the 3-phase hand-over, with
its one cancel path).  The machines are handed this coordinator and share C's globals through
it (``i_hold``, ``other_holds``, ``other_is_stable``, ``peer_status``); everything any of them
sends goes through ``send``, which processes our own message at once, as C does, so the
actions come out in the same order as before the split.

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
from ..config.hacf import HaConfig
from ..config.libc import ascii_lower
from .events import (DEAD, CoordinatorAction, CoordinatorEvent, GroupStarted, GroupStopped,
                     LocalProtocolError, Log, MessageReceived, NodeRestarted, NodeStatusChanged,
                     PartitionHealed, PingNodeStatus, QueryGroupStatus, ReannounceAddresses,
                     RebootNode, ResourceStateChanged, Send, ShutdownComplete, ShutdownRequest,
                     StandbyRequest, StartGroup, StatusResult, StopGroup, TakeoverRequest, Tick,
                     text_of)
from .groups import (CLEANING, GROUP_TRANSITIONS, NOT_HELD, RUNNING, STARTING, STOP_FAILED,
                     STOPPED, STOPPING, Groups, Job)
from .resource_terms import (ALL, AUTO_FAILBACK_RETRY_MS, FAILED_START_HANDOVER_MS, FOREIGN,
                             LOCAL, NONE, RQSTDELAY_MS, SET_NAMES, STANDBY_INIT_TIMEOUT_MS,
                             STANDBY_RESOURCE_TIMEOUT_MS, STOP_RETRY_INTERVAL_MS,
                             STOP_RETRY_MAX, TRANSITION, CoordinatorOptions)
from .standby import (DONE, INFO_STANDBY_ABORTED, ME, NOT, OTHER, STANDBY_TRANSITIONS,
                      Standby)
from .takeover import (R_BOTHSTARTING, R_INIT, R_RSCRCVD, R_SHUTDOWN, R_STABLE, R_STARTING,
                       STARTUP_TRANSITIONS, Takeover)

# What callers have always imported from here: the coordinator, its options, the events and
# actions it speaks, and the states and constants of its machines (each defined in its module).
__all__ = [
    "ResourceCoordinator", "CoordinatorOptions", "LocalProtocolError",
    "GroupStarted", "GroupStopped", "MessageReceived", "NodeRestarted", "NodeStatusChanged",
    "PartitionHealed", "PingNodeStatus", "QueryGroupStatus", "ReannounceAddresses",
    "RebootNode", "ResourceStateChanged", "Send", "ShutdownComplete", "ShutdownRequest",
    "StandbyRequest", "StartGroup", "StatusResult", "StopGroup", "TakeoverRequest", "Tick",
    "NONE", "LOCAL", "FOREIGN", "ALL", "SET_NAMES", "TRANSITION", "RQSTDELAY_MS",
    "STANDBY_INIT_TIMEOUT_MS", "STANDBY_RESOURCE_TIMEOUT_MS", "AUTO_FAILBACK_RETRY_MS",
    "FAILED_START_HANDOVER_MS", "STOP_RETRY_INTERVAL_MS", "STOP_RETRY_MAX",
    "INFO_STANDBY_ABORTED", "NOT", "ME", "OTHER", "DONE", "STANDBY_TRANSITIONS",
    "R_INIT", "R_STARTING", "R_BOTHSTARTING", "R_RSCRCVD", "R_STABLE", "R_SHUTDOWN",
    "STARTUP_TRANSITIONS", "STOPPED", "STARTING", "RUNNING", "STOPPING", "STOP_FAILED",
    "CLEANING", "NOT_HELD", "GROUP_TRANSITIONS",
]

Event = CoordinatorEvent
Action = CoordinatorAction
_text = text_of


class ResourceCoordinator:
    """Which haresources groups this node holds, and the v1 messages about them."""

    def __init__(self, config: HaConfig, resources: HaResources, local_node: str,
                 options: CoordinatorOptions | None = None):
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
        # C's globals, shared by the machines
        self.i_hold = NONE
        self.other_holds = NONE
        self.other_is_stable = False
        self.peer_status = "init" if self.peer else DEAD
        self.shutdown_requested = False
        self.shutdown_in_progress = False
        # the machines
        self.takeover = Takeover(self, stonith_configured=bool(config.stonith))
        self.standby = Standby(self)
        self._shutdown_delay_logged = False
        self._shutdone_sent = False
        self._last_status = self.resource_status
        self.ping_node_status: dict[str, str] = {}

    # -- queries ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self.takeover.state

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
        if self.shutdown_in_progress and self.state == R_INIT:
            return True
        return (self.other_is_stable and not self.takeover.in_progress
                and not self.standby.pending
                and self.state in (R_STABLE, R_SHUTDOWN, R_INIT))

    @property
    def resource_status(self) -> str:
        """What ``cl_status rscstatus`` prints (C: hb_rsc_resource_state)."""
        return SET_NAMES[self.i_hold] if self.is_stable() else TRANSITION

    @property
    def shutdown_complete(self) -> bool:
        return self._shutdone_sent

    def next_deadline_ms(self) -> int | None:
        times = [self.standby.deadline] if self.standby.deadline is not None else []
        times += self.takeover.deadlines() + self.groups.deadlines()
        return min(times) if times else None

    # -- the one entry point ------------------------------------------------------------------

    def handle(self, event: Event, now_ms: int) -> list[Action]:
        self.now = now_ms
        out: list[Action] = []
        if isinstance(event, Tick):
            self._tick(out)
        elif isinstance(event, MessageReceived):
            if event.node != self.local_node and event.node == self.peer:
                self._on_message(out, event.message_type, event.message)
        elif isinstance(event, NodeStatusChanged):
            self.takeover.on_node_status(out, event)
        elif isinstance(event, NodeRestarted):
            if event.node == self.peer:
                self.takeover.on_peer_restarted(out)
        elif isinstance(event, PartitionHealed):
            if event.node == self.peer:
                self.takeover.on_partition_healed(out)
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

    # the machines' tables, as the tests of the tables reach them
    def _to(self, trigger: str) -> None:
        self.takeover.to(trigger)

    def _standby_to(self, trigger: str) -> None:
        self.standby.to(trigger)

    # -- jobs, shutdown and rscstatus ---------------------------------------------------------

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
            self.takeover.on_resource(out, message, from_us=True)
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

    # -- membership events --------------------------------------------------------------------

    def _on_ping_node(self, out: list, event: PingNodeStatus) -> None:
        old = self.ping_node_status.get(event.node)
        self.ping_node_status[event.node] = event.status
        if old != event.status:
            out.append(Log("info", f"Ping node {event.node} status: {event.status} "
                                   "(no resource action in v1 without ipfail)"))

    # -- received messages --------------------------------------------------------------------

    def _on_message(self, out: list, kind: str, message: Any) -> None:
        if kind == "starting":
            self.takeover.on_starting(out, message)
        elif kind == "resource":
            self.takeover.on_resource(out, message, from_us=False)
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
            self.takeover.on_declared_dead_by_peer(out, message)

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
        self.groups.cancel_handovers()
        self.takeover.begin_shutdown()
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
        self.takeover.tick(out, now)
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
