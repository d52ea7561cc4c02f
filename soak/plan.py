"""The chaos soak's fault plan: which fault comes next, on which director, for how long.

Pure and seeded (``random.Random(seed)``), so a run that failed can be replayed with the same
faults in the same order.  The driver (``soak/run.py``) executes one ``Fault`` at a time: it
injects it, waits ``duration_s``, heals it, then stays quiet for ``quiet_s`` before the next one.
The quiet time is longer than the allowance the goal grants after a fault (deadtime + 1 s), so
every fault is followed by a stretch in which exactly one director must hold the VIP and the
client must be answered.

Faults (issue 8, item 1):

* ``kill``: ``kill -9`` of a director's daemon, restarted after ``duration_s`` (a crash: the VIP
  it held stays configured until the restarted daemon stops it as a leftover);
* ``freeze``: ``SIGSTOP`` for longer than deadtime, then ``SIGCONT``;
* ``link-one``: one medium (``hb0``, shared with the client, or ``hb1``, the directors' own
  link) down on one director, then up;
* ``link-all``: every medium of one director down (a partition: both hold the VIP), then up;
* ``netem``: 30 % loss and 100 ms +- 50 ms delay (``tc netem``) on every medium of both
  directors;
* ``reload``: ``heartbeat -r`` on one director, ``RELOADS_PER_FAULT`` times one second apart.

``survivor`` is never killed: its daemon lives through the whole soak, so its memory after the
first round and at the end, and its open file descriptors before and after, measure what the
soak leaks (item 5).  The driver makes the backup
the survivor, so ``kill`` hits the home director, the VIP's holder whenever the cluster is
healthy; every other fault hits either director at random.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

KINDS = ("kill", "freeze", "link-one", "link-all", "netem", "reload")
NETEM_ARGS = ("loss", "30%", "delay", "100ms", "50ms")
RELOADS_PER_FAULT = 3


@dataclass(frozen=True)
class Fault:
    kind: str
    node: str            # the director it hits ("" for netem: both)
    duration_s: float    # from injection to healing (0 for an instant fault)
    quiet_s: float       # calm after healing, before the next fault
    medium: str = ""     # link-one: the interface taken down
    round: int = 1       # every kind runs once per round
    last_of_round: bool = False


def fault_plan(seed: int, directors: tuple[str, str], survivor: str, media: tuple[str, ...],
               deadtime_s: float, kinds: tuple[str, ...] = KINDS) -> Iterator[Fault]:
    """Faults for ever, in rounds: every kind once per round, in a shuffled order.

    Rounds let the soak judge a leak: the first round runs every code path once (and leaves
    the daemons' memory at its high-water mark: buffers, history, allocator arenas); growth
    between the end of the first round and the end of a later one is what the faults leak."""
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown)) or '(none given)'}")
    if survivor not in directors:
        raise ValueError(f"survivor {survivor!r} is not one of {directors}")
    rng = random.Random(seed)
    allowance_s = deadtime_s + 1
    this_round: list[str] = []
    round_number = 0
    while True:
        if not this_round:
            this_round = list(kinds)
            rng.shuffle(this_round)
            round_number += 1
        kind = this_round.pop(0)
        node = rng.choice(directors)
        medium = ""
        if kind == "kill":
            node = next(name for name in directors if name != survivor)
            duration = rng.uniform(1.0, 2 * deadtime_s)
        elif kind == "freeze":
            duration = rng.uniform(deadtime_s + 1, deadtime_s + 3)
        elif kind == "link-one":
            medium = rng.choice(media)
            duration = rng.uniform(1.0, deadtime_s + 3)
        elif kind == "link-all":
            duration = rng.uniform(deadtime_s + 1, deadtime_s + 4)
        elif kind == "netem":
            node = ""
            duration = rng.uniform(10.0, 20.0)
        else:  # reload
            duration = RELOADS_PER_FAULT - 1.0
        yield Fault(kind, node, round(duration, 2), round(allowance_s + rng.uniform(2.0, 6.0), 2),
                    medium, round_number, not this_round)
