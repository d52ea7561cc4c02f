"""The membership core driven with a fake clock: each test is a few simulated seconds, run in
microseconds.  Peers are dicts with the fields a decoded 3.0.6 packet carries (SPEC §1d)."""

from __future__ import annotations

import random

import pytest

from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.heartbeat.membership import (
    HeartbeatLate, LinkStatusChanged, Log, Membership, MessageReceived, NodeRestarted,
    NodeStatusChanged, PartitionHealed, Received, Send, SendMessage, Start, Tick,
    medium_link_name)

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

TWO_MEDIA = HA_CF.replace("bcast eth0\n", "bcast eth0\nserial /dev/ttyS0\n")


def config(text=HA_CF):
    return parse_ha_cf(text, "ha.cf")


class Peer:
    """What a real 3.0.6 node puts on the wire, one message at a time."""

    def __init__(self, name="beta", generation=0x6b06ca78):
        self.name, self.generation, self.seq = name, generation, 0

    def message(self, t, **fields):
        self.seq += 1
        return self.numbered(self.seq, t, **fields)

    def numbered(self, seq, t, **fields):
        msg = {"t": t, **fields, "src": self.name, "seq": format(seq, "x"),
               "hg": format(self.generation, "x"), "ts": "6b06ca77", "ttl": "3"}
        return {k: v for k, v in msg.items() if v is not None}

    def status(self, st="active", dt="2710"):
        return self.message("status", st=st, dt=dt, protocol="1")

    def flow(self, t, **fields):   # NS_ messages: no seq, no ld
        return {"t": t, **fields, "src": self.name, "hg": format(self.generation, "x"),
                "ts": "6b06ca77", "ttl": "3"}


class Node:
    """A core plus the clock it is driven with."""

    def __init__(self, text=HA_CF, name="alpha", now=1_000_000):
        self.now = now
        self.core = Membership(config(text), name, 7, now, seed=1)
        self.actions = self.core.handle(Start(), now)

    def feed(self, message, link="eth0", authenticated=True):
        acts = self.core.handle(Received(message, link, authenticated), self.now)
        self.actions += acts
        return acts

    def advance(self, ms, step=250):
        """Tick like the C poll loop (every 250 ms) for ``ms`` milliseconds."""
        acts, end = [], self.now + ms
        while self.now < end:
            self.now = min(self.now + step, end)
            acts += self.core.handle(Tick(), self.now)
        self.actions += acts
        return acts

    def status(self, node):
        return self.core.node_status(node)


def logs(actions, level=None):
    return [a.text for a in actions if isinstance(a, Log) and level in (None, a.level)]


def sent(actions, t=None):
    return [a for a in actions
            if isinstance(a, SendMessage) and t in (None, a.message_type)]


def comm_up(node, peer):
    """The 3.0.6 start-up exchange (LAB): status up, reqnodes/repnodes, status active."""
    node.feed(peer.status("up", dt="2ee0"))
    assert sent(node.actions, "reqnodes")[-1].get("dest") == peer.name
    node.feed(peer.message("repnodes", dest=node.core.local_node,
                           nodelist="alpha beta ", delnodelist=" "))
    node.feed(peer.status("active", dt="2710"))
    assert node.core.local_status == "active" and node.status(peer.name) == "active"


# -- start-up ------------------------------------------------------------------------------


def test_fresh_node_sends_init_up_up_with_two_extra_seconds_of_deadtime():
    node = Node()
    statuses = sent(node.actions, "status")
    assert [(s.get("st"), s.get("dt"), s.get("protocol"), s.seq) for s in statuses] == [
        ("init", "2ee0", "1", 1), ("up", "2ee0", "1", 2), ("up", "2ee0", "1", 3)]
    assert statuses[0].fields == (("t", "status"), ("st", "init"), ("dt", "2ee0"),
                                  ("protocol", "1"))
    assert "Local status now set to: 'up'" in logs(node.actions)
    # LAB: at 5 s the temporary +2 s goes away and is announced at once.
    early = node.advance(4750)
    assert {s.get("dt") for s in sent(early, "status")} == {"2ee0"}
    popped = node.advance(250)
    assert [s.get("dt") for s in sent(popped, "status")][0] == "2710"


