"""The heartbeat 3.0.6 client API (``libhbclient``), pure: frames, sign-on checks, requests and
replies, and the delivery of cluster messages to clients (CLIENT-API.md).

No sockets, no clock, no files: the daemon's shell (``apisocket``) hands in the bytes a client
sent, the client's SO_PEERCRED and a ``ClusterView`` (what the daemon knows now: nodes, links,
parameters, resources), and executes the actions it gets back (``Deliver`` a message to a
client, ``Disconnect`` it, ``SendToCluster``, ``Log``).

Theory of operation
-------------------
Transport (CLIENT-API §1.2): every message either way is a clplumbing frame, an 8-byte header
(int32 body length in host order, uint32 magic 0xabcd) and the body; ``FrameReader``
reassembles a stream, ``frame`` builds one.  A wrong magic or a length above MAXMSG is a
``FrameError``: the shell closes that connection with a log line (C: "magic number in head does
not match").  The body is a heartbeat message in classic or netstring framing, read by ``wire``
and written by ``wire.encode_unsigned`` (no auth on the API channel, §2), in the format of
``msgfmt``.

Clients (§1.3, §3.2).  The first message on a connection must be a ``signon``; anything else is
logged ("bad message") and answered with nothing, the connection stays (C does the same).  The
sign-on checks run in C's order and the first failure is the reply's ``info``: bad pid,
duplicate id, invalid id info, credentials (SO_PEERCRED uid/gid == the claimed ones),
``apiauth`` (casual clients use ``anon``, named ones their own entry, there is no ``default``),
pid mismatch.  A client is *casual* iff ``atoi(from_id) == pid``.  A named client's join is
announced to the cluster (``hbapi-clstat``) before its reply, so its own copy (the daemon's
loop-back) reaches it first; a failed named sign-on gets a ``leave`` notice after the reply.

Requests (§3.1): exactly one reply per request, in order (the library pairs them by arrival),
several for ``nodelist``/``iflist``, none for ``signoff`` and ``set_sendqlen``.  ``result`` comes
after the handler's fields and ``info`` after ``result``; the sign-on reply puts ``info`` first.
Unknown parameters and names get ``result=OK`` without the value (§9 item 7).

Delivery (§4.1): a cluster message goes to every signed-on client whose filter mask has its
treatment bit (KEEPIT for ordinary ones), or, if it has ``to_id``, only to the first client with
that id.  Messages from named clients go to the cluster with ``from_id``/``to_id`` forced to the
client's id; a casual client that sends one is dropped.  ``query-cstatus`` addressed to us is
answered with ``respond-cstatus`` (C: HBDoMsg_T_QCSTATUS).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Mapping

from . import wire
from .events import Log

HEADER = struct.Struct("=iI")   # SOCKET_MSG_HEAD: msg_len (int32), magic (uint32), host order
HEADMAGIC = 0xABCD
MAX_BODY = wire.MAXMSG
CLIENT_ID_MAX = 31             # C truncates client ids to 31 characters
DEFAULT_SEND_QUEUE = 64        # glue:ipc.h DEFAULT_MAX_QLEN
MAX_UNREADABLE = 10            # consecutive undecodable messages before "noinput"

# treatment bits of a message (hb_api_core.h)
KEEPIT, NOCHANGE, DROPIT, DUPLICATE, APICALL, PROTOCOL = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
ALL_TREATMENTS = 0x3F

# apiauth entries of 3.0.6 when ha.cf has none for the id (config.c:700-707, 855-867)
DEFAULT_APIAUTH = (("ipfail", ("hacluster",), ()), ("ccm", ("hacluster",), ()),
                   ("ping", (), ("haclient",)), ("lha-snmpagent", ("root",), ()),
                   ("anon", ("root",), ("haclient",)))
PACEMAKER_APIAUTH = (("cib", ("hacluster",), ()), ("crmd", ("hacluster",), ()),
                     ("attrd", ("hacluster",), ()), ("stonithd", ("root",), ()),
                     ("stonith-ng", ("root",), ()), ("pingd", ("root",), ()))

# ha.cf directives whose value the daemon records for getparm (config.c Directives[],
# record_value TRUE), as written; the computed ones are added by ``recorded_parameters``
RECORDED_DIRECTIVES = frozenset((
    "cluster", "hopfudge", "keepalive", "deadtime", "deadping", "initdead", "warntime",
    "watchdog", "baud", "udpport", "logfacility", "logfile", "debugfile", "auto_failback",
    "rtprio", "hbgenmethod", "realtime", "debug", "msgfmt", "use_logd", "conn_logd_time",
    "log_badpack", "syslogmsgfmt", "coredumps", "coreroot", "crm_daemon_dir",
    "crmd_spawns_pengine", "pacemaker", "autojoin", "uuidfrom", "compression",
    "compression_threshold", "traditional_compression", "max_rexmit_delay",
    "record_config_changes", "record_pengine_inputs", "enable_config_writes", "memreserve",
    "quorum_server"))


class FrameError(ValueError):
    """A stream that is not clplumbing frames; ``str()`` says why in a few words."""


def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body), HEADMAGIC) + body


class FrameReader:
    """Reassembles clplumbing frames from a byte stream (several per read, or one split)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        bodies = []
        while len(self._buffer) >= HEADER.size:
            length, magic = HEADER.unpack_from(self._buffer)
            if magic != HEADMAGIC:
                raise FrameError("magic number in head does not match")
            if not 0 <= length <= MAX_BODY:
                raise FrameError(f"corrupt message length {length}")
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            bodies.append(bytes(self._buffer[HEADER.size:end]))
            del self._buffer[:end]
        return bodies


