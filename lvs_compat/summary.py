"""What a checked configuration means, in words an operator reads.

Pure functions over the parsed models: which IPVS entries the ``lvs.alert``
lines of mon.cf imply, and a text summary of mon.cf and the ha.d directory
ending with what the cluster will do.  ``lvs-compat check`` prints it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .config.errors import ConfigError, ConfigWarning, Location
from .lvsalert.options import UsageError, parse_argv, seed_ipvsadm_argv

FORWARDING_WORDS = {"gate": "direct routing", "masq": "NAT", "ipip": "tunnelling"}


@dataclass(frozen=True)
class CheckedFiles:
    mon_cf: object | None  # lvs_compat.config.moncf.MonConfig
    ha: object | None  # lvs_compat.config.hadir.HaDirectory

    def warnings(self) -> tuple[ConfigWarning, ...]:
        found: tuple[ConfigWarning, ...] = ()
        for model in (self.mon_cf, self.ha):
            if model is not None:
                found += tuple(model.warnings)
        return found


@dataclass(frozen=True)
class ImpliedIpvsEntry:
    """One real server that an lvs.alert line removes (alert) or adds (upalert)."""

    watch: str
    service: str
    alert_kind: str  # "alert" or "upalert"
    protocol: str
    virtual_service: str
    real_server: str
    weight: int | None
    forwarding: str
    ipvsadm_argv: tuple[str, ...]
    location: Location


def implied_ipvs_entries(mon_cf) -> tuple[list[ImpliedIpvsEntry], list[ConfigError]]:
    """The IPVS changes mon.cf's lvs.alert lines would make, and lines lvs.alert would refuse."""
    from .config.moncf import LVS_ALERT  # loaded with mon.cf; `lvs-compat --help` need not pay

    entries: list[ImpliedIpvsEntry] = []
    errors: list[ConfigError] = []
    for watch, service, line in mon_cf.lvs_alert_lines():
        # mon puts -u before the user's arguments for an upalert (SPEC §2.2).
        argv = (["-u"] if line.kind == "upalert" else []) + list(line.args)
        try:
            request = parse_argv(argv)
        except UsageError as error:
            errors.append(ConfigError(line.location, f"{line.kind} {LVS_ALERT}: {error}"))
            continue
        entries.append(ImpliedIpvsEntry(
            watch=watch.name,
            service=service.name,
            alert_kind=line.kind,
            protocol=request.protocol,
            virtual_service=str(request.virtual_service),
            real_server=str(request.real_server),
            weight=request.weight,
            forwarding=request.forwarding,
            ipvsadm_argv=tuple(["ipvsadm", *seed_ipvsadm_argv(request)]),
            location=line.location,
        ))
    return entries, errors


def _seconds(value: float | None) -> str:
    if value is None:
        return "never (no interval)"
    return f"{value:g}s"


def _ms(value: int) -> str:
    return f"{value} ms"


def render_mon_cf(mon_cf, entries: list[ImpliedIpvsEntry]) -> list[str]:
    lines = [f"mon.cf: {mon_cf.path}"]
    lines.append("  hostgroups:")
    for group in mon_cf.hostgroups:
        lines.append(f"    {group.name}: {' '.join(group.hosts) or '(empty)'}")
    lines.append("  services:")
    for watch in mon_cf.watches:
        for service in watch.services:
            monitor = "(none: trap only)"
            if service.monitor is not None:
                monitor = " ".join([service.monitor.name, *service.monitor.args])
            lines.append(f"    {watch.name}/{service.name}: every {_seconds(service.interval_seconds)}, "
                         f"monitor {monitor}")
            for period in service.periods:
                lines.append(f"      period {period.key or '(always)'}")
                for alert in period.alerts:
                    lines.append(f"        {alert.kind} {' '.join([alert.name, *alert.args])}")
    lines.append("  IPVS entries implied by lvs.alert lines:")
    if not entries:
        lines.append("    (none)")
    for entry in entries:
        action = "removes" if entry.alert_kind == "alert" else "adds"
        lines.append(f"    {entry.watch}/{entry.service} {entry.alert_kind} {action} "
                     f"{entry.protocol.upper()} {entry.virtual_service} -> {entry.real_server}"
                     + (f" weight {entry.weight}" if entry.weight is not None else "")
                     + f" ({FORWARDING_WORDS[entry.forwarding]}): {' '.join(entry.ipvsadm_argv)}")
    return lines


