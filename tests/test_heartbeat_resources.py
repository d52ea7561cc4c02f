"""Operator stories for the v1 resource coordinator (SPEC §1e), on a fake clock.

One coordinator is driven by hand with the peer's messages as a C 3.0.6 node sends them (the
lab captures, see test_heartbeat_resources_capture.py), or two of ours talk through the fake
bus of ``resource_cluster``, which asserts after every step that no group is held twice.
"""

from __future__ import annotations

import pytest

from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.heartbeat.membership import (Log, MessageReceived, NodeRestarted,
                                             NodeStatusChanged, PartitionHealed)
from lvs_compat.heartbeat.resources import (CoordinatorOptions, GroupStarted, GroupStopped,
                                            PingNodeStatus, QueryGroupStatus, RebootNode,
                                            ReannounceAddresses, ResourceCoordinator,
                                            ResourceStateChanged, Send,
                                            ShutdownComplete, ShutdownRequest, StandbyRequest,
                                            StartGroup, StatusResult, StopGroup,
                                            TakeoverRequest, Tick)
from resource_cluster import BACKUP_GROUP, HA_CF, HARESOURCES, PRIMARY_GROUP, Cluster

VIP = "10.250.0.100/24/hbAeth0/10.250.0.255"
LAB_HARESOURCES = f"hbanode1 {VIP} hbAprobe::first::second\n"


def coordinator(node="hbanode2", mode="on", haresources=LAB_HARESOURCES, **options):
    return ResourceCoordinator(parse_ha_cf(HA_CF.format(mode=mode)),
                               parse_haresources(haresources), node,
                               CoordinatorOptions(**options))


def received(kind, **fields):
    peer = fields.pop("src", "hbanode1")
    return MessageReceived(peer, kind, {"t": kind, **fields}, None)


def resource(rsc_hold, isstable, info=None, src="hbanode1"):
    fields = {"rsc_hold": rsc_hold, "rtype": "full", "isstable": isstable}
    if info:
        fields["info"] = info
    return received("resource", src=src, **fields)


def sent(actions):
    return [dict(a.fields) for a in actions if isinstance(a, Send)]


def logs(actions):
    return [a.text for a in actions if isinstance(a, Log)]


def msg(kind, **fields):
    return {"t": kind, **fields}


def held(rsc, stable, info=None):
    fields = msg("resource", rsc_hold=rsc, rtype="full", isstable=stable)
    if info:
        fields["info"] = info
    return fields


def stable_pair_member(node="hbanode2", mode="on", haresources=LAB_HARESOURCES, **options):
    """A node that came up with its peer alive and is stable (the lab's first 11 s)."""
    c = coordinator(node, mode, haresources, **options)
    peer = "hbanode1" if node == "hbanode2" else "hbanode2"
    c.handle(NodeStatusChanged(peer, "init", "active", "status"), 0)
    c.handle(NodeStatusChanged(node, "up", "active", "comm up"), 500)
    if mode == "legacy":
        return c
    c.handle(received("starting", src=peer), 510)
    c.handle(resource("none", "0", src=peer), 520)
    for action in c.handle(Tick(), 10_520):
        if isinstance(action, StartGroup):
            c.handle(GroupStarted(action.key, True), 10_600)
    c.handle(resource("local", "1", src=peer), 10_700)
    assert c.resource_status == "local"
    return c


def test_backup_takes_over_groups_when_primary_dies():
    backup = stable_pair_member("hbanode2")
    actions = backup.handle(NodeStatusChanged("hbanode1", "active", "dead", "deadtime"),
                            29_500)
    assert sent(actions) == [
        msg("stonith", node="hbanode1", result="n_stnth"),
        held("all", "1", "req_our_resources()")]
    assert StartGroup(VIP) in actions
    assert logs(actions)[:3] == ["No STONITH device configured.",
                                 "Shared disks are not protected.",
                                 "Resources being acquired from hbanode1."]
    assert backup.resource_status == "transition"
    actions = backup.handle(GroupStarted(VIP, True), 30_000)
    assert sent(actions) == [msg("resource", rsc_hold="foreign", info="mach_down")]
    assert "mach_down takeover complete." in logs(actions)
    assert ResourceStateChanged("transition", "all") in actions
    assert backup.held_groups == (VIP,)


