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


def start(desired: Desired, ipvsadm: ipvs.Ipvsadm, built_path: str, say) -> None:
    enable_forwarding(desired)
    table = ipvsadm.read_table()
    for (protocol, endpoint), scheduler in desired.services.items():
        if table.find_service(protocol, endpoint) is None:
            ipvsadm.run(ipvs.add_service_args(protocol, endpoint, scheduler))
            say(f"created {protocol.upper()} {endpoint} (scheduler {scheduler})")
    table = ipvsadm.read_table()
    for (protocol, endpoint, server), (weight, forwarding) in desired.servers.items():
        present = table.find_service(protocol, endpoint).find(server)
        where = f"{protocol.upper()} {endpoint}"
        if present is None:
            ipvsadm.run(ipvs.add_real_server_args(protocol, endpoint, server, weight, forwarding))
            say(f"added {server} to {where} (weight {weight}, {forwarding})")
        elif (present.weight, present.forwarding) != (weight, forwarding):
            ipvsadm.run(ipvs.edit_real_server_args(protocol, endpoint, server, weight, forwarding))
            say(f"updated {server} in {where} (weight {weight}, {forwarding})")
    # O_EXCL | O_NOFOLLOW: the temporary file is never written through a symlink
    with open(create_new(f"{built_path}.tmp", 0o644), "w", encoding="utf-8") as built:
        built.writelines(f"{service_words(*key)}\n" for key in desired.services)
    os.replace(f"{built_path}.tmp", built_path)


def stop(services: list[tuple[str, ipvs.Endpoint]], ipvsadm: ipvs.Ipvsadm, built_path: str, say) -> None:
    table = ipvsadm.read_table()
    for protocol, endpoint in services:
        if table.find_service(protocol, endpoint) is not None:
            ipvsadm.run(ipvs.delete_service_args(protocol, endpoint))
            say(f"removed {protocol.upper()} {endpoint} and its real servers")
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

    from lvs_compat.config.errors import ConfigError
    from lvs_compat.config.moncf import load_mon_cf

    try:
        desired, errors = desired_table(load_mon_cf(mon_cf_path))
    except ConfigError as error:
        errors, desired = [str(error)], None
    if errors and action == "start":
        for message in errors:
            sys.stderr.write(f"{PROGRAM}: {message}\n")
        return 2
    ipvsadm = ipvs.Ipvsadm()
    try:
        with ipvs.TableLock(run_dir):
            built = read_built(built_path)
            if built is None:
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
    except OSError as error:
        sys.stderr.write(f"{PROGRAM}: {error}\n")
        return 1
    return 0
