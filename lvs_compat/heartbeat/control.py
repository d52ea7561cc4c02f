"""The daemon's control socket: a unix stream socket in ``--run-dir`` for ``cl_status`` and
``heartbeat -s/-k/-r``.

This is not the C daemon's client API (``/run/heartbeat/register``, the ``hbapi-*``
messages): that one is ``api``/``apisocket``, for Debian's own clients.  The protocol here is one
JSON request line, one JSON answer line, then close:

    {"command": "status"}  -> {"ok": true, "status": {...the daemon's snapshot...}}
    {"command": "stop"}    -> {"ok": true}      (graceful stop begins)
    {"command": "reload"}  -> {"ok": true}, or {"ok": false, "error": "reload refused, ..."}
                              once the daemon has checked the new configuration

The socket is mode 0600 (root only, like the C daemon's privileged requests).

The daemon has one thread, and a heartbeat must never wait for a client (issue 19): every
connection is non-blocking and served from the daemon's selector as its bytes arrive, and the
whole request (connect to answer sent) has ``REQUEST_TIMEOUT_MS``, not each read; a client that
has not sent its line, or not taken its answer, by then is closed.  At most ``MAX_CLIENTS`` are
served at once (more are closed on accept), so a flood of connections costs file descriptors
and a little CPU, never a heartbeat.  The clock is the caller's (``now_ms`` arguments).
"""

from __future__ import annotations

import json
import os
import socket

SOCKET_NAME = "lvs-compat-heartbeat.sock"
MAX_REQUEST = 4096
REQUEST_TIMEOUT_MS = 500
MAX_CLIENTS = 16


class ControlError(Exception):
    """No daemon answered; ``str()`` says why in one line."""


class NotListening(ControlError):
    """Nothing listens on the socket: the request was not delivered."""


def socket_path(run_dir: str) -> str:
    return os.path.join(run_dir, SOCKET_NAME)


class _Client:
    __slots__ = ("connection", "deadline_ms", "received", "answer")

    def __init__(self, connection: socket.socket, deadline_ms: int):
        self.connection = connection
        self.deadline_ms = deadline_ms
        self.received = b""
        self.answer: bytes | None = None  # what is left to send, once the request is answered


class ControlServer:
    """The listening end and its clients, in the daemon's selector: every socket is registered
    with data ``("control", client_or_None)``; ``ready(client_or_None, handler, now_ms)`` for
    each event, ``expire(now_ms)`` once per loop, ``next_deadline_ms()`` for the select timeout.
    ``handler(request: dict) -> dict``."""

    def __init__(self, run_dir: str, selector, *, request_timeout_ms: int = REQUEST_TIMEOUT_MS,
                 max_clients: int = MAX_CLIENTS):
        import selectors

        self._events = (selectors.EVENT_READ, selectors.EVENT_WRITE)
        self.path = socket_path(run_dir)
        self.selector = selector
        self.request_timeout_ms = request_timeout_ms
        self.max_clients = max_clients
        self.clients: list[_Client] = []
        self.timed_out = 0  # clients closed at their deadline
        os.makedirs(run_dir, exist_ok=True)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            self.listener.bind(self.path)
        finally:
            os.umask(old_umask)
        self.listener.listen(8)
        self.listener.setblocking(False)
        selector.register(self.listener, self._events[0], ("control", None))

    def fileno(self) -> int:
        return self.listener.fileno()

    def ready(self, client: _Client | None, handler, now_ms: int) -> None:
        """One selector event: ``None`` for the listener (accept), else the client's."""
        if client is None:
            self._accept(now_ms)
        elif client.answer is None:
            self._read(client, handler)
        else:
            self._write(client)

    def _accept(self, now_ms: int) -> None:
        for _ in range(self.max_clients):  # bounded: a connect storm cannot hold the loop
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors and the like: try at the next event
                return
            if len(self.clients) >= self.max_clients:
                connection.close()
                continue
            connection.setblocking(False)
            client = _Client(connection, now_ms + self.request_timeout_ms)
            self.clients.append(client)
            self.selector.register(connection, self._events[0], ("control", client))

    def _read(self, client: _Client, handler) -> None:
        try:
            chunk = client.connection.recv(MAX_REQUEST - len(client.received))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(client)
            return
        client.received += chunk
        if chunk and b"\n" not in client.received and len(client.received) < MAX_REQUEST:
            return  # more to come, within the request's deadline
        try:
            request = json.loads(client.received.split(b"\n", 1)[0] or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            answer = {"ok": False, "error": "bad request"}
        else:
            answer = handler(request)
        client.answer = json.dumps(answer).encode() + b"\n"
        self.selector.modify(client.connection, self._events[1], ("control", client))
        self._write(client)

    def _write(self, client: _Client) -> None:
        try:
            sent = client.connection.send(client.answer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(client)
            return
        client.answer = client.answer[sent:]
        if not client.answer:
            self._close(client)

    def expire(self, now_ms: int) -> None:
        """Close the clients whose request has run out of time."""
        for client in [c for c in self.clients if now_ms >= c.deadline_ms]:
            self.timed_out += 1
            self._close(client)

    def next_deadline_ms(self) -> int | None:
        return min((client.deadline_ms for client in self.clients), default=None)

    def _close(self, client: _Client) -> None:
        self.clients.remove(client)
        self.selector.unregister(client.connection)
        client.connection.close()

    def close(self) -> None:
        for client in list(self.clients):
            self._close(client)
        self.selector.unregister(self.listener)
        self.listener.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def request(run_dir: str, command: str, timeout: float = 5.0, **fields) -> dict:
    """Send one command to the daemon of ``run_dir``; its answer, or ``ControlError``."""
    path = socket_path(run_dir)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        try:
            client.connect(path)
            client.sendall(json.dumps({"command": command, **fields}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotListening(f"no heartbeat listening on {path}") from None
        except OSError as error:
            raise ControlError(f"{path}: {error.strerror or error}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError(f"{path}: garbled answer") from None
    if not isinstance(answer, dict):
        raise ControlError(f"{path}: garbled answer")
    return answer