def test_shutdone_hands_over_at_once():
    backup = stable_pair_member("hbanode2")
    assert sent(backup.handle(resource("none", "0", "shutdown"), 45_802)) == []
    actions = backup.handle(NodeStatusChanged("hbanode1", "active", "dead", "shutdown"),
                            45_942)
    assert StartGroup(VIP) in actions             # no deadtime wait, no STONITH
    assert not any(m["t"] == "stonith" for m in sent(actions))
    # full run, hbanode2 at 46.07 s: req_our_resources(), done, then the held set
    assert sent(actions) == [held("all", "1", "req_our_resources()"),
                             msg("ask_resources", rsc_hold="all", info="done"),
                             held("all", "1")]
    assert sent(backup.handle(GroupStarted(VIP, True), 46_300)) == [
        msg("resource", rsc_hold="foreign", info="mach_down")]
    assert backup.resource_status == "all"


def test_auto_failback_on_returns_groups_with_the_three_phase_exchange():
    """The lab's step 3 (full run, 36.0-38.5 s), both sides, message for message."""
    survivor = stable_pair_member("hbanode2")
    survivor.handle(NodeStatusChanged("hbanode1", "active", "dead", "deadtime"), 29_500)
    survivor.handle(GroupStarted(VIP, True), 29_800)
    returner = coordinator("hbanode1")
    returner.handle(NodeStatusChanged("hbanode2", "init", "active", "status"), 35_010)
    survivor.handle(NodeRestarted("hbanode1", 2), 35_010)
    survivor.handle(NodeStatusChanged("hbanode1", "dead", "active", "status"), 35_900)
    wire = []                                     # (sender, message) in the order sent
    queues = {"hbanode1": [], "hbanode2": []}     # not yet delivered, per sender
    ops = []

    def step(node, event):
        actions = node.handle(event, 36_000)
        for message in sent(actions):
            wire.append((node.local_node, message))
            queues[node.local_node].append(message)
        for action in actions:
            if isinstance(action, (StartGroup, StopGroup)):
                # the returner starts only after the survivor's "done"; the survivor's
                # "done" only follows its stop
                dones = [m for n, m in wire if m.get("info") == "done"]
                assert dones == [] if isinstance(action, StopGroup) else len(dones) == 1
                ops.append((node, action))

    step(returner, NodeStatusChanged("hbanode1", "up", "active", "comm up"))
    for _ in range(40):                           # deliver in order, operations succeed
        if ops:
            node, op = ops.pop(0)
            step(node, GroupStarted(op.key, True) if isinstance(op, StartGroup)
                 else GroupStopped(op.key, True))
        elif queues["hbanode1"] or queues["hbanode2"]:
            name = "hbanode1" if queues["hbanode1"] else "hbanode2"
            message = queues[name].pop(0)
            step(survivor if name == "hbanode1" else returner,
                 MessageReceived(name, message["t"], message, None))
    by_survivor = [m for n, m in wire if n == "hbanode2"]
    by_returner = [m for n, m in wire if n == "hbanode1"]
    assert by_survivor == [held("all", "1"), held("all", "1"),
                           msg("ask_resources", rsc_hold="foreign", info="me"),
                           held("local", "0", "standby"),
                           msg("ask_resources", rsc_hold="foreign", info="done"),
                           held("local", "1"), held("local", "1")]
    assert by_returner == [msg("starting"), held("none", "0"), held("none", "1"),
                           msg("ask_resources", rsc_hold="foreign", info="other"),
                           msg("ask_resources", rsc_hold="foreign", info="done"),
                           held("local", "1"), held("local", "1")]
    assert survivor.held_groups == () and returner.held_groups == (VIP,)
    assert survivor.resource_status == returner.resource_status == "local"


