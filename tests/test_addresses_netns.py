"""IP takeover in private network namespaces: two director nodes and a client on one bridge.

* differential: Debian's /etc/ha.d/resource.d/IPaddr (resource-agents 4.12) and ours on the same
  shorthand forms give the same ``ip addr`` state and the same status answers, each judging the
  other's work; our interface/netmask choice equals /usr/libexec/heartbeat/findif's;
* the gratuitous ARP of a takeover, captured by tcpdump in the client namespace: 10 requests and
  10 replies alternating every 250 ms, broadcast, sender IP = target IP = VIP, and the client's
  neighbour entry for the VIP moves to the new holder's MAC; ``reannounce`` after a split brain
  moves it back to the winner.

Topology (names carry our pid, everything is removed by the fixture even when a test fails; no
host interface is touched, no frame leaves these namespaces)::

    node A eth0 ─┐
    node B eth0 ─┼─ br0 in a hub namespace
    client eth0 ─┘        10.252.0.0/24: A .1, B .2, client .10, VIP .100
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time

import pytest

from conftest import REPO
from lvs_compat.lab import Netlab
from lvs_compat.addresses import IPADDR_ARP, arp_schedule

SUBNET = "10.252.0"
VIP = f"{SUBNET}.100"
DEBIAN_IPADDR = "/etc/ha.d/resource.d/IPaddr"
FINDIF = "/usr/libexec/heartbeat/findif"
pytestmark = [pytest.mark.interop, pytest.mark.lab]


def _run(argv, check=True, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=check,
                          **kwargs)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "tcpdump"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


class Net:
    def __init__(self, tmp_path):
        self.tag = f"lca{os.getpid()}"
        self.hub = f"{self.tag}hub"
        self.nodes = {name: f"{self.tag}{name}" for name in ("a", "b", "c")}
        self.tmp = tmp_path
        self.lab = Netlab()

    def setup(self):
        self.lab.bridge(self.hub)
        for name, ns in self.nodes.items():
            self.lab.add(ns)
            self.lab.plug(ns, "eth0", self.hub, f"p{name}")
            host = {"a": 1, "b": 2, "c": 10}[name]
            self.lab.address(ns, "eth0", f"{SUBNET}.{host}/24")
        # the client takes every gratuitous ARP at once (default locktime is 1 s)
        self.ns_run("c", ["sysctl", "-qw", "net.ipv4.neigh.eth0.locktime=0"])

    def close(self):
        self.lab.close()

    def ns_run(self, node, argv, check=True, env=None):
        return _run(["ip", "netns", "exec", self.nodes[node], *argv], check=check, env=env)

    def mac(self, node) -> str:
        return json.loads(self.ns_run(node, ["ip", "-j", "link", "show", "eth0"]).stdout)[0][
            "address"]

    def vip_entries(self, node) -> list[tuple]:
        """(ifname, label, prefixlen, broadcast, secondary) of the VIP on ``node``."""
        links = json.loads(self.ns_run(node, ["ip", "-j", "-4", "addr", "show"]).stdout)
        return sorted((link["ifname"], info.get("label"), info["prefixlen"],
                       info.get("broadcast"), bool(info.get("secondary")))
                      for link in links for info in link.get("addr_info", ())
                      if info.get("local") == VIP)

    def client_neighbour(self) -> str | None:
        entries = json.loads(self.ns_run("c", ["ip", "-j", "neigh", "show", VIP]).stdout or "[]")
        return entries[0].get("lladdr") if entries else None

    def ping_from_client(self):
        self.ns_run("c", ["ping", "-c", "1", "-W", "2", VIP])

    def ours(self, node, *args, check=False):
        env = {**os.environ, "HA_RSCTMP": str(self.tmp / f"rsctmp-{node}")}
        return self.ns_run(node, [sys.executable, "-m", "lvs_compat.addresses", *args],
                           check=check, env=env)

    def debian(self, node, *args):
        env = {**os.environ, "HA_RSCTMP": str(self.tmp / f"rsctmp-debian-{node}")}
        os.makedirs(env["HA_RSCTMP"], exist_ok=True)
        # a file, not a pipe: IPaddr leaves send_arp running for 4.75 s with our stderr
        with open(self.tmp / "debian-ipaddr.out", "w+") as out:
            run = subprocess.run(["ip", "netns", "exec", self.nodes[node], DEBIAN_IPADDR, *args],
                                 stdout=out, stderr=subprocess.DEVNULL, env=env, timeout=30)
            out.seek(0)
            return subprocess.CompletedProcess(run.args, run.returncode, out.read(), "")

    def executor(self, node, haresources, ops, arp=None, timeout=30):
        """Run a GroupExecutor inside ``node``'s namespace; returns its JSON report."""
        job = {"config_dir": str(self.tmp / f"ha.d-{node}"), "haresources": haresources,
               "ops": ops, "arp": arp or {}, "debugfile": str(self.tmp / f"ha-debug-{node}")}
        os.makedirs(job["config_dir"], exist_ok=True)
        result = _run(["ip", "netns", "exec", self.nodes[node], sys.executable, "-c",
                       EXECUTOR_JOB, json.dumps(job)], check=False)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def start_capture(self, path):
        process = self.lab.start(
            self.nodes["c"], ["tcpdump", "-i", "eth0", "-n", "-U", "--immediate-mode",
                              "-w", str(path), "arp"], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=False)
        line = process.stderr.readline().decode()
        assert "listening on" in line, line
        return process


