"""``respawn`` and ``failfast`` children: the pure core (issue 16 item 3).

What heartbeat 3.0.6 does (heartbeat/heartbeat.c and config.c at tag STABLE-3.0.6, ae17b2e;
cluster-glue's proctrack.c and cl_reboot.c), and what we copy:

* ``respawn USER /path [args]`` and ``failfast USER /path [args]`` (config.c:2118-2216
  ``add_client_child_base``): USER must exist ("Invalid uid [x] specified for client child"),
  the command must start with ``/`` and its first word be executable ("Client child command
  [x] is not executable"); both are refused at start.  The child runs as USER's uid and primary
  gid.  The shell (``respawn``) checks the host; the parser (``config.hacf``) the syntax.
* Start (heartbeat.c:1970-1974, in ``comm_now_up``, once the media and the API socket are up):
  every child in file order, "Starting child client "CMD" (UID,GID)".  In the child
  (4049-4156): ``setpgid(0,0)`` (its own process group), realtime off, ``initgroups(USER, GID)``
  (supplementary groups), ``setgid``, ``setuid``, SIGCHLD default, SIGALRM ignored, every file
  descriptor closed and 0-2 opened on /dev/null, then ``/bin/sh -c "exec CMD"``; if the
  set-up or the exec fails it exits 100 (so it is not respawned).  It logs "Starting "CMD" as
  uid U  gid G (pid P)".  The environment is heartbeat's own: what it was started with plus
  HA_CURHOST, HA_LOGFILE, HA_DEBUGLOG, HA_LOGFACILITY, HA_DIR, HA_FUNCS, HA_DATEFMT, OCF_ROOT,
  HA_debug (when debug > 0) and ``HA_name=value`` for every ``env name=value`` line.
* Death (3886-3986 ``ManagedChildDied``, proctrack.c ``ReportProcHasDied``): glue logs "Managed
  CMD process P exited with return code N." (info if 0, else WARN) or "Managed CMD process P
  killed by signal S [SIGxxx - words]." (WARN), which stands for heartbeat's own "Client ..."
  lines; nothing is logged during a shutdown.  A failfast child that was killed by a signal, or
  exited non-zero outside a shutdown, reboots the machine (``cl_reboot``: "Rebooting system.
  Reason: CMD", sync, wait ``keepalive``, reboot; ours runs ``reboot -nf`` at once).  Note that a signal during the shutdown
  counts too: a failfast child that does not catch SIGTERM reboots the machine at ``heartbeat
  stop``; we copy that.  Then, unless shutting down or the exit code is **100**: a child that
  ran less than **30 s** counts one more short run, else the count is reset; **above 10** short
  runs in a row it logs ERROR "Client CMD "respawning too fast"", resets the count and is *not*
  started again (until heartbeat restarts); otherwise ERROR "Respawning client "CMD":" and it
  is started again at once, the forked child sleeping 1 s before the exec when the count is not
  0.  We wait that second in the parent (no ``preexec_fn`` in a threaded daemon).
* Shutdown (2127-2180 ``hb_mcp_final_shutdown`` phase 0, 4159-4190
  ``shutdown_last_client_child``): after the resource groups are given up, children are stopped
  one at a time from the *last* line of ha.cf to the first: respawn off, "killing CMD process
  group P with signal 15" and SIGTERM to its process group; the next one when that one has
  died; "client [CMD] is not running." for one that is not.  C waits as long as it takes; we
  add ``STOP_GRACE_MS``: a child still alive then gets SIGKILL (glue's wording: "CMD process
  (PID P) timed out (try 1).  Killing with signal SIGKILL (9).").

``Supervisor`` is ``(state, event, now) -> actions`` for these rules; ``respawn.ClientChildren``
forks, signals and reaps.  Children are named by their index in ha.cf order.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Log

SHORT_RUN_MS = 30_000          # heartbeat.c:3932 msto_longclock(30000)
MAX_SHORT_RUNS = 10            # heartbeat.c:3942 shortrcount > 10
NO_RESPAWN_EXIT_CODE = 100     # heartbeat.c:3928 "If they exit 100 we won't restart them"
QUICK_RESPAWN_DELAY_MS = 1000  # heartbeat.c:4105 sleep(1) when shortrcount > 0
STOP_GRACE_MS = 10_000         # ours: C waits for ever
SIGKILL, SIGTERM = 9, 15       # Linux's numbers (a pure module imports no signal)

# glue proctrack.c signal_info: the words of "killed by signal S [SIGxxx - words]."
SIGNAL_WORDS = {
    1: ("SIGHUP", "Hangup"), 2: ("SIGINT", "Interrupt"), 3: ("SIGQUIT", "Quit"),
    4: ("SIGILL", "Illegal instruction"), 5: ("SIGTRAP", "Trace"), 6: ("SIGABRT", "Abort"),
    7: ("SIGBUS", "BUS error"), 8: ("SIGFPE", "Floating-point exception"),
    9: ("SIGKILL", "Kill, unblockable"), 10: ("SIGUSR1", "User-defined signal 1"),
    11: ("SIGSEGV", "Segmentation violation"), 12: ("SIGUSR2", "User-defined signal 2"),
    13: ("SIGPIPE", "Broken pipe (POSIX)"), 14: ("SIGALRM", "Alarm clock (POSIX)"),
    15: ("SIGTERM", "Termination (ANSI)"), 24: ("SIGXCPU", "CPU limit exceeded"),
    25: ("SIGXFSZ", "File size limit exceeded"), 31: ("SIGSYS", "Bad system call"),
}


@dataclass(frozen=True)
class ManagedChild:
    """One ``respawn``/``failfast`` line, its user resolved by the shell."""

    command: str                # the line after USER, as C logs it
    argv: tuple[str, ...]       # its words: run without a shell
    user: str
    uid: int
    gid: int
    failfast: bool = False


# --- actions --------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpawnChild:
    """Fork and exec child ``index``; answer with ``spawned`` or ``spawn_failed``."""

    index: int


@dataclass(frozen=True)
class SignalChild:
    """Send ``signum`` to the process group of child ``index`` (its pid ``pid``)."""

    index: int
    pid: int
    signum: int


@dataclass(frozen=True)
class RebootSystem:
    """A failfast child died: reboot this machine (C ``cl_reboot``)."""

    reason: str


# --- the core -------------------------------------------------------------------------------

@dataclass
class _ChildState:
    spec: ManagedChild
    pid: int | None = None
    started_ms: int = 0
    short_runs: int = 0         # C shortrcount
    respawns: int = 0           # C respawncount
    respawn: bool = True        # C respawn: cleared at shutdown
    spawn_due_ms: int | None = None
    given_up: bool = False      # "respawning too fast": not started again


class Supervisor:
    def __init__(self, children):
        self._children = [_ChildState(spec) for spec in children]
        self._shutting_down = False
        self._next_to_stop = len(self._children) - 1   # C config->last_client
        self._kill_due_ms: int | None = None

    # --- queries ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._children)

    def spec(self, index: int) -> ManagedChild:
        return self._children[index].spec

    def pid(self, index: int) -> int | None:
        return self._children[index].pid

    def running(self) -> dict[int, int]:
        """index -> pid of every child alive (as far as we know)."""
        return {i: c.pid for i, c in enumerate(self._children) if c.pid is not None}

    def given_up(self, index: int) -> bool:
        return self._children[index].given_up

    @property
    def stopped(self) -> bool:
        """The shutdown has stopped every child."""
        return self._shutting_down and self._next_to_stop < 0

    def next_deadline_ms(self) -> int | None:
        due = [c.spawn_due_ms for c in self._children if c.spawn_due_ms is not None]
        if self._kill_due_ms is not None:
            due.append(self._kill_due_ms)
        return min(due, default=None)

    # --- events ----------------------------------------------------------------------------
    def start(self, now_ms: int) -> list:
        """Communications are up: start every child, in ha.cf order (not once shutting down,
        as C's comm_now_up)."""
        actions: list = []
        if self._shutting_down:
            return actions
        for index in range(len(self._children)):
            actions += self._spawn(index)
        return actions

    def spawned(self, index: int, pid: int, now_ms: int) -> list:
        child = self._children[index]
        child.pid, child.started_ms = pid, now_ms
        spec = child.spec
        return [Log("info", f'Starting "{spec.command}" as uid {spec.uid}  gid {spec.gid} '
                            f"(pid {pid})")]

    def spawn_failed(self, index: int, reason: str, now_ms: int) -> list:
        """The fork or the exec failed: as C's child exiting 100, never respawned."""
        child = self._children[index]
        child.pid = None
        actions = [Log("error", f"Cannot exec {child.spec.command}: {reason}")]
        if self._shutting_down:
            actions += self._stop_next(now_ms)
        return actions

    def exited(self, pid: int, exit_code: int, signum: int, now_ms: int) -> list:
        """Child ``pid`` died: ``exit_code`` (0 when killed) or killed by ``signum`` (else 0)."""
        index = next((i for i, c in enumerate(self._children) if c.pid == pid), None)
        if index is None:
            return []
        child = self._children[index]
        command = child.spec.command
        child.pid = None
        actions: list = []
        if not self._shutting_down:
            if signum:
                name, words = SIGNAL_WORDS.get(signum, (None, None))
                detail = f" [{name} - {words}]" if name else ""
                actions.append(Log("warning", f"Managed {command} process {pid} killed by "
                                              f"signal {signum}{detail}."))
            else:
                actions.append(Log("info" if exit_code == 0 else "warning",
                                   f"Managed {command} process {pid} exited with return code "
                                   f"{exit_code}."))
        if child.spec.failfast and (signum or (exit_code and not self._shutting_down)):
            actions += [Log("critical", f"Rebooting system.  Reason: {command}"),
                        RebootSystem(command)]
        if child.respawn and not self._shutting_down and exit_code != NO_RESPAWN_EXIT_CODE:
            child.respawns += 1
            if now_ms < child.started_ms + SHORT_RUN_MS:
                child.short_runs += 1
            else:
                child.short_runs = 0
            if child.short_runs > MAX_SHORT_RUNS:
                actions.append(Log("error", f'Client {command} "respawning too fast"'))
                child.short_runs = 0
                child.given_up = True
            else:
                actions.append(Log("error", f'Respawning client "{command}":'))
                if child.short_runs > 0:
                    child.spawn_due_ms = now_ms + QUICK_RESPAWN_DELAY_MS
                else:
                    actions += self._spawn(index)
        if self._shutting_down and index == self._next_to_stop:
            self._next_to_stop -= 1
            self._kill_due_ms = None
            actions += self._stop_next(now_ms)
        return actions

    def tick(self, now_ms: int) -> list:
        actions: list = []
        for index, child in enumerate(self._children):
            if child.spawn_due_ms is not None and now_ms >= child.spawn_due_ms:
                child.spawn_due_ms = None
                actions += self._spawn(index)
        if self._kill_due_ms is not None and now_ms >= self._kill_due_ms:
            self._kill_due_ms = None
            child = self._children[self._next_to_stop]
            if child.pid is not None:
                actions += [Log("warning", f"{child.spec.command} process (PID {child.pid}) "
                                           "timed out (try 1).  Killing with signal SIGKILL (9)."),
                            SignalChild(self._next_to_stop, child.pid, SIGKILL)]
        return actions

    def shutdown(self, now_ms: int) -> list:
        """Stop the children, last line first, one at a time; ``stopped`` says when done."""
        if self._shutting_down:
            return []
        self._shutting_down = True
        for child in self._children:
            child.spawn_due_ms = None
        return self._stop_next(now_ms)

    # --- helpers ---------------------------------------------------------------------------
    def _spawn(self, index: int) -> list:
        spec = self._children[index].spec
        return [Log("info", f'Starting child client "{spec.command}" ({spec.uid},{spec.gid})'),
                SpawnChild(index)]

    def _stop_next(self, now_ms: int) -> list:
        actions: list = []
        while self._next_to_stop >= 0:
            child = self._children[self._next_to_stop]
            child.respawn = False
            if child.pid is not None:
                self._kill_due_ms = now_ms + STOP_GRACE_MS
                return actions + [
                    Log("info", f"killing {child.spec.command} process group {child.pid} with "
                                f"signal {SIGTERM}"),
                    SignalChild(self._next_to_stop, child.pid, SIGTERM)]
            actions.append(Log("info", f"client [{child.spec.command}] is not running."))
            self._next_to_stop -= 1
        return actions
