"""ha.d + mon.cf -> one keepalived.conf per director.

The mapping (../shared/reference/outgrow/REPORT.md §3 and §4, checked there with
``keepalived -t`` 2.2.7):

* each haresources group holding addresses -> a ``vrrp_instance``: the group's node gets the
  highest priority; auto_failback on/legacy -> that node ``state MASTER`` and preemption (the
  group goes home), off -> every node ``state BACKUP`` + ``nopreempt`` (it stays);
  ``advert_int`` = keepalive; the VIP with its mask and ``dev`` (keepalived adds a /32 without
  a mask, where IPaddr found the mask with findif);
* the ``upalert lvs.alert`` lines -> ``virtual_server`` blocks: ``-P`` protocol, ``-V`` address
  and port, one ``real_server`` per ``-R`` with ``-W`` weight, ``-F`` -> ``lb_kind`` DR/NAT/TUN,
  ``-S`` -> ``lb_algo`` (ipvsadm's default wlc otherwise), ``-Q`` -> ``inhibit_on_failure``.
  protocol, lb_kind and lb_algo are always written: keepalived defaults them silently (UDP,
  NAT, wlc);
* the service's monitor -> the real server's checker: http.monitor -> ``HTTP_GET`` (``-u`` path,
  the status codes http.monitor accepts, ``-p`` port, ``-t`` timeout, the hostgroup member as
  ``virtualhost``), ftp.monitor / tcp.monitor -> ``TCP_CHECK``, fping.monitor -> ``PING_CHECK``;
  ``delay_loop`` = the service's interval; ``retry`` from ``alertafter`` (0 without: mon alerts
  on the first failure, keepalived's default is 1).

keepalived has no resource scripts and no membership: the other resources of a group (``lvs``,
``mon``, ...) are replaced by the virtual_server blocks and checkers, which then run on both
directors.  Each of these differences is a located warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.errors import Location
from . import (APPROXIMATE, NO_EQUIVALENT, Export, ExportFile, ExportWarning, directive_location,
               sorted_warnings)
from .pacemaker import _netmask_bits

FIRST_ROUTER_ID = 51
HOME_PRIORITY = 150
OTHER_PRIORITY = 100
LB_KIND = {"gate": "DR", "masq": "NAT", "ipip": "TUN"}
HTTP_STATUS_CODES = "200 301-302 401"  # what http.monitor counts as up
DEFAULT_INTERFACE = "eth0"


def _file_name(node: str) -> str:
    return f"keepalived-{node}.conf"


# ---------------------------------------------------------------------------------------------
# VRRP


def _interface(ha_cf) -> str | None:
    media = [m for m in ha_cf.media if hasattr(m, "interface")]
    return media[0].interface if media else None


def _vrrp_blocks(ha, warnings: list[ExportWarning]) -> dict[str, list[str]]:
    ha_cf = ha.ha_cf
    nodes = [node.name for node in ha_cf.nodes]
    blocks: dict[str, list[str]] = {name: [] for name in nodes}
    advert_s = max(1, round(ha_cf.keepalive_ms / 1000))
    keepalive_at = directive_location(ha_cf, "keepalive")
    if advert_s * 1000 != ha_cf.keepalive_ms:
        warnings.append(ExportWarning(keepalive_at, APPROXIMATE, f"keepalive {ha_cf.keepalive_ms} ms "
                                      f"-> advert_int {advert_s} (whole seconds in VRRPv2)"))
    failover_ms = 3 * advert_s * 1000 + 1000  # VRRP: 3 x advert_int + skew (under 1 s)
    warnings.append(ExportWarning(directive_location(ha_cf, "deadtime"), APPROXIMATE,
                                  f"deadtime {ha_cf.deadtime_ms} ms has no keepalived setting: a "
                                  f"backup takes over after 3 x advert_int + skew, about {failover_ms} "
                                  f"ms here (advert_int {max(1, round(ha_cf.deadtime_ms / 3000))} "
                                  "would keep the deadtime instead)"))
    for directive in ("warntime", "initdead", "udpport", "hopfudge"):
        at = directive_location(ha_cf, directive)
        if at.line:
            warnings.append(ExportWarning(at, NO_EQUIVALENT, f"{directive}: VRRP has no such "
                                          "setting; dropped"))
    for medium in ha_cf.media:
        if medium.kind == "serial":
            warnings.append(ExportWarning(medium.location, NO_EQUIVALENT, f"serial {medium.device}: "
                                          "VRRP runs over IP only; this path is lost"))
        elif medium.kind in ("ucast", "mcast", "ucast6", "mcast6"):
            warnings.append(ExportWarning(medium.location, APPROXIMATE, f"{medium.kind}: VRRP "
                                          "advertises to 224.0.0.18 (IP protocol 112) on the "
                                          "instance's interface; unicast_peer would need addresses"))
    if ha.authkeys is not None:
        active = ha.authkeys.active
        warnings.append(ExportWarning(active.location, NO_EQUIVALENT, f"authkeys {active.method}: "
                                      "VRRP authentication is a clear-text password (PASS) or the "
                                      "deprecated AH, not equivalent: none written"))
    warnings.append(ExportWarning(Location(ha_cf.path), NO_EQUIVALENT, "keepalived has no fencing "
                                  "and no quorum: a lost link makes two MASTERs holding the VIP"))

    failback_off = ha_cf.auto_failback == "off"
    fallback_interface = _interface(ha_cf)
    groups = ha.haresources.groups if ha.haresources is not None else ()
    for number, group in enumerate(groups):
        addresses = [r for r in group.resources if r.ip_address is not None]
        for resource in group.resources:
            if resource.ip_address is None:
                _warn_resource(resource, warnings)
        if not addresses:
            warnings.append(ExportWarning(group.location, NO_EQUIVALENT, f"group {group.key} has no "
                                          "address: keepalived has nothing to fail over"))
            continue
        lines = []
        instance_interface = None
        for resource in addresses:
            spec = resource.ip_address
            interface = spec.nic or fallback_interface
            if interface is None:
                interface = DEFAULT_INTERFACE
                warnings.append(ExportWarning(resource.location, APPROXIMATE, f"{resource.raw}: no "
                                              f"interface known; {DEFAULT_INTERFACE} written"))
            instance_interface = instance_interface or interface
            bits = _netmask_bits(spec.cidr_netmask) if spec.cidr_netmask else None
            if bits is None:
                warnings.append(ExportWarning(resource.location, APPROXIMATE, f"{resource.raw}: no "
                                              "netmask in haresources: keepalived adds the address as "
                                              "/32 (IPaddr found the mask with findif); write "
                                              "IP/BITS in haresources"))
            brd = f" brd {spec.broadcast}" if spec.broadcast else ""
            lines.append(f"        {spec.ip}/{bits or 32}{brd} dev {interface}")
        router_id = FIRST_ROUTER_ID + number
        for index, node in enumerate(nodes):
            home = node == group.node
            priority = HOME_PRIORITY if home else OTHER_PRIORITY - index
            state = "MASTER" if home and not failback_off else "BACKUP"
            block = [f"vrrp_instance VI_{router_id} {{", f"    state {state}",
                     f"    interface {instance_interface}", f"    virtual_router_id {router_id}",
                     f"    priority {priority}", f"    advert_int {advert_s}"]
            if failback_off:
                block.append("    nopreempt")
            block += ["    virtual_ipaddress {", *lines, "    }", "}", ""]
            blocks[node] += block
    if failback_off:
        warnings.append(ExportWarning(directive_location(ha_cf, "auto_failback"), APPROXIMATE,
                                      "auto_failback off -> state BACKUP and nopreempt on every "
                                      "director: the higher priority wins only at a cold start"))
    return blocks


def _warn_resource(resource, warnings: list[ExportWarning]) -> None:
    if resource.name == "lvs":
        text = ("lvs -> virtual_server blocks from mon.cf's lvs.alert lines; keepalived builds the "
                "table on every director, not only on the active one")
        kind = APPROXIMATE
    elif resource.name == "mon":
        text = ("mon -> keepalived checkers (below); they run on every director, so real servers "
                "are probed twice, and mon's other alerts are gone")
        kind = APPROXIMATE
    else:
        text = (f"{resource.raw}: keepalived runs no resource scripts (notify_master / "
                "notify_backup could call it); not exported")
        kind = NO_EQUIVALENT
    warnings.append(ExportWarning(resource.location, kind, text))


# ---------------------------------------------------------------------------------------------
# virtual servers and checkers


@dataclass
class _RealServer:
    address: str
    port: int
    weight: int
    quiesce: bool
    checker: list[str]
    location: Location


@dataclass
class _VirtualServer:
    protocol: str
    address: str
    port: int
    scheduler: str
    forwarding: str
    delay_loop_s: int
    location: Location
    real_servers: dict[str, _RealServer] = field(default_factory=dict)


def _seconds(value: float | None, default: int) -> int:
    return default if value is None else max(1, round(value))


def _checker(service, hosts, real_address: str, port: int, retry: int, line,
             warnings: list[ExportWarning]) -> list[str]:
    """The checker block for one real server, from the service's mon monitor."""
    from ..getopt_std import getopts

    monitor = service.monitor
    if monitor is None:
        warnings.append(ExportWarning(service.location, NO_EQUIVALENT, f"service {service.name} has "
                                      "no monitor: no checker, the real server is always in"))
        return []
    name = monitor.name.rsplit("/", 1)[-1]
    specs = {"http.monitor": "p:t:u:a:m:o", "ftp.monitor": "p:t:", "tcp.monitor": "p:t:",
             "fping.monitor": "ahr:s:t:T"}
    if name not in specs:
        warnings.append(ExportWarning(monitor.location, NO_EQUIVALENT, f"monitor {name}: no "
                                      "keepalived checker; MISC_CHECK could run it (with "
                                      "enable_script_security); the real server is always in"))
        return []
    options, _, _ = getopts(list(monitor.args), specs[name])
    timeout = str(options.get("t") or "")
    timeout_line = [f"            connect_timeout {timeout}"] if timeout.isdigit() else []
    host = next(iter(hosts), None)
    if len(hosts) > 1:
        warnings.append(ExportWarning(line.location, APPROXIMATE, f"hostgroup of {service.name} has "
                                      f"{len(hosts)} hosts and this line one -R: keepalived checks "
                                      f"only {real_address}"))
    elif host is not None and host != real_address:
        warnings.append(ExportWarning(line.location, APPROXIMATE, f"mon checks {host}, keepalived "
                                      f"checks the real server {real_address}"
                                      + (" (Host: header kept as virtualhost)" if name == "http.monitor"
                                         else "")))
    if name == "http.monitor":
        check_port = str(options.get("p") or port)
        block = ["        HTTP_GET {", "            url {",
                 f"                path {options.get('u') or '/'}",
                 f"                status_code {HTTP_STATUS_CODES}", "            }",
                 f"            connect_port {check_port}", *(timeout_line or
                                                              ["            connect_timeout 30"])]
        if host is not None and host != real_address:
            block.append(f"            virtualhost {host}")
        for letter, what in (("m", "-m regex"), ("a", "-a user agent"), ("o", "-o")):
            if letter in options:
                warnings.append(ExportWarning(monitor.location, NO_EQUIVALENT, f"http.monitor {what}: "
                                              "not carried to HTTP_GET"))
    elif name in ("ftp.monitor", "tcp.monitor"):
        default_port = "21" if name == "ftp.monitor" else str(port)
        block = ["        TCP_CHECK {", f"            connect_port {options.get('p') or default_port}",
                 *timeout_line]
        if name == "ftp.monitor":
            warnings.append(ExportWarning(monitor.location, APPROXIMATE, "ftp.monitor -> TCP_CHECK: "
                                          "the connection is checked, not the 220 greeting"))
    else:
        block = ["        PING_CHECK {"]
        warnings.append(ExportWarning(monitor.location, APPROXIMATE, "fping.monitor -> PING_CHECK: "
                                      "one ICMP echo per real server, fping's -r/-t not carried"))
    return [*block, f"            retry {retry}", "        }"]


