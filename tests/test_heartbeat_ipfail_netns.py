"""Debian's ipfail (heartbeat 3.0.6) respawned by the daemons of a pair with a ``ping`` node
(issue 16 item 2): cutting the holder's path to the ping node makes its ipfail give the group
to the director that still reaches it; restored, then cut on the other side, the group comes
back.  Three clusters run the same scenario side by side: two C nodes (the reference), two of
ours, and a mixed pair (nodea C, nodeb ours: each kind is cut once).

The lab (``TakeoverLab``): nodea, nodeb and a third namespace on one bridge; the third one is
the ping node (its kernel answers the echo requests).  A cut is an nftables rule in the
director's namespace that drops its packets to the ping node (the sender gets EPERM).  Our
daemon runs in a private mount namespace where its run directory is /run/heartbeat, the path
compiled into libhbclient; its log is in a directory hacluster can reach, so ipfail's own lines
land there as on a C node.

What 3.0.6 does (the C pair, CLIENT-API §6): deadping after the cut the ping node is dead on
the cut node; its ipfail sends ``num_ping_nodes num_ping=0`` to the peer's ipfail, which
answers ``you_are_dead``; the cut node's ipfail waits 2 x keepalive ("Delayed giveup in 1
seconds.") and sends ``ask_resources rsc_hold=all info=me``, i.e. hb_standby: "nodea wants to
go standby [all]", and the group moves.  With ``auto_failback off`` nothing moves when the ping
node returns ("Ping node count is balanced.").  The test asserts the same ipfail lines and the
same moves for every cluster.

Timers: keepalive 500 ms, deadtime = deadping 2 s, initdead 4 s.  About 30 s (the three
clusters at once; each waits for C's 10 s RQSTDELAY before the first cut).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from heartbeat_lab import have_c_heartbeat, ha_cf, wait_for
from lvs_compat.lab.heartbeat import IFNAME, SUBNET, VIP, TakeoverLab

pytestmark = [pytest.mark.lab, pytest.mark.interop,
              pytest.mark.skipif(have_c_heartbeat() is not None,
                                 reason=str(have_c_heartbeat()))]

IPFAIL = "/usr/libexec/heartbeat/ipfail"
KEEPALIVE_S, DEADTIME_S = 0.5, 2.0
RQSTDELAY_S = 10            # C: a node is stable 10 s after comm-up at the latest
START_TIMEOUT_S = 4 + RQSTDELAY_S + 8      # initdead, RQSTDELAY, the resource scripts
# deadping (the ping node dead), ipfail's exchange (the C daemon answers each of its requests
# at a ~500 ms tick, CLIENT-API §9 item 10: node walks on both sides), its 2 x keepalive giveup
# delay, the standby exchange and IPaddr's stop and start (forked scripts on a C node).  The C
# pair took 6-10 s on a loaded 2-core machine: a wide bound, as it only limits a failure's wait.
MOVE_TIMEOUT_S = DEADTIME_S + 2 * KEEPALIVE_S + 13

CLUSTERS = {"c-c": ("c", "c"), "ours": ("ours", "ours"), "mixed": ("c", "ours")}

# ipfail's info lines (contrib/ipfail/ipfail.c), in order, on the node cut from the ping node
# and on its peer
CUT_NODE_LINES = ["Status update: Node {ping} now has status dead",
                  "Link Status update: Link {ping}/{ping} now has status dead",
                  "We are dead. :<",
                  "Asking other side for ping node count.",
                  "Giving up because we were told that we have less ping nodes.",
                  "Delayed giveup in 1 seconds.",
                  "giveup() called (timeout worked)"]
PEER_LINES = ["Telling other node that we have more visible ping nodes."]
# the cut node once the ping node answers again (the extra "dead" first, as 3.0.6 sends it)
RESTORED_LINES = ["Link Status update: Link {ping}/{ping} now has status up",
                  "Status update: Node {ping} now has status dead",
                  "NS: We are still alive!",
                  "Status update: Node {ping} now has status ping",
                  "A ping node just came up.",
                  "Asking other side for ping node count."]


@pytest.fixture
def clusters(tmp_path):
    # our logs, where ipfail (hacluster) can append to them: pytest's tmp_path is root's, 0700
    logs = Path(tempfile.mkdtemp(prefix="lvs-ipfail-"))
    logs.chmod(0o755)
    labs = {}
    try:
        for name, kinds in CLUSTERS.items():
            labs[name] = TakeoverLab(tmp_path / name, names=("nodea", "nodeb", "pinger"),
                                     kinds=(*kinds, "client")).open()
            configure(labs[name], logs / name)
        yield labs
    finally:
        for lab in labs.values():
            lab.close()
        shutil.rmtree(logs, ignore_errors=True)


def configure(lab, logs: Path):
    a, b, pinger = lab.nodes
    extra = (f"ping {pinger.address}\nrespawn hacluster {IPFAIL}\n"
             "apiauth ipfail uid=hacluster")    # 3.0.6's default for ipfail, written out
    for node in (a, b):
        text = ha_cf([a.name, b.name], media=f"bcast {IFNAME}", keepalive="500ms",
                     deadtime="2", warntime="1", initdead="4", extra=extra)
        text = text.replace("auto_failback on", "auto_failback off")
        if node.kind == "ours":
            node.logdir = logs / node.name
            node.logdir.mkdir(parents=True)
            node.logdir.chmod(0o755)
            for name in ("ha-log", "ha-debug"):
                (node.logdir / name).touch(mode=0o666)
                (node.logdir / name).chmod(0o666)
            text = text.replace("@LOGDIR@", str(node.logdir))
        node.write_config(text, haresources=f"{a.name} {VIP}/24/{IFNAME}/{SUBNET}.255\n")


def start(node):
    if node.kind == "c":
        node.start_c()
        return
    # libhbclient connects to /run/heartbeat/register: our daemon (and so ipfail, its child)
    # runs where its run directory is mounted there, and hacluster may enter it
    node.state.mkdir(parents=True, exist_ok=True)
    node.rundir.mkdir(parents=True, exist_ok=True)
    node.rundir.chmod(0o755)
    argv = node.debian_client_argv(*node.heartbeat_argv("--foreground"))
    with open(node.root / "daemon.out", "ab") as log:
        node.process = node.lab.net.start(node.netns, argv, stdout=log,
                                          stderr=subprocess.STDOUT)


def ha_log(node) -> str:
    path = node.root / "varlib" / "ha-log" if node.kind == "c" else node.logdir / "ha-log"
    return path.read_text(errors="replace") if path.exists() else ""


def ipfail_lines(node, since: int = 0) -> list[str]:
    """ipfail's info lines in the node's log after character ``since``."""
    return [line.split(": info: ", 1)[1] for line in ha_log(node)[since:].splitlines()
            if " ipfail: [" in line and ": info: " in line]


def in_order(expected: list[str], lines: list[str]) -> bool:
    """``expected`` is a subsequence of ``lines``."""
    remaining = iter(lines)
    return all(any(line == wanted for line in remaining) for wanted in expected)


def cut_ping(lab, node, cut: bool) -> None:
    """Drop (or stop dropping) ``node``'s packets to the ping node."""
    if not cut:
        lab.ns(node, "nft", "delete", "table", "inet", "ipfaillab")
        return
    rules = node.root / "cut-ping.nft"
    rules.write_text("table inet ipfaillab {\n  chain out { type filter hook output priority 0; "
                     f"ip daddr {lab.nodes[2].address} drop; }}\n}}\n")
    lab.ns(node, "nft", "-f", str(rules))


