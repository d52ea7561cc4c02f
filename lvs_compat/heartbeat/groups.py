"""The resource groups of one node and the work on them: the executor's side of the v1
coordinator (``resources``), pure like it.

Rules of this module:

* A group's ``state`` is what the executor was last told and answered; it moves only through
  ``GROUP_TRANSITIONS`` (anything else is a bug here: ``LocalProtocolError``).  At most one
  operation per group is outstanding; a start asked while it stops (or a stop while it starts)
  waits in ``then`` and runs when the executor answers.
* This is the only home of the stop-retry policy: a failed stop is retried every
  ``stop_retry_interval_ms``, ``stop_retry_max`` times (``HA_STOPRETRYMAX``), then the
  executor is asked ``QueryGroupStatus``: not running means a script that is not LSB
  compliant (the group is stopped), still running means ``STOP_FAILED`` (held here; a reboot
  only with ``failed_stop_action="reboot"``, C's ``RecoverFromFailedStop``).
* Work that C forks or queues through ``harc`` is a ``Job``: groups to start or stop, then its
  ``on_done``.  A *queued* job starts only when no other job runs (``StartNextRemoteRscReq``),
  which is what puts the messages in the order of the lab captures.
* A failed start is handed to the other node ``failed_start_handover_ms`` later (C's
  ResourceManager: ``(sleep 30; hb_standby ...) &``); ``due_handovers`` says when.  The
  coordinator decides what a handover is; this module only keeps the timer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..config.haresources import HaResources, ResourceGroup
from .events import (GroupStarted, GroupStopped, LocalProtocolError, Log, QueryGroupStatus,
                     RebootNode, StartGroup, StatusResult, StopGroup)
from .resource_terms import FOREIGN, LOCAL, NONE, CoordinatorOptions

STOPPED, STARTING, RUNNING, STOPPING, STOP_FAILED = (
    "stopped", "starting", "running", "stopping", "stop failed")
CLEANING = "cleaning"   # a stop of a group we do not hold (shutdown stops every group)
NOT_HELD = (STOPPED, CLEANING)

GROUP_TRANSITIONS: dict[tuple[str, str], str] = {
    (STOPPED, "start"): STARTING,
    (STOP_FAILED, "start"): STARTING,          # an operator's retry, or a later takeover
    (RUNNING, "stop"): STOPPING,
    (STOP_FAILED, "stop"): STOPPING,
    (STOPPED, "clean"): CLEANING,              # stop what a crashed daemon may have left
    (STARTING, "started"): RUNNING,
    (STARTING, "start failed"): RUNNING,       # part of it may be up: it is stopped next
    (STOPPING, "stopped"): STOPPED,
    (CLEANING, "stopped"): STOPPED,
    (STOPPING, "still running"): STOP_FAILED,  # retries used up, and status says running
    (CLEANING, "still running"): STOP_FAILED,
}


@dataclass
class _Group:
    group: ResourceGroup
    state: str = STOPPED
    then: str | None = None               # "start" | "stop" queued behind the running op
    retries: int = 0
    retry_at: int | None = None           # next StopGroup retry
    awaiting_status: bool = False

    def to(self, trigger: str) -> None:
        new = GROUP_TRANSITIONS.get((self.state, trigger))
        if new is None:
            raise LocalProtocolError(f"group state {self.state!r} has no {trigger!r}")
        self.state = new


@dataclass
class Job:
    """Forked work in C: groups to start or stop, then what to do (``on_done``)."""
    name: str
    direction: str                        # "start" | "stop"
    keys: tuple[str, ...]
    on_done: Callable[["Job", list], None]
    queued: bool = False                  # harc queue: starts when no other job runs
    before_start: Callable[[list], None] | None = None
    started: bool = False
    void: bool = False                    # its requester is gone: do the work, say nothing
    pending: set[str] = field(default_factory=set)
    stuck: list[str] = field(default_factory=list)


class Groups:
    """The haresources groups of one node, the jobs on them and the stop-retry policy."""

    def __init__(self, resources: HaResources, local_node: str, options: CoordinatorOptions):
        self._local = local_node
        self._options = options
        self._groups = {group.key: _Group(group) for group in resources.groups}
        self.jobs: list[Job] = []
        self._handover_at: dict[str, int] = {}

    # -- queries ------------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._groups

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._groups)

    def state(self, key: str) -> str:
        return self._groups[key].state

    def home(self, key: str) -> str:
        return self._groups[key].group.node

    def is_held(self, key: str) -> bool:
        """Something of the group may be running here (started, or not yet stopped)."""
        return self._groups[key].state not in NOT_HELD

    def wanted_here(self, key: str) -> bool:
        """Held, or a start of it is waiting for its stop to finish."""
        g = self._groups[key]
        return g.state not in NOT_HELD or g.then == "start"

    def held_keys(self) -> tuple[str, ...]:
        return tuple(key for key in self._groups if self.is_held(key))

    def keys_of(self, bits: int) -> tuple[str, ...]:
        """Keys of our local (1) and/or foreign (2) groups, in haresources order."""
        return tuple(key for key in self._groups if bits & self.set_of(key))

    def keys_homed_at(self, node: str) -> tuple[str, ...]:
        return tuple(key for key, g in self._groups.items() if g.group.node == node)

    def set_of(self, key: str) -> int:
        return LOCAL if self._groups[key].group.node == self._local else FOREIGN

    def held_bits(self) -> int:
        bits = NONE
        for key in self.held_keys():
            bits |= self.set_of(key)
        return bits

    def start_queued_for(self, key: str) -> bool:
        """A start job not yet begun will start ``key``."""
        return any(job.direction == "start" and key in job.keys and not job.started
                   for job in self.jobs)

    def deadlines(self) -> list[int]:
        return [*self._handover_at.values(),
                *(g.retry_at for g in self._groups.values() if g.retry_at is not None)]

    # -- operations ---------------------------------------------------------------------------

    def start(self, out: list, key: str) -> None:
        g = self._groups[key]
        self._handover_at.pop(key, None)
        if g.state in (STOPPED, STOP_FAILED):
            g.to("start")
            g.then = None
            out.append(StartGroup(key))
        elif g.state in (STOPPING, CLEANING):
            g.then = "start"
        else:                                   # starting or running
            g.then = None

    def stop(self, out: list, key: str, *, even_if_stopped: bool = False) -> None:
        g = self._groups[key]
        if g.state in (RUNNING, STOP_FAILED) or (g.state == STOPPED and even_if_stopped):
            g.to("clean" if g.state == STOPPED else "stop")
            g.then, g.retries, g.awaiting_status = None, 0, False
            out.append(StopGroup(key))
        elif g.state == STARTING:
            g.then = "stop"
        elif g.state in (STOPPING, CLEANING):
            g.then = None

    # -- jobs (C's forked children and harc queue) --------------------------------------------

    def job(self, name: str, direction: str, keys: tuple[str, ...],
            on_done: Callable[[Job, list], None], *, queued: bool = False,
            before_start: Callable[[list], None] | None = None) -> Job:
        job = Job(name, direction, keys, on_done, queued, before_start)
        self.jobs.append(job)
        return job

    def step_jobs(self, out: list) -> bool:
        """One round: start the jobs due, finish the done ones (running their ``on_done``),
        start the next queued one if none runs.  True if anything moved."""
        moved = False
        for job in list(self.jobs):
            if not job.started and not job.queued:
                self._run_job(out, job)
                moved = True
        for job in list(self.jobs):
            if job.started:
                job.pending = {k for k in job.pending if not self._job_key_done(job, k)}
                if not job.pending:
                    self.jobs.remove(job)
                    job.on_done(job, out)
                    moved = True
        if not any(job.started for job in self.jobs):
            queued = next((job for job in self.jobs if job.queued), None)
            if queued is not None:
                self._run_job(out, queued)
                moved = True
        return moved

    def _run_job(self, out: list, job: Job) -> None:
        job.started = True
        if job.before_start:
            job.before_start(out)
        for key in job.keys:
            if job.direction == "start":
                self.start(out, key)
            else:
                self.stop(out, key, even_if_stopped=job.name == "giveup")
        job.pending = {key for key in job.keys if not self._job_key_done(job, key)}

    def _job_key_done(self, job: Job, key: str) -> bool:
        g = self._groups[key]
        if job.direction == "start":
            return g.state in (RUNNING, STOP_FAILED) or (g.state == STOPPED and g.then is None)
        if g.state == STOP_FAILED:
            if key not in job.stuck:
                job.stuck.append(key)
            return True
        return g.state == STOPPED

    def drop_queued_starts(self, keys) -> None:
        """Take ``keys`` out of every start job not yet begun (queued behind another job):
        those groups stay where they are."""
        for job in self.jobs:
            if job.direction == "start" and not job.started:
                job.keys = tuple(k for k in job.keys if k not in keys)

    def forget_jobs(self, name: str) -> None:
        """Their requester is gone: drop those not begun; the others finish silently."""
        for job in list(self.jobs):
            if job.name == name:
                if job.started:
                    job.void = True
                else:
                    self.jobs.remove(job)

    # -- executor results, and the stop-retry policy ------------------------------------------

    def on_started(self, out: list, event: GroupStarted, now: int, *, hand_over: bool) -> None:
        """``hand_over``: a failed start is handed to the other node later."""
        g = self._groups.get(event.key)
        if g is None or g.state != STARTING:
            out.append(Log("error", f"unexpected start result for resource group "
                                    f"{event.key}"))
            return
        if event.ok:
            g.to("started")
            if g.then == "stop":
                self.stop(out, event.key)
            return
        out.append(Log("critical", "Giving up resources due to failure of "
                                   f"{event.failed_resource or event.key}"))
        g.to("start failed")
        g.then = None
        self.stop(out, event.key)
        if hand_over:
            self._handover_at[event.key] = now + self._options.failed_start_handover_ms

    def on_stopped(self, out: list, event: GroupStopped, now: int) -> None:
        g = self._groups.get(event.key)
        if (g is None or g.state not in (STOPPING, CLEANING) or g.retry_at is not None
                or g.awaiting_status):
            out.append(Log("error", f"unexpected stop result for resource group "
                                    f"{event.key}"))
            return
        if event.ok:
            g.to("stopped")
            g.retries = 0
            if g.then == "start":
                self.start(out, event.key)
            return
        if g.retries < self._options.stop_retry_max:
            g.retries += 1
            g.retry_at = now + self._options.stop_retry_interval_ms
            out.append(Log("info", f"Retrying failed stop operation [{event.key}]"))
            return
        g.awaiting_status = True
        out.append(QueryGroupStatus(event.key))

    def on_status(self, out: list, event: StatusResult) -> None:
        g = self._groups.get(event.key)
        if g is None or not g.awaiting_status:
            return
        g.awaiting_status = False
        key = event.key
        if not event.running:
            out.append(Log("error", f"Resource script for {key} probably not LSB-compliant."))
            out.append(Log("warning", f"it ({key}) MUST succeed on a stop when already "
                                      "stopped"))
            out.append(Log("warning", "Machine reboot narrowly avoided!"))
            g.to("stopped")
            if g.then == "start":
                self.start(out, key)
            return
        g.to("still running")
        g.then = None
        out.append(Log("critical", f"Resource group {key} could not be stopped after "
                                   f"{self._options.stop_retry_max} retries and is still "
                                   "running: it stays held by this node"))
        if self._options.failed_stop_action == "reboot":
            out.append(RebootNode(f"failed stop of resource group {key}"))

    # -- timers -------------------------------------------------------------------------------

    def retry_due_stops(self, out: list, now: int) -> None:
        for key, g in self._groups.items():
            if g.retry_at is not None and now >= g.retry_at:
                g.retry_at = None
                out.append(StopGroup(key))

    def due_handovers(self, now: int) -> list[str]:
        """Failed starts whose handover is due, in key order; their timers are cleared."""
        due = sorted(key for key, at in self._handover_at.items() if now >= at)
        for key in due:
            del self._handover_at[key]
        return due

    def hand_over_later(self, key: str, at: int) -> None:
        self._handover_at[key] = at

    def cancel_handovers(self) -> None:
        self._handover_at.clear()