def _virtual_servers(mon_cf, warnings: list[ExportWarning]) -> list[_VirtualServer]:
    from ..lvsalert.options import UsageError, parse_argv

    groups = {group.name: group.hosts for group in mon_cf.hostgroups}
    servers: dict[tuple[str, str, int], _VirtualServer] = {}
    for watch, service, line in mon_cf.lvs_alert_lines():
        if line.kind != "upalert":
            continue  # the down line's removal is the checker's failure
        try:
            request = parse_argv(["-u", *line.args])
        except UsageError:
            continue  # lvs-compat check reported it; the export never gets here
        vip = request.virtual_service
        key = (request.protocol, vip.address, vip.port)
        virtual = servers.get(key)
        interval = _seconds(service.interval_seconds, 60)
        if virtual is None:
            virtual = servers[key] = _VirtualServer(request.protocol, vip.address, vip.port,
                                                    request.scheduler, request.forwarding, interval,
                                                    line.location)
        elif request.forwarding != virtual.forwarding or request.scheduler != virtual.scheduler:
            warnings.append(ExportWarning(line.location, APPROXIMATE, f"-F/-S differ from "
                                          f"{virtual.location}: keepalived sets lb_kind and lb_algo "
                                          "per virtual_server; the first is kept"))
        port = request.real_server.port or vip.port
        if request.forwarding == "gate" and port != vip.port:
            warnings.append(ExportWarning(line.location, APPROXIMATE, f"-R port {port} with -F dr: "
                                          f"direct routing cannot change the port; {vip.port} written"))
            port = vip.port
        period = next(p for p in service.periods if line in p.alerts)
        retry = (period.alertafter_consecutive or 1) - 1
        hosts = tuple(h for h in groups.get(watch.name, ()) if h not in service.exclude_hosts)
        checker = _checker(service, hosts, request.real_server.address, port, retry, line, warnings)
        virtual.real_servers[request.real_server.address] = _RealServer(
            request.real_server.address, port, request.weight or 0, request.quiesce, checker,
            line.location)
    return list(servers.values())


