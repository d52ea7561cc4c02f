"""Failover stories on the simulator (tests/heartbeat_sim.py): two real ``Node``s, the real codec,
a fake bus and a fake clock, in milliseconds (issue 14, item 3).

Timers: keepalive 500 ms, deadtime 4 s, initdead 8 s; a group's start or stop takes 100 ms.
After every step the simulator checks that no group runs on both machines once the bus has
been whole for deadtime + a keepalive + two operations + 1 s; a story asserts that no violation
was seen, besides its own outcome.  The namespace tests (test_heartbeat_takeover_netns.py) keep
one run per story for the wiring, the interop tests the compatibility with 3.0.6.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heartbeat_sim import HOME, NODES, OP_MS, VIP, VIP2, Sim
from lvs_compat.heartbeat.membership import STARTUP_BONUS_PERIOD_MS
from lvs_compat.heartbeat.resources import RQSTDELAY_MS

pytestmark = pytest.mark.simulator

DEADTIME_MS, KEEPALIVE_MS, INITDEAD_MS = 4000, 500, 8000
BONUS_PERIOD_MS = STARTUP_BONUS_PERIOD_MS


def booted(mode: str = "on", **kwargs) -> Sim:
    sim = Sim(mode, **kwargs)
    for name in NODES:
        sim.start(name)
    took = sim.run_until(at_home(sim), RQSTDELAY_MS + 5000)
    assert took is not None, (sim.holders(VIP), sim.holders(VIP2))
    # past the start-up bonus on dt (deadtime + 2 s for a node's first 5 s), so that a crash
    # is seen within deadtime (legacy takes its groups at comm-up, well before RQSTDELAY)
    sim.run_for(max(0, BONUS_PERIOD_MS + KEEPALIVE_MS - sim.now))
    return sim


def at_home(sim: Sim):
    return lambda: all(sim.holders(key) == [home] for key, home in HOME.items())


def settled(sim: Sim, within_ms: int = 3 * DEADTIME_MS) -> None:
    took = sim.run_until(at_home(sim), within_ms)
    assert took is not None, (sim.now, sim.holders(VIP), sim.holders(VIP2))
    sim.run_for(2 * DEADTIME_MS)
    assert at_home(sim)()
    assert sim.violations == []


def test_both_come_up_with_their_own_group_after_initdead():
    sim = Sim()
    for name in NODES:
        sim.start(name)
    took = sim.run_until(at_home(sim), RQSTDELAY_MS + 5000)
    # comm-up when both are heard; neither side is stable yet, so each takes its local group
    # when RQSTDELAY runs out (as C), plus the start
    assert took is not None and RQSTDELAY_MS <= took <= RQSTDELAY_MS + KEEPALIVE_MS + OP_MS
    assert sim.status("lvs1", "lvs2") == "active" and sim.status("lvs2", "lvs1") == "active"
    assert sim.both == []


def test_a_crash_moves_the_group_within_deadtime_and_failback_brings_it_home():
    sim = booted()
    sim.crash("lvs1")
    took = sim.run_until(lambda: sim.holders(VIP) == ["lvs2"], DEADTIME_MS + 2000)
    assert took is not None and took <= DEADTIME_MS + OP_MS + 50
    sim.start("lvs1")
    settled(sim)
    assert sim.both == []                        # a failback stops first, then starts


def test_auto_failback_off_leaves_the_group_where_it_is():
    sim = booted("off")
    sim.crash("lvs1")
    assert sim.run_until(lambda: sim.holders(VIP) == ["lvs2"], DEADTIME_MS + 2000) is not None
    sim.start("lvs1")
    sim.run_for(INITDEAD_MS + 3 * DEADTIME_MS)
    assert sim.holders(VIP) == ["lvs2"] and sim.holders(VIP2) == ["lvs2"]
    assert sim.both == [] and sim.violations == []


def test_legacy_auto_failback_gives_each_node_its_group_when_both_start():
    sim = booted("legacy")
    sim.run_for(3 * DEADTIME_MS)
    assert at_home(sim)() and sim.violations == []


def test_a_graceful_stop_hands_over_at_once_and_the_restart_takes_it_back():
    sim = booted()
    sim.shutdown("lvs1")
    took = sim.run_until(lambda: sim.holders(VIP) == ["lvs2"], DEADTIME_MS)
    assert took is not None and took < DEADTIME_MS / 2      # shutdone, not deadtime
    assert sim.run_until(lambda: sim.machines["lvs1"].node is None, 5000) is not None
    sim.start("lvs1")
    settled(sim)
    assert sim.both == []


def test_standby_gives_everything_to_the_peer_and_never_both():
    sim = booted()
    sim.standby("lvs1")
    took = sim.run_until(lambda: sim.holders(VIP) == ["lvs2"] and sim.holders(VIP2) == ["lvs2"],
                         DEADTIME_MS)
    assert took is not None
    sim.run_for(2 * DEADTIME_MS)
    assert sim.holders(VIP) == ["lvs2"] and sim.both == [] and sim.violations == []


@pytest.mark.parametrize("kind", ["freeze", "partition"])
def test_a_split_brain_longer_than_deadtime_ends_with_one_holder_that_re_announces(kind):
    sim = booted()
    if kind == "freeze":
        sim.freeze("lvs1", 3 * DEADTIME_MS)
    else:
        sim.partition()
    # the peer takes over meanwhile: two holders while the bus is not whole are allowed
    assert sim.run_until(lambda: sim.holders(VIP) == ["lvs1", "lvs2"], 2 * DEADTIME_MS) is not None
    if kind == "freeze":
        sim.run_until(lambda: sim.machines["lvs1"].frozen_until is None, 3 * DEADTIME_MS)
    else:
        sim.run_for(2 * DEADTIME_MS)
        sim.heal()
    healed = sim.now
    took = sim.run_until(lambda: len(sim.holders(VIP)) == 1 and len(sim.holders(VIP2)) == 1,
                         sim.settle_ms)
    assert took is not None, (sim.holders(VIP), sim.holders(VIP2))
    winner = sim.holders(VIP)[0]
    assert any(t >= healed and key == VIP for t, key in sim.machines[winner].reannounced)
    settled(sim)


@pytest.mark.parametrize("after_ms", range(0, DEADTIME_MS + 2000, 250))
def test_a_restart_at_any_instant_of_the_takeover_ends_at_home(after_ms):
    sim = booted()
    sim.crash("lvs1")
    sim.run_for(after_ms)
    sim.start("lvs1")
    settled(sim, INITDEAD_MS + 3 * DEADTIME_MS)


@pytest.mark.parametrize("mode", ["on", "legacy"])
@pytest.mark.parametrize("after_ms", range(0, DEADTIME_MS + 2000, 500))
def test_a_restart_of_the_backup_during_failback_ends_at_home(mode, after_ms):
    sim = booted(mode)
    sim.crash("lvs1")
    assert sim.run_until(lambda: sim.holders(VIP) == ["lvs2"], DEADTIME_MS + 2000) is not None
    sim.start("lvs1")
    sim.run_for(after_ms)
    sim.crash("lvs2")
    sim.run_for(1000)
    sim.start("lvs2")
    settled(sim, INITDEAD_MS + 3 * DEADTIME_MS)


def test_one_percent_loss_moves_nothing():
    sim = booted(loss=0.01, seed=7)
    sim.run_for(120_000)
    assert at_home(sim)() and sim.both == []


# --- any sequence of faults --------------------------------------------------------------------

def heard_peer(sim: Sim, name: str) -> None:
    """A restarted node hears its live peer and runs past its start-up bonus on dt (5 s)
    before the next fault (the property test draws whether it waits: a fault in that window
    is the case of ``test_a_fault_right_after_a_restart_before_the_peer_is_heard``)."""
    started = sim.now
    peer = next(other for other in NODES if other != name)
    if sim.machines[peer].node is not None:
        sim.run_until(lambda: sim.status(name, peer) == "active", INITDEAD_MS)
    sim.run_for(max(0, started + BONUS_PERIOD_MS + KEEPALIVE_MS - sim.now))


def after_a_restart(fault: str) -> Sim:
    """The two cases the property test below found (seed 0): lvs1 crashes, restarts after
    100 ms, and 100 ms later is frozen, or cut off, for about deadtime."""
    sim = booted()
    sim.crash("lvs1")
    sim.run_for(100)
    sim.start("lvs1")
    sim.run_for(100)
    if fault == "freeze":
        sim.freeze("lvs1", 3901)
        sim.run_for(3901)
    else:
        sim.partition()
        sim.run_for(4001)
        sim.heal()
    return sim


def one_holder_each(sim: Sim) -> bool:
    return all(len(sim.holders(key)) == 1 for key in HOME)


def test_a_takeover_still_queued_when_the_split_brain_heals_is_dropped():
    # Found by the property test: lvs1 on standby (lvs2 holds everything), then frozen past
    # deadtime.  Waking, it declares lvs2 dead and queues the takeover of lvs2's group behind
    # its own; the split brain heals before that starts, and the queued takeover used to start
    # it anyway: on both for good ("Both machines own foreign resources!").
    sim = booted(seed=99)
    sim.standby("lvs1")
    sim.run_for(8700)
    sim.freeze("lvs1", 4582)
    sim.run_for(4582 + 4 * DEADTIME_MS)
    assert one_holder_each(sim) and sim.violations == [], (sim.holders(VIP), sim.holders(VIP2))


@pytest.mark.parametrize("fault", ["freeze", "partition"])
def test_a_fault_right_after_a_restart_before_the_peer_is_heard(fault):
    sim = after_a_restart(fault)
    sim.run_for(4 * DEADTIME_MS)
    assert one_holder_each(sim) and sim.violations == [], (sim.holders(VIP), sim.holders(VIP2))


@pytest.mark.parametrize("steps", [
    [("freeze", "lvs1", 3890), ("crash", "lvs1", 100)],
    [("crash", "lvs1", 100), ("freeze", "lvs1", 3693)],
])
def test_a_freeze_of_about_deadtime_found_by_random_sequences(steps):
    # issue 19: the frozen node's last heartbeat from the peer is older than deadtime when it
    # wakes, so it alone declares the peer dead ("Late heartbeat ... (> deadtime)") and takes
    # its group; the peer saw no split brain.  The taker gives it back once the home node
    # reports holding it, or the home node takes back a group nobody reports holding.
    test_any_faults_keep_one_holder_on_a_whole_bus_and_end_at_home.hypothesis.inner_test(
        steps=steps, seed=0, loss=0.0, wait_after_restart=True)


@pytest.mark.parametrize("steps,seed,loss", [
    # issue 19, found by random sequences (fail before the fix: a group on both, or on none)
    ([("partition", "lvs1", 570), ("partition", "lvs2", 2783), ("standby", "lvs1", 11681),
      ("standby", "lvs2", 3120), ("freeze", "lvs1", 1980), ("standby", "lvs1", 9712),
      ("standby", "lvs1", 11921), ("partition", "lvs2", 3316)], 7247, 0.0),
    ([("crash", "lvs2", 7624), ("crash", "lvs1", 3841), ("standby", "lvs2", 10505),
      ("partition", "lvs1", 3219)], 20366, 0.0),
    ([("quiet", "lvs2", 1665), ("quiet", "lvs2", 5185), ("partition", "lvs1", 3431),
      ("quiet", "lvs2", 3280)], 5821, 0.0),
    # ... and two that broke a first version of the repair: a lost report retransmitted
    # after a standby hand-over (stale news: taken for the peer's present), and a repair
    # that re-ran a split brain's hand-back while a shutdown waited for it
    ([("standby", "lvs2", 2806), ("quiet", "lvs2", 9841), ("crash", "lvs1", 10030),
      ("standby", "lvs2", 2988), ("freeze", "lvs2", 7091)], 28523, 0.02),
    ([("freeze", "lvs1", 9898), ("shutdown", "lvs1", 7070), ("shutdown", "lvs2", 9020),
      ("freeze", "lvs2", 11991), ("crash", "lvs2", 6773)], 26393, 0.0),
])
def test_fault_sequences_found_by_random_search(steps, seed, loss):
    test_any_faults_keep_one_holder_on_a_whole_bus_and_end_at_home.hypothesis.inner_test(
        steps=steps, seed=seed, loss=loss, wait_after_restart=True)


def test_both_shut_down_one_after_the_other_and_back_at_once_end_at_home():
    """Found in a make test run: lvs2 restarts just before the end, lvs1 holds both groups (one
    holder each) and lvs2 asks for its own after its initdead and RQSTDELAY, 9 s later: the
    property test's end waits for that, not for two deadtimes."""
    test_any_faults_keep_one_holder_on_a_whole_bus_and_end_at_home.hypothesis.inner_test(
        steps=[("shutdown", "lvs1", 100), ("shutdown", "lvs2", 100)], seed=1, loss=0.0,
        wait_after_restart=False)


