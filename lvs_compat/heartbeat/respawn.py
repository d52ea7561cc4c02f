"""``respawn``/``failfast`` children: the thin shell around ``supervisor.Supervisor``.

It resolves each line's user (``pwd``) and checks its program, as C does at start
(``resolve_children``: a located ``DaemonError``-ready ``ChildError``); forks the program with
an argv list (no shell), in its own process group, as the user with the user's primary and
supplementary groups (``initgroups``), stdio on /dev/null, no inherited descriptors, at the normal
scheduling policy even when the daemon's loop runs SCHED_RR; watches each child with a pidfd in
the daemon's selector (readable when it dies; no SIGCHLD handler, and no ``waitpid(-1)`` that
would steal the resource worker's script processes); reaps it with ``Popen.poll``; and sends the
signals the core asks for to the child's process group.  See ``supervisor`` for the rules
copied from heartbeat 3.0.6.
"""

from __future__ import annotations

import os
import pwd
import selectors
import signal
import subprocess

from ..config.errors import Location
from .supervisor import (ManagedChild, RebootSystem, SignalChild, SpawnChild, Supervisor)

HA_DATEFMT = "%Y/%m/%d_%T\t"  # the Debian 3.0.6 binary's HA_DATEFMT (strings), exported as C does
HA_FUNCS_NAME = "shellfuncs"
OCF_ROOT = "/usr/lib/ocf"


class ChildError(Exception):
    """A respawn/failfast line that cannot run on this host; ``str()`` is one located line."""


def resolve_children(ha_cf) -> list[ManagedChild]:
    """The ``respawn``/``failfast`` lines of ``ha_cf`` with their users looked up; the checks
    of C's ``add_client_child_base`` (config.c:2158-2196), located at the line."""
    children = []
    for line in ha_cf.respawn:
        location: Location = line.location
        try:
            entry = pwd.getpwnam(line.user)
        except KeyError:
            raise ChildError(f"{location}: Invalid uid [{line.user}] specified for client "
                             "child") from None
        argv = tuple(line.command.split())
        if not os.access(argv[0], os.X_OK) or not os.path.isfile(argv[0]):
            raise ChildError(f"{location}: Client child command [{argv[0]}] is not executable")
        children.append(ManagedChild(line.command, argv, line.user, entry.pw_uid, entry.pw_gid,
                                     line.failfast))
    return children


def child_environment(ha_cf, node_name: str, config_dir: str, base=None) -> dict[str, str]:
    """What a respawn child sees: heartbeat's environment and what C exports into it
    (config.c:437 HA_CURHOST, :2032 HA_debug, :2324 ``env``; heartbeat.c:5147-5153 the log
    files, :5281-5284 HA_DIR, HA_DATEFMT, HA_FUNCS, OCF_ROOT), and every recorded directive as
    ``HA_<name>`` (LAB: ipfail's environ under 3.0.6; libplumb's cl_inherit_logging_environment
    reads ``HA_logfile``, ``HA_debugfile``, ``HA_logfacility`` and ``HA_use_logd`` from it, so
    a glue-based child such as ipfail logs where heartbeat does)."""
    from .api import recorded_parameters
    env = dict(os.environ if base is None else base)
    env.update({f"HA_{name}": value
                for name, value in recorded_parameters(ha_cf, ha_cf.debug_level).items()
                if name != "hbversion"})   # getparm's own answer, not a directive
    env.update({"HA_DIR": config_dir, "HA_DATEFMT": HA_DATEFMT,
                "HA_FUNCS": os.path.join(config_dir, HA_FUNCS_NAME), "OCF_ROOT": OCF_ROOT,
                "HA_CURHOST": node_name})
    if ha_cf.debug_level > 0:
        env["HA_debug"] = str(ha_cf.debug_level)
    if ha_cf.logfile:
        env["HA_LOGFILE"] = ha_cf.logfile
    if ha_cf.debugfile:
        env["HA_DEBUGLOG"] = ha_cf.debugfile
    if ha_cf.logfacility:
        env["HA_LOGFACILITY"] = ha_cf.logfacility
    for name, value in ha_cf.env:
        env[f"HA_{name}"] = value
    return env


