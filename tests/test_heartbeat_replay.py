"""Replayed captures (issue 19 item 6): a correctly signed packet recorded earlier and sent again
after our restart or once its sender was marked dead.  The membership core driven with a fake
clock, as in ``test_heartbeat_membership``; the peer is a 3.0.6 node whose ``ts`` is its own
wall clock in hex seconds (SPEC §1d), here an hour ahead of ours: clocks need not agree."""

from __future__ import annotations

import pytest

from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.heartbeat import statefiles
from lvs_compat.heartbeat.membership import (
    PERSIST_CONTROL_MS, PERSIST_INTERVAL_MS, Log, Membership, MessageReceived, NodeRestarted, NodeStatusChanged,
    PartitionHealed, PeerGenerationsChanged, Received, SendMessage, Start, Tick)

HA_CF = """\
keepalive 1
deadtime 10
warntime 5
initdead 20
udpport 694
bcast eth0
node alpha
node beta
"""
CONTROL_MESSAGES = [("hb_takeover", {"rsc_hold": "all"}),
                    ("ask_resources", {"rsc_hold": "all", "info": "me"}),
                    ("ip-request", {"ipaddr": "10.0.0.3"})]


class Cluster:
    """Our core (alpha) and a 3.0.6 peer (beta) sharing one fake clock."""

    def __init__(self, generation=0x6b06ca78, now=1_000_000):
        self.now = now
        self.generation = generation     # the peer's hg
        self.seq = 0
        self.peer_clock_ahead_s = 3600   # the peer's wall clock minus ours
        self.node = None
        self.start_ours()

    def start_ours(self, peer_generations=None):
        self.node = Membership(parse_ha_cf(HA_CF, "ha.cf"), "alpha", 7, self.now, seed=1,
                               peer_generations=peer_generations)
        self.actions = self.node.handle(Start(), self.now)

    def restart_ours(self):
        """Our daemon stops (keeping what it knew of its peers, as the shell does at exit)
        and starts again a little later."""
        kept = {name: (generation, seq) for name, generation, seq
                in self.node.peer_generations()}
        self.now += 3000
        self.start_ours(kept)

    def crash_ours(self):
        """Our machine dies and boots again: what the daemon last wrote is what it finds."""
        written = [a for a in self.actions if isinstance(a, PeerGenerationsChanged)]
        kept = {name: (generation, seq) for name, generation, seq
                in (written[-1].records if written else ())}
        self.now += 30_000
        self.start_ours(kept)

    def restart_peer(self):
        """3.0.6 restarts: hb_generation + 1, seq from 1 (SPEC §1d)."""
        self.generation += 1
        self.seq = 0

    def peer(self, t, **fields):
        """The peer sends a message now (its seq, its generation, its clock)."""
        self.seq += 1
        wall_s = self.now // 1000 + self.peer_clock_ahead_s
        return {"t": t, **fields, "src": "beta", "seq": format(self.seq, "x"),
                "hg": format(self.generation, "x"), "ts": format(wall_s, "x"), "ttl": "3"}

    def status(self, st="active", dt="2710"):
        return self.peer("status", st=st, dt=dt, protocol="1")

    def feed(self, message):
        acts = self.node.handle(Received(message, "eth0", True), self.now)
        self.actions += acts
        return acts

    def advance(self, ms, heartbeats=False):
        """Time passes in 250 ms ticks; with ``heartbeats`` the peer sends its status every
        keepalive meanwhile."""
        acts, end = [], self.now + ms
        while self.now < end:
            self.now = min(self.now + 250, end)
            if heartbeats and self.now % 1000 == 0:
                acts += self.feed(self.status())
            acts += self.node.handle(Tick(), self.now)
        self.actions += acts
        return acts

    def comm_up(self):
        self.feed(self.status("up", dt="2ee0"))
        self.feed(self.peer("repnodes", dest="alpha", nodelist="alpha beta ", delnodelist=" "))
        self.feed(self.status())
        assert self.node.local_status == "active" and self.node.node_status("beta") == "active"


def received(actions, t=None):
    return [a for a in actions if isinstance(a, MessageReceived) and t in (None, a.message_type)]


def logs(actions):
    return [a.text for a in actions if isinstance(a, Log)]


def replay_lines(actions):
    return [line for line in logs(actions) if "attempted replay attack [beta]" in line]


# -- after our restart ------------------------------------------------------------------------


