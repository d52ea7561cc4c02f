"""`lvs-compat export pacemaker`: the CIB Pacemaker's own tools accept, and the director story
crm_simulate tells with it (both up -> home node; home fails -> the other; home returns ->
where auto_failback says).  crm_verify, crm_simulate, crm_attribute and cibadmin come from
Debian's pacemaker-cli-utils (Makefile DEBS)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SHARED
from export_support import make_ha_dir

SEED = SHARED / "seed" / "examples"
EXPORT = [sys.executable, str(REPO / "bin" / "lvs-compat"), "export"]
LVS1, LVS2 = "lvs1.domain.com", "lvs2.domain.com"


def tool(name):
    path = shutil.which(name) or f"/usr/sbin/{name}"
    assert os.access(path, os.X_OK), f"{name} missing: make deps installs pacemaker-cli-utils"
    return path


def run(argv, env=None, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, **kwargs)


def export(ha_dir, *args, mon_cf=SEED / "mon.cf"):
    return run([*EXPORT, "pacemaker", "--ha-dir", ha_dir, "--mon-cf", mon_cf, *args])


def exported_cib(tmp_path, ha_dir):
    result = export(ha_dir, "--out-dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    return tmp_path / "out" / "cib.xml"


def simulate(cib, saved, *args):
    result = run([tool("crm_simulate"), "--xml-file", cib, "--simulate", "--quorum=true", *args,
                  "--save-output", saved])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def where_started(simulation):
    """{resource: node} from the 'Revised Cluster Status' part of crm_simulate's output."""
    revised = simulation.split("Revised Cluster Status:")[1]
    return dict(re.findall(r"\* (\S+)\s+\(\S+\):\s+Started (\S+)", revised))


def reboot(saved, node_id):
    """The node's old status wiped, as the controller does when a rebooted node rejoins."""
    result = run([tool("cibadmin"), "--delete", "--xml-text", f'<node_state id="{node_id}"/>'],
                 env={"CIB_file": str(saved)})
    assert result.returncode == 0, result.stderr


