"""The daemon's shell without a network: state files in the C formats, the command line, config
errors, bad-packet rate limiting and serial framing."""

import os
import subprocess
import sys
import textwrap

import pytest

from lvs_compat.heartbeat import running, statefiles
from lvs_compat.heartbeat.daemon import BadPacketLog
from lvs_compat.heartbeat.ratelimit import RateLimiter

from conftest import REPO

HEARTBEAT = REPO / "bin" / "heartbeat"


# --- state files ------------------------------------------------------------------------------

def test_first_generation_is_time_plus_one_written_as_the_c_daemon_does(tmp_path):
    generation, note = statefiles.next_generation(str(tmp_path), "file", now=1795612326.7)
    assert generation == 1795612327
    assert note == "No Previous generation - starting at 1795612327"
    # LAB: a real 3.0.6 node wrote b"     1795612327\n" (16 bytes, %15lu\n)
    assert (tmp_path / "hb_generation").read_bytes() == b"     1795612327\n"


def test_generation_is_incremented_at_every_start_from_a_c_written_file(tmp_path):
    (tmp_path / "hb_generation").write_bytes(b"     1795612327\n")
    assert statefiles.next_generation(str(tmp_path), "file", now=0)[0] == 1795612328
    assert statefiles.next_generation(str(tmp_path), "file", now=0)[0] == 1795612329
    assert (tmp_path / "hb_generation").read_bytes() == b"     1795612329\n"


def test_hbgenmethod_time_uses_the_clock_and_writes_nothing(tmp_path):
    assert statefiles.next_generation(str(tmp_path), "time", now=1234.9)[0] == 1234
    assert not (tmp_path / "hb_generation").exists()


def test_the_generation_is_never_written_through_a_symlink_at_its_temporary_name(tmp_path):
    """Issue 19: the temporary file was opened without O_EXCL/O_NOFOLLOW, so a symbolic link
    at its (predictable) name made the daemon write the generation into the file it named."""
    victim = tmp_path / "precious"
    victim.write_text("precious\n")
    (tmp_path / f"hb_generation.tmp{os.getpid()}").symlink_to(victim)
    generation, _ = statefiles.next_generation(str(tmp_path), "file", 1_700_000_000)
    assert victim.read_text() == "precious\n"
    assert statefiles.next_generation(str(tmp_path), "file", 0)[0] == generation + 1
    assert not (tmp_path / f"hb_generation.tmp{os.getpid()}").exists()


def test_garbage_generation_file_is_a_one_line_error(tmp_path):
    (tmp_path / "hb_generation").write_bytes(b"junk\n")
    with pytest.raises(statefiles.StateFileError, match="not a decimal generation"):
        statefiles.next_generation(str(tmp_path), "file", now=0)


def test_uuid_is_16_raw_bytes_kept_across_starts(tmp_path):
    first = statefiles.node_uuid(str(tmp_path), "file", "nodea")
    assert len(first) == 16 and (tmp_path / "hb_uuid").read_bytes() == first
    assert statefiles.node_uuid(str(tmp_path), "file", "nodea") == first


def test_uuid_written_by_the_c_daemon_is_used_as_is(tmp_path):
    c_uuid = bytes.fromhex("25e815f973874fb1a7fcc21d02fee44d")  # LAB hb_uuid of hbcnode1
    (tmp_path / "hb_uuid").write_bytes(c_uuid)
    assert statefiles.node_uuid(str(tmp_path), "file", "x") == c_uuid
    assert statefiles.format_uuid(c_uuid) == "25e815f9-7387-4fb1-a7fc-c21d02fee44d"


def test_uuidfrom_nodename_needs_no_file(tmp_path):
    assert statefiles.node_uuid(str(tmp_path), "nodename", "nodea") == b"nodea" + b"\0" * 11
    assert not (tmp_path / "hb_uuid").exists()


def test_pid_file_format_and_ownership(tmp_path):
    path = str(tmp_path / "heartbeat.pid")
    statefiles.write_pid_file(path, os.getpid())
    assert (tmp_path / "heartbeat.pid").read_bytes() == b"%10d\n" % os.getpid()
    statefiles.remove_pid_file(path, os.getpid() + 1)  # not ours: kept
    assert os.path.exists(path)
    statefiles.remove_pid_file(path, os.getpid())
    assert not os.path.exists(path)