def test_status_goes_out_every_keepalive():
    node = Node(HA_CF.replace("keepalive 1", "keepalive 500ms"))
    acts = node.advance(3000, step=100)
    assert len(sent(acts, "status")) == 6
    assert [s.seq for s in sent(acts, "status")] == list(range(4, 10))


def test_comm_up_after_reqnodes_is_answered_and_local_status_becomes_active():
    node, peer = Node(), Peer()
    node.feed(peer.status("init", dt="2ee0"))
    assert node.core.local_status == "up"
    (request,) = sent(node.actions, "reqnodes")
    assert request.fields == (("t", "reqnodes"), ("dest", "beta"))
    node.feed(peer.message("repnodes", dest="alpha", nodelist="alpha beta ",
                           delnodelist=" "))
    assert node.core.local_status == "active" and node.core.comm_up
    assert logs(node.actions)[-2:] == ["Comm_now_up(): updating status to active",
                                       "Local status now set to: 'active'"]
    assert sent(node.actions, "status")[-1].get("st") == "active"


def test_reqnodes_is_retried_every_second_until_answered():
    node, peer = Node(), Peer()
    node.feed(peer.status("up"))
    retries = node.advance(3000)
    assert len(sent(retries, "reqnodes")) == 3
    assert all(r.get("dest") == "beta" for r in sent(retries, "reqnodes"))
    node.feed(peer.message("repnodes", dest="alpha", nodelist="alpha beta ",
                           delnodelist=" "))
    assert sent(node.advance(3000), "reqnodes") == []


def test_reqnodes_is_answered_with_repnodes_node_lists_followed_by_a_space():
    node, peer = Node(), Peer()
    acts = node.feed(peer.message("reqnodes", dest="alpha"))
    (reply,) = sent(acts, "repnodes")
    # LAB packet #11: dest comes before t; every name followed by a space; empty list " ".
    assert reply.fields == (("dest", "beta"), ("t", "repnodes"),
                            ("nodelist", "alpha beta "), ("delnodelist", " "))
    assert reply.seq is not None


def test_never_heard_node_is_declared_dead_only_after_initdead():
    node = Node()
    assert node.advance(19_750) and node.status("beta") == "init"
    assert "node beta: is dead" not in logs(node.actions)
    acts = node.advance(500)
    assert "node beta: is dead" in logs(acts)
    assert NodeStatusChanged("beta", "init", "dead", "deadtime") in acts
    # Nobody left to ask for the node list: comm comes up on our own.
    assert node.core.local_status == "active"


# -- liveness --------------------------------------------------------------------------------


def test_peer_is_declared_dead_after_its_advertised_deadtime():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    node.feed(peer.status("active", dt="1388"))        # the peer wants 5 s, we say 10 s
    assert node.core.node_deadtime_ms("beta") == 5000
    assert "node beta: is dead" not in logs(node.advance(5000))
    acts = node.advance(250)
    assert logs(acts) == ["node beta: is dead", "Link beta:eth0 dead."]
    assert NodeStatusChanged("beta", "active", "dead", "deadtime") in acts
    assert LinkStatusChanged("beta", "eth0", "dead") in acts


def test_peer_without_dt_gets_our_deadtime():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    node.feed(peer.status("active", dt=None))
    assert node.core.node_deadtime_ms("beta") == 10_000
    assert node.status("beta") == "active"
    node.advance(10_000)
    assert node.status("beta") == "active"
    node.advance(250)
    assert node.status("beta") == "dead"


def test_warntime_warns_once_per_late_episode_and_again_when_the_heartbeat_arrives():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    acts = node.advance(7000)
    assert logs(acts, "warning") == ["Late heartbeat: Node beta: no heartbeat for 5250 ms"]
    assert [a for a in acts if isinstance(a, HeartbeatLate)] == [HeartbeatLate("beta", 5250)]
    late = node.feed(peer.status())
    assert logs(late) == ["Late heartbeat: Node beta: interval 7000 ms"]   # the C line
    node.feed(peer.status())
    assert logs(node.advance(4000), "warning") == []
    assert len(logs(node.advance(2000), "warning")) == 1                   # a new episode


