"""The chaos soak's short version (issue 8, items 1 and 5): two rounds of every fault kind but
kill on two of our directors and a client, through ``soak/run.py`` exactly as ``make soak`` runs
it (in the tools/ipvs-vm guest where this kernel has no ``tc netem``).

The soak's own verdict is checked, and the record behind it: every kind of fault was injected,
there was calm time to judge, exactly one director held the VIP and the client was answered
outside the allowed windows, every window with two holders ended with the winner re-announcing
the VIP, both daemons stopped on ``heartbeat -k``, and nothing was left behind (processes,
namespaces, addresses, descriptors) in the guest or here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from heartbeat_lab import have_lab

REPO = Path(__file__).resolve().parent.parent
SOAK = REPO / "soak" / "run.py"
# The run itself (tests/background_guests.py: started by conftest.py at the first test, beside
# the host tests): two of soak/plan.py's rounds of every kind of fault but kill (the second
# judges leaks); seed 2544's first round is among the shortest (about 72 s) that freezes the
# holder and partitions it, each longer than deadtime; the two take 150-170 s, more under load
# (``--rounds``: the soak ends when they have run, however long that takes).  kill is left to
# `make soak` for now: under the guest's emulation
# our restarted daemon takes about 5 s to start, so the failback it triggers (0.4 s without a
# holder, inside the 0.5 s the issue allows a failback) can land just past deadtime + 1 s after
# the restart, and the judge counts it; seed 966 with kill failed that way in 1 of 3 fresh runs
# (issue 13, item 3).

pytestmark = pytest.mark.skipif(have_lab() is not None, reason=str(have_lab()))


def run_soak(tmp_path, *options, seed, rounds, kinds):
    result = subprocess.run([sys.executable, str(SOAK), "--rounds", rounds, "--seed", str(seed),
                             "--kinds", kinds,
                             "--out", str(tmp_path), *options], capture_output=True, text=True,
                            timeout=1900, check=False)
    record_path = tmp_path / "soak.json"
    assert record_path.exists(), f"no record; exit {result.returncode}\n{result.stdout[-4000:]}" \
                                 f"\n{result.stderr[-2000:]}"
    return result, json.loads(record_path.read_text()), result.stdout[-5000:]


def assert_every_fault_ran_and_nothing_was_left(record, summary):
    report = record["report"]
    assert sorted(report["faults_by_kind"]) == sorted(record["config"]["kinds"]), summary
    assert report["sampled_s"] > 75, summary
    assert report["outside_s"] > 12, summary
    assert record["problems"] == [], summary     # no daemon died by itself, every -r worked
    assert record["stopped_gracefully"] == {"dira": True, "dirb": True}, summary
    assert record["leftovers"] == {"processes": [], "namespaces": [], "addresses": [],
                                   "own_fds": 0, "threads": 0}, summary
    assert record["survivor_same_process"], summary
    # a leak is judged from the end of the first round (every code path run once) to the end
    # of the second: growth before that is one-time (soak/run.py, leak_growth)
    assert record["rounds_completed"] >= 2, summary
    assert record["survivor_leak_growth"] is not None, summary
    assert record["survivor_leak_growth"] <= 0.10, summary
    assert record["clean"], summary


@pytest.mark.guest
def test_two_rounds_of_chaos_keep_one_vip_holder_and_leave_nothing_behind(soak_run, run_pids):
    record_path = soak_run.base / "out" / "soak.json"
    assert record_path.exists(), (f"no record; exit {soak_run.returncode}\n"
                                  f"{soak_run.stdout()[-4000:]}\n{soak_run.stderr()[-2000:]}")
    record, summary = json.loads(record_path.read_text()), soak_run.stdout()[-5000:]
    report = record["report"]
    assert_every_fault_ran_and_nothing_was_left(record, summary)
    assert report["outside_not_one"] == [] and report["unanswered_outside"] == [], summary
    assert all(window["arp_resent"] for window in report["dual_windows"]), summary
    assert record["goal_met"] and soak_run.returncode == 0, summary

    # nothing left here either: the lab tests and the second lane's running meanwhile make
    # namespaces of their own (their names carry the pid of their pytest process: run_pids);
    # no other guest runs meanwhile
    before, after = soak_run.before, soak_run.after
    assert {name for name in after["netns"] - before["netns"]
            if not any(pid in name for pid in run_pids)} == set()
    assert after["jobs"] == before["jobs"]
    assert set(after["qemus"]) - set(before["qemus"]) == set()


@pytest.mark.guest
@pytest.mark.slow      # 3.5 min; `make test-slow` (or `make soak SOAK_PEER=c`), not make test
def test_a_half_migrated_pair_survives_the_chaos_but_the_c_node_never_re_announces(tmp_path):
    # The home director runs Debian's 3.0.6, the backup ours.  The goal is not asserted: the
    # C node's slow shell scripts and self-restarts make its windows longer than deadtime + 1 s
    # now and then, and after a window with two holders it keeps the VIP without a gratuitous
    # ARP, so clients lose answers (README, Reliability).  What must hold: every fault ran,
    # both daemons stopped on -k, nothing was left, ours did not leak, and that C behaviour.
    # every kind, kill included: seed 1, two rounds (3.2 min)
    result, record, summary = run_soak(tmp_path, "--peer", "c", seed=1, rounds="2",
                                       kinds="kill,freeze,link-one,link-all,netem,reload")
    report = record["report"]
    assert_every_fault_ran_and_nothing_was_left(record, summary)
    assert record["daemons_before"]["dira"]["kind"] == "c", summary
    c_won = [window for window in report["dual_windows"] if window["winner"] == "dira"]
    assert c_won and not any(window["arp_resent"] for window in c_won), summary
    assert result.returncode == (0 if record["goal_met"] else 1), summary


@pytest.mark.parametrize("argv, complaint", [
    (["--kinds", "kill,explode"], "--kinds: unknown explode"),
    (["--minutes", "0"], "--minutes must be more than 0"),
    (["--rounds", "0"], "--rounds must be 1..100"),
    (["--deadtime", "4", "--keepalive", "3"], "--keepalive"),
    (["--where", "mars"], "--where"),
])
def test_bad_soak_options_are_one_line_errors_with_exit_2(argv, complaint, tmp_path):
    result = subprocess.run([sys.executable, str(SOAK), *argv, "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert complaint in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "soak.json").exists()
