"""SIGHUP (``kill -HUP``, systemd's reload, ``heartbeat -r``) on a director holding its group,
with two of our daemons and a client in network namespaces (tests/heartbeat_takeover_support.py).

Issue 19, item 3: an ha.cf that parses but cannot run (a medium on a missing interface) used to
make the daemon give its group away, re-execute and exit 1: the director was gone.  Now the
reload is refused before anything is given up: the node keeps its group and its heartbeats,
the peer sees no death, the log names the ha.cf line; a good edit then restarts it as before.

Timers: keepalive 200 ms, deadtime 1 s, initdead 2 s.
"""

import os
import signal
import time

import pytest

from heartbeat_lab import ha_cf, have_lab, wait_for
from heartbeat_takeover_support import cluster, install_recorders, records, rscstatus  # noqa: F401 (fixture)

from lvs_compat.lab.heartbeat import VIP

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(have_lab() is not None, reason=str(have_lab()))]

DEADTIME_S = 1.0
TIMERS = dict(keepalive="200ms", deadtime="1", warntime="500ms", initdead="2")


def holds_for(lab, node, seconds, alive):
    """``node`` alone holds the VIP, and ``alive()``, all along ``seconds`` (a deadline from the
    timers: what a death or a hand-over would have shown by then)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert lab.holders(VIP) == [node.name] and alive(), (lab.holders(VIP), alive())
        time.sleep(0.05)


def test_a_sighup_to_an_ha_cf_on_a_missing_interface_keeps_the_director(cluster):
    lab = cluster
    a, b = lab.members
    for node in (a, b):
        node.write_config(ha_cf([a.name, b.name], media="bcast hb0", **TIMERS),
                          haresources=f"nodea {VIP} lvs mon\n")
        install_recorders(node)
    a.start()
    lab.wait_holder(a, 2 + 5)
    b.start()
    # both stable: nodea's RQSTDELAY (10 s after its comm-up, as C) has passed
    wait_for(lambda: rscstatus(a) in ("local", "all") and rscstatus(b) in ("none", "local"),
             13, 0.1, "both stable")
    pid = int((a.rundir / "heartbeat.pid").read_text())
    generation = (a.state / "hb_generation").read_text()
    ha_cf_path, log = a.etc / "ha.cf", a.root / "ha-log"
    good = ha_cf_path.read_text()
    try:
        ha_cf_path.write_text(good.replace("bcast hb0", "bcast nosuchif0"))
        os.kill(pid, signal.SIGHUP)           # as systemd's reload: no `heartbeat -r` check
        wait_for(lambda: "reload refused" in log.read_text(), 2, 0.05, "the refusal")
        refusal = [line for line in log.read_text().splitlines() if "reload refused" in line]
        assert len(refusal) == 1 and refusal[0].endswith(
            f"ERROR: reload refused, configuration kept: {ha_cf_path}:11:7: bcast nosuchif0: "
            "cannot get the broadcast address: No such device"), refusal

        # a deadtime and more: nodea still holds its group, still heartbeats, same generation
        holds_for(lab, a, 2 * DEADTIME_S,
                  lambda: a.process.poll() is None
                  and b.cl_status("nodestatus", a.name).stdout.strip() == "active")
        assert records(a) == ["lvs start", "mon start"] and records(b) == []
        assert (a.state / "hb_generation").read_text() == generation
        assert rscstatus(a) in ("local", "all")
        peer_log = (b.root / "ha-log").read_text()
        for news in ("node nodea: is dead", "shutdown notice from 'nodea'",
                     "Heartbeat restart on node nodea"):
            assert news not in peer_log, peer_log

        # the good edit and SIGHUP: the restart of before (the group comes home again)
        ha_cf_path.write_text(good + "# edited\n")
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: (a.state / "hb_generation").read_text() != generation, 5, 0.05,
                 "the restart")
        assert "ha.cf changed: restarting heartbeat (SIGHUP)" in log.read_text()
        lab.wait_holder(a, 8)
        assert a.process.poll() is None
        assert int((a.rundir / "heartbeat.pid").read_text()) == pid
    except BaseException:
        for node in (a, b):
            print(node.log())
            print(f"--- {node.name}\n" + (node.root / "ha-log").read_text()[-6000:])
        raise