EXECUTOR_JOB = r"""
import json, sys, time
from lvs_compat.addresses import ArpSettings
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.heartbeat.agents import GroupExecutor
job = json.loads(sys.argv[1])
haresources = parse_haresources(job["haresources"])
executor = GroupExecutor(job["config_dir"], haresources, job["debugfile"],
                         arp={k: ArpSettings(*v) for k, v in job["arp"].items()})
key = haresources.groups[0].key
report = []
for op in job["ops"]:
    started, wall = time.monotonic(), time.time()
    if op in ("start", "stop"):
        result = (executor.start_group if op == "start" else executor.stop_group)(key)
        report.append({"op": op, "ok": result.ok, "seconds": time.monotonic() - started,
                       "wall": wall,
                       "outputs": [o.output for o in result.outcomes]})
    elif op == "reannounce":
        report.append({"op": op, "ips": list(executor.reannounce(key))})
    elif op == "wait":
        done = executor.wait_announcements(15)
        report.append({"op": op, "done": done,
                       "frames": [a.frames_sent for a in executor.announcer.history],
                       "errors": [a.error for a in executor.announcer.history if a.error]})
print(json.dumps(report))
"""


@pytest.fixture
def net(tmp_path):
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    lab = Net(tmp_path)
    try:
        lab.setup()
        yield lab
    finally:
        lab.close()


