"""ha.d/resource.d/lvs: the seed's init script, built from mon.cf's lvs.alert lines (FAKE ipvsadm)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from lvs_alert_support import REPO, RESOURCE, fake, run_resource  # noqa: F401

SEED_MON_CF = str(REPO / "examples" / "seed" / "mon.cf")


def mon_cf(tmp_path, alert_lines: str) -> str:
    path = tmp_path / "mon.cf"
    path.write_text(textwrap.dedent("""\
        hostgroup www1 www1.domain.com

        watch www1
            service http
                interval 10s
                monitor http.monitor
                period wd {Sun-Sat}
        """) + textwrap.indent(textwrap.dedent(alert_lines), " " * 12))
    return str(path)


def test_start_builds_the_seed_table_from_mon_cf_and_status_says_running(fake):
    result, ip_forward = run_resource([SEED_MON_CF, "start"], fake)
    assert result.returncode == 0, result.stderr
    assert fake.table() == {"tcp 10.0.0.3:80": {"192.168.0.1:80": ("gate", 5), "192.168.0.2:80": ("gate", 5)}}
    assert "-A -t 10.0.0.3:80 -s wlc" in fake.saved()  # the seed's "ipvsadm -A -t 10.0.0.3:80"
    assert ip_forward == "1"  # the seed's "echo 1 > /proc/sys/net/ipv4/ip_forward"
    status, _ = run_resource([SEED_MON_CF, "status"], fake)
    assert (status.returncode, status.stdout) == (0, "running\n")


def test_start_is_idempotent_and_repairs_a_changed_weight(fake):
    assert run_resource([SEED_MON_CF, "start"], fake)[0].returncode == 0
    fake.setup("-e -t 10.0.0.3:80 -r 192.168.0.2 -w 1 -m")
    again, _ = run_resource([SEED_MON_CF, "start"], fake)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "lvs: updated 192.168.0.2:80 in TCP 10.0.0.3:80 (weight 5, gate)\n"
    assert fake.table()["tcp 10.0.0.3:80"]["192.168.0.2:80"] == ("gate", 5)


def test_stop_removes_only_what_start_built(fake):
    fake.setup("-A -u 10.0.0.9:53 -s rr")
    assert run_resource([SEED_MON_CF, "start"], fake)[0].returncode == 0
    stop, _ = run_resource([SEED_MON_CF, "stop"], fake)
    assert stop.returncode == 0, stop.stderr
    assert fake.table() == {"udp 10.0.0.9:53": {}}
    status, _ = run_resource([SEED_MON_CF, "status"], fake)
    assert (status.returncode, status.stdout) == (3, "stopped\n")
    assert run_resource([SEED_MON_CF, "stop"], fake)[0].returncode == 0


def test_only_upalert_lines_build_and_their_extras_are_honoured(fake, tmp_path):
    path = mon_cf(tmp_path, """\
        alert lvs.alert -P udp -V 10.0.0.3:53 -R 192.168.0.7 -W 2 -F nat
        upalert lvs.alert -P tcp -V [2001:db8::1]:443 -R [2001:db8::5] -W 4 -F tun -S sh
        upalert /usr/lib/mon/alert.d/lvs.alert -P tcp -V 10.0.0.3:443 -R 192.168.0.5:8443 -W 3 -F nat -S rr
        upalert mail.alert root
        """)
    result, _ = run_resource([path, "start"], fake)
    assert result.returncode == 0, result.stderr
    assert fake.table() == {"tcp 10.0.0.3:443": {"192.168.0.5:8443": ("masq", 3)},
                            "tcp [2001:db8::1]:443": {"[2001:db8::5]:443": ("ipip", 4)}}
    assert "-A -t 10.0.0.3:443 -s rr" in fake.saved()
    assert (fake.directory / "ipv6_forwarding").read_text() == "1\n"


def test_a_line_lvs_alert_would_refuse_stops_start_before_anything_changes(fake, tmp_path):
    path = mon_cf(tmp_path, """\
        upalert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.1 -W 5 -F dr
        upalert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.2;reboot -W 5
        """)
    result, ip_forward = run_resource([path, "start"], fake)
    assert result.returncode == 2
    assert result.stderr == f"lvs: {path}:9:13: upalert lvs.alert: -R: not an IPv4 address: '192.168.0.2;reboot'\n"
    assert fake.calls() == [] and fake.table() == {} and ip_forward == "0"


def test_usage_and_an_unreadable_mon_cf(fake, tmp_path):
    usage, _ = run_resource(["restart"], fake)
    assert (usage.returncode, usage.stderr) == (2, "usage: lvs [MON_CF] {start|stop|status}\n")
    missing, _ = run_resource([str(tmp_path / "nowhere.cf"), "start"], fake)
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"lvs: {tmp_path / 'nowhere.cf'}") and "Traceback" not in missing.stderr


def test_start_never_writes_its_record_through_a_symlink(fake, tmp_path):
    """Issue 19: the temporary record was opened without O_EXCL/O_NOFOLLOW: a symbolic link
    at its name made start write the service list into the file the link named."""
    from lvs_compat.resource_scripts.lvs import BUILT_FILE

    victim = tmp_path / "precious"
    victim.write_text("precious\n")
    fake.run_dir.mkdir(exist_ok=True)
    (fake.run_dir / f"{BUILT_FILE}.tmp").symlink_to(victim)
    result, _ = run_resource([SEED_MON_CF, "start"], fake)
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious\n"
    assert (fake.run_dir / BUILT_FILE).read_text() == "tcp 10.0.0.3:80\n"


def test_as_root_the_resources_refuse_a_run_directory_others_could_change(fake, tmp_path):
    """Issue 19: the lvs and mon resource scripts, run as root by heartbeat, took
    $LVS_COMPAT_RUN_DIR as it was (their record, mon's pid file in a directory anyone writes)."""
    if os.geteuid() != 0:
        pytest.skip("the $LVS_COMPAT_RUN_DIR policy applies to root (CI runs as root)")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    env = dict(fake.env, LVS_COMPAT_RUN_DIR=str(shared))
    for script in (RESOURCE, RESOURCE.parent / "mon"):
        result = subprocess.run([sys.executable, str(script), SEED_MON_CF, "start"], env=env,
                                capture_output=True, text=True, timeout=30)
        assert (result.returncode, result.stderr) == (
            1, f"{script.name}: $LVS_COMPAT_RUN_DIR={shared}: not used as root: {shared} is "
               f"writable by group or others\n")
    assert list(shared.iterdir()) == [] and fake.calls() == []