def encode(message: wire.Message, msgfmt: str = wire.CLASSIC) -> bytes:
    """One framed message in the daemon's ``msgfmt``; netstring whenever a value needs it."""
    framing = wire.NETSTRING if msgfmt == "netstring" else wire.CLASSIC
    return frame(wire.encode_unsigned(message, framing))


# --- what the daemon knows, as the API sees it ---------------------------------------------------

@dataclass(frozen=True)
class NodeInfo:
    name: str
    type: str                                   # normal | ping
    status: str                                 # init | up | active | dead | ping
    links: tuple[tuple[str, str], ...] = ()     # (medium name, up | dead); ping: itself
    weight: int = 100
    site: str = ""
    uuid: bytes | None = None


@dataclass(frozen=True)
class ClusterView:
    local: str
    nodes: tuple[NodeInfo, ...]                 # in ha.cf order (node and ping lines)
    deadtime_ms: int
    keepalive_ms: int
    hbversion: str                              # the sign-on reply's
    parameters: Mapping[str, str] = field(default_factory=dict)
    resources: str = "none"                     # rsc_hold: none | local | foreign | all | transition
    logfacility: int = -1

    def node(self, name: str | None) -> NodeInfo | None:
        if name is None:
            return None
        wanted = name.lower()
        return next((n for n in self.nodes if n.name == wanted), None)


@dataclass(frozen=True)
class PeerCred:
    pid: int
    uid: int
    gid: int


@dataclass(frozen=True)
class AuthRule:
    uids: frozenset[int]
    gids: frozenset[int]

    def allows(self, uid: int, gid: int) -> bool:
        return uid in self.uids or gid in self.gids


def authorization_rules(apiauth, pacemaker: bool, uid_of: Callable[[str], int | None],
                        gid_of: Callable[[str], int | None]) -> dict[str, AuthRule]:
    """Client id -> rule: ha.cf's ``apiauth`` lines (``config.hacf.ApiAuth``), then 3.0.6's
    defaults for the ids they leave out.  Names are resolved by ``uid_of``/``gid_of`` (numbers
    are taken as they are; an unknown name matches nobody, C: it is skipped)."""
    def ids(names, resolve):
        out = set()
        for name in names:
            number = int(name) if name.isdigit() else resolve(name)
            if number is not None:
                out.add(number)
        return frozenset(out)
    rules = {entry.client: AuthRule(ids(entry.uids, uid_of), ids(entry.gids, gid_of))
             for entry in apiauth}
    for client, users, groups in DEFAULT_APIAUTH + (PACEMAKER_APIAUTH if pacemaker else ()):
        rules.setdefault(client, AuthRule(ids(users, uid_of), ids(groups, gid_of)))
    return rules


