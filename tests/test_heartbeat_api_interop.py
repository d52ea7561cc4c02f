"""Debian's own C clients of heartbeat's API, unchanged, against a real heartbeat 3.0.6 and
against ours on the same ha.cf (issue 16): ``/usr/bin/cl_status`` (every sub-command, stdout,
stderr and exit code), ``api_test``, a raw client making every request (the same replies, field
by field) and the client status of a peer across a mixed pair.

Each daemon runs alone as node ``n1`` in a namespace of the lab (``n2`` is configured but never
runs, the ping node is the node's own address): the C one in its own mount namespace as always,
ours with ``--run-dir`` bind-mounted at /run/heartbeat for the client only
(``Node.debian_client``), so nothing touches the host's /run/heartbeat and parallel runs do not
collide.

Differences that are expected and normalised: the time stamp, host name and pid of log lines,
the version string (``3.0.6 (node: <hg id>)`` vs ``3.0.6 (lvs-compat)``) and the log directory
(a parameter).  This module takes ~30 s: the C daemon answers every request at its next
~500 ms tick (CLIENT-API §9 item 10), and both daemons spend ``initdead`` and the resource
transition (10 s after comm-up, ``rscstatus`` says ``transition`` until then) starting.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from heartbeat_lab import C_CL_STATUS, Lab, ha_cf, have_c_heartbeat, wait_for

pytestmark = [pytest.mark.interop, pytest.mark.lab,
              pytest.mark.skipif(have_c_heartbeat() is not None, reason=str(have_c_heartbeat()))]

API_TEST = "/usr/libexec/heartbeat/api_test"
START_TIMEOUT_S = 30        # initdead 4 s, then comm-up
SETTLE_TIMEOUT_S = 30       # the resource transition after comm-up (10 s in both)
HA_CF = ha_cf(["n1", "n2"], media="bcast hb0", extra="ping 10.251.0.1")
_LOG_PREFIX = re.compile(r"^\w{3} \d\d \d\d:\d\d:\d\d \S+ (\S+): \[\d+\]: ", re.M)
_VERSIONS = re.compile(r"3\.0\.6 \((node: [0-9a-f]+|lvs-compat)\)")

SUBCOMMANDS = [
    [], ["-h"], ["bogus"], ["parameter", "-p", "keepalive"],
    ["hbstatus"], ["hbstatus", "-v"], ["hbstatus", "-m", "-v"],
    ["listnodes"], ["listnodes", "-n"], ["listnodes", "-p"], ["listnodes", "-v"],
    ["listnodes", "-m"],
    ["nodestatus", "n1"], ["nodestatus", "n2"], ["nodestatus", "10.251.0.1"],
    ["nodestatus", "nosuchnode"], ["nodestatus", "-m", "n1"], ["nodestatus", "N1"],
    ["nodestatus"],
    ["nodetype", "n1"], ["nodetype", "10.251.0.1"], ["nodetype", "nosuchnode"], ["nodetype"],
    ["nodeweight", "n1"], ["nodeweight", "nosuchnode"], ["nodesite", "n1"],
    ["listhblinks", "n1"], ["listhblinks", "-v", "n1"], ["listhblinks", "-v", "n2"],
    ["listhblinks", "-v", "10.251.0.1"], ["listhblinks", "-m", "n1"],
    ["listhblinks", "nosuchnode"],
    ["hblinkstatus", "n1", "hb0"], ["hblinkstatus", "n2", "hb0"],
    ["hblinkstatus", "n1", "nosuchif"], ["hblinkstatus", "10.251.0.1", "10.251.0.1"],
    ["hblinkstatus", "n1"],
    ["clientstatus", "n1", "nosuchclient"], ["clientstatus", "n2", "ipfail"],
    ["clientstatus", "nosuchnode", "ipfail"], ["clientstatus", "n1"],
    ["rscstatus"], ["rscstatus", "-m"], ["test"],
    *(["hbparameter", "-p", name] for name in (
        "keepalive", "deadtime", "initdead", "warntime", "deadping", "hbversion", "pacemaker",
        "crm", "udpport", "auto_failback", "logfile", "debugfile", "debug", "msgfmt",
        "cluster", "realtime", "hopfudge", "baud", "hbgenmethod", "node", "apiauth",
        "respawn", "stonith", "normalpoll", "nosuchparam")),
    ["hbparameter", "-m", "-p", "deadtime"], ["hbparameter"],
]


@pytest.fixture(scope="module")
def daemons(tmp_path_factory):
    """One C node and one of ours, each alone, same ha.cf; yielded once both hold their
    resources (rscstatus past ``transition``)."""
    tmp = tmp_path_factory.mktemp("api-interop")
    labs = [Lab(tmp / "c", names=("n1",), kinds=("c",)),
            Lab(tmp / "ours", names=("n1",), kinds=("ours",))]
    try:
        c, ours = (lab.open().nodes[0] for lab in labs)
        for node in (c, ours):
            node.write_config(HA_CF)
        c.start_c()
        ours.start()
        for node in (c, ours):
            wait_for(lambda: node.debian_client(C_CL_STATUS, "hbstatus").returncode == 0,
                     START_TIMEOUT_S, 0.2, f"comm-up of the {node.kind} daemon")
        for node in (c, ours):
            wait_for(lambda: node.debian_client(C_CL_STATUS, "rscstatus").stdout
                     not in ("", "transition\n"), SETTLE_TIMEOUT_S, 0.5,
                     f"the {node.kind} daemon's resource transition")
        yield c, ours
    finally:
        for lab in labs:
            lab.close()


def normalised(node, text: str) -> str:
    text = _LOG_PREFIX.sub(r"\1: ", text)
    text = _VERSIONS.sub("3.0.6 (VERSION)", text)
    text = re.sub(r"PID=\d+", "PID=N", text)
    logdir = "/var/lib/heartbeat" if node.kind == "c" else str(node.root)
    return text.replace(logdir + "/", "LOGDIR/")


def outcomes(node, commands):
    """(stdout, stderr, exit code) of each command, run concurrently (the C daemon answers at
    its ticks, one client at a time would take 0.5 s per request)."""
    def one(args):
        result = node.debian_client(C_CL_STATUS, *args)
        return (normalised(node, result.stdout), normalised(node, result.stderr),
                result.returncode)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(map(tuple, commands), pool.map(one, commands)))


def test_debian_cl_status_answers_the_same_from_ours_as_from_3_0_6(daemons):
    c, ours = daemons
    theirs, mine = outcomes(c, SUBCOMMANDS), outcomes(ours, SUBCOMMANDS)
    differences = {command: (theirs[command], mine[command]) for command in theirs
                   if theirs[command] != mine[command]}
    assert not differences
    # the comparison compared something: the answers that matter are there
    assert mine[("nodestatus", "n1")] == ("active\n", "", 0)
    assert mine[("nodestatus", "n2")] == ("dead\n", "", 1)
    assert mine[("listnodes",)] == ("n2\nn1\n10.251.0.1\n", "", 0)
    assert mine[("clientstatus", "nosuchnode", "ipfail")][2] == 13
    assert mine[("hbparameter", "-p", "initdead")] == ("4\n", "", 0)


def test_a_client_that_asks_with_100_ms_is_answered_in_time_by_ours(daemons):
    """``clientstatus … 100``: the C daemon answers too late (its 500 ms tick, CLIENT-API §7,
    §9 item 10) and cl_status exits 13; ours answers at once.  A documented difference."""
    _, ours = daemons
    result = ours.debian_client(C_CL_STATUS, "clientstatus", "n1", "nosuchclient", "100")
    assert (result.stdout, result.returncode) == ("offline\n", 1)


def api_test(node, *, egid_haclient: bool, run_s: int):
    """api_test for ``run_s`` seconds, then SIGINT (as the LAB ran it), then SIGKILL 2 s
    later: api_test notices SIGINT only when its blocking ``readmsg`` returns, i.e. at the
    next message for it, and an idle one-node cluster may send none."""
    argv = ["timeout", "--preserve-status", "-s", "INT", "-k", "2", str(run_s)]
    if egid_haclient:
        argv += ["setpriv", "--regid=haclient", "--clear-groups"]
    result = node.debian_client(*argv, API_TEST, timeout=run_s + 15)
    return result.returncode, normalised(node, result.stderr)


def test_api_test_as_root_is_refused_by_both_for_its_apiauth(daemons):
    """D01: api_test signs on as ``ping``, whose default apiauth is ``gid=haclient``."""
    answers = [api_test(node, egid_haclient=False, run_s=10) for node in daemons]
    assert answers[0] == answers[1]
    assert answers[1][0] == 1 and "REASON: client failed authorization" in answers[1][1]


def test_api_test_reads_the_same_parameters_and_completes_its_walk_and_pings_on_ours(daemons):
    c, ours = daemons
    with ThreadPoolExecutor(max_workers=2) as pool:
        # the C daemon needs ~0.5 s per request: 20 s get it through its parameters
        theirs = pool.submit(api_test, c, egid_haclient=True, run_s=20)
        mine = pool.submit(api_test, ours, egid_haclient=True, run_s=9)
        (_, their_log), (_, my_log) = theirs.result(), mine.result()

    def parameters(log):
        return [line for line in log.splitlines() if "Parameter" in line]
    assert parameters(their_log) and parameters(my_log) == parameters(their_log)
    # ours gets through everything (the C daemon's late clientstatus reply breaks the walk,
    # "Cannot start if walk", CLIENT-API §7): the walk, then the ping/pingreply phase
    for expected in ("Cluster node: n1: status: active", "n1/api_test status: [online]",
                     "n2/api_test status: [offline]", "Sent ping request to cluster",
                     "Got message 1 of type [ping] from [n1]", "Sent ping reply(9) to [n1]",
                     "of type [pingreply] from [n1]"):
        assert expected in my_log
    assert "ERROR" not in my_log.replace("ERROR: Mandantory Parameter normalpoll", "")


def test_client_status_of_a_peer_travels_between_3_0_6_and_ours(tmp_path):
    """CLIENT-API §3.3 on the wire, both ways: ``clientstatus PEER ID`` sends ``query-cstatus``
    to the peer, whose ``respond-cstatus`` comes back to the asking client by ``to_id``.  The
    client asked about is api_test (client id ``ping``) running on the peer, then nobody.  The
    C daemon hands its client the answer at its next tick, so cl_status gets 2000 ms."""
    lab = Lab(tmp_path, names=("hbcnode", "ournode"), kinds=("c", "ours"))
    running = []
    try:
        c, ours = lab.open().nodes
        for node in (c, ours):
            node.write_config(ha_cf([c.name, ours.name], media="bcast hb0"))
        c.start_c()
        ours.start()
        for node, other in ((c, ours), (ours, c)):
            wait_for(lambda: node.debian_client(C_CL_STATUS, "nodestatus", other.name).stdout
                     == "active\n", START_TIMEOUT_S, 0.2, f"{node.name} to see {other.name}")
        for asking, peer in ((ours, c), (c, ours)):
            offline = asking.debian_client(C_CL_STATUS, "clientstatus", peer.name, "ping", "2000")
            assert (offline.stdout, offline.returncode) == ("offline\n", 1), offline.stderr
            # one process group (nsenter/unshare, setpriv's exec of api_test): killpg ends it
            argv = ["setpriv", "--regid=haclient", "--clear-groups", API_TEST]
            argv = (["nsenter", "-t", str(peer.ns_init_pid), "-a", "-r", "-w", *argv]
                    if peer.kind == "c" else peer.debian_client_argv(*argv))
            running.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True))
            wait_for(lambda: asking.debian_client(C_CL_STATUS, "clientstatus", peer.name, "ping",
                                                  "2000").stdout == "online\n",
                     10, 0.2, f"{asking.name} to see api_test online on {peer.name}")
            os.killpg(running[-1].pid, signal.SIGKILL)
            running.pop().wait(timeout=10)
    finally:
        for process in running:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        lab.close()


# A raw client of the API (stdlib only, run by /usr/bin/python3 where the daemon's socket is at
# /run/heartbeat/register): the requests cl_status never sends, or sends only right, each
# answer printed as its fields (binary ones as their length).  Requests without a reply
# (set_sendqlen) are followed by one that has one, so a stray reply would show.
_RAW_CLIENT = r"""
import base64, json, os, socket, struct
pid = str(os.getpid())
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect("/run/heartbeat/register")
buffer = b""

