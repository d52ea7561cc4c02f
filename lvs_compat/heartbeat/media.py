"""Heartbeat media: the sockets and serial ports, as thin objects for one selector loop.

Each medium has ``name`` (the link name ``cl_status`` shows: the interface for the UDP media,
the device for serial), ``framing`` (``netstring`` on UDP, ``classic`` on serial: the bytes the
daemon hands to ``write``), ``fileno()`` (what to select on), ``read()`` (the packets that have
arrived, without blocking) and ``write(packet)``.  Nothing here knows about messages beyond the
serial line framing; decoding and authentication are ``wire``'s job, liveness the core's.

Socket options as the C plugins set them (SPEC §1a "Media directives", LAB):

* ``bcast`` (and ``udp``): send to the interface's broadcast address (SIOCGIFBRDADDR) at
  ``udpport`` from an ephemeral port with SO_BROADCAST + SO_BINDTODEVICE, TOS 0; receive on
  ``0.0.0.0:udpport`` with SO_REUSEADDR + SO_BINDTODEVICE.  A node hears its own broadcasts.
* ``ucast``: send to PEER:udpport with SO_BINDTODEVICE, IP TOS 0x10 (IPTOS_LOWDELAY) and
  SO_REUSEPORT; receive as bcast.
* ``mcast``: join GROUP on IF, receive on GROUP:PORT; send with IP_MULTICAST_TTL = TTL,
  IP_MULTICAST_LOOP = LOOP, IP_MULTICAST_IF = IF.  ``udpport`` is not used.
* ``serial``: classic text (``>>>``...``<<<``), raw 8N1 with CLOCAL, CREAD and CRTSCTS at
  ``baud``; writes go in 512-byte fragments separated by the time 512 bytes take on the line;
  the reader skips to a ``>>>`` line and reads up to the ``<<<`` line.

Beyond the C plugins (issue 19 item 8): a UDP receive socket gets a 4 MiB receive buffer
(``RECEIVE_BUFFER_BYTES`` says why that size), is read at most ``_RECV_BATCH`` datagrams per
readiness event, and ``kernel_drops()`` says how many datagrams the kernel dropped for it.

pyserial is imported only when a serial medium is opened.
"""

from __future__ import annotations

import errno
import fcntl
import socket
import struct

from .clock import SYSTEM_CLOCK, Clock
from .wire import CLASSIC, CLASSIC_END, CLASSIC_START, MAXMSG, NETSTRING

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
SIOCGIFBRDADDR = 0x8919
IPTOS_LOWDELAY = 0x10
SERIAL_FRAGMENT = 512
# Packets read per readiness event: the loop runs its timers (our own heartbeats) between two
# batches, so a flooded medium cannot starve them, nor the other media.
_RECV_BATCH = 64
# No datagram is larger.  recvfrom(MAXMSG) took 11 us a call here, as its 256 KiB buffer is
# mapped and unmapped each time; 1.4 us with this one.
UDP_MAX_PAYLOAD = 65535
# The receive buffer asked for (issue 19 item 8).  The kernel charges a small datagram's whole
# buffer, 1,280 bytes for a 300-byte heartbeat on loopback or veth, and doubles what it is
# asked for: 4 MiB asked is 8 MiB charged, 6,500 heartbeat-sized packets, 330 ms of a 20k
# packets/s flood, more than POLL_INTERVAL (250 ms), the longest the loop is meant to be away.
# Linux's default (212,992 bytes) holds 166 of them, 8 ms.  Root sets it past
# net.core.rmem_max with SO_RCVBUFFORCE; otherwise it is capped there.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_MEMINFO = 55  # Linux: the socket's memory counters, SK_MEMINFO_DROPS among them
SK_MEMINFO_DROPS = 8


class MediumError(Exception):
    """A medium that cannot be opened; ``str()`` is a one-line message."""


class MediumDown(Exception):
    """A medium that failed while running (a serial line whose far end hung up): ``read()``
    raises it once; the medium is closed and the daemon stops reading it until ``reopen()``
    succeeds.  ``str()`` is a one-line message."""


