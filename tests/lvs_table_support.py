"""A large IPVS table for the ``lvs`` resource (issue 21, item 3): N virtual services of M real
servers, as the mon.cf our resource script reads and as the seed's init script would spell it.

Shared by tests/test_lvs_alert_resource.py (FAKE ipvsadm), tests/ipvs_vm_support.py (the real
table in the guest, ours against the seed's script) and bench/lvs_table.py (the same, timed).

* ``mon_cf_text(services, servers)``: the seed's mon.cf pattern scaled up: one hostgroup and one
  watch per real server, whose http service carries the seed's ``alert``/``upalert lvs.alert``
  lines (``-P tcp -V VIP:80 -R RIP -W 5 -F dr``).
* ``seed_script_text(...)``: the seed's /etc/rc.d/init.d/lvs (examples/seed/lvs.init)
  with its three ipvsadm lines replaced by one ``$IPVSADM -A -t VIP`` per service and one
  ``$IPVSADM -a -t VIP -r RIP -w 5 -g`` per real server, in the same order: one process each.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The seed's script, copied verbatim (the guest sees only the checkout); test_lvs_alert_resource.py
# checks the copy against ../shared.
SEED_SCRIPT = REPO / "examples" / "seed" / "lvs.init"
SHARED_SEED_SCRIPT = REPO.parent / "shared" / "seed" / "examples" / "lvs.init"
SEED_LINES = ("\t    $IPVSADM -A -t 10.0.0.3:80\n",
              "\t    $IPVSADM -a -t 10.0.0.3:80 -r 192.168.0.1 -w 5 -g\n",
              "\t    $IPVSADM -a -t 10.0.0.3:80 -r 192.168.0.2 -w 5 -g\n")


def virtual_service(index: int) -> str:
    return f"10.{index // 250 + 10}.{index % 250}.1:80"


def real_server(service: int, index: int) -> str:
    return f"192.168.{service % 250}.{index + 1}"


def entries(services: int, servers: int):
    """(virtual service, [real servers]) in the order both build them."""
    return [(virtual_service(s), [real_server(s, r) for r in range(servers)]) for s in range(services)]


def mon_cf_text(services: int, servers: int) -> str:
    parts = ["alertdir = /usr/lib/mon/alert.d\nmondir = /usr/lib/mon/mon.d\nmaxprocs = 20\n\n"]
    table = entries(services, servers)
    parts.extend(f"hostgroup www{s}-{r} {server}\n" for s, (_, real) in enumerate(table)
                 for r, server in enumerate(real))
    for s, (vip, real) in enumerate(table):
        for r, server in enumerate(real):
            lvs = f"-P tcp -V {vip} -R {server} -W 5 -F dr"
            parts.append(f"\nwatch www{s}-{r}\n    service http\n\tinterval 10s\n\tmonitor http.monitor\n"
                         f"\tperiod wd {{Sun-Sat}}\n\t    alert lvs.alert {lvs}\n\t    upalert lvs.alert {lvs}\n")
    return "".join(parts)


def seed_script_text(services: int, servers: int) -> str:
    seed = SEED_SCRIPT.read_text()
    lines = []
    for vip, real in entries(services, servers):
        lines.append(f"\t    $IPVSADM -A -t {vip}\n")
        lines.extend(f"\t    $IPVSADM -a -t {vip} -r {server} -w 5 -g\n" for server in real)
    block = "".join(SEED_LINES)
    assert block in seed, "the seed's lvs.init changed"
    return seed.replace(block, "".join(lines))


def expected_summary(services: int, servers: int) -> dict[str, dict[str, tuple[str, int]]]:
    """``IpvsTable.summary()`` of the table both build."""
    return {f"tcp {vip}": {f"{server}:80": ("gate", 5) for server in real}
            for vip, real in entries(services, servers)}
