"""Between the daemon shell and the two pure cores: the membership core
(``membership.Membership``) and the v1 resource coordinator (``resources.ResourceCoordinator``).

Wiring (see the docstring of ``resources``):

* a decoded ``wire.Frame`` becomes ``membership.Received(message, link, authenticated)``;
* the membership core's ``NodeStatusChanged``, ``NodeRestarted``, ``PartitionHealed`` and
  ``MessageReceived`` go on to the coordinator; the coordinator's ``SendMessage`` goes back to
  the membership core as ``Send(fields)`` (which numbers it, keeps it for retransmission and
  hands it back as our own ``MessageReceived``, which the coordinator ignores);
* the membership core's ``SendMessage`` gets the control fields (``wire.add_control_fields``:
  src, srcuuid, seq, hg, the wall-clock ``ts``, ``/proc/loadavg``, ttl) and goes out on every
  medium;
* ``StartGroup``/``StopGroup``/``QueryGroupStatus``/``ReannounceAddresses`` go to the
  ``ResourceWorker``: one thread that runs the blocking ``GroupExecutor`` (scripts, ``ip``,
  gratuitous ARP in its own background threads) and hands each result back to the selector loop
  through a socket pair, so heartbeats are never held up by a script (C forks a child for the
  same reason, SPEC §1e);
* ``Log`` levels become the C words (WARN, ERROR, CRIT);
* a graceful stop is the coordinator's ``ShutdownRequest``: it stops every group, then sends
  ``t=shutdone st=dead``; ``ShutdownComplete`` lets the daemon exit.  With no resource group at
  all there is nothing to wait for and ``shutdone`` is sent at once;
* ``RebootNode`` (only with ``--failed-stop-action reboot``) runs ``reboot -nf`` as C's
  ``RecoverFromFailedStop`` does;
* at start the worker first checks every group's status (``verifyallidle``): one found running
  is logged critically, as C does, and stopped, unlike C (see ``ResourceWorker``).
"""

from __future__ import annotations

import collections
import queue
import random
import socket
import subprocess
import threading

from . import membership, resources, wire

_LEVELS = {"debug": "debug", "info": "info", "warning": "WARN", "error": "ERROR",
           "critical": "CRIT"}
# membership actions the coordinator consumes
_TO_COORDINATOR = (membership.NodeStatusChanged, membership.NodeRestarted,
                   membership.PartitionHealed, membership.MessageReceived)
SHUTDONE_LINGER_MS = 1000     # C exits about a second after shutdone (answers rexmit meanwhile)
REBOOT_ARGV = ("reboot", "-nf")
VERIFY_ALL_IDLE = object()    # the worker's start-up check (ResourceManager verifyallidle)


def _empty_resources(path: str):
    from ..config.haresources import parse_haresources
    return parse_haresources("", path)


