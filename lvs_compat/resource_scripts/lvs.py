"""ha.d/resource.d/lvs: the seed's /etc/rc.d/init.d/lvs, built from mon.cf.

The seed's init script hard-codes the table (``ipvsadm -A -t 10.0.0.3:80``
and one ``-a`` per real server) that mon.cf's lvs.alert lines already
describe.  This resource script reads those lines instead, so mon.cf is the
one source of truth:

* ``start`` creates every virtual service named by an ``upalert lvs.alert``
  line (scheduler ``-S``, default wlc, as ipvsadm's ``-A`` without ``-s``)
  and adds each real server with the line's weight and method, editing one
  that is already there; like the seed it turns on IPv4 forwarding (and
  IPv6's when a service is IPv6).  It remembers what it built in
  ``/run/lvs-compat/lvs.resource``.
* ``stop`` deletes those virtual services (and so their real servers), not
  the whole table as the seed's ``ipvsadm -C`` did.

Each action is one ``ipvsadm -S`` to see the table, one ``ipvsadm -R`` with
every change (the seed forks one ipvsadm per entry: 1,100 for 100 services of
10 servers; bench/lvs_table.py), and one ``ipvsadm -S`` to check the result,
because ``ipvsadm -R`` goes on after a refused line and its exit status is
that of the last line only.  A ``start`` whose table is not complete
afterwards is undone (one more ``-R``): the table is left as it was before,
never half-built, and the first entry that did not take is named with
ipvsadm's own message.
* ``status`` prints ``running`` or ``stopped`` (heartbeat's ResourceManager
  reads that word) and exits 0 or 3 (LSB).

heartbeat calls ``lvs [ARGS] start|stop|status``; with ``lvs::/etc/mon/mon.cf``
in haresources the one argument is the mon.cf path, else /etc/mon/mon.cf,
else /etc/mon.cf, as mon looks for it.
"""

from __future__ import annotations

import os
import sys

from lvs_compat import ipvs
from lvs_compat.files import create_new
from lvs_compat.lvsalert.options import UsageError, parse_argv

PROGRAM = "lvs"
DEFAULT_MON_CF = ("/etc/mon/mon.cf", "/etc/mon.cf")
BUILT_FILE = "lvs.resource"
IP_FORWARD = {4: "/proc/sys/net/ipv4/ip_forward", 6: "/proc/sys/net/ipv6/conf/all/forwarding"}
USAGE = f"usage: {PROGRAM} [MON_CF] {{start|stop|status}}"


class Desired:
    """The table mon.cf's upalert lvs.alert lines describe."""

    def __init__(self):
        self.services: dict[tuple[str, ipvs.Endpoint], str] = {}  # -> scheduler
        self.servers: dict[tuple[str, ipvs.Endpoint, ipvs.Endpoint], tuple[int, str]] = {}


def desired_table(mon_cf) -> tuple[Desired, list[str]]:
    """What to build, and one message per lvs.alert line lvs.alert would refuse."""
    desired, errors = Desired(), []
    for _, _, line in mon_cf.lvs_alert_lines():
        if line.kind != "upalert":
            continue
        try:
            request = parse_argv(["-u", *line.args])
        except UsageError as error:
            where = line.location
            errors.append(f"{where.path}:{where.line}:{where.column}: upalert lvs.alert: {error}")
            continue
        service_key = (request.protocol, request.virtual_service)
        desired.services.setdefault(service_key, request.scheduler)
        server = request.ipvsadm_real_server.with_port(request.virtual_service.port)
        desired.servers[(*service_key, server)] = (request.weight, request.forwarding)
    return desired, errors


def find_mon_cf(args: list[str]) -> str:
    if args:
        return args[0]
    return next((path for path in DEFAULT_MON_CF if os.path.exists(path)), DEFAULT_MON_CF[0])


def service_words(protocol: str, endpoint: ipvs.Endpoint) -> str:
    return f"{protocol} {endpoint}"


def read_built(path: str) -> list[tuple[str, ipvs.Endpoint]] | None:
    try:
        with open(path, encoding="utf-8") as built:
            words = [line.split() for line in built if line.strip()]
    except FileNotFoundError:
        return None
    try:
        return [(protocol, ipvs.parse_endpoint(endpoint)) for protocol, endpoint in words]
    except ValueError:  # not written by us: fall back to mon.cf
        return None


def enable_forwarding(desired: Desired) -> None:
    versions = {6 if endpoint.is_ipv6 else 4 for _, endpoint in desired.services}
    for version in sorted(versions):
        with open(IP_FORWARD[version], "w") as knob:
            knob.write("1\n")


