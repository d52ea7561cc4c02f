"""The resource scripts the demo added to ha.d/resource.d: ``LVSSyncDaemonSwap`` (against a
recording stand-in for ipvsadm; the real one is exercised by tests/test_demo.py in the guest)
and ``mon`` (Debian's real /usr/sbin/mon, in a private network namespace so that its port
2583 never touches the host's)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from lvs_compat.lab import Netlab
from lvs_compat.resource_scripts.mon import alive

REPO = Path(__file__).resolve().parent.parent
SWAP = str(REPO / "ha.d" / "resource.d" / "LVSSyncDaemonSwap")
MON = str(REPO / "ha.d" / "resource.d" / "mon")

# ipvsadm's --daemon subset: the running daemons live in a file, one role a line
FAKE_IPVSADM = r"""#!/bin/sh
state="@STATE@"
echo "$*" >> "$state.calls"
touch "$state"
case "$1 $2" in
"-L --daemon")
    while read -r role; do echo "$role sync daemon (mcast=eth0, syncid=0)"; done < "$state";;
"--start-daemon "*) echo "$2" >> "$state";;
"--stop-daemon "*) grep -vx "$2" "$state" > "$state.new"; mv "$state.new" "$state";;
esac
exit 0
"""


@pytest.fixture
def ipvsadm(tmp_path):
    state = tmp_path / "daemons"
    fake = tmp_path / "ipvsadm"
    fake.write_text(FAKE_IPVSADM.replace("@STATE@", str(state)))
    fake.chmod(0o755)
    state.write_text("backup\n")      # what the boot left: the standby's listener
    env = dict(os.environ, IPVSADM=str(fake))

    def swap(*args):
        return subprocess.run([SWAP, *args], env=env, capture_output=True, text=True, timeout=30)
    swap.state = state
    swap.calls = tmp_path / "daemons.calls"
    return swap


def test_the_active_director_becomes_master_and_the_standby_backup(ipvsadm):
    assert ipvsadm("master", "status").stdout == "stopped\n"
    assert ipvsadm("master", "status").returncode == 3
    started = ipvsadm("master", "start")
    assert started.returncode == 0, started.stderr
    assert ipvsadm.state.read_text() == "master\n"
    assert ipvsadm("master", "status").stdout == "running\n"
    assert "--start-daemon master --mcast-interface eth0" in ipvsadm.calls.read_text()
    stopped = ipvsadm("master", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert ipvsadm.state.read_text() == "backup\n"
    assert ipvsadm("master", "status").returncode == 3


def test_start_twice_starts_one_master(ipvsadm):
    ipvsadm("master", "start")
    ipvsadm("master", "start")
    assert ipvsadm.calls.read_text().count("--start-daemon master") == 1


def test_another_interface_and_bad_usage(ipvsadm):
    assert ipvsadm("master", "eth1", "start").returncode == 0
    assert "--mcast-interface eth1" in ipvsadm.calls.read_text()
    bad = ipvsadm("master", "eth1", "extra", "start")
    assert bad.returncode == 2 and bad.stderr.startswith("usage: LVSSyncDaemonSwap")
    assert ipvsadm("restart").returncode == 2


@pytest.mark.skipif(os.geteuid() != 0 or not os.access("/usr/sbin/mon", os.X_OK),
                    reason="needs root (a network namespace) and Debian's mon (make deps)")
def test_mon_resource_starts_reports_and_stops_the_real_mon(tmp_path):
    netns = f"lvsdemo-test{os.getpid()}"
    (tmp_path / "mon.d").mkdir()
    (tmp_path / "alert.d").mkdir()
    (tmp_path / "auth.cf").write_text("command section\nlist: all\n")
    mon_cf = tmp_path / "mon.cf"
    mon_cf.write_text(textwrap.dedent(f"""\
        cfbasedir = {tmp_path}
        alertdir = {tmp_path}/alert.d
        mondir = {REPO}/mon.d
        hostgroup www1 127.0.0.1

        watch www1
            service http
                interval 1s
                monitor http.monitor
                period wd {{Sun-Sat}}
                    alert mail.alert nobody
        """))
    env = dict(os.environ, LVS_COMPAT_RUN_DIR=str(tmp_path / "run"))
    with Netlab() as lab:
        lab.add(netns)

        def mon(action):
            return lab.ns(netns, MON, str(mon_cf), action, env=env, check=False, timeout=60)
        assert mon("status").stdout == "stopped\n"
        started = mon("start")
        assert started.returncode == 0, started.stderr
        pid = int((tmp_path / "run" / "mon" / "mon.pid").read_text())
        assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/usr/bin/perl")
        assert mon("status").stdout == "running\n"
        assert mon("start").returncode == 0          # already running: left alone
        assert int((tmp_path / "run" / "mon" / "mon.pid").read_text()) == pid
        stopped = mon("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not alive(pid)          # gone (or a zombie its new parent has yet to reap)
        assert mon("status").returncode == 3


def test_mon_resource_refuses_a_missing_config(tmp_path):
    env = dict(os.environ, LVS_COMPAT_RUN_DIR=str(tmp_path / "run"))
    result = subprocess.run([MON, str(tmp_path / "none.cf"), "start"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "no such file" in result.stderr
