"""tools/apt-install, the set-up step of `make demo` and `make test`, on the four machines a new
user has: with or without a policy-rc.d already there (Docker-style images ship one), with or
without the packages installed; and when apt fails.

apt-get, dpkg-query and dpkg are fakes on PATH (a fake dpkg database is a file of package
names; the fake apt-get records what policy-rc.d said while it "installed"), and the policy file
is a temporary one (LVS_COMPAT_POLICY_RC_D): the test must not touch the machine's own.  The
real install runs in every fresh CI run (`.ci/run` -> make test -> tools/apt-install).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
APT_INSTALL = REPO / "tools" / "apt-install"

DOCKER_POLICY = """#!/bin/sh

# For most Docker users, "apt-get install" only happens during "docker build",
# where starting services doesn't work and often fails in humorous ways. This
# prevents those failures by stopping the services from attempting to start.

exit 101
"""
PERMISSIVE_POLICY = "#!/bin/sh\n# a site's own policy: start everything\nexit 0\n"

FAKE_DPKG_QUERY = """#!/bin/sh
# fake dpkg-query -W -f='${Status}' PKG: installed when PKG (or PKG=VERSION, the last such) is a
# line of $FAKE_DB; -f='${Status} ${Version}' adds that VERSION
pkg=$3
case $pkg in *=*) echo "dpkg-query: no packages found matching $pkg" >&2; exit 1 ;; esac   # as dpkg
line=$(grep -e "^$pkg\$" -e "^$pkg=" "$FAKE_DB" | tail -n 1)
if [ -n "$line" ]; then
    case $2 in *Version*) printf 'install ok installed %s' "${line#*=}" ;; *) printf 'install ok installed' ;; esac
    exit 0
fi
echo "dpkg-query: no packages found matching $pkg" >&2
exit 1
"""
FAKE_APT_GET = """#!/bin/sh
# fake apt-get: records each call and what policy-rc.d answered for a daemon start then
echo "$*" >>"$FAKE_CALLS"
if [ -x "$LVS_COMPAT_POLICY_RC_D" ]; then
    "$LVS_COMPAT_POLICY_RC_D" mon start >/dev/null 2>&1
    echo "policy=$?" >>"$FAKE_CALLS"
else
    echo "policy=absent" >>"$FAKE_CALLS"
fi
case "$1" in
    update) exit "${FAKE_UPDATE_RC:-0}" ;;
esac
shift 4   # install -y -q --no-install-recommends
for pkg in "$@"; do   # like apt: one unknown package and nothing is installed
    [ "$pkg" = "$FAKE_BROKEN" ] && { echo "E: Unable to locate package $pkg" >&2; exit 100; }
done
for pkg in "$@"; do echo "$pkg" >>"$FAKE_DB"; done
"""
FAKE_DPKG = """#!/bin/sh
# fake dpkg --audit: lists $FAKE_HALF as half configured
[ -n "$FAKE_HALF" ] || exit 0
echo "The following packages are only half configured, probably due to problems"
echo "configuring them the first time.  The configuration should be retried using"
echo "dpkg --configure <package> or the configure menu option in dselect:"
echo " $FAKE_HALF              a package"
"""


@pytest.fixture
def machine(tmp_path):
    """A fake package database and apt, and the place of policy-rc.d."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET),
                       ("dpkg", FAKE_DPKG)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    db, calls = tmp_path / "db", tmp_path / "calls"
    db.write_text("")
    calls.write_text("")

    class Machine:
        policy = tmp_path / "sbin" / "policy-rc.d"
        installed = db

        def __init__(self):
            self.policy.parent.mkdir()
            self.env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}",
                        "FAKE_DB": str(db), "FAKE_CALLS": str(calls),
                        "LVS_COMPAT_POLICY_RC_D": str(self.policy)}

        def run(self, *packages: str, caller: str | None = None, **env: str):
            argv = [str(APT_INSTALL), *packages]
            if caller:   # a `set -e` script calling it, as make's recipes and .ci/run do
                argv = ["bash", "-c", caller, "caller", *argv]
            return subprocess.run(argv, env={**self.env, **env}, capture_output=True,
                                  text=True, timeout=60)

        @property
        def calls(self) -> list[str]:
            return calls.read_text().splitlines()

        def files_beside_policy(self) -> list[str]:
            return sorted(p.name for p in self.policy.parent.iterdir())

    return Machine()


def snapshot(path: Path) -> tuple:
    st = path.lstat()
    return path.read_bytes(), st.st_mode, st.st_mtime_ns, st.st_uid, st.st_gid


SET_E_CALLER = 'set -e; "$@"; echo "caller went on"'


