"""A mixed cluster: one real heartbeat 3.0.6 node (Debian's package, run as in INTEROP.md:
its own network, UTS, mount and PID namespaces, ``crm off``, empty haresources) and one of ours.

For every medium and authentication method: each side's ``cl_status nodestatus`` says the other
is active; a graceful ``heartbeat -k`` of ours is taken by the C node at once (``shutdone``); a
restarted node of ours is taken back; a crash of the C node is seen by ours.  In the
bcast/sha1 case a crash of ours is also timed on the C side after the start-up bonus on ``dt``.
The serial medium (classic framing) is checked against the C node too, over a socat pty pair.

Timers: keepalive 500 ms, deadtime 2 s (the C node accepts them; it only warns that initdead is
below 10 s).
"""

import os
import time

import pytest

from heartbeat_lab import Lab, ha_cf, have_c_heartbeat, pty_pair, wait_for  # noqa: F401 (fixture)

pytestmark = [pytest.mark.interop, pytest.mark.lab,
              pytest.mark.skipif(have_c_heartbeat() is not None, reason=str(have_c_heartbeat()))]

KEEPALIVE_S = 0.5
DEADTIME_S = 2.0
BONUS_S = 2.0          # dt is deadtime + 2 s during a node's first 5 s (SPEC §1d)
BONUS_PERIOD_S = 5.0
C_POLL_SLACK_S = 0.5   # the C node checks its peers every 250 ms, and cl_status polls

AUTHKEYS = {
    "sha1": "auth 1\n1 sha1 interop-secret\n",
    "md5": "auth 2\n2 md5 interop-secret\n",
    "crc": "auth 3\n3 crc\n",
}


@pytest.fixture
def mixed(tmp_path):
    cluster = Lab(tmp_path, names=("hbcnode", "ournode"), kinds=("c", "ours"))
    try:
        yield cluster.open()
    finally:
        cluster.close()


def media_line(kind, peer_address):
    return {"bcast": "bcast hb0", "ucast": f"ucast hb0 {peer_address}",
            "mcast": "mcast hb0 239.0.0.94 694 1 0"}[kind]


def status(node, name):
    return node.cl_status("nodestatus", name).stdout.strip()


def configure_and_start(cluster, kind, method):
    c, ours = cluster.nodes
    for node, other in ((c, ours), (ours, c)):
        node.write_config(ha_cf([c.name, ours.name], media=media_line(kind, other.address)),
                          authkeys=AUTHKEYS[method])
    c.start_c()
    ours.start()
    return c, ours


def see_each_other_active(c, ours, timeout=10.0):
    wait_for(lambda: status(c, ours.name) == "active" and status(ours, c.name) == "active",
             timeout, 0.1, "the C node and ours to see each other active")


@pytest.mark.parametrize("kind,method", [("bcast", "sha1"), ("bcast", "md5"), ("bcast", "crc"),
                                         ("ucast", "sha1"), ("mcast", "sha1")])
