"""`heartbeat` takes every option of 3.0.6's command line (`heartbeat [-dDkMrRsvWlVf]
[-C Current-resource-state]`, plus `-h`), with C's meaning and exit codes: Debian's unit runs
`heartbeat -f` (Type=simple, PIDFile=/run/heartbeat.pid) and `-k`, its init script plain start,
`-k`, `-r` and `-s`."""

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from lvs_compat.heartbeat.cli import build_parser

from conftest import REPO

HEARTBEAT = REPO / "bin" / "heartbeat"


def c_heartbeat():
    """Debian's 3.0.6 binary: in place, or where a diversion moved it."""
    for path in ("/usr/libexec/heartbeat/heartbeat.c-3.0.6", "/usr/libexec/heartbeat/heartbeat"):
        if os.path.exists(path) and b"lvs_compat" not in open(path, "rb").read(4096):
            return path
    pytest.fail("Debian's heartbeat 3.0.6 is not installed (the Makefile's DEBS has it)")


def ours(*args, timeout=20):
    return subprocess.run([sys.executable, str(HEARTBEAT), *args], capture_output=True,
                          text=True, timeout=timeout)


def theirs(*args):
    """The C binary with an empty /run of its own (a private mount namespace): its pid file
    is fixed at /run/heartbeat.pid, and no heartbeat of this machine may answer for it."""
    script = 'mount -t tmpfs lvs-compat-test /run && exec "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--",
                           "sh", "-c", script, "sh", c_heartbeat(), *args],
                          capture_output=True, text=True, timeout=20)


@pytest.mark.parametrize("argv, expected", [
    ([], {"foreground": False, "stop": False, "status": False, "reload": False}),
    (["-f"], {"foreground": True}),
    (["--foreground"], {"foreground": True}),
    (["-k"], {"stop": True}),
    (["-r"], {"reload": True}),
    (["-s"], {"status": True}),
    (["-d"], {"debug": 1}),
    (["-ddd"], {"debug": 3}),
    (["-D"], {"defaults": True}),
    (["-l"], {"realtime": False}),
    (["-M"], {"manage_resources": False}),
    (["-R"], {"restarting": True}),
    (["-R", "-C", "local"], {"restarting": True, "current_state": "local"}),
    (["-RCall"], {"restarting": True, "current_state": "all"}),
    (["-W"], {"wiki": True}),
    (["-DW"], {"defaults": True, "wiki": True}),
    (["-v"], {"verbose": 1}),
    (["-V"], {"version": True}),
    (["-dDkMrRsvWlVf"], {"debug": 1, "defaults": True, "stop": True, "manage_resources": False,
                         "reload": True, "restarting": True, "status": True, "verbose": 1,
                         "wiki": True, "realtime": False, "version": True, "foreground": True}),
    (["-s", "operand"], {"status": True, "operands": ["operand"]}),   # C ignores operands
])
def test_every_option_of_the_c_command_line_is_parsed(argv, expected):
    options = vars(build_parser().parse_args(argv))
    assert {key: options[key] for key in expected} == expected


# Exit codes side by side with the C binary, for what it can run safely on any machine (it
# reads /etc/ha.d, so nothing that would start it).
@pytest.mark.parametrize("argv", [
    ["-h"], ["-X"], ["-V"], ["-s"], ["-k"], ["-s", "-k"], ["-l", "-s"], ["-M", "-s"], ["-f", "-s"],
    ["-W", "-s"], ["-d", "-s"], ["-v", "-s"], ["-C", "local"], ["-R", "-C", "local", "-s"],
    ["-D"], ["-D", "-s"], ["-k", "-D"], ["-D", "-W"], ["-s", "operand"],
])
def test_exit_codes_are_the_c_ones(argv, tmp_path):
    c_result = theirs(*argv)
    our_result = ours("--pid-file", str(tmp_path / "none.pid"), *argv)
    assert our_result.returncode == c_result.returncode, (c_result.stderr, our_result.stderr)
    assert "Traceback" not in our_result.stderr
    if "-D" in argv or "-s" in argv and "-V" not in argv:
        assert our_result.stdout == c_result.stdout      # the tables, "heartbeat is stopped..."
    if our_result.returncode == 2:
        assert our_result.stderr.splitlines()[0].startswith("heartbeat: ")
        assert "Usage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]" in c_result.stderr
        assert "Usage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]" in our_result.stderr


