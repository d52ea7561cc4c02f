"""auto_failback legacy: the home node restarts at every instant of the survivor's takeover.

The race CI found against a real 3.0.6 node (issue 13, test_heartbeat_takeover_interop's
legacy test, 2 failures in 2 fresh runs, 2 in 4 here): the C node crashed; ours declared it
dead after deadtime and took its group; the C node was restarted in that same second.  It came
up (comm up) before it had heard our status, so 3.0.6's ``req_resource`` found no active node
and answered its own request (``t=ip-request-resp dest=<itself> weown=yes``, HA_DONTASK)
instead of sending ``ip-request``: it took the group without asking, and ours, holding the same
group, ignored a message not addressed to it.  3.0.6 on the survivor's side does the same
(rc.d/ip-request-resp acts only on ``dest`` = us), so two C nodes keep the group on both.

Fixed in two places.  membership.py passes a peer's grant to itself on although it is not
addressed to us (C drops it there, as it drops every message to another node; the first fix,
in the coordinator alone, never saw it: 1 failure in 8 interop runs, caught by the lab test).
resources.py (``_on_peer_takes_without_asking``): in legacy mode a peer's
self-addressed ``ip-request-resp`` for a group whose home is the peer makes us give the group
up (a queued takeover of it is cancelled, a started one stopped).  The window with the group on
both nodes is then the peer's own doing and lasts until its message reaches us.

The same race the other way round (run 22 of the fourth session, 1 in 13 fresh runs): *ours*
restarted just as the 3.0.6 survivor finished taking its group; its comm came up on a packet of
the survivor that was not a status (comm-up counts any packet, as C's ``anypacketsyet``), so it
found no active node and took its group without asking; 3.0.6 ignores the grant and both held
the group for good.  Fixed in takeover.py (``_comm_up_action``): in legacy mode, a returning
node that has heard the peer but not its status waits for that status (a keepalive away, or the
peer goes dead) before it decides whether to ask.

Here two of our coordinators (``resource_cluster``: fake bus, fake clock) replay it at every
interesting instant, in milliseconds: the restart comes before the death is detected, right
after, and after each of the survivor's takeover steps, with the returning node hearing the
survivor's status before its comm-up or after (it waits, then asks: no overlap either way).
A 3.0.6 home node, which takes without asking, is the survivor's grant test: the overlap lasts
only while its message is in flight.
"""

from __future__ import annotations

import pytest

from lvs_compat.heartbeat.membership import (MessageReceived, NodeRestarted,
                                             NodeStatusChanged)
from lvs_compat.heartbeat.resources import ResourceCoordinator

from resource_cluster import BACKUP_GROUP, PRIMARY_GROUP, Cluster

pytestmark = pytest.mark.simulator  # two real cores, a fake bus and a fake clock

HOME, SURVIVOR = "hbanode1", "hbanode2"
TAKEOVER_STEPS = range(0, 6)


def settled_legacy_pair() -> Cluster:
    cluster = Cluster("legacy")
    cluster.start_both()
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == [HOME]
    assert cluster.holders(BACKUP_GROUP) == [SURVIVOR]
    return cluster


def survivor_step(cluster: Cluster) -> str:
    """One step of the survivor's takeover: finish its next group operation, else let 0.5 s
    pass (timers run); what it sends to the dead node is lost."""
    cluster.wire[SURVIVOR].clear()
    if cluster.ops[SURVIVOR]:
        return repr(cluster.complete(SURVIVOR))
    cluster.advance(500)
    return "0.5 s"


def crash_then_restart_during_takeover(steps: int, *, hears_survivor_first: bool,
                                       detected: bool = True) -> Cluster:
    cluster = settled_legacy_pair()
    cluster.strict = hears_survivor_first
    cluster.crash(HOME)
    cluster.advance(10_000)
    if detected:
        cluster.detect_death(HOME)
    done = [survivor_step(cluster) for _ in range(steps)]
    restart_at, cluster.restart_mark = cluster.now, len(cluster.sent)
    cluster.start(HOME, hears_peer_first=hears_survivor_first)
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == [HOME], (done, cluster.log_texts(SURVIVOR))
    assert cluster.holders(BACKUP_GROUP) == [SURVIVOR], done
    # the overlap, if any, never outlives the returning node's message (no time passed)
    assert all(at == restart_at for at, _ in cluster.both_held), cluster.both_held
    assert {key for _, key in cluster.both_held} <= {PRIMARY_GROUP}
    return cluster


