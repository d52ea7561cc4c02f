"""Start-up, takeover and split brain of the v1 coordinator (``resources``): C's
``resourcestate``, ``process_resources``, ``req_our_resources``, ``takeover_from_node``,
``hb_rsc_recover_dead_resources`` and ``PerformAutoFailback``, and our split-brain healing;
pure like the coordinator.

Rules of this module:

* ``state`` (C: ``resourcestate``) moves only through ``STARTUP_TRANSITIONS``; anything else
  is a bug here (``LocalProtocolError``).
* Take unclaimed groups only when the other side is stable (or dead), and take only *local*
  ones when ``RQSTDELAY`` expires without anyone becoming stable (C's comment above
  ``HB_UPD_RSC``).  Every other move is a hand-over (``standby``) or the holder is dead.
* A dead peer's groups are taken by a *queued* job (``mach_down``, C's ``harc`` queue); our
  own by ``req_our_resources``.  A peer that restarts without being seen dead holds nothing:
  we take back our own groups and leave it its own (it takes them through the handshake).
* Split brain (``PartitionHealed``, or the peer's ``stonith`` naming us while we hold
  groups): every group goes to its home node, whatever ``auto_failback`` says; the winner
  re-announces its addresses now and when the peer next reports.
* A group on both nodes, or on neither, after a fault only one side saw (ours, issue 19;
  ``_repair_after_audit``): from the peer's newest full, stable report, the node that is not
  a group's home gives it back when the home node holds it, and the home node takes back a
  group that nobody holds.  Each side decides only its half, so the two never race.
* What the machine shares with the coordinator (``host``, C's globals): ``i_hold``,
  ``other_holds``, ``other_is_stable``, ``peer_status`` (read and written), and ``nice``,
  ``auto_failback``, ``peer``, ``local_node``, ``now``, ``options``, ``shutdown_in_progress``,
  ``groups``, ``standby`` (read); it sends through ``host.send`` and
  ``host.send_resources_held``, which process our own message at once, as C does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config.libc import c_scan_hex
from .events import (DEAD, LocalProtocolError, Log, NodeStatusChanged, ReannounceAddresses,
                     text_of)
from .groups import RUNNING, STARTING, Job
from .resource_terms import (ALL, AUTO_FAILBACK_RETRY_MS, FOREIGN, LOCAL, NONE, SET_NAMES)

if TYPE_CHECKING:
    from .resources import ResourceCoordinator

# resourcestate [hb_rsc_state]
R_INIT, R_STARTING, R_BOTHSTARTING, R_RSCRCVD, R_STABLE, R_SHUTDOWN = (
    "init", "starting", "both starting", "resources received", "stable", "shutdown")

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


class Takeover:
    """One node's start-up handshake, takeovers and split-brain healing."""

    def __init__(self, host: "ResourceCoordinator", *, stonith_configured: bool):
        self._host = host
        self._stonith = stonith_configured
        self.state = R_INIT
        self.in_progress = False              # C: takeover_in_progress (mach_down running)
        self._comm_up = False
        # legacy: comm came up on a packet of the peer that was not its status; whether to
        # ask it for our groups or take them waits for that status (``_comm_up_action``)
        self._legacy_request_waits = False
        self._local_takeover_at: int | None = None
        self._local_takeover_armed = False
        self._rsc_needs_failback = False
        self._auto_failback_at: int | None = None
        self._peer_shutting_down = False
        self._local_work_done = False
        self._foreign_work_done = False
        self._announced = False
        self._reannounce_pending: set[str] = set()
        self._healing = False                 # a split brain's hand-back not yet confirmed
        # the peer's last full, stable report of what it holds, received while no standby
        # exchange ran (None: none since, or it is stale); ``_repair_after_audit`` trusts it
        self._peer_claim: int | None = None
        # (hg, seq) of the newest starting or resource message of the peer processed: one
        # that arrives after a newer one (reordered, or a retransmission filling a gap) is
        # older news and must not undo what the newer said (``_is_late``)
        self._peer_news: tuple[int, int] = (0, 0)
        self._healed_upto: tuple[int, int] = (0, 0)   # its news that ended our last heal

    def to(self, trigger: str) -> None:
        new = STARTUP_TRANSITIONS.get((self.state, trigger))
        if new is None:
            raise LocalProtocolError(f"resource state {self.state!r} has no {trigger!r}")
        self.state = new

    def deadlines(self) -> list[int]:
        # C: "cmp_longclock(now, local_takeover_time) > 0": the timer fires 1 ms after
        return [t for t in (self._auto_failback_at,
                            self._local_takeover_at if self.state == R_RSCRCVD else None)
                if t is not None]

    def begin_shutdown(self) -> None:
        self._auto_failback_at = None
        if self.state != R_SHUTDOWN:
            self.to("shutdown")

    def local_work_done(self, out: list, reason: str) -> None:
        self._local_work_done = True
        self._announce(out, reason)

    def _announce(self, out: list, reason: str) -> None:
        """C: AnnounceTakeover."""
        if self._announced or not (self._local_work_done and self._foreign_work_done):
            return
        out.append(Log("info", f"Initial resource acquisition complete ({reason})"))
        self._announced = True

    def on_node_status(self, out: list, event: NodeStatusChanged) -> None:
        host = self._host
        if event.node == host.local_node:
            if event.new == "active" and not self._comm_up:
                self._comm_up_action(out)
            return
        if event.node != host.peer:
            return
        was_dead = host.peer_status == DEAD
        host.peer_status = event.new
        if self._legacy_request_waits and event.new != "init":
            self._legacy_request_waits = False
            if event.new != DEAD:               # dead: its takeover requests ours anyway
                self._req_our_resources(out, anyway=False)
        if event.new == DEAD:
            self._healing = False                 # a later return is a new episode
            self._forget_peer_claim()
        if event.new == DEAD and not was_dead:
            if event.reason == "shutdown":
                self._on_peer_shutdone(out)
            else:
                self._recover_dead_resources(out, heard=event.old != "init")
        elif was_dead and event.new != DEAD:
            # ours (issue 19): back without a restart or a healed partition we saw (we had
            # no heartbeat of it before it was dead): its reports meanwhile were not acted on
            self._repair_after_audit(out)

    def _comm_up_action(self, out: list) -> None:
        """C: comm_up_resource_action."""
        host = self._host
        self._comm_up = True
        if host.peer is None or host.peer_status == DEAD:
            self._foreign_work_done = True      # C: deadcount == 0 ... (nobody to take from)
        if not host.nice:
            if host.peer is not None and host.peer_status == "init":
                # ours: heard, but not its status yet (comm-up counts any packet).  3.0.6
                # takes its groups without asking then (no *active* node), and a survivor
                # holding them (3.0.6 ignores that grant) keeps them too: both hold the
                # group for good.  Its status is at most a keepalive away (or it goes dead).
                self._legacy_request_waits = True
                out.append(Log("info", f"Waiting for {host.peer}'s status before requesting "
                                       "our resources"))
                return
            self._req_our_resources(out, anyway=False)
            return
        host.send(out, ("t", "starting"))
        if self.state == R_INIT:
            if host.peer is None or host.peer_status == DEAD:
                self.to("comm up alone")
                self._arm_rqstdelay()
            else:
                self.to("comm up")

    def _arm_rqstdelay(self) -> None:
        host = self._host
        if not self._local_takeover_armed:            # C arms local_takeover_time once
            self._local_takeover_armed = True
            self._local_takeover_at = host.now + host.options.rqstdelay_ms

    def on_peer_restarted(self, out: list) -> None:
        """The peer's daemon restarted; unless we saw it die, its new daemon holds nothing
        and will take its own (home) groups through the start-up handshake.  We take back
        ours if it held them; we do not take its groups (that would race its start-up)."""
        host = self._host
        peer_held = host.other_holds
        self._peer_shutting_down = False
        self._healing = False
        host.other_holds = NONE
        self._forget_peer_claim()
        self._forget_peer_requests()
        if host.peer_status == DEAD or host.shutdown_in_progress or self._legacy_request_waits:
            return                      # (waiting: its status decides whether we ask or take)
        given = NONE
        if host.standby.pending:
            given = host.standby.cancel(out, Log("info", "Cancelling pending standby operation"))
        host.i_hold |= host.groups.held_bits()          # what a cancelled acquisition started
        if given:
            # the daemon that was to take them is gone: take back what our standby released
            out.append(Log("info", f"taking back the {SET_NAMES[given]} resources released "
                                   "for the cancelled standby"))
            host.i_hold |= given
            self._rsc_needs_failback = bool(given & FOREIGN) or self._rsc_needs_failback
            host.groups.job("standby cancelled", "start", host.groups.keys_of(given),
                            lambda job, out: host.send_resources_held(out, True))
        host.other_is_stable = False
        if host.nice:
            missing = peer_held & FOREIGN or not host.i_hold & LOCAL
        else:
            missing = not all(host.groups.is_held(k) for k in host.groups.keys_of(LOCAL))
        if missing:
            out.append(Log("info", f"{host.peer} restarted without being declared dead: "
                                   "taking our resources back"))
            self._req_our_resources(out, anyway=True)

    def _forget_peer_requests(self) -> None:
        """The peer's daemon is gone: its ip-requests get no answer (a new daemon of it would
        take the answer for its own; ours, C's queue would still answer)."""
        self._host.groups.forget_jobs("ip-request")

    def _recover_dead_resources(self, out: list, *, heard: bool) -> None:
        """C: hb_rsc_recover_dead_resources (a peer died without shutdone)."""
        host = self._host
        peer = host.peer
        self._forget_peer_requests()
        self._peer_shutting_down = False
        if host.standby.pending:
            host.standby.cancel(out, Log("info", "Cancelling pending standby operation"))
            if not host.other_is_stable and host.i_hold == ALL:
                host.other_is_stable = True
        if self.state in (R_STARTING, R_BOTHSTARTING):
            self.to("peer dead")
            self._arm_rqstdelay()
        if host.shutdown_in_progress:
            return                                # we are stopping everything anyway
        self._rsc_needs_failback = True
        need_stonith = True
        if heard and (host.other_holds == NONE if host.nice else False):
            need_stonith = False
        if need_stonith:
            if self._stonith:
                out.append(Log("warning", "STONITH devices in ha.cf are not supported: "
                                          f"{peer} is not reset"))
            host.send(out, ("t", "stonith"), ("node", peer), ("result", "n_stnth"))
            out.append(Log("warning", "No STONITH device configured."))
            out.append(Log("warning", "Shared disks are not protected."))
            self._takeover_from_node(out, peer)
            return
        out.append(Log("info", f"Dead node {peer} gave up resources."))
        host.send(out, ("t", "stonith"), ("node", peer), ("result", "unneeded"))
        if host.i_hold == ALL:
            host.other_is_stable = True
            return
        if not host.i_hold & LOCAL:
            self._req_our_resources(out, anyway=True)
        if not host.i_hold & FOREIGN:
            self._takeover_from_node(out, peer)

    def _takeover_from_node(self, out: list, node: str) -> None:
        """C: takeover_from_node: mach_down (queued) and req_our_resources(anyway)."""
        host = self._host
        if host.shutdown_in_progress:
            out.append(Log("info", "Resource takeover cancelled - shutdown in progress."))
            return
        out.append(Log("info", f"Resources being acquired from {node}."))
        keys = host.groups.keys_homed_at(node)

        def announce_keys(out: list) -> None:
            for key in keys:
                out.append(Log("info", f"Taking over resource group {key}"))

        def mach_down_done(job: Job, out: list) -> None:
            if host.nice:
                out.append(Log("info", "mach_down: nice_failback: foreign resources acquired"))
            out.append(Log("info", f"mach_down takeover complete for node {node}."))
            if host.nice:
                host.send(out, ("t", "resource"), ("rsc_hold", "foreign"),
                          ("info", "mach_down"))

        host.groups.job("mach_down", "start", keys, mach_down_done, queued=True,
                        before_start=announce_keys)
        if host.nice:
            host.i_hold |= FOREIGN
            host.other_holds = NONE
            host.other_is_stable = True
            self.in_progress = True
        self._req_our_resources(out, anyway=True)

    def _req_our_resources(self, out: list, *, anyway: bool) -> None:
        """C: req_our_resources + req_resource for every key of ``listkeys <us>``."""
        host = self._host
        if host.shutdown_in_progress:
            return
        if host.nice:
            if ((host.other_holds & FOREIGN or host.i_hold & LOCAL) and not anyway
                    and not host.standby.active):
                out.append(Log("info", "Local Resource acquisition completed. (none)"))
                return
            host.i_hold |= LOCAL
        keys = host.groups.keys_of(LOCAL)
        alone = host.peer_status != "active"
        asking = not host.nice and not alone
        start_keys = () if asking else tuple(k for k in keys if host.groups.state(k) != RUNNING)

        def request(out: list) -> None:
            for key in keys:
                if host.groups.state(key) in (RUNNING, STARTING):
                    continue                      # req_resource: status says we own it
                if asking:
                    host.send(out, ("t", "ip-request"), ("ipaddr", key))
                else:
                    host.send(out, ("t", "ip-request-resp"), ("dest", host.local_node),
                              ("ipaddr", key), ("weown", "yes"), ("ok", "OK"))

        def done(job: Job, out: list) -> None:
            if not keys:
                out.append(Log("info", "No local resources [/usr/share/heartbeat/"
                                       f"ResourceManager listkeys {host.local_node}] to acquire."))
            else:
                out.append(Log("info", "Local Resource acquisition completed."))
            self._local_work_done = True
            self._announce(out, "req_our_resources")
            host.send_resources_held(out, True, "req_our_resources()")

        host.groups.job("req_our_resources", "start", start_keys, done, before_start=request)

    def _on_peer_shutdone(self, out: list) -> None:
        """C: HBDoMsg_T_SHUTDONE + process_resources(T_SHUTDONE): take over at once."""
        host = self._host
        peer = host.peer
        self._peer_shutting_down = False
        self._forget_peer_requests()
        held_before = host.i_hold
        host.other_is_stable = True
        host.other_holds = NONE
        if host.standby.pending:
            host.standby.cancel(out)
        self._takeover_from_node(out, peer)
        if host.nice and held_before != ALL and not host.shutdown_in_progress:
            rtype = {FOREIGN: LOCAL, LOCAL: FOREIGN}.get(held_before, ALL)
            host.standby.acquire_from_stopped_peer(out, rtype)

    def on_partition_healed(self, out: list) -> None:
        """Split brain: every group goes to its home node; the loser stops it.  Seen twice in
        one episode (our membership's PartitionHealed and the peer's stonith naming us),
        the second time only re-announces."""
        host = self._host
        peer = host.peer
        host.peer_status = "active"
        if self._healing:
            for key in host.groups.keys_of(LOCAL):
                if host.groups.is_held(key):
                    self._reannounce_now_and_later(out, key)
            return
        self._healing = True
        out.append(Log("critical", f"Split brain with {peer} healed: resource groups go to "
                                   "their haresources node"))
        if host.standby.pending:
            host.standby.cancel(out)
        self._rsc_needs_failback = False
        self._auto_failback_at = None
        host.other_holds = ALL
        host.other_is_stable = False
        lose = []
        # a takeover of the peer's groups still queued (mach_down behind another job) would
        # start them after this: it is dropped, they stay with their home node
        host.groups.drop_queued_starts(host.groups.keys_of(FOREIGN))
        for key in host.groups.keys:
            if not host.groups.wanted_here(key):
                continue
            if host.groups.home(key) == host.local_node:
                self._reannounce_now_and_later(out, key)
            else:
                out.append(Log("warning", f"Split brain: giving resource group {key} back "
                                          f"to {host.groups.home(key)}"))
                lose.append(key)

        def released(job: Job, out: list) -> None:
            host.i_hold = host.groups.held_bits()
            if job.stuck:
                out.append(Log("critical", "Split brain: could not stop "
                                           f"{' '.join(job.stuck)}; still held here"))
            host.send_resources_held(out, True)

        host.i_hold = host.groups.held_bits()
        host.groups.job("split brain", "stop", tuple(lose), released)

    def on_declared_dead_by_peer(self, out: list, message: Any) -> None:
        """The peer's ``t=stonith node=<us>``: it declared us dead (we were frozen, or cut off,
        for longer than its deadtime) and is taking our groups over while we still hold them.
        Our membership reports ``PartitionHealed`` only if it too saw the peer dead, which a
        node waking from SIGSTOP usually does not (it reads the peer's queued heartbeats before
        its own timers run); without this the home node kept the VIP without a gratuitous ARP
        and clients stayed on the peer's MAC after the peer let it go (soak, freeze of the
        holder).  So it is the same split brain, seen from this side: handle it as one."""
        host = self._host
        if text_of(message, "node") != host.local_node or host.shutdown_in_progress:
            return
        news = self._news_of(message)
        if news is not None and news < self._healed_upto:
            # ours: sent before the peer's report that ended the split brain we healed (a
            # retransmission): healing again for it waited for a report the peer, stable
            # already, never sends
            out.append(Log("debug", f"stonith message of a healed split brain (seq "
                                    f"{text_of(message, 'seq')}): ignored"))
            return
        if not host.groups.held_bits():
            return                                # nothing here that the peer could double
        out.append(Log("warning", f"{host.peer} declared us dead while we held resources "
                                  "(frozen or cut off longer than its deadtime)"))
        self.on_partition_healed(out)

    def on_starting(self, out: list, message: Any = None) -> None:
        """A peer's t=starting: answer with what we hold (C: process_resources)."""
        host = self._host
        if not host.nice:
            return
        late = self._is_late(message)
        self._peer_shutting_down = False
        self._flush_reannounce(out)
        if self.state == R_STARTING:
            self.to("peer starting")
            self._foreign_work_done = True
            self._announce(out, "HB_R_BOTHSTARTING")
        elif self.state not in (R_RSCRCVD, R_STABLE, R_SHUTDOWN):
            out.append(Log("error", f"Received 'starting' message in state {self.state}"))
            return
        if not late:            # (a later report of the peer already said how stable it is)
            host.other_is_stable = False
        if self.in_progress:
            out.append(Log("warning", "T_STARTING received during takeover."))
        host.send_resources_held(out, self.state == R_STABLE)

    def on_resource(self, out: list, message: Any, *, from_us: bool) -> None:
        """C: process_resources for T_RESOURCES."""
        host = self._host
        if not host.nice:
            return
        if not from_us and self._is_late(message):
            out.append(Log("debug", "resource message older than one already processed "
                                    f"(seq {text_of(message, 'seq')}): ignored"))
            return
        rsc = text_of(message, "rsc_hold")
        if rsc is None:
            out.append(Log("error", "resource message without rsc_hold field."))
            return
        if rsc in SET_NAMES:
            bits = SET_NAMES.index(rsc)
        else:
            out.append(Log("error", f"encode_resources: bad resource type [{rsc}]"))
            bits = NONE
        full = text_of(message, "rtype") == "full"
        info = text_of(message, "info")
        if self.state in (R_STARTING, R_BOTHSTARTING):
            self.to("resource")
            if not host.auto_failback:
                self._foreign_work_done = True
                self._announce(out, "T_RESOURCES")
        elif self.state == R_INIT and not from_us:
            out.append(Log("error", f"resource message received in state {self.state}"))
            return
        if from_us:
            self._on_own_resource(out, bits, full, info)
        else:
            self._on_peer_resource(out, bits, full, text_of(message, "isstable"), info)
            self._note_peer_claim(bits, full, text_of(message, "isstable"), message)
        if self.state == R_RSCRCVD:
            self._arm_rqstdelay()
        self._audit(out)

    def _on_own_resource(self, out: list, bits: int, full: bool, info: str | None) -> None:
        host = self._host
        host.i_hold = bits if full else (NONE if bits == NONE else bits | host.i_hold)
        if host.i_hold & LOCAL:
            self._local_work_done = True
            self._announce(out, "T_RESOURCES(us)")
        if info == "mach_down":
            out.append(Log("info", "mach_down takeover complete."))
            self.in_progress = False
            host.i_hold |= FOREIGN
            self._rsc_needs_failback = True
            host.other_is_stable = True
            self._foreign_work_done = True
            self._announce(out, "mach_down")
        elif info == "shutdown" and self.state != R_SHUTDOWN:
            self.to("shutdown")

    def _on_peer_resource(self, out: list, bits: int, full: bool, stable: str | None,
                          info: str | None) -> None:
        host = self._host
        host.other_holds = bits if full else (NONE if bits == NONE else
                                              bits | host.other_holds)
        if info == "shutdown":
            self._peer_shutting_down = True           # until its shutdone (or restart)
        host.standby.on_peer_resource(out, bits, info)
        if stable == "1":
            self._flush_reannounce(out)
            if not host.other_is_stable:
                out.append(Log("info", "remote resource transition completed."))
                host.other_is_stable = True
                host.send_resources_held(out, self.state == R_STABLE)
            # C offers a failback only on the transition to stable.  Ours (issue 19): on any
            # stable report (it does nothing unless one is owed): a peer marked dead by a
            # late heartbeat and back at once counted as stable from its death on (a dead
            # node holds nothing), so its stable report was no transition and its groups
            # stayed away from home for good
            self._perform_auto_failback(out)
        elif stable is not None:
            host.other_is_stable = False
        if self.state not in (R_STABLE, R_SHUTDOWN) and host.other_is_stable:
            out.append(Log("info", "remote resource transition completed."))
            self._req_our_resources(out, anyway=False)
            self.to("peer stable")
            host.send_resources_held(out, True)
            self._perform_auto_failback(out)
            self._foreign_work_done = True
            if not host.auto_failback and host.other_holds & FOREIGN:
                self._local_work_done = True
            self._announce(out, "T_RESOURCES(them)")

    def _note_peer_claim(self, bits: int, full: bool, stable: str | None,
                         message: Any) -> None:
        """Keep the peer's report for ``_repair_after_audit``: a full, stable one not sent
        during a standby exchange on our side (the peer's reports lag behind the hand-over
        then).  It is news: ``on_resource`` let it through ``_is_late`` (a lost report's
        retransmission that comes after later ones, and tells what the peer held before a
        hand-over, never gets here).  A report without a readable seq is not kept."""
        if self._news_of(message) is None:
            return
        self._peer_claim = (bits if full and stable == "1" and not self._host.standby.pending
                            else None)

    def _is_late(self, message: Any) -> bool:
        """Ours (issue 19): the peer's ``starting`` or ``resource`` message is older than one
        of them already processed.  C processes a packet that fills a gap when it arrives: a
        start-up's ``isstable=0`` report overtaken by its ``isstable=1`` left the peer "in
        flux" for good (no auto-failback, a shutdown delayed for ever).  A message without
        a readable hg and seq (a test's) is never late."""
        news = self._news_of(message)
        if news is None:
            return False
        if news < self._peer_news:
            return True
        self._peer_news = news
        return False

    @staticmethod
    def _news_of(message: Any) -> tuple[int, int] | None:
        """A peer message's (hg, seq): the order it was sent in, read as membership read them
        when it let the message through (C's ``%lx``)."""
        if message is None:
            return None
        generation = c_scan_hex(text_of(message, "hg") or "0")
        seq = c_scan_hex(text_of(message, "seq") or "")
        return None if generation is None or seq is None else (generation, seq)

    def _forget_peer_claim(self) -> None:
        """The peer's daemon died or restarted: its reports are over."""
        self._peer_claim = None

    def _reannounce_now_and_later(self, out: list, key: str) -> None:
        """A split brain's winner: gratuitous ARP now if the group is up, and again when the
        peer next reports (it has released the group by then)."""
        if self._host.groups.state(key) == RUNNING:
            out.append(ReannounceAddresses(key))
        self._reannounce_pending.add(key)

    def _flush_reannounce(self, out: list) -> None:
        if self._healing:                         # the peer is stable again: episode over
            self._healed_upto = self._peer_news
        self._healing = False
        for key in sorted(self._reannounce_pending):
            if self._host.groups.state(key) == RUNNING:
                out.append(ReannounceAddresses(key))
        self._reannounce_pending.clear()

    def _audit(self, out: list) -> None:
        """C: AuditResources, which only logs; ours then repairs what it found
        (``_repair_after_audit``)."""
        host = self._host
        if host.i_hold & LOCAL and host.other_holds & FOREIGN:
            out.append(Log("error", "Both machines own our resources!"))
        if host.other_holds & LOCAL and host.i_hold & FOREIGN:
            out.append(Log("error", "Both machines own foreign resources!"))
        self._repair_after_audit(out)

    def _repair_after_audit(self, out: list) -> None:
        """Ours (issue 19): a group on both nodes, or on neither, once the fault is over.

        A freeze or cut of about deadtime can be seen by one side only: the side that waited
        longest (its timers ran before it read the queued heartbeats, or its last heartbeat
        from the peer was older) declares the peer dead and takes its groups, while the peer
        saw nothing (C: a late heartbeat marks the node dead inside HBDoMsg_T_STATUS, after
        should_drop_message, so "returning after partition" is never logged; and a node
        whose generation is not known yet counts as restarted).  3.0.6 only logs "Both
        machines own foreign resources!" then, and the group stays on both for good.

        So each side repairs only its half, from the peer's own reports, which makes the
        two decisions disjoint: the node that is not a group's home gives it back when its
        home node reports holding it (a split brain, healed as one: everything goes home);
        the home node takes its groups when everything is stable and the peer reports not
        holding them (orphaned, e.g. released by a split brain's heal that the home node's
        restart hid)."""
        host = self._host
        if host.standby.pending:
            self._peer_claim = None               # what it held before may be handed over
            return
        if (not host.nice or host.shutdown_requested or self.state != R_STABLE
                or self._healing or self.in_progress or host.peer_status == DEAD
                or host.groups.jobs):
            return                                # (a job's end sends a report: we come back)
        claim = self._peer_claim
        if claim is None:
            return
        held = host.i_hold | host.groups.held_bits()
        if claim & LOCAL and held & FOREIGN:
            out.append(Log("warning", f"{host.peer} holds its own resource groups while we "
                                      "hold them too: giving them back"))
            self.on_partition_healed(out)
            # unlike a healed partition, the peer is not moving: its report is fresh, full
            # and stable, and it may have nothing more to say (it found us stable already):
            # waiting for its next report kept us "in flux", a shutdown delayed for ever
            host.other_holds, host.other_is_stable, self._healing = claim, True, False
            return
        if (not held & LOCAL and not claim & FOREIGN and host.other_is_stable
                and not self._peer_shutting_down and host.groups.keys_of(LOCAL)):
            out.append(Log("warning", f"No one owns our local resources!: taking them "
                                      f"({host.peer} reports not holding them)"))
            self._req_our_resources(out, anyway=True)

    def _perform_auto_failback(self, out: list) -> None:
        """C: PerformAutoFailback: the survivor offers the returner its groups back."""
        host = self._host
        self._auto_failback_at = None
        if (host.shutdown_in_progress or not host.i_hold & FOREIGN
                or not self._rsc_needs_failback or not host.auto_failback):
            self._rsc_needs_failback = False
            return
        if host.peer_status == DEAD:
            return                                # it comes back through "starting"
        if host.other_holds & LOCAL:
            # ours (issue 19): the peer reports holding its own groups, which we hold too (a
            # takeover only one side saw): not a failback, whose offer would hold up the
            # audit's repair (``_repair_after_audit``) until it timed out
            return
        if (host.standby.active or not host.other_is_stable or self.state != R_STABLE
                or host.groups.jobs):             # ours: not while a takeover still runs
            out.append(Log("debug", "Auto failback delayed."))
            self._auto_failback_at = host.now + AUTO_FAILBACK_RETRY_MS
            return
        self._rsc_needs_failback = False
        host.standby.offer_failback(out)

    # -- timers -------------------------------------------------------------------------------

    def tick(self, out: list, now: int) -> None:
        host = self._host
        if (host.nice and self.state == R_RSCRCVD and self._local_takeover_at is not None
                and now >= self._local_takeover_at):
            self.to("rqstdelay")
            if self._peer_shutting_down:
                out.append(Log("info", f"{host.peer} is shutting down: waiting for its "
                                       "shutdone before taking local resources"))
            else:
                self._req_our_resources(out, anyway=False)
            out.append(Log("info", "local resource transition completed."))
            host.send_resources_held(out, True)
            self._audit(out)
        if self._auto_failback_at is not None and now >= self._auto_failback_at:
            self._perform_auto_failback(out)
