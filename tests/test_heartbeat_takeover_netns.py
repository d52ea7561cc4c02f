"""Resource takeover with two of our heartbeat daemons and a client on one bridge (network
namespaces, tests/heartbeat_takeover_support.py): the seed's haresources line with ``lvs`` and
``mon`` replaced by recording scripts.

One cluster runs the operator's story in order (each step starts from the state the previous
one left): start-up order, ``kill -9`` of the holder (the VIP and the client's ARP entry move),
restart with ``auto_failback on`` (failback, stop order on the survivor), ``heartbeat -k``
(handed over at once), ``hb_takeover``/``hb_standby``, a split brain healed to the home node
(which re-sends gratuitous ARP), then ``auto_failback off`` (no failback; leftovers of a killed
daemon stopped at its restart).
A second cluster, without a client, runs over a serial pty pair next to bcast: cutting the
network link causes no failover, and with serial alone a crash still moves the VIP.

Timers: keepalive 200 ms, deadtime 1 s, initdead 2 s (only our daemons are involved).
"""

import time

import pytest

from heartbeat_lab import ha_cf, have_lab, pty_pair, wait_for  # noqa: F401 (fixture)
from heartbeat_takeover_support import (VIP, assert_taken_at_once,  # noqa: F401
                                        block_heartbeats, clear_records, cluster, dump, hb_tool,
                                        install_recorders, records, rscstatus, stop_async,
                                        stop_until_the_peer_takes_the_shutdone)

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(have_lab() is not None, reason=str(have_lab()))]

KEEPALIVE = "200ms"
KEEPALIVE_S = 0.2
DEADTIME_S = 1.0
TIMERS = dict(keepalive=KEEPALIVE, deadtime="1", warntime="500ms", initdead="2")
HARESOURCES = f"nodea {VIP} lvs mon\n"     # the seed: lvs1.domain.com 10.0.0.3 lvs mon


def configure(lab, auto_failback="on", media="bcast hb0"):
    a, b = lab.members
    for node in (a, b):
        text = ha_cf([a.name, b.name], media=media, **TIMERS)
        node.write_config(text.replace("auto_failback on", f"auto_failback {auto_failback}"),
                          haresources=HARESOURCES)
        install_recorders(node)


def wait_records(node, expected, timeout=3.0):
    wait_for(lambda: records(node) == expected, timeout, 0.05,
             f"{node.name}'s recorded calls to be {expected} (now {records(node)})")


def stable(*nodes):
    """cl_status rscstatus: none/local/foreign/all when stable, else "transition"."""
    return all(rscstatus(node) not in ("transition", "") for node in nodes)