def _bind_to_device(sock: socket.socket, interface: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode() + b"\0")


def interface_broadcast(interface: str) -> str:
    """The IPv4 broadcast address of ``interface`` (SIOCGIFBRDADDR, as the bcast plugin)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16s16x", interface.encode()[:15])
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFBRDADDR, request)
        except OSError as error:
            raise MediumError(f"bcast {interface}: cannot get the broadcast address: "
                              f"{error.strerror}") from None
    return socket.inet_ntoa(answer[20:24])


def _enlarge_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for a ``size`` receive buffer (past rmem_max when root), never a smaller one than
    the socket has; the size the kernel gives (SO_RCVBUF, which it doubled)."""
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < 2 * size:
        for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, size)
                break
            except OSError:  # EPERM without CAP_NET_ADMIN: SO_RCVBUF, capped at rmem_max
                continue
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


class UdpMedium:
    """Common part of bcast/ucast/mcast: one receive socket, one send socket."""

    framing = NETSTRING
    kind = "udp"

    def __init__(self, name: str, destination: tuple[str, int]):
        self.name = name
        self.destination = destination
        self.receiver: socket.socket | None = None
        self.sender: socket.socket | None = None
        self.send_errors = 0
        self.last_send_error: str | None = None
        self.receive_buffer = 0  # bytes the kernel gives the receive socket (SO_RCVBUF)

    def fileno(self) -> int:
        return self.receiver.fileno()

    def read(self) -> list[tuple[bytes, tuple]]:
        """``(packet, (sender address, port))`` for the datagrams waiting, at most
        ``_RECV_BATCH``: the daemon comes back for the rest after its timers."""
        packets = []
        for _ in range(_RECV_BATCH):
            try:
                packets.append(self.receiver.recvfrom(UDP_MAX_PAYLOAD))
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:  # e.g. ENETDOWN while the link is down: nothing to read
                if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                break
        return packets

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped for this socket since it was opened, mostly because
        its receive buffer was full (SK_MEMINFO_DROPS); None if the kernel does not say."""
        try:
            info = self.receiver.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 64)
        except OSError:
            return None
        if len(info) < 4 * (SK_MEMINFO_DROPS + 1):
            return None
        return struct.unpack_from("I", info, 4 * SK_MEMINFO_DROPS)[0]

    def write(self, packet: bytes) -> bool:
        try:
            self.sender.sendto(packet, self.destination)
        except OSError as error:
            # A down link or an unreachable peer must not stop the daemon: counted, and the
            # core sees the link go dead from its side.
            self.send_errors += 1
            self.last_send_error = error.strerror or str(error)
            return False
        return True

    def close(self) -> None:
        for sock in (self.receiver, self.sender):
            if sock is not None:
                sock.close()

    def _receiver(self, interface: str, bind: tuple[str, int]) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _bind_to_device(sock, interface)
            sock.bind(bind)
            sock.setblocking(False)
        except OSError as error:
            sock.close()
            raise MediumError(f"{self.kind} {interface}: cannot receive on {bind[0] or '*'}:"
                              f"{bind[1]}: {error.strerror}") from None
        self.receive_buffer = _enlarge_receive_buffer(sock, RECEIVE_BUFFER_BYTES)
        return sock

    def _sender(self, interface: str, options, what: str | None = None) -> socket.socket:
        """The send socket: each ``(level, option, value)`` of ``options`` set in order, then bound
        to ``interface`` and non-blocking.  On failure the receiver is closed as well and the
        error reads ``WHAT: reason``, WHAT by default ``KIND INTERFACE: cannot send``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for level, option, value in options:
                sock.setsockopt(level, option, value)
            _bind_to_device(sock, interface)
            sock.setblocking(False)
        except OSError as error:
            sock.close()
            self.close()
            what = what or f"{self.kind} {interface}: cannot send"
            raise MediumError(f"{what}: {error.strerror}") from None
        return sock

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} -> {self.destination}>"