@pytest.mark.parametrize("t, fields", CONTROL_MESSAGES)
def test_after_our_restart_a_capture_from_the_peers_previous_run_is_refused(t, fields):
    cluster = Cluster()
    cluster.comm_up()
    captured = cluster.peer(t, **fields)          # recorded by someone on the wire
    cluster.restart_peer()                        # the peer restarts: generation + 1
    cluster.feed(cluster.status("init", dt="2ee0"))
    cluster.restart_ours()                        # and so do we
    acts = cluster.feed(captured)
    assert received(acts) == []
    assert replay_lines(acts) == [
        "should_drop_message: attempted replay attack [beta]? "
        f"[gen = {cluster.generation - 1}, curgen = {cluster.generation}]"]
    assert cluster.node.node_status("beta") == "init"      # not heard: nothing changed
    assert cluster.node.counters["replay"] == 1


@pytest.mark.parametrize("t, fields", CONTROL_MESSAGES)
def test_after_our_restart_a_capture_of_what_we_had_seen_is_refused(t, fields):
    cluster = Cluster()
    cluster.comm_up()
    captured = cluster.peer(t, **fields)
    cluster.feed(captured)                        # we acted on it once
    cluster.advance(5000, heartbeats=True)
    cluster.restart_ours()                        # the peer runs on, same generation
    acts = cluster.feed(captured)
    assert received(acts) == [] and len(replay_lines(acts)) == 1
    # the peer's own next heartbeat is the first contact, as with 3.0.6
    acts = cluster.feed(cluster.status())
    assert NodeStatusChanged("beta", "init", "active", "status") in acts
    assert cluster.feed(cluster.peer(t, **fields))[-1].message_type == t


@pytest.mark.parametrize("t, fields", CONTROL_MESSAGES)
def test_after_our_crash_a_capture_of_what_we_acted_on_is_refused(t, fields):
    cluster = Cluster()
    cluster.comm_up()
    cluster.advance(3000, heartbeats=True)
    captured = cluster.peer(t, **fields)
    assert received(cluster.feed(captured), t)
    cluster.advance(1500, heartbeats=True)
    cluster.crash_ours()
    acts = cluster.feed(captured)
    assert received(acts) == [] and len(replay_lines(acts)) == 1


def test_a_real_306_restart_while_we_were_down_is_a_fresh_start():
    cluster = Cluster()
    cluster.comm_up()
    cluster.advance(3000, heartbeats=True)
    before = cluster.generation
    cluster.restart_ours()
    cluster.restart_peer()
    acts = cluster.feed(cluster.status("init", dt="2ee0"))   # seq 1 again, generation + 1
    assert replay_lines(acts) == [] and cluster.node.node_status("beta") == "init"
    assert PeerGenerationsChanged((("beta", before + 1, 1),)) in acts   # kept at once
    # no "Heartbeat restart": this run had not seen it before (as before persistence)
    assert not any(isinstance(a, NodeRestarted) for a in acts)
    assert cluster.feed(cluster.peer("ip-request", ipaddr="10.0.0.3"))[-1].message_type == \
        "ip-request"


def test_a_restart_after_only_other_messages_of_the_previous_run_is_a_restart():
    # issue 19: we restarted between two of the peer's heartbeats and heard only its other
    # messages (e.g. a standby exchange) when it restarted too.  C sets a node's generation
    # from heartbeats only and sees no restart; the resource coordinator then waited for the
    # gone daemon's standby reply (an hour) and nobody held the group.
    cluster = Cluster()
    cluster.comm_up()
    cluster.advance(3000, heartbeats=True)
    cluster.restart_ours()
    cluster.feed(cluster.peer("repnodes", dest="alpha", nodelist="alpha beta ", delnodelist=" "))
    acts = cluster.feed(cluster.peer("ask_resources", rsc_hold="foreign", info="me"))
    assert received(acts, "ask_resources") and cluster.node.node_status("beta") == "init"
    cluster.restart_peer()
    acts = cluster.feed(cluster.status("init", dt="2ee0"))
    assert NodeRestarted("beta", cluster.generation) in acts
    assert "Heartbeat restart on node beta" in logs(acts) and replay_lines(acts) == []


def test_first_contact_with_nothing_kept_is_accepted_whatever_the_generation():
    cluster = Cluster(generation=5)
    cluster.start_ours(peer_generations={})
    cluster.seq = 4000                            # a peer that has run for a while
    acts = cluster.feed(cluster.peer("ask_resources", rsc_hold="all", info="me"))
    assert received(acts, "ask_resources") and replay_lines(acts) == []


