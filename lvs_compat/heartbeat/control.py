"""The daemon's control socket: a unix stream socket in ``--run-dir`` for ``cl_status`` and
``heartbeat -s/-k/-r``.

The C daemon's API (``/run/heartbeat/register`` plus per-client FIFOs, the ``hbapi-*``
messages) is not reproduced: our ``cl_status`` talks to our daemon only, and Debian's
``cl_status`` to a C daemon only.  The protocol here is one JSON request line, one JSON
answer line, then close:

    {"command": "status"}  -> {"ok": true, "status": {...the daemon's snapshot...}}
    {"command": "stop"}    -> {"ok": true}      (graceful stop begins)
    {"command": "reload"}  -> {"ok": true}

The socket is mode 0600 (root only, like the C daemon's privileged requests).
"""

from __future__ import annotations

import json
import os
import socket

SOCKET_NAME = "lvs-compat-heartbeat.sock"
MAX_REQUEST = 4096


class ControlError(Exception):
    """No daemon answered; ``str()`` says why in one line."""


def socket_path(run_dir: str) -> str:
    return os.path.join(run_dir, SOCKET_NAME)


class ControlServer:
    """The listening end, for the daemon's selector loop: ``fileno()`` and ``serve_one(handler)``
    where ``handler(request: dict) -> dict``."""

    def __init__(self, run_dir: str):
        self.path = socket_path(run_dir)
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

    def fileno(self) -> int:
        return self.listener.fileno()

    def serve_one(self, handler) -> None:
        try:
            connection, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        with connection:
            # A client gets half a second to send its one line; a stuck one cannot stall the
            # heartbeats for longer than that.
            connection.settimeout(0.5)
            try:
                data = b""
                while b"\n" not in data and len(data) < MAX_REQUEST:
                    chunk = connection.recv(MAX_REQUEST)
                    if not chunk:
                        break
                    data += chunk
                try:
                    request = json.loads(data.split(b"\n", 1)[0] or b"{}")
                    if not isinstance(request, dict):
                        raise ValueError("not an object")
                except ValueError:
                    answer = {"ok": False, "error": "bad request"}
                else:
                    answer = handler(request)
                connection.sendall(json.dumps(answer).encode() + b"\n")
            except OSError:
                pass

    def close(self) -> None:
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
            raise ControlError(f"no heartbeat listening on {path}") from None
        except OSError as error:
            raise ControlError(f"{path}: {error.strerror or error}") from None
    try:
        answer = json.loads(data)
    except ValueError:
        raise ControlError(f"{path}: garbled answer") from None
    if not isinstance(answer, dict):
        raise ControlError(f"{path}: garbled answer")
    return answer
