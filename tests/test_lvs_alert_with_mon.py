"""Debian's real mon 1.3.6 runs our lvs.alert, installed as `make install` installs it, from an
unchanged seed-style mon.cf: a failing monitor takes the real server out, a recovered one puts it back."""

from __future__ import annotations

import socket
import subprocess
import textwrap
import time

import pytest

from lvs_alert_support import ALERT, REPO, fake  # noqa: F401

pytestmark = pytest.mark.interop


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def mon(fake, tmp_path):
    base = tmp_path / "mon"
    for sub in ("alert.d", "mon.d", "state", "log", "run"):
        (base / sub).mkdir(parents=True)
    # Installed exactly as `make install` does it (shebang "/usr/bin/python3 -IS", LIBDIR pinned).
    subprocess.run([str(REPO / "tools" / "install-program"), "/usr/bin/python3", str(REPO), str(ALERT),
                    str(base / "alert.d")], check=True)
    monitor = base / "mon.d" / "flip.monitor"
    monitor.write_text(f"#!/bin/sh\nif [ -e {base}/down ]; then echo \"$*: connection refused\"; exit 1; fi\nexit 0\n")
    monitor.chmod(0o755)
    # mon refuses to start without its client-protocol auth file.
    (base / "auth.cf").write_text("command section\nlist:\tall\nquit:\tall\ntrap section\n")
    port = free_port()
    config = base / "mon.cf"
    config.write_text(textwrap.dedent(f"""\
        cfbasedir   = {base}
        alertdir    = {base}/alert.d
        mondir      = {base}/mon.d
        statedir    = {base}/state
        logdir      = {base}/log
        pidfile     = {base}/run/mon.pid
        authfile    = {base}/auth.cf
        serverbind  = 127.0.0.1
        trapbind    = 127.0.0.1
        serverport  = {port}
        trapport    = {port}
        maxprocs    = 20
        histlength  = 100

        hostgroup www1 www1.domain.com

        watch www1
            service http
                interval 1s
                monitor flip.monitor
                period wd {{Sun-Sat}}
                    alert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.1 -W 5 -F dr
                    upalert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.1 -W 5 -F dr
        """))
    daemon = subprocess.Popen(["/usr/sbin/mon", "-c", str(config)], env=fake.env, stdin=subprocess.DEVNULL,
                              stdout=open(base / "mon.out", "w"), stderr=subprocess.STDOUT)
    yield base
    daemon.terminate()
    daemon.wait(timeout=10)


def test_mon_takes_the_server_out_when_the_monitor_fails_and_back_when_it_recovers(fake, mon):
    fake.setup("-A -t 10.0.0.3:80 -s wlc", "-a -t 10.0.0.3:80 -r 192.168.0.1 -w 5 -g")
    (mon / "down").touch()
    wait_for(lambda: fake.table()["tcp 10.0.0.3:80"] == {}, 30, "the failure alert to remove 192.168.0.1")
    (mon / "down").unlink()
    wait_for(lambda: fake.table()["tcp 10.0.0.3:80"] == {"192.168.0.1:80": ("gate", 5)}, 30,
             "the upalert to put 192.168.0.1 back")
    calls = fake.calls()
    # mon repeats the alert on every failed run (no alertevery): repeats must be harmless.
    assert calls[0] == ["-d", "-t", "10.0.0.3:80", "-r", "192.168.0.1"]
    assert ["-a", "-t", "10.0.0.3:80", "-r", "192.168.0.1", "-w", "5", "-g"] in calls
    assert set(map(tuple, calls)) <= {("-d", "-t", "10.0.0.3:80", "-r", "192.168.0.1"), ("-S", "-n"),
                                      ("-a", "-t", "10.0.0.3:80", "-r", "192.168.0.1", "-w", "5", "-g")}
