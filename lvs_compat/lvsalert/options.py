"""The lvs.alert command line, as mon and the seed's mon.cf give it.

mon calls ``lvs.alert -s SERVICE -g GROUP -h "HOSTS" -t EPOCH [FLAG] USER_ARGS``
(../shared/reference/mon/SPEC.md §2.2) where FLAG is ``-u`` for an upalert and
USER_ARGS come from the alert line, e.g. ``-P tcp -V 10.0.0.3:80 -R 192.168.0.1
-W 5 -F dr``.  The seed's Perl parses them with Getopt::Std
``getopts("s:g:h:t:l:P:V:R:W:F:u")``; ``parse_argv`` follows the same rules
(clustered flags, ``-Xvalue`` or ``-X value``, ``--`` ends options, the last
repetition wins) but, unlike the seed, validates every value before anything
runs:

* ``-P`` must be ``tcp`` or ``udp`` (the seed silently treats anything else,
  even ``TCP``, as UDP);
* ``-V`` is ``IP:PORT`` or ``[IPv6]:PORT``; ``-R`` is ``IP[:PORT]`` or
  ``[IPv6][:PORT]`` (the seed pastes them into a shell string);
* ``-W`` is an integer 0-65535, required for an up event;
* ``-F`` is dr/gate, nat/masq or tun/ipip (the seed maps anything unknown to
  direct routing).

mon's own event flags are accepted: ``-T`` (trap) and ``-O`` (trap timeout) are
failures, as they are for the seed (whose getopts lacks them: Perl warns and
deletes); ``-a`` (ack) and ``-D`` (disable) likewise count as "not up".

Operator extras, all opt-in so an existing mon.cf line keeps its meaning:

* ``-Q``: quiesce instead of delete: a down event sets the weight to 0 (as
  ldirectord's ``quiescent=yes``), an up event restores the ``-W`` weight;
* ``-B``: build the virtual service when it is missing, with scheduler
  ``-S SCHED`` (default ``wlc``, ipvsadm's own default; the option letters are
  those of mon's contrib ``ipvs.alert``);
* ``-L FACILITY``: syslog facility (default ``daemon``).

A problem raises ``UsageError`` naming the option; the executable turns it into
one line on stderr and exit status 2.

Start-up cost matters (mon starts an alert per event): this module avoids
``dataclasses`` (10 ms to import), ``ipaddress`` and ``re``; addresses are
checked by ``lvs_compat.ipvs.canonical_address`` (inet_pton).
"""

from lvs_compat import getopt_std
from lvs_compat.ipvs import IPVSADM_FORWARDING_FLAG, Endpoint, canonical_address

# Getopt::Std spec: "X:" takes a value, a bare letter is a flag.  -T/-O/-a/-D are the
# event flags mon itself may add (trap, trap timeout, ack, disable); S, L, Q, B
# are our opt-in extras.
GETOPT_SPEC = "s:g:h:t:l:P:V:R:W:F:S:L:uTOaDQB"

FORWARDING_METHODS = {
    "dr": "gate", "gate": "gate", "g": "gate",
    "nat": "masq", "masq": "masq", "m": "masq",
    "tun": "ipip", "ipip": "ipip", "i": "ipip",
}

# The schedulers ipvsadm 1.31 documents (ipvsadm(8) --scheduler).
SCHEDULERS = frozenset(("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"))
DEFAULT_SCHEDULER = "wlc"

SYSLOG_FACILITIES = frozenset(
    ("auth", "authpriv", "cron", "daemon", "kern", "lpr", "mail", "news", "syslog", "user", "uucp")
    + tuple(f"local{n}" for n in range(8))
)

# mon's event flag -> the event name (MON_ALERTTYPE, SPEC §2.2).
EVENT_FLAGS = (("u", "up"), ("T", "trap"), ("O", "traptimeout"), ("a", "ack"), ("D", "disable"))


