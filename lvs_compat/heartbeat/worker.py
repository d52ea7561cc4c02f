"""The daemon's resource worker: one thread that runs the blocking ``GroupExecutor`` (scripts,
``ip``, gratuitous ARP in its own background threads) for the coordinator's ``StartGroup``,
``StopGroup``, ``QueryGroupStatus`` and ``ReannounceAddresses``, and hands each result back to
the selector loop through a socket pair, so heartbeats are never held up by a script (C forks a
child for the same reason, SPEC §1e).

At start it first checks every group's status (``verifyallidle``): one found running is logged
critically, as C does, and stopped, unlike C (see ``ResourceWorker._verify_all_idle``).
"""

from __future__ import annotations

import collections
import queue
import socket
import threading

from .events import (GroupStarted, GroupStopped, Log, QueryGroupStatus, ReannounceAddresses,
                     StartGroup, StatusResult, StopGroup)

VERIFY_ALL_IDLE = object()    # the worker's start-up check (ResourceManager verifyallidle)


class ResourceWorker:
    """One thread running the ``GroupExecutor``; results come back through ``fileno()`` (a
    socket the selector watches) and ``results()``.  Requests are served in order."""

    def __init__(self, executor):
        self.executor = executor
        self._requests: queue.Queue = queue.Queue()
        self._results: collections.deque = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="resource-worker", daemon=True)
        self._thread.start()

    def fileno(self) -> int:
        return self._wake_r.fileno()

    def submit(self, action) -> None:
        self._requests.put(action)

    def verify_all_idle(self) -> None:
        """Queue ResourceManager's ``verifyallidle`` (first, before any group operation)."""
        self._requests.put(VERIFY_ALL_IDLE)

    def results(self) -> list:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        out = []
        while self._results:
            out.append(self._results.popleft())
        return out

    def close(self) -> None:
        self._requests.put(None)
        self._thread.join(timeout=2)
        try:
            self.executor.close()
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _run(self) -> None:
        while True:
            action = self._requests.get()
            if action is None:
                return
            try:
                result = self._perform(action)
            except Exception as error:  # a bug in an agent must not kill the worker
                result = self._failure(action, f"{type(error).__name__}: {error}")
            if result is not None:
                self._results.append(result)
            try:
                self._wake_w.send(b"r")
            except (BlockingIOError, OSError):
                pass  # the reader is already due to wake up

    def _perform(self, action):
        executor = self.executor
        if action is VERIFY_ALL_IDLE:
            self._verify_all_idle()
            return None
        if isinstance(action, StartGroup):
            result = executor.start_group(action.key)
            failed = result.failed
            self._report(result)
            return GroupStarted(action.key, result.ok,
                                          failed[0].resource.raw if failed else None)
        if isinstance(action, StopGroup):
            result = executor.stop_group(action.key)
            self._report(result)
            return GroupStopped(action.key, result.ok)
        if isinstance(action, QueryGroupStatus):
            return StatusResult(action.key,
                                          executor.group_status(action.key) != "NONE")
        if isinstance(action, ReannounceAddresses):
            announced = executor.reannounce(action.key)
            return Log("info", f"gratuitous ARP sent again for "
                                          f"{' '.join(announced) or 'no address'} "
                                          f"of resource group {action.key}")
        raise TypeError(f"not an executor action: {action!r}")

    def _verify_all_idle(self) -> None:
        """C logs a resource found running at start-up (ResourceManager ``VerifyAllIdle``) and
        carries on.  Here it is also stopped: a node that starts holds nothing, so it is a
        leftover (of a kill -9-ed daemon, say) that the peer may have taken over meanwhile."""
        for group in self.executor.haresources.groups:
            if self.executor.group_status(group.key) == "NONE":
                continue
            for text in (f"Resource {group.key} is active, and should not be!",
                         "Non-idle resources can affect data integrity!"):
                self._results.append(Log("critical", text))
            result = self.executor.stop_group(group.key)
            self._report(result)
            self._results.append(Log(
                "warning" if result.ok else "critical",
                f"leftover resource group {group.key} "
                f"{'stopped' if result.ok else 'could NOT be stopped'} before joining the cluster"))

    def _report(self, result) -> None:
        """ResourceManager's log lines for every resource, written by the loop (``Log``)."""
        for outcome in result.outcomes:
            if outcome.skipped:
                text = f"Resource is already running: {outcome.resource.raw}"
            else:
                text = f"Running {outcome.resource.raw} {outcome.action}"
            self._results.append(Log("info", text))
            if outcome.error:
                self._results.append(Log("error", outcome.error))

    def _failure(self, action, text: str):
        self._results.append(Log("error", f"resource worker: {text}"))
        if isinstance(action, StartGroup):
            return GroupStarted(action.key, False, action.key)
        if isinstance(action, StopGroup):
            return GroupStopped(action.key, False)
        if isinstance(action, QueryGroupStatus):
            return StatusResult(action.key, True)   # unknown: assume still running
        return Log("error", f"resource worker: {text}")