# --- bad packets are logged at most once a second per peer -------------------------------------------

def test_bad_packets_are_counted_and_reported_once_a_second_per_peer():
    log = BadPacketLog()
    reports = [log.record(("hb0", "10.0.0.9"), now_s=100 + i * 0.01) for i in range(300)]
    assert reports[0] == (1, 0) and reports[1:100] == [None] * 99
    assert reports[100] == (100, 0)  # the 99 silent ones and this one
    assert log.record(("hb0", "10.0.0.8"), now_s=102.5) == (1, 0)  # another peer: its own budget
    assert log.total == 301


def test_bad_packet_lines_are_also_limited_in_all_whatever_the_source():
    """Issue 19 item 7: a UDP source address is whatever the sender writes; 1000 spoofed
    sources within a second get at most four lines, and what was held back is counted."""
    log = BadPacketLog()
    reports = [log.record(("hb0", f"10.9.{n // 256}.{n % 256}"), now_s=100 + n * 0.001)
               for n in range(1000)]
    lines = [report for report in reports if report is not None]
    assert len(lines) == 4  # at 100.000, 100.250, 100.500, 100.750
    assert lines[0] == (1, 0)
    assert sum(due + others for due, others in lines) + log.held_globally == 1000
    assert log.total == 1000


class FakeClock:
    def __init__(self):
        self.ms = 1_000_000

    def now_ms(self):
        return self.ms

    def wall(self):
        return 1_800_000_000 + self.ms / 1000

    def sleep(self, seconds):
        self.ms += int(seconds * 1000)


def counting_opens(monkeypatch):
    from lvs_compat.heartbeat import hblog

    opened = []
    real = hblog.open_for_append

    def counting(path):
        opened.append(path)
        return real(path)
    monkeypatch.setattr(hblog, "open_for_append", counting)
    return opened


def test_a_flood_from_spoofed_sources_gives_few_lines_and_one_open_of_the_log(tmp_path, monkeypatch):
    from lvs_compat.config.hadir import load_ha_dir
    from lvs_compat.heartbeat.daemon import Daemon
    from lvs_compat.heartbeat.hblog import HbLog

    opened = counting_opens(monkeypatch)
    write_ha_dir(tmp_path / "etc", GOOD)
    ha_dir = load_ha_dir(str(tmp_path / "etc"))
    clock = FakeClock()
    log = HbLog(node_name="nodea", logfile=str(tmp_path / "ha-log"), clock=clock)
    daemon = Daemon(ha_dir, "nodea", state_dir=str(tmp_path), run_dir=str(tmp_path),
                    pid_file=None, log=log, clock=clock)

    class Medium:
        name = "hb0"
        batch = 0

        def read(self):
            self.batch += 1
            return [(b"garbage", (f"10.{self.batch}.{n // 256}.{n % 256}", 694)) for n in range(500)]

    medium = Medium()
    for _ in range(20):  # 10 000 packets from 10 000 sources over 2 s
        daemon._receive(medium)
        clock.ms += 100
    assert daemon.bad_packets.total == 10_000
    lines = (tmp_path / "ha-log").read_text().splitlines()
    assert len(lines) <= 2 * 4 + 1, len(lines)
    assert "more from other sources not logged" in lines[-1]
    assert opened == [str(tmp_path / "ha-log")]  # once, not once a line


def test_the_log_follows_a_rename_by_logrotate_and_reopens_on_sighup(tmp_path, monkeypatch):
    from lvs_compat.heartbeat.hblog import HbLog

    opened = counting_opens(monkeypatch)
    clock = FakeClock()
    path = tmp_path / "ha-log"
    log = HbLog(node_name="nodea", logfile=str(path), clock=clock)
    log.info("one")
    log.info("two")
    path.rename(tmp_path / "ha-log.1")  # Debian's /etc/logrotate.d/heartbeat: rename, no signal
    log.info("three")  # within the second: still the open (renamed) file
    clock.ms += 1000
    log.info("four")
    assert [line.rsplit(": ", 1)[1] for line in (tmp_path / "ha-log.1").read_text().splitlines()] \
        == ["one", "two", "three"]
    assert path.read_text().endswith("info: four\n")
    assert len(opened) == 2
    log.reopen()  # SIGHUP
    log.info("five")
    assert len(opened) == 3 and path.read_text().endswith("info: five\n")
    # copytruncate: the open file is cut to zero and the next line lands at its start
    clock.ms += 1000
    with open(path, "r+") as handle:
        handle.truncate(0)
    log.info("six")
    assert path.read_text().endswith("info: six\n") and path.read_text().count("\n") == 1
    assert len(opened) == 3
    log.close()


