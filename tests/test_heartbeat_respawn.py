"""``respawn`` lines run by our real daemon (issue 16 item 3): the program starts as its user,
comes back when killed, stops with the daemon, and leaves no zombie; Debian's ipfail is
started as hacluster and, since it cannot sign on, given up by C's rate limit.

Each daemon runs in a private network namespace (``unshare --net``: its own lo, UDP port 694
ours alone), as tests/test_heartbeat_cli_options.py does.  Switching users needs root (CI)."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from lvs_compat.heartbeat.supervisor import MAX_SHORT_RUNS, QUICK_RESPAWN_DELAY_MS
from lvs_compat.lab import wait_for

from conftest import REPO

HEARTBEAT = REPO / "bin" / "heartbeat"
IPFAIL = "/usr/libexec/heartbeat/ipfail"   # Debian 3.0.6-13 moved it from /usr/lib/heartbeat

if os.geteuid() != 0:
    pytest.skip("switching a child to another user needs root (CI runs as root)",
                allow_module_level=True)

HA_CF = """\
    logfile {log}
    keepalive 500ms
    deadtime 2
    bcast lo
    crm off
    node nodea
    env marker=respawn-test
    {children}
"""


def start_daemon(tmp_path, children):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "ha.cf").write_text(textwrap.dedent(HA_CF).format(log=tmp_path / "ha-log",
                                                             children=children))
    (etc / "haresources").write_text("")
    (etc / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (etc / "authkeys").chmod(0o600)
    script = 'ip link set lo up && exec "$@"'
    return subprocess.Popen(
        ["unshare", "--net", "--", "sh", "-c", script, "sh", sys.executable, str(HEARTBEAT),
         "-f", "--config-dir", str(etc), "--state-dir", str(tmp_path / "state"),
         "--run-dir", str(tmp_path / "run"), "--pid-file", str(tmp_path / "heartbeat.pid"),
         "--node-name", "nodea"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def log_lines(tmp_path):
    path = tmp_path / "ha-log"
    return [line.split(": ", 2)[2] for line in path.read_text().splitlines()] \
        if path.exists() else []


def proc_status(pid):
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def group_members(pgid):
    """Living pids whose process group is ``pgid`` (a child and what it started); a zombie has
    ended (its parent, or init for an orphan, reaps it when it gets to it)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            state, _, group = stat.rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state != "Z":
                members.append(int(entry))
    return members


def child_pids(tmp_path, command):
    prefix = f'Starting "{command}" as uid '
    return [int(line.rsplit("(pid ", 1)[1].rstrip(")")) for line in log_lines(tmp_path)
            if line.startswith(f"info: {prefix}")]


