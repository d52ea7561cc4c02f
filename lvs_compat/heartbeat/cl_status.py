"""``cl_status``: the status of the local heartbeat, with Debian 3.0.6's sub-commands, output and
exit codes (LAB: Debian's cl_status run against a real 3.0.6 node in the interop lab).

It asks our daemon over its control socket (``control``), found in ``--run-dir`` (default
/run/heartbeat).  Observed C behaviour kept here:

* no argument: the usage text on stdout, exit 0; an unknown sub-command: "ERROR: X: invalid
  sub-command." on stderr, exit 11;
* daemon not running: ``hbstatus`` prints "Heartbeat is stopped on this machine." exit 1; every
  other sub-command says "Cannot signon with heartbeat" on stderr, exit 1;
* ``nodestatus``/``hblinkstatus`` print the status; exit 0 when it is up/active, **1 when it is
  dead** (with "dead" still printed); an unknown node: exit 11 ("Error. May be due to incorrect
  node name"); an unknown link or a link of an unknown node: exit 13;
* a missing parameter: exit 11 ("Not enough parameters." / "No enough parameter.");
* ``listnodes`` lists the nodes in the C daemon's order (the reverse of ha.cf's).
"""

from __future__ import annotations

import os
import sys
import time

DEFAULT_RUN_DIR = "/run/heartbeat"

USAGE = """\
Usage: cl_status <sub-command> [<options>] [<parameters>]

Sub-commands:
clientstatus <node-name> <client-id> [<timeout>]
\tShow the status of heartbeat clients.
hblinkstatus <node-name> <link-name>
\tShow the status of a heartbeat link
hbstatus
\tIndicate if heartbeat is running on the local system.
\tOptions:
\t\t-v\tverbose: also add "listnodes -v" output
listnodes [<option>]
\tList the nodes in the cluster.
\tOptions:
\t\t-p\tlist only 'ping' type nodes
\t\t-n\tlist only 'normal' type nodes
\t\t-v\tverbose: also list type and status,
\t\t\tthen add "listhblinks -v" output
listhblinks <node-name>
\tList the network interfaces used as hearbeat links.
\tOptions:
\t\t-v\tverbose: list link status as well
nodestatus <node-name>
\tList the node status.
nodeweight <node-name>
\tList the node weight.
nodesite <node-name>
\tList the node site.
nodetype <node-name>
\tList the nodes of a given type.
rscstatus
\tShow the status of cluster resources.
hbparameter -p <parameter-name>
\tRetrieve the value of a cluster parameter.
\tAs for the valid parameter names, please refer to the man page.
"""

OK = 0
FAILED = 1
BAD_PARAMETER = 11
NO_SUCH_THING = 13
SUBCOMMANDS = ("clientstatus", "hblinkstatus", "hbstatus", "listnodes", "listhblinks",
               "nodestatus", "nodeweight", "nodesite", "nodetype", "rscstatus", "hbparameter")


def _error(text: str) -> None:
    stamp = time.strftime("%b %d %H:%M:%S")
    sys.stderr.write(f"{stamp} {os.uname().nodename} cl_status: [{os.getpid()}]: ERROR: "
                     f"{text}\n")


def _split_options(args: list[str], letters: str) -> tuple[set[str], list[str]]:
    options, rest = set(), []
    for arg in args:
        if arg.startswith("-") and len(arg) > 1 and all(c in letters for c in arg[1:]):
            options.update(arg[1:])
        else:
            rest.append(arg)
    return options, rest


def _lower(name: str) -> str:
    return name.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                        "abcdefghijklmnopqrstuvwxyz"))


