"""The 3-phase standby protocol of the v1 coordinator (``resources``): C's ``going_standby``,
``ask_for_resources`` and ``go_standby``; pure like the coordinator.

Rules of this module:

* The node giving a set up is ME, the one taking it OTHER; both end in DONE until the last
  ``done`` arrives.  A received (or our own) ``ask_resources info=X`` is the trigger
  ``"X from us"``/``"X from peer"``; ``state`` moves only through ``STANDBY_TRANSITIONS``
  (anything else is a bug here: ``LocalProtocolError``).  A message the table does not list
  for the current state is logged as ignored (C: "Ignored standby message").
* Each state first does its own bookkeeping on any message (``_ON_MESSAGE_IN``, one handler
  per state, as keepalived's VRRP_FSM), then the transition's action runs
  (``_MESSAGE_ACTIONS``) after the state has moved.
* ``cancel`` is the only way a standby ends unfinished (peer dead, restarted or shut down,
  split brain, an abort on either side, no reply in time): state NOT, no deadline, and the
  set our ME was releasing is handed back to the caller, who decides whether to take it back.
* What the machine shares with the coordinator (``host``, C's globals): ``i_hold``,
  ``other_is_stable`` (read and written), and ``nice``, ``auto_failback``, ``state`` (the
  start-up state), ``peer``, ``peer_status``, ``local_node``, ``now``, ``options``,
  ``shutdown_requested``, ``groups`` (read); it sends through ``host.send`` and
  ``host.send_resources_held``, which process our own message at once, as C does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .events import DEAD, LocalProtocolError, Log, text_of
from .groups import Job
from .resource_terms import ALL, FOREIGN, NONE, SET_NAMES, mirror
from .takeover import R_SHUTDOWN, R_STABLE

if TYPE_CHECKING:
    from .resources import ResourceCoordinator

# going_standby [enum standby]
NOT, ME, OTHER, DONE = "not", "me", "other", "done"
STANDBY_NUMBER = {NOT: 0, ME: 1, OTHER: 2, DONE: 3}   # C logs the state as a number

INFO_STANDBY_ABORTED = "standby_aborted"   # ours: a standby we could not finish (failed stop)

STANDBY_TRANSITIONS: dict[tuple[str, str], str] = {
    (NOT, "me from us"): ME,          # hb_standby / auto-failback: we want to give up a set
    (NOT, "me from peer"): OTHER,     # we answer "other" and wait for their "done"
    (ME, "other from peer"): ME,      # we stop the set, then send "done"
    (ME, "done from us"): DONE,       # our set is stopped
    (OTHER, "other from us"): OTHER,  # our own answer, back from the wire: nothing to do
    (OTHER, "done from peer"): DONE,  # we start the set, then send "done"
    (DONE, "done from us"): NOT,
    (DONE, "done from peer"): NOT,
    (DONE, "peer shut down"): DONE,   # shutdone: acquire the complement at once
    (NOT, "peer shut down"): DONE,
    **{(state, "cancel"): NOT for state in (NOT, ME, OTHER, DONE)},
}


class Standby:
    """One node's side of the standby exchange."""

    def __init__(self, host: "ResourceCoordinator"):
        self._host = host
        self.state = NOT
        self.deadline: int | None = None     # C: standby_running (the exchange's time-out)
        self.rsctype = ALL                   # C: standby_rsctype
        self.giving_up = NONE                # the set our standby (ME) is releasing

    # -- queries ------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.state != NOT

    @property
    def pending(self) -> bool:
        """In an exchange, or its time-out still runs."""
        return self.state != NOT or self.deadline is not None

    def _seconds_left(self, now: int) -> int | None:
        if self.deadline is not None and now < self.deadline:
            return (self.deadline - now + 999) // 1000
        return None

    # -- transitions --------------------------------------------------------------------------

    def to(self, trigger: str) -> None:
        new = STANDBY_TRANSITIONS.get((self.state, trigger))
        if new is None:
            raise LocalProtocolError(f"standby state {self.state!r} has no {trigger!r}")
        self.state = new

    def cancel(self, out: list, why: Log | None = None) -> int:
        """End the exchange unfinished (the one cancel path).  Returns the set our ME was
        releasing (NONE if none); the caller takes it back or lets it go."""
        if why is not None:
            out.append(why)
        self.to("cancel")
        self.deadline = None
        given, self.giving_up = self.giving_up, NONE
        return given

    # -- requests -----------------------------------------------------------------------------

    def send(self, out: list, info: str, rsctype: int | None = None) -> None:
        rsc = SET_NAMES[self.rsctype if rsctype is None else rsctype]
        self._host.send(out, ("t", "ask_resources"), ("rsc_hold", rsc), ("info", info))

    def request(self, out: list, which: str) -> bool:
        """hb_standby (local, or a peer's hb_takeover): ask to give ``which`` up.  True if
        the request went out."""
        which = {"failback": "foreign"}.get(which, which)
        if which not in ("all", "local", "foreign"):
            out.append(Log("error", f"hb_standby: wrong resources({which})."))
            return False
        rtype = SET_NAMES.index(which)
        out.append(Log("info", f"Going standby [{which}]."))
        refusal = self._refusal()
        if refusal:
            out.append(Log("info" if not self._host.nice else "warning", refusal))
            return False
        self.send(out, ME, rtype)
        return True

    def _refusal(self) -> str | None:
        host = self._host
        me = host.local_node
        if not host.nice:
            return "Standby mode only implemented when nice_failback on"
        if host.shutdown_requested or host.state == R_SHUTDOWN:
            return "standby message ignored during shutdown"
        left = self._seconds_left(host.now)
        if left is not None:
            return f"Standby in progress- new request from {me} ignored [{left} seconds left]"
        if self.state != NOT:
            return (f"Ignored standby message 'me' from {me} in state "
                    f"{STANDBY_NUMBER[self.state]}")
        if host.peer is None or host.peer_status == DEAD:
            return f"standby message [me] from {me} ignored.  No other node is active."
        if not host.other_is_stable:
            return f"standby message [me] from {me} ignored.  Other side is in flux."
        if host.state != R_STABLE or host.groups.jobs:
            return f"standby message [me] from {me} ignored.  local resources in flux."
        return None

    def offer_failback(self, out: list) -> None:
        """C: PerformAutoFailback: offer the returned peer its (our foreign) groups."""
        self.rsctype = FOREIGN
        self.send(out, ME)

    def acquire_from_stopped_peer(self, out: list, rtype: int) -> None:
        """The peer sent shutdone: take the complement of what we hold at once."""
        self.to("peer shut down")
        self._go(out, OTHER, rtype)

    def on_peer_resource(self, out: list, bits: int, info: str | None) -> None:
        """A peer's ``info=standby_aborted``: it could not stop the set, it keeps it."""
        if info == INFO_STANDBY_ABORTED and self.state in (OTHER, DONE):
            self.cancel(out, Log("warning", f"{self._host.peer} aborted its standby: it "
                                            f"still holds {SET_NAMES[bits]} resources"))

    def tick(self, out: list, now: int) -> None:
        if self.deadline is not None and now >= self.deadline:
            self._host.other_is_stable = True
            self.cancel(out, Log("warning", "No reply to standby request.  Standby request "
                                            "cancelled."))

    # -- messages (C: ask_for_resources) ------------------------------------------------------

    def on_message(self, out: list, message: Any, *, from_us: bool) -> None:
        host = self._host
        if not host.nice:
            out.append(Log("info", "Standby mode only implemented when nice_failback on"))
            return
        if host.state == R_SHUTDOWN:
            return
        info = text_of(message, "info")
        sender = host.local_node if from_us else host.peer
        rsc = text_of(message, "rsc_hold")
        rtype = ALL if rsc is None else SET_NAMES.index(rsc) if rsc in SET_NAMES else NONE
        if info is None:
            out.append(Log("error", "Received standby message without info/from"))
            return
        left = self._seconds_left(host.now)
        if left is not None and info == "me":
            out.append(Log("warning", f"Standby in progress- new request from {sender} "
                                      f"ignored [{left} seconds left]"))
            return
        original = self.state
        if not _ON_MESSAGE_IN[original](self, out, info, rtype, sender, from_us):
            return
        trigger = f"{info} from {'us' if from_us else 'peer'}"
        if (original, trigger) not in STANDBY_TRANSITIONS:
            out.append(Log("error", f"Ignored standby message '{info}' from {sender} in "
                                    f"state {STANDBY_NUMBER[original]}"))
            return
        self.to(trigger)
        action = _MESSAGE_ACTIONS.get((original, trigger))
        if action is not None:
            action(self, out, rtype, sender)

    # one handler per state: its bookkeeping on any message; False: refused (and logged)

    def _in_not(self, out: list, info: str, rtype: int, sender: str, from_us: bool) -> bool:
        host = self._host
        if not host.other_is_stable:
            out.append(Log("warning", f"standby message [{info}] from {sender} ignored.  "
                                      "Other side is in flux."))
            return False
        if host.state != R_STABLE or (host.groups.jobs and not from_us):
            # ours: also while groups are still being started or stopped here
            out.append(Log("warning", f"standby message [{info}] from {sender} ignored.  "
                                      "local resources in flux."))
            return False
        self.rsctype = rtype
        return True

    def _in_me(self, out: list, info: str, rtype: int, sender: str, from_us: bool) -> bool:
        if not from_us:
            self.rsctype = rtype
            self.deadline = self._host.now + self._host.options.standby_resource_timeout_ms
        return True

    def _in_other(self, out: list, info: str, rtype: int, sender: str, from_us: bool) -> bool:
        self.rsctype = rtype
        if info == "done":
            self.deadline = self._host.now + self._host.options.standby_resource_timeout_ms
        return True

    def _in_done(self, out: list, info: str, rtype: int, sender: str, from_us: bool) -> bool:
        self.rsctype = rtype
        return True

    # the transitions' actions (the state has moved already)

    def _wants_standby(self, out: list, rtype: int, sender: str) -> None:
        self._host.other_is_stable = False
        out.append(Log("info", f"{sender} wants to go standby [{SET_NAMES[rtype]}]"))

    def _we_want_standby(self, out: list, rtype: int, sender: str) -> None:
        self._wants_standby(out, rtype, sender)
        self.deadline = self._host.now + self._host.options.standby_init_timeout_ms

    def _peer_wants_standby(self, out: list, rtype: int, sender: str) -> None:
        self._wants_standby(out, rtype, sender)
        self.send(out, OTHER)
        self.deadline = self._host.now + self._host.options.standby_resource_timeout_ms

    def _peer_can_take(self, out: list, rtype: int, sender: str) -> None:
        out.append(Log("info", f"standby: {sender} can take our {SET_NAMES[rtype]} "
                               "resources"))
        self._go(out, ME, rtype)

    def _we_released(self, out: list, rtype: int, sender: str) -> None:
        out.append(Log("info", f"Local standby process completed [{SET_NAMES[rtype]}]."))
        self._host.i_hold &= ~self.rsctype
        self.deadline = self._host.now + self._host.options.standby_resource_timeout_ms

    def _peer_released(self, out: list, rtype: int, sender: str) -> None:
        out.append(Log("info", f"standby: acquire [{SET_NAMES[rtype]}] resources from "
                               f"{sender}"))
        self._go(out, OTHER, rtype)

    def _we_acquired(self, out: list, rtype: int, sender: str) -> None:
        host = self._host
        self.deadline, self.giving_up = None, NONE
        out.append(Log("info", f"Standby resource acquisition done [{SET_NAMES[rtype]}]."))
        if host.auto_failback:
            host.takeover.local_work_done(out, "auto_failback")
        host.i_hold |= mirror(rtype)
        host.send_resources_held(out, True)

    def _peer_acquired(self, out: list, rtype: int, sender: str) -> None:
        self.deadline, self.giving_up = None, NONE
        out.append(Log("info", "Other node completed standby takeover of "
                               f"{SET_NAMES[rtype]} resources."))
        self._host.send_resources_held(out, True)

    # -- the work (C: go_standby, forked) ------------------------------------------------------

    def _go(self, out: list, who: str, resourceset: int) -> None:
        """ME gives ``resourceset`` up, OTHER acquires the mirror of it."""
        host = self._host
        rsctype_now = self.rsctype          # the child's copy of standby_rsctype
        if who == ME:
            self.giving_up = resourceset
            host.other_is_stable = False
            host.i_hold &= ~resourceset
            host.send_resources_held(out, False, "standby")
            act = resourceset
        else:
            act = mirror(resourceset)
        verb = "give up" if who == ME else "acquire"
        out.append(Log("info", f"{verb} {SET_NAMES[act]} HA resources (standby)."))

        def done(job: Job, out: list) -> None:
            if job.stuck:
                self._abort(out, job.stuck)
                return
            what = "release" if who == ME else "acquisition"
            out.append(Log("info", f"{SET_NAMES[act]} HA resource {what} completed "
                                   "(standby)."))
            self.send(out, DONE, rsctype_now)

        host.groups.job("go_standby", "stop" if who == ME else "start",
                        host.groups.keys_of(act), done)

    def _abort(self, out: list, stuck: list[str]) -> None:
        """Ours: a group of the set could not be stopped; it stays here, and so does the
        rest of the set (started again), and the peer is told."""
        host = self._host
        out.append(Log("critical", f"Standby aborted: resource group(s) {' '.join(stuck)} "
                                   "could not be stopped and stay held here; the other node "
                                   "is not told to take them"))
        for key in stuck:
            host.i_hold |= host.groups.set_of(key)
        given = self.cancel(out)
        host.i_hold |= given
        host.send_resources_held(out, True, INFO_STANDBY_ABORTED)
        # nobody takes the rest of the set now: start again what was stopped for it
        host.groups.job("standby aborted", "start",
                        tuple(k for k in host.groups.keys_of(given)
                              if not host.groups.is_held(k)),
                        lambda job, out: None)


_ON_MESSAGE_IN: dict[str, Callable[..., bool]] = {
    NOT: Standby._in_not, ME: Standby._in_me, OTHER: Standby._in_other, DONE: Standby._in_done}
_MESSAGE_ACTIONS: dict[tuple[str, str], Callable[..., None]] = {
    (NOT, "me from us"): Standby._we_want_standby,
    (NOT, "me from peer"): Standby._peer_wants_standby,
    (ME, "other from peer"): Standby._peer_can_take,
    (ME, "done from us"): Standby._we_released,
    (OTHER, "done from peer"): Standby._peer_released,
    (DONE, "done from us"): Standby._we_acquired,
    (DONE, "done from peer"): Standby._peer_acquired,
}