def test_a_stale_pid_file_is_status_1_as_in_c(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid_file = tmp_path / "heartbeat.pid"
    pid_file.write_text(f"{int(gone.stdout):10d}\n")
    result = ours("--pid-file", str(pid_file), "-s")
    assert (result.returncode, result.stdout) == (1, "heartbeat is stopped. No process\n")


def test_restarting_flag_from_a_shell_finds_no_heartbeat_of_its_own(tmp_path):
    etc = write_ha_dir(tmp_path)
    result = ours(*dirs(tmp_path), "--config-dir", str(etc), "-R")
    assert (result.returncode, result.stderr) == (6, "ERROR: heartbeat is not running.\n")


ONE_NODE = """\
    logfile {log}
    keepalive 200ms
    deadtime 2
    initdead 2
    ucast lo 127.0.0.1
    crm off
    node nodea
"""


def write_ha_dir(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "ha.cf").write_text(textwrap.dedent(ONE_NODE.format(log=tmp_path / "ha-log")))
    (etc / "haresources").write_text("")
    (etc / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (etc / "authkeys").chmod(0o600)
    return etc


def dirs(tmp_path):
    return ["--state-dir", str(tmp_path / "state"), "--run-dir", str(tmp_path / "run"),
            "--pid-file", str(tmp_path / "heartbeat.pid"), "--node-name", "nodea"]


def wait_for(condition, what, seconds=20):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.05)


def test_f_stays_in_the_foreground_and_writes_the_pid_file_systemd_reads(tmp_path):
    """systemd's Type=simple: the process it started is the daemon (no fork), and the pid file
    names it; -s, -r (config checked first) and -k work on it as on C's."""
    etc = write_ha_dir(tmp_path)
    pid_file = tmp_path / "heartbeat.pid"
    # a private network namespace: UDP port 694 on lo is ours alone
    script = 'ip link set lo up && exec "$@"'
    daemon = subprocess.Popen(["unshare", "--net", "--", "sh", "-c", script, "sh",
                               sys.executable, str(HEARTBEAT), "-f", "--config-dir", str(etc),
                               *dirs(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: pid_file.exists() or daemon.poll() is not None, "pid file")
        assert daemon.poll() is None, daemon.stderr.read()
        assert int(pid_file.read_text()) == daemon.pid       # unshare and sh exec'ed: same pid
        assert pid_file.read_bytes() == b"%10d\n" % daemon.pid

        status = ours(*dirs(tmp_path), "-s")
        assert status.returncode == 0
        assert status.stdout == f"heartbeat OK [pid {daemon.pid} et al] is running on nodea [nodea]...\n"
        again = ours(*dirs(tmp_path), "--config-dir", str(etc), "-f")
        assert (again.returncode, again.stderr) == (0, f"heartbeat: already running [pid {daemon.pid}].\n")

        (etc / "ha.cf").write_text((etc / "ha.cf").read_text() + "deadtime 2s\n")
        refused = ours(*dirs(tmp_path), "--config-dir", str(etc), "-r")
        assert refused.returncode == 1
        assert refused.stderr.splitlines()[-1] == \
            f"heartbeat: Config errors: Heartbeat pid {daemon.pid} NOT restarted"
        log = tmp_path / "ha-log"
        assert "SIGHUP" not in log.read_text()          # the refused -r signalled nothing
        shutil.copy(etc / "ha.cf", tmp_path / "bad.cf")
        good = (tmp_path / "bad.cf").read_text().replace("deadtime 2s\n", "")
        # parses, but cannot run: the daemon refuses it and -r says so (3.0.6's exits 0)
        (etc / "ha.cf").write_text(good + "bcast nosuchif0\n")
        cannot_run = ours(*dirs(tmp_path), "--config-dir", str(etc), "-r")
        line = good.count("\n") + 1
        assert (cannot_run.returncode, cannot_run.stderr) == (
            1, f"heartbeat: reload refused, configuration kept: {etc / 'ha.cf'}:{line}:7: bcast "
               f"nosuchif0: cannot get the broadcast address: No such device\n")
        assert daemon.poll() is None and "reload refused" in log.read_text()
        (etc / "ha.cf").write_text(good)
        reload = ours(*dirs(tmp_path), "--config-dir", str(etc), "-r")
        assert reload.returncode == 0, reload.stderr
        wait_for(lambda: log.read_text().count("Link nodea:lo up.") == 2, "restart after SIGHUP")
        assert "ha.cf changed: restarting heartbeat (SIGHUP)" in log.read_text()
        assert daemon.poll() is None and int(pid_file.read_text()) == daemon.pid

        stop = ours(*dirs(tmp_path), "-k", timeout=70)
        assert stop.returncode == 0, stop.stderr
        assert daemon.wait(timeout=10) == 0
        assert not pid_file.exists()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
