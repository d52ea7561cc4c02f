"""Shared helpers for the lvs.alert / ipvs tests: the FAKE ipvsadm, running
the alert as mon would, and the recorder-over-/sbin/ipvsadm namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ALERT = REPO / "alert.d" / "lvs.alert"
RESOURCE = REPO / "ha.d" / "resource.d" / "lvs"
FAKE_IPVSADM = REPO / "tests" / "fake_ipvsadm"
FAST_PYTHON = "/usr/bin/python3"
SEED_ALERT = SHARED / "seed" / "examples" / "lvs.alert.pl"
# What `make install` puts in the shebang.
INSTALLED_PYTHON = ["/usr/bin/python3", "-IS"]
MON_ARGS = ["-s", "http", "-g", "www1", "-h", "www1.domain.com", "-t", "1700000000"]


class FakeIpvsadm:
    """A FAKE ipvsadm (tests/fake_ipvsadm) with its table and call log in ``directory``."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.table_path = directory / "ipvs-table.json"
        self.log_path = directory / "ipvsadm-calls.log"
        self.run_dir = directory / "run"
        # a copy in the test's own directory (pytest makes it 0700): as root, lvs.alert runs a
        # $IPVSADM only where nobody but root can change it (issue 19), which a checkout's
        # tests/ need not be
        # run by Debian's python3 (the one the installed programs use), not through whatever
        # "env python3" finds first (a pyenv shim costs a shell and 100 ms a call here)
        self.binary = directory / "fake_ipvsadm"
        shutil.copy(FAKE_IPVSADM, self.binary)
        if os.access(FAST_PYTHON, os.X_OK):
            text = self.binary.read_text()
            self.binary.write_text(text.replace("#!/usr/bin/env python3\n",
                                                f"#!{FAST_PYTHON}\n", 1))
        self.env = dict(os.environ, IPVSADM=str(self.binary), FAKE_IPVSADM_TABLE=str(self.table_path),
                        FAKE_IPVSADM_LOG=str(self.log_path), LVS_COMPAT_RUN_DIR=str(self.run_dir))

    def ipvsadm(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(self.env, FAKE_IPVSADM_LOG="")  # setup calls are not the code under test
        return subprocess.run([str(self.binary), *args], env=env, capture_output=True, text=True, check=False)

    def setup(self, *commands: str) -> None:
        for command in commands:
            result = self.ipvsadm(*command.split())
            assert result.returncode == 0, result.stderr

    def saved(self) -> str:
        return self.ipvsadm("-S", "-n").stdout

    def table(self) -> dict[str, dict[str, tuple[str, int]]]:
        from lvs_compat.ipvs import parse_saved_table

        return parse_saved_table(self.saved()).summary()

    def calls(self) -> list[list[str]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def commands(self) -> list[list[str]]:
        """What was asked of ipvsadm: the calls, with each line of an ``ipvsadm -R`` batch as
        an argv list of its own in place of the -R call."""
        return restored_commands(self.calls())


def restored_commands(calls: list[list[str]]) -> list[list[str]]:
    return [command for call in calls
            for command in ([line.split() for line in call[1:]] if call[:1] == ["-R"] else [call])]


@pytest.fixture
def fake(tmp_path) -> FakeIpvsadm:
    return FakeIpvsadm(tmp_path)


def run_alert(args: list[str], env: dict[str, str], stdin: bytes = b"summary line\n",
              **kwargs) -> subprocess.CompletedProcess:
    """Run alert.d/lvs.alert as mon does: argv, the monitor output on stdin."""
    return subprocess.run([*INSTALLED_PYTHON, str(ALERT), *args], env=env, input=stdin,
                          capture_output=True, check=False, **kwargs)


def run_with_recorder(command: list[str], directory: Path) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run ``command`` in a private mount namespace where /sbin/ipvsadm (a
    symlink into /usr/sbin) is a recorder: the seed hard-codes that path, so
    PATH tricks cannot intercept it (../shared/reference/mon/SPEC.md §5)."""
    log = directory / "recorded-calls.jsonl"
    recorder = directory / "recorder"
    recorder.write_text(textwrap.dedent(f"""\
        #!/usr/bin/python3 -I
        import json, sys
        with open({str(log)!r}, "a") as log:
            log.write(json.dumps(sys.argv[1:]) + "\\n")
        """))
    recorder.chmod(0o755)
    log.write_text("")
    script = 'mount --bind "$1" /usr/sbin/ipvsadm && shift && exec "$@"'
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                             str(recorder), *command],
                            capture_output=True, check=False, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, LVS_COMPAT_RUN_DIR=str(directory / "run")))
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return result, calls


def run_resource(args: list[str], fake: FakeIpvsadm) -> tuple[subprocess.CompletedProcess, str]:
    """Run ha.d/resource.d/lvs against the FAKE ipvsadm, with the IPv4/IPv6
    forwarding knobs it turns on replaced by files in a private mount
    namespace; returns the result and what was written to the IPv4 knob."""
    knobs = {"/proc/sys/net/ipv4/ip_forward": fake.directory / "ip_forward",
             "/proc/sys/net/ipv6/conf/all/forwarding": fake.directory / "ipv6_forwarding"}
    for knob in knobs.values():
        if not knob.exists():
            knob.write_text("0\n")
    script = " && ".join(f'mount --bind "{copy}" "{real}"' for real, copy in knobs.items()) + ' && exec "$@"'
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                             sys.executable, str(RESOURCE), *args],  # it reads mon.cf: needs pyparsing
                            env=fake.env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    return result, knobs["/proc/sys/net/ipv4/ip_forward"].read_text().strip()
