"""Issue 14, item 2: the resource coordinator's machines, each with one home for its rules.

``groups`` holds the only stop-retry policy, ``standby`` the only way a standby is cancelled;
these tests drive the machines directly and fail if a second home comes back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lvs_compat.config.haresources import parse_haresources
from lvs_compat.heartbeat.events import (GroupStarted, GroupStopped, LocalProtocolError, Log,
                                         QueryGroupStatus, RebootNode, StartGroup, StatusResult,
                                         StopGroup)
from lvs_compat.heartbeat.groups import RUNNING, STOP_FAILED, STOPPED, STOPPING, Groups
from lvs_compat.heartbeat.resource_terms import LOCAL, NONE, CoordinatorOptions
from lvs_compat.heartbeat.standby import DONE, ME, NOT, Standby

PACKAGE = Path(__file__).resolve().parent.parent / "lvs_compat" / "heartbeat"
HARESOURCES = "lvs1 10.0.0.3 lvs mon\nlvs2 10.0.0.4 other\n"


def groups(**options) -> Groups:
    return Groups(parse_haresources(HARESOURCES), "lvs1", CoordinatorOptions(**options))


def running(g: Groups, key: str) -> None:
    out: list = []
    g.start(out, key)
    g.on_started(out, GroupStarted(key, True), 0, hand_over=True)
    assert out == [StartGroup(key)] and g.state(key) == RUNNING


def test_a_failed_stop_is_retried_then_checked_and_held_if_still_running():
    g = groups(stop_retry_max=2, stop_retry_interval_ms=1000, failed_stop_action="reboot")
    running(g, "10.0.0.3")
    out: list = []
    g.stop(out, "10.0.0.3")
    assert out == [StopGroup("10.0.0.3")] and g.state("10.0.0.3") == STOPPING
    for attempt_ms in (1000, 2000):
        out = []
        g.on_stopped(out, GroupStopped("10.0.0.3", False), attempt_ms - 1000)
        assert [a.text for a in out] == ["Retrying failed stop operation [10.0.0.3]"]
        assert g.deadlines() == [attempt_ms]
        g.retry_due_stops(out, attempt_ms - 1)
        assert StopGroup("10.0.0.3") not in out          # not before its time
        g.retry_due_stops(out, attempt_ms)
        assert out[-1] == StopGroup("10.0.0.3")
    out = []
    g.on_stopped(out, GroupStopped("10.0.0.3", False), 2000)
    assert out == [QueryGroupStatus("10.0.0.3")]
    out = []
    g.on_status(out, StatusResult("10.0.0.3", True))
    assert g.state("10.0.0.3") == STOP_FAILED and g.held_bits() == LOCAL
    assert out[-1] == RebootNode("failed stop of resource group 10.0.0.3")


def test_a_stop_that_fails_but_left_nothing_running_counts_as_stopped():
    g = groups(stop_retry_max=0)
    running(g, "10.0.0.4")
    out: list = []
    g.stop(out, "10.0.0.4")
    g.on_stopped(out, GroupStopped("10.0.0.4", False), 0)
    g.on_status(out, StatusResult("10.0.0.4", False))
    assert g.state("10.0.0.4") == STOPPED and g.held_bits() == NONE
    assert "Machine reboot narrowly avoided!" in [a.text for a in out if isinstance(a, Log)]


def test_a_start_asked_while_stopping_runs_when_the_stop_is_done():
    g = groups()
    running(g, "10.0.0.3")
    out: list = []
    g.stop(out, "10.0.0.3")
    g.start(out, "10.0.0.3")                    # waits for the stop
    assert out == [StopGroup("10.0.0.3")] and g.wanted_here("10.0.0.3")
    g.on_stopped(out, GroupStopped("10.0.0.3", True), 0)
    assert out[-1] == StartGroup("10.0.0.3")


def test_the_group_table_refuses_what_it_does_not_list():
    g = groups()
    g.start([], "10.0.0.3")
    with pytest.raises(LocalProtocolError):
        g._groups["10.0.0.3"].to("stopped")     # a starting group has no stop result


def test_cancel_ends_the_standby_and_hands_back_the_set_being_released():
    standby = Standby(host=None)                # cancel needs nothing of the coordinator
    standby.state, standby.deadline, standby.giving_up = DONE, 5000, LOCAL
    out: list = []
    assert standby.cancel(out, Log("info", "why")) == LOCAL
    assert (standby.state, standby.deadline, standby.giving_up) == (NOT, None, NONE)
    assert out == [Log("info", "why")] and not standby.pending
    standby.state = ME
    assert standby.cancel([]) == NONE and standby.state == NOT


def test_the_standby_table_has_no_message_trigger_for_a_cancel():
    with pytest.raises(LocalProtocolError):
        Standby(host=None).to("done from peer")


def _calls(tree: ast.AST, attribute: str):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == attribute):
            yield node


def _function_of(tree: ast.AST, target: ast.AST) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(n is target for n in ast.walk(node)):
            inner = _function_of(ast.Module(body=node.body, type_ignores=[]), target)
            return inner or node.name
    return None


def test_a_standby_is_cancelled_only_through_its_cancel_path():
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for call in _calls(tree, "to"):
            if call.args and isinstance(call.args[0], ast.Constant) and \
                    call.args[0].value == "cancel":
                found.append((path.stem, _function_of(tree, call)))
        for node in ast.walk(tree):           # nobody else drops the set being released
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for leaf in ast.walk(target):
                        if isinstance(leaf, ast.Attribute) and leaf.attr == "giving_up":
                            assert path.stem == "standby", ast.unparse(node)
    assert found == [("standby", "cancel")]


def test_the_stop_retry_policy_has_one_home_in_the_coordinator():
    users = set()
    for stem in ("resources", "groups", "standby", "takeover", "node"):
        path = PACKAGE / f"{stem}.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in (
                    "stop_retry_max", "stop_retry_interval_ms", "failed_stop_action"):
                users.add(path.stem)
    assert users == {"groups"}
