"""`lvs-compat export keepalived`: one keepalived.conf per director that keepalived itself
accepts (`keepalived -t`, in a private network namespace holding the `eth0` the files name:
keepalived checks the host's interfaces), with the VRRP instance, virtual servers and checkers
mon.cf and haresources imply.  keepalived comes from the Makefile's DEBS."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SHARED
from export_support import make_ha_dir

SEED = SHARED / "seed" / "examples"
EXPORT = [sys.executable, str(REPO / "bin" / "lvs-compat"), "export", "keepalived"]
LVS1, LVS2 = "lvs1.domain.com", "lvs2.domain.com"


def run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def netns_with_eth0():
    """A throw-away namespace with eth0 (a veth pair inside it): no host interface touched."""
    assert os.geteuid() == 0, "keepalived -t checks interfaces: run as root, in a namespace"
    keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
    assert os.access(keepalived, os.X_OK), "keepalived missing: make deps installs it"
    name = f"lvsexp-{os.getpid()}"
    run(["ip", "netns", "add", name], check=True)
    try:
        run(["ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"], check=True)
        run(["ip", "-n", name, "link", "set", "eth0", "up"], check=True)
        yield lambda path: run(["ip", "netns", "exec", name, keepalived, "-t", "-l", "-f", path])
    finally:
        run(["ip", "netns", "del", name])


def export(tmp_path, ha_dir, mon_cf=SEED / "mon.cf"):
    out = tmp_path / "out"
    result = run([*EXPORT, "--ha-dir", ha_dir, "--mon-cf", mon_cf, "--out-dir", out])
    assert result.returncode == 0, result.stderr
    return {node: (out / f"keepalived-{node}.conf") for node in (LVS1, LVS2)}, result.stderr


def assert_keepalived_accepts(check, path):
    result = check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr  # e.g. a silently defaulted keyword


def test_seed_gives_two_files_keepalived_accepts(tmp_path, netns_with_eth0):
    files, _ = export(tmp_path, make_ha_dir(tmp_path))
    for path in files.values():
        assert_keepalived_accepts(netns_with_eth0, path)
    lvs1, lvs2 = files[LVS1].read_text(), files[LVS2].read_text()
    assert "    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 150\n" \
           "    advert_int 2\n" in lvs1
    assert "    state BACKUP\n" in lvs2 and "    priority 99\n" in lvs2 and "nopreempt" not in lvs2
    assert "        10.0.0.3/32 dev eth0\n" in lvs1
    assert "authentication" not in lvs1
    # the virtual server the lvs.alert lines describe, the same on both directors
    virtual = lvs1[lvs1.index("virtual_server"):]
    assert virtual == lvs2[lvs2.index("virtual_server"):]
    assert virtual.startswith("virtual_server 10.0.0.3 80 {\n    delay_loop 10\n    lb_algo wlc\n"
                              "    lb_kind DR\n    protocol TCP\n")
    for number in (1, 2):
        assert (f"    real_server 192.168.0.{number} 80 {{\n        weight 5\n        HTTP_GET {{\n"
                "            url {\n                path /\n                status_code 200 301-302 401\n"
                "            }\n            connect_port 80\n            connect_timeout 30\n"
                f"            virtualhost www{number}.domain.com\n            retry 0\n") in virtual


MON_CF_VARIANTS = """\
hostgroup web 192.168.1.1
hostgroup files 192.168.1.2
hostgroup dns 192.168.1.3

watch web
    service https
        interval 7s
        monitor http.monitor -p 8443 -t 5 -u /health
        period
            alertafter 3
            upalert lvs.alert -P tcp -V 10.0.0.4:443 -R 192.168.1.1:8443 -W 3 -F nat -S rr -Q
            alert lvs.alert -P tcp -V 10.0.0.4:443 -R 192.168.1.1:8443 -F nat -Q

