"""The daemon's resource shell without a network: haresources scripts checked before anything
starts, the FIFO (classic text as ha_clustermsg writes it), hb_standby/hb_takeover as Debian's
scripts behave, and the resource worker thread that keeps scripts off the heartbeat loop."""

import os
import selectors
import subprocess
import sys
import threading
import time

import pytest

from lvs_compat.heartbeat import fifo, resources
from lvs_compat.heartbeat.worker import ResourceWorker
from lvs_compat.heartbeat.membership import Log

from conftest import REPO

HEARTBEAT = REPO / "bin" / "heartbeat"
HB_STANDBY = REPO / "bin" / "hb_standby"
HB_TAKEOVER = REPO / "bin" / "hb_takeover"


def write_ha_dir(directory, haresources):
    directory.mkdir(exist_ok=True)
    # no such interface: a daemon that got past the checks would stop with exit 1, not run
    (directory / "ha.cf").write_text("keepalive 1\ndeadtime 10\nbcast lvsnoif0\n"
                                     "auto_failback on\ncrm off\nnode alpha\nnode beta\n")
    (directory / "haresources").write_text(haresources)
    keys = directory / "authkeys"
    keys.write_text("auth 1\n1 sha1 secret\n")
    keys.chmod(0o600)


def heartbeat(tmp_path, *args):
    return subprocess.run([sys.executable, str(HEARTBEAT), "--config-dir", str(tmp_path / "etc"),
                           "--state-dir", str(tmp_path / "state"), "--run-dir",
                           str(tmp_path / "run"), "--node-name", "alpha", "--foreground", *args],
                          capture_output=True, text=True, timeout=20)


# --- start-up checks ---------------------------------------------------------------------------

def test_a_missing_resource_script_stops_heartbeat_before_it_starts(tmp_path):
    write_ha_dir(tmp_path / "etc", "alpha 10.0.0.3 lvs lvs-compat-no-such-script\n")
    (tmp_path / "etc" / "resource.d").mkdir()
    lvs = tmp_path / "etc" / "resource.d" / "lvs"
    lvs.write_text("#!/bin/sh\nexit 0\n")
    lvs.chmod(0o755)
    result = heartbeat(tmp_path)
    assert result.returncode == 6
    first, second = result.stderr.splitlines()
    assert first.startswith(f"{tmp_path / 'etc' / 'haresources'}:1:")
    assert "Cannot locate resource script lvs-compat-no-such-script" in first
    assert second == "heartbeat: Configuration error, heartbeat not started."
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists() and not (tmp_path / "run").exists()


def test_a_haresources_node_not_in_ha_cf_is_a_located_error(tmp_path):
    write_ha_dir(tmp_path / "etc", "gamma 10.0.0.3\n")
    result = heartbeat(tmp_path)
    assert result.returncode == 6
    assert result.stderr.splitlines()[0].startswith(f"{tmp_path / 'etc' / 'haresources'}:1:")
    assert "Bad nodename in haresources [gamma]" in result.stderr


def test_a_builtin_with_unusable_arguments_is_a_located_error(tmp_path):
    write_ha_dir(tmp_path / "etc", "alpha 10.0.0.3\nalpha SendArp::1.2.3.4/eth0::extra\n")
    result = heartbeat(tmp_path)
    assert result.returncode == 6
    assert result.stderr.startswith(f"{tmp_path / 'etc' / 'haresources'}:2:")


def test_failed_stop_action_takes_hold_or_reboot_only(tmp_path):
    write_ha_dir(tmp_path / "etc", "")
    result = heartbeat(tmp_path, "--failed-stop-action", "explode")
    assert result.returncode == 2
    assert "invalid choice: 'explode'" in result.stderr and "Traceback" not in result.stderr


# --- the FIFO ----------------------------------------------------------------------------------

def test_fifo_text_as_ha_clustermsg_writes_it():
    text = (b">>>\nt=ask_resources\nrsc_hold=all\ninfo=me\n<<<\n"
            b">>>\nt=ip-request\nipaddr=x\n<<<\n>>>\nt=par")
    messages, rest, complaints = fifo.parse_messages(text)
    assert messages == [[("t", "ask_resources"), ("rsc_hold", "all"), ("info", "me")],
                        [("t", "ip-request"), ("ipaddr", "x")]]
    assert rest == b">>>\nt=par" and complaints == []


def test_fifo_garbage_is_dropped_with_a_complaint_and_the_buffer_is_bounded():
    messages, rest, complaints = fifo.parse_messages(b"junk\n<<<\n>>>\nno equals\nt=x\n<<<\n")
    assert messages == [[("t", "x")]]
    assert len(complaints) == 2
    messages, rest, complaints = fifo.parse_messages(b"x" * (fifo.MAX_BUFFER + 1))
    assert (messages, rest) == ([], b"") and complaints


