"""The namespaces of the address tests (tests/test_addresses_netns.py, the lab's gratuitous-ARP
timing; tests/test_addresses_debian_netns.py, the differential against Debian's IPaddr and
findif): two director nodes and a client on one bridge.

Topology (names carry the pid of the pytest process, everything is removed by the fixture even
when a test fails; no host interface is touched, no frame leaves these namespaces)::

    node A eth0 ─┐
    node B eth0 ─┼─ br0 in a hub namespace
    client eth0 ─┘        10.252.0.0/24: A .1, B .2, client .10, VIP .100
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from lvs_compat.lab import Netlab

SUBNET = "10.252.0"
VIP = f"{SUBNET}.100"
DEBIAN_IPADDR = "/etc/ha.d/resource.d/IPaddr"
FINDIF = "/usr/libexec/heartbeat/findif"


def run(argv, check=True, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=check,
                          **kwargs)


def why_not() -> str | None:
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
        return run(["ip", "netns", "exec", self.nodes[node], *argv], check=check, env=env)

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
            done = subprocess.run(["ip", "netns", "exec", self.nodes[node], DEBIAN_IPADDR, *args],
                                  stdout=out, stderr=subprocess.DEVNULL, env=env, timeout=30)
            out.seek(0)
            return subprocess.CompletedProcess(done.args, done.returncode, out.read(), "")

    def executor(self, node, haresources, ops, arp=None, timeout=30):
        """Run a GroupExecutor inside ``node``'s namespace; returns its JSON report."""
        job = {"config_dir": str(self.tmp / f"ha.d-{node}"), "haresources": haresources,
               "ops": ops, "arp": arp or {}, "debugfile": str(self.tmp / f"ha-debug-{node}")}
        os.makedirs(job["config_dir"], exist_ok=True)
        result = run(["ip", "netns", "exec", self.nodes[node], sys.executable, "-c",
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
    reason = why_not()
    if reason:
        pytest.skip(reason)
    lab = Net(tmp_path)
    try:
        lab.setup()
        yield lab
    finally:
        lab.close()