def cl_status(node, *args) -> str:
    """Debian's cl_status against the node (ours at /run/heartbeat through a mount
    namespace, a C node inside its own namespaces)."""
    return node.debian_client("/usr/bin/cl_status", *args).stdout.strip()


def stable(node) -> bool:
    return cl_status(node, "rscstatus") not in ("", "transition")


def scenario(lab) -> dict:
    """Start, cut nodea (group to nodeb), restore, cut nodeb (group back to nodea).  The
    seconds each move took and the log marks of each phase."""
    a, b, pinger = lab.nodes
    report = {}
    started = time.monotonic()
    for node in (a, b):
        start(node)
    lab.wait_holder(a, START_TIMEOUT_S)
    for node, peer in ((a, b), (b, a)):
        wait_for(lambda: stable(node), START_TIMEOUT_S, 0.2, f"{node.name} stable")
        wait_for(lambda: cl_status(node, "clientstatus", peer.name, "ipfail", "2000")
                 == "online", 10, 0.2, f"{peer.name}'s ipfail seen from {node.name}")
    report["start-up"] = time.monotonic() - started
    for cut, other in ((a, b), (b, a)):
        marks = {node.name: len(ha_log(node)) for node in (a, b)}
        cut_ping(lab, cut, True)
        report[f"{cut.name} cut"] = lab.wait_holder(other, MOVE_TIMEOUT_S)
        report[f"{cut.name} marks"] = marks
        restored = {node.name: len(ha_log(node)) for node in (a, b)}
        cut_ping(lab, cut, False)
        # back: its ipfail asks again, the counts are balanced, nothing moves
        wait_for(lambda: "Ping node count is balanced." in ipfail_lines(other,
                                                                        restored[other.name]),
                 DEADTIME_S + 10, 0.1, f"{other.name}'s ipfail to find the counts balanced")
        report[f"{cut.name} restored"] = restored
        wait_for(lambda: stable(a) and stable(b), 10, 0.2, "both stable")
        assert lab.holders() == [other.name]
    return report


