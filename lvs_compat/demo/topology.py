"""The demo's network: one network namespace per machine, joined by a bridge that lives in a hub
namespace of its own and is never connected to a host interface.

Addresses are the seed's (SEED HOWTO "configuration example"): the VIP 10.0.0.3, the directors
lvs1 10.0.0.1 and lvs2 10.0.0.2, the real servers 192.168.0.1 and 192.168.0.2.  The seed gives no
client address; the client is 10.0.0.100.  All machines share one Ethernet segment (the bridge),
as LVS direct routing requires of a director and its real servers; the two IP subnets live on
it side by side, each machine's route to the other subnet is on-link.  Every machine's interface
is ``eth0``, as the seed's ha.conf (``udp eth0``) and the sync daemon's default expect.

Direct routing: each real server has the VIP on ``lo`` with ``arp_ignore=1``/``arp_announce=2``,
so it accepts packets for the VIP without ever answering ARP for it, and replies straight to the
client.  The directors forward (``ip_forward``, set by the ``lvs`` resource).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from lvs_compat.lab import Netlab, run

VIP = "10.0.0.3"
CLIENT_ADDRESS = "10.0.0.100"
PUBLIC_SUBNET = "10.0.0.0/24"
REAL_SUBNET = "192.168.0.0/24"
IFNAME = "eth0"


@dataclass(frozen=True)
class Machine:
    name: str
    address: str           # with prefix length
    role: str              # "client", "director" or "real"
    node_name: str = ""    # heartbeat node name (directors)


MACHINES = (
    Machine("client", f"{CLIENT_ADDRESS}/24", "client"),
    Machine("lvs1", "10.0.0.1/24", "director", "lvs1.domain.com"),
    Machine("lvs2", "10.0.0.2/24", "director", "lvs2.domain.com"),
    Machine("www1", "192.168.0.1/24", "real"),
    Machine("www2", "192.168.0.2/24", "real"),
)
BY_NAME = {machine.name: machine for machine in MACHINES}


class Topology:
    """Creates and removes the namespaces ``<prefix>-<machine>`` and ``<prefix>-hub``, in the
    namespace lab (``lvs_compat.lab``)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.lab = Netlab()

    def netns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @property
    def hub(self) -> str:
        return self.netns("hub")

    def ns(self, name: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.lab.ns(self.netns(name), *argv, check=check)

    def sysctl(self, name: str, *settings: str) -> None:
        self.ns(name, "sysctl", "-qw", *settings)

    def build(self) -> None:
        # the guest's kernel does not autoload these for `ip link add` (its modprobe is the
        # initramfs's); loading them explicitly is harmless where they are built in
        for module in ("bridge", "veth", "ip_vs"):
            run(["modprobe", module], check=False)
        # no multicast snooping: the sync daemon's 224.0.0.81 reaches every port at once
        self.lab.bridge(self.hub, mcast_snooping=False)
        for machine in MACHINES:
            self.plug(machine.name)

    def plug(self, name: str) -> None:
        """A machine (re)booted: a fresh namespace with its wire on the bridge."""
        machine = BY_NAME[name]
        netns = self.lab.add(self.netns(name))
        self.lab.plug(netns, IFNAME, self.hub, name)
        self.lab.address(netns, IFNAME, machine.address, broadcast="+")
        if machine.role == "real":
            run(["ip", "-n", netns, "addr", "add", f"{VIP}/32", "dev", "lo"])
            for scope in ("all", IFNAME):
                self.sysctl(name, f"net.ipv4.conf.{scope}.arp_ignore=1",
                            f"net.ipv4.conf.{scope}.arp_announce=2")
            run(["ip", "-n", netns, "route", "add", PUBLIC_SUBNET, "dev", IFNAME])
        elif machine.role == "director":
            run(["ip", "-n", netns, "route", "add", REAL_SUBNET, "dev", IFNAME])
        else:
            # take every gratuitous ARP at once (the default locktime ignores a second one
            # within 1 s); the client has no route to the real servers' subnet: it only
            # ever talks to the VIP
            self.sysctl(name, f"net.ipv4.neigh.{IFNAME}.locktime=0")

    def unplug(self, name: str) -> None:
        """A machine died: its wire goes first, as when it loses power, then every process in
        it is killed and its namespace (and so its IPVS table, sync daemon threads and
        addresses) is gone.  In that order nothing the dying namespace does reaches the
        network: the kernel's namespace teardown turns IPVS off before it removes the
        interfaces, and in between the VIP's own TCP stack would answer a client's
        retransmission of a forwarded connection with a RST (the demo's long-lived connection
        was reset so in 3 of 4 guest runs on a loaded machine, never on a quiet one)."""
        run(["ip", "-n", self.hub, "link", "del", name], check=False)   # and its peer, eth0
        self.lab.delete(self.netns(name))

    def destroy(self) -> None:
        self.lab.close()