class UsageError(ValueError):
    """A bad lvs.alert argument; ``option`` is the option letter or ''."""

    def __init__(self, option: str, message: str):
        super().__init__(f"-{option}: {message}" if option else message)
        self.option = option


class LvsAlertOptions:
    """What one lvs.alert invocation asks for (read-only by convention)."""

    __slots__ = ("protocol", "virtual_service", "real_server", "weight", "forwarding", "up", "event",
                 "service", "group", "hosts", "event_time", "quiesce", "create_service", "scheduler",
                 "syslog_facility")

    def __init__(self, protocol: str, virtual_service: Endpoint, real_server: Endpoint, weight: int | None,
                 forwarding: str, up: bool, event: str = "", service: str | None = None,
                 group: str | None = None, hosts: str | None = None, event_time: int | None = None,
                 quiesce: bool = False, create_service: bool = False, scheduler: str = DEFAULT_SCHEDULER,
                 syslog_facility: str = "daemon"):
        self.protocol = protocol  # "tcp" or "udp"
        self.virtual_service = virtual_service
        self.real_server = real_server
        self.weight = weight
        self.forwarding = forwarding  # "gate", "masq" or "ipip"
        self.up = up  # mon's -u: the service recovered
        self.event = event or ("up" if up else "failure")
        self.service = service
        self.group = group
        self.hosts = hosts
        self.event_time = event_time  # mon's -t: when mon launched the alert
        self.quiesce = quiesce
        self.create_service = create_service
        self.scheduler = scheduler
        self.syslog_facility = syslog_facility

    @property
    def is_ipv6(self) -> bool:
        return self.virtual_service.is_ipv6

    @property
    def ipvsadm_real_server(self) -> Endpoint:
        """``-R`` as ipvsadm 1.31 takes it: it refuses ``[IPv6]`` without a
        port (checked on a real kernel), so an IPv6 real server gets the
        virtual service's port, which is what ipvsadm does for IPv4."""
        if self.real_server.is_ipv6:
            return self.real_server.with_port(self.virtual_service.port)
        return self.real_server

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"LvsAlertOptions({fields})"