def test_stop_comes_before_done_and_start_after_it_in_the_standby_exchange():
    cluster = Cluster("on")
    cluster.start_both()
    cluster.settle()
    cluster.feed("hbanode1", StandbyRequest("local"))
    for _ in range(4):                            # me, other, standby + stop
        cluster.deliver("hbanode1")
        cluster.deliver("hbanode2")
    assert [type(op) for op in cluster.ops["hbanode1"]] == [StopGroup]
    assert not any(m.get("info") == "done" for m in cluster.messages("hbanode1"))
    assert cluster.ops["hbanode2"] == []          # nobody starts what is still stopping
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == ["hbanode2"]


def test_auto_failback_off_keeps_groups_where_they_are():
    survivor = stable_pair_member("hbanode2", mode="off")
    survivor.handle(NodeStatusChanged("hbanode1", "active", "dead", "deadtime"), 29_500)
    survivor.handle(GroupStarted(VIP, True), 29_800)
    assert sent(survivor.handle(NodeRestarted("hbanode1", 2), 31_358)) == []
    assert sent(survivor.handle(received("starting"), 32_864)) == [held("all", "1")]
    survivor.handle(resource("none", "0"), 33_357)
    actions = survivor.handle(resource("none", "1"), 33_358)
    assert sent(actions) == [held("all", "1")]    # failback-off run, seq 33: and nothing else
    assert survivor.handle(Tick(), 63_358) == []
    assert survivor.held_groups == (VIP,)
    cluster = Cluster("off")
    cluster.start_both()
    cluster.settle()
    cluster.crash("hbanode1")
    cluster.detect_death("hbanode1")
    cluster.settle()
    cluster.start("hbanode1")
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == ["hbanode2"]
    assert cluster.nodes["hbanode1"].resource_status == "none"


def test_legacy_failback_uses_ip_request_and_refuses_standby():
    holder = stable_pair_member("hbanode2", mode="legacy")
    holder.handle(NodeStatusChanged("hbanode1", "active", "dead", "deadtime"), 17_000)
    holder.handle(GroupStarted(VIP, True), 17_300)
    assert holder.held_groups == (VIP,)
    # the primary returns and asks for its group (failback-legacy run, 21.9 s)
    actions = holder.handle(received("ip-request", ipaddr=VIP), 21_935)
    assert actions[0] == StopGroup(VIP) and sent(actions) == []
    actions = holder.handle(GroupStopped(VIP, True), 22_380)
    assert sent(actions) == [msg("ip-request-resp", dest="hbanode1", ipaddr=VIP, weown="yes",
                                 ok="OK")]
    actions = holder.handle(StandbyRequest("all"), 23_000)
    assert "Standby mode only implemented when nice_failback on" in logs(actions)
    assert sent(actions) == []

    returner = coordinator("hbanode1", mode="legacy")
    returner.handle(NodeStatusChanged("hbanode2", "init", "active", "status"), 20_300)
    actions = returner.handle(NodeStatusChanged("hbanode1", "up", "active", "comm up"), 21_900)
    assert sent(actions) == [msg("ip-request", ipaddr=VIP)]          # no starting/resource
    assert not any(isinstance(a, StartGroup) for a in actions)
    actions = returner.handle(received("ip-request-resp", src="hbanode2", dest="hbanode1",
                                       ipaddr=VIP, weown="yes", ok="OK"), 22_382)
    assert StartGroup(VIP) in actions
    cluster = Cluster("legacy")
    cluster.start_both()
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == ["hbanode1"]
    assert cluster.holders(BACKUP_GROUP) == ["hbanode2"]


