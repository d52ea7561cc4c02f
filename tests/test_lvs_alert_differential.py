"""The seed's Perl lvs.alert and ours, same arguments, /sbin/ipvsadm replaced by a
recorder in a private mount namespace: the recorded ipvsadm calls must be equal.

The recorder exits 0 like a successful ipvsadm, so ours makes only its first
attempt, which is the seed's call (lvs_compat/lvsalert/policy.py).
"""

from __future__ import annotations

import pytest

from lvs_alert_support import ALERT, INSTALLED_PYTHON, MON_ARGS, SEED_ALERT, run_with_recorder

pytestmark = pytest.mark.interop

CASES = [
    # The eight recorded in ../shared/reference/mon/traces/lvs-alert-dryrun, and more.
    *[[*up, "-P", protocol, "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5", "-F", method]
      for protocol in ("tcp", "udp") for method in ("dr", "nat", "tun") for up in ([], ["-u"])],
    ["-u", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.3:8080", "-W", "0", "-F", "nat"],
    ["-u", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.3", "-W", "65535"],  # no -F: direct routing
    ["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.3"],  # a down needs no -W
    ["-uPtcp", "-V10.0.0.3:443", "-R", "192.168.0.4", "-W5", "-Fdr"],  # Getopt::Std clustering
    ["-P", "udp", "-V", "10.0.0.3:53", "-R", "192.168.0.4:53", "-W", "5", "--"],
    ["-T", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5"],  # mon's trap flag
    ["-O", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5"],  # trap timeout
    ["-P", "tcp", "-P", "udp", "-V", "10.0.0.3:80", "-R", "192.168.0.1"],  # the last repetition wins
]


def seed_calls(args, tmp_path):
    result, calls = run_with_recorder(["perl", str(SEED_ALERT), *MON_ARGS, *args], tmp_path / "seed")
    assert result.returncode == 0, result.stderr
    return calls


def our_calls(args, tmp_path):
    result, calls = run_with_recorder([*INSTALLED_PYTHON, str(ALERT), *MON_ARGS, *args], tmp_path / "ours")
    assert result.returncode == 0, result.stderr
    return calls


@pytest.fixture
def dirs(tmp_path):
    (tmp_path / "seed").mkdir()
    (tmp_path / "ours").mkdir()
    return tmp_path


@pytest.mark.parametrize("args", CASES, ids=[" ".join(case) for case in CASES])
def test_same_ipvsadm_calls_as_the_seed(args, dirs):
    expected = seed_calls(args, dirs)
    assert len(expected) == 1  # the seed makes exactly one call
    assert our_calls(args, dirs) == expected


def test_the_recorder_sees_the_seed_recorded_trace(dirs):
    """The namespace really intercepts the seed's hard-coded /sbin/ipvsadm (trace CASE 2)."""
    up = ["-u", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5", "-F", "dr"]
    assert seed_calls(up, dirs) == [["-a", "-t", "10.0.0.3:80", "-r", "192.168.0.1", "-w", "5", "-g"]]


METACHARACTER_VALUES = ["x;touch {marker}", "$(touch {marker})", "`touch {marker}`", "x|touch {marker}",
                        "x&&touch {marker}", "x\ntouch {marker}", "x>{marker}"]
OPTIONS = ["-s", "-g", "-h", "-t", "-l", "-P", "-V", "-R", "-W", "-F", "-S", "-L"]


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("value", METACHARACTER_VALUES)
def test_shell_metacharacters_in_any_argument_execute_nothing(option, value, dirs):
    marker = dirs / "executed"
    args = {"-s": "http", "-g": "www1", "-h": "www1", "-t": "1700000000", "-P": "tcp", "-V": "10.0.0.3:80",
            "-R": "192.168.0.1", "-W": "5", "-F": "dr"}
    args[option] = value.format(marker=marker)
    argv = [word for pair in args.items() for word in pair]
    for up in ([], ["-u"]):
        result, calls = run_with_recorder([*INSTALLED_PYTHON, str(ALERT), *up, *argv], dirs / "ours")
        assert not marker.exists()
        assert "Traceback" not in result.stderr.decode()
        if option in ("-s", "-g", "-h", "-l"):
            # Free text that mon fills in: accepted, and only ever one argv word.
            assert result.returncode == 0
            assert all(value.format(marker=marker) not in call for call in calls)
        else:
            assert result.returncode == 2 and calls == []
            assert result.stderr.decode().startswith(f"lvs.alert: {option}: ")


def test_the_seed_does_execute_what_ours_refuses(dirs):
    """Why the port exists: the seed pastes -R into a shell command (issue 3)."""
    marker = dirs / "executed-by-seed"
    args = ["-P", "tcp", "-V", "10.0.0.3:80", "-R", f"192.168.0.9;touch {marker}", "-W", "5"]
    seed_calls(args, dirs)
    assert marker.exists()
