"""The one clock of the heartbeat shell (fail2ban's ``mytime``), injected where the shell waits.

Two readings, never mixed: ``now_ms()``, monotonic integer milliseconds, for every timer,
deadline and duration (a wall clock set back must not fire or stall a deadtime); ``wall()``,
seconds since the epoch, only for what leaves the process with a date on it (the wire's ``ts``,
log stamps, ``hbgenmethod time``).  ``sleep`` is the one blocking wait.  The pure cores
(membership, resources, node) never read a clock: the shell hands them ``now_ms`` as a value.
A test passes its own object with the same three methods.
"""

from __future__ import annotations

import time


class Clock:
    def now_ms(self) -> int:
        return int(time.monotonic() * 1000)

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = Clock()
