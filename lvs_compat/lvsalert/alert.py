"""lvs.alert's main(): mon's verdict in, one IPVS change (or none) out.

Exit status: 0 done (or nothing to do), 1 ipvsadm failed (its own message is
printed) or the lock could not be taken, 2 bad arguments (nothing run).

Order of events: mon launches up to ``maxprocs`` alerts at once and never
waits for them (../shared/reference/mon/SPEC.md §2.5), so a slow "down" could
finish after the "up" that followed it.  Every change is made under
``ipvs.TableLock``, and the ``-t`` time of the last verdict applied to each
real server is kept in ``RUN_DIR/lvs.alert.verdicts``: a verdict older than
that one is skipped, so the table ends as the newest verdict says.  Verdicts
with the same ``-t`` apply in the order they get the lock.
"""

import posix  # not os: start-up cost, see lvs_compat/ipvs.py
import sys

from lvs_compat import ipvs
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


def verdict_key(request: LvsAlertOptions) -> str:
    server = request.ipvsadm_real_server.with_port(request.virtual_service.port)
    return f"{request.protocol} {request.virtual_service} {server}"


class Verdicts:
    """RUN_DIR/lvs.alert.verdicts: ``PROTO VIP:PORT RIP:PORT EPOCH up|down`` per real server.

    Used only under the table lock.  Rewritten in place (pwrite + ftruncate)
    rather than by rename: on ext4 a rename over a file forces a flush
    (auto_da_alloc), which cost 0.4 ms per alert where /run is not a tmpfs.
    A torn write loses at most ordering information, never the table.
    """

    def __init__(self, path: str):
        self.fd = posix.open(path, posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC, 0o644)
        data = b""
        while chunk := posix.read(self.fd, 65536):
            data += chunk
        self.latest: dict[str, tuple[int, str]] = {}
        for line in data.decode(errors="replace").splitlines():
            words = line.split()
            if len(words) == 5 and words[3].isdigit():
                self.latest[" ".join(words[:3])] = (int(words[3]), words[4])

    def save(self) -> None:
        text = "".join(f"{key} {when} {verdict}\n" for key, (when, verdict) in sorted(self.latest.items()))
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


def main(argv: list[str] | None = None, log=None) -> int:
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

    run_dir = ipvs.run_dir()
    try:
        with ipvs.TableLock(run_dir):
            if request.event_time is None:  # run by hand: no order to keep
                apply(request, ipvs.Ipvsadm(), event_log)
                return 0
            verdicts = Verdicts(ipvs.join_path(run_dir, VERDICTS_FILE))
            try:
                key = verdict_key(request)
                newest = verdicts.latest.get(key)
                if newest is not None and newest[0] > request.event_time:
                    event_log("notice", f"ignored: a newer verdict ({newest[1]} at -t {newest[0]}) "
                                        f"for {request.real_server} was already applied")
                    return 0
                apply(request, ipvs.Ipvsadm(), event_log)
                verdicts.latest[key] = (request.event_time, "up" if request.up else "down")
                verdicts.save()
            finally:
                verdicts.close()
    except ipvs.IpvsadmError as error:
        event_log("err", f"{error.command} failed (exit {error.status}): {error.message}")
        return 1
    except OSError as error:
        event_log("err", f"cannot lock or record under {run_dir}: {error}")
        return 1
    return 0