def test_the_rate_limiter_forgets_first_the_key_unheard_of_longest():
    limiter = RateLimiter(interval=1000, max_keys=2)
    assert [limiter.due(key, 0) for key in "aab"] == [1, None, 1]
    assert limiter.due("c", 1) == 1  # a third key: "a" goes
    assert limiter.due("a", 2) == 1  # forgotten, so reported at once (its held count is lost)
    assert limiter.due("c", 3) is None  # "c" was kept (and "b" went for "a")
    assert limiter.due("b", 4) == 1


# --- the command line -----------------------------------------------------------------------------------

def run_heartbeat(*args, cwd=None):
    return subprocess.run([sys.executable, str(HEARTBEAT), *args], capture_output=True,
                          text=True, timeout=20, cwd=cwd)


def write_ha_dir(directory, ha_cf, authkeys="auth 1\n1 sha1 secret\n", mode=0o600):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(textwrap.dedent(ha_cf))
    (directory / "haresources").write_text("")
    (directory / "authkeys").write_text(authkeys)
    (directory / "authkeys").chmod(mode)


def dirs(tmp_path):
    return ["--config-dir", str(tmp_path / "etc"), "--state-dir", str(tmp_path / "state"),
            "--run-dir", str(tmp_path / "run"), "--node-name", "nodea"]


GOOD = """\
    logfile /dev/null
    keepalive 500ms
    deadtime 2
    bcast lo
    crm off
    node nodea nodeb
"""


def test_version_and_defaults_table_like_the_c_daemon():
    assert run_heartbeat("-V").stdout == "3.0.6 (lvs-compat)\n"
    c_table = subprocess.run(["/usr/libexec/heartbeat/heartbeat", "-D"], capture_output=True,
                             text=True, timeout=20)
    ours = run_heartbeat("-D")
    assert ours.returncode == 0
    if c_table.returncode == 0 and c_table.stdout:
        assert ours.stdout == c_table.stdout
    assert ours.stdout.startswith("Directive                Default   Description\n")


def test_status_and_stop_when_nothing_runs(tmp_path):
    status = run_heartbeat(*dirs(tmp_path), "-s")
    assert (status.returncode, status.stdout) == (3, "heartbeat is stopped. No process\n")
    stop = run_heartbeat(*dirs(tmp_path), "-k")
    assert (stop.returncode, stop.stderr) == (0, "INFO: Heartbeat already stopped.\n")


class SteppingClock:
    """Time passes only when the code under test sleeps."""

    def __init__(self):
        self.ms, self.slept = 0, []

    def now_ms(self):
        return self.ms

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.ms += round(seconds * 1000)


def test_stop_gives_up_on_a_daemon_that_ignores_sigterm_after_a_minute_of_the_clock(
        tmp_path, capsys):
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, time; "
         "signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(600)",
         "heartbeat"], stdout=subprocess.PIPE)
    try:
        stubborn.stdout.readline()  # SIGTERM is ignored from here on
        pid_file = tmp_path / "heartbeat.pid"
        pid_file.write_text(f"{stubborn.pid:10d}\n")
        clock = SteppingClock()
        assert running.stop(str(pid_file), clock=clock) == 1
        assert clock.ms == running.STOP_TIMEOUT_S * 1000 and set(clock.slept) == {0.05}
        assert f"pid {stubborn.pid} did not stop within" in capsys.readouterr().err
    finally:
        stubborn.kill()
        stubborn.wait()