def recorded_parameters(cfg, debug_level: int = 0) -> dict[str, str]:
    """What ``getparm`` answers: every recorded directive's text as written (a list directive
    keeps its last token), the built-in defaults' texts, and the values C computes
    (config.c init_config).  ``crm`` is the historical alias of ``pacemaker``."""
    from ..config.hacf_defaults import HA_CF_DEFAULTS
    values: dict[str, str] = {}
    for directive in cfg.directives:
        name = "pacemaker" if directive.name == "crm" else directive.name
        if name in RECORDED_DIRECTIVES and directive.args:
            values[name] = directive.args[-1]
    for name, text, _ in HA_CF_DEFAULTS:
        values.setdefault(name, text)
    values.setdefault("debug", str(debug_level))
    values.setdefault("warntime", f"{cfg.warntime_ms}ms")
    values.setdefault("initdead", f"{cfg.initdead_ms}ms")
    values.setdefault("deadping", f"{cfg.deadping_ms}ms")
    values.setdefault("udpport", str(cfg.udp_port))
    if cfg.logfacility not in (None, "none"):
        values.setdefault("logfile", "/dev/null")
        values.setdefault("debugfile", "/dev/null")
    values["hbversion"] = "3.0.6"
    return values


# --- actions ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deliver:
    connection: object
    message: wire.Message


@dataclass(frozen=True)
class Disconnect:
    connection: object
    reason: str


@dataclass(frozen=True)
class SendToCluster:
    """A cluster message (fields in order) to send, and to process locally (the daemon's
    loop-back hands it to ``cluster_message`` again)."""
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SetSendQueue:
    connection: object
    length: int


# --- the server ------------------------------------------------------------------------------------

@dataclass
class Client:
    connection: object
    cred: PeerCred
    id: str | None = None             # None until signed on
    pid: int = 0
    casual: bool = True
    fmask: int = KEEPIT
    signal: int = 0
    unreadable: int = 0

    @property
    def describe(self) -> str:
        return f"client {self.id or '?'} (pid {self.pid or self.cred.pid})"


def _reply(reqtype: str, *fields: tuple[str, str]) -> wire.Message:
    return wire.Message.from_pairs((("t", "hbapi-resp"), ("reqtype", reqtype), *fields))


def _hex(number: int) -> str:
    return format(number, "x")