def test_two_media_one_failing_keeps_the_node_alive():
    node, peer = Node(TWO_MEDIA), Peer()
    assert node.core.links == ("eth0", "/dev/ttyS0")
    message = peer.status("up")
    node.feed(message, "eth0")
    node.feed(message, "/dev/ttyS0")                   # same packet over serial: a duplicate
    assert node.core.link_status("beta", "/dev/ttyS0") == "up"
    comm_up(node, peer)
    for _ in range(15):                                # the serial cable is pulled
        node.advance(1000)
        node.feed(peer.status(), "eth0")
    assert "Link beta:/dev/ttyS0 dead." in logs(node.actions)
    assert node.core.link_status("beta", "/dev/ttyS0") == "dead"
    assert node.core.link_status("beta", "eth0") == "up"
    assert node.status("beta") == "active"
    node.feed(peer.status(), "/dev/ttyS0")             # and plugged back in
    assert node.core.link_status("beta", "/dev/ttyS0") == "up"


def test_shutdone_makes_the_peer_dead_at_once():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    acts = node.feed(peer.message("shutdone", st="dead"))
    assert logs(acts) == ["Received shutdown notice from 'beta'."]
    assert NodeStatusChanged("beta", "active", "dead", "shutdown") in acts
    # LAB: the stopping node keeps sending "active" for a second; it stays dead (no split brain).
    acts = node.feed(peer.status("active"))
    assert node.status("beta") == "dead" and logs(acts) == []
    restarted = Peer(generation=peer.generation + 1)
    acts = node.feed(restarted.status("init", dt="2ee0"))
    assert logs(acts) == ["Heartbeat restart on node beta",
                          "Status update for node beta: status init"]


# -- generations and sequence numbers --------------------------------------------------------


def test_higher_generation_is_a_restart_and_resets_the_sequence_window():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    for _ in range(20):
        node.feed(peer.status())
    restarted = Peer(generation=peer.generation + 1)
    acts = node.feed(restarted.status("init", dt="2ee0"))
    assert logs(acts)[:1] == ["Heartbeat restart on node beta"]
    assert NodeRestarted("beta", peer.generation + 1) in acts
    assert NodeStatusChanged("beta", "active", "init", "status") in acts
    node.feed(restarted.status("up", dt="2ee0"))
    assert node.status("beta") == "up"


def test_lower_generation_is_a_replay_and_changes_nothing():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    old = Peer(generation=peer.generation - 1)
    acts = node.feed(old.status("dead"))
    assert logs(acts) == ["should_drop_message: attempted replay attack [beta]? "
                          f"[gen = {peer.generation - 1}, curgen = {peer.generation}]"]
    assert node.status("beta") == "active"
    assert node.core.counters["replay"] == 1


def test_replayed_and_duplicate_sequence_numbers_are_dropped():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    captured = peer.status("active")
    node.feed(captured)
    node.feed(peer.message("resource", rsc_hold="none"))
    # A replay of an old status saying "init" (seq 1), and the last packet again.
    replay = peer.numbered(1, "status", st="init", dt="2ee0", protocol="1")
    assert node.feed(replay) == [] and node.status("beta") == "active"
    assert node.core.counters["old seq"] == 1
    again = peer.numbered(peer.seq, "resource", rsc_hold="none")
    assert node.feed(again) == [] and node.core.counters["duplicate"] == 1


def test_a_duplicate_still_refreshes_its_link():
    node, peer = Node(TWO_MEDIA), Peer()
    comm_up(node, peer)
    message = peer.status()
    node.feed(message, "eth0")
    acts = node.feed(message, "/dev/ttyS0")
    assert LinkStatusChanged("beta", "/dev/ttyS0", "up") in acts


