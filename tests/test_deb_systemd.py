"""The .deb in a real Debian 12 booted with systemd as PID 1, as an operator uses it.

Two directors, each a container booted by tools/debian-boot (mmdebstrap root fs cached under
/var/cache/debian-boot, systemd-nspawn -b, private network namespaces on a bridge of our own):
the package refuses to install over a running C heartbeat or another package's diversion and
changes nothing; installed, `systemctl start heartbeat` runs our daemon (Debian's unit:
`heartbeat -f`, PIDFile), `hb_standby` moves the group to the other director and `hb_takeover`
brings it back, `systemctl reload` keeps it, `systemctl stop` releases it; mon's service runs our
monitors and lvs.alert; /etc/init.d/heartbeat start|status|reload|stop works; `apt-get remove`
while our daemon holds the group stops it, and Debian's C heartbeat (started again) and Perl
monitors are back with `dpkg -V heartbeat mon` clean.

Debian's C /usr/bin/cl_status is left in place (no longer diverted nor shipped) and answers for
our daemon under Debian's unit, through the client API at /run/heartbeat/register.  The upgrade
from the previous package, which diverted /usr/bin/cl_status and shipped ours there, gives
Debian's back (postinst, tools/deb/undiverted), as tools/divert does for an older make install.
"""

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import REPO

pytestmark = pytest.mark.lab

BOOT_DIR = REPO / "tools" / "debian-boot"
ROOTFS = "/var/cache/debian-boot/lvs-compat-deb.tar"
# the .deb's Depends beyond the default image, and fping for mon's fping.monitor
ROOTFS_EXTRA = ("python3", "fping")
VIP = "10.77.0.100"
DIVERTED = ("/usr/libexec/heartbeat/heartbeat",
            "/usr/lib/mon/mon.d/fping.monitor", "/usr/lib/mon/mon.d/http.monitor",
            "/usr/lib/mon/mon.d/ftp.monitor")
# what the previous package (and make install) diverted besides, and replaced with ours
CL_STATUS = "/usr/bin/cl_status"
PREVIOUS_DIVERTED = DIVERTED + (CL_STATUS,)


# boot.sh kill waits 15 s for the power cut, then SIGKILLs the container's cgroup and waits 10 s
KILL_WAIT_S = 60


def run(*argv, timeout=120, check=True, **kwargs):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{argv}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def at_once(argvs, timeout):
    """Run every argv at the same time: (exit status, stdout, stderr) of each; the status is
    None for one still running after ``timeout`` s, which is then killed."""
    processes = [subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for argv in argvs]
    deadline = time.monotonic() + timeout
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
            results.append((process.returncode, out, err))
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            results.append((None, out, err))
    return results


def wait_for(condition, what, seconds=30, explain=lambda: ""):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {seconds} s\n{explain()}"
        time.sleep(0.05)


class Director:
    def __init__(self, name, netns, address):
        self.name, self.netns, self.address = name, netns, address

    def sh(self, *argv, timeout=60, check=True, stdin=None):
        """A command inside, like the operator's root shell there (always time-boxed)."""
        return run(BOOT_DIR / "run-in.sh", self.name, *argv, timeout=timeout, check=check,
                   input=stdin)

    @property
    def root(self):
        return run(BOOT_DIR / "boot.sh", "root", self.name).stdout.strip()

    def write(self, path, text, mode=0o644):
        target = f"{self.root}{path}"
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write(text)
        os.chmod(target, mode)

    def has_vip(self):
        shown = run("ip", "-n", self.netns, "-4", "addr", "show", "dev", "eth0").stdout
        return f" {VIP}/" in shown

    def main_pid(self):
        return int(self.sh("systemctl", "show", "-p", "MainPID", "--value", "heartbeat").stdout)

    def exe_of(self, pid):
        return self.sh("readlink", f"/proc/{pid}/exe").stdout.strip()

    def cmdline_of(self, pid):
        return self.sh("cat", f"/proc/{pid}/cmdline").stdout.split("\0")

    def diversions(self):
        return sorted(line for line in self.sh("dpkg-divert", "--list").stdout.splitlines()
                      if "lvs-compat" in line or "other-package" in line
                      or line.startswith("local diversion"))

    def installed(self):
        status = self.sh("dpkg-query", "-W", "-f=${Status}", "lvs-compat", check=False).stdout
        return status == "install ok installed"


HA_CF = """\
    logfacility daemon
    keepalive 250ms
    deadtime 2
    warntime 1
    initdead 4
    ucast eth0 {peer}
    auto_failback on
    node {a} {b}
"""


