"""ha.d/resource.d/lvs: the seed's init script, built from mon.cf's lvs.alert lines (FAKE ipvsadm)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import lvs_table_support
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

# --- one ipvsadm -R for the whole table (issue 21, item 3) --------------------------------------

ONE_BATCH = [["-S", "-n"], ["-R"], ["-S", "-n"]]  # read, change everything, check


def processes(fake) -> list[list[str]]:
    """The ipvsadm processes started, an -R without the lines it read."""
    return [call[:1] if call[0] == "-R" else call for call in fake.calls()]


def test_the_seed_init_script_is_copied_verbatim_and_scales_to_one_ipvsadm_per_entry():
    seed = lvs_table_support.SEED_SCRIPT.read_bytes()
    assert seed == lvs_table_support.SHARED_SEED_SCRIPT.read_bytes()
    scaled = lvs_table_support.seed_script_text(3, 2).splitlines()
    assert [line.strip() for line in scaled if "$IPVSADM -" in line and "-C" not in line] == [
        "$IPVSADM -A -t 10.10.0.1:80", "$IPVSADM -a -t 10.10.0.1:80 -r 192.168.0.1 -w 5 -g",
        "$IPVSADM -a -t 10.10.0.1:80 -r 192.168.0.2 -w 5 -g",
        "$IPVSADM -A -t 10.10.1.1:80", "$IPVSADM -a -t 10.10.1.1:80 -r 192.168.1.1 -w 5 -g",
        "$IPVSADM -a -t 10.10.1.1:80 -r 192.168.1.2 -w 5 -g",
        "$IPVSADM -A -t 10.10.2.1:80", "$IPVSADM -a -t 10.10.2.1:80 -r 192.168.2.1 -w 5 -g",
        "$IPVSADM -a -t 10.10.2.1:80 -r 192.168.2.2 -w 5 -g"]
    assert "\n".join(scaled).replace("10.10.", "").count("IPVSADM=/sbin/ipvsadm") == 1


def test_start_builds_100_services_of_10_servers_with_one_ipvsadm_run_and_stop_removes_them(fake, tmp_path):
    path = tmp_path / "mon.cf"
    path.write_text(lvs_table_support.mon_cf_text(100, 10))
    result, _ = run_resource([str(path), "start"], fake)
    assert result.returncode == 0, result.stderr
    assert processes(fake) == ONE_BATCH  # the seed's script: 1,100 ipvsadm processes
    assert fake.table() == lvs_table_support.expected_summary(100, 10)
    lines = result.stdout.splitlines()
    assert len(lines) == 1100 and lines[0] == "lvs: created TCP 10.10.0.1:80 (scheduler wlc)"
    assert lines[100] == "lvs: added 192.168.0.1:80 to TCP 10.10.0.1:80 (weight 5, gate)"
    fake.log_path.unlink()
    stop, _ = run_resource([str(path), "stop"], fake)
    assert stop.returncode == 0, stop.stderr
    assert processes(fake) == ONE_BATCH and fake.table() == {}


def seed_table_and_more(fake, tmp_path):
    """A foreign service, one of the seed's servers at another weight and an extra one: start
    has an edit, adds and a service to create."""
    fake.setup("-A -u 10.0.0.9:53 -s rr", "-A -t 10.0.0.3:80 -s wlc",
               "-a -t 10.0.0.3:80 -r 192.168.0.1 -w 1 -m", "-a -t 10.0.0.3:80 -r 192.168.0.7 -w 2 -g")
    return mon_cf(tmp_path, """\
        upalert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.1 -W 5 -F dr
        upalert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.2 -W 5 -F dr
        upalert lvs.alert -P tcp -V 10.0.0.4:80 -R 192.168.0.1 -W 5 -F dr
        upalert lvs.alert -P tcp -V 10.0.0.4:80 -R 192.168.0.2 -W 5 -F dr
        """)


def test_a_line_the_kernel_refuses_in_the_batch_undoes_the_whole_start(fake, tmp_path):
    # ipvsadm -R goes on after a refused line and here exits 0 (its last line's status)
    path = seed_table_and_more(fake, tmp_path)
    before = fake.saved()
    # another writer's entry just before ours: "Destination already exists", then 3 good lines
    fake.env["FAKE_IPVSADM_RESTORE_INSERT"] = "2:-a -t 10.0.0.3:80 -r 192.168.0.2 -w 1 -g"
    result, _ = run_resource([path, "start"], fake)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "lvs: 1 of 5 entries did not take, the first \"ipvsadm -a -t 10.0.0.3:80 -r 192.168.0.2:80 -w 5 -g\" "
        f"(line 3 of the -R batch): {fake.binary} -R exited 0: Destination already exists; undone: the table is as "
        "it was before start\n")
    assert fake.saved() == before
    assert processes(fake) == [["-S", "-n"], ["-R"], ["-S", "-n"], ["-R"], ["-S", "-n"]]
    assert fake.calls()[3][1:] == ["-D -t 10.0.0.4:80", "-e -t 10.0.0.3:80 -r 192.168.0.1:80 -w 1 -m",
                                   "-d -t 10.0.0.3:80 -r 192.168.0.2:80"]  # the undo
    status, _ = run_resource([path, "status"], fake)
    assert (status.returncode, status.stdout) == (3, "stopped\n")


def test_a_complete_table_is_kept_and_ipvsadms_message_passed_on(fake, tmp_path):
    path = seed_table_and_more(fake, tmp_path)
    fake.env["FAKE_IPVSADM_RESTORE_INSERT"] = "2:-a -t 10.0.0.99:80 -r 192.168.0.1 -w 5 -g"  # not ours
    result, _ = run_resource([path, "start"], fake)
    assert result.returncode == 0
    assert result.stderr == f"lvs: warning: {fake.binary} -R exited 0: Service not defined\n"
    assert len(result.stdout.splitlines()) == 5
    assert fake.table()["tcp 10.0.0.4:80"] == {"192.168.0.1:80": ("gate", 5), "192.168.0.2:80": ("gate", 5)}


def test_an_entry_missing_after_a_silent_batch_undoes_start(fake, tmp_path):
    path = seed_table_and_more(fake, tmp_path)
    before = fake.saved()
    fake.env["FAKE_IPVSADM_RESTORE_INSERT"] = "5:-D -t 10.0.0.4:80"  # ipvsadm says nothing
    result, _ = run_resource([path, "start"], fake)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "lvs: 3 of 5 entries did not take, the first \"ipvsadm -A -t 10.0.0.4:80 -s wlc\" "
        "(line 1 of the -R batch): ipvsadm said nothing; undone: the table is as it was before start\n")
    assert fake.saved() == before


def test_a_line_ipvsadm_cannot_parse_ends_the_batch_and_start_is_undone(fake, tmp_path):
    # ipvsadm -R stops at such a line with status 2, the lines before it applied
    path = seed_table_and_more(fake, tmp_path)
    before = fake.saved()
    fake.env["FAKE_IPVSADM_RESTORE_INSERT"] = "2:-a -t 10.0.0.3:80 -r bogus -w 5 -g"
    result, _ = run_resource([path, "start"], fake)
    assert result.returncode == 1
    assert result.stderr == (
        "lvs: 3 of 5 entries did not take, the first \"ipvsadm -a -t 10.0.0.3:80 -r 192.168.0.2:80 -w 5 -g\" "
        f"(line 3 of the -R batch): {fake.binary} -R exited 2: illegal real server address[:port] specified; "
        "undone: the table is as it was before start\n")
    assert fake.saved() == before


def test_a_stop_the_kernel_refuses_is_reported_and_stop_again_finishes_it(fake, tmp_path):
    assert run_resource([SEED_MON_CF, "start"], fake)[0].returncode == 0
    fake.env["FAKE_IPVSADM_RESTORE_INSERT"] = "0:-D -t bogus"
    stop, _ = run_resource([SEED_MON_CF, "stop"], fake)
    assert stop.returncode == 1
    assert stop.stderr == (
        "lvs: 1 of 1 entries did not take, the first \"ipvsadm -D -t 10.0.0.3:80\" (line 1 of the -R batch): "
        f"{fake.binary} -R exited 2: illegal virtual server address[:port] specified\n")
    assert "tcp 10.0.0.3:80" in fake.table()
    del fake.env["FAKE_IPVSADM_RESTORE_INSERT"]
    again, _ = run_resource([SEED_MON_CF, "stop"], fake)  # what start built is still on record
    assert again.returncode == 0, again.stderr
    assert fake.table() == {}
