"""lvs_compat.ipvs: the one module that runs ipvsadm."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from lvs_alert_support import REPO
from lvs_compat import ipvs
from lvs_compat.ipvs import Endpoint, Ipvsadm, IpvsadmError, parse_saved_table

# `ipvsadm -S -n` of ipvsadm 1.31 on Debian's 6.1 kernel (tools/ipvs-vm), verbatim,
# plus a firewall-mark service (the last two lines) in the same format.
SAVED_ON_A_REAL_KERNEL = """\
-A -t 10.0.0.3:80 -s wlc
-a -t 10.0.0.3:80 -r 192.168.0.1:80 -g -w 5
-a -t 10.0.0.3:80 -r 192.168.0.2:8080 -m -w 3
-a -t 10.0.0.3:80 -r 192.168.0.4:80 -i -w 0 --tun-type ipip
-a -t 10.0.0.3:80 -r 192.168.0.6:80 -g -w 70000
-A -u 10.0.0.3:53 -s rr
-A -t [2001:db8::1]:80 -s wrr
-a -t [2001:db8::1]:80 -r [2001:db8::3]:80 -g -w 1
-A -f 1 -s wlc -p 300
-a -f 1 -r 192.168.0.9:0 -g -w 1
"""


def test_the_saved_table_of_a_real_kernel_parses():
    table = parse_saved_table(SAVED_ON_A_REAL_KERNEL)
    assert table.summary() == {
        "tcp 10.0.0.3:80": {"192.168.0.1:80": ("gate", 5), "192.168.0.2:8080": ("masq", 3),
                            "192.168.0.4:80": ("ipip", 0), "192.168.0.6:80": ("gate", 70000)},
        "udp 10.0.0.3:53": {},
        "tcp [2001:db8::1]:80": {"[2001:db8::3]:80": ("gate", 1)},
        "fwmark 1": {"192.168.0.9:0": ("gate", 1)},  # kept apart from the TCP/UDP services
    }
    assert table.find_service("udp", Endpoint("10.0.0.3", 53)).scheduler == "rr"


def test_a_real_server_without_port_is_found_at_the_service_port():
    service = parse_saved_table(SAVED_ON_A_REAL_KERNEL).find_service("tcp", Endpoint("10.0.0.3", 80))
    assert service.find(Endpoint("192.168.0.1", None)).weight == 5
    assert service.find(Endpoint("192.168.0.2", None)) is None  # it listens on 8080
    assert service.find(Endpoint("192.168.0.2", 8080)).forwarding == "masq"


def test_arguments_reach_ipvsadm_verbatim_with_no_shell(tmp_path):
    marker = tmp_path / "executed"
    words = [f"$(touch {marker})", f"`touch {marker}`", f"; touch {marker}", "a b", "*", "'\""]
    echoed = Ipvsadm("/usr/bin/printf").run(["%s\\n", *words])
    assert echoed.splitlines() == words
    assert not marker.exists()


def test_failure_carries_ipvsadms_status_and_message_on_one_line(tmp_path):
    fake = tmp_path / "ipvsadm"
    fake.write_text("#!/bin/sh\necho 'Memory allocation problem' >&2\necho 'second line' >&2\nexit 255\n")
    fake.chmod(0o755)
    with pytest.raises(IpvsadmError) as caught:
        Ipvsadm(str(fake)).run(["-a", "-t", "10.0.0.3:80"])
    error = caught.value
    assert (error.status, error.message) == (255, "Memory allocation problem; second line")
    assert error.command == f"{fake} -a -t 10.0.0.3:80"


def test_a_missing_binary_is_an_ipvsadm_error():
    with pytest.raises(IpvsadmError) as caught:
        Ipvsadm("/nonexistent/ipvsadm").run(["-S", "-n"])
    assert caught.value.status == 127
    assert caught.value.message == "cannot run /nonexistent/ipvsadm: No such file or directory"


def test_large_output_is_read_without_deadlock(tmp_path):
    fake = tmp_path / "ipvsadm"
    fake.write_text("#!/bin/sh\nseq 1 200000\n")  # ~1.3 MB, far above a pipe buffer
    fake.chmod(0o755)
    assert Ipvsadm(str(fake)).run([]).splitlines()[-1] == "200000"


def test_the_binary_is_IPVSADM_else_sbin_ipvsadm_else_path(monkeypatch, tmp_path):
    monkeypatch.setenv("IPVSADM", "/opt/ipvsadm")
    assert ipvs.ipvsadm_path() == "/opt/ipvsadm"
    monkeypatch.delenv("IPVSADM")
    assert ipvs.ipvsadm_path() == "/sbin/ipvsadm"  # Debian's ipvsadm is installed (Makefile DEBS)
    monkeypatch.setattr(ipvs, "DEFAULT_IPVSADM", str(tmp_path / "absent"))
    on_path = tmp_path / "bin" / "ipvsadm"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'empty'}:{on_path.parent}")
    assert ipvs.ipvsadm_path() == str(on_path)


def test_the_table_lock_excludes_a_second_holder(tmp_path):
    import fcntl

    with ipvs.TableLock(str(tmp_path / "run")) as lock:
        other = os.open(lock.path, os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on exit
    os.close(other)


def test_the_table_lock_is_never_taken_through_a_symlink_nor_on_a_non_file(tmp_path):
    """Issue 19: the lock was opened with O_CREAT through a symbolic link, creating (or
    locking) whatever file the link named."""
    run = tmp_path / "run"
    run.mkdir()
    victim = tmp_path / "created-through-the-link"
    (run / "ipvs.lock").symlink_to(victim)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        with ipvs.TableLock(str(run)):
            pass
    assert not victim.exists()
    (run / "ipvs.lock").unlink()
    os.mkfifo(run / "ipvs.lock")
    with pytest.raises(OSError, match="exists and is not a regular file"):
        with ipvs.TableLock(str(run)):
            pass


def hanging_ipvsadm(directory):
    """An ipvsadm that never answers, with a helper of its own (its pid in sleeper.pid)."""
    fake = directory / "ipvsadm"
    fake.write_text(f"#!/bin/sh\nsleep 600 &\necho $! > {directory}/sleeper.pid\nwait\n")
    fake.chmod(0o755)
    return fake


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_hung_ipvsadm_is_killed_with_its_helpers_after_the_bound(tmp_path):
    import time

    fake = hanging_ipvsadm(tmp_path)
    bound = 0.3
    started = time.monotonic()
    with pytest.raises(ipvs.IpvsadmTimeout) as caught:
        Ipvsadm(str(fake), timeout=bound).run(["-S", "-n"])
    waited = time.monotonic() - started
    assert bound <= waited < bound + 2.0
    assert caught.value.message == "no answer within 0.3 s: killed (the table may or may not have changed)"
    assert isinstance(caught.value, IpvsadmError)  # callers that catch ipvsadm failures catch this
    sleeper = int((tmp_path / "sleeper.pid").read_text())
    deadline = time.monotonic() + 2.0
    while not gone(sleeper) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gone(sleeper), "the hung ipvsadm's helper survived"


def test_the_lock_wait_is_bounded_and_the_holder_keeps_the_lock(tmp_path):
    import fcntl
    import time

    with ipvs.TableLock(str(tmp_path / "run")) as held:
        bound = 0.3
        started = time.monotonic()
        with pytest.raises(ipvs.LockTimeout) as caught:
            with ipvs.TableLock(str(tmp_path / "run"), timeout=bound):
                pass
        assert bound <= time.monotonic() - started < bound + 2.0
        assert str(caught.value) == (f"{held.path} held by one other process for 0.3 s "
                                     "(a hung ipvsadm?); nothing was changed")
        other = os.open(held.path, os.O_RDWR)
        with pytest.raises(BlockingIOError):  # still ours
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(other)
    with ipvs.TableLock(str(tmp_path / "run"), timeout=bound):  # free again: taken at once
        pass


def test_the_lock_wait_goes_on_while_the_lock_passes_from_holder_to_holder(tmp_path):
    """Fresh run 41L: the last of 200 alerts launched at once, beside a CPU hog, gave up after
    the bound although the lock had passed from alert to alert all along.  The bound is one
    holder's: here the lock changes hands (its holder token, as each new holder writes it)
    every 0.1 s for five times the waiter's bound, and the waiter gets it after; a holder that
    keeps it still times it out (the test above)."""
    import threading
    import time

    bound = 0.3
    run = str(tmp_path / "run")
    taken = threading.Event()
    release = threading.Event()

    def queue_of_holders():
        with ipvs.TableLock(run) as lock:
            taken.set()
            end = time.monotonic() + 5 * bound
            while time.monotonic() < end:       # the lock changes hands every 0.1 s
                time.sleep(0.1)
                os.pwrite(lock.fd, ipvs._holder_token(), 0)
            release.wait(10)

    queue = threading.Thread(target=queue_of_holders)
    queue.start()
    try:
        assert taken.wait(10)
        threading.Timer(5 * bound + 0.2, release.set).start()
        started = time.monotonic()
        with ipvs.TableLock(run, timeout=bound):
            waited = time.monotonic() - started
        assert waited > 5 * bound, waited          # it did wait past its bound, and got it
    finally:
        release.set()
        queue.join()


def test_ipvs_py_is_the_only_module_that_runs_ipvsadm():
    spawning = re.compile(r"\b(subprocess|posix_spawn\w*|os\.system|os\.exec\w*|plumbum|Popen)\b")
    # the program named in a string ("ipvsadm", "/sbin/ipvsadm"), as running it would need;
    # catching ipvs.IpvsadmError or a comment about ipvsadm is not running it
    program = re.compile(r"""["'](/[\w.-]+)*/?ipvsadm["']""")
    assert program.search('subprocess.run(["ipvsadm", "-L"])')
    assert program.search("argv = ['/sbin/ipvsadm', '-C']")
    assert program.search((REPO / "lvs_compat" / "ipvs.py").read_text())   # the real one
    offenders = []
    for path in (REPO / "lvs_compat").rglob("*.py"):
        if path.name == "ipvs.py":
            continue
        code = path.read_text()
        if spawning.search(code) and program.search(code):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_the_os_free_helpers_behave_like_os(tmp_path, monkeypatch):
    from lvs_compat.ipvs import getenv, join_path, make_directories

    for directory in ("", "/", "/run", "/run/", "relative", "a/b/"):
        assert join_path(directory, "ipvs.lock") == os.path.join(directory, "ipvs.lock")
    make_directories(str(tmp_path / "x" / "y" / "z"), 0o755)
    make_directories(str(tmp_path / "x" / "y" / "z"), 0o755)  # exists: fine
    assert (tmp_path / "x" / "y" / "z").is_dir()
    monkeypatch.setenv("LVS_COMPAT_TEST_VALUE", "caf\u00e9")
    assert getenv("LVS_COMPAT_TEST_VALUE") == "caf\u00e9" and getenv("LVS_COMPAT_NOT_SET") is None


def test_the_alert_does_not_import_os():
    # bench/lvs_alert_startup.py: os is ~0.7 ms of an alert that must start within 1.5x Perl's.
    result = subprocess.run(["/usr/bin/python3", "-IS", "-X", "importtime", str(REPO / "alert.d" / "lvs.alert")],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "lvs_compat.lvsalert.alert" in modules and "os" not in modules


def test_restore_hands_the_batch_on_stdin_in_one_run(tmp_path):
    # cat as ipvsadm: what -R receives comes back on stdout, larger than a pipe's buffer
    batch = [["-a", "-t", "10.0.0.3:80", "-r", f"192.168.{n // 250}.{n % 250}:80", "-w", "5", "-g"]
             for n in range(3000)]
    status, stdout, stderr = Ipvsadm("/bin/cat").call(["-"], ipvs.restore_text(batch).encode())
    assert (status, stderr) == (0, "")
    assert [line.split() for line in stdout.splitlines()] == batch
    assert len(stdout) > 65536


def test_restore_fails_on_a_message_even_when_ipvsadm_exits_0(tmp_path):
    # ipvsadm 1.31 -R goes on after a refused line and exits with the last line's status
    fake = tmp_path / "ipvsadm"
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho 'Service not defined' >&2\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(IpvsadmError) as caught:
        Ipvsadm(str(fake)).restore([["-A", "-t", "10.0.0.3:80", "-s", "wlc"]])
    assert (caught.value.argv, caught.value.status, caught.value.message) == (
        [str(fake), "-R"], 0, "Service not defined")
    fake.write_text("#!/bin/sh\ncat > /dev/null\nexit 0\n")
    assert Ipvsadm(str(fake)).restore([["-A", "-t", "10.0.0.3:80", "-s", "wlc"]]) is None


@pytest.mark.parametrize("word", ["a b", "a\tb", "a\nb", "", "'x'", '"x"', "a\\b", "#x"])
def test_restore_refuses_a_word_ipvsadm_would_split_or_unquote(word):
    with pytest.raises(ValueError):
        ipvs.restore_text([["-A", "-t", word]])
