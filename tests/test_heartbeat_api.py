"""The client API core (``lvs_compat.heartbeat.api``) without sockets: frames, sign-on checks,
requests and the delivery rules of CLIENT-API.md, driven directly (the byte-for-byte replay of
the captured sessions is ``test_heartbeat_api_capture.py``)."""

from __future__ import annotations

import pytest

from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.heartbeat import api, wire

# CLIENT-API §1.2: the complete `cl_status hbstatus` exchange (B02)
SIGNON = (b"N\x00\x00\x00\xcd\xab\x00\x00>>>\nt=hbapi-req\nreqtype=signon\ndest=n1\npid=373\n"
          b"from_id=373\nuid=0\ngid=109\n<<<\n\x00")
SIGNON_REPLY = (b"\xb3\x00\x00\x00\xcd\xab\x00\x00>>>\nt=hbapi-resp\nreqtype=signon\n"
                b"result=OK\ndeadtime=1388\nkeepalive=3e8\nnode=n1\nhbversion=3.0.6 (node: "
                b"958e11be8686759f1b99204c17812f2c2633b169)\npacemaker=false\n"
                b"logfacility=-1\n<<<\n\x00")
SIGNOFF = (b"A\x00\x00\x00\xcd\xab\x00\x00>>>\nt=hbapi-req\nreqtype=signoff\ndest=n1\npid=373\n"
           b"from_id=373\n<<<\n\x00")
# §2: the first nodelist reply with `msgfmt netstring` (J01)
NETSTRING_NODELIST = (b"{\x00\x00\x00\xcd\xab\x00\x00###\n15:(0)t=hbapi-resp,"
                      b"19:(0)reqtype=nodelist,10:(0)node=n1,18:(0)nodetype=normal,"
                      b"12:(0)st=active,17:(0)result=ok/more,%%%\n")

HACLIENT, HACLUSTER = 109, 105
VIEW = api.ClusterView(
    "n1", (api.NodeInfo("10.99.0.1", "ping", "ping", (("10.99.0.1", "up"),)),
           api.NodeInfo("n1", "normal", "active", (("eth0", "up"),), uuid=b"u" * 16),
           api.NodeInfo("n2", "normal", "active", (("eth0", "up"),))),
    5000, 1000, "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)",
    {"pacemaker": "false", "keepalive": "1"}, "all")


def rules(apiauth=()):
    return api.authorization_rules(apiauth, False, {"root": 0, "hacluster": HACLUSTER}.get,
                                   {"haclient": HACLIENT}.get)


def request(reqtype, pid=373, from_id=None, **fields):
    return wire.encode_unsigned(wire.Message.from_pairs(
        (("t", "hbapi-req"), ("reqtype", reqtype), ("dest", "n1"), ("pid", str(pid)),
         ("from_id", from_id or str(pid)), *fields.items())), wire.CLASSIC)


def signon(server, connection, pid=373, uid=0, gid=HACLIENT, from_id=None, cred=None):
    server.connected(connection, cred or api.PeerCred(pid, uid, gid))
    return server.receive(connection, request("signon", pid, from_id, uid=str(uid),
                                              gid=str(gid)), VIEW)


def delivered(actions, connection=None):
    return [dict((f.name, f.value) for f in a.message) for a in actions
            if isinstance(a, api.Deliver) and connection in (None, a.connection)]


# --- frames ------------------------------------------------------------------------------------

def test_frames_split_anywhere_and_several_per_read_are_reassembled():
    stream = SIGNON + SIGNOFF
    for cut in range(len(stream) + 1):
        reader = api.FrameReader()
        bodies = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert [api.frame(body) for body in bodies] == [SIGNON, SIGNOFF]


def test_a_wrong_magic_or_a_huge_length_is_a_frame_error():
    with pytest.raises(api.FrameError, match="magic"):
        api.FrameReader().feed(b"GET / HTTP/1.0\r\n")
    with pytest.raises(api.FrameError, match="length"):
        api.FrameReader().feed(api.HEADER.pack(api.MAX_BODY + 1, api.HEADMAGIC))


def test_our_sign_on_reply_is_the_c_daemons_bytes():
    server = api.ApiServer("n1", rules())
    server.connected("c", api.PeerCred(373, 0, HACLIENT))
    actions = server.receive("c", api.FrameReader().feed(SIGNON)[0], VIEW)
    assert [api.encode(a.message) for a in actions if isinstance(a, api.Deliver)] == \
        [SIGNON_REPLY]
    assert server.receive("c", api.FrameReader().feed(SIGNOFF)[0], VIEW)[-1] == \
        api.Disconnect("c", "signoff")


