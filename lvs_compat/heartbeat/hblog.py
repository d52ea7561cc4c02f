"""Heartbeat's log sinks (``logfacility``, ``logfile``, ``debugfile``), in the C format.

Lines look like the C daemon's (LAB, ha-log)::

    Nov 25 13:12:06 hbcnode1 heartbeat: [12]: info: Link hbcnode1:hb0 up.

* ``logfacility NAME``: syslog with ident ``heartbeat`` (``none`` = no syslog);
* ``logfile PATH``: every line of level info and above;
* ``debugfile PATH``: every line, debug included;
* with no sink configured the C daemon would use logd; we write to stderr instead.

The clock is injected (``clock.Clock``; its wall time stamps the lines).
"""

from __future__ import annotations

import os
import sys
import time

from .clock import SYSTEM_CLOCK, Clock

LEVELS = {"debug": 7, "info": 6, "WARN": 4, "ERROR": 3, "CRIT": 2}
_SYSLOG_PRIORITY = {"debug": 7, "info": 6, "WARN": 4, "ERROR": 3, "CRIT": 2}
_FACILITIES = {
    "kern": 0, "user": 8, "mail": 16, "daemon": 24, "auth": 32, "security": 32, "syslog": 40,
    "lpr": 48, "news": 56, "uucp": 64, "cron": 72, "authpriv": 80, "ftp": 88, "mark": 192,
    **{f"local{n}": 128 + 8 * n for n in range(8)}}


class HbLog:
    def __init__(self, *, node_name: str, logfacility: str | None = None,
                 logfile: str | None = None, debugfile: str | None = None,
                 debug_level: int = 0, stderr: bool = False, clock: Clock = SYSTEM_CLOCK):
        self.node_name = node_name
        self.logfile = logfile
        self.debugfile = debugfile
        self.debug_level = debug_level
        self.stderr = stderr or not (logfacility not in (None, "none") or logfile or debugfile)
        self.clock = clock
        self.syslog = None
        if logfacility not in (None, "none"):
            import syslog
            syslog.openlog("heartbeat", syslog.LOG_PID, _FACILITIES.get(logfacility, 24))
            self.syslog = syslog

    def line(self, level: str, text: str) -> str:
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime(self.clock.wall()))
        return f"{stamp} {self.node_name} heartbeat: [{os.getpid()}]: {level}: {text}\n"

    def __call__(self, level: str, text: str) -> None:
        if level == "debug" and self.debug_level <= 0:
            return
        text = text.replace("\n", " ")
        line = self.line(level, text)
        if self.debugfile:
            _append(self.debugfile, line)
        if level != "debug":
            if self.logfile:
                _append(self.logfile, line)
            if self.syslog is not None:
                self.syslog.syslog(_SYSLOG_PRIORITY.get(level, 6), f"{level}: {text}")
        if self.stderr:
            try:
                sys.stderr.write(line)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def info(self, text: str) -> None:
        self("info", text)

    def warn(self, text: str) -> None:
        self("WARN", text)

    def error(self, text: str) -> None:
        self("ERROR", text)

    def debug(self, text: str) -> None:
        self("debug", text)

    def debugfile_only(self, text: str) -> None:
        """Always into the debug file (if any), whatever the debug level: tracebacks."""
        if self.debugfile:
            _append(self.debugfile, self.line("debug", text))


def _append(path: str, line: str) -> None:
    try:
        with open(path, "a", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(line)
    except OSError:
        pass  # a log file that cannot be written must not stop the heartbeats