@pytest.fixture(scope="module")
def deb():
    """`make deb`: the package, and lintian clean on it (the target fails otherwise)."""
    started = time.monotonic()
    result = run("make", "-C", REPO, "--no-print-directory", "deb", timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (path,) = (REPO / "build").glob("lvs-compat_*_all.deb")
    print(f"make deb (lintian included): {time.monotonic() - started:.1f} s")
    return path


@pytest.fixture(scope="module")
def previous_deb(deb, tmp_path_factory):
    """The package as it was before Debian's cl_status was kept: the same tree with ours
    installed at /usr/bin/cl_status (tools/install-program, as make install did), the same
    maintainer scripts with /usr/bin/cl_status in their list of diverted files and nothing to
    give back (the previous scripts were these without the give-back loops), an older version."""
    work = tmp_path_factory.mktemp("previous")
    root = work / "root"
    shutil.copytree(REPO / "build" / "deb" / "root", root, symlinks=True)
    run(REPO / "tools" / "install-program", "/usr/bin/python3", "/usr/lib/lvs-compat",
        REPO / "bin" / "cl_status", root / "usr" / "bin")
    (root / "usr/bin/cl_status").chmod(0o755)
    with open(root / "DEBIAN" / "md5sums", "a") as md5sums:
        md5sums.write(run("md5sum", "usr/bin/cl_status", cwd=root).stdout)
    swaps = {"DIVERTED": (f'DIVERTED="{" ".join(DIVERTED)}"', f'DIVERTED="{" ".join(PREVIOUS_DIVERTED)}"'),
             "UNDIVERTED": (f'UNDIVERTED="{CL_STATUS}"', 'UNDIVERTED=""')}
    for script, names in (("preinst", ["DIVERTED"]), ("postinst", ["UNDIVERTED"]),
                          ("postrm", ["DIVERTED", "UNDIVERTED"])):
        path = root / "DEBIAN" / script
        text = path.read_text()
        for name in names:
            now, before = swaps[name]
            assert f"\n{now}\n" in text, (script, now)
            text = text.replace(f"\n{now}\n", f"\n{before}\n")
        path.write_text(text)
    control = root / "DEBIAN" / "control"
    version = next(line.split()[1] for line in control.read_text().splitlines()
                   if line.startswith("Version: "))
    control.write_text(control.read_text().replace(f"Version: {version}\n",
                                                   f"Version: {version}~previous\n"))
    path = work / f"lvs-compat_{version}~previous_all.deb"
    run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, path)
    listed = run("dpkg-deb", "-c", path).stdout
    assert " ./usr/bin/cl_status\n" in listed
    assert run("dpkg-deb", "-I", path, "preinst").stdout.count(CL_STATUS) == 1
    return path


@pytest.fixture(scope="module")
def rootfs():
    started = time.monotonic()
    run(BOOT_DIR / "make-rootfs.sh", "-o", ROOTFS, *ROOTFS_EXTRA, timeout=900)
    print(f"root fs (cached after the first build): {time.monotonic() - started:.1f} s")
    return ROOTFS