def test_with_msgfmt_netstring_replies_are_netstring_without_trailer():
    server = api.ApiServer("n1", rules())
    signon(server, "c")
    replies = [a.message for a in server.receive("c", request("nodelist"), VIEW)
               if isinstance(a, api.Deliver)]
    view_order = [r.get("node") for r in replies]
    assert view_order == ["10.99.0.1", "n1", "n2"]
    assert [r.get("result") for r in replies] == ["ok/more", "ok/more", "OK"]
    assert api.encode(replies[1], "netstring") == NETSTRING_NODELIST


# --- sign-on ----------------------------------------------------------------------------------

@pytest.mark.parametrize("uid, gid, cred, from_id, reason", [
    (0, 0, (373, 0, 0), None, None),                              # root: anon allows uid root
    (65534, HACLIENT, (373, 65534, HACLIENT), None, None),        # cl_status is setgid haclient
    (65534, 65534, (373, 65534, 65534), None, "client failed authorization"),
    (0, HACLIENT, (373, 65534, HACLIENT), None, "incorrect/false credentials"),
    (0, HACLIENT, (999, 0, HACLIENT), None, "pid mismatch"),
    (0, 0, (373, 0, 0), "ping", "client failed authorization"),   # api_test as root, D01
    (0, HACLIENT, (373, 0, HACLIENT), "ping", None),              # api_test, egid haclient
    (0, 0, (373, 0, 0), "dopd", "no default client auth"),        # no apiauth line for dopd
])
def test_sign_on_checks_run_in_the_c_order(uid, gid, cred, from_id, reason):
    server = api.ApiServer("n1", rules())
    actions = signon(server, "c", uid=uid, gid=gid, from_id=from_id, cred=api.PeerCred(*cred))
    reply = [m for m in delivered(actions) if m["t"] == "hbapi-resp"][0]
    if reason is None:
        assert reply["result"] == "OK" and server.client_ids() == {from_id or "373"}
    else:
        assert (reply["result"], reply["info"]) == ("badreq", reason)
        assert reply["deadtime"] == "1388"      # cl_status tells "refused" from "not running"
        assert isinstance(actions[-1], api.Disconnect) and not server.clients
        assert any(isinstance(a, api.Log) and reason in a.text for a in actions)


def test_apiauth_lines_replace_the_defaults_per_client():
    cfg = parse_ha_cf("bcast eth0\nnode n1\napiauth dopd gid=haclient uid=hacluster\n"
                      "apiauth ping uid=root\n")
    server = api.ApiServer("n1", rules(cfg.apiauth))
    assert delivered(signon(server, "a", pid=1, uid=HACLUSTER, gid=HACLUSTER,
                            from_id="dopd"))[-1]["result"] == "OK"
    assert delivered(signon(server, "b", pid=2, uid=0, gid=0, from_id="ping"))[-1][
        "result"] == "OK"


