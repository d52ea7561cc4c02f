"""Under the real mon daemon: our http.monitor's verdicts drive our lvs.alert.

Debian's /usr/sbin/mon runs in the foreground inside a private network namespace,
with its own config, state dir and pid file, its client port bound to 127.0.0.1 of
that namespace, ``mondir`` = our mon.d/ and ``alertdir`` = our alert.d/, and the
seed's watch/service lines (examples/seed/mon.cf) for two real servers on
127.0.0.x:80. lvs.alert reaches IPVS through the FAKE ipvsadm of the lvs.alert
tests ($IPVSADM, which records every call and keeps a table in a file).

Stopping one web server must make mon call lvs.alert without ``-u`` for it (the
server is deleted from the table); starting it again must give the ``-u`` call
(the server is added back with the seed's weight and forwarding).
"""

import shutil
import time

import pytest

from lvs_alert_support import FakeIpvsadm
from monitor_support import REPO, Namespace

pytestmark = pytest.mark.interop

VIP = "10.0.0.3:80"
WWW1, WWW2 = "127.0.0.61", "127.0.0.62"
INTERVAL_S = 2


def mon_cf(directory):
    return f"""\
cfbasedir   = {directory}
alertdir    = {REPO / "alert.d"}
mondir      = {REPO / "mon.d"}
statedir    = {directory / "state"}
logdir      = {directory / "log"}
pidfile     = {directory / "mon.pid"}
authfile    = {directory / "auth.cf"}
serverbind  = 127.0.0.1
trapbind    = 127.0.0.1
maxprocs    = 20
histlength  = 100

hostgroup www1 {WWW1}

hostgroup www2 {WWW2}

watch www1
    service http
\tinterval {INTERVAL_S}s
\tmonitor http.monitor -t 2
\tperiod wd {{Sun-Sat}}
\t    alert lvs.alert -P tcp -V {VIP} -R {WWW1} -W 5 -F dr
\t    upalert lvs.alert -P tcp -V {VIP} -R {WWW1} -W 5 -F dr

watch www2
    service http
\tinterval {INTERVAL_S}s
\tmonitor http.monitor -t 2
\tperiod wd {{Sun-Sat}}
\t    alert lvs.alert -P tcp -V {VIP} -R {WWW2} -W 5 -F dr
\t    upalert lvs.alert -P tcp -V {VIP} -R {WWW2} -W 5 -F dr
"""


def web_server(namespace, host):
    return namespace.serve([{"kind": "http", "host": host, "port": 80, "status": "200 OK"}])


def wait_until(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout_s} s for {what}")


def test_mon_removes_a_stopped_web_server_and_adds_it_back_when_it_returns(tmp_path):
    fake = FakeIpvsadm(tmp_path)
    fake.setup(f"-A -t {VIP} -s wlc", f"-a -t {VIP} -r {WWW1} -w 5 -g", f"-a -t {VIP} -r {WWW2} -w 5 -g")
    both = {"tcp 10.0.0.3:80": {f"{WWW1}:80": ("gate", 5), f"{WWW2}:80": ("gate", 5)}}
    assert fake.table() == both
    etc = tmp_path / "etc"
    for sub in ("etc", "state", "log"):
        (tmp_path / sub).mkdir()
    shutil.copy("/etc/mon/auth.cf", etc / "auth.cf")
    (etc / "mon.cf").write_text(mon_cf(etc).replace(str(etc / "state"), str(tmp_path / "state"))
                                .replace(str(etc / "log"), str(tmp_path / "log")))
    debug = (tmp_path / "mon-debug.txt").open("w")

    with Namespace() as namespace:
        web_server(namespace, WWW1)
        www2 = web_server(namespace, WWW2)
        mon = namespace.start(["/usr/sbin/mon", "-d", "-c", etc / "mon.cf"], env=fake.env,
                              stdout=debug, stderr=debug)
        monitor_runs = lambda: (tmp_path / "mon-debug.txt").read_text().count("(www2/http) exited with [0]")  # noqa
        wait_until(lambda: monitor_runs() >= 1, 4 * INTERVAL_S, "a first good run of http.monitor on www2")
        assert mon.poll() is None
        assert fake.calls() == [] and fake.table() == both

        www2.kill()
        www2.wait()
        wait_until(lambda: ["-d", "-t", VIP, "-r", WWW2] in fake.calls(), 4 * INTERVAL_S,
                   "lvs.alert (without -u) to delete www2")
        assert fake.table() == {"tcp 10.0.0.3:80": {f"{WWW1}:80": ("gate", 5)}}

        web_server(namespace, WWW2)
        wait_until(lambda: ["-a", "-t", VIP, "-r", WWW2, "-w", "5", "-g"] in fake.calls(), 4 * INTERVAL_S,
                   "lvs.alert -u to add www2 back")
        assert fake.table() == both
        mon.terminate()

    log = (tmp_path / "mon-debug.txt").read_text()
    # mon's own account: a failure alert (flags=1), then an upalert (flags=2), for www2 only.
    assert "exited with [1]" in log and "do_alert flags=1" in log and "do_alert flags=2" in log
    assert WWW1 not in {word for call in fake.calls() for word in call}
    # mon alerts after every failed run (no alertevery here): on a slow machine www2 can fail
    # again before it is back, and lvs.alert is asked to delete it again; then one add, last.
    changes = [call[0] for call in fake.calls() if call[0] in ("-d", "-a")]
    assert changes[-1] == "-a" and changes[:-1] and set(changes[:-1]) == {"-d"}, changes