@pytest.fixture
def directors(rootfs, tmp_path):
    """Two booted containers, each in a network namespace of its own on a private bridge."""
    tag = f"d{os.getpid()}"        # run_pids: a leftover check beside it knows it by the pid
    switch = f"{tag}sw"
    pairs = [Director(f"{tag}a", f"{tag}n1", "10.77.0.1"), Director(f"{tag}b", f"{tag}n2", "10.77.0.2")]
    created, booted = [], []
    try:
        run("ip", "netns", "add", switch)
        created.append(switch)
        run("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", switch, "link", "set", "br0", "up")
        for number, node in enumerate(pairs, 1):
            run("ip", "netns", "add", node.netns)
            created.append(node.netns)
            run("ip", "-n", node.netns, "link", "add", "eth0", "type", "veth", "peer", "name",
                f"p{number}", "netns", switch)
            run("ip", "-n", switch, "link", "set", f"p{number}", "master", "br0", "up")
            run("ip", "-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0")
            run("ip", "-n", node.netns, "link", "set", "eth0", "up")
            run("ip", "-n", node.netns, "link", "set", "lo", "up")
            files = tmp_path / node.name
            ha_d = files / "etc" / "ha.d"
            ha_d.mkdir(parents=True)
            peer = pairs[2 - number].address
            (ha_d / "ha.cf").write_text(textwrap.dedent(
                HA_CF.format(a=pairs[0].name, b=pairs[1].name, peer=peer)))
            (ha_d / "haresources").write_text(f"{pairs[0].name} IPaddr::{VIP}/24/eth0\n")
            (ha_d / "authkeys").write_text("auth 1\n1 sha1 lvs-compat-test\n")
            (ha_d / "authkeys").chmod(0o600)
        started = time.monotonic()
        boots = at_once([[BOOT_DIR / "boot.sh", "start", node.name, "-r", rootfs, "-n", node.netns,
                          "-c", tmp_path / node.name, "-t", "60"] for node in pairs], 120)
        booted.extend(pairs)        # whatever became of a boot, the teardown cuts it
        for code, out, err in boots:
            assert code == 0 and out.strip() in ("running", "degraded"), err
        print(f"two containers booted in {time.monotonic() - started:.2f} s")
        yield pairs
    finally:
        # a power cut of both at once (nothing of a container is kept anyway); a kill that
        # hung is reported after everything is gone, namespaces included
        kills = at_once([[BOOT_DIR / "boot.sh", "kill", node.name] for node in booted],
                        KILL_WAIT_S)
        for name in reversed(created):
            run("ip", "netns", "del", name, check=False)
        for _, _, err in kills:
            if "did not stop within" in err:
                print(err)      # which processes were stuck (boot.sh lists them)
        stuck = [node.name for node, (code, _, _) in zip(booted, kills) if code is None]
        assert not stuck, f"boot.sh kill still running after {KILL_WAIT_S} s: {stuck}"


def install(node, deb, check=True):
    shutil.copy(deb, f"{node.root}/root/lvs-compat.deb")   # the same name: apt upgrades
    return node.sh("apt-get", "install", "-y", "--no-install-recommends", "/root/lvs-compat.deb",
                   timeout=180, check=check)


def assert_debian_originals(node):
    """Debian's files in place, as dpkg installed them."""
    verify = node.sh("dpkg", "-V", "heartbeat", "mon", check=False)
    assert (verify.returncode, verify.stdout) == (0, ""), verify.stdout + verify.stderr
    assert node.sh("head", "-c", "4", "/usr/libexec/heartbeat/heartbeat").stdout == "\x7fELF"
    assert node.sh("head", "-n", "1", "/usr/lib/mon/mon.d/http.monitor").stdout.startswith("#!/usr/bin/perl")
    assert_debians_cl_status(node)
    assert not node.installed()
    assert [line for line in node.diversions() if "other-package" not in line] == []


def assert_debians_cl_status(node):
    """/usr/bin/cl_status is Debian's C one, as heartbeat installed it, and not diverted."""
    assert node.sh("head", "-c", "4", CL_STATUS).stdout == "\x7fELF"
    assert node.sh("dpkg-divert", "--listpackage", CL_STATUS).stdout == ""
    assert node.sh("test", "-e", f"{CL_STATUS}.distrib", check=False).returncode == 1
    verify = node.sh("dpkg", "-V", "heartbeat", check=False)
    assert CL_STATUS not in verify.stdout, verify.stdout


MON_CF = """\
alertdir   = /usr/lib/mon/alert.d
mondir     = /usr/lib/mon/mon.d
maxprocs   = 20
histlength = 100
randstart  = 0s

hostgroup local 127.0.0.1

watch local
    service ping
        interval 2s
        monitor fping.monitor
        period wd {Sun-Sat}
            alert lvs.alert -P tcp -V 10.77.0.100:80 -R 127.0.0.1 -W 5 -F dr
    service http
        interval 2s
        monitor http.monitor
        period wd {Sun-Sat}
            alert lvs.alert -P tcp -V 10.77.0.100:80 -R 127.0.0.1 -W 5 -F dr
"""

FAKE_IPVSADM = """\
#!/bin/sh
# the container shares the host's kernel, which has no IPVS: record what lvs.alert asks
echo "$*" >> /run/fake-ipvsadm.log
exit 0
"""


