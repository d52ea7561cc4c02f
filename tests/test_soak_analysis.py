"""The chaos soak's fault plan and its judge (soak/plan.py, soak/analysis.py): pure, no lab."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from soak.analysis import InjectedFault, analyse, format_report
from soak.plan import KINDS, fault_plan

MACS = {"dira": "02:00:00:00:00:0a", "dirb": "02:00:00:00:00:0b"}


@dataclass(frozen=True)
class Sample:
    t: float
    holders: frozenset


@dataclass(frozen=True)
class Probe:
    t: float
    answered_by: str | None


@dataclass(frozen=True)
class Arp:
    t: float
    mac: str
    gratuitous: bool = True
    op: int = 1


def timeline(*spans):
    """Samples every 0.1 s: spans of (seconds, holders...)."""
    samples, t = [], 0.0
    for seconds, *holders in spans:
        for _ in range(round(seconds * 10)):
            samples.append(Sample(round(t, 1), frozenset(holders)))
            t += 0.1
    return samples


def answered(samples):
    return [Probe(s.t, MACS[next(iter(s.holders))] if len(s.holders) == 1 else None)
            for s in samples]


def test_a_calm_run_meets_the_goal_with_one_holder_all_the_time():
    samples = timeline((30, "dira"))
    report = analyse(samples, answered(samples), [], [], MACS, allowance_s=5)
    assert report.seconds_by_holders[1] == pytest.approx(30)
    assert report.longest_not_one is None and report.goal_met
    assert "goal met" in format_report(report)


def test_a_takeover_inside_the_allowance_is_allowed_and_the_arp_is_credited():
    # dira killed at 10 s and restarted at 12 s: dirb takes over at 13 s (both hold: the
    # crashed daemon's address is still there), dira's restart drops its leftover at 15 s
    samples = timeline((10, "dira"), (3, "dira"), (2, "dira", "dirb"), (15, "dirb"))
    faults = [InjectedFault("kill", "dira", 10.0, 12.0)]
    arps = [Arp(13.05, MACS["dirb"])]
    report = analyse(samples, answered(samples), arps, faults, MACS, allowance_s=5)
    assert report.seconds_by_holders[2] == pytest.approx(2)
    (dual,) = report.dual_windows
    assert dual.winner == "dirb" and dual.arp_resent
    assert report.longest_not_one.duration == pytest.approx(2)
    assert report.longest_not_one.fault.startswith("kill dira")
    assert report.goal_met


def test_two_holders_after_the_allowance_are_a_violation():
    samples = timeline((10, "dira"), (20, "dira", "dirb"), (5, "dirb"))
    faults = [InjectedFault("freeze", "dira", 10.0, 15.0)]   # allowed until 20 s
    report = analyse(samples, answered(samples), [Arp(31, MACS["dirb"])], faults, MACS,
                     allowance_s=5)
    (violation,) = report.outside_not_one
    assert violation.holders == 2
    assert violation.start == pytest.approx(20.1, abs=0.05)
    assert violation.end == pytest.approx(30, abs=0.05)
    assert not report.goal_met
    assert "VIOLATION: two holders at 20.1 s" in format_report(report)


def test_a_winner_that_never_re_announces_fails_the_goal():
    samples = timeline((5, "dira"), (2, "dira", "dirb"), (10, "dira"))
    faults = [InjectedFault("link-all", "dira", 4.0, 6.0)]
    arps = [Arp(5.5, MACS["dirb"]), Arp(20, MACS["dira"])]   # only the loser, and dira too late
    report = analyse(samples, answered(samples), arps, faults, MACS, allowance_s=5)
    (dual,) = report.dual_windows
    assert dual.winner == "dira" and not dual.arp_resent
    assert not report.goal_met
    assert "ARP re-sent NO" in format_report(report)


def test_unanswered_probes_count_only_outside_the_allowed_windows():
    samples = timeline((20, "dira"))
    probes = [Probe(s.t, None if 5 <= s.t < 7 or 15 <= s.t < 15.25 else MACS["dira"])
              for s in samples]
    faults = [InjectedFault("link-one", "dira", 5.0, 6.0)]
    report = analyse(samples, probes, [], faults, MACS, allowance_s=1)
    assert report.unanswered_outside == pytest.approx((15.0, 15.1, 15.2))
    assert report.answered_total == len(probes) - 23
    assert not report.goal_met


def test_no_holder_windows_are_timed_and_the_longest_is_reported():
    samples = timeline((5, "dira"), (0.5,), (5, "dirb"), (1.5,), (5, "dira"))
    faults = [InjectedFault("kill", "dira", 4.9, 5.0), InjectedFault("reload", "dirb", 10.4, 10.5)]
    report = analyse(samples, answered(samples), [], faults, MACS, allowance_s=3)
    assert report.seconds_by_holders[0] == pytest.approx(2.0)
    assert report.longest_not_one.duration == pytest.approx(1.5)
    assert report.longest_not_one.holders == 0
    assert report.goal_met


def test_a_run_with_no_time_outside_the_windows_does_not_claim_the_goal():
    samples = timeline((5, "dira"))
    report = analyse(samples, answered(samples), [], [InjectedFault("netem", "", 0, 5)], MACS,
                     allowance_s=5)
    assert report.outside_s == 0 and not report.goal_met


def test_the_plan_is_seeded_and_starts_with_every_kind_once():
    def first(seed, count):
        return list(itertools.islice(fault_plan(seed, ("dira", "dirb"), "dirb", ("hb0", "hb1"),
                                                deadtime_s=3), count))
    assert first(7, 20) == first(7, 20)
    assert first(7, 20) != first(8, 20)
    assert sorted(f.kind for f in first(7, len(KINDS))) == sorted(KINDS)


def test_the_plan_runs_in_rounds_of_every_kind_once_and_marks_each_round_s_end():
    plan = list(itertools.islice(fault_plan(5, ("dira", "dirb"), "dirb", ("hb0", "hb1"),
                                            deadtime_s=3), 4 * len(KINDS)))
    for number in range(1, 5):
        round_ = [f for f in plan if f.round == number]
        assert sorted(f.kind for f in round_) == sorted(KINDS)
        assert [f.last_of_round for f in round_] == [False] * (len(KINDS) - 1) + [True]
    assert len({tuple(f.kind for f in plan if f.round == n) for n in range(1, 5)}) > 1


def figures(anon_kib):
    return {"dirb": {"anon_kib": anon_kib, "rss_kib": anon_kib + 10000}}


def test_a_leak_is_judged_from_the_first_round_s_end_and_only_after_a_second_round():
    from soak.run import leak_growth
    # one-time growth in the first round (18 -> 21 MB) is not a leak; 21 -> 21.4 MB is +1.9 %
    record = {"daemons_before": figures(18000), "daemons_after_first_round": figures(21000),
              "daemons_after": figures(21400), "rounds_completed": 2}
    assert abs(leak_growth(record, "dirb") - 400 / 21000) < 1e-9
    assert leak_growth({**record, "daemons_after": figures(24000)}, "dirb") > 0.10
    assert leak_growth({**record, "rounds_completed": 1}, "dirb") is None
    assert leak_growth({**record, "daemons_after_first_round": None}, "dirb") is None


def test_the_plan_never_kills_the_survivor_and_outlasts_deadtime_where_it_must():
    plan = list(itertools.islice(fault_plan(3, ("dira", "dirb"), "dira", ("hb0", "hb1"),
                                            deadtime_s=3), 300))
    assert {f.node for f in plan if f.kind == "kill"} == {"dirb"}
    assert {f.node for f in plan if f.kind in ("freeze", "link-all", "reload")} == {"dira", "dirb"}
    assert all(f.duration_s > 3 for f in plan if f.kind in ("freeze", "link-all"))
    assert {f.medium for f in plan if f.kind == "link-one"} == {"hb0", "hb1"}
    assert all(f.quiet_s > 3 + 1 for f in plan)


def test_the_plan_refuses_unknown_kinds_and_survivors():
    with pytest.raises(ValueError, match="unknown fault kinds: explode"):
        next(fault_plan(1, ("dira", "dirb"), "dira", ("hb0",), 3, kinds=("explode",)))
    with pytest.raises(ValueError, match="survivor"):
        next(fault_plan(1, ("dira", "dirb"), "dirc", ("hb0",), 3))