class ApiServer:
    """The clients of one daemon and their requests.  ``connection`` is whatever the shell uses
    to tell connections apart (hashable)."""

    def __init__(self, local_node: str, rules: Mapping[str, AuthRule], daemon_uid: int = 0):
        self.local_node = local_node
        self.rules = dict(rules)
        self.daemon_uid = daemon_uid
        self.clients: dict[object, Client] = {}
        self.client_gen = 0   # sign-on attempts since start, casual and failed ones included

    # -- connections ------------------------------------------------------------------------
    def connected(self, connection, cred: PeerCred) -> None:
        self.clients[connection] = Client(connection, cred)

    def disconnected(self, connection, reason: str = "EOF") -> list:
        """The connection is gone (EOF, an error, dropped by the shell)."""
        client = self.clients.pop(connection, None)
        if client is None or client.id is None:
            return []
        return self._leave(client, reason, connected=False)

    def signed_on(self) -> list[Client]:
        return [c for c in self.clients.values() if c.id is not None]

    def client_ids(self) -> set[str]:
        return {c.id for c in self.signed_on()}

    # -- bytes in -------------------------------------------------------------------------------
    def receive(self, connection, body: bytes, view: ClusterView,
                pid_alive: Callable[[int], bool] = lambda pid: True) -> list:
        client = self.clients.get(connection)
        if client is None:
            return []
        try:
            message = wire.decode(body)
        except wire.DecodeError as error:
            return self._unreadable(client, f"unreadable message ({error.reason})")
        if client.id is None:
            if message.get("t") != "hbapi-req" or message.get("reqtype") != "signon":
                # C logs it and keeps the connection; so do we, up to MAX_UNREADABLE in a row
                return self._unreadable(client, "api_process_registration_msg: bad message")
            return self._signon(client, message, view, pid_alive)
        client.unreadable = 0
        return self._request(client, message, view)

    def _unreadable(self, client: Client, what: str) -> list:
        client.unreadable += 1
        if client.unreadable >= MAX_UNREADABLE:
            return self._remove(client, "noinput", f"{client.describe}: {MAX_UNREADABLE} "
                                f"unusable messages in a row, the last: {what}: dropped")
        return [Log("warning", f"{client.describe}: {what}: ignored")]

    # -- sign-on ----------------------------------------------------------------------------
    def _signon(self, client: Client, message: wire.Message, view: ClusterView,
                pid_alive) -> list:
        self.client_gen += 1
        pid_text, from_id = message.get("pid"), message.get("from_id")
        pid = int(pid_text) if isinstance(pid_text, str) and pid_text.isdigit() else 0
        client_id = (from_id if isinstance(from_id, str) and from_id else str(pid))
        client_id = client_id[:CLIENT_ID_MAX]
        casual = _atoi(client_id) == pid
        uid, gid = message.get("uid"), message.get("gid")
        reason = None
        if pid <= 0 or not pid_alive(pid):
            reason = "bad pid"
        elif client_id in self.client_ids():
            reason = "duplicate add request"
        elif not (isinstance(uid, str) and uid.isdigit() and isinstance(gid, str)
                  and gid.isdigit()):
            reason = "invalid id info"
        elif int(uid) != client.cred.uid or int(gid) != client.cred.gid:
            reason = "incorrect/false credentials"
        else:
            rule = self.rules.get("anon" if casual else client_id)
            if rule is None:
                rule = self.rules.get("default")
            if rule is None:
                reason = "apiauth anon missing" if casual else "no default client auth"
            elif not rule.allows(client.cred.uid, client.cred.gid):
                reason = "client failed authorization"
            elif client.cred.pid != pid:
                reason = "pid mismatch"
        tail = (("deadtime", _hex(view.deadtime_ms)), ("keepalive", _hex(view.keepalive_ms)),
                ("node", view.local), ("hbversion", view.hbversion),
                ("pacemaker", view.parameters.get("pacemaker", "false")),
                ("logfacility", str(view.logfacility)))
        if reason is not None:
            out: list = [Log("warning", f"signon of client {client_id} (pid {pid}, uid "
                             f"{client.cred.uid}, gid {client.cred.gid}) refused: {reason}"),
                         Deliver(client.connection,
                                 _reply("signon", ("info", reason), ("result", "badreq"),
                                        *tail))]
            if not casual:
                # C: a leave notice straight to the client (empty ids for a duplicate: the
                # id is someone else's), and a copy to the cluster
                notice_id = "" if reason == "duplicate add request" else client_id
                notice = (("t", "hbapi-clstat"), ("st", "leave"), ("from_id", notice_id),
                          ("to_id", notice_id), ("info", reason),
                          ("client_gen", str(self.client_gen)))
                out.append(Deliver(client.connection, wire.Message.from_pairs(notice)))
                out.append(SendToCluster(notice))
            self.clients.pop(client.connection, None)
            out.append(Disconnect(client.connection, reason))
            return out
        client.id, client.pid, client.casual = client_id, pid, casual
        out = []
        if not casual:
            out.append(SendToCluster((("t", "hbapi-clstat"), ("st", "join"),
                                      ("from_id", client_id), ("to_id", client_id),
                                      ("info", "signon"),
                                      ("client_gen", str(self.client_gen)))))
        out.append(Log("debug", f"Signing on API client {pid} ({client_id})"))
        out.append(Deliver(client.connection, _reply("signon", ("result", "OK"), *tail)))
        return out

    # -- requests -----------------------------------------------------------------------------
    def _request(self, client: Client, message: wire.Message, view: ClusterView) -> list:
        if message.get("t") != "hbapi-req":
            return self._client_message(client, message)
        found = self._find(message.get("from_id"), message.get("pid"))
        if found is not client:
            return [Log("error", f"Client mismatch! (impersonation?) from {client.describe}")]
        reqtype = message.get("reqtype")
        reqtype = reqtype if isinstance(reqtype, str) else ""
        if reqtype == "signoff":
            return self._remove(client, "signoff", f"Signing client {client.pid} off",
                                level="debug")
        if reqtype == "set_sendqlen":
            length = message.get("sendqlen")
            if isinstance(length, str) and length.isdigit() and int(length) > 0:
                return [SetSendQueue(client.connection, int(length)),
                        Log("info", f"the send queue length from heartbeat to client "
                            f"{client.id} is set to {length}")]
            return []
        handler = _HANDLERS.get(reqtype)
        if handler is None:
            return [Log("error", f"Unknown API request {reqtype!r} from {client.describe}"),
                    Deliver(client.connection, _reply(reqtype, ("result", "badreq")))]
        replies, actions = handler(self, client, message, view)
        return [*actions, *(Deliver(client.connection, _reply(reqtype, *fields))
                            for fields in replies)]

    def _find(self, from_id, pid) -> Client | None:
        for candidate in self.signed_on():
            if (isinstance(from_id, str) and candidate.id == from_id) or \
                    (isinstance(pid, str) and pid.isdigit() and candidate.pid == int(pid)):
                return candidate
        return None

    def _client_message(self, client: Client, message: wire.Message) -> list:
        if client.casual:
            return self._remove(client, "badclient", f"general message from casual client! "
                                f"({client.describe}): dropped")
        fields = [(f.name, f.value) for f in message.fields
                  if f.type == wire.STRING and f.name not in ("from_id", "to_id",
                                                              "client_gen")]
        if not dict(fields).get("t"):
            return [Log("warning", f"{client.describe}: message without t= dropped")]
        fields += [("from_id", client.id), ("to_id", client.id),
                   ("client_gen", str(self.client_gen))]
        return [SendToCluster(tuple(fields))]

    # -- removal ------------------------------------------------------------------------------
    def _remove(self, client: Client, reason: str, text: str, level: str = "warning") -> list:
        self.clients.pop(client.connection, None)
        out: list = [Log(level, text)]
        if client.id is not None:
            out += self._leave(client, reason, connected=True)
        out.append(Disconnect(client.connection, reason))
        return out

    def _leave(self, client: Client, reason: str, connected: bool) -> list:
        if client.casual:
            return []
        notice = (("t", "hbapi-clstat"), ("st", "leave"), ("from_id", client.id),
                  ("to_id", client.id), ("info", reason), ("client_gen", str(self.client_gen)))
        out: list = []
        if connected:
            out.append(Deliver(client.connection, wire.Message.from_pairs(notice)))
        out.append(SendToCluster(notice))
        return out

    def drop(self, connection, reason: str) -> list:
        """The shell gives up on a client (full send queue, a dead process, garbage)."""
        client = self.clients.pop(connection, None)
        if client is None:
            return [Disconnect(connection, reason)]
        # no notice to the client itself: its connection is what failed
        out: list = [Log("warning", f"API {client.describe}: {reason}: dropped")]
        if client.id is not None:
            out += self._leave(client, reason, connected=False)
        return [*out, Disconnect(connection, reason)]

    # -- cluster messages in -----------------------------------------------------------------
    def cluster_message(self, message, view: ClusterView, treatment: int = KEEPIT) -> list:
        """A message the daemon processed (received, or our own through the loop-back)."""
        message_type = message.get("t")
        if message_type == "query-cstatus":
            dest = message.get("dest")
            if dest and dest.lower() != view.local:
                return []
            cn = message.get("cn")
            online = isinstance(cn, str) and cn in self.client_ids()
            src = message.get("src") or view.local
            return [SendToCluster((("t", "respond-cstatus"), ("dest", src), ("result", "OK"),
                                   ("cn", cn or ""), ("to_id", message.get("from_id") or ""),
                                   ("cs", "online" if online else "offline")))]
        if message_type in _NOT_DELIVERED:
            return []
        return self.deliver(message, treatment)

    def deliver(self, message, treatment: int = KEEPIT) -> list:
        if not isinstance(message, wire.Message):
            message = wire.Message.from_pairs(message)
        to_id = message.get("to_id")
        if isinstance(to_id, str) and to_id:
            target = next((c for c in self.signed_on() if c.id == to_id), None)
            if target is None or not target.fmask & treatment:
                return []
            return [Deliver(target.connection, message)]
        return [Deliver(c.connection, message) for c in self.signed_on()
                if c.fmask & treatment]