def test_failed_start_releases_the_group_and_hands_it_over_after_the_delay():
    cluster = Cluster("on", options=CoordinatorOptions(failed_start_handover_ms=30_000))
    cluster.start_both()
    cluster.deliver_all()                            # both starting, neither stable
    cluster.advance(10_000)                          # RQSTDELAY: both take their local group
    cluster.deliver_all()
    start = next(op for op in cluster.ops["hbanode1"] if isinstance(op, StartGroup))
    cluster.complete("hbanode1", cluster.ops["hbanode1"].index(start), ok=False)
    assert "Giving up resources due to failure of lvs" in cluster.log_texts("hbanode1")
    assert cluster.ops["hbanode1"][-1] == StopGroup(PRIMARY_GROUP)   # released at once
    for node in ("hbanode1", "hbanode2"):
        while cluster.ops[node]:
            cluster.complete(node)
    cluster.deliver_all()
    assert cluster.holders(PRIMARY_GROUP) == []
    cluster.advance(29_000)
    assert cluster.messages("hbanode1", "ask_resources") == []
    cluster.advance(1_000)
    assert cluster.messages("hbanode1", "ask_resources") == [
        msg("ask_resources", rsc_hold="local", info="me")]
    cluster.settle()
    assert cluster.holders(PRIMARY_GROUP) == ["hbanode2"]


@pytest.mark.parametrize("when", ["standby", "shutdown"])
def test_failed_stop_never_leaves_both_holding(when):
    cluster = Cluster("on")
    cluster.start_both()
    cluster.settle()
    cluster.stuck_stop.add(("hbanode1", PRIMARY_GROUP))
    cluster.feed("hbanode1", StandbyRequest("local") if when == "standby"
                 else ShutdownRequest())
    for _ in range(200):
        for node in ("hbanode1", "hbanode2"):
            cluster.deliver(node)
        ops = cluster.ops["hbanode1"]
        if ops and isinstance(ops[0], StopGroup) and ops[0].key == PRIMARY_GROUP:
            cluster.complete("hbanode1", ok=False)        # the stop script fails every time
        elif ops:
            cluster.complete("hbanode1")
        elif cluster.ops["hbanode2"]:
            cluster.complete("hbanode2")
        else:
            cluster.advance(1_000)
    texts = cluster.log_texts("hbanode1")
    assert texts.count(f"Retrying failed stop operation [{PRIMARY_GROUP}]") == 10
    assert any("could not be stopped" in text for text in texts)
    assert cluster.holders(PRIMARY_GROUP) == ["hbanode1"]      # still here, and only here
    assert not any(m.get("info") == "done" for m in cluster.messages("hbanode1"))
    assert cluster.messages("hbanode1", "shutdone") == []
    if when == "standby":
        assert held("local", "1", "standby_aborted") in cluster.messages("hbanode1")
        assert cluster.nodes["hbanode2"].standby_state == "not"
    else:
        assert cluster.alive("hbanode1")                      # no ShutdownComplete


def test_failed_stop_can_reboot_like_the_original_when_configured():
    c = stable_pair_member("hbanode1", mode="on", stop_retry_max=0,
                           failed_stop_action="reboot")
    actions = c.handle(ShutdownRequest(), 50_000)
    assert StopGroup(VIP) in actions
    assert c.handle(GroupStopped(VIP, False), 50_100) == [QueryGroupStatus(VIP)]
    actions = c.handle(StatusResult(VIP, True), 50_200)
    assert RebootNode(f"failed stop of resource group {VIP}") in actions
    assert ShutdownComplete() not in actions
    quiet = stable_pair_member("hbanode1", mode="on", stop_retry_max=0)
    quiet.handle(ShutdownRequest(), 50_000)
    quiet.handle(GroupStopped(VIP, False), 50_100)
    actions = quiet.handle(StatusResult(VIP, False), 50_200)     # not running after all
    assert "Machine reboot narrowly avoided!" in logs(actions)
    assert sent(actions)[-1] == msg("shutdone", st="dead")
    assert ShutdownComplete() in actions


