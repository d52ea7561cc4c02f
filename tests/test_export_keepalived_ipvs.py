"""`lvs-compat export keepalived` against REAL IPVS: keepalived 2.2.7 started with the exported
keepalived.conf of the seed builds the same IPVS table (`ipvsadm -L -n`, `-S -n`) as our `lvs`
resource builds from the same mon.cf, once its HTTP_GET checks have passed; its VRRP instance
takes the VIP; stopped, it leaves the table as it found it.

No boot of its own: the last step of the real-IPVS scenario's guest run
(tests/ipvs_vm_support.py -> tests/ipvs_vm_keepalived.py, one boot shared with
tests/test_ipvs_real.py, started by conftest.py at the first test).
"""

from __future__ import annotations

import pytest

from test_ipvs_real import record  # noqa: F401 - the scenario's record, one boot for both modules

pytestmark = pytest.mark.guest
SEED_VIRTUAL_SERVICE = ("TCP", "10.0.0.3:80", "wlc")


def normalized_listing(listed: str) -> dict[tuple[str, ...], list[tuple[str, str, str]]]:
    """``ipvsadm -L -n`` as {service line's words: sorted (real server, forward, weight)}: the
    connection counters dropped, real servers in address order (the two tools may add them in
    different orders)."""
    table: dict[tuple[str, ...], list[tuple[str, str, str]]] = {}
    service = None
    for line in listed.splitlines():
        words = line.split()
        if not words or words[0] in ("IP", "Prot") or words[:2] == ["->", "RemoteAddress:Port"]:
            continue
        if words[0] == "->":
            table[service].append(tuple(words[1:4]))
        else:
            service = tuple(words)
            table[service] = []
    return {key: sorted(servers) for key, servers in table.items()}


def saved_lines(saved: str) -> list[str]:
    return sorted(line for line in saved.splitlines() if line.strip())


@pytest.fixture(scope="module")
def keepalived(record):  # noqa: F811 - pytest injects the imported fixture
    run = record["keepalived"]
    assert "error" not in run, run.get("error")
    assert run["export"]["rc"] == 0, run["export"]["stderr"]
    assert run["links"] == [], run["links"]
    assert "virtual_server 10.0.0.3 80 {" in run["export"]["text"]
    print(f"keepalived in the real-IPVS guest: {run.get('elapsed_s')} s, checks passed after "
          f"{run.get('checks_passed_after_s')} s, VIP after {run.get('vip_after_s')} s more")
    return run


def test_normalized_listing_drops_counters_and_orders_real_servers():
    listed = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
              "TCP  10.0.0.3:80 wlc\n  -> 192.168.0.2:80               Route   5      3          1\n"
              "  -> 192.168.0.1:80               Masq    1      0          0\n"
              "UDP  10.0.0.9:53 rr persistent 300\n")
    assert normalized_listing(listed) == {
        SEED_VIRTUAL_SERVICE: [("192.168.0.1:80", "Masq", "1"), ("192.168.0.2:80", "Route", "5")],
        ("UDP", "10.0.0.9:53", "rr", "persistent", "300"): []}


def built(after: str, before: str) -> dict:
    """The services a tool added: the normalized listing ``after`` without the services that
    were there ``before`` (the scenario's foreign UDP service and, for keepalived, the IPv6 one
    lvs.alert -B created, which lvs stop leaves alone)."""
    old = normalized_listing(before)
    return {key: servers for key, servers in normalized_listing(after).items() if key not in old}


def test_keepalived_builds_the_table_lvs_builds_from_the_same_mon_cf(record, keepalived):  # noqa: F811
    assert keepalived["checks_passed_after_s"] is not None, keepalived["log"][-3000:]
    running = keepalived["running"]
    assert running["exited"] is None, keepalived["log"][-3000:]
    # ha.d/resource.d/lvs SEED_MON_CF start, on the same kernel, earlier in the same boot
    ours = built(record["start"]["listed"], record["status_before_start"]["listed"])
    theirs = built(running["listed"], keepalived["table_before"]["listed"])
    assert theirs == ours
    # not two empty tables: the seed's service, its scheduler, both real servers, DR, weight 5
    assert ours == {SEED_VIRTUAL_SERVICE: [("192.168.0.1:80", "Route", "5"),
                                           ("192.168.0.2:80", "Route", "5")]}
    # ipvsadm -S -n says the same (flags such as persistence would show there too)
    assert ([line for line in saved_lines(running["saved"]) if "10.0.0.3:80" in line]
            == [line for line in saved_lines(record["start"]["saved"]) if "10.0.0.3:80" in line])


def test_the_http_get_checks_reached_each_real_server_with_its_mon_host(keepalived):
    seen = {(request["server"], request["host"], request["path"]) for request in keepalived["requests"]}
    assert seen == {("192.168.0.1", "www1.domain.com", "/"), ("192.168.0.2", "www2.domain.com", "/")}
    for address in ("192.168.0.1", "192.168.0.2"):
        assert f"Remote Web server [{address}]:tcp:80 succeed on service." in keepalived["log"]


def test_the_vrrp_instance_takes_the_vip_on_eth0(keepalived):
    assert keepalived["vip_after_s"] is not None, keepalived["log"][-3000:]
    assert "(VI_51) Entering MASTER STATE" in keepalived["log"]
    assert " 10.0.0.3/32 " in keepalived["running"]["eth0"]


def test_stopped_keepalived_leaves_the_table_as_it_found_it(record, keepalived):  # noqa: F811
    assert keepalived["rc"] == 0, keepalived["log"][-3000:]
    before = keepalived["table_before"]
    assert before["saved"] == record["stop_again"]["saved"]   # what lvs stop left: the foreign service
    assert "10.0.0.9:53" in before["saved"]
    assert keepalived["stopped"]["saved"] == before["saved"]
    assert " 10.0.0.3/" not in keepalived["stopped"]["eth0"]
