"""Clients of the heartbeat API that misbehave, against our daemon in the namespace lab (issue 16,
item 4): a client that signs on and never reads, garbage on the socket, a user that ``apiauth``
does not allow, a named client without an ``apiauth`` entry.  Each is refused or dropped with a
log line, and meanwhile the peer hears every heartbeat in time (no "Late heartbeat", nobody
declared dead).

Two of our nodes, keepalive 500 ms, deadtime 2 s, warntime 1 s: a heartbeat held up by a
client for a second would show in the peer's log.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess

import pytest

from heartbeat_lab import Lab, ha_cf, have_lab, wait_for
from lvs_compat.heartbeat import api, wire

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(have_lab() is not None, reason=str(have_lab()))]

START_TIMEOUT_S = 15      # initdead 4 s, then both active
LOG_TIMEOUT_S = 5


@pytest.fixture
def pair(tmp_path):
    lab = Lab(tmp_path, names=("nodea", "nodeb"))
    try:
        lab.open()
        for node in lab.nodes:
            node.write_config(ha_cf(["nodea", "nodeb"], media="bcast hb0"))
            node.start()
        a, b = lab.nodes
        for node, other in ((a, b), (b, a)):
            wait_for(lambda: node.cl_status("nodestatus", other.name).stdout == "active\n",
                     START_TIMEOUT_S, 0.1, f"{node.name} to see {other.name} active")
        wait_for(lambda: (a.rundir / "register").exists(), START_TIMEOUT_S, 0.05,
                 "the API socket")
        yield a, b, {node.name: len(log_of(node)) for node in lab.nodes}
    finally:
        lab.close()


def log_of(node) -> str:
    path = node.root / "ha-log"
    return path.read_text(errors="replace") if path.exists() else ""


def assert_heartbeats_kept_time(a, b, marks):
    """Nothing late or dead on either side since the mark, and both still see each other."""
    for node in (a, b):
        since = log_of(node)[marks[node.name]:]
        assert "Late heartbeat" not in since and "is dead" not in since, since
    assert b.cl_status("nodestatus", a.name).stdout == "active\n"
    assert a.cl_status("nodestatus", b.name).stdout == "active\n"


def message(*fields) -> bytes:
    return api.frame(wire.encode_unsigned(wire.Message.from_pairs(fields), wire.CLASSIC))


def request(reqtype, *fields, from_id=None) -> bytes:
    pid = str(os.getpid())
    return message(("t", "hbapi-req"), ("reqtype", reqtype), ("dest", "nodea"), ("pid", pid),
                   ("from_id", from_id or pid), *fields)


def connect(node) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(node.rundir / "register"))
    client.settimeout(LOG_TIMEOUT_S)
    return client


def read_reply(client) -> wire.Message:
    reader, bodies = api.FrameReader(), []
    while not bodies:
        chunk = client.recv(65536)
        assert chunk, "the daemon closed the connection"
        bodies = reader.feed(chunk)
    return wire.decode(bodies[0])


def wait_log(node, text, marks):
    wait_for(lambda: text in log_of(node)[marks[node.name]:], LOG_TIMEOUT_S, 0.05,
             f"{text!r} in {node.name}'s log")


def test_a_client_that_signs_on_and_never_reads_is_dropped(pair):
    a, b, marks = pair
    client = connect(a)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.sendall(request("signon", ("uid", "0"), ("gid", "0")))
    assert read_reply(client).get("result") == "OK"
    client.setblocking(False)
    sent = 0
    try:
        # every nodelist asks for two replies; we read none of them
        while "send queue full" not in log_of(a)[marks["nodea"]:] and sent < 100000:
            try:
                client.send(request("nodelist"))
                sent += 1
            except BlockingIOError:   # the daemon has not read our requests yet
                select.select([], [client], [], 0.05)
    except (BrokenPipeError, ConnectionResetError):
        pass
    wait_log(a, "send queue full (64 messages not read): dropped", marks)
    client.setblocking(True)
    client.settimeout(LOG_TIMEOUT_S)

    def closed():
        try:
            return client.recv(65536) == b""
        except ConnectionResetError:
            return True
    wait_for(closed, LOG_TIMEOUT_S, 0, "the daemon to close the connection")
    client.close()
    assert_heartbeats_kept_time(a, b, marks)


def test_garbage_on_the_socket_closes_that_connection_with_a_log_line(pair):
    a, b, marks = pair
    client = connect(a)
    client.sendall(b"GET / HTTP/1.0\r\n\r\n" * 1000)
    assert client.recv(65536) == b""
    wait_log(a, "magic number in head does not match: dropped", marks)
    client.close()
    # the socket still serves well-behaved clients
    good = connect(a)
    good.sendall(request("signon", ("uid", "0"), ("gid", "0")))
    assert read_reply(good).get("result") == "OK"
    good.close()
    assert_heartbeats_kept_time(a, b, marks)


# A client run as nobody: it enters the run directory as root (subprocess changes directory
# before it drops privileges) and connects to "register" by its relative name, so the test's
# private temporary directories need not be opened to everybody.
_NOBODY_CLIENT = r"""
import os, socket, struct, sys
pid = str(os.getpid())
body = ">>>\nt=hbapi-req\nreqtype=signon\ndest=nodea\npid=%s\nfrom_id=%s\nuid=%d\ngid=%d\n<<<\n" % (
    pid, pid, os.geteuid(), os.getegid())
body = body.encode() + b"\0"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect("register")
s.sendall(struct.pack("=iI", len(body), 0xabcd) + body)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data[8:].decode(errors="replace"))
"""


def test_a_user_apiauth_does_not_allow_is_refused_with_a_log_line(pair):
    a, b, marks = pair
    result = subprocess.run(["/usr/bin/python3", "-I", "-c", _NOBODY_CLIENT],
                            cwd=a.rundir, user=65534, group=65534, extra_groups=[],
                            capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stderr
    assert "info=client failed authorization\nresult=badreq" in result.stdout
    wait_log(a, "(pid", marks)
    assert "uid 65534, gid 65534) refused: client failed authorization" in \
        log_of(a)[marks["nodea"]:]
    assert_heartbeats_kept_time(a, b, marks)


def test_a_named_client_needs_an_apiauth_entry(pair):
    """dopd: 3.0.6 has no ``default`` rule, so ``apiauth dopd ...`` is required."""
    a, b, marks = pair
    client = connect(a)
    client.sendall(request("signon", ("uid", "0"), ("gid", "0"), from_id="dopd"))
    reply = read_reply(client)
    assert (reply.get("result"), reply.get("info")) == ("badreq", "no default client auth")
    wait_log(a, "signon of client dopd", marks)
    client.close()
    assert_heartbeats_kept_time(a, b, marks)
