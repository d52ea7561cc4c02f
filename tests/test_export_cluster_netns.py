"""The exported configuration running for real: three directors with corosync + pacemaker, each in
its own network, mount and UTS namespaces, on a bridge that lives in a namespace of its own (no
host interface touched).  The exported cib.xml is each node's starting CIB and the exported
corosync.conf its membership; the VIP group starts on its haresources node, and when that node is
killed (SIGKILL, corosync and pacemaker) the VIP comes up on another director within about the
deadtime.  Recipe: ../shared/reference/outgrow/REPORT.md §5 (lab/og-lab.sh).

Per node a "holder" (``unshare --mount --uts``) mounts tmpfs over /run (corosync's
single-instance lock), /var/lib/pacemaker, /var/lib/corosync and /var/log/pacemaker; libqb's IPC
uses abstract sockets, which are per network namespace, so three stacks do not see each other.
Every process this test starts lives in its namespaces and is killed by pid at the end."""

from __future__ import annotations

import ctypes
import datetime
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO

pytestmark = pytest.mark.lab

PR_SET_CHILD_SUBREAPER = 36
SUBNET = "10.249.0"
VIP = f"{SUBNET}.100"
NODES = ("lvs1", "lvs2", "lvs3")
DEADTIME_S = 6
HA_CF = f"""\
keepalive 1
deadtime {DEADTIME_S}
initdead 12
udpport 5405
bcast eth0
node lvs1
node lvs2
node lvs3
"""
HARESOURCES = f"lvs1 {VIP}/24/eth0\n"
EXPORT = [sys.executable, str(REPO / "bin" / "lvs-compat"), "export", "pacemaker"]

# The holder's script is a constant; the hostname comes in as $1.
HOLDER = """set -e
hostname "$1"
for d in /run /var/lib/pacemaker /var/lib/corosync /var/log/pacemaker; do
    mount -t tmpfs -o mode=0755 lvsexp "$d"
done
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /run/crm /run/lock
install -o hacluster -g haclient -m 0600 "$2" /var/lib/pacemaker/cib/cib.xml
chown -R hacluster:haclient /var/lib/pacemaker /run/crm /var/log/pacemaker
chmod 0770 /var/log/pacemaker
echo ready
exec sleep infinity
"""


def run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60, **kwargs)


