"""ha.cf + haresources (+ authkeys) -> a Pacemaker CIB (XML, crm shell or pcs) and corosync.conf.

The mapping (../shared/reference/outgrow/REPORT.md §2 and §4, each line checked there with
crm_verify / crm_simulate / corosync -t on pacemaker 2.1.5 and corosync 3.1.7):

* ``node`` lines -> CIB ``<node id="N" uname=...>`` and the corosync nodelist, ids 1.. in ha.cf
  order (no ``type`` attribute: Pacemaker 3 refuses ``type=ping`` nodes);
* each haresources line -> one ``group`` in its order (a group is ordered and colocated, and
  stops in reverse, as ResourceManager did) plus ``rsc_location`` score 100 on its node;
* ``IPaddr``/``IPaddr2`` -> ``ocf:heartbeat:IPaddr2`` (ip, cidr_netmask, nic, broadcast),
  ``Filesystem::dev::dir::type[::options]`` -> ``ocf:heartbeat:Filesystem``, other scripts ->
  ``lsb:NAME`` (an LSB script has no arguments, and Pacemaker believes its ``status``), except
  ``lvs[::MON_CF]`` -> ``ocf:lvs-compat:lvs`` (the IPVS table from mon.cf; the agent is written
  beside the CIB, see ``ocf_agent.py``);
* ``auto_failback`` on/legacy -> ``resource-stickiness=0`` (the score 100 pulls the group
  home), off -> ``INFINITY`` (it stays where it runs).  Always written: some distributions
  pre-set a stickiness;
* ``ping``/``ping_group`` -> a clone of ``ocf:pacemaker:ping`` and, per group, a rule keeping it
  off nodes whose ``pingd`` is undefined or 0 (ipfail's job in heartbeat v1);
* no fencing in heartbeat v1 -> ``stonith-enabled=false``, loudly;
* ``initdead`` -> ``dc-deadtime``; two nodes -> corosync ``two_node: 1`` (never
  ``no-quorum-policy=ignore``);
* ``deadtime`` D -> corosync ``token`` D/2.2: corosync declares a node lost after token plus
  a consensus of 1.2 x token (measured 10.47 s for D = 10 s, as heartbeat's 10.61 s); with
  more than two nodes corosync adds ``token_coefficient`` (650 ms) per extra node, taken off.

No XML comments in the CIB: crmsh 4.4 cannot show a CIB whose comments hold a quote.  Every id
is derived from the input only, so two runs give the same bytes (diff-able).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from ..config.errors import Location
from . import (APPROXIMATE, NO_EQUIVALENT, Export, ExportFile, ExportWarning, directive_location,
               sorted_warnings)
from .ocf_agent import AGENT_FILE, AGENT_INSTALL_PATH, agent_text

CIB_SCHEMA = "pacemaker-3.9"  # Debian 12's newest; Pacemaker 3.x still reads and upgrades it
TOKEN_PER_DEADTIME = 2.2  # token + consensus (1.2 x token)
TOKEN_COEFFICIENT_MS = 650  # corosync's default, per node beyond two
MIN_TOKEN_MS = 1000
HOME_SCORE = 100
PING_MULTIPLIER = 1000
MONITOR = ("10s", "20s")  # interval, timeout of every primitive's monitor op
PING_MONITOR = ("10s", "60s")
FORMATS = ("xml", "crm", "pcs")
CIB_FILE = {"xml": "cib.xml", "crm": "cib.crm", "pcs": "cib.pcs.sh"}
COROSYNC_FILE = "corosync.conf"
# authkeys method -> corosync crypto_hash (knet); crc authenticates nothing
CRYPTO_HASH = {"sha1": "sha1", "md5": "md5", "crc": "none"}


@dataclass(frozen=True)
class Primitive:
    id: str
    standard: str  # "ocf" or "lsb"
    provider: str | None
    agent: str
    params: tuple[tuple[str, str], ...]
    location: Location

    @property
    def agent_spec(self) -> str:
        return ":".join(part for part in (self.standard, self.provider, self.agent) if part)


@dataclass(frozen=True)
class Group:
    id: str
    node: str
    primitives: tuple[Primitive, ...]
    location: Location


@dataclass(frozen=True)
class PingClone:
    host_list: tuple[str, ...]
    dampen_s: int


@dataclass(frozen=True)
class ClusterPlan:
    """What every output format says; built once, rendered four ways."""

    cluster_name: str
    nodes: tuple[tuple[int, str], ...]  # (nodeid, name)
    groups: tuple[Group, ...]
    stickiness: str
    dc_deadtime_s: int
    ping: PingClone | None


class _Ids:
    """XML ids (NCName) derived from names, unique within the CIB."""

    def __init__(self):
        self.taken: set[str] = set()

    def make(self, wanted: str) -> str:
        text = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in wanted)
        if not text[:1].isalpha() and text[:1] != "_":
            text = "r-" + text
        candidate, number = text, 2
        while candidate in self.taken:
            candidate, number = f"{text}-{number}", number + 1
        self.taken.add(candidate)
        return candidate


def _netmask_bits(text: str) -> str | None:
    """``24`` or ``255.255.255.0`` -> ``24``; None for a non-contiguous dotted mask."""
    if text.isdigit():
        return str(int(text))
    value = 0
    for part in text.split("."):
        value = value * 256 + int(part)
    bits = bin(value).count("1")
    return str(bits) if value == (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF else None


def _primitive(resource, ids: _Ids, warnings: list[ExportWarning]) -> Primitive:
    name, args, at = resource.name, resource.args, resource.location
    if resource.ip_address is not None:
        spec = resource.ip_address
        params = [("ip", spec.ip)]
        if spec.cidr_netmask is not None:
            bits = _netmask_bits(spec.cidr_netmask)
            if bits is None:
                warnings.append(ExportWarning(at, NO_EQUIVALENT, f"netmask {spec.cidr_netmask} is not "
                                              "contiguous: IPaddr2 takes a prefix length; dropped"))
            else:
                params.append(("cidr_netmask", bits))
        else:
            warnings.append(ExportWarning(at, APPROXIMATE, f"{resource.raw}: no netmask/interface in "
                                          "haresources: IPaddr2 finds them from the routing table "
                                          "(findif) as IPaddr did; write IP/BITS/NIC to pin them"))
        if spec.nic is not None:
            params.append(("nic", spec.nic))
        if spec.broadcast is not None:
            params.append(("broadcast", spec.broadcast))
        if name == "IPaddr":
            warnings.append(ExportWarning(at, APPROXIMATE, f"{resource.raw}: IPaddr (ifconfig alias) "
                                          "becomes ocf:heartbeat:IPaddr2 (ip addr, no alias label)"))
        return Primitive(ids.make(f"vip-{spec.ip}"), "ocf", "heartbeat", "IPaddr2", tuple(params), at)
    if name == "Filesystem":
        if not 2 <= len(args) <= 4:
            warnings.append(ExportWarning(at, APPROXIMATE, f"{resource.raw}: Filesystem takes "
                                          "device::directory[::fstype[::options]]; extra fields dropped"))
        params = tuple((key, value) for key, value in
                       zip(("device", "directory", "fstype", "options"), args))
        directory = args[1] if len(args) > 1 else "fs"
        return Primitive(ids.make(f"fs-{directory.strip('/') or 'root'}"), "ocf", "heartbeat",
                         "Filesystem", params, at)
    if name == "lvs":
        # the IPVS table: our OCF agent around lvs-compat's resource script (ocf_agent.py)
        params = (("mon_cf", args[0]),) if args else ()
        if len(args) > 1:
            warnings.append(ExportWarning(at, NO_EQUIVALENT, f"{resource.raw}: arguments after "
                                          f"{args[0]} dropped (lvs takes one: the mon.cf path)"))
        warnings.append(ExportWarning(at, APPROXIMATE, f"{resource.raw} -> ocf:lvs-compat:lvs, "
                                      f"monitored every {MONITOR[0]} (heartbeat v1 never checked it): "
                                      f"install {AGENT_FILE} as {AGENT_INSTALL_PATH} on every node"))
        return Primitive(ids.make(name), "ocf", "lvs-compat", "lvs", params, at)
    if args:
        warnings.append(ExportWarning(at, NO_EQUIVALENT, f"{resource.raw}: arguments "
                                      f"{'::'.join(args)} dropped: an LSB script is called as "
                                      f"/etc/init.d/{name} start|stop|status"))
    if name == "mon":
        hint = "Debian's /etc/init.d/mon has an LSB status (lvs-compat's resource.d/mon also does)"
    else:
        hint = (f"/etc/init.d/{name} must exist on every node and exit 0 (running) / 3 (stopped) "
                "on status")
    warnings.append(ExportWarning(at, APPROXIMATE, f"{resource.raw} -> lsb:{name}, monitored every "
                                  f"{MONITOR[0]} (heartbeat v1 never checked it): {hint}"))
    return Primitive(ids.make(name), "lsb", None, name, (), at)


def build_plan(ha, warnings: list[ExportWarning]) -> ClusterPlan:
    """The cluster the ha.d directory describes, plus warnings for what does not carry over."""
    ha_cf = ha.ha_cf
    ids = _Ids()
    nodes = tuple((number, node.name) for number, node in enumerate(ha_cf.nodes, 1))
    for _, name in nodes:
        ids.make(name)  # node unames are ids too in crm's view; keep resources off them
    groups = []
    for group in (ha.haresources.groups if ha.haresources is not None else ()):
        group_id = ids.make(f"grp-{group.key}")
        primitives = tuple(_primitive(r, ids, warnings) for r in group.start_order)
        groups.append(Group(group_id, group.node, primitives, group.location))

    failback_at = directive_location(ha_cf, "auto_failback")
    if ha_cf.auto_failback == "off":
        stickiness = "INFINITY"
    else:
        stickiness = "0"
        if ha_cf.auto_failback == "legacy":
            warnings.append(ExportWarning(failback_at, APPROXIMATE, "auto_failback legacy (the "
                                          "default) acts as on when every node runs it: exported as "
                                          "resource-stickiness=0, groups move home when it returns"))

    ping_hosts = tuple(node.name for node in ha_cf.ping_nodes)
    ping = None
    if ping_hosts:
        ping = PingClone(ping_hosts, max(1, ha_cf.deadping_ms // 1000))
        has_ipfail = any(child.command.endswith("ipfail") for child in ha_cf.respawn)
        at = directive_location(ha_cf, "ping") if directive_location(ha_cf, "ping").line else \
            directive_location(ha_cf, "ping_group")
        warnings.append(ExportWarning(at, APPROXIMATE, "ping nodes -> clone of ocf:pacemaker:ping "
                                      f"({' '.join(ping_hosts)}) and a rule keeping groups off nodes "
                                      "with pingd 0" + ("" if has_ipfail else
                                      ": without ipfail heartbeat only reported them, now they move "
                                      "groups")))

    _fencing_warnings(ha_cf, warnings)
    _dropped_directive_warnings(ha_cf, warnings)
    return ClusterPlan(ha_cf.cluster or "lvs", nodes, tuple(groups), stickiness,
                       max(1, (ha_cf.initdead_ms + 999) // 1000), ping)


def _fencing_warnings(ha_cf, warnings: list[ExportWarning]) -> None:
    if ha_cf.stonith:
        for device in ha_cf.stonith:
            warnings.append(ExportWarning(device.location, NO_EQUIVALENT, f"stonith {device.stonith_type}: "
                                          "heartbeat's stonith plugins are not Pacemaker fence agents; "
                                          "stonith-enabled=false written: configure a fence_* device "
                                          "and set it true"))
    else:
        warnings.append(ExportWarning(Location(ha_cf.path), NO_EQUIVALENT, "no stonith in ha.cf: "
                                      "stonith-enabled=false written, which Pacemaker does not support "
                                      "for production; a two-node cluster needs fencing (with "
                                      "pcmk_delay_max) to survive a split brain"))


def _dropped_directive_warnings(ha_cf, warnings: list[ExportWarning]) -> None:
    for directive in ha_cf.directives:
        if directive.name == "hopfudge":
            warnings.append(ExportWarning(directive.location, NO_EQUIVALENT,
                                          "hopfudge: corosync has no hop count; dropped (harmless)"))
        elif directive.name == "respawn" and "ipfail" not in " ".join(directive.args):
            warnings.append(ExportWarning(directive.location, NO_EQUIVALENT, "respawn: Pacemaker "
                                          "starts no client children; run it as a resource or service"))


# ---------------------------------------------------------------------------------------------
# CIB XML


def _nvpairs(owner_id: str, pairs) -> list[str]:
    return [f'<nvpair id={quoteattr(f"{owner_id}-{name}")} name={quoteattr(name)} '
            f'value={quoteattr(value)}/>' for name, value in pairs]


def _primitive_xml(primitive: Primitive, monitor=MONITOR) -> list[str]:
    provider = f' provider={quoteattr(primitive.provider)}' if primitive.provider else ""
    lines = [f'<primitive id={quoteattr(primitive.id)} class={quoteattr(primitive.standard)}{provider} '
             f'type={quoteattr(primitive.agent)}>']
    if primitive.params:
        attrs_id = f"{primitive.id}-instance_attributes"
        lines.append(f'  <instance_attributes id={quoteattr(attrs_id)}>')
        lines.extend("    " + pair for pair in _nvpairs(attrs_id, primitive.params))
        lines.append("  </instance_attributes>")
    interval, timeout = monitor
    op_id = f"{primitive.id}-monitor-{interval}"
    lines.append("  <operations>")
    lines.append(f'    <op id={quoteattr(op_id)} name="monitor" interval={quoteattr(interval)} '
                 f'timeout={quoteattr(timeout)}/>')
    lines.append("  </operations>")
    lines.append("</primitive>")
    return lines


def _ping_primitive(ping: PingClone) -> Primitive:
    return Primitive("ping", "ocf", "pacemaker", "ping",
                     (("host_list", " ".join(ping.host_list)), ("multiplier", str(PING_MULTIPLIER)),
                      ("dampen", f"{ping.dampen_s}s")), Location(""))


def cib_xml(plan: ClusterPlan) -> str:
    out = [f'<cib validate-with="{CIB_SCHEMA}" admin_epoch="0" epoch="1" num_updates="0">',
           "  <configuration>", "    <crm_config>",
           '      <cluster_property_set id="cib-bootstrap-options">']
    out += ["        " + pair for pair in _nvpairs("cib-bootstrap-options", (
        ("stonith-enabled", "false"), ("dc-deadtime", f"{plan.dc_deadtime_s}s"),
        ("cluster-name", plan.cluster_name)))]
    out += ["      </cluster_property_set>", "    </crm_config>", "    <nodes>"]
    out += [f'      <node id="{number}" uname={quoteattr(name)}/>' for number, name in plan.nodes]
    out += ["    </nodes>", "    <resources>"]
    for group in plan.groups:
        out.append(f"      <group id={quoteattr(group.id)}>")
        for primitive in group.primitives:
            out += ["        " + line for line in _primitive_xml(primitive)]
        out.append("      </group>")
    if plan.ping is not None:
        out.append('      <clone id="ping-clone">')
        out += ["        " + line for line in _primitive_xml(_ping_primitive(plan.ping), PING_MONITOR)]
        out.append("      </clone>")
    out += ["    </resources>", "    <constraints>"]
    for group in plan.groups:
        out.append(f'      <rsc_location id={quoteattr(f"loc-{group.id}-prefers-home")} '
                   f'rsc={quoteattr(group.id)} node={quoteattr(group.node)} score="{HOME_SCORE}"/>')
        if plan.ping is not None:
            rule_id = f"loc-{group.id}-connected-rule"
            out += [f'      <rsc_location id={quoteattr(f"loc-{group.id}-connected")} '
                    f'rsc={quoteattr(group.id)}>',
                    f'        <rule id={quoteattr(rule_id)} score="-INFINITY" boolean-op="or">',
                    f'          <expression id={quoteattr(rule_id + "-undefined")} attribute="pingd" '
                    'operation="not_defined"/>',
                    f'          <expression id={quoteattr(rule_id + "-zero")} attribute="pingd" '
                    'operation="lte" value="0" type="number"/>',
                    "        </rule>", "      </rsc_location>"]
    out += ["    </constraints>", "    <rsc_defaults>", '      <meta_attributes id="rsc-options">',
            "        " + _nvpairs("rsc-options", (("resource-stickiness", plan.stickiness),))[0],
            "      </meta_attributes>", "    </rsc_defaults>", "  </configuration>",
            "  <status/>", "</cib>"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# crm shell and pcs


def _crm_value(value: str) -> str:
    return value if value and all(c.isalnum() or c in "._-/:" for c in value) else '"' + \
        value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def crm_text(plan: ClusterPlan) -> str:
    """The CIB as ``crm configure`` input (``crm configure load update FILE``)."""
    lines = [f"node {number}: {name}" for number, name in plan.nodes]
    for group in plan.groups:
        for primitive in group.primitives:
            params = " ".join(f"{key}={_crm_value(value)}" for key, value in primitive.params)
            lines.append(f"primitive {primitive.id} {primitive.agent_spec}"
                         + (f" params {params}" if params else "")
                         + f" op monitor interval={MONITOR[0]} timeout={MONITOR[1]}")
        lines.append(f"group {group.id} " + " ".join(p.id for p in group.primitives))
    if plan.ping is not None:
        primitive = _ping_primitive(plan.ping)
        params = " ".join(f"{key}={_crm_value(value)}" for key, value in primitive.params)
        lines.append(f"primitive ping {primitive.agent_spec} params {params} "
                     f"op monitor interval={PING_MONITOR[0]} timeout={PING_MONITOR[1]}")
        lines.append("clone ping-clone ping")
    for group in plan.groups:
        lines.append(f"location loc-{group.id}-prefers-home {group.id} {HOME_SCORE}: {group.node}")
        if plan.ping is not None:
            lines.append(f"location loc-{group.id}-connected {group.id} rule -inf: "
                         "not_defined pingd or pingd number:lte 0")
    lines.append(f"property cib-bootstrap-options: stonith-enabled=false "
                 f"dc-deadtime={plan.dc_deadtime_s}s cluster-name={_crm_value(plan.cluster_name)}")
    lines.append(f"rsc_defaults rsc-options: resource-stickiness={plan.stickiness}")
    return "\n".join(lines) + "\n"


def pcs_text(plan: ClusterPlan) -> str:
    """The CIB as pcs commands against a file (``pcs -f cib.xml``), to review and run.

    ``--no-default-ops``: without it pcs adds start, stop (and more) operations with the
    timeouts of each agent's meta-data, which the XML and crm forms do not have; with it the
    three forms give the same CIB (tests/test_export_pcs.py runs these commands with pcs)."""
    pcs = ["pcs", "-f", "cib.xml"]

    def line(*words: str) -> str:
        return " ".join(shlex.quote(word) for word in (*pcs, *words))

    lines = ["#!/bin/sh", "# Build cib.xml with pcs, then push it: pcs cluster cib-push cib.xml",
             "set -e", "pcs cluster cib cib.xml",
             line("property", "set", "stonith-enabled=false", f"dc-deadtime={plan.dc_deadtime_s}s"),
             line("resource", "defaults", "update", f"resource-stickiness={plan.stickiness}")]
    for group in plan.groups:
        for primitive in group.primitives:
            lines.append(line("resource", "create", primitive.id, primitive.agent_spec,
                              *(f"{key}={value}" for key, value in primitive.params),
                              "op", "monitor", f"interval={MONITOR[0]}", f"timeout={MONITOR[1]}",
                              "--group", group.id, "--no-default-ops"))
    if plan.ping is not None:
        primitive = _ping_primitive(plan.ping)
        lines.append(line("resource", "create", "ping", primitive.agent_spec,
                          *(f"{key}={value}" for key, value in primitive.params),
                          "op", "monitor", f"interval={PING_MONITOR[0]}", f"timeout={PING_MONITOR[1]}",
                          "clone", "--no-default-ops"))
    for group in plan.groups:
        lines.append(line("constraint", "location", group.id, "prefers", f"{group.node}={HOME_SCORE}"))
        if plan.ping is not None:
            lines.append(line("constraint", "location", group.id, "rule", "score=-INFINITY",
                              "not_defined", "pingd", "or", "pingd", "lte", "number", "0"))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# corosync.conf


def _token_ms(deadtime_ms: int, node_count: int) -> int:
    token = int(deadtime_ms / TOKEN_PER_DEADTIME) - TOKEN_COEFFICIENT_MS * max(0, node_count - 2)
    return max(MIN_TOKEN_MS, token)


def corosync_conf(ha, plan: ClusterPlan, addresses: dict[str, str],
                  warnings: list[ExportWarning]) -> str:
    ha_cf = ha.ha_cf
    token = _token_ms(ha_cf.deadtime_ms, len(plan.nodes))
    deadtime_at = directive_location(ha_cf, "deadtime")
    warnings.append(ExportWarning(deadtime_at, APPROXIMATE, f"deadtime {ha_cf.deadtime_ms} ms -> corosync "
                                  f"token {token} ms: a node is declared lost after token + consensus "
                                  f"(1.2 x token){' + 650 ms per node beyond two' if len(plan.nodes) > 2 else ''}"
                                  f", about {TOKEN_PER_DEADTIME * (token + TOKEN_COEFFICIENT_MS * max(0, len(plan.nodes) - 2)) / 1000:.1f} s"))
    token_warning = max(1, min(99, round(100 * ha_cf.warntime_ms / token)))
    warnings.append(ExportWarning(directive_location(ha_cf, "warntime"), APPROXIMATE,
                                  f"warntime {ha_cf.warntime_ms} ms -> token_warning {token_warning} "
                                  "(percent of the token timeout, below 100)"))

    media = [m for m in ha_cf.media if m.kind not in ("ping", "ping6", "ping_group")]
    network = [m for m in media if m.kind != "serial"]
    for medium in media:
        if medium.kind == "serial":
            warnings.append(ExportWarning(medium.location, NO_EQUIVALENT, f"serial {medium.device}: "
                                          "corosync runs over IP only; this path is lost"))
    transport, interface_lines = "knet", []
    if network:
        first = network[0]
        if first.kind in ("mcast", "mcast6"):
            transport = "udp"
            interface_lines = [f"        mcastaddr: {first.group}", f"        mcastport: {first.port}",
                               f"        ttl: {first.ttl}"]
            warnings.append(ExportWarning(first.location, APPROXIMATE, f"{first.kind} {first.group}: "
                                          "corosync transport udp (multicast) carries no crypto: "
                                          "crypto_cipher/hash none; knet is the maintained transport"))
        else:
            port = first.udp_port
            interface_lines = [f"        mcastport: {port}",
                               f"        knet_ping_interval: {ha_cf.keepalive_ms}",
                               f"        knet_ping_timeout: {2 * ha_cf.keepalive_ms}"]
            if first.kind == "bcast":
                warnings.append(ExportWarning(first.location, APPROXIMATE, f"bcast {first.interface}: "
                                              "knet sends unicast to the nodelist addresses; "
                                              f"UDP port {port} (firewall rules change)"))
        for extra in network[1:]:
            warnings.append(ExportWarning(extra.location, NO_EQUIVALENT, f"{extra.kind} "
                                          f"{extra.interface}: a second path needs knet link 1 "
                                          "(ring1_addr per node), whose addresses ha.cf does not hold"))
    else:
        warnings.append(ExportWarning(Location(ha_cf.path), NO_EQUIVALENT,
                                      "no IP heartbeat medium: corosync needs one; knet assumed"))

    crypto_hash, crypto_cipher = "none", "none"
    if transport == "knet" and ha.authkeys is not None:
        active = ha.authkeys.active
        crypto_hash = CRYPTO_HASH[active.method]
        warnings.append(ExportWarning(active.location, APPROXIMATE if active.method != "crc" else
                                      NO_EQUIVALENT, f"authkeys {active.method}: corosync "
                                      f"crypto_hash {crypto_hash} with its own key: run "
                                      "corosync-keygen and copy /etc/corosync/authkey to every node "
                                      "(the authkeys secret is not reused)"))
    for number, name in plan.nodes:
        if name not in addresses:
            node_at = next(node.location for node in ha_cf.nodes if node.name == name)
            warnings.append(ExportWarning(node_at, APPROXIMATE, f"node {name}: its address is not "
                                          "in ha.cf; ring0_addr is the name, resolved by corosync "
                                          f"at start (give --addr {name}=IP)"))
    warnings.append(ExportWarning(directive_location(ha_cf, "keepalive"), APPROXIMATE,
                                  f"keepalive {ha_cf.keepalive_ms} ms -> knet_ping_interval (link "
                                  "liveness; membership follows the token)"))

    lines = ["totem {", "    version: 2", f"    cluster_name: {plan.cluster_name}",
             f"    transport: {transport}", f"    token: {token}", f"    token_warning: {token_warning}",
             f"    crypto_cipher: {crypto_cipher}", f"    crypto_hash: {crypto_hash}",
             "    interface {", "        linknumber: 0", *interface_lines, "    }", "}", "",
             "nodelist {"]
    for number, name in plan.nodes:
        lines += ["    node {", f"        ring0_addr: {addresses.get(name, name)}",
                  f"        name: {name}", f"        nodeid: {number}", "    }"]
    lines += ["}", "", "quorum {", "    provider: corosync_votequorum"]
    if len(plan.nodes) == 2:
        lines.append("    two_node: 1")
    lines += ["}", "", "logging {", "    to_logfile: no", "    to_stderr: no", "    timestamp: on",
              "    to_syslog: yes", f"    syslog_facility: {ha_cf.logfacility or 'daemon'}", "}"]
    return "\n".join(lines) + "\n"


def export_pacemaker(ha, mon_cf=None, fmt: str = "xml", addresses: dict[str, str] | None = None) -> Export:
    """The CIB in ``fmt`` and corosync.conf for the checked ha.d directory."""
    warnings: list[ExportWarning] = []
    plan = build_plan(ha, warnings)
    corosync = corosync_conf(ha, plan, addresses or {}, warnings)
    if mon_cf is not None:
        _mon_cf_warnings(plan, mon_cf, warnings)
    render = {"xml": cib_xml, "crm": crm_text, "pcs": pcs_text}[fmt]
    files = [ExportFile(CIB_FILE[fmt], render(plan)), ExportFile(COROSYNC_FILE, corosync)]
    if any(p.provider == "lvs-compat" for group in plan.groups for p in group.primitives):
        files.append(ExportFile(AGENT_FILE, agent_text()))
    return Export("pacemaker", tuple(files), sorted_warnings(warnings))


def _mon_cf_warnings(plan: ClusterPlan, mon_cf, warnings: list[ExportWarning]) -> None:
    """mon.cf stays as it is (mon runs as lsb:mon); say when its table serves no group's VIP."""
    from ..summary import implied_ipvs_entries

    vips = {param for group in plan.groups for p in group.primitives if p.agent == "IPaddr2"
            for key, param in p.params if key == "ip"}
    has_lvs = any(p.agent == "lvs" for group in plan.groups for p in group.primitives)
    entries, _ = implied_ipvs_entries(mon_cf)
    seen: set[str] = set()
    for entry in entries:
        address = entry.virtual_service.rpartition(":")[0].strip("[]")
        if address not in vips and address not in seen:
            seen.add(address)
            warnings.append(ExportWarning(entry.location, APPROXIMATE, f"lvs.alert -V {entry.virtual_service}: "
                                          "no haresources group holds this address"))
        if not has_lvs and "lvs" not in seen:
            seen.add("lvs")
            warnings.append(ExportWarning(entry.location, NO_EQUIVALENT, "no lvs resource in "
                                          "haresources: nothing builds this IPVS table"))
