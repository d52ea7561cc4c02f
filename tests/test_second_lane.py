"""make test's second lane (tests/second_lane.py): its verdict fails the run on a failed, an
errored or a missing test, and it runs exactly the tests it was given."""

from __future__ import annotations

import time
from pathlib import Path

import second_lane

PYTEST_INI = """[pytest]
addopts = -p no:cacheprovider
markers =
    fuzz: x
    simulator: x
    slow: x
"""

MODULE = """import pytest
pytestmark = pytest.mark.fuzz

def test_one():
    assert 1 + 1 == 2

def test_two():
    assert {two} == 2

@pytest.mark.xfail(strict=True, reason="known")
def test_expected_to_fail():
    assert 1 == 2

def test_not_in_the_lane_is_slow():
    pass
test_not_in_the_lane_is_slow = pytest.mark.slow(test_not_in_the_lane_is_slow)
"""


def lane_over(tmp_path, two: str, nodeids=None) -> second_lane.Lane:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text(PYTEST_INI)
    (project / "test_mod.py").write_text(MODULE.format(two=two))
    base = tmp_path / "lane"
    base.mkdir()
    ids = nodeids or ["test_mod.py::test_one", "test_mod.py::test_two",
                      "test_mod.py::test_expected_to_fail"]
    return second_lane.Lane(ids, base, time.monotonic(), cwd=project)


def test_a_lane_whose_tests_all_pass_passes_and_says_how_many(tmp_path):
    lane = lane_over(tmp_path, "2")
    assert lane.pid is None
    assert lane.wait() == 0
    assert isinstance(lane.pid, int)      # conftest's run_pids: the lane names namespaces after it
    ok, line = lane.verdict()
    assert ok, line + "\n" + lane.output()
    assert "2 of 3 passed, 1 xfailed, exit 0" in line   # an expected failure is no skip


def test_a_failed_test_in_the_lane_fails_the_verdict(tmp_path):
    lane = lane_over(tmp_path, "3")
    assert lane.wait() == 1
    ok, line = lane.verdict()
    assert not ok and "1 of 3 passed" in line and "failures 1" in line


def test_a_lane_that_ran_fewer_tests_than_were_taken_from_the_main_run_fails(tmp_path):
    ids = ["test_mod.py::test_one", "test_mod.py::test_two", "test_mod.py::test_expected_to_fail",
           "test_mod.py::test_gone"]
    lane = lane_over(tmp_path, "2", nodeids=ids)
    assert lane.wait() == 0
    ok, line = lane.verdict()
    assert not ok and "2 of 4 passed" in line and "1 of the tests taken from the main run" in line


def test_make_test_asks_for_the_lane_and_a_selection_turns_it_off():
    class Option:
        keyword = ""
        markexpr = "not slow"
        collectonly = False

    class Config:
        option = Option()

    import os
    before = os.environ.get(second_lane.ENV)
    try:
        os.environ[second_lane.ENV] = "on"
        assert second_lane.wanted(Config())
        Config.option.keyword = "sim"
        assert not second_lane.wanted(Config())
        Config.option.keyword, Config.option.markexpr = "", "lab"
        assert not second_lane.wanted(Config())
        Config.option.markexpr = "not slow"
        Config.option.collectonly = True
        assert not second_lane.wanted(Config())
        Config.option.collectonly = False
        os.environ.pop(second_lane.ENV)        # the lane's own process
        assert not second_lane.wanted(Config())
    finally:
        if before is None:
            os.environ.pop(second_lane.ENV, None)
        else:
            os.environ[second_lane.ENV] = before


class Item:
    def __init__(self, module: str, *markers: str):
        self.path = Path("/repo/tests") / module
        self.markers = markers

    def get_closest_marker(self, name):
        return name if name in self.markers else None


def test_the_lanes_process_gets_no_lane_variable_and_yields_the_cpu(tmp_path, monkeypatch):
    """Resource scripts get every LVS_COMPAT_* knob of the daemon's environment: the lane's own
    variable must not reach the lane's tests (a first version failed the environment test).
    The lane runs at a lower priority than the lab and the guest chain."""
    import os
    niced = min(os.nice(0) + second_lane.LANE_NICE, 19)
    monkeypatch.setenv(second_lane.ENV, "on")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text(PYTEST_INI)
    (project / "test_env.py").write_text(
        "import os\n\ndef test_env():\n"
        f"    assert {second_lane.ENV!r} not in os.environ\n"
        f"    assert os.nice(0) == {niced}\n")
    base = tmp_path / "lane"
    base.mkdir()
    lane = second_lane.Lane(["test_env.py::test_env"], base, time.monotonic(), cwd=project)
    assert lane.wait() == 0, lane.output()
    assert lane.verdict()[0]


def test_the_lane_takes_whole_modules_of_host_tests_and_leaves_the_lab_and_guests():
    unit = [Item("test_unit.py"), Item("test_unit.py")]
    fuzz = [Item("test_fuzz.py", "fuzz")]
    lab = [Item("test_lab.py", "lab")]
    mixed = [Item("test_mixed.py"), Item("test_mixed.py", "lab")]    # one lab test keeps it all
    guest = [Item("test_guest.py", "guest")]
    lab_in_lane = [Item(name, "lab") for name in second_lane.LAB_IN_LANE]
    make = [Item(name) for name in second_lane.RUN_MAKE if name not in second_lane.LAB_IN_LANE]
    slow = [Item("test_slow.py", "slow")]       # deselected by -m "not slow" after this hook
    items = [*lab, *unit, *mixed, *fuzz, *lab_in_lane, *make, *guest, *slow]
    assert second_lane.lane_items(items) == [*unit, *fuzz, *lab_in_lane, *make]


def test_the_modules_that_run_make_go_to_the_lane_all_or_none():
    """make install and make deb rewrite build/ of this checkout: two processes must never run
    them at once, so a maker the lane cannot take (a guest test added to it, say) keeps every
    maker in the main process."""
    makers = [Item(name) for name in second_lane.RUN_MAKE]
    unit = [Item("test_unit.py")]
    assert second_lane.lane_items([*unit, *makers]) == [*unit, *makers]
    held = [*makers, Item(next(iter(second_lane.RUN_MAKE)), "guest")]
    assert second_lane.lane_items([*unit, *held]) == unit


def test_every_module_that_runs_make_in_the_checkout_is_listed():
    """RUN_MAKE is complete: any test module that runs make on this checkout (not a dry run)."""
    import re
    tests = Path(second_lane.__file__).resolve().parent
    running = set()
    for module in tests.glob("test_*.py"):
        if module.name == Path(__file__).name:      # this test's own pattern
            continue
        for call in re.findall(r'\[?"make",[^\n]*', module.read_text()):
            if '"-n"' not in call:
                running.add(module.name)
    assert running == set(second_lane.RUN_MAKE)