class Entry:
    """One change of ``start`` or ``stop``: its ipvsadm argv, what to say once it is done, and
    the state it leaves (``scheduler`` for a service; ``weight``/``forwarding`` None: absent)."""

    __slots__ = ("args", "message", "protocol", "endpoint", "server", "weight", "forwarding")

    def __init__(self, args, message, protocol, endpoint, server=None, weight=None, forwarding=None):
        self.args, self.message = args, message
        self.protocol, self.endpoint, self.server = protocol, endpoint, server
        self.weight, self.forwarding = weight, forwarding

    def in_effect(self, table: ipvs.IpvsTable) -> bool:
        service = table.find_service(self.protocol, self.endpoint)
        if self.server is None:  # a service created (args -A) or deleted (-D)
            return (service is None) == (self.args[0] == "-D")
        present = None if service is None else service.find(self.server)
        if self.weight is None:
            return present is None
        return present is not None and (present.weight, present.forwarding) == (self.weight, self.forwarding)


def plan_start(desired: Desired, table: ipvs.IpvsTable) -> list[Entry]:
    """The changes that make ``table`` hold ``desired``: services first, then real servers."""
    plan = []
    for (protocol, endpoint), scheduler in desired.services.items():
        if table.find_service(protocol, endpoint) is None:
            plan.append(Entry(ipvs.add_service_args(protocol, endpoint, scheduler),
                              f"created {protocol.upper()} {endpoint} (scheduler {scheduler})",
                              protocol, endpoint))
    for (protocol, endpoint, server), (weight, forwarding) in desired.servers.items():
        service = table.find_service(protocol, endpoint)
        present = None if service is None else service.find(server)
        where = f"{protocol.upper()} {endpoint}"
        if present is None:
            args = ipvs.add_real_server_args(protocol, endpoint, server, weight, forwarding)
            message = f"added {server} to {where} (weight {weight}, {forwarding})"
        elif (present.weight, present.forwarding) != (weight, forwarding):
            args = ipvs.edit_real_server_args(protocol, endpoint, server, weight, forwarding)
            message = f"updated {server} in {where} (weight {weight}, {forwarding})"
        else:
            continue
        plan.append(Entry(args, message, protocol, endpoint, server, weight, forwarding))
    return plan


def plan_undo(desired: Desired, before: ipvs.IpvsTable, now: ipvs.IpvsTable) -> list[list[str]]:
    """The ipvsadm argvs that put every entry ``desired`` names back as ``before`` had it."""
    undo = []
    for protocol, endpoint in desired.services:
        if before.find_service(protocol, endpoint) is None and now.find_service(protocol, endpoint):
            undo.append(ipvs.delete_service_args(protocol, endpoint))  # its servers go with it
    for protocol, endpoint, server in desired.servers:
        old_service, new_service = before.find_service(protocol, endpoint), now.find_service(protocol, endpoint)
        if old_service is None or new_service is None:
            continue
        old, new = old_service.find(server), new_service.find(server)
        if old is None and new is not None:
            undo.append(ipvs.delete_real_server_args(protocol, endpoint, server))
        elif old is not None and new is None:
            undo.append(ipvs.add_real_server_args(protocol, endpoint, old.endpoint, old.weight, old.forwarding))
        elif old is not None and (old.weight, old.forwarding) != (new.weight, new.forwarding):
            undo.append(ipvs.edit_real_server_args(protocol, endpoint, old.endpoint, old.weight, old.forwarding))
    return undo


class TableNotBuilt(Exception):
    """``start`` or ``stop`` did not reach its table; the message says where it stands."""


def apply(plan: list[Entry], ipvsadm: ipvs.Ipvsadm) -> tuple[ipvs.IpvsTable, list[Entry], str]:
    """Run ``plan`` as one ``ipvsadm -R``; the table afterwards, the entries not in effect in
    it and ipvsadm's own messages.  The table decides: ``-R``'s exit status cannot."""
    messages = ""
    try:
        ipvsadm.restore([entry.args for entry in plan])
    except ipvs.IpvsadmError as error:
        messages = f"{error.command} exited {error.status}: {error.message}"
    table = ipvsadm.read_table()
    return table, [entry for entry in plan if not entry.in_effect(table)], messages


def failed_entries(plan: list[Entry], missed: list[Entry], messages: str) -> str:
    first = missed[0]
    return (f"{len(missed)} of {len(plan)} entries did not take, the first "
            f"\"ipvsadm {' '.join(first.args)}\" (line {plan.index(first) + 1} of the -R batch): "
            f"{messages or 'ipvsadm said nothing'}")


