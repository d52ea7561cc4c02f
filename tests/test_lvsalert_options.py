"""lvs.alert's command line: the seed's Getopt::Std rules, validated values."""

import re

import pytest

from conftest import SHARED
from lvs_compat.lvsalert.options import UsageError, parse_argv, seed_ipvsadm_argv

DRYRUN_LOG = SHARED / "reference/mon/traces/lvs-alert-dryrun/ipvsadm-calls.log"


def recorded_seed_cases():
    """(alert argv, ipvsadm argv) pairs recorded from the seed's Perl script."""
    lines = DRYRUN_LOG.read_text().splitlines()
    cases = []
    for case_line, call_line in zip(lines[0::3], lines[1::3]):
        alert_argv = case_line.split(": lvs.alert ", 1)[1].split()
        cases.append((alert_argv, re.findall(r"\[([^\]]*)\]", call_line)))
    return cases


def test_the_reference_log_has_every_seed_case():
    assert len(recorded_seed_cases()) == 8


@pytest.mark.parametrize("alert_argv, ipvsadm_argv", recorded_seed_cases())
def test_same_ipvsadm_arguments_as_the_seed_script(alert_argv, ipvsadm_argv):
    assert seed_ipvsadm_argv(parse_argv(alert_argv)) == ipvsadm_argv


def test_mon_arguments_and_clustered_flags_follow_getopt_std():
    request = parse_argv(["-s", "http", "-gwww1", "-h", "a b", "-t", "1", "-u",
                          "-Ptcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1:8080", "-W", "0"])
    assert (request.service, request.group, request.hosts, request.up) == ("http", "www1", "a b", True)
    assert str(request.real_server) == "192.168.0.1:8080"
    assert request.weight == 0 and request.forwarding == "gate"


def test_ipv6_endpoints_are_bracketed_and_the_real_server_gets_the_service_port():
    # ipvsadm 1.31 refuses "-r [2001:db8::2]" ("illegal real server address[:port]
    # specified", seen on a real kernel), while for IPv4 it takes the service's port.
    request = parse_argv(["-P", "udp", "-V", "[2001:DB8::1]:53", "-R", "[2001:db8::2]", "-F", "masq"])
    assert seed_ipvsadm_argv(request) == ["-d", "-u", "[2001:db8::1]:53", "-r", "[2001:db8::2]:53"]


def test_opt_in_extras_are_off_unless_asked_for():
    plain = parse_argv(["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5"])
    assert (plain.quiesce, plain.create_service, plain.scheduler, plain.syslog_facility) == (
        False, False, "wlc", "daemon")
    extras = parse_argv(["-QB", "-S", "rr", "-L", "local3", "-P", "tcp", "-V", "10.0.0.3:80", "-R",
                         "192.168.0.1", "-W", "5"])
    assert (extras.quiesce, extras.create_service, extras.scheduler, extras.syslog_facility) == (
        True, True, "rr", "local3")


@pytest.mark.parametrize("flag, event", [("-T", "trap"), ("-O", "traptimeout"), ("-a", "ack"),
                                         ("-D", "disable"), ("-u", "up")])
def test_mon_event_flags_are_accepted(flag, event):
    request = parse_argv(["-s", "http", "-g", "www1", "-h", "www1", "-t", "1700000000", flag,
                          "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5"])
    assert request.event == event and request.up == (flag == "-u")
    assert request.event_time == 1700000000


@pytest.mark.parametrize("argv, option", [
    (["-P", "TCP", "-V", "10.0.0.3:80", "-R", "192.168.0.1"], "P"),
    (["-V", "10.0.0.3:80", "-R", "192.168.0.1"], "P"),
    (["-P", "tcp", "-V", "10.0.0.3", "-R", "192.168.0.1"], "V"),
    (["-P", "tcp", "-V", "10.0.0.3:0", "-R", "192.168.0.1"], "V"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.9;touch /tmp/x"], "R"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "$(reboot)"], "R"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "[2001:db8::2]"], "R"),
    (["-u", "-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1"], "W"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "65536"], "W"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5;ls"], "W"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-F", "routed"], "F"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-x"], "x"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R"], "R"),
    (["-P", "tcp", "-V", "010.0.0.3:80", "-R", "192.168.0.1"], "V"),
    (["-P", "tcp", "-V", "[2001:db8::1%eth0]:80", "-R", "[2001:db8::2]"], "V"),
    (["-P", "tcp", "-V", "10.0.0.3:８0", "-R", "192.168.0.1"], "V"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "５"], "W"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-S", "nosuch"], "S"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-L", "kernel;ls"], "L"),
    (["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-t", "now"], "t"),
])
def test_bad_values_are_refused_naming_the_option(argv, option):
    with pytest.raises(UsageError) as caught:
        parse_argv(argv)
    assert caught.value.option == option
    assert str(caught.value).startswith(f"-{option}: ")