class BcastMedium(UdpMedium):
    kind = "bcast"

    def __init__(self, interface: str, udp_port: int):
        super().__init__(interface, (interface_broadcast(interface), udp_port))
        self.receiver = self._receiver(interface, ("", udp_port))
        self.sender = self._sender(interface, [(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)])


class UcastMedium(UdpMedium):
    kind = "ucast"

    def __init__(self, interface: str, peer: str, udp_port: int):
        try:
            address = socket.getaddrinfo(peer, udp_port, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
        except (socket.gaierror, IndexError):
            raise MediumError(f"ucast {interface} {peer}: cannot resolve the peer") from None
        super().__init__(interface, (address, udp_port))
        self.receiver = self._receiver(interface, ("", udp_port))
        try:  # LAB: the C ucast plugin sets SO_REUSEPORT on its receive socket as well
            self.receiver.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        except OSError:
            pass
        self.sender = self._sender(interface, [(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1),
                                               (socket.IPPROTO_IP, socket.IP_TOS, IPTOS_LOWDELAY)])


class McastMedium(UdpMedium):
    kind = "mcast"

    def __init__(self, interface: str, group: str, port: int, ttl: int, loop: int):
        super().__init__(interface, (group, port))
        try:
            ifindex = socket.if_nametoindex(interface)
        except OSError:
            raise MediumError(f"mcast {interface}: no such interface") from None
        mreqn = struct.pack("4s4si", socket.inet_aton(group), socket.inet_aton("0.0.0.0"),
                            ifindex)
        self.receiver = self._receiver(interface, (group, port))
        what = f"mcast {interface} {group}"
        try:
            self.receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        except OSError as error:
            self.close()
            raise MediumError(f"{what}: {error.strerror}") from None
        self.sender = self._sender(interface, [(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn),
                                               (socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl),
                                               (socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP,
                                                1 if loop else 0)], what)


class SerialMedium:
    """A serial line carrying classic text (SPEC §1d "serial")."""

    framing = CLASSIC
    kind = "serial"

    def __init__(self, device: str, baud: int, *, clock: Clock = SYSTEM_CLOCK):
        try:
            import serial  # pyserial; only serial media pay for it
        except ImportError:
            raise MediumError(f"serial {device}: pyserial is not installed") from None
        self.name = device
        self.baud = baud
        self._clock = clock
        self._serial = serial
        self._serial_errors = (serial.SerialException, OSError)
        self.port = self._open()
        self._buffer = bytearray()
        self._in_message = False
        self.send_errors = 0
        self.last_send_error: str | None = None

    def _open(self):
        serial = self._serial
        try:
            return serial.Serial(self.name, baudrate=self.baud, bytesize=serial.EIGHTBITS,
                                 parity=serial.PARITY_NONE, stopbits=serial.STOPBITS_ONE,
                                 rtscts=True, timeout=0, write_timeout=2, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as error:
            raise MediumError(f"serial {self.name}: cannot open: {error}") from None

    def reopen(self) -> None:
        """Open the device again after ``MediumDown`` (its far end may be back); raises
        ``MediumError`` while it cannot be opened.  A half-read message is forgotten."""
        self.close()
        self._buffer.clear()
        self._in_message = False
        self.port = self._open()

    def fileno(self) -> int:
        return self.port.fileno()

    def read(self) -> list[tuple[bytes, None]]:
        try:
            data = self.port.read(65536)
        except self._serial_errors as error:
            # EIO (a pty whose far end closed, a line that hung up) or "readiness to read but
            # no data": the descriptor stays readable for ever, so going on reading it would
            # spin the daemon's loop at 100 % CPU, under SCHED_RR too
            raise MediumDown(f"serial {self.name}: {error}") from None
        self._buffer += data
        return [(message, None) for message in self._split()]

    def _split(self) -> list[bytes]:
        """Complete ``>>>``..``<<<`` messages in the buffer; junk before ``>>>`` is skipped,
        as the C reader does, and a message that outgrows MAXMSG is thrown away."""
        messages = []
        while True:
            if not self._in_message:
                start = self._buffer.find(CLASSIC_START)
                if start < 0:
                    del self._buffer[:max(0, len(self._buffer) - len(CLASSIC_START) + 1)]
                    return messages
                if start > 0 and self._buffer[start - 1] != 0x0A and self._buffer[start - 1] != 0:
                    del self._buffer[:start + 1]  # '>>>' not at the start of a line
                    continue
                del self._buffer[:start]
                self._in_message = True
            end = self._buffer.find(b"\n" + CLASSIC_END)
            if end < 0:
                if len(self._buffer) > MAXMSG:
                    self._buffer.clear()
                    self._in_message = False
                return messages
            stop = end + 1 + len(CLASSIC_END)
            messages.append(bytes(self._buffer[:stop]))
            del self._buffer[:stop]
            if self._buffer[:1] == b"\0":
                del self._buffer[:1]
            self._in_message = False

    def write(self, packet: bytes) -> bool:
        pause = SERIAL_FRAGMENT * 10 / self.baud  # 8N1: 10 bit times per byte
        try:
            for offset in range(0, len(packet), SERIAL_FRAGMENT):
                if offset:
                    self._clock.sleep(pause)
                self.port.write(packet[offset:offset + SERIAL_FRAGMENT])
        except self._serial_errors as error:
            self.send_errors += 1
            self.last_send_error = str(error)
            return False
        return True

    def close(self) -> None:
        try:
            self.port.close()
        except self._serial_errors:
            pass

    def __repr__(self) -> str:
        return f"<SerialMedium {self.name} {self.baud}>"


def open_medium(spec, clock: Clock = SYSTEM_CLOCK) -> UdpMedium | SerialMedium:
    """A medium from one ``ha.cf`` media item (``config.hacf`` Bcast/Ucast/Mcast/Serial)."""
    kind = spec.kind
    if kind == "bcast":
        return BcastMedium(spec.interface, spec.udp_port)
    if kind == "ucast":
        return UcastMedium(spec.interface, spec.peer, spec.udp_port)
    if kind == "mcast":
        return McastMedium(spec.interface, spec.group, spec.port, spec.ttl, spec.loop)
    if kind == "serial":
        return SerialMedium(spec.device, spec.baud, clock=clock)
    raise MediumError(f"{kind}: medium not supported by this heartbeat (bcast, udp, ucast, "
                      "mcast and serial are)")


def open_media(specs, clock: Clock = SYSTEM_CLOCK) -> list:
    """Open every non-ping medium; on a failure close what was opened and raise."""
    opened = []
    try:
        for spec in specs:
            if spec.kind in ("ping", "ping6", "ping_group"):
                continue
            opened.append(open_medium(spec, clock))
    except MediumError:
        for medium in opened:
            medium.close()
        raise
    return opened


def probe_media(specs, clock: Clock = SYSTEM_CLOCK, *, open_already=()) -> None:
    """What ``open_media`` would fail on, without keeping anything: every non-ping medium of
    ``specs`` is opened and closed at once, except those in ``open_already`` (media the running
    daemon holds open: a second open of its serial port would fail on the lock, and a second
    UDP receive socket could take a packet of its).  A failure is a ``MediumError`` located at
    its ha.cf line.  For a reload (issue 19): a new ha.cf must be one that start-up accepts
    before the running daemon gives anything up."""
    for spec in specs:
        if spec.kind in ("ping", "ping6", "ping_group") or medium_key(spec) in open_already:
            continue
        try:
            open_medium(spec, clock).close()
        except MediumError as error:
            raise MediumError(f"{spec.location}: {error}") from None


def medium_key(spec) -> tuple:
    """A media item without its place in ha.cf: the same key means the same medium."""
    return tuple((name, value) for name, value in vars(spec).items() if name != "location")
