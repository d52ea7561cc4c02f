"""Start-up, takeover and split brain of the v1 coordinator (``resources``): C's
``resourcestate`` and the moves around a peer's arrival, death, shutdown and return.

Rules of this module:

* ``state`` (C: ``resourcestate``) moves only through ``STARTUP_TRANSITIONS``; anything else
  is a bug here (``LocalProtocolError``).
"""

from __future__ import annotations

from .events import LocalProtocolError

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


def next_startup_state(state: str, trigger: str) -> str:
    new = STARTUP_TRANSITIONS.get((state, trigger))
    if new is None:
        raise LocalProtocolError(f"resource state {state!r} has no {trigger!r}")
    return new