def start(desired: Desired, ipvsadm: ipvs.Ipvsadm, built_path: str, say) -> None:
    enable_forwarding(desired)
    before = ipvsadm.read_table()
    plan = plan_start(desired, before)
    if plan:
        table, missed, messages = apply(plan, ipvsadm)
        if missed:
            report = failed_entries(plan, missed, messages)
            undo = plan_undo(desired, before, table)
            if undo:
                try:
                    ipvsadm.restore(undo)
                except ipvs.IpvsadmError:
                    pass  # the table below decides
                left = plan_undo(desired, before, ipvsadm.read_table())
                if left:
                    raise TableNotBuilt(f"{report}; undoing it failed too, {len(left)} entries still differ "
                                        f"from before start, the first \"ipvsadm {' '.join(left[0])}\" "
                                        "was not done")
            raise TableNotBuilt(f"{report}; undone: the table is as it was before start")
        if messages:  # complete, but ipvsadm had something to say
            sys.stderr.write(f"{PROGRAM}: warning: {messages}\n")
        for entry in plan:
            say(entry.message)
    # O_EXCL | O_NOFOLLOW: the temporary file is never written through a symlink
    with open(create_new(f"{built_path}.tmp", 0o644), "w", encoding="utf-8") as built:
        built.writelines(f"{service_words(*key)}\n" for key in desired.services)
    os.replace(f"{built_path}.tmp", built_path)


def stop(services: list[tuple[str, ipvs.Endpoint]], ipvsadm: ipvs.Ipvsadm, built_path: str, say) -> None:
    """Delete ``services``.  One the kernel keeps is reported and the record of what start
    built is kept, so that ``stop`` again removes the rest."""
    table = ipvsadm.read_table()
    plan = [Entry(ipvs.delete_service_args(protocol, endpoint),
                  f"removed {protocol.upper()} {endpoint} and its real servers", protocol, endpoint)
            for protocol, endpoint in services if table.find_service(protocol, endpoint) is not None]
    if plan:
        _, missed, messages = apply(plan, ipvsadm)
        if missed:
            raise TableNotBuilt(failed_entries(plan, missed, messages))
        if messages:
            sys.stderr.write(f"{PROGRAM}: warning: {messages}\n")
        for entry in plan:
            say(entry.message)
    try:
        os.unlink(built_path)
    except FileNotFoundError:
        pass


def is_running(services: list[tuple[str, ipvs.Endpoint]], ipvsadm: ipvs.Ipvsadm) -> bool:
    try:
        table = ipvsadm.read_table()
    except ipvs.IpvsadmError:
        return False
    return bool(services) and all(table.find_service(*key) is not None for key in services)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[-1] not in ("start", "stop", "status") or len(argv) > 2:
        sys.stderr.write(USAGE + "\n")
        return 2
    action, mon_cf_path = argv[-1], find_mon_cf(argv[:-1])
    try:
        run_dir = ipvs.run_dir()
    except ipvs.UntrustedPath as error:
        sys.stderr.write(f"{PROGRAM}: {error}\n")
        return 1
    built_path = os.path.join(run_dir, BUILT_FILE)

    def say(line: str) -> None:
        print(f"{PROGRAM}: {line}", flush=True)

    def load_desired() -> tuple[Desired | None, list[str]]:
        from lvs_compat.config.errors import ConfigError
        from lvs_compat.config.moncf import load_mon_cf

        try:
            return desired_table(load_mon_cf(mon_cf_path))
        except ConfigError as error:
            return None, [str(error)]

    desired = None
    if action == "start":
        desired, errors = load_desired()
        if errors:
            for message in errors:
                sys.stderr.write(f"{PROGRAM}: {message}\n")
            return 2
    ipvsadm = ipvs.Ipvsadm()
    try:
        with ipvs.TableLock(run_dir):
            built = read_built(built_path)
            if built is None:  # stop and status read mon.cf only when start left no record
                desired = desired or load_desired()[0]
                built = list(desired.services) if desired else []
            if action == "status":
                running = is_running(built, ipvsadm)
                print("running" if running else "stopped")
                return 0 if running else 3
            if action == "start":
                start(desired, ipvsadm, built_path, say)
            else:
                stop(built, ipvsadm, built_path, say)
    except ipvs.IpvsadmError as error:
        sys.stderr.write(f"{PROGRAM}: {error.command} failed (exit {error.status}): {error.message}\n")
        return 1
    except TableNotBuilt as error:
        sys.stderr.write(f"{PROGRAM}: {error}\n")
        return 1
    except OSError as error:
        sys.stderr.write(f"{PROGRAM}: {error}\n")
        return 1
    return 0
