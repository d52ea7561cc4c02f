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

A problem raises ``UsageError`` naming the option; the executable turns it into
one line on stderr and exit status 2.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# Options that take a value (Getopt::Std "X:") and flags.  -T/-O/-a/-D are the
# event flags mon itself may add (trap, trap timeout, ack, disable).
VALUE_OPTIONS = frozenset("sghtlPVRWF")
FLAG_OPTIONS = frozenset("uTOaD")

FORWARDING_METHODS = {
    "dr": "gate", "gate": "gate", "g": "gate",
    "nat": "masq", "masq": "masq", "m": "masq",
    "tun": "ipip", "ipip": "ipip", "i": "ipip",
}
# ipvsadm's flag for each forwarding method.
IPVSADM_FORWARDING_FLAG = {"gate": "-g", "masq": "-m", "ipip": "-i"}


class UsageError(ValueError):
    """A bad lvs.alert argument; ``option`` is the option letter or ''."""

    def __init__(self, option: str, message: str):
        super().__init__(f"-{option}: {message}" if option else message)
        self.option = option


@dataclass(frozen=True)
class Endpoint:
    """An IP address and optional port, as ipvsadm spells it."""

    address: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True)
class LvsAlertOptions:
    """What one lvs.alert invocation asks for."""

    protocol: str  # "tcp" or "udp"
    virtual_service: Endpoint
    real_server: Endpoint
    weight: int | None
    forwarding: str  # "gate", "masq" or "ipip"
    up: bool  # mon's -u: the service recovered
    service: str | None = None
    group: str | None = None
    hosts: str | None = None
    event_time: str | None = None

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.virtual_service.address


def getopt_std(argv: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """Split argv like Perl's Getopt::Std::getopts with our option letters."""
    options: dict[str, str | bool] = {}
    args = list(argv)
    while args and len(args[0]) >= 2 and args[0].startswith("-"):
        word = args.pop(0)
        if word == "--":
            break
        cluster = word[1:]
        while cluster:
            letter, rest = cluster[0], cluster[1:]
            if letter in VALUE_OPTIONS:
                if rest == "":
                    if not args:
                        raise UsageError(letter, "option requires a value")
                    rest = args.pop(0)
                options[letter] = rest
                break
            if letter in FLAG_OPTIONS:
                options[letter] = True
                cluster = rest
                continue
            raise UsageError(letter, "unknown option")
    return options, args


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
        want_version = 6
    else:
        if text.count(":") > 1:
            raise UsageError(option, f"write an IPv6 address as [ADDRESS]:PORT, not {text!r}")
        host, _, port_text = text.partition(":")
        port_text = port_text if ":" in text else None
        want_version = 4
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(option, f"not an IPv{want_version} address: {host!r}") from None
    if address.version != want_version:
        raise UsageError(option, f"not an IPv{want_version} address: {host!r}")
    if port_text is None:
        if port_required:
            raise UsageError(option, f"expected ADDRESS:PORT, got {text!r}")
        return Endpoint(str(address), None)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise UsageError(option, f"port must be 1-65535, got {port_text!r}")
    return Endpoint(str(address), int(port_text))


def parse_argv(argv: list[str]) -> LvsAlertOptions:
    """Parse and validate lvs.alert's arguments (mon's and the alert line's)."""
    options, rest = getopt_std(argv)
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
    if (":" in virtual_service.address) != (":" in real_server.address):
        raise UsageError("R", "real server and virtual service must both be IPv4 or both IPv6")
    up = bool(options.get("u"))
    weight = None
    if "W" in options:
        weight_text = str(options["W"])
        if not weight_text.isdigit() or int(weight_text) > 65535:
            raise UsageError("W", f"weight must be an integer 0-65535, got {weight_text!r}")
        weight = int(weight_text)
    elif up:
        raise UsageError("W", "missing (an up event adds the server with this weight)")
    method_text = str(options.get("F", "dr"))
    if method_text.lower() not in FORWARDING_METHODS:
        raise UsageError("F", f"forwarding must be dr/gate, nat/masq or tun/ipip, got {method_text!r}")

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
        service=text_option("s"),
        group=text_option("g"),
        hosts=text_option("h"),
        event_time=text_option("t"),
    )


def seed_ipvsadm_argv(request: LvsAlertOptions) -> list[str]:
    """The ipvsadm arguments the seed's lvs.alert.pl runs for this request.

    Up: ``-a -t|-u VIP:PORT -r RIP -w W -g|-m|-i``; down: ``-d -t|-u VIP:PORT
    -r RIP`` (../shared/reference/mon/SPEC.md §5).
    """
    protocol_flag = "-t" if request.protocol == "tcp" else "-u"
    target = [protocol_flag, str(request.virtual_service), "-r", str(request.real_server)]
    if request.up:
        return ["-a", *target, "-w", str(request.weight), IPVSADM_FORWARDING_FLAG[request.forwarding]]
    return ["-d", *target]