def ping_node_messages(node: str, old: str | None, new: str, wall_s: float) -> list[tuple]:
    """What 3.0.6 delivers to clients when ping node ``node`` goes from ``old`` to ``new``
    (CLIENT-API §4.1, LAB E01-ipfail): dead is a locally generated ``status st=dead info=ping``
    (``seq=1``, no uuid, hg, ttl or auth), then ``ifstat st=dead``; back is ``ifstat st=up``,
    the second ``status st=dead`` of the "Late heartbeat" path when it had been declared dead,
    then the ping packet's ``NS_st st=ping`` (its ``auth`` is the ping medium's own: left
    out).  ipfail counts ping nodes on ``dead``/``ping`` and asks its peer on a link ``dead``."""
    ts = _hex(max(int(wall_s), 1))
    dead = (("t", "status"), ("seq", "1"), ("ts", ts), ("src", node), ("st", "dead"),
            ("info", "ping"))
    if new == "dead":
        return [dead, (("t", "ifstat"), ("node", node), ("ifname", node), ("st", "dead"))]
    out = [(("t", "ifstat"), ("node", node), ("ifname", node), ("st", "up"))]
    if old == "dead":
        out.append(dead)
    out.append((("t", "NS_st"), ("st", new), ("info", "ping"), ("src", node), ("ts", ts)))
    return out


