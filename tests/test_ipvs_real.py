"""lvs.alert and the lvs resource script against a REAL IPVS table.

The host kernel has no IPVS, so one boot of Debian's stock kernel under QEMU
(tools/ipvs-vm: built on first use, cached in /var/cache/lvs-compat/ipvs-vm)
runs the whole scenario of tests/ipvs_vm_support.py with the real
/sbin/ipvsadm; the tests below judge its record, one step each.
"""

from __future__ import annotations

import json
import re

import pytest

import lvs_table_support
from ipvs_vm_support import SCENARIO_EXIT_STATUS, TABLE_SEED_SERVICES, TABLE_SERVERS, TABLE_SERVICES
from lvs_compat.ipvs import parse_saved_table

pytestmark = pytest.mark.guest
SEED_SERVICE = "tcp 10.0.0.3:80"
FOREIGN_SERVICE = "-A -u 10.0.0.9:53 -s rr"


@pytest.fixture(scope="module")
def record(ipvs_real_run):
    # one boot, started by conftest.py at the first test (tests/background_guests.py)
    run = ipvs_real_run
    assert run.returncode == SCENARIO_EXIT_STATUS, (
        f"tools/ipvs-vm exited {run.returncode} after {run.elapsed:.0f} s "
        f"(124 timeout, 125 VM failure; the scenario itself ends with {SCENARIO_EXIT_STATUS}):\n"
        f"{run.stderr()[-4000:]}")
    marker = "=== ipvs-vm scenario record ===\n"
    stdout = run.stdout()
    assert marker in stdout, stdout[-2000:] + run.stderr()[-2000:]
    print(f"real-IPVS scenario: one VM boot, {run.elapsed:.1f} s")
    return json.loads(stdout.split(marker, 1)[1])


def table(step) -> dict:
    return parse_saved_table(step["saved"]).summary()


def test_lvs_start_builds_the_table_from_the_seed_mon_cf(record):
    assert record["status_before_start"]["stdout"] == "stopped\n"
    assert record["status_before_start"]["rc"] == 3
    start = record["start"]
    assert start["rc"] == 0, start["stderr"]
    assert table(start)[SEED_SERVICE] == {"192.168.0.1:80": ("gate", 5), "192.168.0.2:80": ("gate", 5)}
    assert "TCP  10.0.0.3:80 wlc" in start["listed"]
    assert record["status_after_start"]["stdout"] == "running\n"
    assert record["status_after_start"]["rc"] == 0
    assert record["ip_forward"]["value"] == "1"


def test_lvs_start_twice_changes_nothing(record):
    again = record["start_again"]
    assert (again["rc"], again["stdout"]) == (0, "")
    assert again["saved"] == record["start"]["saved"]


def test_down_removes_the_server_from_ipvsadm_list(record):
    down = record["down"]
    assert down["rc"] == 0, down["stderr"]
    assert "192.168.0.1:80" not in down["listed"]
    assert "192.168.0.2:80" in down["listed"]
    assert table(down)[SEED_SERVICE] == {"192.168.0.2:80": ("gate", 5)}


def test_a_repeated_down_is_harmless(record):
    again = record["down_again"]
    assert again["rc"] == 0
    assert "already absent" in again["stderr"]
    assert again["saved"] == record["down"]["saved"]


def test_up_puts_the_server_back_with_its_weight_and_method(record):
    up = record["up"]
    assert up["rc"] == 0, up["stderr"]
    assert table(up)[SEED_SERVICE]["192.168.0.1:80"] == ("gate", 5)
    assert any(line.split()[:3] == ["->", "192.168.0.1:80", "Route"] and line.split()[3] == "5"
               for line in up["listed"].splitlines())


def test_a_repeated_up_is_harmless_and_a_changed_one_edits(record):
    again = record["up_again"]
    assert again["rc"] == 0 and "nothing to change" in again["stderr"]
    assert again["saved"] == record["up"]["saved"]
    edited = record["up_new_weight_nat"]
    assert edited["rc"] == 0, edited["stderr"]
    assert table(edited)[SEED_SERVICE]["192.168.0.1:80"] == ("masq", 9)


def test_quiesce_sets_weight_zero_and_up_restores_it(record):
    assert table(record["quiesce_down"])[SEED_SERVICE]["192.168.0.1:80"] == ("gate", 0)
    assert table(record["quiesce_up"])[SEED_SERVICE]["192.168.0.1:80"] == ("gate", 5)