@pytest.mark.parametrize("steps, seed, loss", [
    ([("crash", "lvs2", 100), ("crash", "lvs1", 100), ("crash", "lvs1", 100),
      ("shutdown", "lvs1", 100), ("crash", "lvs2", 100)], 1641, 0.0),
    ([("crash", "lvs1", 100), ("crash", "lvs1", 100), ("shutdown", "lvs1", 100),
      ("crash", "lvs2", 100)], 105, 0.0),
    ([("crash", "lvs1", 100), ("crash", "lvs1", 100), ("shutdown", "lvs1", 100),
      ("crash", "lvs1", 100)], 1641, 0.0),
    ([("crash", "lvs1", 100), ("crash", "lvs1", 100), ("crash", "lvs1", 100),
      ("partition", "lvs1", 3786)], 0, 0.05),
    ([("crash", "lvs1", 4616), ("partition", "lvs1", 3884), ("shutdown", "lvs2", 100),
      ("crash", "lvs1", 100)], 0, 0.02),
    ([("freeze", "lvs2", 3891), ("partition", "lvs1", 582), ("shutdown", "lvs1", 100),
      ("crash", "lvs2", 100)], 0, 0.0),
    ([("crash", "lvs1", 100), ("crash", "lvs1", 100), ("crash", "lvs1", 246),
      ("crash", "lvs1", 100), ("partition", "lvs1", 4400)], 0, 0.02),
    ([("freeze", "lvs1", 290), ("shutdown", "lvs1", 4999), ("partition", "lvs1", 5000),
      ("shutdown", "lvs1", 100), ("partition", "lvs1", 3400)], 0, 0.0),
    # * a stonith of the peer's new takeover after our heal of its death (it broke a first
    #   fix of the eighth case, which healed once per death of the peer);
    ([("freeze", "lvs1", 100), ("crash", "lvs1", 290), ("crash", "lvs1", 100),
      ("freeze", "lvs1", 100), ("partition", "lvs1", 5306)], 28, 0.02),
    # * an auto-failback offered when a peer marked dead is active again (a first fix of the
    #   next case) raced the peer's own offer and held up the repair for 10 s: two holders
    ([("crash", "lvs2", 100), ("freeze", "lvs2", 3909), ("partition", "lvs1", 1000),
      ("shutdown", "lvs1", 100)], 0, 0.0),
    # * a peer marked dead by a late heartbeat just as it came back from a restart, then
    #   active again: it counted as stable from its death on (C: a dead node is stable), so
    #   its stable report was no transition and its group, taken when it shut down, was never
    #   offered back (C does the same); now any stable report offers a pending failback
    ([("partition", "lvs1", 100), ("crash", "lvs1", 289), ("shutdown", "lvs2", 100),
      ("partition", "lvs1", 5400)], 1854, 0.05),
    # the test's own end: a shutdown asked while both nodes start waits (as C) longer than
    # the step, and the node that exited just after the end began was never started again
    ([("crash", "lvs1", 100), ("freeze", "lvs2", 4800), ("shutdown", "lvs1", 10622),
      ("crash", "lvs1", 278), ("crash", "lvs2", 100), ("shutdown", "lvs1", 100)], 1, 0.05),
])
def test_restarts_in_quick_succession_without_the_peer_heard(steps, seed, loss):
    # issue 19, found when the property test also drew no wait after a restart; a group with
    # no holder, or away from home, 34 s after the last fault, before the fix:
    # * lvs1 restarts between two heartbeats of lvs2 and hears only its other messages; lvs2
    #   (auto-failback) gives lvs1 its group back by a standby and crashes mid-way: its next
    #   daemon's first heartbeat was not seen as a restart (C counts a restart only from a
    #   heartbeat of an older generation), so lvs1 waited for the gone daemon's "done" (C: an
    #   hour) and answered the new one holding nothing: nobody took lvs1's group;
    # * the peer's start-up reports "isstable=0" then "isstable=1", sent together, arrive the
    #   other way round (a gap filled late): the older one left the peer "in flux" for good,
    #   so auto-failback was delayed for ever, or a shutdown never began;
    # * (found by random runs at 5 % loss) lvs1, restarted just before a cut of about
    #   deadtime, and lvs2 each saw the other dead and took its group; lvs2 gave lvs1's back
    #   (the stonith naming it), but lvs1 offered lvs2 its group as an auto-failback, which
    #   lvs2 refused ("in flux": the offer overtook lvs1's lost stable report) and the offer
    #   held up the audit's repair, which then had no fresh report: lvs2's group on both;
    # * (random runs) a node that gave a group back by the audit's repair, or for the peer's
    #   stonith retransmitted after the peer's newer reports, then waited for the peer's next
    #   stable report, which a peer already stable never sends: "in flux" for good, so its
    #   shutdown never began and the group stayed away from home (the eighth case, our
    #   membership's PartitionHealed seconds after the peer's stonith had been healed,
    #   failed the same way; it passes since the later fixes, which one was not pinned);
    # * (random runs) a peer back from the dead without a restart or a healed partition we
    #   saw (we had no heartbeat of it before): the reports it sent meanwhile were not acted
    #   on, its group stayed on both.
    test_any_faults_keep_one_holder_on_a_whole_bus_and_end_at_home.hypothesis.inner_test(
        steps=steps, seed=seed, loss=loss, wait_after_restart=False)


