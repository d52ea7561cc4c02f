"""lvs.alert's policy, pure: what a verdict does given the live table (no process, no ipvsadm)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lvs_compat.ipvs import parse_saved_table
from lvs_compat.lvsalert.options import UsageError, parse_argv
from lvs_compat.lvsalert.policy import first_attempt, plan

LINE = ["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5", "-F", "dr"]
SERVICE = "-A -t 10.0.0.3:80 -s wlc\n"


def table(text: str):
    return parse_saved_table(text)


def test_the_first_attempt_is_the_seeds_call():
    assert first_attempt(parse_argv(["-u", *LINE])).args == ["-a", "-t", "10.0.0.3:80", "-r", "192.168.0.1",
                                                              "-w", "5", "-g"]
    assert first_attempt(parse_argv(LINE)).args == ["-d", "-t", "10.0.0.3:80", "-r", "192.168.0.1"]
    assert first_attempt(parse_argv(["-Q", *LINE])).args == ["-e", "-t", "10.0.0.3:80", "-r", "192.168.0.1",
                                                              "-w", "0", "-g"]


@pytest.mark.parametrize("saved, argv, changes, note, explained", [
    # up, present with other weight/method: edit
    (SERVICE + "-a -t 10.0.0.3:80 -r 192.168.0.1:80 -m -w 1\n", ["-u", *LINE],
     [["-e", "-t", "10.0.0.3:80", "-r", "192.168.0.1", "-w", "5", "-g"]], "", True),
    # up, present and identical: nothing
    (SERVICE + "-a -t 10.0.0.3:80 -r 192.168.0.1:80 -g -w 5\n", ["-u", *LINE], [],
     "192.168.0.1 already in TCP 10.0.0.3:80 (weight 5, gate): nothing to change", True),
    # up, absent: the -a that failed should have worked -> ipvsadm's error stands
    (SERVICE, ["-u", *LINE], [], "", False),
    # up, no service, no -B
    ("", ["-u", *LINE], [], "TCP 10.0.0.3:80 is not in the table (-B creates it)", False),
    # up, no service, -B -S sh
    ("", ["-u", "-B", "-S", "sh", *LINE],
     [["-A", "-t", "10.0.0.3:80", "-s", "sh"], ["-a", "-t", "10.0.0.3:80", "-r", "192.168.0.1", "-w", "5", "-g"]],
     "", True),
    # down, absent
    (SERVICE, LINE, [], "192.168.0.1 already absent from TCP 10.0.0.3:80: nothing to remove", True),
    # down, no service
    ("", LINE, [], "192.168.0.1 already absent from the table (TCP 10.0.0.3:80 is not defined): nothing to remove",
     True),
    # down, present: the -d that failed should have worked
    (SERVICE + "-a -t 10.0.0.3:80 -r 192.168.0.1:80 -g -w 5\n", LINE, [], "", False),
    # a real server on another port is another server
    (SERVICE + "-a -t 10.0.0.3:80 -r 192.168.0.1:8080 -g -w 5\n", LINE, [],
     "192.168.0.1 already absent from TCP 10.0.0.3:80: nothing to remove", True),
    # the same address in another protocol's service does not count
    ("-A -u 10.0.0.3:80 -s wlc\n-a -u 10.0.0.3:80 -r 192.168.0.1:80 -g -w 5\n", ["-u", *LINE], [],
     "TCP 10.0.0.3:80 is not in the table (-B creates it)", False),
])
def test_plan_given_the_table(saved, argv, changes, note, explained):
    decision = plan(parse_argv(argv), table(saved))
    assert [change.args for change in decision.changes] == changes
    assert (decision.note, decision.explained) == (note, explained)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(option=st.sampled_from("PVRWFSLt"), value=TEXT)
def test_any_value_is_either_refused_by_name_or_safe_for_ipvsadm(option, value):
    args = {"P": "tcp", "V": "10.0.0.3:80", "R": "192.168.0.1", "W": "5", "F": "dr", "S": "wlc", "L": "daemon",
            "t": "1700000000"}
    args[option] = value
    argv = ["-u"] + [word for letter, text in args.items() for word in (f"-{letter}", text)]
    try:
        request = parse_argv(argv)
    except UsageError as error:
        assert error.option in (option, "")
        assert "\n" not in str(error).replace(repr(value), "")
        return
    allowed = set("0123456789abcdef.:[]-twurgmisA")
    for word in first_attempt(request).args:
        assert set(word) <= allowed, word