def test_a_gap_is_asked_for_again_until_filled():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    peer.seq += 2                                   # two packets lost
    acts = node.feed(peer.status())
    last = peer.seq
    assert logs(acts) == [f"2 lost packet(s) for [beta] [{last - 3}:{last}]"]
    first = node.advance(250)                       # after 50..max_rexmit_delay ms
    requests = sent(first, "NS_rexmit")
    assert [(r.get("dest"), r.get("firstseq"), r.get("lastseq"), r.seq) for r in requests] == [
        ("beta", str(last - 2), str(last - 2), None), ("beta", str(last - 1), str(last - 1), None)]
    assert sent(node.advance(750), "NS_rexmit") == []
    assert len(sent(node.advance(250), "NS_rexmit")) == 2    # repeated every second
    node.feed(peer.numbered(last - 2, "resource", rsc_hold="none"))
    acts = node.feed(peer.numbered(last - 1, "resource", rsc_hold="none"))
    assert "No pkts missing from beta!" in logs(acts)
    assert sent(node.advance(2000), "NS_rexmit") == []


def test_nak_rexmit_forgets_the_missing_packet():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    peer.seq += 1
    node.feed(peer.status())
    acts = node.feed(peer.flow("NS_nak_rexmit", firstseq=format(peer.seq - 1, "x"),
                               dest="alpha", info="seqno too low"))
    assert logs(acts) == [f"Irretrievably lost packet: node beta seq {peer.seq - 1}",
                          "No pkts missing from beta!"]
    assert sent(node.advance(2000), "NS_rexmit") == []


def test_ns_rexmit_is_answered_from_history_or_with_nak_rexmit():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    ours = {s.seq: s for s in sent(node.actions) if s.seq is not None}
    acts = node.feed(peer.flow("NS_rexmit", dest="alpha", firstseq="2", lastseq="3"))
    assert [(s.seq, s.fields, s.retransmission) for s in sent(acts)] == [
        (2, ours[2].fields, True), (3, ours[3].fields, True)]
    # Not again within a second (C: REXMIT_MS), then yes.
    assert sent(node.feed(peer.flow("NS_rexmit", dest="alpha", firstseq="2",
                                    lastseq="2"))) == []
    node.advance(1000)
    assert len(sent(node.feed(peer.flow("NS_rexmit", dest="alpha", firstseq="2",
                                        lastseq="2")))) == 1
    for _ in range(600):
        node.core.handle(Send((("t", "noise"),)), node.now)
    acts = node.feed(peer.flow("NS_rexmit", dest="alpha", firstseq="2", lastseq="2"))
    (nak,) = sent(acts)
    assert nak.fields == (("t", "NS_nak_rexmit"), ("firstseq", "2"), ("dest", "beta"),
                          ("info", "seqno too low"))
    assert nak.seq is None
    # For someone else: not ours to answer.
    assert node.feed(peer.flow("NS_rexmit", dest="gamma", firstseq="2", lastseq="2")) == []


def test_acks_and_flow_control_messages_of_a_c_peer_are_accepted():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    assert node.feed(peer.flow("NS_ackmsg", dest="alpha", ackseq="a")) == []
    assert node.feed(peer.flow("NS_ackmsg", dest="beta", ackseq="a")) == []
    assert node.status("beta") == "active"


def test_we_ack_every_tenth_packet_like_the_c_daemon():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    acts = []
    for _ in range(30):
        acts += node.feed(peer.status())
    acks = [a for a in sent(acts, "NS_ackmsg") if a.get("dest") == "beta"]
    assert len(acks) == 3
    assert len({int(a.get("ackseq"), 16) % 10 for a in acks}) == 1


def test_peer_without_protocol_field_turns_flow_control_off():
    node, peer = Node(), Peer()
    acts = node.feed(peer.message("status", st="up", dt="2710"))
    assert "flow control disabled due to different version heartbeat" in logs(acts)
    assert sent(acts, "reqnodes") == [] and node.core.local_status == "active"
    assert sent(node.actions, "status")[-1].get("protocol") is None


def test_dead_node_talking_again_with_the_same_generation_is_a_healed_partition():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    node.advance(10_250)
    assert node.status("beta") == "dead"
    acts = node.feed(peer.status())
    assert logs(acts)[0] == "Cluster node beta returning after partition."
    assert PartitionHealed("beta") in acts
    assert node.status("beta") == "active"


def test_messages_addressed_to_another_node_are_tracked_but_not_acted_on():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    assert node.feed(peer.message("reqnodes", dest="gamma")) == []
    acts = node.feed(peer.status())            # the next seq is in order: it was tracked
    assert logs(acts) == []