def send(fields):
    body = ">>>\n" + "".join("%s=%s\n" % item for item in fields) + "<<<\n"
    body = body.encode() + b"\0"
    s.sendall(struct.pack("=iI", len(body), 0xabcd) + body)

def reply():
    global buffer
    while True:
        while len(buffer) >= 8:
            length, magic = struct.unpack_from("=iI", buffer)
            if len(buffer) < 8 + length:
                break
            body, buffer = buffer[8:8 + length], buffer[8 + length:]
            fields = []
            for line in body.rstrip(b"\0").decode().split("\n")[1:-2]:
                name, _, value = line.partition("=")
                if name.startswith("(1)"):
                    fields.append((name, base64.b64decode(value)))
                else:
                    fields.append((name, value))
            if dict(fields).get("t") == "hbapi-resp":
                return fields
        chunk = s.recv(65536)
        if not chunk:
            return None
        buffer += chunk

def ask(reqtype, *extra, replies=1):
    send([("t", "hbapi-req"), ("reqtype", reqtype), ("dest", "n1"), ("pid", pid),
          ("from_id", pid), *extra])
    answers = [reply() for _ in range(replies)]
    for answer in answers:
        shown = [(n, "<%d bytes>" % len(v) if isinstance(v, bytes) else v) for n, v in answer]
        print(json.dumps([reqtype, [f for f in shown if f[0] != "hbversion"]]))
    return answers