def sent_since_restart(cluster: Cluster, kind: str) -> list[dict]:
    return [dict(fields) for node, fields in cluster.sent[cluster.restart_mark:]
            if node == HOME and dict(fields)["t"] == kind]


def taken_over_pair() -> Cluster:
    """The home node crashed, the survivor declared it dead and took its group."""
    cluster = settled_legacy_pair()
    cluster.crash(HOME)
    cluster.advance(10_000)
    cluster.detect_death(HOME)
    cluster.settle()
    return cluster


def home_comes_up_without_the_survivors_status(cluster: Cluster) -> None:
    """The home node restarts and its comm comes up on a packet of the survivor that was
    not a status (``Cluster.start`` always feeds that status); it waits for it."""
    cluster.wire[SURVIVOR].clear()              # sent to the home node's old generation
    cluster.restart_mark = len(cluster.sent)
    cluster.nodes[HOME] = ResourceCoordinator(cluster.config, cluster.resources, HOME,
                                              cluster.options)
    cluster.feed(HOME, NodeStatusChanged(HOME, "up", "active", "comm up"))
    assert f"Waiting for {SURVIVOR}'s status before requesting our resources" in \
        cluster.log_texts(HOME)
    assert cluster.ops[HOME] == [] and sent_since_restart(cluster, "ip-request-resp") == []


@pytest.mark.parametrize("steps", TAKEOVER_STEPS)
def test_a_home_node_that_asks_gets_its_group_back_at_any_instant_of_the_takeover(steps):
    cluster = crash_then_restart_during_takeover(steps, hears_survivor_first=True)
    assert cluster.both_held == []
    assert sent_since_restart(cluster, "ip-request") == [{"t": "ip-request",
                                                          "ipaddr": PRIMARY_GROUP}]


@pytest.mark.parametrize("steps", TAKEOVER_STEPS)
def test_a_home_node_that_comes_up_before_the_survivors_status_waits_for_it_and_asks(steps):
    cluster = crash_then_restart_during_takeover(steps, hears_survivor_first=False)
    assert cluster.both_held == []
    assert sent_since_restart(cluster, "ip-request-resp") == []
    assert sent_since_restart(cluster, "ip-request") == [{"t": "ip-request",
                                                          "ipaddr": PRIMARY_GROUP}]
    assert f"Waiting for {SURVIVOR}'s status before requesting our resources" in \
        cluster.log_texts(HOME)


def test_a_home_node_that_comes_up_before_the_survivors_status_takes_alone_if_it_dies():
    """The packet that brought comm up was the survivor's last: it goes dead, and the home
    node takes its group (and the survivor's) without asking anybody."""
    cluster = taken_over_pair()
    cluster.crash(SURVIVOR)
    home_comes_up_without_the_survivors_status(cluster)
    cluster.feed(HOME, NodeStatusChanged(SURVIVOR, "init", "dead", "deadtime"))
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == [HOME]
    assert cluster.holders(BACKUP_GROUP) == [HOME]
    assert sent_since_restart(cluster, "ip-request") == []


GRANT = {"t": "ip-request-resp", "dest": HOME, "ipaddr": PRIMARY_GROUP, "weown": "yes",
         "ok": "OK"}


def c_home_node_takes_without_asking(cluster: Cluster) -> None:
    """A 3.0.6 home node restarts and comes up before it hears the survivor: it finds no
    active node and answers its own request (HA_DONTASK); the survivor sees its restart, its
    status, then that grant.  (Its own copy of the group is not modelled: only the survivor's
    half is ours.)"""
    cluster.feed(SURVIVOR, NodeRestarted(HOME, len(cluster.sent) + 1))
    cluster.feed(SURVIVOR, NodeStatusChanged(HOME, "dead", "active", "status"))
    cluster.feed(SURVIVOR, MessageReceived(HOME, "ip-request-resp", GRANT, None))