def test_split_brain_resolves_to_the_home_node_with_reannounce():
    for mode in ("on", "off", "legacy"):
        cluster = Cluster(mode)
        cluster.start_both()
        cluster.settle()
        cluster.check = lambda: None                 # both will hold: that is split brain
        # the link breaks: each side declares the other dead and takes everything
        for node in ("hbanode1", "hbanode2"):
            cluster.feed(node, NodeStatusChanged("hbanode2" if node == "hbanode1"
                                                 else "hbanode1", "active", "dead",
                                                 "deadtime"))
        cluster.wire["hbanode1"].clear()
        cluster.wire["hbanode2"].clear()
        for node in ("hbanode1", "hbanode2"):
            while cluster.ops[node]:
                cluster.complete(node)
        cluster.wire["hbanode1"].clear()
        cluster.wire["hbanode2"].clear()
        assert cluster.holders(PRIMARY_GROUP) == ["hbanode1", "hbanode2"]
        # the link heals
        cluster.feed("hbanode1", PartitionHealed("hbanode2"))
        cluster.feed("hbanode2", PartitionHealed("hbanode1"))
        assert ("hbanode1", PRIMARY_GROUP) in cluster.reannounced
        assert ("hbanode2", BACKUP_GROUP) in cluster.reannounced
        assert StopGroup(BACKUP_GROUP) in cluster.ops["hbanode1"]
        cluster.settle()
        assert cluster.holders(PRIMARY_GROUP) == ["hbanode1"]
        assert cluster.holders(BACKUP_GROUP) == ["hbanode2"]
        del cluster.check
        cluster.check()
        if mode != "legacy":                          # again once the loser has reported
            assert cluster.reannounced.count(("hbanode1", PRIMARY_GROUP)) == 2


def test_standby_refused_while_in_flux():
    c = coordinator("hbanode2", haresources=HARESOURCES)
    c.handle(NodeStatusChanged("hbanode1", "init", "active", "status"), 0)
    c.handle(NodeStatusChanged("hbanode2", "up", "active", "comm up"), 500)
    c.handle(received("starting"), 510)
    actions = c.handle(StandbyRequest("all"), 600)
    assert "standby message [me] from hbanode2 ignored.  Other side is in flux." in logs(actions)
    assert sent(actions) == []
    assert StartGroup(BACKUP_GROUP) in c.handle(resource("local", "1"), 700)
    actions = c.handle(StandbyRequest("all"), 800)   # our group is still starting
    assert ("standby message [me] from hbanode2 ignored.  local resources in flux."
            in logs(actions))
    c.handle(GroupStarted(BACKUP_GROUP, True), 900)
    c.handle(NodeStatusChanged("hbanode1", "active", "dead", "deadtime"), 20_000)
    actions = c.handle(StandbyRequest("all"), 20_001)
    assert logs(actions)[-1] == ("standby message [me] from hbanode2 ignored.  No other node "
                                 "is active.")
    c.handle(GroupStarted(PRIMARY_GROUP, True), 20_200)
    c.handle(NodeRestarted("hbanode1", 2), 25_000)
    c.handle(NodeStatusChanged("hbanode1", "dead", "active", "status"), 25_000)
    c.handle(received("starting"), 25_100)
    actions = c.handle(resource("none", "1"), 25_200)   # auto-failback starts our standby
    assert msg("ask_resources", rsc_hold="foreign", info="me") in sent(actions)
    actions = c.handle(StandbyRequest("all"), 25_300)
    assert logs(actions)[-1] == ("Standby in progress- new request from hbanode2 ignored "
                                 "[10 seconds left]")
    assert sent(actions) == []
    actions = c.handle(received("ask_resources", rsc_hold="all", info="me"), 25_400)
    assert logs(actions)[-1].startswith("Standby in progress- new request from hbanode1")
    actions = c.handle(Tick(), 35_200)               # no "other" came: STANDBY_INIT_TO_MS
    assert "No reply to standby request.  Standby request cancelled." in logs(actions)
    assert c.held_groups == (PRIMARY_GROUP, BACKUP_GROUP)


