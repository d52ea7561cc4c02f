"""lvs.alert's main(): mon's verdict in, one IPVS change (or none) out.

Exit status: 0 done (or nothing to do), 1 ipvsadm failed (its own message is
printed) or the lock could not be taken, 2 bad arguments (nothing run), 3 timed
out: ipvsadm hung and was killed (the table may or may not have changed), or
the table lock stayed taken (nothing changed); see ``ipvs`` for the bounds.

Order of events: mon launches up to ``maxprocs`` alerts at once and never
waits for them (../shared/reference/mon/SPEC.md §2.5), so a slow "down" could
finish after the "up" that followed it.  Every change is made under
``ipvs.TableLock``, and the order of the last verdict applied to each real
server is kept in ``RUN_DIR/lvs.alert.verdicts``: a verdict older than that
one is skipped, so the table ends as the newest verdict says.  Verdicts with
the same ``-t`` apply in the order they get the lock.

The order is not mon's ``-t`` itself: ``-t`` is wall-clock time, and one
verdict stamped ahead of the clock (the clock stepped back, or a hand run
with a future ``-t``) would make every later verdict for that server look
older until the clock caught up, leaving a dead server in the table.  Each
verdict is placed on the boot clock instead (CLOCK_BOOTTIME: never steps,
and /run is emptied at boot with it): ``boot now - (wall now - -t)``, the
verdict's age taken from the wall clock only over the instant between mon's
stamp and our start, and never negative, so no verdict is placed after the
moment its alert runs (``verdict_order``).
"""

import posix  # not os: start-up cost, see lvs_compat/ipvs.py
import sys
import time  # built into the interpreter: no import cost

from lvs_compat import ipvs
from lvs_compat.files import open_regular
from lvs_compat.oneline import one_line
from lvs_compat.lvsalert import policy
from lvs_compat.lvsalert.options import LvsAlertOptions, UsageError, parse_argv

PROGRAM = "lvs.alert"
VERDICTS_FILE = "lvs.alert.verdicts"


class SyslogAndStderr:
    """Each change: one syslog line (ident lvs.alert, the -L facility) and the same on stderr."""

    def __init__(self, facility: str):
        import syslog  # a C extension: cheap, unlike logging's handlers

        self.syslog = syslog
        syslog.openlog(PROGRAM, syslog.LOG_PID, getattr(syslog, f"LOG_{facility.upper()}"))

    def __call__(self, priority: str, line: str) -> None:
        line = one_line(line)
        self.syslog.syslog(getattr(self.syslog, f"LOG_{priority.upper()}"), line)
        sys.stderr.write(f"{PROGRAM}: {line}\n")


def drain_stdin() -> None:
    """mon writes the monitor's output to our stdin (SPEC §2.3); read and ignore it."""
    try:
        if posix.isatty(0):
            return
        while posix.read(0, 65536):
            pass
    except OSError:  # stdin closed or not readable: nothing to drain
        pass


# Two verdicts whose orders differ by less than this count as the same -t second (-t is whole
# seconds; the two clock readings of one alert are microseconds apart).
SAME_SECOND = 0.5


class SystemClock:
    """The two readings ``verdict_order`` needs; a test passes its own."""

    def wall(self) -> float:
        return time.time()

    def boot(self) -> float:
        return time.clock_gettime(time.CLOCK_BOOTTIME)


def verdict_order(event_time: int, wall_now: float, boot_now: float) -> float:
    """Where mon's verdict stamped ``event_time`` (wall clock, -t) falls on the boot clock.

    Its age is ``wall_now - event_time``, clamped at 0: a stamp ahead of the clock (set back
    since, or a hand run) is placed now, never in the future, so it cannot hide later verdicts.
    """
    return boot_now - max(0.0, wall_now - event_time)


def verdict_key(request: LvsAlertOptions) -> str:
    server = request.ipvsadm_real_server.with_port(request.virtual_service.port)
    return f"{request.protocol} {request.virtual_service} {server}"