def test_a_second_sign_on_with_the_same_id_is_a_duplicate_with_an_empty_leave_notice():
    server = api.ApiServer("n1", rules())
    signon(server, "first", pid=10, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    actions = signon(server, "second", pid=11, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    reply, notice = delivered(actions, "second")
    assert reply["info"] == "duplicate add request"
    assert (notice["t"], notice["st"], notice["from_id"], notice["to_id"]) == \
        ("hbapi-clstat", "leave", "", "")
    assert server.client_ids() == {"ipfail"}


def test_a_named_client_is_announced_to_the_cluster_before_its_reply():
    server = api.ApiServer("n1", rules())
    actions = signon(server, "c", pid=10, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    kinds = [type(a).__name__ for a in actions if not isinstance(a, api.Log)]
    assert kinds == ["SendToCluster", "Deliver"]
    assert dict(actions[0].fields)["st"] == "join"


@pytest.mark.parametrize("body", [b"not a message", request("nodelist")])
def test_the_first_message_must_be_a_sign_on_ten_wrong_ones_in_a_row_drop_the_client(body):
    server = api.ApiServer("n1", rules())
    server.connected("c", api.PeerCred(1, 0, 0))
    first = server.receive("c", body, VIEW)
    assert [type(a) for a in first] == [api.Log]          # no reply: C keeps the connection
    for _ in range(api.MAX_UNREADABLE - 2):
        assert not any(isinstance(a, api.Disconnect) for a in server.receive("c", body, VIEW))
    last = server.receive("c", body, VIEW)
    assert isinstance(last[-1], api.Disconnect) and "in a row" in last[0].text


def test_a_signed_on_client_may_send_a_few_unreadable_messages_between_good_ones():
    server = api.ApiServer("n1", rules())
    signon(server, "c")
    for _ in range(3):
        for _ in range(api.MAX_UNREADABLE - 1):
            server.receive("c", b"garbage", VIEW)
        assert delivered(server.receive("c", request("numnodes"), VIEW))
    assert server.client_ids() == {"373"}


# --- requests ---------------------------------------------------------------------------------

def test_each_request_gets_its_replies_in_order_and_errors_say_einval():
    server = api.ApiServer("n1", rules())
    signon(server, "c")

    def ask(reqtype, **fields):
        return delivered(server.receive("c", request(reqtype, **fields), VIEW))
    assert ask("nodestatus", node="N2") == [{"t": "hbapi-resp", "reqtype": "nodestatus",
                                             "st": "active", "result": "OK"}]
    assert ask("nodestatus", node="x")[0] | {} == {"t": "hbapi-resp", "reqtype": "nodestatus",
                                                    "result": "badreq", "info": "EINVAL"}
    assert ask("numnodes")[0]["numnodes"] == "2"
    assert ask("iflist", node="10.99.0.1")[0]["ifname"] == "10.99.0.1"
    assert ask("ifstatus", node="n1", ifname="lo")[0]["info"] == "EINVAL"
    assert ask("getparm", pname="crm")[0]["pvalue"] == "false"
    assert "pvalue" not in ask("getparm", pname="node")[0]          # OK without a value
    assert ask("getrsc")[0]["rsc_hold"] == "all"
    assert ask("getuuid", queryname="n1")[0]["queryuuid"] == b"u" * 16
    assert ask("setsignal", signal="9")[0]["info"] == "EINVAL"
    assert ask("setfilter", fmask="3f")[0]["result"] == "OK"        # root may debug
    assert ask("bogus") == [{"t": "hbapi-resp", "reqtype": "bogus", "result": "badreq"}]
    assert ask("set_sendqlen", sendqlen="128") == []                # no reply
    assert ask("signon", uid="0", gid="0")[0]["result"] == "badreq"  # only the first


def test_a_non_root_client_may_not_set_debug_filters():
    server = api.ApiServer("n1", rules(), daemon_uid=0)
    signon(server, "c", pid=5, uid=65534, gid=HACLIENT)
    reply, = delivered(server.receive("c", request("setfilter", pid=5, fmask="f"), VIEW))
    assert reply["info"] == "EPERM"


def test_clientstatus_is_answered_locally_and_asks_an_active_remote_node():
    server = api.ApiServer("n1", rules())
    signon(server, "ipf", pid=10, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    signon(server, "c")
    reply, = delivered(server.receive("c", request("clientstatus", node="n1", cn="ipfail"),
                                      VIEW))
    assert (reply["subt"], reply["cs"]) == ("respond-cstatus", "online")
    actions = server.receive("ipf", request("clientstatus", pid=10, from_id="ipfail",
                                            node="n2", cn="ipfail"), VIEW)
    assert delivered(actions) == []                      # the answer comes from n2
    assert dict(actions[0].fields) == {"t": "query-cstatus", "dest": "n2", "cn": "ipfail",
                                       "from_id": "ipfail"}
    # n2's answer is delivered by to_id
    answer = wire.Message.from_pairs((("t", "respond-cstatus"), ("dest", "n1"),
                                      ("cn", "ipfail"), ("to_id", "ipfail"), ("cs", "online"),
                                      ("src", "n2")))
    assert [a.connection for a in server.cluster_message(answer, VIEW)] == ["ipf"]


def test_a_query_from_a_peer_is_answered_with_respond_cstatus():
    server = api.ApiServer("n1", rules())
    signon(server, "ipf", pid=10, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    query = wire.Message.from_pairs((("t", "query-cstatus"), ("dest", "n1"), ("cn", "ipfail"),
                                     ("from_id", "ipfail"), ("src", "n2")))
    action, = server.cluster_message(query, VIEW)
    assert dict(action.fields) == {"t": "respond-cstatus", "dest": "n2", "result": "OK",
                                   "cn": "ipfail", "to_id": "ipfail", "cs": "online"}


def test_named_clients_send_cluster_messages_casual_ones_are_dropped():
    server = api.ApiServer("n1", rules())
    signon(server, "ipf", pid=10, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    signon(server, "c")
    message = wire.encode_unsigned(wire.Message.from_pairs(
        (("t", "num_ping_nodes"), ("num_ping", "1"), ("dest", "n2"), ("to_id", "evil"))),
        wire.CLASSIC)
    action, = server.receive("ipf", message, VIEW)
    assert dict(action.fields)["to_id"] == dict(action.fields)["from_id"] == "ipfail"
    actions = server.receive("c", message, VIEW)
    assert isinstance(actions[-1], api.Disconnect) and "casual" in actions[0].text


def test_delivery_follows_the_filter_mask_and_to_id():
    server = api.ApiServer("n1", rules())
    signon(server, "ipf", pid=10, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    signon(server, "c")
    status = wire.Message.from_pairs((("t", "status"), ("src", "n2"), ("st", "dead")))
    assert {a.connection for a in server.cluster_message(status, VIEW)} == {"ipf", "c"}
    assert server.deliver(status, api.NOCHANGE) == []
    private = status.with_field("to_id", "ipfail")
    assert [a.connection for a in server.deliver(private)] == ["ipf"]


def test_ping_node_changes_reach_clients_as_in_the_ipfail_capture():
    """LAB E01-ipfail.decoded.txt: the ping address removed (20:32:37) and re-added
    (20:32:41); the returning node is first declared dead once more (§9 item 9)."""
    wall = 0x6B15C665
    assert api.ping_node_messages("10.99.0.1", "ping", "dead", wall) == [
        (("t", "status"), ("seq", "1"), ("ts", "6b15c665"), ("src", "10.99.0.1"),
         ("st", "dead"), ("info", "ping")),
        (("t", "ifstat"), ("node", "10.99.0.1"), ("ifname", "10.99.0.1"), ("st", "dead"))]
    assert api.ping_node_messages("10.99.0.1", "dead", "ping", wall + 4) == [
        (("t", "ifstat"), ("node", "10.99.0.1"), ("ifname", "10.99.0.1"), ("st", "up")),
        (("t", "status"), ("seq", "1"), ("ts", "6b15c669"), ("src", "10.99.0.1"),
         ("st", "dead"), ("info", "ping")),
        (("t", "NS_st"), ("st", "ping"), ("info", "ping"), ("src", "10.99.0.1"),
         ("ts", "6b15c669"))]
    # first heard (no earlier death): no extra dead
    assert [dict(m)["t"] for m in api.ping_node_messages("10.99.0.1", None, "ping", wall)] \
        == ["ifstat", "NS_st"]


def test_a_named_client_that_goes_away_is_announced_as_leaving():
    server = api.ApiServer("n1", rules())
    signon(server, "ipf", pid=10, uid=HACLUSTER, gid=HACLIENT, from_id="ipfail")
    action, = server.disconnected("ipf", "EOF")
    assert dict(action.fields)["st"] == "leave" and dict(action.fields)["info"] == "EOF"
    assert server.disconnected("ipf") == []


def test_recorded_parameters_are_the_texts_of_ha_cf_and_3_0_6s_computed_values():
    cfg = parse_ha_cf("keepalive 1\ndeadtime 5\nbcast eth0\nnode n1\nauto_failback on\n"
                      "crm off\n")
    values = api.recorded_parameters(cfg)
    assert {k: values[k] for k in ("keepalive", "deadtime", "initdead", "warntime", "deadping",
                                   "udpport", "cluster", "pacemaker", "msgfmt", "debug",
                                   "hbversion")} == {
        "keepalive": "1", "deadtime": "5", "initdead": "12000ms", "warntime": "2500ms",
        "deadping": "5000ms", "udpport": "694", "cluster": "linux-ha", "pacemaker": "off",
        "msgfmt": "classic", "debug": "0", "hbversion": "3.0.6"}
    assert "node" not in values and "apiauth" not in values


def test_mutated_requests_never_raise_out_of_the_core():
    """Whatever a client sends, the core answers with actions: a bug must not reach the
    daemon's loop (2,000 byte-level mutations of real requests, fixed seed)."""
    import random
    rng = random.Random(16)
    seeds = [request(reqtype, **fields) for reqtype, fields in (
        ("nodelist", {}), ("iflist", {"node": "n1"}), ("getparm", {"pname": "keepalive"}),
        ("setfilter", {"fmask": "1"}), ("clientstatus", {"node": "n2", "cn": "x"}),
        ("getnodename", {}), ("setsignal", {"signal": "0"}))]
    for _ in range(2000):
        server = api.ApiServer("n1", rules())
        signon(server, "c")
        data = bytearray(rng.choice(seeds)[api.HEADER.size:])     # the body, framed again
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[position] = rng.randrange(256)
            elif choice < 0.75:
                del data[position]
            else:
                data.insert(position, rng.choice(b"=\n\0()<>#%:,1"))
        body, = api.FrameReader().feed(api.frame(bytes(data)))
        for _ in range(2):
            actions = server.receive("c", body, VIEW)
            assert all(isinstance(a, (api.Deliver, api.Disconnect, api.SendToCluster,
                                      api.SetSendQueue, api.Log)) for a in actions)