def test_vip_follows_the_holder_through_crash_failback_shutdown_and_standby(cluster):
    lab = cluster
    a, b = lab.members
    configure(lab)
    try:
        # Start-up: a alone takes its group when b is found dead after initdead; b joins and
        # both are stable when a's RQSTDELAY (10 s after its comm-up, as C) has passed.
        a.start()
        lab.wait_holder(a, 2 + 5)
        b.start()
        wait_for(lambda: stable(a, b), 13, 0.1, "both stable")
        assert rscstatus(a) in ("local", "all")
        assert records(a) == ["lvs start", "mon start"]          # left to right
        assert records(b) == []
        assert lab.client_ping()
        lab.wait_client_sees(a, 2)

        # kill -9 of the holder: b takes the VIP after deadtime, the client follows (a has
        # been up for more than 5 s: its plain deadtime is advertised).
        killed = time.monotonic()
        lab.crash(a)
        # deadtime, then b's resource scripts: 1.0-1.4 s quiet, 2.9 s beside a CPU hog
        # (fresh run 52L); how soon after deadtime b declares a dead is the membership
        # core's, judged on a fake clock (test_heartbeat_membership), and the failover's
        # time is bench/heartbeat_failover.py's
        lab.wait_holder(b, DEADTIME_S + 8)
        took = time.monotonic() - killed
        lab.wait_client_sees(b, 2)
        print(f"kill -9 -> VIP on the backup: {took:.2f} s")
        # a death, not before deadtime: a's last heartbeat left at most a keepalive before
        assert took >= DEADTIME_S - KEEPALIVE_S, took
        assert "node nodea: is dead" in b.ha_log()
        wait_records(b, ["lvs start", "mon start"])
        wait_for(lambda: rscstatus(b) == "all", 3, 0.1, "b stable holding all")

        # Restart a, auto_failback on: the group goes home; b stops mon, then lvs.
        clear_records(a)
        clear_records(b)
        restarted = time.monotonic()
        a.start()
        lab.wait_holder(a, 8)
        failback = time.monotonic() - restarted
        lab.wait_client_sees(a, 2)
        print(f"restart -> failback: {failback:.2f} s")
        wait_records(b, ["mon stop", "lvs stop"])                # right to left
        wait_records(a, ["lvs start", "mon start"])
        wait_for(lambda: stable(a, b), 5, 0.1, "both stable after the failback")
        assert rscstatus(a) in ("local", "all") and rscstatus(b) in ("none", "local")

        # heartbeat -k on the holder: it stops its group, then says shutdone; b takes at once.
        clear_records(b)
        stop, stopping, notices = stop_until_the_peer_takes_the_shutdone(a, b)
        lab.wait_holder(b, 10)
        handed = time.monotonic() - stopping
        assert stop.wait(10) == 0, stop.stderr.read()
        print(f"heartbeat -k: the shutdone on the other node -> VIP there: {handed:.2f} s")
        assert_taken_at_once(b, a, notices, VIP)      # not a death: no deadtime wait
        assert records(a)[-2:] == ["mon stop", "lvs stop"]
        lab.wait_client_sees(b, 2)

        # a returns (failback again), then hb_takeover on b takes everything from a and
        # hb_standby on b gives it back.
        a.start()
        lab.wait_holder(a, 8)
        wait_for(lambda: stable(a, b), 5, 0.1, "stable after the second failback")
        assert hb_tool(b, "hb_takeover", "all").returncode == 0
        lab.wait_holder(b, 5)
        lab.wait_client_sees(b, 2)
        wait_for(lambda: stable(a, b), 5, 0.1, "stable after hb_takeover")
        assert rscstatus(b) == "all"
        assert hb_tool(b, "hb_standby").returncode == 0
        lab.wait_holder(a, 5)
        lab.wait_client_sees(a, 2)
        wait_for(lambda: stable(a, b), 5, 0.1, "stable after hb_standby")

        # Split brain: heartbeats between a and b are lost (the client still reaches both);
        # b declares a dead and takes the VIP too.  When the link heals, the group goes to its
        # home node a, b stops it, and a sends gratuitous ARP again: the client ends on a.
        block_heartbeats(lab, b, True)
        wait_for(lambda: lab.holders() == [a.name, b.name], DEADTIME_S + 3, 0.05,
                 "both nodes holding the VIP")
        lab.wait_client_sees(b, 3)
        block_heartbeats(lab, b, False)
        lab.wait_holder(a, 5)
        lab.wait_client_sees(a, 3)
        wait_for(lambda: stable(a, b), 5, 0.1, "stable after the split brain")
        assert f"gratuitous ARP sent again for {VIP}" in (a.root / "ha-log").read_text()

        # auto_failback off.  This time only a's daemon is killed (the machine lives on, the
        # VIP and lvs/mon stay up there) and b takes the group too.  Restarted, a finds them
        # running (C's verifyallidle), stops them before it joins, and does not take the
        # group back: it stays on b alone.
        for node in (a, b):
            assert node.ctl("-k").returncode == 0
        assert lab.holders() == []
        configure(lab, auto_failback="off")
        a.start()
        lab.wait_holder(a, 7)
        b.start()
        wait_for(lambda: stable(a, b), 13, 0.1, "stable with auto_failback off")
        a.kill9()
        wait_for(lambda: lab.holders() == [a.name, b.name], DEADTIME_S + 3, 0.05,
                 "b holding the VIP next to a's leftover")
        clear_records(a)
        a.start()
        lab.wait_holder(b, 5)
        wait_records(a, ["mon stop", "lvs stop"])
        # The worker hands its log lines to the loop after the stop: the scripts' records come first.
        wait_for(lambda: "Resource 10.251.0.100 is active, and should not be!" in (a.root / "ha-log").read_text(),
                 5, 0.1, "the leftover logged critically, as C does")
        wait_for(lambda: stable(a, b), 8, 0.1, "a back and both stable")
        assert rscstatus(b) == "all"
        time.sleep(3 * DEADTIME_S)
        assert lab.holders() == [b.name]
    except BaseException:
        dump(lab)
        raise