def test_hb_takeover_makes_the_peer_go_standby_with_the_mirrored_set():
    c = stable_pair_member("hbanode2")
    assert sent(c.handle(TakeoverRequest("failback"), 12_000)) == [
        msg("hb_takeover", rsc_hold="local")]
    actions = c.handle(received("hb_takeover", rsc_hold="local"), 12_100)
    assert sent(actions) == [msg("ask_resources", rsc_hold="foreign", info="me")]


def test_primary_alone_takes_everything_after_initdead():
    c = coordinator("hbanode1")
    actions = c.handle(NodeStatusChanged("hbanode2", "init", "dead", "deadtime"), 20_000)
    assert sent(actions)[0] == msg("stonith", node="hbanode2", result="n_stnth")
    assert StartGroup(VIP) in actions
    c.handle(GroupStarted(VIP, True), 20_300)
    actions = c.handle(NodeStatusChanged("hbanode1", "up", "active", "comm up"), 20_400)
    assert sent(actions) == [msg("starting")]
    assert c.next_deadline_ms() == 30_400
    actions = c.handle(Tick(), 30_400)
    assert "local resource transition completed." in logs(actions)
    assert c.resource_status == "all"


def test_shutdown_waits_until_stable_then_releases_every_group():
    c = coordinator("hbanode2", haresources=HARESOURCES)
    c.handle(NodeStatusChanged("hbanode1", "init", "active", "status"), 0)
    c.handle(NodeStatusChanged("hbanode2", "up", "active", "comm up"), 500)
    c.handle(received("starting"), 510)
    actions = c.handle(ShutdownRequest(), 600)
    assert logs(actions) == ["Shutdown delayed until current resource activity finishes."]
    c.handle(resource("local", "1"), 700)
    actions = c.handle(GroupStarted(BACKUP_GROUP, True), 800)
    # every group, held or not, in haresources order (each right to left: the executor's)
    assert [a for a in actions if isinstance(a, StopGroup)] == [StopGroup(PRIMARY_GROUP),
                                                                 StopGroup(BACKUP_GROUP)]
    assert held("none", "0", "shutdown") in sent(actions)
    c.handle(GroupStopped(PRIMARY_GROUP, True), 900)
    actions = c.handle(GroupStopped(BACKUP_GROUP, True), 1000)
    assert sent(actions) == [msg("shutdone", st="dead")]
    assert actions[-1] == ShutdownComplete() or ShutdownComplete() in actions


@pytest.mark.parametrize("late", ["unstable report", "starting"])
def test_an_older_message_of_the_peer_arriving_late_does_not_make_it_unstable(late):
    # issue 19 (the simulator, restarts in quick succession): the peer's start-up sends
    # "isstable=0" and "isstable=1" together; the first arrived last (a gap filled late) and
    # left the peer "in flux" for good: auto-failback waited for ever, a shutdown never began
    c = stable_pair_member("hbanode2")
    c.handle(received("resource", rsc_hold="local", rtype="full", isstable="1", hg="2", seq="10"),
             11_000)
    if late == "starting":
        old = received("starting", hg="2", seq="e")
        assert sent(c.handle(old, 11_001)) == [held("local", "1")]    # still answered
    else:
        old = received("resource", rsc_hold="none", rtype="full", isstable="0", hg="2", seq="f")
        assert sent(c.handle(old, 11_001)) == []
    actions = c.handle(ShutdownRequest(), 11_100)
    assert StopGroup(VIP) in actions and held("none", "0", "shutdown") in sent(actions)
    # a newer generation is news whatever its seq (the peer restarted)
    c = stable_pair_member("hbanode2")
    c.handle(received("resource", rsc_hold="local", rtype="full", isstable="1", hg="2", seq="10"),
             11_000)
    c.handle(received("starting", hg="3", seq="5"), 11_001)
    assert logs(c.handle(ShutdownRequest(), 11_100)) == [
        "Shutdown delayed until current resource activity finishes."]


