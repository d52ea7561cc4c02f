"""Judging a chaos soak from what was sampled: pure, no clock, no namespace.

Inputs (``soak/probe.py`` records them every 100 ms; ``soak/run.py`` records the faults):

* holder samples: ``t`` and the set of directors that have the VIP configured;
* probes: ``t`` an ICMP echo was sent from the client to the VIP, and the MAC that answered
  (``None``: no answer within the probe's timeout);
* ARP frames the client received that announce the VIP (``gratuitous``), with the sender MAC;
* injected faults: kind, director, ``start`` (injected) and ``end`` (healed).

The goal (issue 8, item 1): outside the *allowed windows*, exactly one holder in every sample
and every probe answered.  A fault's allowed window runs from its injection to
``allowance_s`` (deadtime + 1 s) after it was healed: while a director is frozen or cut off,
both holding the VIP is heartbeat's design (no quorum, no STONITH), and the allowance is the
time a healthy cluster needs to notice and settle.

Each sample stands for the time up to the next one, so durations are sums of sample gaps.  A
window with two holders is a maximal run of such samples; its *winner* is the single holder
that follows it, and the window counts as *re-announced* when the client received a
gratuitous ARP from the winner's MAC between the start of the window and ``arp_grace_s``
after its end: whatever the loser announced before, the client was told where the VIP went.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

ARP_GRACE_S = 3.0


@dataclass(frozen=True)
class InjectedFault:
    kind: str
    node: str
    start: float
    end: float


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    holders: int            # 0 or 2 for the windows reported here (the most seen in it)
    fault: str = ""         # "kind node @start" of the fault whose allowance covers its start

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class DualWindow:
    window: Window
    winner: str | None      # None: the soak ended before one holder was left
    arp_resent: bool


@dataclass(frozen=True)
class SoakReport:
    sampled_s: float
    seconds_by_holders: dict[int, float]       # 0, 1, 2 -> seconds
    longest_not_one: Window | None
    dual_windows: tuple[DualWindow, ...]
    outside_s: float                           # sampled time outside every allowed window
    outside_not_one: tuple[Window, ...]        # violations: not exactly one holder, outside
    probes_outside: int
    unanswered_outside: tuple[float, ...]      # probe times, outside, with no answer
    probes_total: int
    answered_total: int
    faults_by_kind: dict[str, int]
    allowance_s: float
    origin: float = 0.0                        # the time reported as 0 s
    notes: tuple[str, ...] = field(default=())

    @property
    def goal_met(self) -> bool:
        return (not self.outside_not_one and not self.unanswered_outside
                and self.outside_s > 0 and all(d.arp_resent for d in self.dual_windows))


def _allowed(faults: list[InjectedFault], allowance_s: float,
             origin: float) -> list[tuple[float, float, str]]:
    return [(f.start, f.end + allowance_s,
             f"{f.kind} {f.node or 'both'} @{f.start - origin:.1f}s") for f in faults]


def _cover(t: float, allowed) -> str | None:
    for start, end, label in allowed:
        if start <= t <= end:
            return label
    return None


def _runs(samples, keep) -> list[tuple[int, int]]:
    """Index ranges [first, last] of maximal runs of samples for which ``keep`` holds."""
    runs, first = [], None
    for index, sample in enumerate(samples):
        if keep(sample):
            if first is None:
                first = index
        elif first is not None:
            runs.append((first, index - 1))
            first = None
    if first is not None:
        runs.append((first, len(samples) - 1))
    return runs


def analyse(samples, probes, arps, faults: list[InjectedFault], macs: dict[str, str],
            allowance_s: float, interval_s: float = 0.1, arp_grace_s: float = ARP_GRACE_S,
            origin: float | None = None) -> SoakReport:
    """The report of one soak.  ``macs``: director name -> MAC of its client-facing interface;
    ``origin``: the time reported as 0 s (default: the first sample's)."""
    samples = sorted(samples, key=lambda s: s.t)
    if origin is None:
        origin = samples[0].t if samples else 0.0
    allowed = _allowed(faults, allowance_s, origin)

    def until_next(index: int) -> float:
        if index + 1 < len(samples):
            return samples[index + 1].t - samples[index].t
        return interval_s

    def end_of(index: int) -> float:
        return samples[index].t + until_next(index)

    seconds = {0: 0.0, 1: 0.0, 2: 0.0}
    outside_s = 0.0
    for index, sample in enumerate(samples):
        seconds[min(len(sample.holders), 2)] += until_next(index)
        if _cover(sample.t, allowed) is None:
            outside_s += until_next(index)

    def window(first: int, last: int) -> Window:
        most = max(len(samples[i].holders) for i in range(first, last + 1))
        return Window(samples[first].t, end_of(last), min(most, 2),
                      _cover(samples[first].t, allowed) or "")

    not_one = [window(first, last)
               for first, last in _runs(samples, lambda s: len(s.holders) != 1)]
    longest = max(not_one, key=lambda w: w.duration, default=None)

    outside_not_one = []
    for first, last in _runs(samples, lambda s: len(s.holders) != 1
                             and _cover(s.t, allowed) is None):
        outside_not_one.append(window(first, last))

    gratuitous = sorted((a.t, a.mac.lower()) for a in arps if a.gratuitous)
    duals = []
    for first, last in _runs(samples, lambda s: len(s.holders) >= 2):
        w = window(first, last)
        winner = None
        for later in samples[last + 1:]:
            if len(later.holders) == 1:
                winner = next(iter(later.holders))
                break
            if len(later.holders) >= 2:    # another dual run follows: judged on its own
                break
        resent = False
        if winner is not None and winner in macs:
            mac = macs[winner].lower()
            resent = any(w.start <= t <= w.end + arp_grace_s and m == mac for t, m in gratuitous)
        duals.append(DualWindow(w, winner, resent))

    probes = sorted(probes, key=lambda p: p.t)
    outside_probes = [p for p in probes if _cover(p.t, allowed) is None]
    unanswered = tuple(p.t for p in outside_probes if p.answered_by is None)
    notes = []
    if not samples:
        notes.append("no holder sample was taken")
    return SoakReport(
        sampled_s=sum(seconds.values()), seconds_by_holders=seconds, longest_not_one=longest,
        dual_windows=tuple(duals), outside_s=outside_s, outside_not_one=tuple(outside_not_one),
        probes_outside=len(outside_probes), unanswered_outside=unanswered,
        probes_total=len(probes), answered_total=sum(p.answered_by is not None for p in probes),
        faults_by_kind=dict(Counter(f.kind for f in faults)), allowance_s=allowance_s,
        origin=origin, notes=tuple(notes))


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.3f}%" if whole else "n/a"


