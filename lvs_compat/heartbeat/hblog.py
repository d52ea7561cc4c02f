"""Heartbeat's log sinks (``logfacility``, ``logfile``, ``debugfile``), in the C format.

Lines look like the C daemon's (LAB, ha-log)::

    Nov 25 13:12:06 hbcnode1 heartbeat: [12]: info: Link hbcnode1:hb0 up.

* ``logfacility NAME``: syslog with ident ``heartbeat`` (``none`` = no syslog);
* ``logfile PATH``: every line of level info and above;
* ``debugfile PATH``: every line, debug included;
* with no sink configured the C daemon would use logd; we write to stderr instead.

The clock is injected (``clock.Clock``; its wall time stamps the lines).

The C daemon opens and closes its log file for every line, which is what lets Debian's
``/etc/logrotate.d/heartbeat`` rotate ``ha-log`` and ``ha-debug`` by renaming them with no
``postrotate`` signal and no ``copytruncate``.  We keep each file open instead (a flood of lines
must not cost an open and a close each, issue 19) and follow a rename the same way: at most once
a second (``ROTATION_CHECK_MS``, on the injected monotonic clock) the path is compared with the
open file (device and inode), and a path that now names another file, or none, is opened again.
``reopen()`` (SIGHUP) does it at once, for a logrotate configured with a ``postrotate`` kill -HUP;
``copytruncate`` also works, since the files are opened for appending.
"""

from __future__ import annotations

import os
import sys
import time

from .clock import SYSTEM_CLOCK, Clock

ROTATION_CHECK_MS = 1000

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
        self._files = {path: _LogFile(path) for path in (logfile, debugfile) if path}
        self._checked_ms: int | None = None
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
        self._follow_rotation()
        if self.debugfile:
            self._files[self.debugfile].write(line)
        if level != "debug":
            if self.logfile:
                self._files[self.logfile].write(line)
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
            self._follow_rotation()
            self._files[self.debugfile].write(self.line("debug", text))

    def reopen(self) -> None:
        """Open every log file again by its path (SIGHUP)."""
        for handle in self._files.values():
            handle.close()

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def _follow_rotation(self) -> None:
        now_ms = self.clock.now_ms()
        if self._checked_ms is not None and now_ms - self._checked_ms < ROTATION_CHECK_MS:
            return
        self._checked_ms = now_ms
        for handle in self._files.values():
            handle.close_if_renamed()


def open_for_append(path: str):
    """One home for opening a log file (a test counts the opens)."""
    return open(path, "a", encoding="utf-8", errors="surrogateescape")


class _LogFile:
    """One log file, opened at its first line and kept open until it is renamed or reopened."""

    def __init__(self, path: str):
        self.path = path
        self.handle = None

    def write(self, line: str) -> None:
        try:
            if self.handle is None:
                self.handle = open_for_append(self.path)
            self.handle.write(line)
            self.handle.flush()  # a line is on disk when logged, as with the C daemon
        except (OSError, ValueError):
            self.close()  # a log file that cannot be written must not stop the heartbeats

    def close_if_renamed(self) -> None:
        if self.handle is None:
            return
        try:
            here = os.stat(self.path)
            mine = os.fstat(self.handle.fileno())
        except (OSError, ValueError):
            self.close()
            return
        if (here.st_dev, here.st_ino) != (mine.st_dev, mine.st_ino):
            self.close()

    def close(self) -> None:
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError:
                pass
            self.handle = None