def test_cutting_one_of_two_media_moves_nothing_and_serial_alone_fails_over(cluster, pty_pair):
    """bcast + serial (+ the client as a ping node): cutting bcast moves nothing; then a
    serial-only cluster fails over on a crash."""
    lab = cluster
    a, b = lab.members
    a_tty, b_tty = pty_pair

    def start_both(media_of):
        for node in (a, b):
            text = ha_cf([a.name, b.name], media=media_of[node.name], **TIMERS)
            node.write_config(text, haresources=HARESOURCES)
            install_recorders(node)
        a.start()
        lab.wait_holder(a, 2 + 5)
        b.start()
        wait_for(lambda: a.cl_status("nodestatus", b.name).stdout.strip() == "active"
                 and b.cl_status("nodestatus", a.name).stdout.strip() == "active",
                 5, 0.1, "both active")

    try:
        client = lab.client.address
        start_both({a.name: f"baud 115200\nbcast hb0\nserial {a_tty}\nping {client}",
                    b.name: f"baud 115200\nbcast hb0\nserial {b_tty}\nping {client}"})
        # The client is a ping node: alive while it answers, dead when it stops; in v1 that
        # moves no resource (only ipfail would).
        wait_for(lambda: a.cl_status("nodestatus", client).stdout.strip() == "ping", 3, 0.1,
                 "the ping node alive")
        lab.set_link(lab.client, False)
        wait_for(lambda: a.cl_status("nodestatus", client).stdout.strip() == "dead",
                 DEADTIME_S + 2, 0.1, "the ping node dead")
        lab.set_link(lab.client, True)
        wait_for(lambda: a.cl_status("nodestatus", client).stdout.strip() == "ping", 3, 0.1,
                 "the ping node alive again")
        assert lab.holders() == [a.name]
        # b's network link goes down: bcast is dead, serial still carries the heartbeats.
        lab.set_link(b, False)
        wait_for(lambda: b.cl_status("hblinkstatus", a.name, "hb0").stdout.strip() == "dead",
                 DEADTIME_S + 4, 0.1, "b's bcast link to a dead")
        time.sleep(2 * DEADTIME_S)
        assert b.cl_status("nodestatus", a.name).stdout.strip() == "active"
        assert lab.holders() == [a.name] and records(b) == []
        lab.set_link(b, True)
        for node in (a, b):
            assert node.ctl("-k").returncode == 0
        assert lab.holders() == []

        # A serial-only cluster: a crash of the holder still moves the VIP.
        for node in (a, b):
            clear_records(node)
        start_both({a.name: f"baud 115200\nserial {a_tty}",
                    b.name: f"baud 115200\nserial {b_tty}"})
        lab.crash(a)
        lab.wait_holder(b, DEADTIME_S + 2 + 3)     # dt may still carry the start-up bonus
        wait_records(b, ["lvs start", "mon start"])
    except BaseException:
        dump(lab)
        raise


# A start that takes 2.5 s (longer than deadtime: heartbeats must go on meanwhile), a start
# that fails, and a stop that fails while a flag file exists (status then says running).
SLOW = """#!/bin/sh
for last in "$@"; do :; done
case "$last" in
start) sleep 2.5; touch "$0.on";;
stop) rm -f "$0.on";;
status) [ -e "$0.on" ] && echo running || echo stopped;;
esac
exit 0
"""
BAD = """#!/bin/sh
for last in "$@"; do :; done
case "$last" in
start) exit 1;;
status) echo stopped;;
esac
exit 0
"""
STICKY = """#!/bin/sh
for last in "$@"; do :; done
case "$last" in
start) touch "$0.on";;
stop) [ -e "$0.stuck" ] && exit 1; rm -f "$0.on";;
status) [ -e "$0.on" ] && echo running || echo stopped;;
esac
exit 0
"""


def test_failed_start_releases_the_group_and_a_failed_stop_holds_it(cluster):
    """Group 1 starts slowly (2.5 s, deadtime 1 s: the peer must not see us dead) and then
    fails: it is released right to left.  Group 2's stop fails while a flag exists: heartbeat -k
    keeps retrying and b does not take the group; once the stop succeeds, shutdone goes out and
    b takes it."""
    lab = cluster
    a, b = lab.members
    vip2 = VIP.rsplit(".", 1)[0] + ".101"
    for node in (a, b):
        node.write_config(ha_cf([a.name, b.name], media="bcast hb0", **TIMERS),
                          haresources=f"nodea {VIP} slow bad\nnodea {vip2} sticky\n")
        for name, text in (("slow", SLOW), ("bad", BAD), ("sticky", STICKY)):
            script = node.etc / "resource.d" / name
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(text)
            script.chmod(0o755)
    try:
        b.start()
        time.sleep(0.5)
        a.start()
        # Both start together: a takes its groups after RQSTDELAY.  The 2.5 s start must not
        # hold up a's heartbeats.
        lab.wait_holder(a, 20, vip2)
        log = (a.root / "ha-log").read_text
        wait_for(lambda: "Giving up resources due to failure of bad" in log(), 10, 0.1,
                 "the failed start of bad")
        wait_for(lambda: lab.holders(VIP) == [], 5, 0.1, "group 1 released")
        assert "is dead" not in (b.root / "ha-log").read_text()   # heartbeats went on
        assert not (a.etc / "resource.d" / "slow.on").exists()  # released right to left

        # A failed stop holds the group: no shutdone, b does not take vip2.  (The rest of the
        # group is still stopped, right to left: the address goes from a too.)
        (a.etc / "resource.d" / "sticky.stuck").write_text("")
        stop = stop_async(a)
        wait_for(lambda: log().count("Retrying failed stop operation") >= 2, 10, 0.1,
                 "two retries of the failed stop (one a second)")
        time.sleep(2 * DEADTIME_S)            # a peer that took over would do so by now
        assert b.name not in lab.holders(vip2)
        assert b.cl_status("nodestatus", a.name).stdout.strip() == "active"
        assert stop.poll() is None
        (a.etc / "resource.d" / "sticky.stuck").unlink()
        lab.wait_holder(b, 5, vip2)
        assert stop.wait(10) == 0
    except BaseException:
        dump(lab)
        raise