def test_a_peers_grant_to_itself_is_passed_on_though_not_addressed_to_us():
    """Legacy req_resource with no active node: ``ip-request-resp dest=<itself>`` (SPEC §1e,
    packets.txt part D #1).  The coordinator must see it (it means that node takes the group
    now); other messages to other nodes are still dropped."""
    node, peer = Node(), Peer()
    comm_up(node, peer)
    grant = peer.message("ip-request-resp", dest="beta", ipaddr="10.0.0.1", weown="yes",
                         ok="OK")
    assert node.feed(grant) == [MessageReceived("beta", "ip-request-resp", grant, "eth0")]
    to_gamma = peer.message("ip-request-resp", dest="gamma", ipaddr="10.0.0.1", weown="yes",
                            ok="OK")
    assert node.feed(to_gamma) == []


# -- what the core hands on ------------------------------------------------------------------


def test_other_message_types_go_to_subscribers_ours_included():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    message = peer.message("ip-request", ipaddr="10.0.0.1")
    acts = node.feed(message)
    assert acts == [MessageReceived("beta", "ip-request", message, "eth0")]
    acts = node.core.handle(Send((("t", "ip-request-resp"), ("dest", "alpha"),
                                  ("ipaddr", "10.0.0.1"), ("weown", "yes"), ("ok", "OK"))),
                            node.now)
    (out,) = sent(acts)
    assert out.seq == max(s.seq for s in sent(node.actions) if s.seq) + 1
    (delivered,) = [a for a in acts if isinstance(a, MessageReceived)]
    assert delivered.node == "alpha" and delivered.message.get("ipaddr") == "10.0.0.1"


def test_our_own_echo_brings_our_link_up_and_is_a_duplicate():
    node = Node()
    status = sent(node.actions, "status")[-1]
    echo = dict(status.fields, src="alpha", seq=format(status.seq, "x"), hg="7", ts="1")
    acts = node.feed(echo)
    assert logs(acts) == ["Link alpha:eth0 up."]
    assert node.core.counters["duplicate"] == 1


def test_next_deadline_is_the_next_thing_to_do():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    node.advance(5000)
    node.feed(peer.status())
    assert node.core.next_deadline_ms() == node.now + 1000  # the next keepalive
    node.advance(1000)
    node.feed(peer.status("active", dt="bb8"))             # the peer now wants 3 s
    heard = node.now
    node.advance(2600, step=2600)
    assert node.core.next_deadline_ms() == heard + 3000 + 1   # its death, before a keepalive
    node.core.handle(Tick(), heard + 3001)
    assert node.status("beta") == "dead"


def test_link_names_follow_the_media():
    cfg = config(HA_CF + "ucast eth1 10.0.0.2\nmcast eth2 239.0.0.1 694 1 0\n"
                 "serial /dev/ttyS1\nping 10.0.0.254\n")
    assert [medium_link_name(m) for m in cfg.media] == [
        "eth0", "eth1", "eth2", "/dev/ttyS1", None]


# -- bad input -------------------------------------------------------------------------------


def test_unknown_node_is_ignored_and_logged_at_most_once_a_second():
    node = Node()
    stranger = Peer("mallory")
    acts = []
    for _ in range(10):
        acts += node.feed(stranger.status())
    assert logs(acts) == ["process_status_message: bad node [mallory] in message"]
    assert node.core.counters["unknown node"] == 10
    node.advance(1000)
    acts = node.feed(stranger.status())
    assert logs(acts) == ["process_status_message: bad node [mallory] in message "
                          "(9 more suppressed)"]
    assert node.core.nodes == ("alpha", "beta")


def test_unauthenticated_packets_change_nothing_and_are_logged_once_a_second_per_peer():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    acts = []
    for _ in range(50):
        acts += node.feed(peer.status("dead"), authenticated=False)
        acts += node.feed(peer.message("shutdone", st="dead"), authenticated=False)
    assert logs(acts) == ["Dropped packet from [beta] on link eth0: failed authentication"]
    assert node.core.counters["bad authentication"] == 100
    assert node.status("beta") == "active"
    assert [a for a in acts if not isinstance(a, Log)] == []