@pytest.mark.parametrize("steps", TAKEOVER_STEPS)
def test_a_3_0_6_home_node_that_takes_without_asking_is_left_its_group_at_any_instant(steps):
    cluster = settled_legacy_pair()
    cluster.crash(HOME)
    cluster.advance(10_000)
    cluster.detect_death(HOME)
    done = [survivor_step(cluster) for _ in range(steps)]
    held_or_queued = bool(cluster.holders(PRIMARY_GROUP)) or any(
        getattr(op, "key", None) == PRIMARY_GROUP for op in cluster.ops[SURVIVOR])
    c_home_node_takes_without_asking(cluster)
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == [], (done, cluster.log_texts(SURVIVOR))
    assert cluster.holders(BACKUP_GROUP) == [SURVIVOR], done
    said = any("takes resource group 10.0.0.100/24/eth0 without asking" in text
               for text in cluster.log_texts(SURVIVOR))
    assert said or not held_or_queued, (done, cluster.log_texts(SURVIVOR))


def test_the_interop_failure_exactly_the_survivor_holds_when_the_home_node_takes():
    """The CI log: ours had started the group (the address was up) when the C node came up
    without having heard us; before the fix the group stayed on both (and the test saw it on
    ours alone once the C node's copy was gone)."""
    cluster = settled_legacy_pair()
    cluster.crash(HOME)
    cluster.advance(10_000)
    cluster.detect_death(HOME)
    while cluster.ops[SURVIVOR]:
        cluster.complete(SURVIVOR)
    assert cluster.holders(PRIMARY_GROUP) == [SURVIVOR]
    c_home_node_takes_without_asking(cluster)
    assert [type(op).__name__ for op in cluster.ops[SURVIVOR]] == ["StopGroup"]
    cluster.complete(SURVIVOR)
    assert cluster.holders(PRIMARY_GROUP) == []


@pytest.mark.parametrize("hears_survivor_first", [True, False])
def test_a_restart_before_the_death_is_detected_leaves_each_group_home(hears_survivor_first):
    crash_then_restart_during_takeover(0, hears_survivor_first=hears_survivor_first,
                                       detected=False)


def test_with_auto_failback_on_a_self_addressed_grant_releases_nothing():
    """nice_failback (on/off): a peer sends ip-request-resp to itself for every group it takes
    (req_resource with HA_NICEFAILBACK), and only after the starting/resource handshake;
    the hand-over rules there are the standby protocol's, so the message moves nothing."""
    cluster = Cluster("on")
    cluster.start_both()
    cluster.settle()
    cluster.crash(HOME)
    cluster.advance(10_000)
    cluster.detect_death(HOME)
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == [SURVIVOR]
    grant = {"t": "ip-request-resp", "dest": HOME, "ipaddr": PRIMARY_GROUP, "weown": "yes",
             "ok": "OK"}
    actions = cluster.feed(SURVIVOR, MessageReceived(HOME, "ip-request-resp", grant, None))
    assert cluster.ops[SURVIVOR] == [] and cluster.holders(PRIMARY_GROUP) == [SURVIVOR], actions


def test_a_home_node_waiting_for_the_survivors_status_still_asks_if_the_survivor_restarts():
    """While it waits, the survivor's restart is heard (a new generation, status not yet):
    that is no reason to take without asking; the status that follows decides."""
    cluster = taken_over_pair()
    home_comes_up_without_the_survivors_status(cluster)
    cluster.feed(HOME, NodeRestarted(SURVIVOR, 99))
    assert cluster.ops[HOME] == [] and sent_since_restart(cluster, "ip-request-resp") == []
    cluster.feed(HOME, NodeStatusChanged(SURVIVOR, "init", "active", "status"))
    cluster.feed(SURVIVOR, NodeStatusChanged(HOME, "dead", "active", "status"))
    cluster.settle()
    assert sent_since_restart(cluster, "ip-request") == [{"t": "ip-request",
                                                          "ipaddr": PRIMARY_GROUP}]
    assert cluster.holders(PRIMARY_GROUP) == [HOME]
    assert cluster.holders(BACKUP_GROUP) == [SURVIVOR]
