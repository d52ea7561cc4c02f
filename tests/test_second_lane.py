"""make test's second lane (tests/second_lane.py): its verdict fails the run on a failed, an
errored or a missing test, and it runs exactly the tests it was given."""

from __future__ import annotations

import time

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
    assert lane.wait() == 0
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
    assert not ok and "2 of 4 passed" in line


def test_make_test_asks_for_the_lane_and_a_selection_turns_it_off():
    class Option:
        keyword = ""
        markexpr = "not slow"

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
        os.environ[second_lane.ENV] = "child"
        assert not second_lane.wanted(Config())
    finally:
        if before is None:
            os.environ.pop(second_lane.ENV, None)
        else:
            os.environ[second_lane.ENV] = before


def test_a_lane_started_from_a_trigger_thread_outlives_that_thread(tmp_path):
    """The trigger thread forks the lane; SIGTERM-with-parent follows the forking thread, so
    the thread must live as long as the lane (a first version lost every lane test to it)."""
    import threading
    lane = lane_over(tmp_path, "2")
    trigger = threading.Event()
    lane.start_after(trigger.wait)
    trigger.set()
    deadline = time.monotonic() + 30
    while lane.started_at is None:        # started by the thread, not by wait() below
        assert time.monotonic() < deadline, "the trigger thread did not start the lane"
        time.sleep(0.01)
    assert lane.wait() == 0, lane.output()
    assert lane.verdict()[0]