def stop(daemon):
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    try:
        return daemon.wait(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


@pytest.fixture
def shared_dir():
    """A directory the unprivileged child can reach (pytest's tmp_path is root's, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="lvs-respawn-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_respawn_line_runs_as_nobody_comes_back_when_killed_and_stops_with_heartbeat(
        tmp_path, shared_dir):
    script = shared_dir / "watcher"
    script.write_text("#!/bin/sh\nsleep 600 &\nwait\n")   # a child of its own, in its group
    script.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    daemon = start_daemon(tmp_path, f"respawn nobody {script} --flag")
    orphans = []   # a SIGKILL to the script alone leaves its sleep running (as with C)
    try:
        first = wait_for(lambda: child_pids(tmp_path, f"{script} --flag"), 20,
                         what="the child's start")[0]
        status = proc_status(first)
        assert status["Uid"].split()[:2] == [str(nobody.pw_uid)] * 2, status
        assert status["Gid"].split()[:2] == [str(nobody.pw_gid)] * 2, status
        assert status["Groups"].split() == [str(g) for g in
                                            os.getgrouplist("nobody", nobody.pw_gid)], status
        assert os.getpgid(first) == first                     # its own process group
        assert os.sched_getscheduler(first) == os.SCHED_OTHER  # the loop is SCHED_RR
        environ = dict(item.split("=", 1) for item in
                       Path(f"/proc/{first}/environ").read_text().split("\0") if "=" in item)
        assert environ["HA_marker"] == "respawn-test" and environ["HA_CURHOST"] == "nodea"
        assert Path(f"/proc/{first}/cmdline").read_text().split("\0")[1:3] == [str(script),
                                                                             "--flag"]
        wait_for(lambda: len(group_members(first)) == 2, 10, what="the script's sleep")

        orphans += [pid for pid in group_members(first) if pid != first]
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: child_pids(tmp_path, f"{script} --flag")[1:], 10,
                          what="the respawn")[0]
        assert second != first and proc_status(second)["Uid"].split()[0] == str(nobody.pw_uid)
        lines = log_lines(tmp_path)
        assert (f"WARN: Managed {script} --flag process {first} killed by signal 9 "
                "[SIGKILL - Kill, unblockable].") in lines
        assert f'ERROR: Respawning client "{script} --flag":' in lines
        assert proc_status(first) is None                     # reaped: no zombie left
        wait_for(lambda: len(group_members(second)) == 2, 10, what="the new script's sleep")
        assert stop(daemon) == 0, daemon.stderr.read()
        lines = log_lines(tmp_path)
        assert f"info: killing {script} --flag process group {second} with signal 15" in lines
        # the script and its sleep: SIGTERM went to the group (the sleep is reaped by init)
        wait_for(lambda: group_members(second) == [], 10, what="the whole group's end")
        assert proc_status(second) is None
        assert lines[-1] == "info: Heartbeat shutdown complete."
    finally:
        stop(daemon)
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_an_unknown_user_stops_the_start_at_its_line(tmp_path):
    daemon = start_daemon(tmp_path, "respawn nosuchuser /bin/true")
    try:
        assert daemon.wait(timeout=20) == 1
        assert daemon.stderr.read().splitlines()[-1] == \
            f"heartbeat: {tmp_path}/etc/ha.cf:8:1: Invalid uid [nosuchuser] specified for " \
            "client child"
        assert not (tmp_path / "heartbeat.pid").exists()
    finally:
        stop(daemon)


def test_a_program_that_is_not_executable_is_refused_at_its_line(tmp_path):
    from lvs_compat.config.hacf import parse_ha_cf
    from lvs_compat.heartbeat.respawn import ChildError, resolve_children

    text = "node a\nbcast lo\nlogfile /dev/null\n" \
           "failfast root /etc/passwd -x\nrespawn root /nonexistent/prog\n"
    with pytest.raises(ChildError) as refused:
        resolve_children(parse_ha_cf(text, "ha.cf"))
    assert str(refused.value) == "ha.cf:4:1: Client child command [/etc/passwd] is not " \
                                 "executable"
    children = resolve_children(parse_ha_cf("node a\nbcast lo\nlogfile /dev/null\n"
                                            "failfast root /bin/sleep 5\n", "ha.cf"))
    assert [(c.argv, c.uid, c.gid, c.failfast) for c in children] == [
        (("/bin/sleep", "5"), 0, 0, True)]


@pytest.mark.interop
def test_debians_ipfail_is_started_as_hacluster_and_given_up_by_the_rate_limit(tmp_path):
    """ipfail cannot sign on (no client API yet: it exits 1 at once), so it dies within a
    second, eleven times in a row, 1 s apart: then "respawning too fast" and no more starts.
    About 11 s: C's fixed limits (30 s, 10 runs, 1 s), which no option shortens."""
    hacluster = pwd.getpwnam("hacluster")
    daemon = start_daemon(tmp_path, f"respawn hacluster {IPFAIL}")
    try:
        given_up = f'ERROR: Client {IPFAIL} "respawning too fast"'
        wait_for(lambda: given_up in log_lines(tmp_path), 30, what="the rate limit")
        lines = log_lines(tmp_path)
        starts = [line for line in lines if line.startswith(f'info: Starting "{IPFAIL}" as ')]
        assert len(starts) == MAX_SHORT_RUNS + 1, lines
        assert all(f" as uid {hacluster.pw_uid}  gid {hacluster.pw_gid} (pid " in line
                   for line in starts)
        assert lines.count(f'ERROR: Respawning client "{IPFAIL}":') == MAX_SHORT_RUNS
        assert sum(f"Managed {IPFAIL} process " in line and "exited with return code 1." in line
                   for line in lines) == MAX_SHORT_RUNS + 1
        # 1 s between a quick death and the next start (log stamps are to the second)
        stamps = [datetime.strptime(line[:15], "%b %d %H:%M:%S")
                  for line in (tmp_path / "ha-log").read_text().splitlines()
                  if f'Starting "{IPFAIL}" as ' in line]
        assert (stamps[-1] - stamps[0]).total_seconds() >= \
            MAX_SHORT_RUNS * QUICK_RESPAWN_DELAY_MS / 1000 - 1
        assert not [line for line in lines[lines.index(given_up):]
                    if line.startswith("info: Starting")]
        assert stop(daemon) == 0
    finally:
        stop(daemon)


def test_a_failfast_program_that_fails_reboots_through_the_daemons_reboot(tmp_path):
    """The shell on a real process, with the reboot replaced: ``failfast root /bin/false``."""
    import selectors

    from lvs_compat.heartbeat.respawn import ClientChildren
    from lvs_compat.heartbeat.supervisor import ManagedChild

    selector = selectors.DefaultSelector()
    logged, reboots = [], []
    children = ClientChildren([ManagedChild("/bin/false", ("/bin/false",), "root", 0, 0,
                                            failfast=True)], {"PATH": "/usr/bin:/bin"},
                              selector, lambda actions: logged.extend(a.text for a in actions),
                              reboots.append)
    try:
        children.start(0)
        pid = children.core.pid(0)
        events = selector.select(timeout=10)
        assert [key.data for key, _ in events] == [("child", 0)]
        children.ready(0, 100)
        assert reboots == ["/bin/false"]
        assert logged[-3:] == [
            f"Managed /bin/false process {pid} exited with return code 1.",
            "Rebooting system.  Reason: /bin/false", 'Respawning client "/bin/false":']
        assert proc_status(pid) is None                        # reaped
    finally:
        children.close()
        selector.close()
