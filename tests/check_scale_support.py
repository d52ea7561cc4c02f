"""Large but realistic configurations for `lvs-compat check` at scale (issue 21, item 5).

Shared by tests/test_check_scale.py (the summary is right at scale) and bench/check_scale.py
(how long the check takes, and that the time grows linearly).

* ``mon_cf_text(n)``: the seed's mon.cf (../shared/seed/examples/mon.cf) with ``n`` hostgroups,
  one real server each, and one watch per hostgroup whose http service carries the seed's four
  alert lines: mail.alert and lvs.alert, each as alert and upalert.  The real servers spread over
  ten virtual services, so every watch implies two IPVS entries (``-d`` on alert, ``-a`` on
  upalert).
* ``ha_dir(directory, groups)``: ha.cf for two nodes, an authkeys, and a haresources with
  ``groups`` resource groups, alternately preferring each node, each ``IPaddr::VIP/24/eth0``
  followed by two script resources (``lvs`` with an argument, and ``group<N>``).
"""

from __future__ import annotations

from pathlib import Path

VIRTUAL_SERVICES = 10
NODES = ("lvs1.domain.com", "lvs2.domain.com")


def real_server(index: int) -> str:
    return f"192.168.{index // 250}.{index % 250 + 1}"


def virtual_service(index: int) -> str:
    return f"10.0.0.{index % VIRTUAL_SERVICES + 1}:80"


def mon_cf_text(hostgroups: int) -> str:
    parts = [
        "cfbasedir   = /etc/mon\n"
        "alertdir   = /usr/lib/mon/alert.d\n"
        "mondir     = /usr/lib/mon/mon.d\n"
        "maxprocs    = 20\n"
        "histlength = 100\n"
        "randstart = 30s\n\n"
    ]
    parts.extend(f"hostgroup www{n} www{n}.domain.com\n" for n in range(hostgroups))
    for n in range(hostgroups):
        lvs = f"-P tcp -V {virtual_service(n)} -R {real_server(n)} -W 5 -F dr"
        parts.append(
            f"\n#\n# Web server {n}\n#\nwatch www{n}\n"
            "    service http\n"
            "\tinterval 10s\n"
            "\tmonitor http.monitor\n"
            "\tperiod wd {Sun-Sat}\n"
            "\t    alert mail.alert wensong\n"
            "\t    upalert mail.alert wensong\n"
            f"\t    alert lvs.alert {lvs}\n"
            f"\t    upalert lvs.alert {lvs}\n"
        )
    return "".join(parts)


def vip(index: int) -> str:
    return f"10.1.{index // 250}.{index % 250 + 1}"


def haresources_text(groups: int) -> str:
    return "".join(f"{NODES[n % 2]} IPaddr::{vip(n)}/24/eth0 lvs::group{n} group{n}\n"
                   for n in range(groups))


def continued_haresources_text(lines: int) -> str:
    """One resource group continued with a backslash over ``lines`` more lines, one script
    resource on each."""
    return (f"{NODES[0]} IPaddr::{vip(0)}/24/eth0 \\\n"
            + "".join(f"    script{n} \\\n" for n in range(lines)) + "    last\n")


def ha_cf_text() -> str:
    return ("keepalive 2\ndeadtime 10\nwarntime 5\ninitdead 20\nudpport 694\nbcast eth0\n"
            "auto_failback on\n" + "".join(f"node {node}\n" for node in NODES))


def ha_dir(directory: Path, groups: int, continued_lines: int | None = None) -> Path:
    """``groups`` groups, or with ``continued_lines`` one group over that many lines."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(ha_cf_text())
    (directory / "haresources").write_text(
        haresources_text(groups) if continued_lines is None else continued_haresources_text(continued_lines))
    authkeys = directory / "authkeys"
    authkeys.write_text("auth 1\n1 sha1 secret\n")
    authkeys.chmod(0o600)
    return directory
