"""The client API's socket: ``<run dir>/register`` (``/run/heartbeat/register``), the thin I/O
shell around ``api.ApiServer`` in the daemon's selector (CLIENT-API §1.1).

As 3.0.6: an AF_UNIX stream socket created at comm-up (the daemon calls ``open`` then), any
stale file unlinked first, mode 0777 (access control is the directory's, 0750
hacluster:haclient from tmpfiles.d, and the SO_PEERCRED checks at sign-on), backlog 128, left
in place at exit.

The daemon has one thread and its heartbeats must never wait for a client (issue 16, item 4):
every connection is non-blocking and served as its bytes arrive; a client reads at most
``READ_CHUNK`` bytes a turn; what a client has not taken yet waits in its own queue, at most its
send queue length in messages (64, C's default; ``set_sendqlen`` changes it); a client whose
queue is full is dropped with a log line (C: "send failed"), as is one that sends bytes that are
not clplumbing frames.  At most ``MAX_CONNECTIONS`` connections are served at once; more are
closed on accept with a (rate-limited) log line.  Every ``AUDIT_INTERVAL_MS`` the signed-on
clients' processes are checked (C: kill(pid, 0) every 9 s) and the dead ones removed.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import struct
from collections import deque

from . import api
from .ratelimit import RateLimiter
from .statefiles import pid_alive

SOCKET_NAME = "register"
BACKLOG = 128
READ_CHUNK = 65536
MAX_CONNECTIONS = 64
ACCEPTS_PER_EVENT = 64
AUDIT_INTERVAL_MS = 9000
_UCRED = struct.Struct("3i")


def peer_credentials(connection: socket.socket) -> api.PeerCred:
    raw = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return api.PeerCred(*_UCRED.unpack(raw))


class _Connection:
    __slots__ = ("sock", "reader", "pending", "max_queue", "writing")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = api.FrameReader()
        self.pending: deque[memoryview] = deque()   # framed messages not yet fully sent
        self.max_queue = api.DEFAULT_SEND_QUEUE
        self.writing = False


class ApiSocket:
    """The listening socket and its connections; selector data ``("api", connection|None)``.
    ``ready`` and ``expire`` return ``api`` actions for the daemon to execute (it owns the
    core and the log); ``send``/``close``/``set_queue`` carry out the connection ones."""

    def __init__(self, run_dir: str, selector, server: api.ApiServer, msgfmt: str = "classic",
                 *, max_connections: int = MAX_CONNECTIONS):
        self.path = os.path.join(run_dir, SOCKET_NAME)
        self.selector = selector
        self.server = server
        self.msgfmt = msgfmt
        self.max_connections = max_connections
        self.connections: dict[_Connection, None] = {}
        self.next_audit_ms: int | None = None
        self.refused = 0
        self._refused_unlogged = 0
        self._refusal_log = RateLimiter(1.0, 1)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.listener.bind(self.path)
            os.chmod(self.path, 0o777)
            self.listener.listen(BACKLOG)
        except OSError:
            self.listener.close()
            raise
        self.listener.setblocking(False)
        selector.register(self.listener, selectors.EVENT_READ, ("api", None))

    # -- events ----------------------------------------------------------------------------
    def ready(self, connection: _Connection | None, events: int, view_of, now_ms: int) -> list:
        if connection is None:
            return self._accept(now_ms)
        out: list = []
        if events & selectors.EVENT_WRITE and connection in self.connections:
            out += self._flush(connection)
        if events & selectors.EVENT_READ and connection in self.connections:
            out += self._read(connection, view_of)
        return out

    def _accept(self, now_ms: int) -> list:
        out: list = []
        if self.next_audit_ms is None:
            self.next_audit_ms = now_ms + AUDIT_INTERVAL_MS
        for _ in range(ACCEPTS_PER_EVENT):       # bounded: a connect storm cannot hold the loop
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError:                      # out of descriptors: try at the next event
                break
            if len(self.connections) >= self.max_connections:
                sock.close()
                self.refused += 1
                self._refused_unlogged += 1
                continue
            sock.setblocking(False)
            try:
                cred = peer_credentials(sock)
            except OSError:
                sock.close()
                continue
            connection = _Connection(sock)
            self.connections[connection] = None
            self.selector.register(sock, selectors.EVENT_READ, ("api", connection))
            self.server.connected(connection, cred)
        # one line a second at most, with what it covers
        if self._refused_unlogged and self._refusal_log.due(None, now_ms / 1000) is not None:
            out.append(api.Log("warning", f"API: {self._refused_unlogged} connection(s) "
                               f"refused: {self.max_connections} clients already connected"))
            self._refused_unlogged = 0
        return out

    def _read(self, connection: _Connection, view_of) -> list:
        try:
            data = connection.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as error:
            return self._gone(connection, error.strerror or "receive error")
        if not data:
            return self._gone(connection, "EOF")
        try:
            bodies = connection.reader.feed(data)
        except api.FrameError as error:
            return self.server.drop(connection, f"{error}")
        out: list = []
        view = None
        for body in bodies:
            if connection not in self.connections or connection not in self.server.clients:
                break
            if view is None:
                view = view_of()
            out += self.server.receive(connection, body, view, pid_alive)
        return out

    def _gone(self, connection: _Connection, reason: str) -> list:
        actions = self.server.disconnected(connection, reason)
        self.close(connection)
        return actions

    # -- actions -------------------------------------------------------------------------
    def send(self, connection: _Connection, message) -> list:
        """Queue one message for a client; the drop actions if its queue is full."""
        if connection not in self.connections:
            return []
        try:
            data = api.encode(message, self.msgfmt)
        except ValueError as error:
            return [api.Log("error", f"API: cannot encode a {message.get('t')} message: "
                            f"{error}")]
        if len(connection.pending) >= connection.max_queue:
            return self.server.drop(connection, f"send queue full "
                                    f"({connection.max_queue} messages not read)")
        connection.pending.append(memoryview(data))
        out = self._flush(connection)
        client = self.server.clients.get(connection)
        if client is not None and client.signal and not out:
            try:
                os.kill(client.pid, client.signal)
            except ProcessLookupError:
                return self.server.drop(connection, "died")
            except OSError:
                pass
        return out

    def _flush(self, connection: _Connection) -> list:
        while connection.pending:
            chunk = connection.pending[0]
            try:
                sent = connection.sock.send(chunk)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                if error.errno in (errno.EPIPE, errno.ECONNRESET):
                    return self._gone(connection, "EOF")
                return self.server.drop(connection, f"send failed: {error.strerror}")
            if sent < len(chunk):
                connection.pending[0] = chunk[sent:]
                break
            connection.pending.popleft()
        want_write = bool(connection.pending)
        if want_write != connection.writing:
            connection.writing = want_write
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0)
            self.selector.modify(connection.sock, events, ("api", connection))
        return []

    def set_queue(self, connection: _Connection, length: int) -> None:
        if connection in self.connections:
            connection.max_queue = length

    def close(self, connection: _Connection) -> None:
        if self.connections.pop(connection, 0) is None:
            self.selector.unregister(connection.sock)
            connection.sock.close()
        self.server.clients.pop(connection, None)

    # -- time ------------------------------------------------------------------------------
    def next_deadline_ms(self) -> int | None:
        return self.next_audit_ms if self.server.signed_on() else None

    def expire(self, now_ms: int) -> list:
        """The audit: clients whose process is gone are removed (C: every 9 s)."""
        if self.next_audit_ms is None or now_ms < self.next_audit_ms:
            return []
        self.next_audit_ms = now_ms + AUDIT_INTERVAL_MS
        out: list = []
        for client in list(self.server.signed_on()):
            if not pid_alive(client.pid):
                out += self.server.drop(client.connection, "died")
        return out

    def shutdown(self) -> None:
        """Close every connection and the listener; the socket file stays, as in 3.0.6."""
        for connection in list(self.connections):
            self.close(connection)
        self.selector.unregister(self.listener)
        self.listener.close()
