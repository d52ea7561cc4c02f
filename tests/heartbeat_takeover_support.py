"""Support for the resource takeover tests: a heartbeat lab (``heartbeat_lab``) with a third,
passive "client" namespace on the same bridge, a VIP, and recording scripts standing in for the
seed's ``lvs`` and ``mon``.

* ``TakeoverLab``: nodes of ours or Debian's 3.0.6, plus ``client`` (no daemon; its ARP entry
  for the VIP tells who answers for it);
* ``install_recorders(node, names)``: ``resource.d/<name>`` scripts that append
  ``<name> <args> start|stop`` to ``<node root>/record.log`` and answer ``status`` from a state
  file (``running``/``stopped``, as ResourceManager judges it);
* ``crash(node)``: what a machine's death does to the resources: kill -9 of the node, and its
  VIP and script state gone (INTEROP.md: the lab deletes the VIP from a killed node, a dead
  machine would no longer answer for it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from heartbeat_lab import IFNAME, SUBNET, Lab, run, wait_for

VIP = f"{SUBNET}.100"
VIP2 = f"{SUBNET}.101"

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


class TakeoverLab(Lab):
    """Nodes plus a client namespace on one bridge (``names[-1]`` is the client)."""

    @property
    def client(self):
        return self.nodes[-1]

    @property
    def members(self):
        return self.nodes[:-1]

    def open(self) -> "TakeoverLab":
        super().open()
        # the client takes every gratuitous ARP at once (default locktime is 1 s)
        self.ns(self.client, "sysctl", "-qw", f"net.ipv4.neigh.{IFNAME}.locktime=0")
        return self

    def mac(self, node) -> str:
        out = self.ns(node, "ip", "-j", "link", "show", IFNAME).stdout
        return json.loads(out)[0]["address"]

    def holders(self, vip: str = VIP) -> list[str]:
        """Names of the nodes that have ``vip`` configured."""
        found = []
        for node in self.members:
            out = self.ns(node, "ip", "-j", "-4", "addr", "show").stdout
            if any(info.get("local") == vip for link in json.loads(out)
                   for info in link.get("addr_info", ())):
                found.append(node.name)
        return found

    def client_sees(self, vip: str = VIP) -> str | None:
        """The MAC in the client's neighbour entry for ``vip`` (None if there is none)."""
        out = self.ns(self.client, "ip", "-j", "neigh", "show", vip).stdout
        entries = json.loads(out or "[]")
        return entries[0].get("lladdr") if entries else None

    def client_ping(self, vip: str = VIP) -> bool:
        """One ping from the client (fills its ARP cache); True if answered."""
        return run(["ip", "netns", "exec", self.client.netns, "ping", "-c", "1", "-W", "1",
                    vip], check=False, timeout=5).returncode == 0

    def wait_holder(self, node, timeout: float, vip: str = VIP) -> float:
        """Wait until ``node`` alone holds ``vip``; the seconds it took."""
        started = time.monotonic()
        wait_for(lambda: self.holders(vip) == [node.name], timeout, 0.05,
                 f"{vip} on {node.name} alone (holders: {self.holders(vip)})")
        return time.monotonic() - started

    def wait_client_sees(self, node, timeout: float, vip: str = VIP) -> None:
        mac = self.mac(node)
        wait_for(lambda: self.client_sees(vip) == mac, timeout, 0.05,
                 f"the client's ARP entry for {vip} to be {node.name}'s {mac}")

    def crash(self, node, vips=(VIP,)) -> None:
        node.kill9()
        for vip in vips:
            run(["ip", "netns", "exec", node.netns, "ip", "addr", "del", f"{vip}/24", "dev",
                 IFNAME], check=False)
        for state in node.root.glob("rscstate.*"):
            state.unlink()


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


def clear_records(node) -> None:
    path = Path(node.root / "record.log")
    if path.exists():
        path.unlink()


def rscstatus(node) -> str:
    return node.cl_status("rscstatus").stdout.strip()


def hb_tool(node, tool: str, *args: str):
    """``bin/hb_standby``/``bin/hb_takeover`` of ours against ``node``'s FIFO, or Debian's
    scripts inside a C node's namespaces."""
    import sys
    from heartbeat_lab import REPO
    if node.kind == "c":
        return node.nsenter(f"/usr/share/heartbeat/{tool}", *args)
    return run([sys.executable, str(REPO / "bin" / tool), "--state-dir", str(node.state), *args],
               check=False, timeout=10)


def stop_async(node):
    """``heartbeat -k`` against ``node`` without waiting for it (a Popen to wait on)."""
    import subprocess
    if node.kind == "c":
        argv = ["nsenter", "-t", str(node.ns_init_pid), "-a", "-r", "-w",
                "/usr/libexec/heartbeat/heartbeat", "-k"]
    else:
        argv = ["ip", "netns", "exec", node.netns, *node.heartbeat_argv("-k")]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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