def test_ipfail_moves_the_group_to_the_director_that_still_reaches_the_ping_node(clusters):
    with ThreadPoolExecutor(len(clusters)) as pool:
        futures = {name: pool.submit(scenario, lab) for name, lab in clusters.items()}
        outcomes = {}
        for name, future in futures.items():
            try:
                outcomes[name] = future.result()
            except Exception as error:   # every cluster's logs, then the first failure
                outcomes[name] = error
    failed = {name: error for name, error in outcomes.items() if isinstance(error, Exception)}
    if failed:
        for name, lab in clusters.items():
            for node in lab.nodes[:2]:
                print(f"=== {name} {node.name} ({node.kind})\n{ha_log(node)[-15000:]}")
        raise next(iter(failed.values()))

    for name, lab in clusters.items():
        a, b, pinger = lab.nodes
        report = outcomes[name]
        print(f"{name}: start-up {report['start-up']:.1f} s, group moved after the cut "
              f"{report['nodea cut']:.1f} s / {report['nodeb cut']:.1f} s")
        for cut, other in ((a, b), (b, a)):
            marks, restored = report[f"{cut.name} marks"], report[f"{cut.name} restored"]
            lines = [line.format(ping=pinger.address) for line in CUT_NODE_LINES]
            assert in_order(lines, ipfail_lines(cut, marks[cut.name])), \
                (name, cut.name, ipfail_lines(cut, marks[cut.name]))
            assert in_order(PEER_LINES, ipfail_lines(other, marks[other.name])), \
                (name, other.name, ipfail_lines(other, marks[other.name]))
            lines = [line.format(ping=pinger.address) for line in RESTORED_LINES]
            assert in_order(lines, ipfail_lines(cut, restored[cut.name])), \
                (name, cut.name, ipfail_lines(cut, restored[cut.name]))
            # the giveup is hb_standby's request, through each daemon's standby protocol
            for node in (cut, other):
                assert f"{cut.name} wants to go standby [all]" in \
                    ha_log(node)[marks[node.name]:], (name, node.name)
        for node in (a, b):
            if node.kind == "ours":   # C: children once the API socket is there (comm-up)
                log = ha_log(node)
                assert log.index("client API listening") < log.index("Starting child client")