def test_reload_of_a_daemon_without_our_control_socket_is_3_0_6_s_sighup(tmp_path, capsys):
    """``heartbeat -r`` asks our daemon on its socket (and reports a refusal); a heartbeat that
    does not listen there (3.0.6's own, during an upgrade) gets the SIGHUP, as from 3.0.6."""
    c_like = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGHUP, "
         "lambda *_: sys.exit(7)); print(flush=True); signal.pause()", "heartbeat"],
        stdout=subprocess.PIPE)
    try:
        c_like.stdout.readline()  # the handler is in place
        pid_file = tmp_path / "heartbeat.pid"
        pid_file.write_text(f"{c_like.pid:10d}\n")
        assert running.reload(str(pid_file), str(tmp_path / "run")) == 0
        assert c_like.wait(timeout=10) == 7
        assert f"sent SIGHUP to pid {c_like.pid}" in capsys.readouterr().err
    finally:
        c_like.kill()
        c_like.wait()


def test_bad_ha_cf_is_refused_with_a_located_line_and_exit_6_not_configured(tmp_path):
    write_ha_dir(tmp_path / "etc", GOOD.replace("deadtime 2", "deadtime 2s"))
    result = run_heartbeat(*dirs(tmp_path), "--foreground")
    assert result.returncode == 6
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{tmp_path}/etc/ha.cf:3:")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "heartbeat.pid").exists()
    assert not (tmp_path / "state" / "hb_generation").exists()


def test_group_readable_authkeys_is_refused(tmp_path):
    write_ha_dir(tmp_path / "etc", GOOD, mode=0o644)
    result = run_heartbeat(*dirs(tmp_path), "--foreground")
    assert result.returncode == 6
    assert result.stderr.startswith(f"{tmp_path}/etc/authkeys")
    assert "Bad permissions" in result.stderr.splitlines()[0] or "600" in result.stderr


def test_missing_authkeys_and_foreign_node_name_are_refused(tmp_path):
    write_ha_dir(tmp_path / "etc", GOOD)
    (tmp_path / "etc" / "authkeys").unlink()
    result = run_heartbeat(*dirs(tmp_path), "--foreground")
    assert result.returncode == 6 and "authkeys" in result.stderr.splitlines()[0]
    write_ha_dir(tmp_path / "etc", GOOD)
    argv = dirs(tmp_path)
    argv[argv.index("nodea")] = "stranger"
    result = run_heartbeat(*argv, "--foreground")
    assert result.returncode == 6 and "[stranger] not in configuration" in result.stderr


def test_node_name_comes_from_nodeinfo_lowercased(tmp_path):
    from lvs_compat.heartbeat.cli import local_node_name
    (tmp_path / "nodeinfo").write_text("NodeA\nignored\n")
    assert local_node_name(str(tmp_path)) == "nodea"
    assert local_node_name(str(tmp_path / "none")) == os.uname().nodename.lower()
    assert local_node_name(str(tmp_path), "NODEB") == "nodeb"


def test_unknown_option_is_a_usage_error(tmp_path):
    result = run_heartbeat("-h")
    assert result.returncode == 2 and "Usage: heartbeat [-dDkMrRsvWlVf]" in result.stderr


# --- serial framing ------------------------------------------------------------------------------------------

def test_serial_reader_skips_junk_and_splits_classic_messages():
    from lvs_compat.heartbeat.media import SerialMedium
    medium = SerialMedium.__new__(SerialMedium)
    medium._buffer = bytearray()
    medium._in_message = False
    one = b">>>\nt=status\nsrc=a\n<<<\n"
    two = b">>>\nt=status\nsrc=b\n<<<\n\0"
    medium._buffer += b"line noise\n" + one + two[:10]
    assert medium._split() == [one]
    medium._buffer += two[10:] + b"junk>>>\nnot a start"
    assert medium._split() == [two[:-1]]
    assert medium._split() == []


# --- as `make install` installs it ---------------------------------------------------------------------------