FAULTS = st.sampled_from(["crash", "freeze", "partition", "shutdown", "standby", "quiet"])
STEP = st.tuples(FAULTS, st.sampled_from(NODES), st.integers(100, 3 * DEADTIME_MS))


# derandomized: the same 150 sequences every run (CI time: about 17 s of CPU).  It draws
# faults right after a restart again (wait_after_restart): issue 19's last open point.
# Random runs of it (derandomize=False, losses 0, 2 % and 5 %, with and without the wait)
# found the cases of test_restarts_in_quick_succession_without_the_peer_heard one fix after
# the other: 17 runs of 1,000 or 1,500 sequences (at most 24,000; a run stops at its first
# failure; 8 ran to the end without one).  Left open: one failure (5 % loss, eight faults) that a
# run reported but that does not fail when run again alone.  (The last strict xfail, seed 1854,
# passes since a pending failback is offered on any stable report; 1,000 random sequences of
# 0/2/5 % loss, with and without the wait, passed after that change.)
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(steps=st.lists(STEP, min_size=1, max_size=8), seed=st.integers(0, 2**16),
       loss=st.sampled_from([0.0, 0.0, 0.02]), wait_after_restart=st.booleans())
def test_any_faults_keep_one_holder_on_a_whole_bus_and_end_at_home(steps, seed, loss,
                                                                   wait_after_restart):
    sim = booted(seed=seed, loss=loss)
    for fault, name, ms in steps:
        machine = sim.machines[name]
        if fault == "crash" and machine.node is not None:
            sim.crash(name)
            sim.run_for(ms)
            sim.start(name)
            if wait_after_restart:
                heard_peer(sim, name)
        elif fault == "freeze" and machine.node is not None:
            sim.freeze(name, ms)
        elif fault == "partition":
            sim.partition()
            sim.run_for(ms)
            sim.heal()
        elif fault == "shutdown" and machine.node is not None and not machine.stopping:
            sim.shutdown(name)
            sim.run_until(lambda: machine.node is None, 3 * DEADTIME_MS)
            if machine.node is None:
                sim.start(name)
                if wait_after_restart:
                    heard_peer(sim, name)
        elif fault == "standby" and machine.node is not None and not machine.stopping:
            sim.standby(name)
        sim.run_for(ms)
        assert sim.violations == [], sim.violations
    # a shutdown asked during a start-up waits until it is stable (C: "Shutdown delayed"),
    # up to initdead and RQSTDELAY, longer than the step waited: let it end, then start it
    sim.run_until(lambda: not any(m.stopping and m.node is not None
                                  for m in sim.machines.values()),
                  INITDEAD_MS + RQSTDELAY_MS + DEADTIME_MS)
    for name in NODES:                  # heal everything, then auto_failback brings all home
        machine = sim.machines[name]
        if machine.node is None:
            sim.start(name)
    sim.heal()
    sim.run_until(lambda: all(m.frozen_until is None for m in sim.machines.values()),
                  3 * DEADTIME_MS)
    # one holder per group (home, unless a standby handed it over: it stays with the peer)
    one = lambda: all(len(sim.holders(key)) == 1 for key in HOME)   # noqa: E731
    assert sim.run_until(one, INITDEAD_MS + RQSTDELAY_MS + 4 * DEADTIME_MS) is not None, (
        sim.now, sim.holders(VIP), sim.holders(VIP2))
    if not any(fault == "standby" for fault, _, _ in steps):
        # a node restarted just now (no wait after its restart) asks for its group back after
        # its initdead and RQSTDELAY: one holder each may come first, with the peer holding both
        assert sim.run_until(at_home(sim), INITDEAD_MS + RQSTDELAY_MS + 4 * DEADTIME_MS) \
            is not None, (sim.now, sim.holders(VIP), sim.holders(VIP2))
    sim.run_for(2 * DEADTIME_MS)
    assert one() and sim.violations == []
    if not any(fault == "standby" for fault, _, _ in steps):
        assert at_home(sim)()