def _mon_warnings(mon_cf, warnings: list[ExportWarning]) -> None:
    """What stays in mon.cf with no keepalived counterpart: other alerts, periods, pacing."""
    from ..config.moncf import LVS_ALERT

    for watch in mon_cf.watches:
        for service in watch.services:
            for period in service.periods:
                if period.key and period.key.replace(" ", "") not in ("wd{Sun-Sat}",):
                    warnings.append(ExportWarning(period.location, NO_EQUIVALENT, f"period "
                                                  f"{period.key}: keepalived checks at all times"))
                for attribute in ("alertevery_seconds", "numalerts", "alertafter_seconds"):
                    if getattr(period, attribute):
                        warnings.append(ExportWarning(period.location, NO_EQUIVALENT,
                                                      f"{attribute.split('_')[0]}: no keepalived "
                                                      "equivalent"))
                for alert in period.alerts:
                    if alert.name.rsplit("/", 1)[-1] != LVS_ALERT:
                        warnings.append(ExportWarning(alert.location, NO_EQUIVALENT, f"{alert.kind} "
                                                      f"{alert.name}: mon's alert chain is not "
                                                      "exported (keepalived's smtp_alert needs "
                                                      "smtp_server and a full address)"))
    for option in mon_cf.global_options:
        if option.name == "randstart":
            warnings.append(ExportWarning(option.location, APPROXIMATE, "randstart -> keepalived "
                                          "starts every checker after its delay_loop (warmup is "
                                          "the closest setting); not written"))


