"""Sampler of the chaos soak: who holds the VIP, who answers for it, and who announces it.

A soak test of a two-node heartbeat cluster (each director in its own network namespace, a
client namespace on the same bridge) needs a time line to judge failovers against:

* **holders** - every ``interval`` (100 ms) which director namespaces have the VIP configured
  (IPv4, any interface), read with an ``RTM_GETADDR`` netlink dump per director;
* **probes** - at the same instants an ICMP echo request from the client to the VIP, and the
  Ethernet source MAC of the first echo reply (``None`` when nothing answered within
  ``reply_timeout``).  The kernel routes the request and resolves the VIP with its own ARP cache,
  so a client still pointing at the old holder after a takeover shows up as unanswered probes -
  exactly what a soak wants to see;
* **ARP** - every ARP frame the client's interface receives whose sender IP is the VIP
  (gratuitous announcements and answers to the client's own who-has), with its sender MAC.

Why no subprocess, pyroute2 or scapy: the soak may run in a guest under software emulation with
only Debian's python3 (3.11, standard library); a fork/exec per sample would not keep a 100 ms
grid there.  So every socket is opened once, in ``start()``, inside the namespace it must observe
(a socket keeps the namespace it was created in), and one thread then only does syscalls on them.
Python 3.11 has no ``os.setns``; ``start()`` calls libc's ``setns`` through ctypes on the calling
thread and always returns that thread to its original namespace.

Usage::

    with Sampler({"d1": "ns-d1", "d2": "ns-d2"}, "ns-client", "hb0", "10.253.0.50") as sampler:
        ...chaos...
    holders, probes, arps = sampler.results()
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

__all__ = ["ArpSeen", "HolderSample", "Probe", "Sampler"]

# SO_TIMESTAMPNS (asm-generic/socket.h; the socket module of 3.11 does not name it): each
# received frame carries the kernel's CLOCK_REALTIME receive time as a struct timespec
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
TIMESPEC = struct.Struct("=qq")
TIMESTAMP_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
STALL_S = 0.5

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"

# netlink (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h)
NLMSG_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, interface index
RTATTR_HEADER = struct.Struct("=HH")  # length, type
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2
# a netlink dump is produced inside our own send/recv calls, so waiting this long means the
# kernel side is broken, not slow; better a clear error than a thread stuck forever
NETLINK_TIMEOUT = 5.0

# packet capture (linux/if_ether.h, linux/if_packet.h, linux/filter.h)
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
ETHERNET_HEADER = struct.Struct("!6s6sH")  # destination, source, ethertype
ARP_IPV4_OVER_ETHERNET = struct.Struct("!HHBBH6s4s6s4s")  # htype ptype hlen plen op sha spa tha tpa
# classic BPF run by the kernel on every frame of the client interface: keep ARP and IPv4 ICMP
# only, so other traffic (heartbeat, load) costs no wake-up and no copy in a slow guest
CAPTURE_FILTER = [
    # code, jump-if-true, jump-if-false, k
    (0x28, 0, 0, 12),  # ldh [12]            ethertype
    (0x15, 3, 0, ETH_P_ARP),  # jeq ARP      -> accept
    (0x15, 0, 3, ETH_P_IP),  # jeq IPv4      else drop
    (0x30, 0, 0, 23),  # ldb [23]            IPv4 protocol (no VLAN tag: the soak has none)
    (0x15, 0, 1, socket.IPPROTO_ICMP),  # jeq ICMP else drop
    (0x06, 0, 0, 0x40000),  # ret 256 KiB  accept the whole frame
    (0x06, 0, 0, 0),  # ret 0               drop
]
CAPTURE_BUFFER_BYTES = 1 << 20

# ICMP (linux/icmp.h); the raw send socket also receives every ICMP message of the client
# namespace, which we never read: ICMP_FILTER drops types 0..31 before they are queued
ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
ICMP_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
SOL_RAW = 255
ICMP_FILTER = 1
PROBE_PAYLOAD = b"lvs-compat soak probe".ljust(32, b".")
# a probe that cannot even leave (no route, neighbour failed, queue full) is a probe nobody
# answered - an observation, not a sampler failure
SEND_ERRNOS_MEANING_NO_ANSWER = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN,
                                 errno.ENETDOWN, errno.ENOBUFS, errno.EAGAIN}


@dataclass(frozen=True)
class HolderSample:
    t: float  # time.monotonic() when the sample was taken
    holders: frozenset[str]  # names (keys of `directors`) whose namespace has the VIP (IPv4)


@dataclass(frozen=True)
class Probe:
    t: float  # monotonic time the ICMP echo request was sent
    answered_by: str | None  # source MAC of the first echo reply; None: none within reply_timeout


@dataclass(frozen=True)
class ArpSeen:
    t: float  # monotonic time the client namespace received it
    mac: str  # sender hardware address (lower-case)
    op: int  # 1 request, 2 reply
    gratuitous: bool  # sender IP == target IP == VIP


_libc = ctypes.CDLL(None, use_errno=True)
_identifiers = itertools.count(1)


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns into network namespace {what}: {os.strerror(code)}")


def _open_netns(name: str) -> int:
    path = os.path.join(NETNS_DIR, name)
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"network namespace {name!r} does not exist",
                                path) from None


def _received_at(ancillary) -> float:
    """The frame's kernel receive time on this module's clock (``time.monotonic``); the
    read time if the kernel gave none."""
    now_monotonic, now_real = time.monotonic(), time.time()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            stamped = seconds + nanoseconds / 1e9
            return min(now_monotonic, now_monotonic - (now_real - stamped))
    return now_monotonic


def _mac_text(raw: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in raw)


def _internet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _attach_capture_filter(sock: socket.socket) -> None:
    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = b"".join(struct.pack("=HBBI", *instruction) for instruction in CAPTURE_FILTER)
    program_buffer = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(CAPTURE_FILTER), ctypes.addressof(program_buffer))
    # the kernel copies the program during this call, so the buffer only has to outlive it
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))


class _AddressReader:
    """One director: a NETLINK_ROUTE socket opened in its namespace, asked for IPv4 addresses."""

    def __init__(self, name: str, sock: socket.socket):
        self.name = name
        self.sock = sock
        self.sequence = 0

    def has(self, address: bytes) -> bool:
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF
        request = IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        self.sock.sendto(NLMSG_HEADER.pack(NLMSG_HEADER.size + len(request), RTM_GETADDR,
                                           NLM_F_REQUEST | NLM_F_DUMP, self.sequence, 0)
                         + request, (0, 0))
        found = False
        while True:
            datagram = self.sock.recv(65536)
            offset = 0
            while offset + NLMSG_HEADER.size <= len(datagram):
                length, kind, _flags, sequence, _port = NLMSG_HEADER.unpack_from(datagram, offset)
                if length < NLMSG_HEADER.size:
                    raise RuntimeError(f"{self.name}: malformed netlink message (length {length})")
                body = datagram[offset + NLMSG_HEADER.size:offset + length]
                offset += (length + 3) & ~3
                if sequence != self.sequence:
                    continue  # the tail of an earlier dump that we gave up on
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code == 0:
                        continue  # an acknowledgement, not an error
                    raise OSError(code, f"{self.name}: RTM_GETADDR: {os.strerror(code)}")
                if kind == RTM_NEWADDR and not found:
                    found = self._carries(body, address)

    @staticmethod
    def _carries(body: bytes, address: bytes) -> bool:
        if len(body) < IFADDRMSG.size or body[0] != socket.AF_INET:
            return False
        local = peer = None
        offset = IFADDRMSG.size
        while offset + RTATTR_HEADER.size <= len(body):
            length, kind = RTATTR_HEADER.unpack_from(body, offset)
            if length < RTATTR_HEADER.size:
                break
            value = body[offset + RTATTR_HEADER.size:offset + length]
            if kind == IFA_LOCAL:
                local = value
            elif kind == IFA_ADDRESS:
                peer = value
            offset += (length + 3) & ~3
        # IFA_ADDRESS is the peer on point-to-point links; IFA_LOCAL is always our own end
        return (local if local is not None else peer) == address


class Sampler:
    """Samples VIP holders, probes the VIP from the client, and logs VIP ARP, on one thread."""

    def __init__(self, directors: dict[str, str], client_netns: str, client_ifname: str,
                 vip: str, interval: float = 0.1, reply_timeout: float = 1.0):
        if interval <= 0 or reply_timeout <= 0:
            raise ValueError("interval and reply_timeout must be positive")
        self.directors = dict(directors)
        self.client_netns = client_netns
        self.client_ifname = client_ifname
        self.vip = vip
        self.vip_bytes = socket.inet_aton(vip)
        self.interval = interval
        self.reply_timeout = reply_timeout
        self.identifier = ((os.getpid() & 0xFFFF) ^ (next(_identifiers) * 0x9E37)) & 0xFFFF
        self._readers: list[_AddressReader] = []
        self._capture: socket.socket | None = None
        self._echo: socket.socket | None = None
        self._wake_read = self._wake_write = -1
        self._thread: threading.Thread | None = None
        self._stopping = False  # read by the thread: stop sampling, collect late replies
        self._stopped = False
        self._error: BaseException | None = None
        self._holder_samples: list[HolderSample] = []
        self._probes: list[list] = []  # [sent at, answered by]; frozen into Probe by results()
        self._awaiting: dict[int, int] = {}  # sequence -> index in _probes, until reply_timeout
        self._arps: list[ArpSeen] = []
        # (when, seconds late): the thread woke later than STALL_S after a grid instant; its
        # samples are missing there (probes are judged by the kernel's receive times)
        self.stalls: list[tuple[float, float]] = []
        self._sequence = 0
        self._last_send = 0.0

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("Sampler already started")
        try:
            self._open_sockets()
            self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        except BaseException:
            self._close_all()
            raise
        self._thread = threading.Thread(target=self._run, name="soak-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None or self._stopped:
            return  # never started, or already stopped
        self._stopped = self._stopping = True
        try:
            os.write(self._wake_write, b"x")
        except BlockingIOError:
            pass  # the pipe already holds a wake-up
        # the thread keeps listening for late replies for up to reply_timeout
        self._thread.join()
        self._close_all()
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"soak probe sampler thread failed: {error!r}") from error

    def results(self) -> tuple[list[HolderSample], list[Probe], list[ArpSeen]]:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("Sampler.results() is only valid after stop()")
        return (list(self._holder_samples),
                [Probe(sent, by) for sent, by in self._probes],
                list(self._arps))

    # -- sockets, opened inside the namespaces they observe -----------------------------------

    def _open_sockets(self) -> None:
        original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            for name, netns in self.directors.items():
                self._enter(netns)
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
                self._readers.append(_AddressReader(name, sock))
                sock.settimeout(NETLINK_TIMEOUT)
            self._enter(self.client_netns)
            self._open_client_sockets()
        finally:
            try:
                _setns(original, "of the caller (going back)")
            finally:
                os.close(original)

    def _enter(self, netns: str) -> None:
        fd = _open_netns(netns)
        try:
            _setns(fd, repr(netns))
        finally:
            os.close(fd)

    def _open_client_sockets(self) -> None:
        # protocol 0 until bind: an ETH_P_ALL socket would otherwise queue frames of every
        # interface of the namespace before the filter and the binding are in place
        self._capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self._capture.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CAPTURE_BUFFER_BYTES)
        _attach_capture_filter(self._capture)
        try:
            self._capture.bind((self.client_ifname, ETH_P_ALL))
        except OSError as error:
            raise OSError(error.errno, f"no interface {self.client_ifname!r} in network "
                                       f"namespace {self.client_netns!r}: {error.strerror}") \
                from None
        self._capture.setblocking(False)
        # the kernel's receive time of each frame: a reply read late because this thread was
        # starved of CPU (a guest under emulation, a busy realtime daemon beside it) still
        # counts when it arrived, not when we got round to reading it
        self._capture.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._echo = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self._echo.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", 0xFFFFFFFF))
        self._echo.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        self._echo.setblocking(False)

    def _close_all(self) -> None:
        for reader in self._readers:
            reader.sock.close()
        self._readers = []
        for sock in (self._capture, self._echo):
            if sock is not None:
                sock.close()
        self._capture = self._echo = None
        for fd in (self._wake_read, self._wake_write):
            if fd >= 0:
                os.close(fd)
        self._wake_read = self._wake_write = -1

    # -- the sampling thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._sample_until_stopped()
            self._collect_late_replies()
        except BaseException as error:  # stop() re-raises it: a dead sampler must not look idle
            self._error = error

    def _sample_until_stopped(self) -> None:
        deadline = time.monotonic()
        while not self._stopping:
            now = time.monotonic()
            if now >= deadline:
                self._sample_holders()
                self._send_probe()
                self._read_frames()        # replies that came while we were not looking
                self._expire_probes()
                # a fixed grid, so samples do not drift; after a stall (late by more than one
                # interval) skip the missed slots instead of bursting to catch up
                deadline += self.interval
                late = time.monotonic() - deadline
                if late > STALL_S:
                    self.stalls.append((deadline, round(late, 3)))
                if late > self.interval:
                    deadline += int(late / self.interval) * self.interval
                continue
            self._wait_for_frames(deadline - now)

    def _collect_late_replies(self) -> None:
        give_up = self._last_send + self.reply_timeout
        while self._awaiting:
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                break
            self._wait_for_frames(remaining)
        self._awaiting.clear()

    def _wait_for_frames(self, timeout: float) -> None:
        readable, _, _ = select.select([self._capture, self._wake_read], [], [], timeout)
        if self._capture in readable:
            self._read_frames()
        if self._wake_read in readable:
            try:
                os.read(self._wake_read, 64)
            except BlockingIOError:
                pass

    def _sample_holders(self) -> None:
        taken = time.monotonic()
        holders = frozenset(reader.name for reader in self._readers if reader.has(self.vip_bytes))
        self._holder_samples.append(HolderSample(taken, holders))

    def _send_probe(self) -> None:
        self._sequence = (self._sequence + 1) & 0xFFFF
        unsummed = ICMP_HEADER.pack(ICMP_ECHO_REQUEST, 0, 0, self.identifier, self._sequence)
        checksum = _internet_checksum(unsummed + PROBE_PAYLOAD)
        request = ICMP_HEADER.pack(ICMP_ECHO_REQUEST, 0, checksum, self.identifier,
                                   self._sequence) + PROBE_PAYLOAD
        # a reply still awaited under this (wrapped) sequence number is older than 6553 s
        self._awaiting.pop(self._sequence, None)
        sent = time.monotonic()
        self._probes.append([sent, None])
        self._last_send = sent
        try:
            self._echo.sendto(request, (self.vip, 0))
        except OSError as error:
            if error.errno not in SEND_ERRNOS_MEANING_NO_ANSWER:
                raise
        else:
            self._awaiting[self._sequence] = len(self._probes) - 1
        self._drain_echo_socket()

    def _drain_echo_socket(self) -> None:
        # ICMP_FILTER should keep it empty; this is the belt to those braces
        while True:
            try:
                self._echo.recv(2048)
            except (BlockingIOError, InterruptedError):
                return

    def _expire_probes(self) -> None:
        now = time.monotonic()
        for sequence, index in list(self._awaiting.items()):
            if now - self._probes[index][0] > self.reply_timeout:
                del self._awaiting[sequence]

    def _read_frames(self) -> None:
        while True:
            try:
                frame, ancillary, _flags, address = self._capture.recvmsg(65536, TIMESTAMP_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            received = _received_at(ancillary)
            if address[2] == PACKET_OUTGOING or len(frame) < ETHERNET_HEADER.size:
                continue
            _destination, source, ethertype = ETHERNET_HEADER.unpack_from(frame)
            payload = memoryview(frame)[ETHERNET_HEADER.size:]
            if ethertype == ETH_P_ARP:
                self._note_arp(payload, received)
            elif ethertype == ETH_P_IP:
                self._note_echo_reply(payload, source, received)

    def _note_arp(self, arp: memoryview, received: float) -> None:
        if len(arp) < ARP_IPV4_OVER_ETHERNET.size:
            return
        htype, ptype, hlen, plen, op, sender_mac, sender_ip, _target_mac, target_ip = \
            ARP_IPV4_OVER_ETHERNET.unpack_from(arp)
        if (htype, ptype, hlen, plen) != (1, ETH_P_IP, 6, 4) or sender_ip != self.vip_bytes:
            return
        self._arps.append(ArpSeen(received, _mac_text(sender_mac), op,
                                  target_ip == self.vip_bytes))

    def _note_echo_reply(self, packet: memoryview, source_mac: bytes, received: float) -> None:
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_ICMP:
            return
        if bytes(packet[12:16]) != self.vip_bytes:
            return
        header_length = (packet[0] & 0x0F) * 4
        if len(packet) < header_length + ICMP_HEADER.size:
            return
        kind, _code, _checksum, identifier, sequence = ICMP_HEADER.unpack_from(packet,
                                                                               header_length)
        if kind != ICMP_ECHO_REPLY or identifier != self.identifier:
            return
        index = self._awaiting.pop(sequence, None)
        if index is None:
            return  # a duplicate, or later than reply_timeout
        if received - self._probes[index][0] <= self.reply_timeout:
            self._probes[index][1] = _mac_text(source_mac)
