"""`lvs-compat check` as an operator runs it: real files, real process, exit codes."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SHARED

CHECK = [sys.executable, str(REPO / "bin" / "lvs-compat"), "check"]
SEED = SHARED / "seed" / "examples"


def run_check(*args, cwd=None):
    return subprocess.run([*CHECK, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.fixture
def seed_ha_dir(tmp_path):
    """The seed's ha.conf and haresources plus a mode-600 authkeys."""
    ha_dir = tmp_path / "ha.d"
    ha_dir.mkdir()
    shutil.copy(SEED / "ha.conf", ha_dir / "ha.conf")
    shutil.copy(SEED / "haresources", ha_dir / "haresources")
    (ha_dir / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (ha_dir / "authkeys").chmod(0o600)
    return ha_dir


def test_seed_files_check_clean_and_summary_says_what_the_cluster_does(seed_ha_dir):
    result = run_check("--mon-cf", SEED / "mon.cf", "--ha-dir", seed_ha_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "www1/http: every 10s, monitor http.monitor" in out
    assert "ipvsadm -d -t 10.0.0.3:80 -r 192.168.0.1" in out
    assert "ipvsadm -a -t 10.0.0.3:80 -r 192.168.0.2 -w 5 -g" in out
    assert "nodes: lvs1.domain.com lvs2.domain.com" in out
    assert "keepalive 2000 ms, deadtime 10000 ms" in out
    assert "(read ha.conf)" in out
    assert "lvs1.domain.com: IPaddr 10.0.0.3 -> lvs -> mon" in out
    assert "lvs2.domain.com takes the group over and announces 10.0.0.3 with gratuitous ARP" in out
    # The seed's quirks are reported, located, on stderr.
    assert f"{seed_ha_dir / 'ha.conf'}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_is_the_whole_model(seed_ha_dir):
    result = run_check("--mon-cf", SEED / "mon.cf", "--ha-dir", seed_ha_dir, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["valid"] is True
    assert [g["name"] for g in document["mon_cf"]["hostgroups"]] == ["www1", "www2"]
    assert document["ha"]["ha_cf"]["deadtime_ms"] == 10000
    assert {e["real_server"] for e in document["ipvs_entries"]} == {"192.168.0.1", "192.168.0.2"}


def test_a_malformed_line_is_one_located_error_and_exit_2(tmp_path):
    mon_cf = tmp_path / "mon.cf"
    mon_cf.write_text("hostgroup g 10.0.0.1\n\nwatch g\n    service http\n        interval 90\n")
    result = run_check("--mon-cf", mon_cf)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{mon_cf}:5:")
    assert "Traceback" not in result.stderr


def test_lvs_alert_arguments_that_the_alert_would_refuse_are_errors(tmp_path):
    mon_cf = tmp_path / "mon.cf"
    mon_cf.write_text(
        "hostgroup www1 10.0.0.11\n\n"
        "watch www1\n"
        "    service http\n"
        "        interval 10s\n"
        "        monitor http.monitor\n"
        "        period wd {Sun-Sat}\n"
        "            alert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.9;touch -W 5\n"
    )
    result = run_check("--mon-cf", mon_cf)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{mon_cf}:8:")
    assert "-R: not an IPv4 address" in result.stderr


def test_unreadable_and_missing_files_are_named(tmp_path):
    result = run_check("--mon-cf", tmp_path / "nope.cf")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.cf'}: cannot read: No such file or directory"
    result = run_check("--ha-dir", tmp_path / "no-such-dir")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'no-such-dir'}: not a directory"


def test_group_readable_authkeys_is_refused(seed_ha_dir):
    (seed_ha_dir / "authkeys").chmod(0o640)
    result = run_check("--ha-dir", seed_ha_dir)
    assert result.returncode == 2
    assert str(seed_ha_dir / "authkeys") in result.stderr
    assert "600" in result.stderr


def test_bad_command_line_is_one_line_and_exit_2():
    result = run_check("--frobnicate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--frobnicate" in result.stderr


def test_defaults_are_etc_mon_and_etc_ha_d(monkeypatch, tmp_path, capsys, seed_ha_dir):
    from lvs_compat import cli

    mon_cf = tmp_path / "mon.cf"
    shutil.copy(SEED / "mon.cf", mon_cf)
    monkeypatch.setattr(cli, "DEFAULT_MON_CF_PATHS", (str(tmp_path / "absent.cf"), str(mon_cf)))
    monkeypatch.setattr(cli, "DEFAULT_HA_DIR", str(seed_ha_dir))
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert f"mon.cf: {mon_cf}" in out and f"heartbeat: {seed_ha_dir}" in out


def test_demo_files_in_the_repo_are_the_seed_files():
    for name in ("mon.cf", "ha.d/ha.conf", "ha.d/haresources"):
        shipped = REPO / "examples" / "seed" / name
        assert shipped.read_bytes() == (SEED / os.path.basename(name)).read_bytes()
