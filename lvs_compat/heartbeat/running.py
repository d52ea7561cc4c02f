"""The running daemon, seen from the command line: ``heartbeat -s``, ``-k`` and ``-r`` find it
by its pid file and print what 3.0.6 prints."""

from __future__ import annotations

import os
import signal
import sys

from .clock import SYSTEM_CLOCK, Clock
from .statefiles import read_pid, running_pid

STOP_TIMEOUT_S = 60


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


def reload(pid_file: str) -> int:
    """``heartbeat -r``: SIGHUP to the running daemon."""
    pid = running_pid(pid_file)
    if pid is None:
        print("heartbeat is stopped. No process")
        return 3
    os.kill(pid, signal.SIGHUP)
    return 0
