"""The namespace lab: private network namespaces joined by veth pairs or by a bridge, the one
recipe of the tests, ``make demo`` and ``make soak``.

* Names: ``unique_name(stem)`` is ``<stem><pid>x<N>``, so parallel runs never collide and a
  leftover check finds a run's namespaces by its pid (tests/test_soak.py).  Callers with a
  pattern of their own (the demo's ``lvsdemo…-<machine>``) pass whole names to ``add``.
* ``Netlab`` creates namespaces (``add``, with ``lo`` up), a bridge in a hub namespace of its own
  (``bridge``), plugs a namespace into it (``plug``) or joins two directly (``pair``), gives an
  interface its address (``address``) and runs commands inside (``ns``; ``start`` for a process
  it owns): argv lists through ``ip netns exec``, never a shell string.
* ``Netlab.close`` removes what the lab made: the processes it started (their whole process
  groups), every process still inside its namespaces (``reap``), then the namespaces, the last
  made first.  It may be called twice; ``with Netlab() as lab:`` calls it on any exit, so a
  set-up step that fails inside the ``with`` leaves nothing behind.
* Both ends of every veth pair live in the lab's namespaces: nothing is ever connected to a host
  interface, no packet leaves them.

Standard library only, cheap to import: the demo and the soak ship it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from typing import Callable, TypeVar

T = TypeVar("T")
_counter = itertools.count(1)


def run(argv: list[str], check: bool = True, timeout: float = 30,
        **kwargs) -> subprocess.CompletedProcess:
    """``argv`` with its output captured as text; no terminal input (a tool that asks waits
    for nobody)."""
    if "input" not in kwargs:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout,
                          **kwargs)


class TimedOut(AssertionError):
    """``wait_for``'s deadline passed (an AssertionError: in a test it reads as a failure)."""


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.1,
             what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something true (returned) or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise TimedOut(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def unique_name(stem: str) -> str:
    return f"{stem}{os.getpid()}x{next(_counter)}"


def namespace_names() -> set[str]:
    out = run(["ip", "-j", "netns", "list"], check=False).stdout
    return {entry["name"] for entry in json.loads(out or "[]")}


def namespace_pids(netns: str) -> list[int]:
    result = run(["ip", "netns", "pids", netns], check=False)
    return [int(word) for word in result.stdout.split() if word.isdigit()]


def reap(netns: str, timeout: float = 5) -> None:
    """SIGKILL every process in ``netns`` (this one excepted) until none is left or ``timeout``
    s pass (a process may fork while it is being killed)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in namespace_pids(netns) if pid != os.getpid()]
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


class Netlab:
    """Namespaces, links and processes of one lab; ``close`` removes them all."""

    BRIDGE = "br0"

    def __init__(self) -> None:
        self.created: list[str] = []
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Netlab":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- namespaces -------------------------------------------------------------------------
    def add(self, netns: str) -> str:
        """A fresh namespace with ``lo`` up (recorded before anything can fail)."""
        run(["ip", "netns", "add", netns])
        self.created.append(netns)
        run(["ip", "-n", netns, "link", "set", "lo", "up"])
        return netns

    def delete(self, netns: str) -> None:
        """A machine's death: every process in ``netns`` killed, the namespace (and so its
        links, addresses and IPVS table) gone."""
        reap(netns)
        run(["ip", "netns", "del", netns], check=False)
        if netns in self.created:
            self.created.remove(netns)

    # --- links ----------------------------------------------------------------------------
    def bridge(self, hub: str, mcast_snooping: bool = True) -> str:
        """A namespace ``hub`` holding a bridge that is up, for ``plug``."""
        self.add(hub)
        run(["ip", "-n", hub, "link", "add", self.BRIDGE, "type", "bridge"])
        if not mcast_snooping:
            run(["ip", "-n", hub, "link", "set", self.BRIDGE, "type", "bridge",
                 "mcast_snooping", "0"])
        run(["ip", "-n", hub, "link", "set", self.BRIDGE, "up"])
        return hub

    def plug(self, netns: str, ifname: str, hub: str, port: str) -> None:
        """A veth pair from ``hub``'s bridge (``port``) to ``netns`` (``ifname``, left down)."""
        run(["ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", ifname,
             "netns", netns])
        run(["ip", "-n", hub, "link", "set", port, "master", self.BRIDGE, "up"])

    def pair(self, netns_a: str, ifname_a: str, netns_b: str, ifname_b: str) -> None:
        """A veth pair straight from ``netns_a`` to ``netns_b`` (both ends left down)."""
        run(["ip", "-n", netns_a, "link", "add", ifname_a, "type", "veth", "peer", "name",
             ifname_b, "netns", netns_b])

    def address(self, netns: str, ifname: str, address: str, broadcast: str | None = None) -> None:
        """``address`` (with its prefix length) on ``ifname``, then the link up; ``broadcast``
        an address, ``+`` (ip derives it) or None (none)."""
        extra = ["broadcast", broadcast] if broadcast else []
        run(["ip", "-n", netns, "addr", "add", address, *extra, "dev", ifname])
        run(["ip", "-n", netns, "link", "set", ifname, "up"])

    # --- inside ---------------------------------------------------------------------------
    @staticmethod
    def exec_argv(netns: str, argv) -> list[str]:
        return ["ip", "netns", "exec", netns, *map(str, argv)]

    def ns(self, netns: str, *argv: str, check: bool = True, timeout: float = 30,
           **kwargs) -> subprocess.CompletedProcess:
        return run(self.exec_argv(netns, argv), check=check, timeout=timeout, **kwargs)

    def start(self, netns: str, argv, **popen) -> subprocess.Popen:
        """A process inside ``netns`` in a session of its own, killed by ``close``."""
        popen.setdefault("stdin", subprocess.DEVNULL)
        popen.setdefault("start_new_session", True)
        process = subprocess.Popen(self.exec_argv(netns, argv), **popen)
        self.processes.append(process)
        return process

    # --- the end --------------------------------------------------------------------------
    def close(self) -> None:
        for process in self.processes:
            stop(process)
        self.processes.clear()
        for netns in list(self.created):
            reap(netns)
        for netns in reversed(list(self.created)):
            self.delete(netns)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGKILL to ``process``'s group when it leads one (else to it alone), then wait."""
    if process.poll() is None:
        try:
            if os.getpgid(process.pid) == process.pid:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        except (ProcessLookupError, PermissionError):
            pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