def wait_for(what, predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Cluster:
    def __init__(self, directory):
        self.directory = directory
        tag = os.getpid()
        self.bridge_ns = f"lvsexp-br-{tag}"
        self.namespaces = {name: f"lvsexp-{name}-{tag}" for name in NODES}
        self.holders: dict[str, subprocess.Popen] = {}
        self.daemons: dict[str, list[subprocess.Popen]] = {name: [] for name in NODES}
        self.killed: set[int] = set()

    def up(self, corosync_conf: str, cib_file):
        run(["ip", "netns", "add", self.bridge_ns]).check_returncode()
        run(["ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge"]).check_returncode()
        run(["ip", "-n", self.bridge_ns, "link", "set", "br0", "up"]).check_returncode()
        for number, name in enumerate(NODES, 1):
            ns = self.namespaces[name]
            run(["ip", "netns", "add", ns]).check_returncode()
            for argv in (["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"p{number}",
                          "netns", self.bridge_ns],
                         ["ip", "-n", self.bridge_ns, "link", "set", f"p{number}", "master", "br0", "up"],
                         ["ip", "-n", ns, "addr", "add", f"{SUBNET}.{number}/24", "dev", "eth0"],
                         ["ip", "-n", ns, "link", "set", "eth0", "up"],
                         ["ip", "-n", ns, "link", "set", "lo", "up"]):
                run(argv).check_returncode()
            holder = subprocess.Popen(
                ["ip", "netns", "exec", ns, "unshare", "--mount", "--uts", "--propagation", "private",
                 "bash", "-c", HOLDER, "holder", name, str(cib_file)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.holders[name] = holder
            assert holder.stdout.readline().strip() == "ready", holder.stderr.read()
            conf = self.directory / f"{name}-corosync.conf"
            conf.write_text(corosync_conf)
            self.start(name)

    def enter(self, name):
        return ["nsenter", "-t", str(self.holders[name].pid), "-n", "-m", "-u", "--"]

    def start(self, name):
        log = open(self.directory / f"{name}.out", "ab")
        conf = self.directory / f"{name}-corosync.conf"
        self.daemons[name].append(subprocess.Popen(
            [*self.enter(name), "/usr/sbin/corosync", "-f", "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True))
        env = {**os.environ, "PCMK_logfile": str(self.directory / f"{name}-pacemaker.log"),
               "PCMK_logfacility": "none"}
        self.daemons[name].append(subprocess.Popen(
            [*self.enter(name), "/usr/sbin/pacemakerd"], env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True))

    def kill(self, name):
        # pacemakerd's children outlive it and become our orphans (subreaper): note them now,
        # while they are listed in the namespace, so that reap() waits for them by pid
        self.killed.update(int(pid) for pid in
                           run(["ip", "netns", "pids", self.namespaces[name]]).stdout.split())
        for daemon in self.daemons[name]:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGKILL)

    def crm_mon(self, name) -> str:
        return run([*self.enter(name), "/usr/sbin/crm_mon", "-1", "-r"]).stdout

    def holds_vip(self, name) -> bool:
        shown = run(["ip", "-n", self.namespaces[name], "-br", "addr", "show", "eth0"]).stdout
        return f" {VIP}/" in f" {shown}"

    def pids_inside(self) -> set[int]:
        pids = set()
        for ns in (*self.namespaces.values(), self.bridge_ns):
            pids.update(int(pid) for pid in run(["ip", "netns", "pids", ns]).stdout.split())
        return pids

    def down(self):
        """Kill everything inside the lab's namespaces (pacemaker's daemons and corosync run
        there only: all of it is ours), until nothing is left there, then remove them.  Only
        those processes are reaped: other children of this pytest (the guest runs started in
        the background by conftest.py) are not this lab's, and reaping them would steal their
        exit status from their Popen."""
        deadline = time.monotonic() + 20
        while True:
            inside = self.pids_inside()
            self.killed.update(inside)
            for pid in inside:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for process in (*self.holders.values(), *(d for ds in self.daemons.values() for d in ds)):
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
            self.reap()
            if not self.pids_inside() or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for ns in (*self.namespaces.values(), self.bridge_ns):
            run(["ip", "netns", "del", ns])

    def reap(self) -> None:
        """Wait for the lab's own processes that became our children (pacemakerd's orphans: we
        are their subreaper), by pid, never ``waitpid(-1)``."""
        for pid in list(self.killed):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:     # not ours (its parent reaps it) or already reaped
                continue
            if done:
                self.killed.discard(pid)

    def processes_left(self) -> list[int]:
        """The lab's processes that still exist (a zombie of ours counts until reaped)."""
        return [pid for pid in self.killed if os.path.exists(f"/proc/{pid}")]


def set_child_subreaper(on: bool) -> None:
    """pacemakerd's children outlive a killed pacemakerd; as our orphans, we reap them (an init
    that does not reap, as in some containers, would keep them as zombies)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0, os.strerror(ctypes.get_errno())


@pytest.fixture
def cluster(tmp_path):
    assert os.geteuid() == 0, "the cluster lab needs root (namespaces, mounts)"
    for tool in ("/usr/sbin/corosync", "/usr/sbin/pacemakerd", "/usr/sbin/crm_mon"):
        assert os.access(tool, os.X_OK), f"{tool} missing: make deps installs corosync and pacemaker"
    lab = Cluster(tmp_path)
    set_child_subreaper(True)
    try:
        yield lab
    finally:
        try:
            lab.down()
            wait_for("the lab's processes to be reaped",
                     lambda: (lab.reap(), not lab.processes_left())[1], 20)
        finally:
            set_child_subreaper(False)


def exported(tmp_path):
    ha_dir = tmp_path / "ha.d"
    ha_dir.mkdir()
    (ha_dir / "ha.cf").write_text(HA_CF)
    (ha_dir / "haresources").write_text(HARESOURCES)
    (ha_dir / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (ha_dir / "authkeys").chmod(0o600)
    out = tmp_path / "out"
    addresses = [arg for number, name in enumerate(NODES, 1) for arg in ("--addr", f"{name}={SUBNET}.{number}")]
    result = run([*EXPORT, "--ha-dir", ha_dir, "--out-dir", out, *addresses])
    assert result.returncode == 0, result.stderr
    key = tmp_path / "authkey"
    run(["/usr/sbin/corosync-keygen", "-l", "-k", key]).check_returncode()
    # the lab's own: where the key is, and logs in the test's directory instead of syslog
    corosync = (out / "corosync.conf").read_text()
    corosync = corosync.replace("    crypto_hash: sha1\n", f"    crypto_hash: sha1\n    keyfile: {key}\n")
    corosync = corosync.replace("    to_syslog: yes\n", "    to_syslog: no\n")
    return corosync, out / "cib.xml"


def lost_at(cluster, observer, node):
    """When ``observer``'s pacemaker logged ``node`` lost (epoch seconds), or None."""
    log = cluster.directory / f"{observer}-pacemaker.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    line = next((line for line in text.splitlines()
                 if f"Node {node} state is now lost" in line), None)
    if line is None:
        return None
    stamp = datetime.datetime.strptime(f"{datetime.date.today().year} {line[:19]}",
                                       "%Y %b %d %H:%M:%S.%f")
    return stamp.timestamp()


def test_vip_group_moves_when_its_director_is_killed(tmp_path, cluster):
    corosync, cib = exported(tmp_path)
    assert "    token: 2077\n" in corosync  # 6000 / 2.2 - 650 for the third node
    cluster.up(corosync, cib)

    wait_for("quorum", lambda: "partition with quorum" in cluster.crm_mon("lvs2"), 60)
    wait_for("the VIP on lvs1", lambda: cluster.holds_vip("lvs1"), 60)
    status = cluster.crm_mon("lvs2")
    assert "Online: [ lvs1 lvs2 lvs3 ]" in status, status
    assert not cluster.holds_vip("lvs2") and not cluster.holds_vip("lvs3")

    killed_at, killed_wall = time.monotonic(), time.time()
    cluster.kill("lvs1")
    survivor = wait_for("the VIP on another director",
                        lambda: next((n for n in ("lvs2", "lvs3") if cluster.holds_vip(n)), None), 30)
    moved_after_s = time.monotonic() - killed_at
    # what the export claims is the detection: corosync's token and consensus from deadtime,
    # timed by the survivor's own log; scheduling and IPaddr2's start after it follow no timer
    # (the VIP took 9.98 s in a loaded fresh run, 8.2 s on a quiet machine)
    lost_s = wait_for("lvs1 lost in the survivor's log", lambda: lost_at(cluster, survivor, "lvs1"),
                      30) - killed_wall
    print(f"lvs1 lost {lost_s:.2f} s and the VIP on {survivor} {moved_after_s:.2f} s after lvs1 "
          f"was killed (deadtime {DEADTIME_S} s)")
    assert lost_s < DEADTIME_S + 1
    # the VIP answers on the survivor before IPaddr2's start has returned (crm_mon: "Starting";
    # fresh run 44 read that): the group is judged once its start has completed
    wait_for(f"lvs1 offline and the group started on {survivor}",
             lambda: (lambda s: "OFFLINE: [ lvs1 ]" in s and f"Started {survivor}" in s and s)(
                 cluster.crm_mon(survivor)), 30)