def test_no_failback_offer_for_a_group_the_home_node_reports_holding_the_audit_gives_it_back():
    # issue 19 (the simulator, 5 % loss): each side saw the other dead and took its group.
    # An auto-failback offer held up the audit's repair; the peer refused it (the offer
    # overtook our lost stable report) and the group stayed on both.
    backup = stable_pair_member("hbanode2")
    backup.handle(NodeStatusChanged("hbanode1", "active", "dead", "deadtime"), 29_500)
    backup.handle(GroupStarted(VIP, True), 30_000)
    backup.handle(NodeStatusChanged("hbanode1", "dead", "active", "status"), 31_000)
    backup.handle(received("starting", hg="2", seq="8"), 31_050)
    actions = backup.handle(received("resource", rsc_hold="local", rtype="full", isstable="1",
                                     hg="2", seq="9"), 31_100)
    assert not any(m["t"] == "ask_resources" for m in sent(actions))
    assert StopGroup(VIP) in actions
    assert "hbanode1 holds its own resource groups while we hold them too: giving them " \
        "back" in logs(actions)
    # the peer is stable (its report said so) and has nothing more to say: once the group is
    # stopped we are stable too, not waiting for a report that never comes
    backup.handle(GroupStopped(VIP, True), 31_200)
    assert backup.resource_status == "none" and backup.held_groups == ()


def test_ping_nodes_are_noted_and_move_nothing():
    c = stable_pair_member("hbanode2")
    actions = c.handle(PingNodeStatus("10.0.0.254", "dead"), 12_000)
    assert [type(a) for a in actions] == [Log]
    assert c.ping_node_status == {"10.0.0.254": "dead"}


def test_rscstatus_says_transition_while_groups_move():
    c = stable_pair_member("hbanode2")
    actions = c.handle(NodeStatusChanged("hbanode1", "active", "dead", "deadtime"), 20_000)
    assert ResourceStateChanged("local", "transition") in actions
    assert c.resource_status == "transition"
    c.handle(GroupStarted(VIP, True), 20_500)
    assert c.resource_status == "all"


def test_garbage_from_the_peer_moves_nothing():
    c = stable_pair_member("hbanode2")
    before = c.held_groups
    actions = c.handle(resource("bogus", "1"), 12_000)
    assert "encode_resources: bad resource type [bogus]" in logs(actions)
    actions = c.handle(received("ip-request", ipaddr="no-such-group"), 12_100)
    assert logs(actions) == ["ip-request for unknown resource group [no-such-group]"]
    actions = c.handle(received("ask_resources", rsc_hold="all"), 12_200)
    assert logs(actions) == ["Received standby message without info/from"]
    assert c.handle(received("ip-request-resp", dest="somebody-else", ipaddr=VIP,
                             weown="yes", ok="OK"), 12_300) == []
    assert c.handle(MessageReceived("intruder", "hb_takeover", {"rsc_hold": "all"}, None),
                    12_400) == []
    assert c.held_groups == before and sent(actions) == []


def test_the_state_tables_refuse_what_they_do_not_list():
    from lvs_compat.heartbeat.resources import LocalProtocolError
    c = coordinator("hbanode1")
    with pytest.raises(LocalProtocolError):
        c._to("rqstdelay")                     # INIT has no RQSTDELAY
    with pytest.raises(LocalProtocolError):
        c._standby_to("done from peer")        # not in a standby exchange


def test_three_nodes_and_unknown_local_names_are_refused():
    three = parse_ha_cf(HA_CF.format(mode="on") + "node hbanode3\n")
    with pytest.raises(ValueError, match="two nodes"):
        ResourceCoordinator(three, parse_haresources(LAB_HARESOURCES), "hbanode1")
    with pytest.raises(ValueError, match="not a node"):
        coordinator("hbanode9")
    with pytest.raises(ValueError, match="failed_stop_action"):
        CoordinatorOptions(failed_stop_action="pray")
