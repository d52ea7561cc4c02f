"""The running daemon, seen from the command line: ``heartbeat -s``, ``-k`` and ``-r`` find it
by its pid file and print what 3.0.6 prints."""

from __future__ import annotations

import os
import signal
import sys

from .clock import SYSTEM_CLOCK, Clock
from .statefiles import read_pid, running_pid

STOP_TIMEOUT_S = 60
# the daemon answers a reload once it has opened the new media and resolved new ping nodes
# (a resolver may take its 2 x 5 s of timeouts)
RELOAD_TIMEOUT_S = 30


def status(pid_file: str, name: str) -> int:
    """``heartbeat -s``: C's words and exit codes (LAB): 3 stopped, 1 when the pid file names
    a process that is gone (LSB_STATUS_VAR_PID)."""
    pid = running_pid(pid_file)
    if pid is None:
        print("heartbeat is stopped. No process")
        return 3 if read_pid(pid_file) is None else 1
    print(f"heartbeat OK [pid {pid} et al] is running on {name} [{name}]...")
    return 0


def stop(pid_file: str, clock: Clock = SYSTEM_CLOCK) -> int:
    """``heartbeat -k``: SIGTERM, then wait for the daemon to exit (its groups stopped)."""
    pid = running_pid(pid_file)
    if pid is None:
        sys.stderr.write("INFO: Heartbeat already stopped.\n")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    deadline_ms = clock.now_ms() + STOP_TIMEOUT_S * 1000
    while clock.now_ms() < deadline_ms:
        if running_pid(pid_file) != pid:
            return 0
        clock.sleep(0.05)
    sys.stderr.write(f"heartbeat: pid {pid} did not stop within {STOP_TIMEOUT_S} s\n")
    return 1


def reload(pid_file: str, run_dir: str) -> int:
    """``heartbeat -r`` once the configuration is checked: the reload is asked on the control
    socket, whose answer comes once the daemon has checked that the new configuration can run;
    a refusal ("reload refused, configuration kept: FILE:LINE:COL: ...") goes to stderr and
    exits 1 (3.0.6 sends SIGHUP and exits 0 whatever the daemon makes of it, issue 19).  A
    daemon that does not listen there (3.0.6's own, still running under our command line
    during an upgrade) gets the SIGHUP, as from 3.0.6, and the outcome is in its log."""
    from ..oneline import one_line
    from .control import ControlError, NotListening, request
    pid = running_pid(pid_file)
    if pid is None:
        print("heartbeat is stopped. No process")
        return 3
    try:
        answer = request(run_dir, "reload", timeout=RELOAD_TIMEOUT_S)
    except NotListening as error:
        sys.stderr.write(f"heartbeat: {error}: sent SIGHUP to pid {pid}, the outcome is in "
                         f"its log\n")
        os.kill(pid, signal.SIGHUP)
        return 0
    except ControlError as error:
        sys.stderr.write(f"heartbeat: reload of pid {pid}: {error}\n")
        return 1
    if not answer.get("ok"):
        sys.stderr.write(f"heartbeat: {one_line(str(answer.get('error')))}\n")
        return 1
    return 0
