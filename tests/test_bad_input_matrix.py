"""Every executable against bad input: one clear line, a documented exit status, no traceback.

The matrix (issue 8, item 3): unknown options, missing values, empty and huge arguments,
non-UTF-8 bytes, shell metacharacters, missing and unreadable files, a group-readable
authkeys, no permission.  Each case names the executable, the argv and the exit statuses
its documentation allows.  Shell metacharacters must run nothing: every case that carries
them would create a marker file if a shell ever saw them.
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

from conftest import REPO, SHARED
from lvs_alert_support import FakeIpvsadm

PYTHON = sys.executable
SEED = SHARED / "seed" / "examples"
HUGE = "a" * 100_000  # one argv word may hold 128 KiB at most (MAX_ARG_STRLEN)
HUGE_NUMBER = "9" * 5000  # more digits than Python's int() takes
NOT_UTF8 = b"\xff\xfe\x80"


@dataclass
class Case:
    name: str
    program: str  # path relative to the repo
    args: list  # str or bytes
    exit_statuses: set
    one_line: bool = True  # stderr is exactly one line (else: at least one, e.g. a usage line too)


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "SHELL-RAN"


def shell_payload(marker):
    return f"x;touch {marker}"


def run(program, args, env=None, cwd=None):
    argv = [os.fsencode(PYTHON), os.fsencode(str(REPO / program)),
            *[a if isinstance(a, bytes) else os.fsencode(a) for a in args]]
    return subprocess.run(argv, capture_output=True, env=env, cwd=cwd, timeout=60, stdin=subprocess.DEVNULL)


def assert_clean_refusal(result, case):
    stderr = result.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in result.stderr and b"Traceback" not in result.stdout, stderr
    assert result.returncode in case.exit_statuses, (result.returncode, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "a refusal must say why"
    if case.one_line:
        assert len(lines) == 1, stderr
    assert all(len(line) < 2000 for line in lines), "a huge argument must not be echoed whole"


# ---------------------------------------------------------------- lvs-compat check

CHECK = "bin/lvs-compat"


def check_cases(tmp_path, marker):
    directory = tmp_path / "a-directory"
    directory.mkdir()
    return [
        Case("unknown option", CHECK, ["check", "--frobnicate"], {2}),
        Case("missing value", CHECK, ["check", "--mon-cf"], {2}),
        Case("no sub-command", CHECK, [], {2}),
        Case("empty path", CHECK, ["check", "--mon-cf", ""], {2}),
        Case("huge path", CHECK, ["check", "--mon-cf", HUGE], {2}),
        Case("non-UTF-8 path", CHECK, [b"check", b"--mon-cf", b"/tmp/" + NOT_UTF8], {2}),
        Case("shell metacharacters", CHECK, ["check", "--mon-cf", shell_payload(marker)], {2}),
        Case("a directory as mon.cf", CHECK, ["check", "--mon-cf", str(directory)], {2}),
        Case("missing ha dir", CHECK, ["check", "--ha-dir", str(tmp_path / "none")], {2}),
    ]


def test_lvs_compat_check_refuses_bad_input_cleanly(tmp_path, marker):
    for case in check_cases(tmp_path, marker):
        assert_clean_refusal(run(case.program, case.args), case)
    assert not marker.exists()


def test_lvs_compat_check_on_a_non_utf8_config_names_the_line(tmp_path):
    mon_cf = tmp_path / "mon.cf"
    mon_cf.write_bytes(b"hostgroup g " + NOT_UTF8 + b"\n\nwatch g\n    service s\n        interval 5x\n")
    result = run(CHECK, ["check", "--mon-cf", str(mon_cf)])
    assert_clean_refusal(result, Case("", CHECK, [], {2}))
    assert result.stderr.decode().startswith(f"{mon_cf}:5:")


# ---------------------------------------------------------------- lvs.alert

ALERT = "alert.d/lvs.alert"
GOOD = ["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5"]


def with_option(option, value):
    args = list(GOOD)
    args[args.index(option) + 1] = value
    return args


@pytest.fixture
def alert_env(tmp_path):
    fake = FakeIpvsadm(tmp_path)
    fake.setup("-A -t 10.0.0.3:80 -s wlc", "-a -t 10.0.0.3:80 -r 192.168.0.1:80 -g -w 5")
    return fake


def test_lvs_alert_refuses_bad_input_and_leaves_the_table_alone(alert_env, marker):
    env, before = alert_env.env, alert_env.saved()
    cases = [
        Case("unknown option", ALERT, ["-Z", *GOOD], {2}),
        Case("long option", ALERT, ["--help"], {2}),
        Case("missing value", ALERT, [*GOOD, "-F"], {2}),
        Case("no arguments", ALERT, [], {2}),
        Case("empty real server", ALERT, with_option("-R", ""), {2}),
        Case("huge real server", ALERT, with_option("-R", HUGE), {2}),
        Case("non-UTF-8 real server", ALERT, [os.fsencode(a) for a in GOOD[:5]] + [NOT_UTF8, b"-W", b"5"], {2}),
        Case("shell in -R", ALERT, with_option("-R", shell_payload(marker)), {2}),
        Case("shell in -V", ALERT, with_option("-V", shell_payload(marker)), {2}),
        Case("shell in -W", ALERT, ["-u", *with_option("-W", shell_payload(marker))], {2}),
        Case("shell in -P", ALERT, with_option("-P", shell_payload(marker)), {2}),
        Case("weight out of range", ALERT, ["-u", *with_option("-W", "70000")], {2}),
        Case("huge weight", ALERT, ["-u", *with_option("-W", HUGE_NUMBER)], {2}),
        Case("huge port", ALERT, with_option("-V", "10.0.0.3:" + HUGE_NUMBER), {2}),
        Case("huge time", ALERT, ["-t", HUGE_NUMBER, *GOOD], {2}),
    ]
    for case in cases:
        assert_clean_refusal(run(case.program, case.args, env=env), case)
        assert alert_env.saved() == before, case.name
    assert alert_env.calls() == [], "ipvsadm must not run on bad input"
    assert not marker.exists()


def test_lvs_alert_reports_an_ipvsadm_failure_with_its_own_message(alert_env):
    env = dict(alert_env.env, IPVSADM="/bin/false")
    result = run(ALERT, ["-u", *GOOD], env=env)
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    assert result.stderr.strip()


# ---------------------------------------------------------------- the monitors

MONITORS = ["mon.d/http.monitor", "mon.d/ftp.monitor", "mon.d/fping.monitor"]


@pytest.mark.parametrize("monitor", MONITORS)
def test_monitors_never_trace_back_and_never_run_a_shell(monitor, marker):
    # Like the Perl originals, a monitor warns about a bad option and goes on: the
    # verdict (exit 1: the host fails) is what mon needs.  Hosts are names that
    # cannot resolve or hold shell metacharacters; port 1 on loopback refuses.
    port = [] if monitor.endswith("fping.monitor") else ["-p", "1", "-t", "2"]
    timeout = ["-t", "100", "-r", "0"] if monitor.endswith("fping.monitor") else []
    for args in ([*port, *timeout, "-Z", "127.0.0.1"],
                 [*port, *timeout, shell_payload(marker)],
                 [*port, *timeout, HUGE[:300]],
                 [*port, *timeout, ""],
                 ["-t", HUGE_NUMBER, *port[:2], "127.0.0.1"],
                 ["-t", "1e400", *port[:2], "127.0.0.1"],
                 [*timeout, "-p", HUGE_NUMBER, "-r", HUGE_NUMBER, "-s", HUGE_NUMBER, "127.0.0.1"],
                 [os.fsencode(a) for a in [*port, *timeout]] + [NOT_UTF8]):
        result = subprocess.run(["unshare", "-n", PYTHON, str(REPO / monitor), *args],
                                capture_output=True, timeout=60)
        assert b"Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        assert result.returncode in (0, 1, 2), (args, result.returncode, result.stdout, result.stderr)
    assert not marker.exists()


@pytest.mark.parametrize("before", [["127.0.0.1"], ["--"]])
def test_fping_monitor_never_hands_a_host_to_fping_as_an_option(tmp_path, before):
    """Issue 19: a host "-fFILE" (after "--", or after a first host: Getopt::Std stops at either)
    was an fping option: alone, fping read its targets from FILE and printed each line in an
    error message on mon's page; after a host, fping printed its usage and no host was
    checked."""
    targets = tmp_path / "targets"
    targets.write_text("leaked-secret-name\n")
    result = subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                             PYTHON, str(REPO / "mon.d/fping.monitor"), "-T",
                             "-t", "100", "-r", "0", *before, f"-f{targets}"],
                            capture_output=True, timeout=60)
    output = (result.stdout + result.stderr).decode()
    assert "leaked-secret-name" not in output
    assert "Usage: fping" not in output
    # the summary: the name failed, as a name that does not resolve (exit 2: fping's own)
    assert (result.returncode, output.splitlines()[0]) == (2, f"-f{targets}")
    assert f"-f{targets}: " in output  # fping's resolver message for the name
    assert f"traceroute: not run for [-f{targets}]: a host name cannot start with '-'" in output
    if before == ["127.0.0.1"]:
        assert re.search(r"^127\.0\.0\.1 +[0-9.]+ ms$", output, re.M)  # checked, and up


# ---------------------------------------------------------------- heartbeat and cl_status

HEARTBEAT = "bin/heartbeat"
CL_STATUS = "bin/cl_status"


@pytest.fixture
def ha_dir(tmp_path):
    directory = tmp_path / "ha.d"
    directory.mkdir()
    shutil.copy(SEED / "ha.conf", directory / "ha.cf")
    (directory / "haresources").write_text("")
    (directory / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (directory / "authkeys").chmod(0o600)
    return directory


def heartbeat_args(tmp_path, config_dir, *extra):
    return ["--config-dir", str(config_dir), "--state-dir", str(tmp_path / "state"),
            "--run-dir", str(tmp_path / "run"), "--pid-file", str(tmp_path / "hb.pid"),
            "--node-name", "lvs1.domain.com", "--foreground", *extra]


def test_heartbeat_refuses_bad_configuration_before_starting(tmp_path, ha_dir, marker):
    (ha_dir / "authkeys").chmod(0o640)
    result = run(HEARTBEAT, heartbeat_args(tmp_path, ha_dir))
    assert_clean_refusal(result, Case("group-readable authkeys", HEARTBEAT, [], {6}, one_line=False))
    assert b"authkeys" in result.stderr and b"600" in result.stderr
    (ha_dir / "authkeys").chmod(0o600)

    (ha_dir / "ha.cf").write_text("keepalive 2s\nnode lvs1.domain.com\nbcast lo\n")
    result = run(HEARTBEAT, heartbeat_args(tmp_path, ha_dir))
    assert_clean_refusal(result, Case("2s", HEARTBEAT, [], {6}, one_line=False))
    assert result.stderr.decode().startswith(f"{ha_dir / 'ha.cf'}:1:")

    for case in [
        Case("unknown option", HEARTBEAT, ["--frobnicate"], {1, 2}, one_line=False),
        Case("missing value", HEARTBEAT, ["--config-dir"], {1, 2}, one_line=False),
        Case("missing config dir", HEARTBEAT, heartbeat_args(tmp_path, tmp_path / "nowhere"), {6}, one_line=False),
        Case("huge config dir", HEARTBEAT, heartbeat_args(tmp_path, HUGE), {6}, one_line=False),
        Case("non-UTF-8 config dir", HEARTBEAT,
             [os.fsencode(a) for a in heartbeat_args(tmp_path, "/tmp/x")][:1] + [b"/tmp/" + NOT_UTF8]
             + [os.fsencode(a) for a in heartbeat_args(tmp_path, "/tmp/x")][2:], {6}, one_line=False),
        Case("shell metacharacters", HEARTBEAT, heartbeat_args(tmp_path, shell_payload(marker)), {6},
             one_line=False),
    ]:
        assert_clean_refusal(run(case.program, case.args), case)
    assert not (tmp_path / "hb.pid").exists(), "nothing may start on bad input"
    assert not marker.exists()


def test_heartbeat_with_its_port_in_use_says_so_and_starts_nothing(tmp_path, ha_dir):
    # Another program holds the UDP port (without SO_REUSEADDR): a one-line reason naming the
    # port, exit 1 (a machine problem, not a config error), no pid file; in a private network
    # namespace, so nothing outside the test is touched.
    (ha_dir / "ha.cf").write_text("keepalive 1\ndeadtime 10\nudpport 694\nbcast lo\n"
                                 "auto_failback on\nnode lvs1.domain.com\nnode lvs2.domain.com\n")
    holder = ("import socket, subprocess, sys\n"
              "subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)\n"
              "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "s.bind(('0.0.0.0', 694))\n"
              "r = subprocess.run(sys.argv[1:], capture_output=True, timeout=60)\n"
              "sys.stdout.buffer.write(b'%d\\n' % r.returncode); sys.stderr.buffer.write(r.stderr)\n")
    result = subprocess.run(["unshare", "-n", PYTHON, "-c", holder, PYTHON, str(REPO / HEARTBEAT),
                             *heartbeat_args(tmp_path, ha_dir)], capture_output=True, timeout=90)
    status = int(result.stdout.decode().split()[-1])
    assert_clean_refusal(subprocess.CompletedProcess([], status, b"", result.stderr),
                         Case("port in use", HEARTBEAT, [], {1}, one_line=False))
    # the log's ERROR line (stderr is the log without logfile/logfacility), then the reason
    last = result.stderr.decode().strip().splitlines()[-1]
    assert last == "heartbeat: bcast lo: cannot receive on *:694: Address already in use", last
    assert not (tmp_path / "hb.pid").exists()


def test_heartbeat_without_permission_says_so(tmp_path, ha_dir):
    # As nobody, the state directory cannot be created: a clear refusal, not a traceback.
    tmp_path.chmod(0o755)
    result = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                             PYTHON, str(REPO / HEARTBEAT), *heartbeat_args(tmp_path, ha_dir)],
                            capture_output=True, timeout=60)
    assert b"Traceback" not in result.stderr, result.stderr
    assert result.returncode != 0 and result.stderr.strip()


def test_cl_status_bad_input(tmp_path):
    for args, statuses in ([["frobnicate"], {1, 11}],
                           [["nodestatus"], {1, 11}],
                           [["hbstatus", "--run-dir", str(tmp_path / "none")], {1}],
                           [["nodestatus", HUGE, "--run-dir", str(tmp_path / "none")], {1, 2}],
                           [[b"nodestatus", NOT_UTF8, b"--run-dir", os.fsencode(str(tmp_path))], {1, 2}]):
        result = run(CL_STATUS, args)
        assert b"Traceback" not in result.stderr + result.stdout, result.stderr
        assert result.returncode in statuses, (args[:1], result.returncode, result.stderr)