def format_report(report: SoakReport) -> str:
    """The operator's summary (times relative to ``report.origin``)."""
    start = report.origin
    s = report.seconds_by_holders
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(report.faults_by_kind.items()))
    lines = [
        f"faults injected: {sum(report.faults_by_kind.values())} ({faults or 'none'})",
        f"sampled {report.sampled_s:.1f} s: exactly one holder {s[1]:.1f} s "
        f"({_percent(s[1], report.sampled_s)}), none {s[0]:.1f} s, two {s[2]:.1f} s",
    ]
    if report.longest_not_one is None:
        lines.append("longest window without exactly one holder: none")
    else:
        w = report.longest_not_one
        lines.append(f"longest window without exactly one holder: {w.duration:.1f} s "
                     f"({'two holders' if w.holders == 2 else 'no holder'} at {w.start - start:.1f} s, "
                     f"during {w.fault or 'no fault'})")
    one_outside = report.outside_s - sum(w.duration for w in report.outside_not_one)
    lines.append(f"outside the allowed windows (fault + deadtime + 1 s = "
                 f"{report.allowance_s:.0f} s after healing): {report.outside_s:.1f} s, "
                 f"exactly one holder {_percent(one_outside, report.outside_s)}, client answered "
                 f"{report.probes_outside - len(report.unanswered_outside)}/"
                 f"{report.probes_outside} probes")
    lines.append(f"all probes answered: {report.answered_total}/{report.probes_total}")
    resent = sum(d.arp_resent for d in report.dual_windows)
    lines.append(f"windows with two holders: {len(report.dual_windows)}, the winner re-sent "
                 f"gratuitous ARP in {resent}")
    for dual in report.dual_windows:
        w = dual.window
        lines.append(f"  at {w.start - start:7.1f} s for {w.duration:4.1f} s, during "
                     f"{w.fault or 'no fault'}: winner {dual.winner or '(none yet)'}, "
                     f"ARP re-sent {'yes' if dual.arp_resent else 'NO'}")
    for w in report.outside_not_one:
        lines.append(f"  VIOLATION: {'two holders' if w.holders == 2 else 'no holder'} at "
                     f"{w.start - start:.1f} s for {w.duration:.1f} s, outside every allowed window")
    for t in report.unanswered_outside[:20]:
        lines.append(f"  VIOLATION: probe at {t - start:.1f} s unanswered, outside every "
                     f"allowed window")
    lines.extend(f"  note: {note}" for note in report.notes)
    lines.append(f"goal {'met' if report.goal_met else 'NOT met'}")
    return "\n".join(lines)