def test_staged_install_puts_heartbeat_in_libexec_and_leaves_cl_status_to_debian(tmp_path):
    """Our daemon replaces Debian's; Debian's C cl_status is kept (it works against ours through
    the client API): no cl_status of ours in bin."""
    stage = tmp_path / "stage"
    subprocess.run(["make", "-C", str(REPO), "install", f"DESTDIR={stage}", "PREFIX=/usr"],
                   check=True, capture_output=True, timeout=600)
    lib = stage / "usr/lib/lvs-compat"
    assert (lib / "serial").is_dir()  # pyserial ships with the library (python3 -IS: no site)
    assert not (stage / "usr/bin/cl_status").exists()
    for installed, args, expected in (
            (stage / "usr/libexec/heartbeat/heartbeat", ["-V"], "3.0.6 (lvs-compat)\n"),
            (stage / "usr/bin/lvs-compat", ["--help"], "usage: lvs-compat")):
        text = installed.read_text()
        assert text.startswith("#!/usr/bin/python3 -IS\n")
        runnable = tmp_path / installed.name
        runnable.write_text(text.replace('"/usr/lib/lvs-compat"', repr(str(lib))))
        runnable.chmod(0o755)
        result = subprocess.run([str(runnable), *args], capture_output=True, text=True, env={},
                                timeout=60)
        assert result.returncode == 0 and result.stdout.startswith(expected), result.stderr
    check = subprocess.run(["/usr/bin/python3", "-IS", "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); import serial, "
                            "lvs_compat.heartbeat.daemon, lvs_compat.heartbeat.membership",
                            str(lib)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


# --- a packet never stops the daemon ----------------------------------------------------------------------------

def _daemon_with_a_broken_core(tmp_path, ha_cf_text, clock=None):
    from lvs_compat.config.hadir import load_ha_dir
    from lvs_compat.heartbeat.daemon import Daemon
    from lvs_compat.heartbeat.hblog import HbLog

    write_ha_dir(tmp_path / "etc", ha_cf_text)
    ha_dir = load_ha_dir(str(tmp_path / "etc"))
    clock = clock or FakeClock()
    log = HbLog(node_name="nodea", logfile=str(tmp_path / "ha-log"),
                debugfile=str(tmp_path / "ha-debug"), clock=clock)
    daemon = Daemon(ha_dir, "nodea", state_dir=str(tmp_path), run_dir=str(tmp_path),
                    pid_file=None, log=log, clock=clock)

    class BrokenCore:
        def receive(self, frame, link, now_ms):
            raise KeyError("a bug")

    daemon.core = BrokenCore()
    return daemon, ha_dir


def _medium(ha_dir, *packets):
    from lvs_compat.heartbeat import wire

    good = wire.encode_netstring(wire.Message.from_pairs([("t", "status")]), ha_dir.authkeys)

    class Medium:
        name = "hb0"

        def read(self):
            return [(good if packet == "good" else packet, ("10.0.0.2", 694))
                    for packet in packets]
    return Medium()


def test_a_bug_triggered_by_a_packet_drops_the_packet_not_the_daemon(tmp_path):
    daemon, ha_dir = _daemon_with_a_broken_core(tmp_path, GOOD)
    daemon._receive(_medium(ha_dir, "good", b"garbage"))  # no exception
    assert daemon.bad_packets.total == 1  # the garbage; the bug is ours, not a bad packet
    lines = (tmp_path / "ha-log").read_text().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("ERROR: hb0 from 10.0.0.2: internal error on a packet, dropped: "
                             "KeyError: 'a bug'")
    assert lines[1].endswith("WARN: hb0 from 10.0.0.2: dropped a malformed packet: "
                             "neither netstring (###) nor classic (>>>) framing")
    debug = (tmp_path / "ha-debug").read_text()
    assert "Traceback (most recent call last):" in debug and "in receive" in debug


def test_a_bug_on_packets_is_logged_with_log_badpack_off_once_a_minute(tmp_path):
    """Issue 19: with ``log_badpack off`` a bug met on every packet was not logged at all."""
    clock = FakeClock()
    daemon, ha_dir = _daemon_with_a_broken_core(
        tmp_path, textwrap.dedent(GOOD) + "log_badpack off\n", clock)
    assert not daemon.ha_cf.log_badpack
    daemon._receive(_medium(ha_dir, "good", "good", b"garbage"))
    clock.ms += 59_000
    daemon._receive(_medium(ha_dir, "good"))
    lines = (tmp_path / "ha-log").read_text().splitlines()
    assert [line.split("]: ", 1)[1] for line in lines] == [
        "ERROR: hb0 from 10.0.0.2: internal error on a packet, dropped: KeyError: 'a bug'"]
    clock.ms += 1_000
    daemon._receive(_medium(ha_dir, "good"))
    lines = (tmp_path / "ha-log").read_text().splitlines()
    assert len(lines) == 2 and lines[1].endswith(
        "internal error on a packet, dropped: KeyError: 'a bug' (3 such packets since the last report)")


def test_a_medium_that_cannot_open_fails_before_daemonizing(tmp_path):
    write_ha_dir(tmp_path / "etc", GOOD.replace("bcast lo", "bcast nosuchif0"))
    result = run_heartbeat(*dirs(tmp_path))  # not --foreground: would daemonize
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == ("heartbeat: bcast nosuchif0: cannot get the "
                                              "broadcast address: No such device")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "heartbeat.pid").exists()
    assert not (tmp_path / "state" / "hb_generation").exists()


# --- SIGHUP with an ha.cf that parses but cannot run (issue 19, item 3) ------------------------

def reloading_daemon(tmp_path):
    """A daemon that holds groups (as a director does), built from GOOD without opening its
    media: what ``reload`` decides is seen in its log and ``restart_requested``."""
    from lvs_compat.heartbeat.daemon import Daemon, load_config
    from lvs_compat.heartbeat.hblog import HbLog

    write_ha_dir(tmp_path / "etc", GOOD)
    ha_dir = load_config(str(tmp_path / "etc"), "nodea")
    log = HbLog(node_name="nodea", logfile=str(tmp_path / "ha-log"))
    daemon = Daemon(ha_dir, "nodea", state_dir=str(tmp_path), run_dir=str(tmp_path),
                    pid_file=None, log=log)

    class Director:
        has_groups = True

        def shutdown(self, now_ms):
            raise AssertionError("the groups were given up")
    daemon.core = Director()
    return daemon


@pytest.mark.parametrize("medium, problem", [
    ("bcast nosuchif0", "bcast nosuchif0: cannot get the broadcast address: No such device"),
    ("serial /dev/nosuch-tty0", "serial /dev/nosuch-tty0: cannot open:"),
])
def test_a_reload_to_media_that_cannot_open_keeps_the_groups_and_says_why(
        tmp_path, medium, problem):
    daemon = reloading_daemon(tmp_path)
    ha_cf = tmp_path / "etc" / "ha.cf"
    ha_cf.write_text(ha_cf.read_text().replace("bcast lo", medium))
    os.utime(ha_cf, ns=(0, 1))  # a changed mtime, whatever the file system's resolution
    daemon.reload()
    assert not daemon.restart_requested and not daemon.stopping
    line = (tmp_path / "ha-log").read_text().splitlines()[-1]
    assert f"ERROR: reload refused, configuration kept: {ha_cf}:4:" in line, line
    assert f": {problem}" in line, line
    # the next SIGHUP tries again: the new ha.cf was not taken as read
    ha_cf.write_text(ha_cf.read_text().replace(medium, "bcast lo"))
    os.utime(ha_cf, ns=(0, 2))
    daemon.core.shutdown = lambda now_ms: []
    daemon.reload()
    assert daemon.restart_requested
    assert "ha.cf changed: restarting heartbeat (SIGHUP)" in (tmp_path / "ha-log").read_text()


def test_a_reload_to_a_new_ping_node_that_does_not_resolve_is_refused(tmp_path):
    from lvs_compat.heartbeat.media import medium_key

    daemon = reloading_daemon(tmp_path)
    daemon._media_keys = {"bcast lo": medium_key(daemon.ha_cf.media[0])}   # held open
    ha_cf = tmp_path / "etc" / "ha.cf"
    ha_cf.write_text(ha_cf.read_text().replace("bcast lo", "bcast lo\nping nosuchnode.invalid"))
    os.utime(ha_cf, ns=(0, 1))
    daemon.reload()
    assert not daemon.restart_requested and not daemon.stopping
    line = (tmp_path / "ha-log").read_text().splitlines()[-1]
    assert f"ERROR: reload refused, configuration kept: {ha_cf}:5:" in line, line
    assert "ping node nosuchnode.invalid: " in line, line


def test_a_reload_to_a_respawn_line_that_cannot_run_is_refused(tmp_path):
    from lvs_compat.heartbeat.media import medium_key

    daemon = reloading_daemon(tmp_path)
    daemon._media_keys = {"bcast lo": medium_key(daemon.ha_cf.media[0])}   # held open
    ha_cf = tmp_path / "etc" / "ha.cf"
    ha_cf.write_text(ha_cf.read_text() + "respawn nosuchuser /bin/true\n")
    os.utime(ha_cf, ns=(0, 1))
    daemon.reload()
    assert not daemon.restart_requested and not daemon.stopping
    line = (tmp_path / "ha-log").read_text().splitlines()[-1]
    assert line.endswith(f"ERROR: reload refused, configuration kept: {ha_cf}:7:1: Invalid uid "
                         "[nosuchuser] specified for client child"), line


def test_a_reload_does_not_open_again_a_medium_the_daemon_holds():
    from lvs_compat.config.errors import Location
    from lvs_compat.config.hacf import Serial
    from lvs_compat.heartbeat.media import medium_key, probe_media

    held = Serial("/dev/nosuch-tty0", 19200, Location("ha.cf", 9))
    moved = Serial("/dev/nosuch-tty0", 19200, Location("ha.cf", 12))   # same medium, new line
    probe_media([moved], open_already={medium_key(held)})  # not opened: its lock is ours
    with pytest.raises(Exception, match=r"^ha.cf:12:1: serial /dev/nosuch-tty0: cannot open"):
        probe_media([moved])


# --- crc and md5 are never accepted in silence (issue 19, item 4) ----------------------------

def test_a_reload_to_crc_warns_at_its_line_and_says_what_the_peer_will_do(tmp_path):
    daemon = reloading_daemon(tmp_path)
    keys = tmp_path / "etc" / "authkeys"
    keys.write_text("auth 3\n1 sha1 secret\n3 crc\n")
    os.utime(keys, ns=(0, 1))
    daemon.reload()
    assert daemon.authkeys.active.method == "crc" and not daemon.restart_requested
    lines = [line.split(": ", 2)[2] for line in (tmp_path / "ha-log").read_text().splitlines()]
    assert f"WARN: {keys}:3:1: authkeys: method changes from sha1 to crc: a peer still on " \
           "sha1 will drop our packets until it changes too" in lines, lines
    assert f"WARN: {keys}:3:3: warning: auth method crc: no authentication: anyone on the " \
           "heartbeat network can forge our peers' packets (a CRC, no key); use sha1" in lines
    assert lines[-1] == "info: authkeys re-read (SIGHUP)"


def test_crc_and_md5_are_warned_at_start_and_by_lvs_compat_check(tmp_path):
    # a missing interface: the start ends after its warnings, before anything runs
    write_ha_dir(tmp_path / "etc", GOOD.replace("bcast lo", "bcast nosuchif0"),
                 authkeys="auth 2\n1 crc\n2 md5 secret\n")
    keys = tmp_path / "etc" / "authkeys"
    started = run_heartbeat(*dirs(tmp_path), "--foreground", "-v")
    assert started.returncode == 1
    lines = [line.split(": ", 2)[2] for line in started.stderr.splitlines()
             if "auth method" in line]
    assert lines == [
        f"WARN: {keys}:2:3: warning: auth method crc: no authentication: anyone on the "
        "heartbeat network can forge our peers' packets (a CRC, no key); use sha1",
        f"WARN: {keys}:3:3: warning: auth method md5: HMAC-MD5 is weaker than sha1; use sha1"]
    check = subprocess.run([sys.executable, str(REPO / "bin" / "lvs-compat"), "check",
                            "--ha-dir", str(tmp_path / "etc")],
                           capture_output=True, text=True, timeout=20)
    assert check.returncode == 0, check.stderr
    assert f"{keys}:2:3: warning: auth method crc: no authentication" in check.stderr
    assert f"{keys}:3:3: warning: auth method md5: HMAC-MD5 is weaker" in check.stderr