def test_no_policy_and_packages_missing_installs_them_with_daemons_held_back(machine):
    result = machine.run("mon", "heartbeat", caller=SET_E_CALLER)
    assert result.returncode == 0, result.stderr
    assert "caller went on" in result.stdout
    assert machine.installed.read_text().split() == ["mon", "heartbeat"]
    # while apt ran, a policy refused to start daemons (101); afterwards it is gone again
    assert machine.calls == ["update -q", "policy=101",
                             "install -y -q --no-install-recommends mon heartbeat",
                             "policy=101"]
    assert machine.files_beside_policy() == []


def test_a_pinned_version_is_installed_unless_that_very_version_is(machine):
    # systemd-container must match the host's systemd: the newest one would upgrade systemd
    machine.installed.write_text("mon\nsystemd-container=252.39-1~deb12u2\n")
    result = machine.run("mon", "systemd-container=252.38-1~deb12u1")
    assert result.returncode == 0, result.stderr
    assert machine.calls[2] == "install -y -q --no-install-recommends systemd-container=252.38-1~deb12u1"
    calls = len(machine.calls)
    assert machine.run("mon", "systemd-container=252.38-1~deb12u1").returncode == 0
    assert len(machine.calls) == calls    # now that version is installed: nothing to do


def test_no_policy_and_packages_installed_does_nothing(machine):
    machine.installed.write_text("mon\nheartbeat\n")
    result = machine.run("mon", "heartbeat", caller=SET_E_CALLER)
    assert result.returncode == 0, result.stderr
    assert "caller went on" in result.stdout
    assert machine.calls == []
    assert machine.files_beside_policy() == []


def test_docker_policy_and_packages_missing_leaves_the_policy_exactly_as_found(machine):
    """The failure a fresh Docker-style machine showed: the EXIT trap's `[ own = 1 ] && rm`
    returned 1 and turned a good install into exit status 1."""
    machine.policy.write_text(DOCKER_POLICY)
    machine.policy.chmod(0o755)
    os.utime(machine.policy, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before, inode = snapshot(machine.policy), machine.policy.stat().st_ino
    result = machine.run("mon", "vsftpd", caller=SET_E_CALLER)
    assert result.returncode == 0, result.stderr
    assert "caller went on" in result.stdout
    assert machine.installed.read_text().split() == ["mon", "vsftpd"]
    assert machine.calls[1] == "policy=101" and machine.calls[3] == "policy=101"
    assert snapshot(machine.policy) == before
    assert machine.policy.stat().st_ino == inode          # not even rewritten
    assert machine.files_beside_policy() == ["policy-rc.d"]


def test_docker_policy_and_packages_installed_does_nothing(machine):
    machine.policy.write_text(DOCKER_POLICY)
    machine.policy.chmod(0o755)
    before = snapshot(machine.policy)
    machine.installed.write_text("mon\n")
    result = machine.run("mon", caller=SET_E_CALLER)
    assert result.returncode == 0, result.stderr
    assert "caller went on" in result.stdout
    assert machine.calls == []
    assert snapshot(machine.policy) == before


def test_a_policy_that_lets_daemons_start_is_set_aside_for_the_install_and_put_back(machine):
    machine.policy.write_text(PERMISSIVE_POLICY)
    machine.policy.chmod(0o750)
    os.utime(machine.policy, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    before = snapshot(machine.policy)
    result = machine.run("heartbeat")
    assert result.returncode == 0, result.stderr
    assert machine.calls[1] == "policy=101"               # no daemon started meanwhile
    assert snapshot(machine.policy) == before
    assert machine.files_beside_policy() == ["policy-rc.d"]


def test_a_package_apt_cannot_find_is_named_with_the_command_to_retry(machine):
    machine.policy.write_text(DOCKER_POLICY)
    machine.policy.chmod(0o755)
    before = snapshot(machine.policy)
    result = machine.run("mon", "no-such-pkg", caller=SET_E_CALLER, FAKE_BROKEN="no-such-pkg")
    assert result.returncode == 2
    assert "caller went on" not in result.stdout          # set -e callers stop
    last = result.stderr.strip().splitlines()[-1]
    assert last == ("tools/apt-install: apt-get install failed (exit 100); not installed: "
                    "mon no-such-pkg; retry with: tools/apt-install mon no-such-pkg")
    assert snapshot(machine.policy) == before


def test_an_unreachable_registry_names_every_missing_package_and_removes_our_policy(machine):
    result = machine.run("mon", "fping", FAKE_UPDATE_RC="100")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "tools/apt-install: apt-get update failed (exit 100); not installed: mon fping; "
        "retry with: tools/apt-install mon fping")
    assert machine.files_beside_policy() == []


def test_half_installed_packages_are_listed(machine):
    result = machine.run("mon", FAKE_BROKEN="mon", FAKE_HALF="mon")
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "not installed: mon; half-installed: mon (dpkg --configure -a); " in line