class Verdicts:
    """RUN_DIR/lvs.alert.verdicts: ``PROTO VIP:PORT RIP:PORT ORDER EPOCH up|down`` per real
    server (ORDER from ``verdict_order``, EPOCH mon's -t, for the log).  Lines in the older
    five-word format (-t only, which cannot be compared with an ORDER) are dropped.

    Used only under the table lock.  Rewritten in place (pwrite + ftruncate)
    rather than by rename: on ext4 a rename over a file forces a flush
    (auto_da_alloc), which cost 0.4 ms per alert where /run is not a tmpfs.
    A torn write loses at most ordering information, never the table.
    """

    def __init__(self, path: str):
        self.fd = open_regular(path, posix.O_RDWR | posix.O_CREAT, 0o644)  # never via a symlink
        data = b""
        while chunk := posix.read(self.fd, 65536):
            data += chunk
        self.latest: dict[str, tuple[float, int, str]] = {}  # key: (order, -t, up|down)
        for line in data.decode(errors="replace").splitlines():
            words = line.split()
            if len(words) != 6 or not words[4].isdigit():
                continue
            try:
                order = float(words[3])
            except ValueError:
                continue
            self.latest[" ".join(words[:3])] = (order, int(words[4]), words[5])

    def save(self) -> None:
        text = "".join(f"{key} {order:.6f} {when} {verdict}\n"
                       for key, (order, when, verdict) in sorted(self.latest.items()))
        data = text.encode()
        posix.pwrite(self.fd, data, 0)
        posix.ftruncate(self.fd, len(data))

    def close(self) -> None:
        posix.close(self.fd)


def apply(request: LvsAlertOptions, ipvsadm: ipvs.Ipvsadm, log) -> None:
    """Make the table say what the verdict says; IpvsadmError if ipvsadm fails."""
    first = policy.first_attempt(request)
    try:
        ipvsadm.run(first.args)
        log("notice", first.description)
        return
    except ipvs.IpvsadmError as refused:
        first_failure = refused
    try:
        table = ipvsadm.read_table()
    except ipvs.IpvsadmError:
        raise first_failure from None
    decision = policy.plan(request, table)
    if not decision.explained:
        if decision.note:
            log("err", decision.note)
        raise first_failure
    if not decision.changes:
        log("info", decision.note)
    for change in decision.changes:
        ipvsadm.run(change.args)
        log("notice", change.description)


def main(argv: list[str] | None = None, log=None, clock=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        request = parse_argv(argv)
    except UsageError as error:
        sys.stderr.write(f"{PROGRAM}: {one_line(str(error))}\n")
        return 2
    drain_stdin()
    where = "/".join(part for part in (request.group, request.service) if part)
    prefix = f"{request.event} {where}: " if where else f"{request.event}: "
    sink = log or SyslogAndStderr(request.syslog_facility)

    def event_log(priority: str, line: str) -> None:
        sink(priority, prefix + line)

    try:
        run_dir = ipvs.run_dir()
    except ipvs.UntrustedPath as error:
        event_log("err", str(error))
        return 1
    if request.event_time is not None:
        # Read before waiting for the lock: a stamp ahead of the clock is placed when its alert
        # started, not when it got the lock after later verdicts.
        clock = clock or SystemClock()
        order = verdict_order(request.event_time, clock.wall(), clock.boot())
    try:
        with ipvs.TableLock(run_dir):
            if request.event_time is None:  # run by hand: no order to keep
                apply(request, ipvs.Ipvsadm(), event_log)
                return 0
            verdicts = Verdicts(ipvs.join_path(run_dir, VERDICTS_FILE))
            try:
                key = verdict_key(request)
                newest = verdicts.latest.get(key)
                if newest is not None and newest[0] > order + SAME_SECOND:
                    event_log("notice", f"ignored: a newer verdict ({newest[2]} at -t {newest[1]}) "
                                        f"for {request.real_server} was already applied")
                    return 0
                apply(request, ipvs.Ipvsadm(), event_log)
                verdicts.latest[key] = (order, request.event_time, "up" if request.up else "down")
                verdicts.save()
            finally:
                verdicts.close()
    except ipvs.IpvsadmTimeout as error:
        event_log("err", f"{error.command} timed out: {error.message}")
        return 3
    except ipvs.IpvsadmError as error:
        event_log("err", f"{error.command} failed (exit {error.status}): {error.message}")
        return 1
    except ipvs.LockTimeout as error:
        event_log("err", f"timed out waiting for the table lock: {error}")
        return 3
    except OSError as error:
        event_log("err", f"cannot lock or record under {run_dir}: {error}")
        return 1
    return 0