def test_kept_generations_of_nodes_no_longer_in_ha_cf_are_ignored():
    cluster = Cluster()
    cluster.start_ours(peer_generations={"gamma": (99, 1), "alpha": (99, 1)})
    assert cluster.node.peer_generations() == ()
    cluster.feed(cluster.status("init"))
    assert cluster.node.peer_generations() == (("beta", cluster.generation, 1),)


# -- after the peer was marked dead -----------------------------------------------------------


@pytest.mark.parametrize("t, fields", CONTROL_MESSAGES)
def test_once_the_peer_is_dead_a_capture_of_its_current_run_is_refused(t, fields):
    cluster = Cluster()
    cluster.comm_up()
    captured_status = cluster.status()
    cluster.feed(captured_status)
    captured = cluster.peer(t, **fields)
    cluster.feed(captured)
    cluster.advance(10_250)                        # silent: dead, sequence tracking reset
    assert cluster.node.node_status("beta") == "dead"
    acts = cluster.feed(captured)
    acts += cluster.feed(captured_status)
    assert received(acts) == [] and cluster.node.node_status("beta") == "dead"
    assert not any(isinstance(a, PartitionHealed) for a in acts)
    assert len(replay_lines(acts)) == 1            # one line a second per node
    assert cluster.node.counters["replay"] == 2
    # the peer itself, still in the same run, comes back: a healed partition (SPEC §1d 5)
    cluster.seq += 10                              # it kept sending while cut off
    acts = cluster.feed(cluster.status())
    assert PartitionHealed("beta") in acts and cluster.node.node_status("beta") == "active"


# -- control messages far behind the peer's clock --------------------------------------------


@pytest.mark.parametrize("t, fields", CONTROL_MESSAGES)
@pytest.mark.parametrize("replayed_after_ms, refused", [(60_000, True), (11_000, False)])
def test_while_the_peer_is_dead_a_capture_it_sent_us_in_vain_is_judged_by_its_ts(
        t, fields, replayed_after_ms, refused):
    """A packet we never saw (the peer was cut off from us; someone near it recorded it) has a
    seq we have not seen either: only its ts can give it away.  Within the tolerance (its dead
    time + 2 s) it is taken: it may be the peer itself, just cut off."""
    cluster = Cluster()
    cluster.comm_up()
    cluster.advance(2000, heartbeats=True)
    unseen = cluster.peer(t, **fields)            # cut off from here on
    cluster.advance(replayed_after_ms)
    assert cluster.node.node_status("beta") == "dead"
    acts = cluster.feed(unseen)
    if refused:
        assert received(acts) == []
        assert replay_lines(acts) == [
            f"should_drop_message: attempted replay attack [beta]? [t = {t}, ts 60 s behind "
            "its clock]"]
    else:
        assert received(acts, t) and replay_lines(acts) == []


def test_control_messages_of_a_peer_with_a_different_clock_are_accepted():
    cluster = Cluster()
    cluster.comm_up()                              # its clock is an hour ahead of ours
    for t, fields in CONTROL_MESSAGES:
        cluster.advance(1500, heartbeats=True)
        assert received(cluster.feed(cluster.peer(t, **fields)), t)
    assert cluster.node.counters["replay"] == 0


def test_a_retransmission_up_to_about_a_deadtime_old_is_accepted():
    """C re-sends the stored bytes, original ts included (SPEC §1d NS_rexmit)."""
    cluster = Cluster()
    cluster.comm_up()
    lost = cluster.peer("ip-request", ipaddr="10.0.0.3")
    cluster.advance(9000, heartbeats=True)         # the gap is asked for all along
    assert [a for a in cluster.actions if isinstance(a, SendMessage)
            and a.message_type == "NS_rexmit"]
    assert received(cluster.feed(lost), "ip-request")


def test_a_peer_clock_stepped_back_keeps_it_alive_and_is_learnt_again():
    cluster = Cluster()
    cluster.comm_up()
    cluster.peer_clock_ahead_s = 0                 # NTP steps it back an hour
    cluster.advance(12_000, heartbeats=True)
    assert cluster.node.node_status("beta") == "active"
    assert received(cluster.feed(cluster.peer("hb_takeover", rsc_hold="all")))
    assert cluster.node.counters["replay"] == 0


# -- what is handed out for keeping -------------------------------------------------------------