@pytest.mark.parametrize("drop", ["src", "ts", "t", "seq"])
def test_packets_missing_mandatory_fields_are_dropped(drop):
    node, peer = Node(), Peer()
    message = peer.status("up")
    del message[drop]
    node.feed(message)
    assert node.status("beta") == "init" and node.core.counters["malformed"] == 1


def test_garbage_fields_never_crash_or_change_membership():
    rng = random.Random(5)
    node, peer = Node(), Peer()
    comm_up(node, peer)
    words = ["", " ", "0", "-1", "zz", "ffffffffffffffffffff", "status", "NS_rexmit",
             "NS_nak_rexmit", "shutdone", "beta", "alpha", "repnodes", "reqnodes", b"\xff",
             "99999999999", "1 2", "0x10"]
    names = ["t", "src", "seq", "hg", "ts", "st", "dt", "dest", "firstseq", "lastseq",
             "ackseq", "nodelist", "protocol"]
    for _ in range(3000):
        message = {name: rng.choice(words) for name in rng.sample(names, rng.randint(0, 13))}
        node.feed(message, authenticated=False)
        node.feed({**message, "src": "mallory"})
    assert node.status("beta") == "active"
    for _ in range(3000):                              # authenticated garbage: no crash
        message = {name: rng.choice(words) for name in rng.sample(names, rng.randint(0, 13))}
        node.feed(message)
        node.advance(rng.choice([0, 1, 250]))


# -- two cores -------------------------------------------------------------------------------


def test_two_nodes_see_each_other_active_and_detect_a_kill_within_deadtime_plus_keepalive():
    start = 5_000_000
    cores = {name: Membership(config(), name, 42, start, seed=name) for name in ("alpha", "beta")}
    inbox = {name: [] for name in cores}

    def deliver(sender, actions, now):
        for action in actions:
            if isinstance(action, SendMessage) and sender in alive:
                wire = dict(action.fields, src=sender, hg="2a", ts="1")
                if action.seq is not None:
                    wire["seq"] = format(action.seq, "x")
                for name in alive:                   # bcast: everybody, ourselves included
                    inbox[name].append(wire)

    alive = {"alpha", "beta"}
    now = start
    for name, core in cores.items():
        deliver(name, core.handle(Start(), now), now)
    events = []
    for _ in range(400):                             # 100 s in 250 ms steps
        now += 250
        if now == start + 30_000:
            alive.discard("beta")                    # kill -9
            killed_at = now
        for name in sorted(alive):
            while inbox[name]:
                acts = cores[name].handle(Received(inbox[name].pop(0), "eth0", True), now)
                events += [(now, name, a) for a in acts]
                deliver(name, acts, now)
            acts = cores[name].handle(Tick(), now)
            events += [(now, name, a) for a in acts]
            deliver(name, acts, now)
        if now == start + 2000:
            assert cores["alpha"].node_status("beta") == "active"
            assert cores["beta"].node_status("alpha") == "active"
    death = cores["alpha"]
    assert death.node_status("beta") == "dead"
    assert death.link_status("beta", "eth0") == "dead"
    assert death.node_status("alpha") == "active" and death.link_status("alpha", "eth0") == "up"
    (dead_at,) = [when for when, name, a in events
                  if a == NodeStatusChanged("beta", "active", "dead", "deadtime")]
    assert killed_at + 10_000 - 1000 < dead_at <= killed_at + 10_000 + 1000   # deadtime+keepalive
    assert [a.text for when, name, a in events if isinstance(a, Log) and when == dead_at] == [
        "node beta: is dead", "Link beta:eth0 dead."]


def test_forged_names_do_not_multiply_bad_authentication_lines():
    node = Node()
    acts = []
    for number in range(100):
        acts += node.feed(Peer(f"forged{number}").status(), authenticated=False)
    assert logs(acts) == ["Dropped packet from [forged0] on link eth0: failed authentication"]


def test_links_of_a_node_that_shut_down_still_time_out():
    node, peer = Node(), Peer()
    comm_up(node, peer)
    node.feed(peer.message("shutdone", st="dead"))
    heard = node.now
    assert node.core.next_deadline_ms() <= heard + 10_001
    node.core.handle(Tick(), heard + 10_001)
    assert node.core.link_status("beta", "eth0") == "dead"