def test_real_heartbeat_node_and_ours_see_each_other(mixed, kind, method):
    c, ours = configure_and_start(mixed, kind, method)
    try:
        see_each_other_active(c, ours)
        # Debian's cl_status format on both sides.  ucast to the peer only and mcast with loop
        # 0: a node never hears itself, so its own link is dead on both implementations (LAB).
        own_link = "up" if kind == "bcast" else "dead"
        for node, other in ((c, ours), (ours, c)):
            expected = (f"\nournode\tactive\t(nodetype: normal)\n"
                        f"\thb0\t{own_link if node is ours else 'up'}\n"
                        f"\nhbcnode\tactive\t(nodetype: normal)\n"
                        f"\thb0\t{own_link if node is c else 'up'}\n")
            assert node.cl_status("listnodes", "-v").stdout == expected, node.name
        assert c.cl_status("hblinkstatus", ours.name, "hb0").stdout == "up\n"
        assert ours.cl_status("hblinkstatus", c.name, "hb0").stdout == "up\n"

        # Graceful stop of ours: the C node takes the shutdone at once (it logs it and runs
        # mach_down); its cl_status still says "active" until the dead time has passed (LAB).
        # Counted from when the C node took the shutdone: `heartbeat -k`'s own start and our
        # stop (seen as slow as 2 s on a loaded 2-core machine) are not the C node's timing.
        stopping = time.monotonic()
        assert ours.ctl("-k").returncode == 0
        wait_for(lambda: "Received shutdown notice from 'ournode'" in c.c_log(), 1.5, 0.05,
                 "the C node to take our shutdone")
        noticed = time.monotonic()
        wait_for(lambda: status(c, ours.name) == "dead", DEADTIME_S + BONUS_S + 1, 0.1,
                 "the C node to report ours dead")
        assert time.monotonic() - noticed <= DEADTIME_S + BONUS_S + KEEPALIVE_S + 0.5, (
            time.monotonic() - noticed, noticed - stopping)

        # Ours again: the C node sees a restart (higher generation) and takes it back.
        ours.start()
        see_each_other_active(c, ours)
        assert "Heartbeat restart on node ournode" in c.c_log()

        # Crash of the C node: ours sees it within its advertised dead time (+ start-up bonus
        # if it is still in its first 5 s) + one keepalive.
        killed = time.monotonic()
        c.kill9()
        wait_for(lambda: status(ours, c.name) == "dead", DEADTIME_S + BONUS_S + 2, 0.05,
                 "ours to see the C node dead")
        assert time.monotonic() - killed <= DEADTIME_S + BONUS_S + KEEPALIVE_S + 0.3
        assert "node hbcnode: is dead" in (ours.root / "ha-log").read_text()
    except BaseException:
        print(c.log(), c.c_log()[-5000:], ours.log())
        raise


def test_each_side_detects_the_others_crash_within_deadtime(mixed):
    c, ours = configure_and_start(mixed, "bcast", "sha1")
    try:
        see_each_other_active(c, ours)
        # ours' start-up bonus on dt began before the C node saw it active; it ends with a
        # status carrying the plain dt, which the C node has within a keepalive
        seen = time.monotonic()
        time.sleep(max(0.0, seen + BONUS_PERIOD_S + KEEPALIVE_S - time.monotonic()))
        killed = time.monotonic()
        ours.kill9()
        wait_for(lambda: status(c, ours.name) == "dead", DEADTIME_S + 3, 0.05,
                 "the C node to see ours dead")
        c_detected = time.monotonic() - killed
        assert c_detected <= DEADTIME_S + KEEPALIVE_S + C_POLL_SLACK_S, c_detected
        dead = c.cl_status("nodestatus", ours.name)
        assert (dead.returncode, dead.stdout) == (1, "dead\n")

        ours.start()
        see_each_other_active(c, ours)
        # the C node is past its first 5 s: it advertises the plain dead time
        killed = time.monotonic()
        c.kill9()
        wait_for(lambda: status(ours, c.name) == "dead", DEADTIME_S + 3, 0.05,
                 "ours to see the C node dead")
        ours_detected = time.monotonic() - killed
        assert ours_detected <= DEADTIME_S + KEEPALIVE_S + 0.3, ours_detected
        dead = ours.cl_status("nodestatus", c.name)
        assert (dead.returncode, dead.stdout) == (1, "dead\n")
        print(f"crash detected: by the C node {c_detected:.2f} s, by ours {ours_detected:.2f} s")
    except BaseException:
        print(c.log(), c.c_log()[-5000:], ours.log())
        raise