def read_arp_pcap(path) -> list[tuple[float, bytes]]:
    """(time, Ethernet frame) of every record of a classic little-endian pcap file."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), hex(magic)
    scale = 1e-6 if magic == 0xA1B2C3D4 else 1e-9
    frames, offset = [], 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = struct.unpack_from("<IIII", data, offset)
        offset += 16
        frames.append((seconds + fraction * scale, data[offset:offset + captured]))
        offset += captured
    return frames


def _mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


# --- differential: Debian's IPaddr and findif ------------------------------------------------

FORMS = [VIP, f"{VIP}/24", f"{VIP}/25/eth0", f"{VIP}/24/{SUBNET}.127",
         f"{VIP}/24/eth0/{SUBNET}.200", f"{VIP}/255.255.255.0"]


@pytest.mark.skipif(not os.path.exists(DEBIAN_IPADDR), reason="needs resource-agents")
def test_ipaddr_shorthand_forms_give_the_same_addresses_as_debians_ipaddr(net):
    from lvs_compat.heartbeat.agents import judge_status_output
    for form in FORMS:
        assert net.vip_entries("a") == []
        started = net.debian("a", form, "start")
        assert started.returncode == 0, (form, started.stdout, started.stderr)
        theirs = net.vip_entries("a")
        assert theirs and theirs[0][1] == "eth0:0", (form, theirs)  # alias label IF:N
        assert judge_status_output(net.debian("a", form, "status").stdout), form
        assert judge_status_output(net.ours("a", "IPaddr", form, "status").stdout), form
        assert net.debian("a", form, "stop").returncode == 0
        assert net.vip_entries("a") == [], form
        assert not judge_status_output(net.ours("a", "IPaddr", form, "status").stdout)

        started = net.ours("a", "IPaddr", form, "start")
        assert started.returncode == 0, (form, started.stdout, started.stderr)
        assert net.vip_entries("a") == theirs, form
        assert judge_status_output(net.debian("a", form, "status").stdout), form
        assert net.ours("a", "IPaddr", form, "status").returncode == 0
        assert net.ours("a", "IPaddr", form, "stop").returncode == 0
        assert net.vip_entries("a") == [], form
        assert not judge_status_output(net.debian("a", form, "status").stdout), form
        # stopping what is stopped succeeds, for both
        assert net.ours("a", "IPaddr", form, "stop").returncode == 0
        assert net.debian("a", form, "stop").returncode == 0


def test_ipaddr2_adds_a_plain_secondary_and_ipaddr_an_alias(net):
    assert net.ours("a", "IPaddr2", f"{VIP}/24", "start").returncode == 0
    assert net.vip_entries("a") == [("eth0", "eth0", 24, f"{SUBNET}.255", True)]
    assert net.ours("a", "IPaddr", f"{VIP}/24", "status").returncode == 0  # present = running
    assert net.ours("a", "IPaddr2", f"{VIP}/24", "stop").returncode == 0
    assert net.vip_entries("a") == []
    # IPaddr2's interface[:label]
    assert net.ours("a", "IPaddr2", f"{VIP}/24/eth0:vip", "start").returncode == 0
    assert net.vip_entries("a") == [("eth0", "eth0:vip", 24, f"{SUBNET}.255", True)]
    assert net.ours("a", "IPaddr2", f"{VIP}/24/eth0:vip", "stop").returncode == 0
    assert net.vip_entries("a") == []
    # a VIP configured on another interface than the one named is not "ours" (ip_status_internal)
    net.ns_run("a", ["ip", "addr", "add", f"{VIP}/32", "dev", "lo"])
    status = net.ours("a", "IPaddr", f"{VIP}/24/eth0", "status")
    assert status.returncode == 3 and "instead of the configured one" in status.stdout


@pytest.mark.skipif(not os.path.exists(FINDIF), reason="needs resource-agents")
def test_interface_and_netmask_discovery_matches_findif(net):
    for route in (["10.8.0.0/16", "dev", "eth0"], ["10.8.5.0/24", "dev", "eth0", "metric", "5"],
                  ["default", "via", f"{SUBNET}.254"]):
        net.ns_run("a", ["ip", "route", "add", *route])
    from lvs_compat.config.haresources import parse_ip_spec
    specs = [*FORMS, "10.8.5.9", "10.8.9.9/20", "10.7.0.1", "10.7.0.1/16", "127.0.0.9",
             f"{VIP}/24/nosuch0"]
    for spec in specs:
        ip, netmask, nic, broadcast = parse_ip_spec(spec)
        env = {"OCF_RESKEY_ip": ip, "PATH": os.environ["PATH"]}
        for name, value in (("cidr_netmask", netmask), ("nic", nic), ("broadcast", broadcast)):
            if value:
                env[f"OCF_RESKEY_{name}"] = value
        theirs = net.ns_run("a", [FINDIF], check=False, env=env)
        ours = net.ours("a", "findif", spec)
        assert (ours.returncode == 0) == (theirs.returncode == 0), (spec, theirs, ours)
        assert ours.stdout == theirs.stdout, spec


# --- gratuitous ARP on the wire -----------------------------------------------------------------

def test_takeover_announces_the_vip_like_send_arp_and_the_client_follows(net, tmp_path):
    haresources = f"nodea {VIP}/24/eth0\n"
    # node B held the VIP and the client talked to it
    net.executor("b", haresources, ["start", "wait"], arp={"IPaddr": [100, 1]})
    net.ping_from_client()
    mac_a, mac_b = net.mac("a"), net.mac("b")
    assert net.client_neighbour() == mac_b
    net.ns_run("b", ["ip", "link", "set", "eth0", "down"])  # B dies with the VIP configured

    capture = tmp_path / "arp.pcap"
    tcpdump = net.start_capture(capture)
    report = net.executor("a", haresources, ["start", "wait"])
    tcpdump.send_signal(signal.SIGINT)
    tcpdump.wait(10)

    start, wait = report
    assert start["ok"] and start["seconds"] < 1.0, start  # ARP does not hold up the takeover
    assert wait["done"] and wait["frames"] == [20] and not wait["errors"], wait
    assert net.vip_entries("a") == [("eth0", "eth0:0", 24, f"{SUBNET}.255", True)]
    assert net.client_neighbour() == mac_a

    frames = [(t, f) for t, f in read_arp_pcap(capture) if f[6:12] == _mac_bytes(mac_a)]
    assert len(frames) == 20, " ".join(f"{t - frames[0][0]:.3f}:{f[21]}" for t, f in frames)
    vip = bytes(int(part) for part in VIP.split("."))
    ops = []
    for _, frame in frames:
        assert frame[0:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x06"
        arp = frame[14:42]
        assert arp[:6] == bytes.fromhex("000108000604")
        op = struct.unpack_from(">H", arp, 6)[0]
        ops.append(op)
        assert arp[8:14] == _mac_bytes(mac_a) and arp[14:18] == vip and arp[24:28] == vip
        assert arp[18:24] == (b"\0" * 6 if op == 1 else _mac_bytes(mac_a))
    assert ops == [1, 2] * 10
    # send_arp's 250 ms steps, kept as offsets from the first frame (arp_schedule): never early,
    # and a frame a loaded machine sent late does not push back the ones after it (a loaded run
    # saw gaps of 0.45 s then 0.04 s), so the spacing is judged on the median gap
    gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
    offsets = [t - frames[0][0] for t, _ in frames]
    planned = [offset for offset, _ in arp_schedule(IPADDR_ARP)]
    assert all(offset > plan - 0.05 for offset, plan in zip(offsets, planned)), offsets
    assert 0.2 < statistics.median(gaps) < 0.3, gaps
    assert 4.5 < frames[-1][0] - frames[0][0] < 5.2
    # the first frame waits for scapy's import in the sender thread (~0.1 s), not more
    first_frame_delay = frames[0][0] - start["wall"]
    print(f"first gratuitous ARP {first_frame_delay * 1000:.0f} ms after start_group began")
    assert first_frame_delay < 1.0

    stopped = net.executor("a", haresources, ["stop"])
    assert stopped[0]["ok"] and net.vip_entries("a") == []
    debug = (tmp_path / "ha-debug-a").read_text()
    assert "label eth0:0" in debug and "released from eth0:0" in debug


def test_reannounce_after_a_split_brain_wins_the_clients_arp_entry_back(net):
    haresources = f"nodea {VIP}/24/eth0\n"
    quick = {"IPaddr": [100, 2]}
    assert net.executor("a", haresources, ["start", "wait"], arp=quick)[0]["ok"]
    net.ping_from_client()
    assert net.client_neighbour() == net.mac("a")
    # the link heals with both holding the VIP; B's announcement was the last one heard
    assert net.executor("b", haresources, ["start", "wait"], arp=quick)[0]["ok"]
    assert net.client_neighbour() == net.mac("b")
    # the auto_failback winner releases nothing and re-sends gratuitous ARP; the loser stops
    assert net.executor("b", haresources, ["stop", "reannounce"])[1]["ips"] == []
    report = net.executor("a", haresources, ["reannounce", "wait"], arp=quick)
    assert report[0]["ips"] == [VIP] and report[1]["frames"] == [4]
    assert net.client_neighbour() == net.mac("a")


def test_sendarp_announces_without_adding_the_address(net, tmp_path):
    capture = tmp_path / "sendarp.pcap"
    tcpdump = net.start_capture(capture)
    report = net.executor("a", f"nodea SendArp::{VIP}/eth0\n", ["start", "wait", "stop"],
                          arp={"SendArp": [100, 2]})
    tcpdump.send_signal(signal.SIGINT)
    tcpdump.wait(10)
    assert report[0]["ok"] and report[1]["frames"] == [4] and report[2]["ok"]
    assert net.vip_entries("a") == []
    mac_a = _mac_bytes(net.mac("a"))
    assert len([f for _, f in read_arp_pcap(capture) if f[6:12] == mac_a]) == 4


# --- Filesystem ---------------------------------------------------------------------------------

FILESYSTEM_JOB = r"""
import json, subprocess, sys
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.heartbeat.agents import GroupExecutor
directory = sys.argv[1]
haresources = parse_haresources(f"nodea Filesystem::tmpfs::{directory}::tmpfs\n")
executor = GroupExecutor("/nonexistent", haresources)
resource = haresources.groups[0].resources[0]
def debian(action):
    run = subprocess.run(["/etc/ha.d/resource.d/Filesystem", "tmpfs", directory, "tmpfs", action],
                         capture_output=True, text=True)
    return run.returncode