def test_seed_cib_passes_crm_verify_without_a_word(tmp_path):
    cib = exported_cib(tmp_path, make_ha_dir(tmp_path))
    result = run([tool("crm_verify"), "--xml-file", cib, "-V"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = cib.read_text()
    assert "<!--" not in text  # crmsh 4.4 cannot show a CIB whose comments hold a quote
    ids = re.findall(r' id="([^"]+)"', text)
    assert len(ids) == len(set(ids))


def test_export_is_the_same_bytes_every_run(tmp_path):
    ha_dir = make_ha_dir(tmp_path)
    first, second = export(ha_dir), export(ha_dir)
    assert first.returncode == 0 and first.stdout == second.stdout


@pytest.mark.parametrize("auto_failback, home_after_return", [
    ("on", LVS1), ("legacy", LVS1), ("off", LVS2)])
def test_director_story_in_crm_simulate(tmp_path, auto_failback, home_after_return):
    cib = exported_cib(tmp_path, make_ha_dir(tmp_path, f"auto_failback {auto_failback}\n"))
    group = ("vip-10.0.0.3", "lvs", "mon")

    boot = simulate(cib, tmp_path / "s1.xml", f"--node-up={LVS1}", f"--node-up={LVS2}")
    assert where_started(boot) == dict.fromkeys(group, LVS1)
    starts = re.findall(r"Resource action: (\S+)\s+start on", boot)
    assert starts == list(group)  # haresources order

    failed = simulate(tmp_path / "s1.xml", tmp_path / "s2.xml", f"--node-fail={LVS1}")
    assert where_started(failed) == dict.fromkeys(group, LVS2)

    reboot(tmp_path / "s2.xml", 1)
    back = simulate(tmp_path / "s2.xml", tmp_path / "s3.xml", f"--node-up={LVS1}")
    assert where_started(back) == dict.fromkeys(group, home_after_return)
    if home_after_return == LVS1:  # moved: stopped right to left on lvs2 first
        stops = re.findall(r"Resource action: (\S+)\s+stop on " + re.escape(LVS2), back)
        assert stops == list(reversed(group))
    else:  # only the returning node's probes: nothing starts or stops
        assert re.findall(r"Resource action: \S+\s+(?:start|stop) on", back) == []
        assert "Resource action: mon             monitor on lvs1.domain.com" in back


def test_ping_node_keeps_the_group_where_the_ping_node_answers(tmp_path):
    ha_dir = make_ha_dir(tmp_path, "ping 10.0.0.254\nrespawn hacluster /usr/lib/heartbeat/ipfail\n")
    cib = exported_cib(tmp_path, ha_dir)
    assert run([tool("crm_verify"), "--xml-file", cib]).returncode == 0
    simulate(cib, tmp_path / "p1.xml", f"--node-up={LVS1}", f"--node-up={LVS2}")

    def pingd(node, value):  # crm_simulate runs no agent: what ocf:pacemaker:ping would set
        result = run([tool("crm_attribute"), "--node", node, "--name", "pingd", "--update", value,
                      "--lifetime", "reboot"], env={"CIB_file": str(tmp_path / "p1.xml")})
        assert result.returncode == 0, result.stderr

    pingd(LVS1, "1000")
    pingd(LVS2, "1000")
    both = simulate(tmp_path / "p1.xml", tmp_path / "p2.xml")
    assert where_started(both)["vip-10.0.0.3"] == LVS1
    shutil.copy(tmp_path / "p2.xml", tmp_path / "p1.xml")
    pingd(LVS1, "0")  # lvs1 lost its ping node: ipfail's case
    lost = simulate(tmp_path / "p1.xml", tmp_path / "p3.xml")
    assert where_started(lost)["vip-10.0.0.3"] == LVS2


def test_haresources_syntax_becomes_agent_parameters(tmp_path):
    haresources = ("lvs1.domain.com 10.0.0.3/24/eth0/10.0.0.255 Filesystem::/dev/sdb1::/srv::ext4 lvs mon\n"
                   "lvs2.domain.com IPaddr2::10.0.0.4/255.255.255.0/eth1 apache\n")
    cib = exported_cib(tmp_path, make_ha_dir(tmp_path, haresources=haresources))
    assert run([tool("crm_verify"), "--xml-file", cib, "-V"]).returncode == 0
    text = cib.read_text()
    for name, value in (("ip", "10.0.0.3"), ("cidr_netmask", "24"), ("nic", "eth0"),
                        ("broadcast", "10.0.0.255"), ("device", "/dev/sdb1"), ("directory", "/srv"),
                        ("fstype", "ext4"), ("ip", "10.0.0.4"), ("nic", "eth1")):
        assert f'name="{name}" value="{value}"' in text
    assert 'type="Filesystem"' in text and 'class="lsb" type="apache"' in text
    boot = simulate(cib, tmp_path / "s1.xml", f"--node-up={LVS1}", f"--node-up={LVS2}")
    started = where_started(boot)
    assert started["vip-10.0.0.3"] == LVS1 and started["apache"] == LVS2


@pytest.mark.parametrize("fmt, expected", [
    ("crm", ["primitive lvs ocf:lvs-compat:lvs op monitor interval=10s timeout=20s",
             "group grp-10.0.0.3 vip-10.0.0.3 lvs mon",
             "location loc-grp-10.0.0.3-prefers-home grp-10.0.0.3 100: lvs1.domain.com",
             "rsc_defaults rsc-options: resource-stickiness=0"]),
    ("pcs", ["pcs -f cib.xml resource create lvs ocf:lvs-compat:lvs op monitor interval=10s timeout=20s "
             "--group grp-10.0.0.3 --no-default-ops",
             "pcs -f cib.xml constraint location grp-10.0.0.3 prefers lvs1.domain.com=100",
             "pcs -f cib.xml resource defaults update resource-stickiness=0"])])
def test_crm_and_pcs_formats_say_the_same(tmp_path, fmt, expected):
    result = export(make_ha_dir(tmp_path), "--format", fmt)
    assert result.returncode == 0, result.stderr
    for line in expected:
        assert line in result.stdout.splitlines()


def corosync_conf(tmp_path, extra="", *args):
    result = export(make_ha_dir(tmp_path, extra), "--out-dir", tmp_path / "out", *args)
    assert result.returncode == 0, result.stderr
    return (tmp_path / "out" / "corosync.conf").read_text(), result.stderr


def test_corosync_token_follows_deadtime_and_two_nodes_keep_quorum(tmp_path):
    text, _ = corosync_conf(tmp_path, "", "--addr", "lvs1.domain.com=10.0.0.1",
                            "--addr", "LVS2.domain.com=10.0.0.2")
    assert "    token: 4545\n" in text  # deadtime 10 s / 2.2: token + 1.2 x token consensus
    assert "    transport: knet\n" in text and "        mcastport: 1001\n" in text
    assert "        knet_ping_interval: 2000\n" in text
    assert "ring0_addr: 10.0.0.1\n" in text and "ring0_addr: 10.0.0.2\n" in text
    assert "    two_node: 1\n" in text
    assert "    syslog_facility: local0\n" in text
    assert "no-quorum-policy" not in text


def test_corosync_for_three_nodes_and_multicast(tmp_path):
    text, warnings = corosync_conf(tmp_path, "node lvs3.domain.com\nmcast eth1 239.0.0.1 694 1 0\n")
    assert "two_node" not in text
    assert "    token: 3895\n" in text  # 4545 minus the 650 ms corosync adds for the third node
    # the first medium (udp eth0) decides; the mcast line is a second path ha.cf has no addresses for
    assert "transport: knet" in text
    assert "ha.conf:27:" in warnings and "second path" in warnings


def test_corosync_multicast_as_the_only_medium(tmp_path):
    ha_dir = make_ha_dir(tmp_path)
    conf = ha_dir / "ha.conf"
    conf.write_text(conf.read_text().replace("udp     eth0", "mcast eth0 239.0.0.1 694 1 0"))
    result = export(ha_dir, "--out-dir", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "corosync.conf").read_text()
    assert "transport: udp\n" in text and "mcastaddr: 239.0.0.1\n" in text
    assert "crypto_hash: none\n" in text  # corosync's udp transport has no crypto


def test_rejected_config_is_not_exported(tmp_path):
    ha_dir = make_ha_dir(tmp_path, haresources="lvs9.domain.com 10.0.0.3 lvs mon\n")
    result = export(ha_dir)
    assert result.returncode == 2
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{ha_dir / 'haresources'}:1:1: Bad nodename in haresources [lvs9.domain.com]")
    assert "Traceback" not in result.stderr


def test_bad_addr_option_is_one_line_and_exit_2(tmp_path):
    result = export(make_ha_dir(tmp_path), "--addr", "lvs1.domain.com")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "lvs-compat export: --addr 'lvs1.domain.com': expected NODE=IP\n"


def test_corosync_accepts_the_exported_file_on_a_node_holding_its_address(tmp_path):
    """corosync -t checks the file and that a nodelist address is local: run it in a throw-away
    namespace holding lvs1's 10.0.0.1 (root; nothing on the host's interfaces)."""
    assert os.geteuid() == 0, "corosync -t needs a namespace: run as root"
    text, _ = corosync_conf(tmp_path, "", "--addr", "lvs1.domain.com=10.0.0.1",
                            "--addr", "lvs2.domain.com=10.0.0.2")
    key = tmp_path / "authkey"
    assert run([tool("corosync-keygen"), "-l", "-k", key]).returncode == 0
    conf = tmp_path / "corosync-test.conf"  # the key where the test put it, logs to stderr
    conf.write_text(text.replace("    crypto_hash: sha1\n", f"    crypto_hash: sha1\n    keyfile: {key}\n"))
    name = f"lvsexp-cs-{os.getpid()}"
    run(["ip", "netns", "add", name]).check_returncode()
    try:
        run(["ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1"]).check_returncode()
        run(["ip", "-n", name, "addr", "add", "10.0.0.1/24", "dev", "v0"]).check_returncode()
        result = run(["ip", "netns", "exec", name, tool("corosync"), "-t", "-c", conf])
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        run(["ip", "netns", "del", name])


def test_crm_format_loads_into_the_same_configuration_as_the_xml(tmp_path):
    """crmsh reads the exported CIB back (no comments to trip it: REPORT §2), and the crm text,
    loaded into an empty CIB, gives the very same `crm configure show`.  -F: crmsh refuses to
    commit a primitive whose agent is not installed here (ocf:lvs-compat:lvs is installed on the
    directors, not on the test machine)."""
    ha_dir = make_ha_dir(tmp_path, "ping 10.0.0.254\n")
    cib = exported_cib(tmp_path, ha_dir)
    crm_text = tmp_path / "cib.crm"
    result = export(ha_dir, "--format", "crm")
    assert result.returncode == 0, result.stderr
    crm_text.write_text(result.stdout)
    loaded = tmp_path / "loaded.xml"
    loaded.write_text(run([tool("cibadmin"), "--empty"]).stdout)
    crm = tool("crm")
    load = run([crm, "-F", "configure", "load", "update", crm_text], env={"CIB_file": str(loaded)},
               cwd=tmp_path)
    assert load.returncode == 0, load.stdout + load.stderr
    assert run([tool("crm_verify"), "--xml-file", loaded]).returncode == 0
    shown_xml = run([crm, "configure", "show"], env={"CIB_file": str(cib)}, cwd=tmp_path)
    shown_crm = run([crm, "configure", "show"], env={"CIB_file": str(loaded)}, cwd=tmp_path)
    assert shown_xml.returncode == 0 and shown_crm.returncode == 0
    assert "group grp-10.0.0.3 vip-10.0.0.3 lvs mon" in shown_xml.stdout
    assert "clone ping-clone ping" in shown_xml.stdout
    assert shown_xml.stdout == shown_crm.stdout
