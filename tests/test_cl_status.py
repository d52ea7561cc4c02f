"""cl_status against a stand-in daemon (the real control socket, a canned status): the output
and exit codes Debian's cl_status gives against a real 3.0.6 node (LAB, recorded in the interop
lab: two C nodes hbcnode1/hbcnode2 on link hb0, then hbcnode2 killed)."""

import subprocess
import sys
import threading

import pytest

from conftest import REPO
from lvs_compat.heartbeat.control import ControlServer

CL_STATUS = REPO / "bin" / "cl_status"


def snapshot(peer_status="active", peer_link="up"):
    return {
        "version": "3.0.6 (lvs-compat)",
        "node": "hbcnode1",
        "nodes": [
            {"name": "hbcnode1", "type": "normal", "status": "active", "links": {"hb0": "up"},
             "weight": 100, "site": ""},
            {"name": "hbcnode2", "type": "normal", "status": peer_status,
             "links": {"hb0": peer_link}, "weight": 100, "site": ""},
        ],
        "rscstatus": "none",
        "parameters": {"deadtime": "3", "keepalive": "1"},
    }


@pytest.fixture
def daemon(tmp_path):
    import selectors
    import time

    state = {"snapshot": snapshot()}
    selector = selectors.DefaultSelector()
    server = ControlServer(str(tmp_path), selector)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            for key, _ in selector.select(0.05):
                server.ready(key.data[1], lambda request: {"ok": True, "status": state["snapshot"]},
                             int(time.monotonic() * 1000))
            server.expire(int(time.monotonic() * 1000))
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state, str(tmp_path)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
        selector.close()


def cl_status(run_dir, *args):
    return subprocess.run([sys.executable, str(CL_STATUS), "--run-dir", run_dir, *args],
                          capture_output=True, text=True, timeout=20)


# (arguments, exit code, stdout, stderr substring) as Debian's cl_status answered (LAB)
LAB_ANSWERS = [
    (["hbstatus"], 0, "Heartbeat is running on this machine.\n", ""),
    (["hbstatus", "-v"], 0, 'version:\t3.0.6 (lvs-compat)\nmanaged by:\t"haresources"\n\n'
     "hbcnode2\tactive\t(nodetype: normal)\n\thb0\tup\n\n"
     "hbcnode1\tactive\t(nodetype: normal)\n\thb0\tup\n", ""),
    (["listnodes"], 0, "hbcnode2\nhbcnode1\n", ""),
    (["listnodes", "-n"], 0, "hbcnode2\nhbcnode1\n", ""),
    (["listnodes", "-p"], 0, "", ""),
    (["listnodes", "-v"], 0, "\nhbcnode2\tactive\t(nodetype: normal)\n\thb0\tup\n\n"
     "hbcnode1\tactive\t(nodetype: normal)\n\thb0\tup\n", ""),
    (["nodestatus"], 11, "", "Not enough parameters."),
    (["nodestatus", "hbcnode2"], 0, "active\n", ""),
    (["nodestatus", "HBCNODE2"], 0, "active\n", ""),
    (["nodestatus", "nosuch"], 11, "", "Error. May be due to incorrect node name"),
    (["hblinkstatus", "hbcnode2", "hb0"], 0, "up\n", ""),
    (["hblinkstatus", "nosuch", "hb0"], 13, "", "ERROR: Cannot get heartbeat link status"),
    (["hblinkstatus", "hbcnode2"], 11, "", "No enough parameter."),
    (["hblinkstatus", "hbcnode2", "zz"], 13, "", "ERROR: Cannot get heartbeat link status"),
    (["listhblinks", "hbcnode2"], 0, "\thb0\n", ""),
    (["listhblinks", "nosuch"], 13, "", "Cannot start heartbeat link interface walk."),
    (["listhblinks", "-v", "hbcnode2"], 0, "\thb0\tup\n", ""),
    (["listhblinks"], 11, "", "No enough parameter."),
    (["nodetype", "hbcnode2"], 0, "normal\n", ""),
    (["nodetype", "nosuch"], 11, "", "Error. May be due to incorrect node name"),
    (["nodeweight", "hbcnode2"], 0, "100\n", ""),
    (["nodeweight", "nosuch"], 11, "", "Error. Maybe due to incorrect node name."),
    (["nodesite", "hbcnode2"], 0, "\n", ""),
    (["hbparameter", "-p", "deadtime"], 0, "3\n", ""),
    (["hbparameter", "-p", "nosuch"], 1, "", "Cannot get parameter nosuch's value"),
    (["hbparameter"], 11, "", "parameter name required"),
    (["clientstatus", "hbcnode2", "x"], 13, "", "Cannot get heartbeat client x's status"),
]


@pytest.mark.parametrize("args,code,stdout,stderr", LAB_ANSWERS,
                         ids=[" ".join(a[0]) or "none" for a in LAB_ANSWERS])
def test_answers_like_debians_cl_status(daemon, args, code, stdout, stderr):
    _, run_dir = daemon
    result = cl_status(run_dir, *args)
    assert (result.returncode, result.stdout) == (code, stdout)
    assert stderr in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dead_node_prints_dead_and_exits_1(daemon):
    state, run_dir = daemon
    state["snapshot"] = snapshot(peer_status="dead", peer_link="dead")
    for args in (["nodestatus", "hbcnode2"], ["hblinkstatus", "hbcnode2", "hb0"]):
        result = cl_status(run_dir, *args)
        assert (result.returncode, result.stdout) == (1, "dead\n")
    assert cl_status(run_dir, "listnodes", "-v").stdout == (
        "\nhbcnode2\tdead\t(nodetype: normal)\n\thb0\tdead\n\n"
        "hbcnode1\tactive\t(nodetype: normal)\n\thb0\tup\n")


def test_no_daemon(tmp_path):
    result = cl_status(str(tmp_path), "hbstatus")
    assert (result.returncode, result.stdout) == (1, "Heartbeat is stopped on this machine.\n")
    result = cl_status(str(tmp_path), "listnodes")
    assert result.returncode == 1 and "Cannot signon with heartbeat" in result.stderr


def test_usage_and_bad_sub_command(tmp_path):
    usage = cl_status(str(tmp_path))
    assert usage.returncode == 0 and usage.stdout.startswith("Usage: cl_status <sub-command>")
    c_usage = subprocess.run(["/usr/bin/cl_status"], capture_output=True, text=True, timeout=20)
    if c_usage.returncode == 0 and c_usage.stdout:
        assert usage.stdout == c_usage.stdout
    bad = cl_status(str(tmp_path), "bogus")
    assert bad.returncode == 11 and "ERROR: bogus: invalid sub-command." in bad.stderr


def test_garbled_or_silent_control_socket_is_no_daemon(tmp_path):
    import socket
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "lvs-compat-heartbeat.sock"))
    listener.listen(1)
    try:
        def answer_garbage():
            connection, _ = listener.accept()
            connection.recv(100)
            connection.sendall(b"not json\n")
            connection.close()
        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        result = cl_status(str(tmp_path), "hbstatus")
        thread.join(timeout=5)
        assert (result.returncode, result.stdout) == (1, "Heartbeat is stopped on this machine.\n")
    finally:
        listener.close()