def test_the_deb_under_systemd_from_install_to_removal(deb, previous_deb, directors):
    a, b = directors
    t0 = time.monotonic()

    # --- bad input: nothing changes ------------------------------------------------------------
    b.sh("systemctl", "start", "heartbeat")          # Debian's C heartbeat, running
    wait_for(lambda: b.main_pid() and b.exe_of(b.main_pid()) == "/usr/libexec/heartbeat/heartbeat",
             "C heartbeat running")
    refused = install(b, deb, check=False)
    assert refused.returncode != 0
    assert "lvs-compat: Debian's heartbeat is running (pid " in refused.stdout + refused.stderr
    assert "stop it first: systemctl stop heartbeat; nothing was changed" in refused.stdout + refused.stderr
    assert_debian_originals(b)
    b.sh("systemctl", "stop", "heartbeat")
    ftp = "/usr/lib/mon/mon.d/ftp.monitor"
    b.sh("dpkg-divert", "--package", "other-package", "--divert", f"{ftp}.other", "--add", ftp)
    refused = install(b, deb, check=False)
    assert refused.returncode != 0
    assert (f"lvs-compat: {ftp} is already diverted by the package other-package; "
            "nothing was changed") in refused.stdout + refused.stderr
    assert b.diversions() == [f"diversion of {ftp} to {ftp}.other by other-package"]
    b.sh("dpkg-divert", "--package", "other-package", "--remove", ftp)
    assert_debian_originals(b)
    print(f"refusals checked at {time.monotonic() - t0:.1f} s")

    # --- the previous package, which diverted cl_status, upgraded: Debian's cl_status back ------
    install(b, previous_deb)
    assert b.diversions() == sorted(
        f"diversion of {path} to {path}.distrib by lvs-compat" for path in PREVIOUS_DIVERTED)
    assert "lvs_compat" in b.sh("cat", CL_STATUS).stdout
    assert b.sh("head", "-c", "4", f"{CL_STATUS}.distrib").stdout == "\x7fELF"
    install(b, deb)
    assert b.sh("dpkg-query", "-W", "-f=${Version}", "lvs-compat").stdout == run(
        "dpkg-deb", "-f", deb, "Version").stdout.strip()
    assert b.diversions() == sorted(
        f"diversion of {path} to {path}.distrib by lvs-compat" for path in DIVERTED)
    assert_debians_cl_status(b)
    assert CL_STATUS not in b.sh("dpkg", "-L", "lvs-compat").stdout.splitlines()
    print(f"upgrade from the previous package checked at {time.monotonic() - t0:.1f} s")

    # --- installed: every replaced file diverted (b already has it: upgraded) ------------------------
    for node in directors:
        if node is a:
            install(node, deb)
        assert node.installed()
        assert node.diversions() == sorted(
            f"diversion of {path} to {path}.distrib by lvs-compat" for path in DIVERTED)
        assert node.sh("head", "-c", "4", "/usr/libexec/heartbeat/heartbeat.distrib").stdout == "\x7fELF"
        assert "lvs_compat" in node.sh("cat", "/usr/libexec/heartbeat/heartbeat").stdout
        assert_debians_cl_status(node)
    print(f"installed on both at {time.monotonic() - t0:.1f} s")

    # --- systemctl start: Debian's unit runs our daemon ------------------------------------------
    for node in directors:   # enabled, as on a director: apt-get remove starts it again
        node.sh("systemctl", "enable", "--now", "heartbeat")
    for node in directors:
        status = node.sh("systemctl", "status", "--no-pager", "heartbeat")
        assert "active (running)" in status.stdout
        pid = node.main_pid()
        assert os.path.basename(node.exe_of(pid)).startswith("python3")
        assert node.cmdline_of(pid)[-3:-1] == ["/usr/libexec/heartbeat/heartbeat", "-f"]
        wait_for(lambda: node.sh("cat", "/run/heartbeat.pid", check=False).stdout.strip() == str(pid),
                 "the pid file naming the unit's main process", seconds=20)
    wait_for(a.has_vip, f"{VIP} on {a.name}", seconds=40)
    print(f"{VIP} up on {a.name} at {time.monotonic() - t0:.1f} s")
    # Debian's C cl_status, against our daemon's client API where the C library looks for it
    assert a.sh("test", "-S", "/run/heartbeat/register", check=False).returncode == 0
    hbstatus = a.sh("cl_status", "hbstatus")
    assert hbstatus.stdout == "Heartbeat is running on this machine.\n"
    assert a.sh("cl_status", "nodestatus", b.name).stdout == "active\n"
    assert a.sh("cl_status", "hblinkstatus", b.name, "eth0").stdout == "up\n"
    # asked of b's daemon across the pair (query-cstatus): what ours never answered
    offline = a.sh("cl_status", "clientstatus", b.name, "ipfail", "2000", check=False)
    assert (offline.stdout, offline.returncode) == ("offline\n", 1), offline.stderr

    # --- hb_standby moves the group to the other director, hb_takeover brings it back ----------
    a.sh("hb_standby")
    wait_for(lambda: b.has_vip() and not a.has_vip(), f"{VIP} moved to {b.name}")
    a.sh("hb_takeover")
    wait_for(lambda: a.has_vip() and not b.has_vip(), f"{VIP} back on {a.name}")
    print(f"standby and takeover done at {time.monotonic() - t0:.1f} s")

    # --- systemctl reload = heartbeat -r: same daemon, group kept ---------------------------------
    pid = a.main_pid()
    a.sh("systemctl", "reload", "heartbeat")
    wait_for(lambda: "configuration re-read (SIGHUP)" in a.sh(
        "journalctl", "-u", "heartbeat", "--no-pager", "-o", "cat").stdout, "the reload logged")
    assert a.main_pid() == pid and a.has_vip() and not b.has_vip()
    assert a.sh("systemctl", "is-active", "heartbeat").stdout == "active\n"
    # the init script, redirected to systemctl as Debian's init-functions do
    assert "active (running)" in a.sh("/etc/init.d/heartbeat", "status").stdout
    a.sh("/etc/init.d/heartbeat", "reload")
    assert a.main_pid() == pid and a.has_vip() and not b.has_vip()

    # --- mon's service runs our monitors and lvs.alert ------------------------------------------
    conffiles = {}                      # mon's: given back before dpkg -V
    for path in ("/etc/mon/mon.cf",):
        with open(f"{a.root}{path}") as handle:
            conffiles[path] = handle.read()
    a.write("/etc/mon/mon.cf", MON_CF)
    a.write("/usr/local/sbin/fake-ipvsadm", FAKE_IPVSADM, mode=0o755)
    a.write("/etc/systemd/system/mon.service.d/lvs-compat-test.conf",
            # lvs.alert changes the IPVS table: on a director mon runs as root (Debian's unit
            # says User=mon, for which ipvsadm fails, under Perl's lvs.alert as under ours)
            "[Service]\nUser=root\nEnvironment=IPVSADM=/usr/local/sbin/fake-ipvsadm\n")
    a.sh("systemctl", "daemon-reload")
    a.sh("systemctl", "restart", "mon")
    wait_for(lambda: a.sh("test", "-s", "/run/fake-ipvsadm.log", check=False).returncode == 0,
             "lvs.alert run by mon", explain=lambda: a.sh(
                 "journalctl", "-u", "mon", "--no-pager", "-n", "30", check=False).stdout)
    opstatus = a.sh("moncmd", "list", "opstatus").stdout
    # our http.monitor's detail (Perl's has none), as mon escapes it
    assert "HTTP\\20response\\20code\\20failure\\20(connect:\\20Connection\\20refused)" in opstatus
    for path, text in conffiles.items():
        a.write(path, text)
    a.sh("systemctl", "restart", "mon")
    print(f"mon ran our monitors and alert at {time.monotonic() - t0:.1f} s")

    # --- systemctl stop releases everything: the group goes to the other director ------------
    a.sh("systemctl", "stop", "heartbeat", timeout=90)
    assert a.sh("systemctl", "is-active", "heartbeat", check=False).stdout == "inactive\n"
    assert not a.has_vip()
    assert a.sh("test", "-e", "/run/heartbeat.pid", check=False).returncode == 1
    wait_for(b.has_vip, f"{VIP} taken over by {b.name}")
    print(f"stopped at {time.monotonic() - t0:.1f} s")

    # --- the init script by itself (no systemctl redirection): start, status, reload, stop ----
    native = ["env", "SYSTEMCTL_SKIP_REDIRECT=1", "/etc/init.d/heartbeat"]
    a.sh(*native, "start", timeout=90)      # ResourceManager verifyallidle, then `heartbeat`
    # the daemon writes its pid file once detached (C's as well)
    wait_for(lambda: a.sh(*native, "status", check=False).returncode == 0, "status 0", seconds=20)
    pid = int(a.sh("cat", "/run/heartbeat.pid").stdout)
    assert a.sh(*native, "status").stdout == f"heartbeat OK [pid {pid} et al] is running on {a.name} [{a.name}]...\n"
    assert os.path.basename(a.exe_of(pid)).startswith("python3")
    wait_for(lambda: a.has_vip() and not b.has_vip(), f"{VIP} failed back to {a.name}")
    a.sh(*native, "reload")
    assert int(a.sh("cat", "/run/heartbeat.pid").stdout) == pid and a.has_vip()
    a.sh(*native, "stop", timeout=90)
    assert a.sh(*native, "status", check=False).returncode == 3 and not a.has_vip()
    wait_for(b.has_vip, f"{VIP} taken over by {b.name} again")
    print(f"init script done at {time.monotonic() - t0:.1f} s")

    # --- apt-get remove while our daemon holds the group ---------------------------------------
    b.sh("apt-get", "remove", "-y", "lvs-compat", timeout=180)
    assert "All HA resources relinquished." in b.sh(
        "journalctl", "-u", "heartbeat", "--no-pager", "-o", "cat").stdout
    assert_debian_originals(b)
    assert b.sh("systemctl", "is-active", "heartbeat").stdout == "active\n"
    assert b.exe_of(b.main_pid()) == "/usr/libexec/heartbeat/heartbeat"   # the C one, restarted
    assert b.sh("systemctl", "show", "-p", "ExecReload", "--value", "heartbeat").stdout.strip() == ""
    print(f"removed at {time.monotonic() - t0:.1f} s")

    # --- make install's way, the same list through tools/divert (run by make install/uninstall)
    for node in directors:
        os.makedirs(f"{node.root}/root/tools/deb")
        shutil.copy2(REPO / "tools" / "divert", f"{node.root}/root/tools/divert")
        shutil.copy2(REPO / "tools" / "deb" / "diverted", f"{node.root}/root/tools/deb/diverted")
        shutil.copy2(REPO / "tools" / "deb" / "undiverted", f"{node.root}/root/tools/deb/undiverted")
    refused = a.sh("/root/tools/divert", "add", check=False)   # a still has the package
    assert (refused.returncode, refused.stderr) == (1, (
        "tools/divert: /usr/libexec/heartbeat/heartbeat is diverted by the package lvs-compat "
        "(apt-get remove lvs-compat first); nothing was changed\n"))

    def older_make_install_of_cl_status():
        """What an older make install left: cl_status diverted locally, ours in its place."""
        b.sh("dpkg-divert", "--local", "--rename", "--divert", f"{CL_STATUS}.distrib", "--add", CL_STATUS)
        b.write(CL_STATUS, "#!/usr/bin/python3 -IS\nfrom lvs_compat.heartbeat.cl_status import main\n",
                mode=0o755)

    older_make_install_of_cl_status()
    b.sh("/root/tools/divert", "add")
    for path in DIVERTED:   # what make install then writes there
        shutil.copy2(REPO / "build" / "deb" / "root" / path.lstrip("/"), f"{b.root}{path}")
    assert b.diversions() == sorted(f"local diversion of {path} to {path}.distrib" for path in DIVERTED)
    assert_debians_cl_status(b)                                           # given back by add
    assert b.sh("systemctl", "is-active", "heartbeat").stdout == "active\n"   # C's, untouched
    older_make_install_of_cl_status()
    b.sh("/root/tools/divert", "remove")
    assert_debian_originals(b)                                            # cl_status too


