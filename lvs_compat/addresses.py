"""The one home for addresses and gratuitous ARP: heartbeat's ``IPaddr``, ``IPaddr2``, ``SendArp``
and ``Filesystem`` resources, built in (SPEC §1b "IP shorthand", §1e "IPaddr start").

Pure core (no I/O, unit-tested directly):

* ``find_interface``: what resource-agents' ``findif`` answers for ``IP[/NETMASK[/NIC][/BCAST]]``,
  from the text of ``/proc/net/route`` (the same source, quirks included: the first route wins a
  tie, a route with a higher metric loses even if it is more specific, a NIC without a netmask
  gives ``/32``, a default route alone is refused without a netmask, ``127.*`` falls back to the
  loopback device);
* ``alias_label``: the free ``IF:N`` label ``IPaddr`` uses (``find_free_interface``);
* ``arp_schedule``: when ``send_arp -i INTERVAL -r REPEAT`` sends which frame: a request and a
  reply per repeat, alternating every INTERVAL/2 (LAB: ``-i 500 -r 10`` → 20 frames 250 ms apart,
  request first);
* ``judge`` helpers for ``/proc/mounts``.

Thin I/O shell: ``ip -j addr`` / ``ip addr add|del`` / ``mount`` / ``umount`` run as argv lists;
``/proc/net/route`` and ``/proc/mounts`` are read directly.  Gratuitous ARP frames are built
here (``arp_frames``, 42 bytes each) and sent on a raw ``AF_PACKET`` socket.  scapy did this
before; importing it cost 0.19-0.27 s of GIL-bound work on these machines (and several times that
under the soak's software emulation), paid in the background just as a restarted daemon takes
its group back, which delayed the failback the client sees.

Differences from the originals (on purpose):

* ``IPaddr`` stop deletes the address (``ip addr del``) instead of ``ifconfig IF:N down``: the
  latter takes the whole interface down when the VIP happens to be its primary address.
* status = the address is configured on this host (``IPaddr``: on the configured NIC when one is
  given, like ``ip_status_internal``); the original ``IPaddr`` only sees addresses that
  ``ifconfig`` lists (the first address of each label), so an unlabelled secondary is invisible
  to it.
* ``IPaddr2``'s ``lvs_support`` (moving a VIP off ``lo``) is not implemented.
* ``Filesystem`` stop does not kill the processes still using the mount point (the OCF agent does).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import threading
from collections import deque
import time
from dataclasses import dataclass, field

from .config.haresources import IpAddressSpec, parse_ip_spec
from .files import create_new

IP_COMMAND = "ip"
PROC_ROUTE = "/proc/net/route"
PROC_MOUNTS = "/proc/mounts"
COMMAND_TIMEOUT_S = 10.0
_DIGITS = "0123456789"
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
ARP_REQUEST = 1
ARP_REPLY = 2
ETH_P_ARP = 0x0806


class AddressError(Exception):
    """A resource that cannot be started or stopped; the message is one line for the log."""


# --------------------------------------------------------------------------------------------
# Pure core


@dataclass(frozen=True)
class ArpSettings:
    """``send_arp -i interval_ms -r repeat``: ``repeat`` requests and ``repeat`` replies."""

    interval_ms: int
    repeat: int
    background: bool = True


# The resource agents' defaults (resource-agents 4.12): IPaddr ARP_INTERVAL_MS/ARP_REPEAT,
# IPaddr2 arp_interval/arp_count, SendArp ARP_INTERVAL_MS/ARP_REPEAT.
IPADDR_ARP = ArpSettings(interval_ms=500, repeat=10)
IPADDR2_ARP = ArpSettings(interval_ms=200, repeat=5)
SENDARP_ARP = ArpSettings(interval_ms=200, repeat=5)


def arp_schedule(settings: ArpSettings) -> list[tuple[float, int]]:
    """``(seconds after the first frame, ARP op)`` for every frame, request first (SPEC §1e)."""
    step_s = settings.interval_ms / 2000.0
    return [(index * step_s, ARP_REQUEST if index % 2 == 0 else ARP_REPLY)
            for index in range(2 * max(settings.repeat, 0))]


@dataclass(frozen=True)
class RouteEntry:
    """One line of ``/proc/net/route``; ``destination``/``mask`` as the kernel prints them (the
    address in memory order read as a hex number, as findif's ``%lx`` reads them)."""

    ifname: str
    destination: int
    mask: int
    metric: int


def parse_route_table(text: str) -> list[RouteEntry]:
    entries = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        entries.append(RouteEntry(fields[0], int(fields[1], 16), int(fields[7], 16),
                                  int(fields[6], 16)))
    return entries


def _memory_order(address: str) -> int:
    """An IPv4 address as ``/proc/net/route`` prints it (network bytes read little-endian)."""
    return int.from_bytes(bytes(int(part) for part in address.split(".")), "little")


def _dotted(memory_order: int) -> str:
    return ".".join(str(b) for b in (memory_order & 0xFFFFFFFF).to_bytes(4, "little"))


def _prefix_mask(prefixlen: int) -> int:
    return _memory_order(_dotted_from_host((0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF)
                         ) if prefixlen else 0


def _dotted_from_host(value: int) -> str:
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def netmask_bits(text: str) -> int:
    """findif: a dotted quad counts 32 minus its trailing zero bits; otherwise 1-2 digits, 1-32."""
    if "." in text:
        parts = text.split(".")
        if len(parts) != 4 or not all(p and all(c in _DIGITS for c in p) and int(p) <= 255
                                      for p in parts):
            raise AddressError(f"Invalid netmask specification [{text}]")
        value = int.from_bytes(bytes(int(p) for p in parts), "big")
        trailing = 32 if value == 0 else (value & -value).bit_length() - 1
        bits = 32 - trailing
    elif 0 < len(text) <= 2 and all(c in _DIGITS for c in text):
        bits = int(text)
    else:
        raise AddressError(f"Invalid netmask specification [{text}]")
    if not 1 <= bits <= 32:
        raise AddressError(f"Invalid netmask specification [{bits}]")
    return bits


@dataclass(frozen=True)
class InterfaceChoice:
    """findif's answer: ``NIC<TAB>netmask M<TAB>broadcast B``."""

    nic: str
    prefixlen: int
    broadcast: str

    @property
    def netmask(self) -> str:
        return _dotted_from_host((0xFFFFFFFF << (32 - self.prefixlen)) & 0xFFFFFFFF
                                 if self.prefixlen else 0)

    def findif_line(self) -> str:
        return f"{self.nic}\tnetmask {self.netmask}\tbroadcast {self.broadcast}"


def find_interface(spec: IpAddressSpec, routes: list[RouteEntry], interfaces: list[str],
                   loopback: str | None = "lo") -> InterfaceChoice:
    """Interface, netmask and broadcast for ``spec`` as ``findif`` (resource-agents 4.12) finds
    them (``SearchUsingProcRoute``).  ``interfaces`` are the names that exist, ``loopback`` the
    first loopback device."""
    ip = _memory_order(spec.ip)
    given_bits = netmask_bits(spec.cidr_netmask) if spec.cidr_netmask else None
    if spec.nic:
        if spec.nic not in interfaces:
            raise AddressError(f"{spec.nic}: unknown interface: No such device")
        nic, mask = spec.nic, _prefix_mask(given_bits) if given_bits else 0xFFFFFFFF
    else:
        best: RouteEntry | None = None
        for route in routes:
            if ((ip & route.mask) == (route.destination & route.mask)
                    and (best is None or route.metric <= best.metric)
                    and route.mask >= (best.mask if best else 0)):
                best = route
        if best is None:
            raise AddressError(f"No route to {spec.ip}")
        nic, mask = best.ifname, best.mask
        if given_bits:
            mask = _prefix_mask(given_bits)
        elif mask == 0:
            if not spec.ip.startswith("127"):
                raise AddressError(f"Cannot use default route w/o netmask [{spec.ip}]")
            if loopback is None:
                raise AddressError("No loopback interface found.")
            nic, mask = loopback, _prefix_mask(8)
    prefixlen = bin(mask & 0xFFFFFFFF).count("1")
    broadcast = spec.broadcast or _dotted(ip | (~mask & 0xFFFFFFFF))
    return InterfaceChoice(nic, prefixlen, broadcast)


def alias_label(nic: str, labels: set[str]) -> str:
    """The first ``NIC:N`` not in use (IPaddr ``find_free_interface``; LAB: ``hbAeth0:0``)."""
    index = 0
    while f"{nic}:{index}" in labels:
        index += 1
    return f"{nic}:{index}"


def unescape_mount_field(text: str) -> str:
    """``/proc/mounts`` writes space, tab, newline and backslash as ``\\ooo``."""
    out, index = [], 0
    while index < len(text):
        chunk = text[index:index + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and all(c in "01234567" for c in chunk[1:]):
            out.append(chr(int(chunk[1:], 8)))
            index += 4
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def mount_points(proc_mounts_text: str) -> list[tuple[str, str, str]]:
    """``(device, mount point, fstype)`` of every line."""
    rows = []
    for line in proc_mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            rows.append((unescape_mount_field(fields[0]), unescape_mount_field(fields[1]),
                         fields[2]))
    return rows


# --------------------------------------------------------------------------------------------
# I/O shell: the interfaces and addresses of this host (its network namespace)


@dataclass(frozen=True)
class AddressEntry:
    ifname: str
    label: str
    ip: str
    prefixlen: int
    broadcast: str | None


@dataclass(frozen=True)
class LinkEntry:
    ifname: str
    mac: str | None
    loopback: bool
    addresses: tuple[AddressEntry, ...]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AddressError(f"{' '.join(argv)}: {exc}") from None


def _checked(argv: list[str]) -> str:
    result = _run(argv)
    if result.returncode != 0:
        raise AddressError(f"{' '.join(argv)} failed (rc={result.returncode}): "
                           f"{(result.stderr or result.stdout).strip()}")
    return result.stdout


def list_links() -> list[LinkEntry]:
    """Every interface with its MAC and IPv4 addresses (``ip -j addr show``)."""
    links = []
    for link in json.loads(_checked([IP_COMMAND, "-j", "addr", "show"]) or "[]"):
        addresses = tuple(
            AddressEntry(link["ifname"], info.get("label", link["ifname"]), info["local"],
                         int(info["prefixlen"]), info.get("broadcast"))
            for info in link.get("addr_info", ()) if info.get("family") == "inet")
        links.append(LinkEntry(link["ifname"], link.get("address"),
                               link.get("link_type") == "loopback", addresses))
    return links


def find_address(links: list[LinkEntry], ip: str) -> AddressEntry | None:
    return next((a for link in links for a in link.addresses if a.ip == ip), None)


def read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def discover(spec: IpAddressSpec, links: list[LinkEntry] | None = None) -> InterfaceChoice:
    """``find_interface`` on this host's routes and interfaces."""
    links = list_links() if links is None else links
    loopback = next((link.ifname for link in links if link.loopback), None)
    return find_interface(spec, parse_route_table(read_text(PROC_ROUTE)),
                          [link.ifname for link in links], loopback)


# --------------------------------------------------------------------------------------------
# Gratuitous ARP


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def arp_frames(mac: str, ip: str) -> dict[int, bytes]:
    """The two frames of send_arp (packets.txt part C), Ethernet header included: op -> bytes.
    Sender IP = target IP = the VIP, to the Ethernet broadcast; a request has target MAC
    00:00:00:00:00:00, a reply our own MAC."""
    own, address = _mac_bytes(mac), socket.inet_aton(ip)
    header = _mac_bytes(BROADCAST_MAC) + own + struct.pack("!H", ETH_P_ARP)
    frames = {}
    for op in (ARP_REQUEST, ARP_REPLY):
        target = _mac_bytes(ZERO_MAC) if op == ARP_REQUEST else own
        frames[op] = header + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + own + address \
            + target + address
    return frames


@dataclass
class _Announcement:
    ip: str
    ifname: str
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    frames_sent: int = 0
    error: str | None = None


class ArpAnnouncer:
    """Sends gratuitous ARP in background threads, one per address; a new announcement or
    ``cancel`` of an address stops the one still running (IPaddr stop kills send_arp).

    The threads are daemon threads of the process that owns the announcer, so that process must
    live on (the heartbeat daemon); a one-shot program passes ``background=False``."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, _Announcement] = {}
        self.history: deque[_Announcement] = deque(maxlen=64)  # the latest, for reports/tests

    def announce(self, ip: str, ifname: str, mac: str, settings: ArpSettings) -> _Announcement:
        self.cancel(ip)
        announcement = _Announcement(ip, ifname)
        with self._lock:
            self._running[ip] = announcement
            self.history.append(announcement)
        if settings.background:
            announcement.thread = threading.Thread(
                target=self._send, args=(announcement, mac, settings),
                name=f"arp-{ip}", daemon=True)
            announcement.thread.start()
        else:
            self._send(announcement, mac, settings)
        return announcement

    def cancel(self, ip: str) -> None:
        with self._lock:
            announcement = self._running.pop(ip, None)
        if announcement is not None:
            announcement.cancelled.set()

    def cancel_all(self) -> None:
        with self._lock:
            running = list(self._running)
        for ip in running:
            self.cancel(ip)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for every running announcement to finish; True if all did."""
        deadline = None if timeout_s is None else self.clock() + timeout_s
        with self._lock:
            running = list(self._running.values())
        for announcement in running:
            if announcement.thread is not None:
                remaining = None if deadline is None else max(0.0, deadline - self.clock())
                announcement.thread.join(remaining)
                if announcement.thread.is_alive():
                    return False
        return True

    def _send(self, announcement: _Announcement, mac: str, settings: ArpSettings) -> None:
        try:
            frames = arp_frames(mac, announcement.ip)
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sender:
                sender.bind((announcement.ifname, 0))
                started = self.clock()
                for offset_s, op in arp_schedule(settings):
                    delay = started + offset_s - self.clock()
                    if announcement.cancelled.wait(delay if delay > 0 else 0):
                        break
                    sender.send(frames[op])
                    announcement.frames_sent += 1
        except Exception as exc:  # reported in the announcement; the address stays up
            announcement.error = f"gratuitous ARP for {announcement.ip} on " \
                                 f"{announcement.ifname} failed: {exc}"
        finally:
            with self._lock:
                if self._running.get(announcement.ip) is announcement:
                    del self._running[announcement.ip]


# --------------------------------------------------------------------------------------------
# The built-in resources


@dataclass(frozen=True)
class AgentResult:
    """What a resource script would have said: success and its output text."""

    ok: bool
    output: str


RUNNING = AgentResult(True, "INFO:  Running OK")  # hto-mapfuncs wording: we_own_resource says yes
STOPPED = AgentResult(False, "INFO:  Resource is stopped")


class IpAddressAgent:
    """``IPaddr`` (alias label ``IF:N``, ifconfig style) and ``IPaddr2`` (plain secondary)."""

    def __init__(self, announcer: ArpAnnouncer, arp: dict[str, ArpSettings] | None = None):
        self.announcer = announcer
        self.arp = {"IPaddr": IPADDR_ARP, "IPaddr2": IPADDR2_ARP, **(arp or {})}

    @staticmethod
    def _held(spec: IpAddressSpec, links: list[LinkEntry]) -> tuple[AddressEntry | None, str]:
        entry = find_address(links, spec.ip)
        if entry is not None and spec.nic and entry.ifname != spec.nic.split(":")[0]:
            return None, (f"{spec.ip} is running an interface ({entry.ifname}) instead of the "
                          f"configured one ({spec.nic})")
        return entry, ""

    def status(self, kind: str, spec: IpAddressSpec) -> AgentResult:
        entry, problem = self._held(spec, list_links())
        if problem:
            return AgentResult(False, f"ERROR: {problem}")
        return RUNNING if entry else STOPPED

    def start(self, kind: str, spec: IpAddressSpec) -> AgentResult:
        links = list_links()
        entry, problem = self._held(spec, links)
        if problem:
            return AgentResult(False, f"ERROR: {problem}")
        if entry is not None:  # ip_start: already running, nothing to do (and no ARP)
            return AgentResult(True, f"INFO: {spec.ip} already on {entry.label}")
        # NIC:LABEL: IPaddr2 uses the label (iflabel), IPaddr drops it (ip_validate_all)
        nic, _, wanted_label = (spec.nic or "").partition(":")
        try:
            choice = discover(IpAddressSpec(spec.ip, spec.cidr_netmask, nic or None,
                                            spec.broadcast), links)
        except AddressError as exc:
            return AgentResult(False, f"ERROR: {kind} {spec.ip}: {exc}")
        argv = [IP_COMMAND, "-4", "addr", "add", f"{spec.ip}/{choice.prefixlen}",
                "brd", choice.broadcast, "dev", choice.nic]
        label = choice.nic
        if kind == "IPaddr":
            label = alias_label(choice.nic, {a.label for link in links for a in link.addresses})
            argv += ["label", label]
        elif wanted_label:
            label = f"{choice.nic}:{wanted_label}"
            argv += ["label", label]
        try:
            _checked(argv)
            if kind == "IPaddr2":
                _checked([IP_COMMAND, "link", "set", choice.nic, "up"])
        except AddressError as exc:
            return AgentResult(False, f"ERROR: Could not add {spec.ip} to {choice.nic}: {exc}")
        mac = next((link.mac for link in links if link.ifname == choice.nic), None)
        lines = [f"INFO: {' '.join(argv)}"]
        if mac and choice.nic != "lo":
            self.announcer.announce(spec.ip, choice.nic, mac, self.arp[kind])
            settings = self.arp[kind]
            lines.append(f"INFO: Sending gratuitous ARP for {spec.ip} on {label} [{choice.nic}]:"
                         f" {settings.repeat} requests + {settings.repeat} replies, "
                         f"{settings.interval_ms / 2:g} ms apart")
        return AgentResult(True, "\n".join(lines))

    def stop(self, kind: str, spec: IpAddressSpec) -> AgentResult:
        self.announcer.cancel(spec.ip)
        entry = find_address(list_links(), spec.ip)
        if entry is None:
            return AgentResult(True, f"INFO: {spec.ip} not configured, nothing to release")
        try:
            _checked([IP_COMMAND, "-4", "addr", "del", f"{entry.ip}/{entry.prefixlen}",
                      "dev", entry.ifname])
        except AddressError as exc:
            return AgentResult(False, f"WARN: IP Address {spec.ip} NOT released: {exc}")
        return AgentResult(True, f"INFO: {kind} {spec.ip} released from {entry.label}")

    def reannounce(self, kind: str, spec: IpAddressSpec) -> bool:
        """Send the gratuitous ARP again if we hold the address (split-brain resolution)."""
        links = list_links()
        entry, _ = self._held(spec, links)
        if entry is None:
            return False
        mac = next((link.mac for link in links if link.ifname == entry.ifname), None)
        if not mac or entry.ifname == "lo":
            return False
        self.announcer.announce(spec.ip, entry.ifname, mac, self.arp[kind])
        return True


def parse_sendarp_arg(arg: str) -> tuple[str, str]:
    """resource.d/SendArp: ``IP/INTERFACE`` (sed ``s%/.*%%`` and ``s%IP/%%``)."""
    ip, separator, nic = arg.partition("/")
    if not separator or not nic or not ip:
        raise AddressError(f"SendArp needs IP/INTERFACE, not [{arg}]")
    return ip, nic


class SendArpAgent:
    """``SendArp::IP/IF``: gratuitous ARP for an address without adding it; a pseudo resource
    (running between start and stop), kept in ``state_dir`` like ``ha_pseudo_resource`` when one
    is given, else in memory."""

    def __init__(self, announcer: ArpAnnouncer, settings: ArpSettings = SENDARP_ARP,
                 state_dir: str | None = None):
        self.announcer = announcer
        self.settings = settings
        self.state_dir = state_dir
        self._running: set[str] = set()

    def _state_path(self, ip: str) -> str | None:
        return os.path.join(self.state_dir, f"SendArp_{ip}") if self.state_dir else None

    def _is_running(self, ip: str) -> bool:
        path = self._state_path(ip)
        return os.path.exists(path) if path else ip in self._running

    def _mark(self, ip: str, running: bool) -> None:
        path = self._state_path(ip)
        if path is None:
            (self._running.add if running else self._running.discard)(ip)
        elif running:
            os.makedirs(self.state_dir, exist_ok=True)
            os.close(create_new(path, 0o644))  # HA_RSCTMP is world-writable: never via a link
        elif os.path.exists(path):
            os.unlink(path)

    def status(self, arg: str) -> AgentResult:
        return RUNNING if self._is_running(parse_sendarp_arg(arg)[0]) else STOPPED

    def start(self, arg: str) -> AgentResult:
        ip, nic = parse_sendarp_arg(arg)
        if self._is_running(ip):
            return AgentResult(True, f"INFO: SendArp {ip} already running")
        link = next((link for link in list_links() if link.ifname == nic), None)
        if link is None or not link.mac:
            return AgentResult(False, f"ERROR: SendArp: unknown interface [{nic}]")
        self.announcer.announce(ip, nic, link.mac, self.settings)
        self._mark(ip, True)
        return AgentResult(True, f"INFO: Sending gratuitous ARP for {ip} on {nic}")

    def stop(self, arg: str) -> AgentResult:
        ip, nic = parse_sendarp_arg(arg)
        self.announcer.cancel(ip)
        self._mark(ip, False)
        return AgentResult(True, f"INFO: SendArp for {ip}/{nic} released")

    def reannounce(self, arg: str) -> bool:
        ip, nic = parse_sendarp_arg(arg)
        if not self._is_running(ip):
            return False
        link = next((link for link in list_links() if link.ifname == nic), None)
        if link is None or not link.mac:
            return False
        self.announcer.announce(ip, nic, link.mac, self.settings)
        return True


@dataclass(frozen=True)
class FilesystemSpec:
    device: str
    directory: str
    fstype: str | None = None
    options: str | None = None


def parse_filesystem_args(args: tuple[str, ...]) -> FilesystemSpec:
    """resource.d/Filesystem: ``device directory [fstype [options]]``."""
    if not 2 <= len(args) <= 4:
        raise AddressError("Filesystem takes device::directory[::fstype[::options]], "
                           f"not {len(args)} arguments")
    return FilesystemSpec(*args)


class FilesystemAgent:
    """``Filesystem::device::dir[::fstype[::options]]``: mount/umount; status by /proc/mounts."""

    @staticmethod
    def _mounted(spec: FilesystemSpec) -> bool:
        directory = os.path.realpath(spec.directory)
        return any(point == directory for _, point, _ in mount_points(read_text(PROC_MOUNTS)))

    def status(self, args: tuple[str, ...]) -> AgentResult:
        return RUNNING if self._mounted(parse_filesystem_args(args)) else STOPPED

    def start(self, args: tuple[str, ...]) -> AgentResult:
        spec = parse_filesystem_args(args)
        if self._mounted(spec):
            return AgentResult(True, f"INFO: {spec.directory} already mounted")
        argv = ["mount"]
        if spec.fstype:
            argv += ["-t", spec.fstype]
        if spec.options:
            argv += ["-o", spec.options]
        argv += [spec.device, spec.directory]
        try:
            os.makedirs(spec.directory, exist_ok=True)
            _checked(argv)
        except (OSError, AddressError) as exc:
            return AgentResult(False, f"ERROR: Couldn't mount filesystem {spec.device} on "
                                      f"{spec.directory}: {exc}")
        return AgentResult(True, f"INFO: {' '.join(argv)}")

    def stop(self, args: tuple[str, ...]) -> AgentResult:
        spec = parse_filesystem_args(args)
        if not self._mounted(spec):
            return AgentResult(True, f"INFO: {spec.directory} not mounted, nothing to do")
        try:
            _checked(["umount", spec.directory])
        except AddressError as exc:
            return AgentResult(False, f"ERROR: Couldn't unmount {spec.directory}: {exc}")
        return AgentResult(True, f"INFO: unmounted {spec.directory} successfully")


# --------------------------------------------------------------------------------------------
# Command line: the built-ins as resource.d-style scripts, for operators and differential tests:
#   python -m lvs_compat.addresses IPaddr|IPaddr2 IP[/MASK[/NIC][/BCAST]] start|stop|status
#   python -m lvs_compat.addresses SendArp IP/NIC start|stop|status
#   python -m lvs_compat.addresses Filesystem DEVICE DIR [FSTYPE [OPTIONS]] start|stop|status
#   python -m lvs_compat.addresses findif IP[/MASK[/NIC][/BCAST]]
# A one-shot process cannot keep a sender thread: start forks a detached child for the ARP,
# as IPaddr runs send_arp in the background.


def _ip_spec(text: str) -> IpAddressSpec:
    return IpAddressSpec(*parse_ip_spec(text))


def main(argv: list[str] | None = None) -> int:
    import sys
    args = list(sys.argv[1:] if argv is None else argv)
    usage = ("usage: python -m lvs_compat.addresses IPaddr|IPaddr2|SendArp|Filesystem ARGS... "
             "start|stop|status, or findif IP[/MASK[/NIC][/BCAST]]")
    if len(args) == 2 and args[0] == "findif":
        try:
            print(discover(_ip_spec(args[1])).findif_line())
        except AddressError as exc:
            print(f"findif: {exc}", file=sys.stderr)
            return 1
        return 0
    if len(args) < 3 or args[-1] not in ("start", "stop", "status"):
        print(usage, file=sys.stderr)
        return 1
    kind, resource_args, action = args[0], tuple(args[1:-1]), args[-1]
    announcer = ArpAnnouncer()
    state_dir = os.environ.get("HA_RSCTMP", "/run/resource-agents")
    try:
        if kind in ("IPaddr", "IPaddr2") and len(resource_args) == 1:
            agent, target = IpAddressAgent(announcer), _ip_spec(resource_args[0])
            if action == "stop":
                _kill_forked_arp(state_dir, target.ip)
            call = getattr(agent, action)
            result = _with_forked_arp(announcer, state_dir, lambda: call(kind, target))
        elif kind == "SendArp" and len(resource_args) == 1:
            agent = SendArpAgent(announcer, state_dir=state_dir)
            if action == "stop":
                _kill_forked_arp(state_dir, parse_sendarp_arg(resource_args[0])[0])
            result = _with_forked_arp(announcer, state_dir,
                                      lambda: getattr(agent, action)(resource_args[0]))
        elif kind == "Filesystem":
            result = getattr(FilesystemAgent(), action)(resource_args)
        else:
            print(usage, file=sys.stderr)
            return 1
    except AddressError as exc:
        print(f"ERROR: {exc}")
        return 1
    print(result.output)
    if action == "status":
        return 0 if result.ok else 3
    return 0 if result.ok else 1


def _arp_pidfile(state_dir: str, ip: str) -> str:
    return os.path.join(state_dir, f"send_arp-{ip}")  # IPaddr's SENDARPPIDFILE


def _kill_forked_arp(state_dir: str, ip: str) -> None:
    """IPaddr stop: kill the send_arp still running for ``ip``."""
    import signal
    path = _arp_pidfile(state_dir, ip)
    try:
        pid = int(read_text(path).strip())
        os.unlink(path)
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


def _with_forked_arp(announcer: ArpAnnouncer, state_dir: str, action) -> AgentResult:
    """Run ``action`` with announcements diverted to a detached child that sends them, its pid
    in ``state_dir/send_arp-IP`` for stop."""
    pending: list[tuple[str, str, str, ArpSettings]] = []
    real_announce = announcer.announce

    def divert(ip, ifname, mac, settings):
        pending.append((ip, ifname, mac, settings))

    announcer.announce = divert  # type: ignore[method-assign]
    try:
        result = action()
    finally:
        announcer.announce = real_announce  # type: ignore[method-assign]
    if not pending:
        return result
    os.makedirs(state_dir, exist_ok=True)
    ready_read, ready_write = os.pipe()  # the child starts once its pid file is written
    child = os.fork()
    if child:
        os.close(ready_read)
        for ip, *_ in pending:
            with open(create_new(_arp_pidfile(state_dir, ip), 0o644), "w") as handle:
                handle.write(f"{child}\n")
        os.close(ready_write)
        return result
    try:  # pragma: no cover - runs in the child
        try:
            os.close(ready_write)
            os.read(ready_read, 1)
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            for ip, ifname, mac, settings in pending:
                real_announce(ip, ifname, mac, ArpSettings(settings.interval_ms, settings.repeat,
                                                           background=False))
            for ip, *_ in pending:
                if read_text(_arp_pidfile(state_dir, ip)).strip() == str(os.getpid()):
                    os.unlink(_arp_pidfile(state_dir, ip))
        except OSError:
            pass
    finally:
        os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