_NOT_DELIVERED = frozenset(("NS_ackmsg", "NS_rexmit", "reqnodes", "repnodes", "addnode",
                            "delnode", "setweight", "setsite"))


def _atoi(text: str) -> int:
    digits = ""
    for char in text.lstrip(" \t\n\r\f\v"):
        if not char.isdigit() or not char.isascii():
            break
        digits += char
    return int(digits) if digits else 0


# --- request handlers: (server, client, request, view) -> (reply field lists, actions) --------

def _einval(*before):
    return [(*before, ("result", "badreq"), ("info", "EINVAL"))], []


def _ok(*fields):
    return [(*fields, ("result", "OK"))], []


def _h_nodelist(server, client, request, view):
    replies = [(("node", n.name), ("nodetype", n.type), ("st", n.status),
                ("result", "ok/more")) for n in view.nodes]
    if replies:
        replies[-1] = (*replies[-1][:-1], ("result", "OK"))
    return replies, []


def _h_node_field(name, value_of):
    def handler(server, client, request, view):
        node = view.node(request.get("node"))
        return _einval() if node is None else _ok((name, value_of(node)))
    return handler


def _h_numnodes(server, client, request, view):
    return _ok(("numnodes", str(sum(n.type == "normal" for n in view.nodes))))


def _h_iflist(server, client, request, view):
    node = view.node(request.get("node"))
    if node is None:
        return _einval()
    if not node.links:
        return [(("result", "badreq"), ("info", "UhOh"))], []
    replies = [(("ifname", name), ("st", status), ("result", "ok/more"))
               for name, status in node.links]
    replies[-1] = (*replies[-1][:-1], ("result", "OK"))
    return replies, []