def _virtual_server_lines(virtual: _VirtualServer) -> list[str]:
    lines = [f"virtual_server {virtual.address} {virtual.port} {{",
             f"    delay_loop {virtual.delay_loop_s}", f"    lb_algo {virtual.scheduler}",
             f"    lb_kind {LB_KIND[virtual.forwarding]}", f"    protocol {virtual.protocol.upper()}"]
    for real in virtual.real_servers.values():
        lines += [f"    real_server {real.address} {real.port} {{", f"        weight {real.weight}"]
        if real.quiesce:
            lines.append("        inhibit_on_failure")
        lines += [line for line in real.checker]
        lines.append("    }")
    return [*lines, "}", ""]


def export_keepalived(ha, mon_cf, addresses: dict[str, str] | None = None) -> Export:
    """keepalived-NODE.conf for each node of ha.cf."""
    warnings: list[ExportWarning] = []
    blocks = _vrrp_blocks(ha, warnings)
    virtual_servers = _virtual_servers(mon_cf, warnings) if mon_cf is not None else []
    if mon_cf is not None:
        _mon_warnings(mon_cf, warnings)
    tail = [line for virtual in virtual_servers for line in _virtual_server_lines(virtual)]
    facility = ha.ha_cf.logfacility
    if facility and facility.startswith("local"):
        warnings.append(ExportWarning(directive_location(ha.ha_cf, "logfacility"), APPROXIMATE,
                                      f"logfacility {facility}: a daemon option, not a file setting: "
                                      f"run keepalived -S {facility[5:]} (DAEMON_ARGS)"))
    files = []
    for node, vrrp in blocks.items():
        head = ["global_defs {", f"    router_id {node.split('.')[0]}", "}", ""]
        files.append(ExportFile(_file_name(node), "\n".join(head + vrrp + tail).rstrip("\n") + "\n"))
    return Export("keepalived", tuple(files), sorted_warnings(warnings))