def split_options(argv: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """Split argv with Getopt::Std's rules; unlike the seed, refuse any problem."""
    options, rest, problems = getopt_std.getopts(argv, GETOPT_SPEC)
    for kind, letter in problems:
        if kind == getopt_std.MISSING_VALUE:
            raise UsageError(letter, "option requires a value")
        if kind == getopt_std.LONG_OPTION or letter == "-":
            raise UsageError("", "long options are not supported (lvs.alert takes -X VALUE options only)")
        raise UsageError(letter if letter.isprintable() else "", f"unknown option {'-' + letter!r}")
    return options, rest


def _digits(text: str, most: int) -> bool:
    """ASCII digits only, at most ``most`` of them (int() refuses over 4,300)."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def parse_endpoint(text: str, option: str, port_required: bool) -> Endpoint:
    """Parse ``IP[:PORT]`` or ``[IPv6][:PORT]`` strictly."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise UsageError(option, f"missing ']' in {text!r}")
        host, rest = text[1:close], text[close + 1:]
        if rest and not rest.startswith(":"):
            raise UsageError(option, f"expected ':PORT' after ']' in {text!r}")
        port_text = rest[1:] if rest else None
        version = 6
    else:
        if text.count(":") > 1:
            raise UsageError(option, f"write an IPv6 address as [ADDRESS]:PORT, not {text!r}")
        host, colon, port_text = text.partition(":")
        port_text = port_text if colon else None
        version = 4
    address = canonical_address(host, version)
    if address is None:
        raise UsageError(option, f"not an IPv{version} address: {host!r}")
    if port_text is None:
        if port_required:
            raise UsageError(option, f"expected ADDRESS:PORT, got {text!r}")
        return Endpoint(address, None)
    if not _digits(port_text, 5) or not 1 <= int(port_text) <= 65535:
        raise UsageError(option, f"port must be 1-65535, got {port_text!r}")
    return Endpoint(address, int(port_text))


def parse_argv(argv: list[str]) -> LvsAlertOptions:
    """Parse and validate lvs.alert's arguments (mon's and the alert line's)."""
    options, rest = split_options(argv)
    if rest:
        raise UsageError("", f"unexpected argument {rest[0]!r}")
    for letter in "PVR":
        if not options.get(letter):
            raise UsageError(letter, "missing (lvs.alert needs -P, -V and -R)")
    protocol = str(options["P"])
    if protocol not in ("tcp", "udp"):
        raise UsageError("P", f"protocol must be tcp or udp, got {protocol!r}")
    virtual_service = parse_endpoint(str(options["V"]), "V", port_required=True)
    real_server = parse_endpoint(str(options["R"]), "R", port_required=False)
    if virtual_service.is_ipv6 != real_server.is_ipv6:
        raise UsageError("R", "real server and virtual service must both be IPv4 or both IPv6")
    up = bool(options.get("u"))
    event = next((name for letter, name in EVENT_FLAGS if options.get(letter)), "failure")
    weight = None
    if "W" in options:
        weight_text = str(options["W"])
        if not _digits(weight_text, 5) or int(weight_text) > 65535:
            raise UsageError("W", f"weight must be an integer 0-65535, got {weight_text!r}")
        weight = int(weight_text)
    elif up:
        raise UsageError("W", "missing (an up event adds the server with this weight)")
    method_text = str(options.get("F", "dr"))
    if method_text.lower() not in FORWARDING_METHODS:
        raise UsageError("F", f"forwarding must be dr/gate, nat/masq or tun/ipip, got {method_text!r}")
    scheduler = str(options.get("S", DEFAULT_SCHEDULER))
    if scheduler not in SCHEDULERS:
        raise UsageError("S", f"unknown scheduler {scheduler!r} (one of {', '.join(sorted(SCHEDULERS))})")
    facility = str(options.get("L", "daemon")).lower()
    if facility not in SYSLOG_FACILITIES:
        raise UsageError("L", f"unknown syslog facility {facility!r}")
    event_time = None
    if "t" in options:
        time_text = str(options["t"])
        if not _digits(time_text, 18):
            raise UsageError("t", f"expected seconds since the epoch, got {time_text!r}")
        event_time = int(time_text)

    def text_option(letter: str) -> str | None:
        value = options.get(letter)
        return None if value is None else str(value)

    return LvsAlertOptions(
        protocol=protocol,
        virtual_service=virtual_service,
        real_server=real_server,
        weight=weight,
        forwarding=FORWARDING_METHODS[method_text.lower()],
        up=up,
        event="up" if up else event,
        service=text_option("s"),
        group=text_option("g"),
        hosts=text_option("h"),
        event_time=event_time,
        quiesce=bool(options.get("Q")),
        create_service=bool(options.get("B")),
        scheduler=scheduler,
        syslog_facility=facility,
    )


def seed_ipvsadm_argv(request: LvsAlertOptions) -> list[str]:
    """The ipvsadm arguments the seed's lvs.alert.pl runs for this request.

    Up: ``-a -t|-u VIP:PORT -r RIP -w W -g|-m|-i``; down: ``-d -t|-u VIP:PORT
    -r RIP`` (../shared/reference/mon/SPEC.md §5).  The one change: an IPv6
    real server without a port gets the virtual service's (see
    ``ipvsadm_real_server``); the seed could not express IPv6 at all.
    """
    protocol_flag = "-t" if request.protocol == "tcp" else "-u"
    target = [protocol_flag, str(request.virtual_service), "-r", str(request.ipvsadm_real_server)]
    if request.up:
        return ["-a", *target, "-w", str(request.weight), IPVSADM_FORWARDING_FLAG[request.forwarding]]
    return ["-d", *target]