class CoreAdapter:
    """What the daemon calls (start, receive, tick, shutdown, stopped, next_deadline_ms,
    executor_result, local_request)."""

    def __init__(self, daemon):
        self.daemon = daemon
        now = daemon.clock.now_ms()
        self.core = membership.Membership(daemon.ha_cf, daemon.node_name, daemon.generation,
                                          now, seed=random.SystemRandom().random())
        haresources = daemon.ha_dir.haresources or _empty_resources("haresources")
        self.has_groups = bool(haresources.groups)
        self.coordinator = resources.ResourceCoordinator(
            daemon.ha_cf, haresources, daemon.node_name, daemon.coordinator_options)
        self._stopped_at: int | None = None

    # -- inputs -----------------------------------------------------------------------------
    def start(self, now_ms: int) -> list:
        return self._pump(self.core.handle(membership.Start(), now_ms), now_ms)

    def receive(self, frame: wire.Frame, link: str, now_ms: int) -> list:
        return self._pump(self.core.handle(membership.Received(
            frame.message, link, bool(frame.authenticated)), now_ms), now_ms)

    def send_fields(self, fields, now_ms: int) -> list:
        """A message written to the FIFO by a script: send it (and process it locally)."""
        return self._pump(self.core.handle(membership.Send(tuple(fields)), now_ms), now_ms)

    def tick(self, now_ms: int) -> list:
        if self._stopped_at is not None:
            return []
        out = self._pump(self.core.handle(membership.Tick(), now_ms), now_ms)
        due = self.coordinator.next_deadline_ms()
        if due is not None and now_ms >= due:
            out += self._coordinate(resources.Tick(), now_ms)
        return out

    def executor_result(self, event, now_ms: int) -> list:
        """``GroupStarted``/``GroupStopped``/``StatusResult`` from the worker."""
        return self._coordinate(event, now_ms)

    def local_request(self, event, now_ms: int) -> list:
        """``StandbyRequest``/``TakeoverRequest`` (hb_standby, hb_takeover), ``PingNodeStatus``."""
        return self._coordinate(event, now_ms)

    def shutdown(self, now_ms: int) -> list:
        if not self.has_groups and not self.coordinator.held_groups:
            # nothing to release: shutdone at once (as before resources existed)
            out = self._pump(self.core.handle(
                membership.Send((("t", "shutdone"), ("st", "dead"))), now_ms), now_ms)
            self._stopped_at = now_ms
            return out
        return self._coordinate(resources.ShutdownRequest(), now_ms)

    # -- queries ----------------------------------------------------------------------------
    def stopped(self, now_ms: int) -> bool:
        return self._stopped_at is not None and (
            not self.has_groups or now_ms >= self._stopped_at + SHUTDONE_LINGER_MS)

    def next_deadline_ms(self, now_ms: int) -> int:
        deadline = self.core.next_deadline_ms()
        due = self.coordinator.next_deadline_ms()
        if due is not None:
            deadline = min(deadline, due + 1) if deadline is not None else due + 1
        if self._stopped_at is not None:
            deadline = self._stopped_at + SHUTDONE_LINGER_MS
        return deadline

    def node_status(self, node: str) -> str | None:
        return self.core.node_status(node)

    def link_status(self, node: str, link: str) -> str | None:
        return self.core.link_status(node, link)

    @property
    def resource_status(self) -> str:
        return self.coordinator.resource_status

    # -- routing ----------------------------------------------------------------------------
    def _pump(self, actions: list, now_ms: int) -> list:
        """The membership core's actions, in order, with the coordinator's answers (and what
        they make the membership core do) right after the action that caused them."""
        out: list = []
        for action in actions:
            out.append(action)
            if isinstance(action, _TO_COORDINATOR):
                out += self._coordinate(action, now_ms)
        return out

    def _coordinate(self, event, now_ms: int) -> list:
        out: list = []
        for action in self.coordinator.handle(event, now_ms):
            if isinstance(action, resources.SendMessage):
                out += self._pump(self.core.handle(membership.Send(action.fields), now_ms),
                                  now_ms)
            else:
                if isinstance(action, resources.ShutdownComplete):
                    self._stopped_at = now_ms
                out.append(action)
        return out


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
        if isinstance(action, resources.StartGroup):
            result = executor.start_group(action.key)
            failed = result.failed
            self._report(result)
            return resources.GroupStarted(action.key, result.ok,
                                          failed[0].resource.raw if failed else None)
        if isinstance(action, resources.StopGroup):
            result = executor.stop_group(action.key)
            self._report(result)
            return resources.GroupStopped(action.key, result.ok)
        if isinstance(action, resources.QueryGroupStatus):
            return resources.StatusResult(action.key,
                                          executor.group_status(action.key) != "NONE")
        if isinstance(action, resources.ReannounceAddresses):
            announced = executor.reannounce(action.key)
            return membership.Log("info", f"gratuitous ARP sent again for "
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
                self._results.append(membership.Log("critical", text))
            result = self.executor.stop_group(group.key)
            self._report(result)
            self._results.append(membership.Log(
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
            self._results.append(membership.Log("info", text))
            if outcome.error:
                self._results.append(membership.Log("error", outcome.error))

    def _failure(self, action, text: str):
        self._results.append(membership.Log("error", f"resource worker: {text}"))
        if isinstance(action, resources.StartGroup):
            return resources.GroupStarted(action.key, False, action.key)
        if isinstance(action, resources.StopGroup):
            return resources.GroupStopped(action.key, False)
        if isinstance(action, resources.QueryGroupStatus):
            return resources.StatusResult(action.key, True)   # unknown: assume still running
        return membership.Log("error", f"resource worker: {text}")


def execute(daemon, action) -> None:
    if isinstance(action, membership.SendMessage):
        cfg = daemon.ha_cf
        message = wire.add_control_fields(
            wire.Message.from_pairs(action.fields), src=daemon.node_name, srcuuid=daemon.uuid,
            seq=action.seq, generation=daemon.generation, timestamp=int(daemon.clock.wall()),
            load=_loadavg(), ttl=len(cfg.nodes) + cfg.hopfudge)
        daemon.send(message)
    elif isinstance(action, membership.Log):
        daemon.log(_LEVELS.get(action.level, "info"), action.text)
    elif isinstance(action, membership.NodeStatusChanged):
        daemon.set_node_status(action.node, action.new)
    elif isinstance(action, membership.LinkStatusChanged):
        daemon.set_link_status(action.node, action.link, action.new)
    elif isinstance(action, membership.LocalHeartbeatLost):
        daemon.log("ERROR", "no local heartbeat: our own packets do not come back on any "
                   "medium")
    elif isinstance(action, (resources.StartGroup, resources.StopGroup,
                             resources.QueryGroupStatus, resources.ReannounceAddresses)):
        daemon.run_resource_action(action)
    elif isinstance(action, resources.ResourceStateChanged):
        daemon.log("debug", f"resource state {action.old} -> {action.new}")
    elif isinstance(action, resources.RebootNode):
        daemon.log("CRIT", f"Rebooting this node: {action.reason} (failed_stop_action reboot)")
        try:
            subprocess.run(list(REBOOT_ARGV), timeout=30, check=False,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as error:
            daemon.log("CRIT", f"reboot failed: {error}")
    # ShutdownComplete: CoreAdapter.stopped() says so.  MessageReceived, NodeRestarted,
    # HeartbeatLate, PartitionHealed: the coordinator has them; the core logged them.


def _loadavg() -> str:
    from .daemon import read_loadavg
    return read_loadavg()
