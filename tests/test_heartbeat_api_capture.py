"""The client API core (``lvs_compat.heartbeat.api``) fed the requests Debian's C clients sent to
a real heartbeat 3.0.6 (``../shared/reference/heartbeat/client-api-captures``, CLIENT-API.md
§10): for every captured cl_status session, our replies must be the captured replies, **byte for
byte** (frame header, field order, classic NUL or netstring body), given the lab's state (ha.cf,
node and link status, resources).

The captures are strace output with every string hex-escaped; each (pid, fd) is one connection,
``sendto`` the client's bytes and ``recvfrom`` the daemon's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.heartbeat import api, wire

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "heartbeat"
if not REFERENCE.is_dir():   # the shared tree sits beside the checkout
    REFERENCE = Path("/work/shared/reference/heartbeat")
CAPTURES = REFERENCE / "client-api-captures"

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not (CAPTURES / "ha.cf").is_file(),
                                 reason="needs ../shared/reference/heartbeat/client-api-captures")]

C_HBVERSION = "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)"
LAB_UIDS = {"root": 0, "hacluster": 105}   # LAB: ipfail signed on with uid=105 gid=109
LAB_GIDS = {"haclient": 109}
_CALL = re.compile(r'^(\d+)\s+\S+\s+(sendto|recvfrom)\((\d+), "((?:\\x[0-9a-f]{2})*)"')


def streams(path: Path) -> dict[tuple[str, str], tuple[bytes, bytes]]:
    """(pid, fd) -> (client's bytes, daemon's bytes), in order."""
    found: dict[tuple[str, str], list[bytearray]] = {}
    for line in path.read_text().splitlines():
        match = _CALL.match(line)
        if not match:
            continue
        pid, call, fd, escaped = match.groups()
        data = bytes.fromhex(escaped.replace("\\x", ""))
        pair = found.setdefault((pid, fd), [bytearray(), bytearray()])
        pair[0 if call == "sendto" else 1].extend(data)
    return {key: (bytes(a), bytes(b)) for key, (a, b) in found.items()}


def lab_view(phase_j: bool, resources: str) -> tuple[api.ClusterView, str]:
    """The C daemon's state during the captures: n1 alone (active, link lo up), n2 dead,
    ping node 10.99.0.1 alive (phase 1 only)."""
    cfg = parse_ha_cf((CAPTURES / ("ha.cf-phaseJ" if phase_j else "ha.cf")).read_text())
    nodes = [api.NodeInfo("n1", "normal", "active", (("lo", "up"),)),
             api.NodeInfo("n2", "normal", "dead", (("lo", "dead"),))]
    if not phase_j:
        nodes.insert(0, api.NodeInfo("10.99.0.1", "ping", "ping", (("10.99.0.1", "up"),)))
    view = api.ClusterView("n1", tuple(nodes), cfg.deadtime_ms, cfg.keepalive_ms, C_HBVERSION,
                           api.recorded_parameters(cfg), resources)
    return view, cfg.msgfmt


def replies_only(daemon_bytes: bytes) -> bytes:
    """The daemon's frames that answer requests (``t=hbapi-resp``): a casual client also gets
    the cluster messages of its filter (B01: a ``t=resource`` broadcast), not replayed here."""
    return b"".join(api.frame(body) for body in api.FrameReader().feed(daemon_bytes)
                    if wire.decode(body).get("t") == "hbapi-resp")


def replay(client_bytes: bytes, view: api.ClusterView, msgfmt: str,
           named_clients: tuple[str, ...] = ()) -> bytes:
    """Our daemon's answer to the client's byte stream (its credentials are what it claims:
    the captured sign-ons all passed the credentials check), with the named clients that ran
    then (ipfail, dopd) signed on first."""
    cfg = parse_ha_cf((CAPTURES / "ha.cf").read_text())
    server = api.ApiServer("n1", api.authorization_rules(cfg.apiauth, False, LAB_UIDS.get,
                                                         LAB_GIDS.get))
    for index, name in enumerate(named_clients):
        server.connected(name, api.PeerCred(1000 + index, 105, 109))
        server.receive(name, wire.encode_unsigned(wire.Message.from_pairs((
            ("t", "hbapi-req"), ("reqtype", "signon"), ("dest", "n1"),
            ("pid", str(1000 + index)), ("from_id", name), ("uid", "105"), ("gid", "109"))),
            wire.CLASSIC), view)
    assert server.client_ids() == set(named_clients)
    requests = api.FrameReader().feed(client_bytes)
    signon = wire.decode(requests[0])
    cred = api.PeerCred(int(signon.get("pid")), int(signon.get("uid")), int(signon.get("gid")))
    server.connected("conn", cred)
    out = b""
    for body in requests:
        for action in server.receive("conn", body, view):
            if isinstance(action, api.Deliver) and action.connection == "conn":
                out += api.encode(action.message, msgfmt)
    return out


# the named clients running during a capture (E02: ipfail; F02: dopd; J02: the respawned ipfail)
NAMED_CLIENTS = {"E02": ("ipfail",), "F02": ("dopd",), "J02": ("ipfail",)}
# B29b: cl_status gave up after its 100 ms and hung up before the C daemon's reply (§9 item 10)
GAVE_UP = ("B29b",)

# every cl_status session (C05 never connected: the directory refused it, EACCES)
CL_STATUS_CAPTURES = sorted(
    p.name for p in CAPTURES.glob("*.strace-api.txt")
    if (p.name[0] in "BCJS" or p.name[:3] in ("E02", "E04", "F02"))
    and "server-side" not in p.name and p.name[:3] not in ("J00", "C05"))


@pytest.mark.parametrize("name", CL_STATUS_CAPTURES)
def test_cl_status_sessions_get_the_captured_replies_byte_for_byte(name):
    view, msgfmt = lab_view(phase_j=name.startswith("J"),
                            resources="transition" if name.startswith("B01") else "all")
    sessions = streams(CAPTURES / name)
    assert sessions, name
    for key, (client_bytes, daemon_bytes) in sessions.items():
        if not client_bytes:        # cl_status -v's attempt on ccm's socket, refused
            continue
        ours = replay(client_bytes, view, msgfmt, NAMED_CLIENTS.get(name[:3], ()))
        if name.startswith(GAVE_UP):
            assert ours.startswith(replies_only(daemon_bytes)), (name, key)
        else:
            assert ours == replies_only(daemon_bytes), (name, key)


def test_a_refused_sign_on_as_nobody_is_answered_as_3_0_6_does():
    """C03: nobody with haclient only as a supplementary group: "client failed
    authorization", with deadtime etc. (cl_status then says the daemon refuses it)."""
    (client_bytes, daemon_bytes), = [
        pair for pair in streams(next(CAPTURES.glob("C03-*.strace-api.txt"))).values()
        if pair[0]]
    view, msgfmt = lab_view(False, "all")
    assert b"info=client failed authorization\nresult=badreq" in daemon_bytes
    assert replay(client_bytes, view, msgfmt) == daemon_bytes