def test_standby_and_takeover_from_the_fifo_are_local_requests_others_are_sent():
    assert fifo.request_of([("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "me")]) \
        == resources.StandbyRequest("foreign")
    assert fifo.request_of([("t", "hb_takeover"), ("rsc_hold", "local")]) \
        == resources.TakeoverRequest("local")
    assert fifo.request_of([("t", "ask_resources"), ("rsc_hold", "all"), ("info", "done")]) \
        is None
    assert fifo.outbound_fields([("t", "ip-request"), ("src", "forged"), ("seq", "9"),
                                 ("ipaddr", "k")]) == (("t", "ip-request"), ("ipaddr", "k"))


def test_fifo_reader_gets_what_hb_standby_writes(tmp_path):
    reader = fifo.FifoReader(str(tmp_path))
    try:
        assert (tmp_path / "fifo").stat().st_mode & 0o777 == 0o600
        result = subprocess.run([sys.executable, str(HB_STANDBY), "--state-dir", str(tmp_path),
                                 "failback"], capture_output=True, text=True, timeout=10)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        result = subprocess.run([sys.executable, str(HB_TAKEOVER), "--state-dir", str(tmp_path)],
                                capture_output=True, text=True, timeout=10)
        assert result.returncode == 0
        messages, complaints = reader.read()
        assert messages == [[("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "me")],
                            [("t", "hb_takeover"), ("rsc_hold", "all")]]
        assert complaints == []
    finally:
        reader.close()


def test_a_regular_file_where_the_fifo_belongs_is_refused(tmp_path):
    (tmp_path / "fifo").write_text("")
    with pytest.raises(OSError, match="not a FIFO"):
        fifo.FifoReader(str(tmp_path))


def test_an_existing_fifo_is_made_0600_and_one_of_another_user_refused(tmp_path, monkeypatch):
    """Issue 19: an existing FIFO's mode was kept (0666: anyone could ask for a takeover);
    3.0.6 chmods it to 0600.  One owned by another user (who can chmod it back) is refused."""
    os.mkfifo(tmp_path / "fifo")
    os.chmod(tmp_path / "fifo", 0o666)
    fifo.FifoReader(str(tmp_path)).close()
    assert (tmp_path / "fifo").stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(tmp_path / "fifo").st_uid + 1)
    with pytest.raises(OSError, match=r"is a FIFO owned by uid \d+, not by us: remove it"):
        fifo.FifoReader(str(tmp_path))


@pytest.mark.parametrize("kind", ["symlink", "regular file"])
def test_hb_standby_writes_only_into_a_fifo(tmp_path, kind):
    """Issue 19: the FIFO was opened for writing whatever it was, through a symbolic link too:
    hb_standby wrote its message into the file it named (or a regular file left there)."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    if kind == "symlink":
        (tmp_path / "fifo").symlink_to(victim)
    else:
        victim.rename(tmp_path / "fifo")
        victim = tmp_path / "fifo"
    result = subprocess.run([sys.executable, str(HB_STANDBY), "--state-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1 and victim.read_text() == "precious\n"
    reason = ("Too many levels of symbolic links" if kind == "symlink"
              else f"{tmp_path / 'fifo'} exists and is not a FIFO")
    assert result.stderr == f"hb_standby: {tmp_path / 'fifo'}: {reason}\n"


# --- hb_standby / hb_takeover ------------------------------------------------------------------

@pytest.mark.parametrize("tool", ["hb_standby", "hb_takeover"])
def test_hb_tools_refuse_a_wrong_set_as_debians_scripts(tmp_path, tool):
    program = str(REPO / "bin" / tool)
    wrong = subprocess.run([sys.executable, program, "--state-dir", str(tmp_path), "most"],
                           capture_output=True, text=True, timeout=10)
    assert wrong.returncode == 1
    assert wrong.stdout == f"{tool}: wrong resources(most).\nusage:\n"
    assert wrong.stderr == f"{tool} [all|foreign|local|failback]\n"
    many = subprocess.run([sys.executable, program, "--state-dir", str(tmp_path), "all", "all"],
                          capture_output=True, text=True, timeout=10)
    assert (many.returncode, many.stdout) == (1, f"{tool}: too many arguments\nusage:\n")


@pytest.mark.parametrize("tool", ["hb_standby", "hb_takeover"])
def test_hb_tools_without_a_running_daemon_say_so_in_one_line(tmp_path, tool):
    result = subprocess.run([sys.executable, str(REPO / "bin" / tool), "--state-dir",
                             str(tmp_path)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert result.stderr == f"{tool}: {tmp_path / 'fifo'}: No such file or directory\n"
    os.mkfifo(tmp_path / "fifo")     # a FIFO nobody reads: the shell script would hang here
    result = subprocess.run([sys.executable, str(REPO / "bin" / tool), "--state-dir",
                             str(tmp_path)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert result.stderr == (f"{tool}: {tmp_path / 'fifo'}: no heartbeat is running "
                             "(nobody reads it)\n")


# --- the resource worker -----------------------------------------------------------------------

class SlowExecutor:
    """start_group runs until the test opens its gate; stop_group raises (a bug in an agent)."""

    def __init__(self):
        self.thread_names = []
        self.gate = threading.Event()

    def start_group(self, key):
        self.thread_names.append(threading.current_thread().name)
        assert self.gate.wait(10), "the test never opened the gate"

        class Result:
            ok, outcomes, failed = True, (), ()
        return Result()

    def stop_group(self, key):
        raise RuntimeError("agent bug")

    def close(self):
        pass


def test_worker_runs_groups_off_the_loop_and_wakes_the_selector_with_results():
    executor = SlowExecutor()
    worker = ResourceWorker(executor)
    selector = selectors.DefaultSelector()
    selector.register(worker, selectors.EVENT_READ)
    try:
        # submitting never waits: both return while the start is held at the gate
        worker.submit(resources.StartGroup("vip"))
        worker.submit(resources.StopGroup("vip"))
        assert selector.select(0.2) == []                 # the start is still running
        executor.gate.set()
        results = []
        deadline = time.monotonic() + 5
        while len([r for r in results if not isinstance(r, Log)]) < 2:
            assert time.monotonic() < deadline
            if selector.select(1):
                results += worker.results()
        events = [r for r in results if not isinstance(r, Log)]
        assert events == [resources.GroupStarted("vip", True, None),
                          resources.GroupStopped("vip", False)]
        assert any("agent bug" in r.text for r in results if isinstance(r, Log))
        assert executor.thread_names == ["resource-worker"]
    finally:
        worker.close()
        selector.close()