ask("signon", ("uid", str(os.geteuid())), ("gid", str(os.getegid())))
ask("numnodes")
ask("nodeweight", ("node", "n2"))
ask("nodesite", ("node", "nosuchnode"))
ask("nodetype", ("node", "10.251.0.1"))
ask("iflist", ("node", "10.251.0.1"))
ask("iflist", ("node", "nosuchnode"))
ask("ifstatus", ("node", "n1"), ("ifname", "hb0"))
ask("ifstatus", ("node", "n2"))
ask("getparm")
ask("getparm", ("pname", "nosuchparam"))
ask("getparm", ("pname", "hbversion"))
ask("getrsc")
ask("setfilter", ("fmask", "0"))
ask("setfilter", ("fmask", "1"))
ask("setsignal", ("signal", "9"))
ask("setsignal", ("signal", "x"))
ask("setsignal", ("signal", "0"))
uuid = dict(ask("getuuid", ("queryname", "n1"))[0]).get("(1)queryuuid", b"")
ask("getuuid", ("queryname", "nosuchnode"))
ask("getuuid")
ask("getnodename", ("(1)queryuuid", base64.b64encode(uuid).decode()))
ask("getnodename", ("(1)queryuuid", base64.b64encode(b"0" * 16).decode()))
ask("getnodename")
ask("nosuchrequest")
ask("signon", ("uid", "0"), ("gid", "0"))
send([("t", "hbapi-req"), ("reqtype", "set_sendqlen"), ("dest", "n1"), ("pid", pid),
      ("from_id", pid), ("sendqlen", "100")])
ask("numnodes")
ask("nodelist", replies=3)
"""


def test_the_same_raw_api_requests_get_the_same_answers_from_ours_and_3_0_6(daemons):
    """Item 1's differential on the requests themselves, those cl_status does not make
    included: every reply's fields, in order, from both daemons (the version aside)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs, mine = pool.map(
            lambda node: node.debian_client("/usr/bin/python3", "-I", "-c", _RAW_CLIENT,
                                            timeout=60), daemons)
    assert mine.returncode == 0, mine.stderr
    assert theirs.returncode == 0, theirs.stderr
    their_lines, my_lines = theirs.stdout.splitlines(), mine.stdout.splitlines()
    assert len(my_lines) == 30
    assert [line for line in my_lines if line not in their_lines] == []
    assert my_lines == their_lines
