"""Debian's /etc/ha.d/resource.d/IPaddr (resource-agents 4.12) and ours on the same shorthand
forms, in private network namespaces (tests/addresses_netns_support.py): the same ``ip addr``
state and the same status answers, each judging the other's work; our interface/netmask choice
equals /usr/libexec/heartbeat/findif's; Filesystem against Debian's status.  Nothing here is
timed, so make test's second lane runs it beside the lab (tests/second_lane.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from addresses_netns_support import (DEBIAN_IPADDR, FINDIF, SUBNET, VIP, net,  # noqa: F401
                                     run, why_not)
from conftest import REPO

pytestmark = pytest.mark.interop


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
    if why_not() or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare")
    directory = tmp_path / "shared"  # haresources arguments cannot contain blanks
    # a private mount namespace: nothing is mounted on the host, even if the test fails
    result = run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
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
