"""The daemon's control socket against hostile clients, with a fake clock: the whole request has
REQUEST_TIMEOUT_MS (not each read), so a client that trickles bytes cannot hold the daemon's one
thread (issue 19 item 5).  The pair in the lab proves the same with real heartbeats
(tests/test_heartbeat_daemon_netns.py)."""

import json
import selectors
import socket

from lvs_compat.heartbeat.control import MAX_CLIENTS, REQUEST_TIMEOUT_MS, ControlServer


class Loop:
    """The daemon's selector loop, one turn at a time, at a time the test chooses."""

    def __init__(self, run_dir):
        self.selector = selectors.DefaultSelector()
        self.server = ControlServer(str(run_dir), self.selector)
        self.requests = []

    def handler(self, request):
        self.requests.append(request)
        return {"ok": True, "echo": request}

    def turn(self, now_ms):
        for key, _ in self.selector.select(0):
            self.server.ready(key.data[1], self.handler, now_ms)
        self.server.expire(now_ms)

    def close(self):
        self.server.close()
        self.selector.close()


def client(loop):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(loop.server.path)
    return sock


def closed_by_server(sock) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(100) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_a_client_trickling_a_byte_every_400_ms_is_closed_at_the_request_deadline(tmp_path):
    loop = Loop(tmp_path)
    try:
        slow = client(loop)
        loop.turn(now_ms=0)  # accepted
        assert loop.server.next_deadline_ms() == REQUEST_TIMEOUT_MS
        now = 0
        for byte in b'{"command"':
            now += 400
            slow.send(bytes([byte]))
            loop.turn(now)
            if now >= REQUEST_TIMEOUT_MS:
                break
        # each read came well within 500 ms of the last, yet the request is over at 500 ms
        assert now == 800 and loop.server.clients == [] and loop.server.timed_out == 1
        assert closed_by_server(slow)
        assert loop.requests == []
        assert loop.server.next_deadline_ms() is None
    finally:
        loop.close()


def test_a_request_in_pieces_within_the_deadline_is_answered(tmp_path):
    loop = Loop(tmp_path)
    try:
        sock = client(loop)
        loop.turn(now_ms=0)
        sock.send(b'{"command": ')
        loop.turn(now_ms=200)
        sock.send(b'"status"}\n')
        loop.turn(now_ms=400)
        sock.settimeout(5)
        assert json.loads(sock.makefile("rb").readline()) == {"ok": True, "echo": {"command": "status"}}
        assert loop.server.clients == [] and loop.server.timed_out == 0
    finally:
        loop.close()


def test_a_client_that_never_reads_its_answer_is_closed_at_the_deadline(tmp_path):
    loop = Loop(tmp_path)
    loop.handler = lambda request: {"ok": True, "blob": "x" * 4_000_000}  # far above the socket buffer
    try:
        sock = client(loop)
        loop.turn(now_ms=0)
        sock.send(b'{"command": "status"}\n')
        loop.turn(now_ms=10)  # answered as far as the socket takes it; the loop did not block
        assert len(loop.server.clients) == 1
        loop.turn(now_ms=REQUEST_TIMEOUT_MS)
        assert loop.server.clients == [] and loop.server.timed_out == 1
    finally:
        loop.close()


def test_a_flood_of_connections_is_served_at_most_max_clients_at_a_time(tmp_path):
    loop = Loop(tmp_path)
    try:
        socks = []
        for _ in range(MAX_CLIENTS + 4):  # the listen backlog is 8: accept as they come
            socks.append(client(loop))
            loop.turn(now_ms=0)
        assert len(loop.server.clients) == MAX_CLIENTS
        assert sum(closed_by_server(sock) for sock in socks) == 4
        loop.turn(now_ms=REQUEST_TIMEOUT_MS)
        assert loop.server.clients == []
        for sock in socks:
            sock.close()
    finally:
        loop.close()