def _h_ifstatus(server, client, request, view):
    node = view.node(request.get("node"))
    ifname = request.get("ifname")
    status = None if node is None else dict(node.links).get(ifname)
    return _einval() if status is None else _ok(("st", status))


def _h_clientstatus(server, client, request, view):
    node = view.node(request.get("node"))
    cn = request.get("cn")
    if node is None or not isinstance(cn, str):
        return _einval()
    if node.name == view.local:
        online = cn in server.client_ids()
        return _ok(("subt", "respond-cstatus"), ("cs", "online" if online else "offline"))
    if node.status != "active":
        return _ok(("subt", "respond-cstatus"), ("cs", "offline"))
    # the remote node answers with respond-cstatus, delivered by to_id (§3.3); no reply here
    return [], [SendToCluster((("t", "query-cstatus"), ("dest", node.name), ("cn", cn),
                               ("from_id", client.id)))]


def _h_getparm(server, client, request, view):
    name = request.get("pname")
    if not isinstance(name, str):
        return _einval()
    if name == "crm":
        name = "pacemaker"
    value = view.parameters.get(name)
    return _ok() if value is None else _ok(("pvalue", value))


def _h_getrsc(server, client, request, view):
    if view.parameters.get("pacemaker", "false").lower() not in ("false", "off", "no", "n",
                                                                  "0"):
        return [(("result", "badreq"),
                 ("info", "Resource is managed by crm. Use crm tool to query resource"))], []
    return _ok(("rsc_hold", view.resources))


def _h_setfilter(server, client, request, view):
    text = request.get("fmask")
    try:
        mask = int(text, 16) if isinstance(text, str) else -1
    except ValueError:
        mask = -1
    if mask < 0 or not mask & ALL_TREATMENTS:
        return _einval()
    if mask & ~KEEPIT & ALL_TREATMENTS and client.cred.uid not in (0, server.daemon_uid):
        return [(("result", "badreq"), ("info", "EPERM"))], []
    client.fmask = mask
    return _ok()


def _h_setsignal(server, client, request, view):
    text = request.get("signal")
    if not (isinstance(text, str) and text.isdigit()):
        return [(("result", "badreq"),)], []
    number = int(text)
    if number in (9, 19) or number >= 32:
        return _einval()
    client.signal = number
    return _ok()


def _h_getuuid(server, client, request, view):
    name = request.get("queryname")
    if not isinstance(name, str):
        return [(("result", "badreq"), ("info", "no query node name found"))], []
    node = view.node(name)
    if node is None or node.uuid is None:
        return _ok()
    return [(("queryuuid", node.uuid), ("result", "OK"))], []


def _h_getnodename(server, client, request, view):
    uuid = request.get("queryuuid")
    if not isinstance(uuid, bytes):
        return [(("result", "badreq"), ("info", "no query node name found"))], []
    node = next((n for n in view.nodes if n.uuid == uuid), None)
    return _ok() if node is None else _ok(("queryname", node.name))


_HANDLERS = {
    "nodelist": _h_nodelist,
    "nodestatus": _h_node_field("st", lambda n: n.status),
    "nodetype": _h_node_field("nodetype", lambda n: n.type),
    "nodeweight": _h_node_field("weight", lambda n: str(n.weight)),
    "nodesite": _h_node_field("site", lambda n: n.site),
    "numnodes": _h_numnodes,
    "iflist": _h_iflist,
    "ifstatus": _h_ifstatus,
    "clientstatus": _h_clientstatus,
    "getparm": _h_getparm,
    "getrsc": _h_getrsc,
    "setfilter": _h_setfilter,
    "setsignal": _h_setsignal,
    "getuuid": _h_getuuid,
    "getnodename": _h_getnodename,
}