report = {"before": executor.status(resource)}
report["start"] = executor.start_group(resource.raw).ok
report["ours_running"] = executor.status(resource)
report["debian_status"] = debian("status")
report["stop"] = executor.stop_group(resource.raw).ok
report["after"] = executor.status(resource)
report["debian_after"] = debian("status")
report["debian_start"] = debian("start")
report["ours_on_debian"] = executor.status(resource)
report["debian_stop"] = debian("stop")
report["ours_after_debian"] = executor.status(resource)
print(json.dumps(report))
"""


def test_filesystem_mounts_and_unmounts_and_agrees_with_debians_status(tmp_path):
    if _why_not() or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare")
    directory = tmp_path / "shared"  # haresources arguments cannot contain blanks
    # a private mount namespace: nothing is mounted on the host, even if the test fails
    result = _run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
                   FILESYSTEM_JOB, str(directory)], check=False, cwd=str(REPO))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["before"] is False and report["start"] and report["ours_running"]
    assert report["stop"] and report["after"] is False
    if os.path.exists("/etc/ha.d/resource.d/Filesystem"):
        assert report["debian_status"] == 0 and report["debian_after"] != 0
        assert report["debian_start"] == 0 and report["ours_on_debian"] is True
        assert report["debian_stop"] == 0 and report["ours_after_debian"] is False


@pytest.mark.skipif(not os.path.exists(FINDIF), reason="needs resource-agents")
def test_random_route_tables_give_findifs_answer(net):
    """Differential on random tables: routes of random length and metric on two interfaces, in
    random order; our pure choice on the kernel's /proc/net/route against findif's."""
    import random
    from lvs_compat.addresses import AddressError, find_interface, parse_route_table
    from lvs_compat.config.haresources import IpAddressSpec
    net.ns_run("a", ["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth2"])
    for ifname in ("eth1", "eth2"):
        net.ns_run("a", ["ip", "link", "set", ifname, "up"])
    import ipaddress
    rng = random.Random(6)
    answered = refused = 0
    for _ in range(30):
        net.ns_run("a", ["ip", "route", "flush", "table", "main"])
        for _ in range(rng.randint(0, 5)):
            bits = rng.choice([0, 8, 12, 16, 20, 24, 28, 32])
            address = f"10.{rng.choice([8, 9])}.{rng.choice([0, 5, 16])}.0/{bits}"
            route = "default" if bits == 0 else str(ipaddress.ip_network(address, strict=False))
            net.ns_run("a", ["ip", "route", "add", route, "dev", rng.choice(["eth0", "eth1"]),
                             "metric", str(rng.choice([0, 0, 5, 10]))], check=False)
        table = net.ns_run("a", ["cat", "/proc/net/route"]).stdout
        for _ in range(6):
            ip = f"10.{rng.choice([8, 9, 7])}.{rng.choice([0, 5, 17])}.{rng.randint(1, 254)}"
            netmask = rng.choice([None, None, "16", "24", "255.255.255.0"])
            env = {"OCF_RESKEY_ip": ip, "PATH": os.environ["PATH"]}
            if netmask:
                env["OCF_RESKEY_cidr_netmask"] = netmask
            theirs = net.ns_run("a", [FINDIF], check=False, env=env)
            try:
                ours = find_interface(IpAddressSpec(ip, netmask, None, None),
                                      parse_route_table(table), ["lo", "eth0", "eth1", "eth2"])
                line = ours.findif_line() + "\n"
            except AddressError:
                line = None
            assert (line is not None) == (theirs.returncode == 0), (table, ip, netmask, theirs)
            if line is not None:
                assert line == theirs.stdout, (table, ip, netmask)
            answered, refused = answered + (line is not None), refused + (line is None)
    assert answered > 60 and refused > 10, (answered, refused)
