"""The client API's socket shell (``lvs_compat.heartbeat.apisocket``) on a real unix socket in a
temporary directory, driven by hand as the daemon's loop drives it: the socket file and its mode,
the bound on connections, the per-client send queue, the audit of dead clients."""

from __future__ import annotations

import os
import selectors
import socket
import stat
import subprocess
import sys

from lvs_compat.heartbeat import api, apisocket, wire

VIEW = api.ClusterView("n1", (api.NodeInfo("n1", "normal", "active", (("eth0", "up"),)),),
                       5000, 1000, "3.0.6 (lvs-compat)", {"pacemaker": "false"}, "all")


class Loop:
    """The daemon's part: select, hand events to the shell, execute its actions."""

    def __init__(self, run_dir, **options):
        self.selector = selectors.DefaultSelector()
        rules = api.authorization_rules((), False, {"root": 0}.get, {}.get)
        self.shell = apisocket.ApiSocket(str(run_dir), self.selector,
                                         api.ApiServer("n1", rules), **options)
        self.logs: list[str] = []

    def turn(self, timeout=0.2):
        for key, mask in self.selector.select(timeout):
            self.execute(self.shell.ready(key.data[1], mask, lambda: VIEW, 0))

    def execute(self, actions):
        for action in actions:
            if isinstance(action, api.Deliver):
                self.execute(self.shell.send(action.connection, action.message))
            elif isinstance(action, api.Disconnect):
                self.shell.close(action.connection)
            elif isinstance(action, api.SetSendQueue):
                self.shell.set_queue(action.connection, action.length)
            elif isinstance(action, api.Log):
                self.logs.append(action.text)

    def close(self):
        self.shell.shutdown()
        self.selector.close()


def request(reqtype, pid=None, **fields):
    pid = str(pid or os.getpid())
    return api.frame(wire.encode_unsigned(wire.Message.from_pairs(
        (("t", "hbapi-req"), ("reqtype", reqtype), ("dest", "n1"), ("pid", pid),
         ("from_id", pid), *fields.items())), wire.CLASSIC))


def connect(tmp_path) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(tmp_path / "register"))
    return client


def test_the_socket_replaces_a_stale_file_is_mode_0777_and_stays_after_shutdown(tmp_path):
    (tmp_path / "register").write_text("stale")
    loop = Loop(tmp_path)
    mode = os.stat(tmp_path / "register").st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o777
    loop.close()
    assert (tmp_path / "register").exists()       # as 3.0.6: clients then get ECONNREFUSED


def test_connections_beyond_the_bound_are_closed_with_one_log_line(tmp_path):
    loop = Loop(tmp_path, max_connections=2)
    try:
        clients = [connect(tmp_path) for _ in range(4)]
        loop.turn()
        assert len(loop.shell.connections) == 2
        assert loop.logs == ["API: 2 connection(s) refused: 2 clients already connected"]
        clients[3].settimeout(2)
        assert clients[3].recv(10) == b""
    finally:
        loop.close()


def test_a_client_that_does_not_read_is_dropped_at_its_send_queue_length(tmp_path):
    loop = Loop(tmp_path)
    try:
        client = connect(tmp_path)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.sendall(request("signon", uid="0", gid="0")
                       + request("set_sendqlen", sendqlen="8"))
        loop.turn()
        loop.turn(0)
        assert any("send queue length" in line and "8" in line for line in loop.logs)
        for _ in range(50):
            if not loop.shell.connections:
                break
            client.sendall(request("nodelist") * 200)
            loop.turn()
        assert not loop.shell.connections and not loop.shell.server.clients
        assert any("send queue full (8 messages not read): dropped" in line
                   for line in loop.logs)
    finally:
        loop.close()


def test_the_audit_removes_clients_whose_process_died(tmp_path):
    loop = Loop(tmp_path)
    try:
        # a client whose process dies while its connection stays open (e.g. passed on to a
        # process that hangs): we connect, and the server is told the peer is a child of ours
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        client = connect(tmp_path)
        loop.turn()
        connection, = loop.shell.connections
        loop.shell.server.clients[connection] = api.Client(
            connection, api.PeerCred(child.pid, 0, 0))
        client.sendall(request("signon", pid=child.pid, uid="0", gid="0"))
        loop.turn()
        assert loop.shell.server.client_ids() == {str(child.pid)}
        child.kill()
        child.wait()
        loop.execute(loop.shell.expire(apisocket.AUDIT_INTERVAL_MS))
        assert not loop.shell.server.clients
        assert any("died: dropped" in line for line in loop.logs)
    finally:
        loop.close()
