"""Thousands of real servers for the scale tests (issue 21): one listener per host.

``monitor_support.serve`` spends a thread per listener and per connection, which is
fine for twenty hosts and not for 5,000. This server is one process, one thread and
one ``selectors`` loop over every listener (each bound to its own 127.x.y.z in a
private namespace, see monitor_support.Namespace) and every accepted connection.

Run as ``python3 scale_support.py SPEC_FILE`` (a JSON file: 5,000 hosts are more than one
argument may hold); SPEC is
``{"port": 8001, "protocol": "http"|"ftp", "hosts": {HOST: BEHAVIOUR, ...}}`` with
BEHAVIOUR one of:

  "ok"       http: reads the request, answers 200 and closes;
             ftp: greets with 220, answers quit with 221 and closes;
  "hung"     accepts and never says anything (nor closes);
  "slow-ok"  http: sends a good status line at once, then holds the connection
             open (the monitor's verdict is OK, but the check lasts until its deadline).

It raises its own soft RLIMIT_NOFILE to the hard limit, prints "ready" once every
listener is bound, and runs until killed.
"""

import json
import resource
import selectors
import socket
import sys

HTTP_OK = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nscale test\n"


def hosts_in_range(count, second_octet=1):
    """``count`` distinct loopback addresses, 127.<second_octet>.x.y (y from 1 to 250)."""
    return [f"127.{second_octet}.{n // 250}.{n % 250 + 1}" for n in range(count)]


def raise_own_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def serve(spec):
    raise_own_nofile()
    selector = selectors.DefaultSelector()
    protocol = spec["protocol"]
    held = []
    for host, behaviour in spec["hosts"].items():
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, spec["port"]))
        listener.listen(16)
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, ("listener", behaviour))
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            role, behaviour = key.data
            if role == "listener":
                try:
                    connection, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                connection.setblocking(False)
                if behaviour == "hung":
                    held.append(connection)
                elif behaviour == "slow-ok":
                    _send(connection, HTTP_OK.split(b"\r\n")[0] + b"\r\n")
                    held.append(connection)
                else:
                    if protocol == "ftp":
                        _send(connection, b"220 ready\r\n")
                    selector.register(connection, selectors.EVENT_READ, ("client", b""))
            else:
                _on_client(selector, key, protocol)


def _on_client(selector, key, protocol):
    connection = key.fileobj
    try:
        data = connection.recv(4096)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    received = key.data[1] + data
    done = not data
    if protocol == "http" and b"\r\n\r\n" in received:
        _send(connection, HTTP_OK)
        done = True
    elif protocol == "ftp" and b"\n" in received:
        _send(connection, b"221 Goodbye\r\n")
        done = True
    if done:
        selector.unregister(connection)
        connection.close()
    else:
        selector.modify(connection, selectors.EVENT_READ, ("client", received))


def _send(connection, data):
    try:
        connection.send(data)  # small: fits the socket buffer of a fresh connection
    except OSError:
        pass


if __name__ == "__main__":
    with open(sys.argv[1]) as spec_file:
        serve(json.load(spec_file))
