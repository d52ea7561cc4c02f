"""Support for the resource takeover tests: the heartbeat lab's ``TakeoverLab`` (nodes of ours
or Debian's 3.0.6 plus a passive ``client`` on the bridge, a VIP; lvs_compat/lab/heartbeat.py,
re-exported here with ``rscstatus`` and ``hb_tool``), and recording scripts standing in for the
seed's ``lvs`` and ``mon``.

* ``install_recorders(node, names)``: ``resource.d/<name>`` scripts that append
  ``<name> <args> start|stop`` to ``<node root>/record.log`` and answer ``status`` from a state
  file (``running``/``stopped``, as ResourceManager judges it);
* ``TakeoverLab.crash(node)``: what a machine's death does to the resources: kill -9 of the
  node, and its VIP and script state gone (INTEROP.md: the lab deletes the VIP from a killed
  node, a dead machine would no longer answer for it).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lvs_compat.lab import wait_for
from lvs_compat.lab.heartbeat import (VIP, VIP2, TakeoverLab, hb_tool,  # noqa: F401
                                      rscstatus)

# A file run by the resource executor (argv, never a shell string from Python).  @LOG@ and
# @STATE@ are replaced per node.
RECORDER = r"""#!/bin/sh
name=$(basename "$0")
action=""
key="$name"
for arg in "$@"; do [ -n "$action" ] && key="$key.$action"; action="$arg"; done
case "$action" in
start)  echo "$name $* $(date +%s.%N)" >> "@LOG@"; touch "@STATE@.$key";;
stop)   echo "$name $* $(date +%s.%N)" >> "@LOG@"; rm -f "@STATE@.$key";;
status) if [ -e "@STATE@.$key" ]; then echo running; else echo stopped; fi;;
esac
exit 0
"""


def install_recorders(node, names=("lvs", "mon")) -> None:
    directory = node.etc / "resource.d"
    if node.kind == "c" and not directory.exists():
        import shutil    # the C node needs Debian's IPaddr next to the recorders
        shutil.copytree("/etc/ha.d/resource.d", directory, symlinks=True)
    directory.mkdir(parents=True, exist_ok=True)
    text = (RECORDER.replace("@LOG@", str(node.root / "record.log"))
            .replace("@STATE@", str(node.root / "rscstate")))
    for name in names:
        script = directory / name
        script.write_text(text)
        script.chmod(0o755)


def records(node) -> list[str]:
    """``name args action`` of every recorded call, in order (timestamps dropped)."""
    path = Path(node.root / "record.log")
    if not path.exists():
        return []
    return [" ".join(line.split()[:-1]) for line in path.read_text().splitlines() if line]


@pytest.fixture
def cluster(tmp_path):
    """Two of our directors, nodea and nodeb, and a client (the namespace tests' lab)."""
    lab = TakeoverLab(tmp_path, names=("nodea", "nodeb", "client"),
                      kinds=("ours", "ours", "client"))
    try:
        yield lab.open()
    finally:
        lab.close()


def wait_records(node, expected, timeout=5.0):
    """Wait until ``node``'s last recorded calls are ``expected``."""
    from lvs_compat.lab import wait_for
    wait_for(lambda: records(node)[-len(expected):] == expected, timeout, 0.05,
             f"{node.name}'s last recorded calls to be {expected} (all: {records(node)})")


def clear_records(node) -> None:
    path = Path(node.root / "record.log")
    if path.exists():
        path.unlink()


def stop_async(node):
    """``heartbeat -k`` against ``node`` without waiting for it (a Popen to wait on)."""
    import subprocess
    if node.kind == "c":
        argv = ["nsenter", "-t", str(node.ns_init_pid), "-a", "-r", "-w",
                "/usr/libexec/heartbeat/heartbeat", "-k"]
    else:
        argv = ["ip", "netns", "exec", node.netns, *node.heartbeat_argv("-k")]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def dump(lab) -> None:
    """What a failed takeover test prints of each node: its daemon output and debug log, the
    tail of its ha-log, its recorded resource calls."""
    for node in lab.members:
        print(node.log())
        print(f"--- {node.name}'s ha-log\n" + node.ha_log()[-8000:])
        print(f"--- records {node.name}: {records(node)}")


def shutdone_notice(node) -> str:
    """What the peer logs when ``node``'s shutdone arrives (3.0.6's line, also ours)."""
    return f"Received shutdown notice from '{node.name}'"


def stop_until_the_peer_takes_the_shutdone(node, peer):
    """``heartbeat -k`` of ``node`` (running on); the stop, the moment ``peer``'s log said it
    took the shutdone, and how many such notices its log had before."""
    notices = peer.ha_log().count(shutdone_notice(node))
    stop = stop_async(node)
    wait_for(lambda: peer.ha_log().count(shutdone_notice(node)) > notices, 30, 0.05,
             f"{node.name}'s peer to take its shutdone")
    return stop, time.monotonic(), notices


def assert_taken_at_once(peer, node, notices: int, vip: str) -> None:
    """``peer`` took ``node``'s group because of the shutdone, not after a deadtime: after
    that notice its log has the takeover of the group and no death of ``node`` (a peer that
    missed the shutdone logs "node X: is dead" once deadtime has passed, 3.0.6 and ours).

    Judged from the log, not by a clock: from ``heartbeat -k`` on, the VIP's move is the
    speed of resource scripts (the stopping node's, then the peer's: 3.0.6 runs a standby
    pass over its own group, rc.d/status, mach_down, ResourceManager and IPaddr, about 1 s
    quiet and over 2 s in a loaded run; ours took 1.4 s beside a CPU hog, deadtime 1 s)."""
    after = peer.ha_log().split(shutdone_notice(node))[notices + 1]
    assert f"Taking over resource group {vip}" in after, after[-3000:]
    assert f"node {node.name}: is dead" not in after, after[-3000:]


def block_heartbeats(lab, node, blocked: bool) -> None:
    """Drop (or stop dropping) heartbeat traffic (udp 694) in and out of ``node``: a split
    brain where the client still reaches both nodes."""
    if not blocked:
        lab.ns(node, "nft", "delete", "table", "inet", "hblab")
        return
    rules = node.root / "block-heartbeats.nft"
    rules.write_text("table inet hblab {\n"
                     "  chain in { type filter hook input priority 0; udp dport 694 drop; }\n"
                     "  chain out { type filter hook output priority 0; udp dport 694 drop; }\n"
                     "}\n")
    lab.ns(node, "nft", "-f", str(rules))
