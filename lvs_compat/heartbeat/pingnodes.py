"""Ping nodes of ha.cf (``ping HOST``, ``ping_group NAME HOST...``): ICMP echo every keepalive,
a node is ``ping`` while it answered within ``deadping``, else ``dead`` (SPEC §1a media; C: the
``ping`` and ``ping_group`` HBcomm plugins, status word ``ping``).

One raw ICMP socket for all of them, watched by the daemon's selector (``fileno``/``receive``);
``tick(now_ms)`` sends the echoes that are due and declares silent nodes dead.  Both return the
status changes as ``(node, old, new)``.  A group is alive while any of its hosts answers.  IPv6
(``ping6``) is not provided: such a node is reported once and stays ``dead``.

In 3.0.6 v1 mode a ping node's death moves no resource (only ``ipfail`` acts on it, not
provided); the coordinator gets ``PingNodeStatus`` and ``cl_status`` shows the status.
"""

from __future__ import annotations

import os
import socket
import struct

PING, DEAD = "ping", "dead"
ECHO_REQUEST, ECHO_REPLY = 8, 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


class PingNodes:
    def __init__(self, media, keepalive_ms: int, deadping_ms: int, now_ms: int):
        self.keepalive_ms = keepalive_ms
        self.deadping_ms = deadping_ms
        self.unsupported: list[str] = []
        self._hosts: dict[str, str] = {}       # address -> node (ping name or group name)
        self.status: dict[str, str | None] = {}
        self._heard: dict[str, int] = {}
        for medium in media:
            if medium.kind == "ping" and not medium.ipv6:
                hosts, name = (medium.host,), medium.host
            elif medium.kind == "ping_group":
                hosts, name = medium.hosts, medium.name
            elif medium.kind == "ping":
                self.unsupported.append(medium.host)
                continue
            else:
                continue
            for host in hosts:
                try:
                    self._hosts[socket.gethostbyname(host)] = name
                except OSError as error:
                    raise OSError(f"ping node {host}: {error.strerror or error}") from None
            self.status[name] = None
            self._heard[name] = now_ms
        self._sock = None
        if self._hosts:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            self._sock.setblocking(False)
        self._ident = os.getpid() & 0xFFFF
        self._seq = 0
        self._next_send_ms = now_ms

    def __bool__(self) -> bool:
        return self._sock is not None

    def fileno(self) -> int:
        return self._sock.fileno()

    def receive(self, now_ms: int) -> list[tuple[str, str | None, str]]:
        changes = []
        while True:
            try:
                data, (address, _) = self._sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return changes
            except OSError:
                return changes
            icmp = data[(data[0] & 0x0F) * 4:] if data else b""
            if (len(icmp) < 8 or icmp[0] != ECHO_REPLY
                    or struct.unpack("!H", icmp[4:6])[0] != self._ident):
                continue
            name = self._hosts.get(address)
            if name is None:
                continue
            self._heard[name] = now_ms
            changes += self._set(name, PING)

    def tick(self, now_ms: int) -> list[tuple[str, str | None, str]]:
        changes = []
        if self._sock is None:
            return changes
        if now_ms >= self._next_send_ms:
            self._next_send_ms = now_ms + self.keepalive_ms
            self._seq = (self._seq + 1) & 0xFFFF
            header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, self._ident, self._seq)
            payload = b"heartbeat ping"
            packet = struct.pack("!BBHHH", ECHO_REQUEST, 0, _checksum(header + payload),
                                 self._ident, self._seq) + payload
            for address in self._hosts:
                try:
                    self._sock.sendto(packet, (address, 0))
                except OSError:
                    pass     # unreachable now: it will be declared dead after deadping
        for name, heard in self._heard.items():
            if now_ms - heard > self.deadping_ms:
                changes += self._set(name, DEAD)
        return changes

    def next_deadline_ms(self) -> int | None:
        return self._next_send_ms if self._sock is not None else None

    def _set(self, name: str, status: str) -> list[tuple[str, str | None, str]]:
        old = self.status[name]
        if old == status:
            return []
        self.status[name] = status
        return [(name, old, status)]

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