watch files
    service ftp
        interval 20s
        monitor ftp.monitor -t 4
        period
            upalert lvs.alert -P tcp -V 10.0.0.4:21 -R 192.168.1.2 -W 1 -F tun

watch dns
    service ping
        interval 15s
        monitor fping.monitor -r 2
        period
            upalert lvs.alert -P udp -V 10.0.0.4:53 -R 192.168.1.3 -W 2 -F dr
"""


def test_monitors_and_alert_options_map_to_checkers(tmp_path, netns_with_eth0):
    mon_cf = tmp_path / "mon.cf"
    mon_cf.write_text(MON_CF_VARIANTS)
    ha_dir = make_ha_dir(tmp_path, "auto_failback off\n",
                         haresources="lvs2.domain.com 10.0.0.4/24/eth0/10.0.0.255 lvs mon\n")
    files, warnings = export(tmp_path, ha_dir, mon_cf)
    for path in files.values():
        assert_keepalived_accepts(netns_with_eth0, path)
    lvs1, lvs2 = files[LVS1].read_text(), files[LVS2].read_text()
    # auto_failback off: both BACKUP + nopreempt, the haresources node keeps the higher priority
    assert "    state BACKUP\n" in lvs1 and "    state BACKUP\n" in lvs2
    assert lvs1.count("nopreempt") == lvs2.count("nopreempt") == 1
    assert "    priority 150\n" in lvs2 and "    priority 100\n" in lvs1
    assert "        10.0.0.4/24 brd 10.0.0.255 dev eth0\n" in lvs1
    assert ("virtual_server 10.0.0.4 443 {\n    delay_loop 7\n    lb_algo rr\n    lb_kind NAT\n"
            "    protocol TCP\n    real_server 192.168.1.1 8443 {\n        weight 3\n"
            "        inhibit_on_failure\n        HTTP_GET {\n            url {\n"
            "                path /health\n") in lvs1
    assert "            connect_port 8443\n            connect_timeout 5\n            retry 2\n" in lvs1
    assert ("virtual_server 10.0.0.4 21 {\n    delay_loop 20\n    lb_algo wlc\n    lb_kind TUN\n"
            "    protocol TCP\n    real_server 192.168.1.2 21 {\n        weight 1\n        TCP_CHECK {\n"
            "            connect_port 21\n            connect_timeout 4\n            retry 0\n") in lvs1
    assert ("virtual_server 10.0.0.4 53 {\n    delay_loop 15\n    lb_algo wlc\n    lb_kind DR\n"
            "    protocol UDP\n    real_server 192.168.1.3 53 {\n        weight 2\n"
            "        PING_CHECK {\n            retry 0\n") in lvs1
    assert f"{mon_cf}:17:17: warning: approximate: ftp.monitor -> TCP_CHECK" in warnings
    assert f"{mon_cf}:24:17: warning: approximate: fping.monitor -> PING_CHECK" in warnings


def test_rejected_config_is_not_exported(tmp_path):
    mon_cf = tmp_path / "mon.cf"
    mon_cf.write_text(MON_CF_VARIANTS.replace("-W 1 -F tun", "-W 1 -F bogus"))
    result = run([*EXPORT, "--ha-dir", make_ha_dir(tmp_path), "--mon-cf", mon_cf])
    assert (result.returncode, result.stdout) == (2, "")
    assert f"{mon_cf}:19:13: upalert lvs.alert: -F: forwarding must be dr/gate" in result.stderr
    assert "Traceback" not in result.stderr


def test_stdout_carries_each_file_after_its_name(tmp_path):
    result = run([*EXPORT, "--ha-dir", make_ha_dir(tmp_path), "--mon-cf", SEED / "mon.cf"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# file: keepalived-{LVS1}.conf\nglobal_defs {{\n    router_id lvs1\n")
    assert f"# file: keepalived-{LVS2}.conf\nglobal_defs {{\n    router_id lvs2\n" in result.stdout
