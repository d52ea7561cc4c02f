"""The one rate limiter: at most one report per key per interval, counting what it held back.

Pure (the caller passes ``now``, in the unit of ``interval``), so the membership core uses it
with its milliseconds and the daemon's bad-packet log with the shell's clock.  Keys come from
the network (node names, peer addresses), so the table is bounded: the key unheard of longest
is forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Hashable


class RateLimiter:
    def __init__(self, interval: float, max_keys: int):
        self.interval = interval
        self.max_keys = max_keys
        self._last: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()  # key: (sent, held)

    def due(self, key: Hashable, now: float) -> int | None:
        """None while ``key``'s interval runs; else the events since its last report, this one
        included (so 1 when nothing was held back)."""
        last, held = self._last.pop(key, (None, 0))
        if last is not None and now - last < self.interval:
            self._last[key] = (last, held + 1)
            return None
        self._last[key] = (now, 0)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return held + 1