def _describe_medium(medium) -> str:
    fields = [f"{name} {value}" for name, value in vars(medium).items()
              if name not in ("location", "kind") and value is not None]
    return f"{medium.kind}: " + ", ".join(fields)


def _node_names(nodes) -> list[str]:
    return [node.name for node in nodes]


def render_ha(ha) -> list[str]:
    config = ha.ha_cf
    lines = [f"heartbeat: {ha.directory} (read {os.path.basename(ha.config_path)})"]
    lines.append(f"  nodes: {' '.join(_node_names(config.nodes))}")
    lines.append("  media:")
    lines.extend(f"    {_describe_medium(medium)}" for medium in config.media)
    lines.append(f"  keepalive {_ms(config.keepalive_ms)}, deadtime {_ms(config.deadtime_ms)}, "
                 f"warntime {_ms(config.warntime_ms)}, initdead {_ms(config.initdead_ms)}")
    lines.append(f"  auto_failback: {config.auto_failback}")
    if ha.authkeys is not None:
        active = ha.authkeys.active
        lines.append(f"  authkeys: auth {active.index} ({active.method})")
    else:
        lines.append("  authkeys: missing")
    lines.append("  resource groups (start order; stop is the reverse):")
    groups = ha.haresources.groups if ha.haresources is not None else ()
    if not groups:
        lines.append("    (none)")
    for group in groups:
        lines.append(f"    {group.node}: " + " -> ".join(_describe_resource(r) for r in group.start_order))
    return lines


def _describe_resource(resource) -> str:
    return " ".join([resource.name, *resource.args])


def render_story(checked: CheckedFiles, entries: list[ImpliedIpvsEntry]) -> list[str]:
    """What the cluster will do, in the order an operator would watch it happen."""
    lines = ["What the cluster will do:"]
    ha = checked.ha
    if ha is not None:
        config = ha.ha_cf
        groups = ha.haresources.groups if ha.haresources is not None else ()
        for group in groups:
            others = [name for name in _node_names(config.nodes) if name != group.node] or ["(no other node)"]
            lines.append(f"  - {group.node} starts {', '.join(_describe_resource(r) for r in group.start_order)} "
                         f"(left to right); {', '.join(others)} stands by.")
            addresses = [r.ip_address.ip for r in group.resources if r.ip_address is not None]
            takeover = f" and announces {', '.join(addresses)} with gratuitous ARP" if addresses else ""
            lines.append(f"  - If {group.node} is silent for {_ms(config.deadtime_ms)} (deadtime), "
                         f"{others[0]} takes the group over{takeover}.")
            if config.auto_failback in ("on", "legacy"):
                lines.append(f"  - When {group.node} comes back it takes the group back "
                             f"(auto_failback {config.auto_failback}).")
            else:
                lines.append(f"  - When {group.node} comes back the group stays where it is (auto_failback off).")
        lines.append(f"  - Heartbeats go out every {_ms(config.keepalive_ms)}; a late one is reported after "
                     f"{_ms(config.warntime_ms)}; after a reboot a node waits {_ms(config.initdead_ms)} "
                     "(initdead) before declaring the other dead.")
    for entry in entries:
        when = "fails" if entry.alert_kind == "alert" else "recovers"
        lines.append(f"  - When {entry.watch}/{entry.service} {when}, lvs.alert runs "
                     f"`{' '.join(entry.ipvsadm_argv)}`.")
    return lines if len(lines) > 1 else []


def render_summary(checked: CheckedFiles) -> str:
    sections: list[list[str]] = []
    # Computed once: render_mon_cf and render_story both list them.
    entries, _ = implied_ipvs_entries(checked.mon_cf) if checked.mon_cf is not None else ([], [])
    if checked.mon_cf is not None:
        sections.append(render_mon_cf(checked.mon_cf, entries))
    if checked.ha is not None:
        sections.append(render_ha(checked.ha))
    story = render_story(checked, entries)
    if story:
        sections.append(story)
    return "".join("\n".join(section) + "\n\n" for section in sections)