def test_ipv6_service_is_created_on_request(record):
    step = record["ipv6_up_creating_service"]
    assert step["rc"] == 0, step["stderr"]
    assert table(step)["tcp [2001:db8::1]:80"] == {"[2001:db8::2]:80": ("ipip", 3)}
    assert "-A -t [2001:db8::1]:80 -s rr" in step["saved"]


def test_bad_input_changes_nothing_in_the_real_table(record):
    bad = record["bad_input"]
    assert bad["rc"] == 2
    assert bad["stderr"].startswith("lvs.alert: -R: ")
    assert bad["saved"] == record["ipv6_up_creating_service"]["saved"]


def test_ipvsadm_failure_is_reported_with_the_kernels_message(record):
    step = record["up_without_service"]
    assert step["rc"] == 1
    assert step["stderr"].splitlines()[-1].endswith("failed (exit 255): Service not defined")


def test_twenty_concurrent_alerts_leave_the_newest_verdict_per_server(record):
    concurrent = record["concurrent"]
    assert concurrent["errors"] == []
    newest = {}
    for when, server, up in sorted(concurrent["verdicts"]):
        newest[server] = up
    present = set(parse_saved_table(concurrent["saved"]).summary()[SEED_SERVICE])
    assert present == {f"{server}:80" for server, up in newest.items() if up}


def test_each_change_is_one_syslog_line_at_facility_daemon_or_the_chosen_one(record):
    lines = record["syslog"]["lines"]
    # <29> = daemon.notice; <157> = local3.notice (-L local3).
    header = r"\w{3} [ \d]\d \d\d:\d\d:\d\d lvs\.alert\[\d+\]: "
    assert re.fullmatch(f"<29>{header}failure www1/http: removed 192\\.168\\.0\\.1 from TCP 10\\.0\\.0\\.3:80",
                        lines[0]), lines[0]
    assert any(re.fullmatch(f"<157>{header}failure www1/http: quiesced 192\\.168\\.0\\.1 .*", line) for line in lines)
    assert all("\n" not in line for line in lines)


def test_lvs_stop_removes_what_it_built_and_nothing_else(record):
    stop = record["stop"]
    assert stop["rc"] == 0, stop["stderr"]
    assert SEED_SERVICE not in table(stop)
    assert FOREIGN_SERVICE in stop["saved"]
    assert record["status_after_stop"]["stdout"] == "stopped\n"
    assert record["stop_again"]["rc"] == 0


# --- a large table (issue 21, item 3): ours from mon.cf, the seed script's lines, the same table

def test_ours_builds_100_services_of_10_exactly_as_the_seed_script_does(record):
    ours, seed = record["table_ours"], record["table_seed_lines"]
    assert ours["rc"] == 0, ours["stderr"]
    assert (seed["rc"], seed["stderr"]) == (0, "")
    assert ours["listed"] == seed["listed"] and ours["saved"] == seed["saved"]
    assert table(ours) == lvs_table_support.expected_summary(TABLE_SERVICES, TABLE_SERVERS)
    assert len(ours["stdout"].splitlines()) == TABLE_SERVICES * (TABLE_SERVERS + 1)
    print(f"real IPVS, {TABLE_SERVICES} x {TABLE_SERVERS}: ours {ours['seconds']} s (start to complete "
          f"table, mon.cf of {TABLE_SERVICES * TABLE_SERVERS} watches read), the seed's lines as one "
          f"ipvsadm -R {seed['seconds']} s")


def test_the_seed_script_one_ipvsadm_per_entry_builds_the_same_services(record):
    script = record["table_seed_script"]
    assert (script["rc"], script["stderr"]) == (0, "")
    built = table(script)
    assert len(built) == TABLE_SEED_SERVICES
    assert built == {service: servers for service, servers in table(record["table_ours"]).items()
                     if service in built}
    print(f"the seed's script, {TABLE_SEED_SERVICES * (TABLE_SERVERS + 1)} ipvsadm processes: "
          f"{script['seconds']} s")


def test_a_line_the_real_kernel_refuses_in_the_batch_leaves_the_table_as_it_was(record):
    step = record["table_refused_line"]
    assert step["rc"] == 1
    assert step["stdout"] == ""
    # the real ipvsadm -R exits 0 here: the refused line was not its last
    assert step["stderr"] == (
        "lvs: 1 of 12 entries did not take, the first \"ipvsadm -a -t 10.10.0.1:80 -r 192.168.0.2:80 "
        f"-w 5 -g\" (line 5 of the -R batch): {step['argv'][-2].rsplit('/', 1)[0]}/ipvsadm -R exited 0: "
        "Destination already exists; undone: the table is as it was before start\n")
    assert step["saved"] == FOREIGN_SERVICE + "\n"
