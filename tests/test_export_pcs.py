"""`lvs-compat export pacemaker --format pcs`: the commands run by pcs itself (Debian's pcs 0.11.5,
Makefile DEBS) against an empty CIB file, then `crm_verify` on what they built, and the result
is the CIB `--format xml` writes: same resources, agents, group order, parameters, location score,
options.

The script's first command, `pcs cluster cib cib.xml`, reads a running cluster's CIB; here
`cibadmin --empty` makes that file, and every other line is run as it is written (split as sh
would split it).  pcs refuses an agent it cannot read the meta-data of, so `ocf:lvs-compat:lvs`
must be where the export says to install it: a holder process (``unshare --mount``) puts the
exported agent into /usr/lib/ocf/resource.d/lvs-compat/ through an overlay visible only in its
mount namespace (tmpfs upper layer), and each pcs command runs there (``nsenter``): the host's
/usr/lib/ocf is not touched."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from export_support import make_ha_dir
from test_export_pacemaker import export, run, tool

# make test-slow, not make test: pcs and its Ruby cost about 40 s of set-up on a fresh machine
# (Makefile DEBS_SLOW) for one check of the --format pcs text, which crm_verify cannot read.
pytestmark = pytest.mark.slow

OCF_RESOURCE_D = "/usr/lib/ocf/resource.d"
# The holder's script is a constant: $1 a directory for the overlay's layers, $2 the agent.
HOLDER = f"""set -e
mount -t tmpfs -o mode=0755 lvsexp-ocf "$1"
mkdir -p "$1/upper/lvs-compat" "$1/work"
install -m 0755 "$2" "$1/upper/lvs-compat/lvs"
mount -t overlay -o "lowerdir={OCF_RESOURCE_D},upperdir=$1/upper,workdir=$1/work" lvsexp-ocf {OCF_RESOURCE_D}
echo ready
exec sleep infinity
"""


@pytest.fixture
def agent_namespace(tmp_path):
    """Runs argv in a mount namespace where the exported OCF agent is installed."""
    assert os.geteuid() == 0, "the overlay on /usr/lib/ocf needs root (a private mount namespace)"
    layers = tmp_path / "layers"
    layers.mkdir()
    holders = []

    def start(agent):
        holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "bash", "-c", HOLDER,
                                   "holder", str(layers), str(agent)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        holders.append(holder)
        assert holder.stdout.readline().strip() == "ready", holder.stderr.read()

        def inside(argv, cwd):
            return run(["nsenter", "-t", str(holder.pid), "-m", f"--wd={cwd}", "--", *argv])
        return inside

    yield start
    for holder in holders:
        holder.kill()
        holder.wait()


def resources(cib):
    """What the CIB says about the cluster, ids of nvpairs and ops aside (pcs names those its way)."""
    config = ET.parse(cib).getroot().find("configuration")

    def nvpairs(element):
        return {} if element is None else {pair.get("name"): pair.get("value") for pair in element.iter("nvpair")}

    def primitive(p):
        return (p.get("id"), p.get("class"), p.get("provider"), p.get("type"),
                nvpairs(p.find("instance_attributes")),
                sorted((op.get("name"), op.get("interval"), op.get("timeout")) for op in p.iter("op")))

    resources = config.find("resources")
    groups = {group.get("id"): [primitive(p) for p in group.findall("primitive")]
              for group in resources.findall("group")}
    clones = {clone.get("id"): [primitive(p) for p in clone.findall("primitive")]
              for clone in resources.findall("clone")}
    locations = sorted([(c.get("rsc"), c.get("node"), c.get("score"),
                         [(rule.get("score"), rule.get("boolean-op"),
                           [(e.get("attribute"), e.get("operation"), e.get("value"), e.get("type"))
                            for e in rule.findall("expression")]) for rule in c.findall("rule")])
                        for c in config.find("constraints").findall("rsc_location")], key=repr)
    options = nvpairs(config.find("crm_config"))
    return {"groups": groups, "clones": clones, "locations": locations,
            "stonith-enabled": options.get("stonith-enabled"), "dc-deadtime": options.get("dc-deadtime"),
            "rsc_defaults": nvpairs(config.find("rsc_defaults"))}


# The seed's ha.conf with a ping node and auto_failback off, and its haresources line with a netmask
# and a Filesystem, plus a second group: every kind of pcs command the export writes (groups, a
# clone, location scores and rules, INFINITY stickiness) in one run; pcs starts in about 1 s per
# command.  Every agent must exist here, since pcs reads its meta-data (lsb:mon is Debian's mon,
# Makefile DEBS).
HA_CONF_EXTRA = "ping 10.0.0.254\nauto_failback off\n"
HARESOURCES = ("lvs1.domain.com 10.0.0.3/24/eth0/10.0.0.255 Filesystem::/dev/sdb1::/srv::ext4 lvs mon\n"
               "lvs2.domain.com IPaddr2::10.0.0.4/255.255.255.0/eth1\n")


def test_pcs_runs_the_exported_commands_and_builds_the_xml_exports_cib(tmp_path, agent_namespace):
    pcs = shutil.which("pcs")
    assert pcs, "pcs missing: make deps installs it"
    ha_dir = make_ha_dir(tmp_path, HA_CONF_EXTRA, haresources=HARESOURCES)
    out = tmp_path / "pcs"
    result = export(ha_dir, "--format", "pcs", "--out-dir", out)
    assert result.returncode == 0, result.stderr
    script = (out / "cib.pcs.sh").read_text().splitlines()
    commands = [shlex.split(line) for line in script if line.startswith("pcs -f cib.xml ")]
    # every line but these is run below
    assert [line for line in script if not line.startswith("pcs -f cib.xml ")] == [
        "#!/bin/sh", "# Build cib.xml with pcs, then push it: pcs cluster cib-push cib.xml", "set -e",
        "pcs cluster cib cib.xml"]
    empty = run([tool("cibadmin"), "--empty"])
    assert empty.returncode == 0, empty.stderr
    (out / "cib.xml").write_text(empty.stdout)

    inside = agent_namespace(out / "ocf-lvs-compat-lvs")
    for argv in commands:
        ran = inside(argv, out)
        assert ran.returncode == 0, f"{shlex.join(argv)}: {ran.stdout}{ran.stderr}"
        assert "Error" not in ran.stderr, f"{shlex.join(argv)}: {ran.stderr}"
    verify = run([tool("crm_verify"), "--xml-file", out / "cib.xml"])
    assert verify.returncode == 0, verify.stdout + verify.stderr

    xml_out = tmp_path / "xml"
    assert export(ha_dir, "--out-dir", xml_out).returncode == 0
    built, written = resources(out / "cib.xml"), resources(xml_out / "cib.xml")
    assert built == written
    # not two empty CIBs
    assert sorted([member[3] for member in group] for group in built["groups"].values()) == [
        ["IPaddr2"], ["IPaddr2", "Filesystem", "lvs", "mon"]]
    assert [[member[3] for member in clone] for clone in built["clones"].values()] == [["ping"]]
    assert [location[3][0][:2] for location in built["locations"] if location[3]] == [("-INFINITY", "or")] * 2
    assert built["rsc_defaults"] == {"resource-stickiness": "INFINITY"}

