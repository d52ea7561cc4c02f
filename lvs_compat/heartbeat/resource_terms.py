"""The words the v1 resource machines share (``groups``, ``standby``, ``takeover`` and their
facade ``resources``): the resource sets a node announces, C's timing defaults and the
coordinator's options.  Plain values only; the machines and their rules live in their modules.
"""

from __future__ import annotations

from dataclasses import dataclass

NONE, LOCAL, FOREIGN, ALL = 0, 1, 2, 3               # [HB_NO_RSC ... HB_ALL_RSC], bit fields
SET_NAMES = ("none", "local", "foreign", "all")      # [rsc_msg]: rsc_hold words
TRANSITION = "transition"                             # rscstatus while not stable

RQSTDELAY_MS = 10_000                 # [RQSTDELAY] take local groups if nobody got stable
STANDBY_INIT_TIMEOUT_MS = 10_000      # [STANDBY_INIT_TO_MS] first reply to ask_resources me
STANDBY_RESOURCE_TIMEOUT_MS = 3_600_000  # [HB_STANDBY_RSC_TO_MS] the whole exchange
AUTO_FAILBACK_RETRY_MS = 1_000        # [AutoFailbackProc] "Auto failback delayed."
FAILED_START_HANDOVER_MS = 30_000     # ResourceManager: (sleep 30; hb_standby ...) &
STOP_RETRY_INTERVAL_MS = 1_000        # ResourceManager: sleep 1 between stop retries
STOP_RETRY_MAX = 10                   # [HA_STOPRETRYMAX]


def mirror(bits: int) -> int:
    """A set seen from the other node: its local is our foreign."""
    return {NONE: NONE, LOCAL: FOREIGN, FOREIGN: LOCAL, ALL: ALL}[bits]


@dataclass(frozen=True)
class CoordinatorOptions:
    rqstdelay_ms: int = RQSTDELAY_MS
    standby_init_timeout_ms: int = STANDBY_INIT_TIMEOUT_MS
    standby_resource_timeout_ms: int = STANDBY_RESOURCE_TIMEOUT_MS
    failed_start_handover_ms: int = FAILED_START_HANDOVER_MS
    stop_retry_interval_ms: int = STOP_RETRY_INTERVAL_MS
    stop_retry_max: int = STOP_RETRY_MAX
    failed_stop_action: str = "hold"      # "hold" (keep it, never both) | "reboot" (C)

    def __post_init__(self) -> None:
        if self.failed_stop_action not in ("hold", "reboot"):
            raise ValueError(f"failed_stop_action must be 'hold' or 'reboot', "
                             f"not {self.failed_stop_action!r}")
