"""A real server's web server: ``python -m lvs_compat.demo.webserver NAME [PORT]``.

Every ``GET`` is answered ``200`` with the body ``NAME\\n``, over HTTP/1.1 keep-alive, one thread
per connection, so a long-lived client connection stays open as long as the client wants.  Only
the socket module: it starts fast on an emulated CPU, where ``http.server``'s imports are slow.
"""

from __future__ import annotations

import socket
import sys
import threading

MAX_HEADER_BYTES = 16384


def serve_connection(connection: socket.socket, body: bytes) -> None:
    buffered = b""
    with connection:
        while True:
            while b"\r\n\r\n" not in buffered:
                try:
                    chunk = connection.recv(4096)
                except OSError:
                    return
                if not chunk or len(buffered) > MAX_HEADER_BYTES:
                    return
                buffered += chunk
            head, buffered = buffered.split(b"\r\n\r\n", 1)
            request_line = head.split(b"\r\n", 1)[0].split()
            lowered = head.lower()
            # HTTP/1.0 (mon's http.monitor) reads until the server closes, unless it asked
            # for keep-alive; HTTP/1.1 keeps the connection unless asked to close it
            if request_line[-1:] == [b"HTTP/1.0"]:
                closing = b"connection: keep-alive" not in lowered
            else:
                closing = b"connection: close" in lowered
            if len(request_line) < 2 or request_line[0] not in (b"GET", b"HEAD"):
                status, payload = b"405 Method Not Allowed", b""
            else:
                status, payload = b"200 OK", body
            response = (b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: " + str(len(payload)).encode() + b"\r\n"
                        + (b"Connection: close\r\n" if closing else b"") + b"\r\n")
            if request_line and request_line[0] != b"HEAD":
                response += payload
            try:
                connection.sendall(response)
            except OSError:
                return
            if closing:
                return


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or len(argv) > 2:
        sys.stderr.write("usage: webserver NAME [PORT]\n")
        return 2
    name, port = argv[0], int(argv[1]) if len(argv) == 2 else 80
    body = f"{name}\n".encode()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(64)
    print(f"{name}: listening on port {port}", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve_connection, args=(connection, body), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