def test_real_heartbeat_node_and_ours_over_a_serial_line(pty_pair, mixed):
    """Classic framing with the in-message auth only, at 19200 baud, over a socat pty pair."""
    c, ours = mixed.nodes
    a, b = pty_pair
    try:
        c_tty = os.path.realpath(a)  # the C node locks the line by its real name
        c.write_config(ha_cf([c.name, ours.name], media=f"serial {c_tty}"),
                       authkeys=AUTHKEYS["md5"])
        ours.write_config(ha_cf([c.name, ours.name], media=f"serial {b}"),
                          authkeys=AUTHKEYS["md5"])
        c.start_c()
        ours.start()
        see_each_other_active(c, ours)
        assert c.cl_status("hblinkstatus", ours.name, c_tty).stdout == "up\n"
        assert ours.cl_status("hblinkstatus", c.name, b).stdout == "up\n"
        killed = time.monotonic()
        c.kill9()
        wait_for(lambda: status(ours, c.name) == "dead", DEADTIME_S + BONUS_S + 2, 0.05,
                 "ours to see the C node dead")
        assert time.monotonic() - killed <= DEADTIME_S + BONUS_S + KEEPALIVE_S + 0.3
    except BaseException:
        print(c.log(), c.c_log()[-5000:], ours.log())
        raise


# --- a replayed capture of the C node (issue 19 item 6) -----------------------------------------

CAPTURE = """\
import socket, struct, sys
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
sock.settimeout(5)
source = socket.inet_aton(sys.argv[1])
while True:
    ip = sock.recv(65535)[14:]
    udp = ip[(ip[0] & 15) * 4:]
    if ip[9] == 17 and ip[12:16] == source and struct.unpack("!H", udp[2:4])[0] == 694 \
            and b"t=status" in udp[8:]:
        print(udp[8:].hex())
        break
"""
SEND = """\
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes.fromhex(sys.argv[1]),
                                                        (sys.argv[2], 694))
"""


def test_a_capture_of_the_c_nodes_previous_run_is_refused_after_our_restart(mixed):
    """A signed status of the C node recorded on the wire, replayed to ours after the C node
    restarted (generation + 1), then died, and ours restarted: ours kept the C node's
    generation (hb_peer_generations) and refuses the capture, where it took it for the C
    node alive before.  A restarted C node (generation + 2) is then taken as ever."""
    import sys
    from lvs_compat.heartbeat import statefiles, wire
    from lvs_compat.config.authkeys import parse_authkeys

    c, ours = configure_and_start(mixed, "bcast", "sha1")
    keys = parse_authkeys(AUTHKEYS["sha1"], "authkeys")
    peers = ours.state / statefiles.PEER_GENERATIONS_FILE
    try:
        see_each_other_active(c, ours)
        captured = bytes.fromhex(mixed.ns(ours, sys.executable, "-c", CAPTURE,
                                          c.address).stdout.strip())
        old = int(wire.decode_frame(captured, keys).message.get("hg"), 16)
        c.kill9()
        c.start_c()                                     # hb_generation + 1
        wait_for(lambda: f"{c.name} {old + 1} " in (peers.read_text() if peers.exists()
                                                    else ""),
                 DEADTIME_S + 5, 0.1, "ours to keep the C node's new generation at once")
        see_each_other_active(c, ours)
        c.kill9()
        assert ours.ctl("-k").returncode == 0
        ours.process.wait(timeout=10)
        ours.start()
        wait_for(lambda: (ours.rundir / "heartbeat.pid").exists(), 10, 0.05, "ours to start")
        replayed = f"attempted replay attack [{c.name}]? [gen = {old}, curgen = {old + 1}]"
        wait_for(lambda: (mixed.ns(c, sys.executable, "-c", SEND, captured.hex(), ours.address)
                          and replayed in (ours.root / "ha-log").read_text()),
                 5, 0.2, "ours to refuse the replayed capture")
        assert status(ours, c.name) != "active"
        c.start_c()                                     # hb_generation + 2: a fresh start
        see_each_other_active(c, ours)
    except BaseException:
        print(c.log(), c.c_log()[-5000:], ours.log())
        raise