class ClientChildren:
    """The children of one daemon.  ``execute`` hands Log actions to ``emit`` (the daemon's
    ``execute``) and calls ``reboot(reason)`` for a failfast death."""

    def __init__(self, children, environment: dict[str, str], selector, emit, reboot):
        self.core = Supervisor(children)
        self.environment = environment
        self.selector = selector
        self.emit = emit
        self.reboot = reboot
        self._processes: dict[int, tuple[subprocess.Popen, int]] = {}  # index -> (popen, pidfd)

    def __bool__(self) -> bool:
        return len(self.core) > 0

    def execute(self, actions, now_ms: int) -> None:
        pending = list(actions)
        while pending:
            action = pending.pop(0)
            if isinstance(action, SpawnChild):
                pending[:0] = self._spawn(action.index, now_ms)
            elif isinstance(action, SignalChild):
                self._signal(action)
            elif isinstance(action, RebootSystem):
                self.reboot(action.reason)
            else:
                self.emit([action])

    def start(self, now_ms: int) -> None:
        self.execute(self.core.start(now_ms), now_ms)

    def tick(self, now_ms: int) -> None:
        self.execute(self.core.tick(now_ms), now_ms)

    def shutdown(self, now_ms: int) -> None:
        self.execute(self.core.shutdown(now_ms), now_ms)

    @property
    def stopped(self) -> bool:
        return self.core.stopped

    def next_deadline_ms(self) -> int | None:
        return self.core.next_deadline_ms()

    def ready(self, index: int, now_ms: int) -> None:
        """The pidfd of child ``index`` is readable: it has died; reap it."""
        entry = self._processes.get(index)
        if entry is None:
            return
        process, pidfd = entry
        code = process.poll()
        if code is None:
            return
        self._forget(index)
        exit_code, signum = (0, -code) if code < 0 else (code, 0)
        self.execute(self.core.exited(process.pid, exit_code, signum, now_ms), now_ms)

    def close(self) -> None:
        """The daemon ends without a shutdown (an error): no child outlives it unreaped."""
        for index, (process, _) in list(self._processes.items()):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait()
            self._forget(index)

    # --- I/O -------------------------------------------------------------------------------
    def _spawn(self, index: int, now_ms: int) -> list:
        spec = self.core.spec(index)
        switch = {}
        if (spec.uid, spec.gid) != (os.geteuid(), os.getegid()) or os.geteuid() == 0:
            switch = {"user": spec.uid, "group": spec.gid,
                      "extra_groups": os.getgrouplist(spec.user, spec.gid)}
        policy = os.sched_getscheduler(0)
        param = os.sched_getparam(0) if policy != os.SCHED_OTHER else None
        try:
            if param is not None:  # fork() copies this thread's policy: the child runs normal
                os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
            process = subprocess.Popen(
                list(spec.argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, close_fds=True, env=self.environment, cwd="/",
                process_group=0, restore_signals=True, **switch)
        except (OSError, subprocess.SubprocessError) as error:
            return self.core.spawn_failed(index, getattr(error, "strerror", None) or str(error),
                                          now_ms)
        finally:
            if param is not None:
                os.sched_setscheduler(0, policy, param)
        pidfd = os.pidfd_open(process.pid)
        self._processes[index] = (process, pidfd)
        self.selector.register(pidfd, selectors.EVENT_READ, ("child", index))
        return self.core.spawned(index, process.pid, now_ms)

    def _signal(self, action: SignalChild) -> None:
        try:
            os.killpg(action.pid, action.signum)
        except ProcessLookupError:
            pass  # already gone (a zombie's group still exists): its pidfd tells us

    def _forget(self, index: int) -> None:
        process, pidfd = self._processes.pop(index)
        self.selector.unregister(pidfd)
        os.close(pidfd)