# Holds `boot.sh start`'s orphaned launcher as a subreaper that never reaps it, as a host's
# PID 1 may (fresh run 40: the sandbox's init left it a zombie for over 60 s).
UNREAPING_PARENT = """
import ctypes, subprocess, sys
PR_SET_CHILD_SUBREAPER = 36
assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print("booted", flush=True)
sys.stdin.read()
"""


def test_a_power_cut_does_not_wait_for_a_launcher_nobody_reaped(rootfs):
    """boot.sh kill counts a zombie launcher as gone: it used to wait its whole timeout for
    kill -0 to fail, and make test's teardown timed out first (fresh run 40)."""
    name = f"z{os.getpid()}"
    holder = subprocess.Popen([sys.executable, "-c", UNREAPING_PARENT, str(BOOT_DIR / "boot.sh"),
                               "start", name, "-r", rootfs, "-t", "60"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "booted\n", holder.communicate(timeout=30)
        killed = run(BOOT_DIR / "boot.sh", "kill", name, timeout=KILL_WAIT_S)
        assert "did not stop within" not in killed.stderr, killed.stderr
        assert f"{name} kill: gone after" in killed.stderr, killed.stderr
        assert name not in run(BOOT_DIR / "boot.sh", "list").stdout.split()
        launcher = run("ps", "-o", "stat=", "--ppid", str(holder.pid), check=False).stdout
        assert launcher.strip().startswith("Z"), launcher    # still unreaped: the case
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        if name in run(BOOT_DIR / "boot.sh", "list").stdout.split():
            run(BOOT_DIR / "boot.sh", "kill", name, check=False, timeout=KILL_WAIT_S)