class _Status:
    def __init__(self, snapshot: dict):
        self.snapshot = snapshot
        self.nodes = {node["name"]: node for node in snapshot.get("nodes", [])}

    def node(self, name: str) -> dict | None:
        return self.nodes.get(_lower(name))

    def ordered(self) -> list[dict]:
        return list(reversed(self.snapshot.get("nodes", [])))

    def verbose_nodes(self, out: list[str], types: set[str] | None = None) -> None:
        for node in self.ordered():
            if types and node.get("type", "normal") not in types:
                continue
            out.append("")
            out.append(f"{node['name']}\t{node['status']}\t(nodetype: {node.get('type', 'normal')})")
            for link, status in node.get("links", {}).items():
                out.append(f"\t{link}\t{status}")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    run_dir = os.environ.get("HA_RUN_DIR", DEFAULT_RUN_DIR)
    if len(args) >= 2 and args[0] == "--run-dir":
        run_dir, args = args[1], args[2:]
    elif args and args[0].startswith("--run-dir="):
        run_dir, args = args[0].split("=", 1)[1], args[1:]
    if not args:
        sys.stdout.write(USAGE)
        return OK
    command, rest = args[0], args[1:]
    if command not in SUBCOMMANDS:
        _error(f"{command}: invalid sub-command.")
        return BAD_PARAMETER

    from .control import ControlError, request
    try:
        answer = request(run_dir, "status")
    except ControlError:
        answer = None
    if answer is None or not answer.get("ok"):
        if command == "hbstatus":
            print("Heartbeat is stopped on this machine.")
            return FAILED
        _error("Cannot signon with heartbeat")
        _error("REASON: hb_api_signon: Can't initiate connection to heartbeat")
        return FAILED
    status = _Status(answer["status"])
    out: list[str] = []
    code = _run(command, rest, status, out)
    if out:
        sys.stdout.write("\n".join(out) + "\n")
    return code


def _run(command: str, rest: list[str], status: _Status, out: list[str]) -> int:
    snapshot = status.snapshot
    if command == "hbstatus":
        options, _ = _split_options(rest, "v")
        out.append("Heartbeat is running on this machine.")
        if "v" in options:
            out[:] = [f"version:\t{snapshot.get('version', '')}",
                      'managed by:\t"haresources"']
            status.verbose_nodes(out)
        return OK
    if command == "listnodes":
        options, _ = _split_options(rest, "pnv")
        types = {t for flag, t in (("p", "ping"), ("n", "normal")) if flag in options} or None
        if "v" in options:
            status.verbose_nodes(out, types)
        else:
            out.extend(n["name"] for n in status.ordered()
                       if not types or n.get("type", "normal") in types)
        return OK
    if command in ("nodestatus", "nodetype", "nodeweight", "nodesite"):
        if not rest:
            sys.stderr.write("Not enough parameters.\n")
            return BAD_PARAMETER
        node = status.node(rest[0])
        if node is None:
            message = ("Error. Maybe due to incorrect node name." if command == "nodeweight"
                       else "Error. May be due to incorrect node name")
            sys.stderr.write(message + "\n")
            return BAD_PARAMETER
        if command == "nodestatus":
            out.append(node["status"])
            return FAILED if node["status"] == "dead" else OK
        if command == "nodetype":
            out.append(node.get("type", "normal"))
        elif command == "nodeweight":
            out.append(str(node.get("weight", 100)))
        else:
            out.append(node.get("site", ""))
        return OK
    if command == "hblinkstatus":
        if len(rest) < 2:
            sys.stderr.write("No enough parameter.\n")
            return BAD_PARAMETER
        node = status.node(rest[0])
        link = None if node is None else node.get("links", {}).get(rest[1])
        if link is None:
            _error("Cannot get heartbeat link status")
            _error("REASON: ")
            return NO_SUCH_THING
        out.append(link)
        return FAILED if link == "dead" else OK
    if command == "listhblinks":
        options, names = _split_options(rest, "v")
        if not names:
            sys.stderr.write("No enough parameter.\n")
            return BAD_PARAMETER
        node = status.node(names[0])
        if node is None:
            _error("Cannot start heartbeat link interface walk.")
            _error("REASON: EINVAL")
            return NO_SUCH_THING
        for link, link_status in node.get("links", {}).items():
            out.append(f"\t{link}\t{link_status}" if "v" in options else f"\t{link}")
        return OK
    if command == "rscstatus":
        out.append(snapshot.get("rscstatus", "none"))
        return OK
    if command == "hbparameter":
        _, names = _split_options(rest, "p")
        if not names:
            _error("parameter name required")
            return BAD_PARAMETER
        value = snapshot.get("parameters", {}).get(names[0])
        if value is None:
            _error(f"Cannot get parameter {names[0]}'s value")
            _error("REASON: ")
            return FAILED
        out.append(str(value))
        return OK
    # clientstatus: there are no API clients in our daemon.
    if len(rest) < 2:
        sys.stderr.write("No enough parameter.\n")
        return BAD_PARAMETER
    _error(f"Cannot get heartbeat client {rest[1]}'s status")
    _error("REASON: No timely response.")
    return NO_SUCH_THING