def test_a_new_generation_is_kept_at_once_heartbeats_once_a_minute():
    cluster = Cluster()
    acts = cluster.feed(cluster.status("up"))
    assert PeerGenerationsChanged((("beta", cluster.generation, 1),)) in acts
    acts = cluster.advance(PERSIST_INTERVAL_MS - 1000, heartbeats=True)
    assert not any(isinstance(a, PeerGenerationsChanged) for a in acts)
    acts = cluster.advance(1000, heartbeats=True)
    kept = [a for a in acts if isinstance(a, PeerGenerationsChanged)]
    assert len(kept) == 1 and kept[0].records[0][2] >= 60
    assert cluster.node.peer_generations() == (("beta", cluster.generation, cluster.seq),)


@pytest.mark.parametrize("t, fields", CONTROL_MESSAGES)
def test_a_message_that_is_not_a_heartbeat_is_kept_within_a_second(t, fields):
    """So that after a crash of ours the hb_takeover we acted on cannot be replayed."""
    cluster = Cluster()
    cluster.comm_up()                              # (its generation was kept at once,
    cluster.advance(2 * PERSIST_CONTROL_MS)        # its repnodes a second later)
    acts = cluster.feed(cluster.peer(t, **fields))
    kept = [a for a in acts if isinstance(a, PeerGenerationsChanged)]
    assert kept == [PeerGenerationsChanged((("beta", cluster.generation, cluster.seq),))]
    assert acts.index(kept[0]) < acts.index(received(acts, t)[0])   # written before acted on
    acts = cluster.feed(cluster.peer(t, **fields))                   # again at once: later
    assert not any(isinstance(a, PeerGenerationsChanged) for a in acts)
    assert cluster.node.next_deadline_ms() <= cluster.now + PERSIST_CONTROL_MS
    acts = cluster.advance(PERSIST_CONTROL_MS)
    assert PeerGenerationsChanged((("beta", cluster.generation, cluster.seq),)) in acts


def test_peer_generations_file_round_trip_and_a_bad_line_is_located(tmp_path):
    statefiles.write_peer_generations(str(tmp_path), (("beta", 1795612327, 42),))
    path = tmp_path / statefiles.PEER_GENERATIONS_FILE
    assert path.read_text() == "beta 1795612327 42\n"
    assert statefiles.read_peer_generations(str(tmp_path)) == {"beta": (1795612327, 42)}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]      # no temporary left
    path.write_text("beta 1795612327 42\ngamma x 1\n")
    with pytest.raises(statefiles.StateFileError,
                       match=r"hb_peer_generations:2: not 'node generation seq'$"):
        statefiles.read_peer_generations(str(tmp_path))
    assert statefiles.read_peer_generations(str(tmp_path / "none")) == {}


def test_a_bad_kept_file_is_one_warning_and_the_daemon_starts_and_rewrites_it(tmp_path):
    """The file only hardens: a garbled one must not keep a director's heartbeat down."""
    import subprocess
    import sys

    from lvs_compat.lab import wait_for

    from conftest import REPO

    etc, state, run_dir = tmp_path / "etc", tmp_path / "state", tmp_path / "run"
    etc.mkdir()
    state.mkdir()
    (etc / "ha.cf").write_text(f"logfile {tmp_path / 'ha-log'}\nkeepalive 500ms\ndeadtime 2\n"
                               "bcast lo\ncrm off\nnode nodea nodeb\n")
    (etc / "haresources").write_text("")
    (etc / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (etc / "authkeys").chmod(0o600)
    kept = state / statefiles.PEER_GENERATIONS_FILE
    kept.write_text("nodeb 17\n")
    argv = [sys.executable, str(REPO / "bin" / "heartbeat"), "--config-dir", str(etc),
            "--state-dir", str(state), "--run-dir", str(run_dir), "--node-name", "nodea"]
    daemon = subprocess.Popen([*argv, "--foreground"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log = tmp_path / "ha-log"
        wait_for(lambda: log.exists() and "Local status now set to: 'up'" in log.read_text(),
                 10, 0.05, "the daemon to start")
        warnings = [line for line in log.read_text().splitlines() if str(kept) in line]
        assert len(warnings) == 1 and warnings[0].endswith(
            f"WARN: {kept}:1: not 'node generation seq': ignored, replays from before this "
            "start are not refused")
        assert subprocess.run([*argv, "-k"], capture_output=True, timeout=20).returncode == 0
        assert daemon.wait(timeout=10) == 0
        assert statefiles.read_peer_generations(str(state)) == {}   # valid again
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
