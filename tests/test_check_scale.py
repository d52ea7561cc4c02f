"""`lvs-compat check` at scale (issue 21, item 5): the summary is still right, line for line.

The files are bench/check_scale.py's (tests/check_scale_support.py): 1,000 hostgroups and watches
with the seed's alert lines, 100 resource groups.  How long the check takes is the bench's
business; this asserts what it says.
"""

import json
import subprocess
import sys

import pytest

import check_scale_support as scale
from conftest import REPO

CHECK = [sys.executable, str(REPO / "bin" / "lvs-compat"), "check"]
WATCHES, GROUPS = 1000, 100


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("check-scale")
    mon_cf = directory / "mon.cf"
    mon_cf.write_text(scale.mon_cf_text(WATCHES))
    return mon_cf, scale.ha_dir(directory / "ha.d", GROUPS)


def run_check(*args):
    return subprocess.run([*CHECK, *map(str, args)], capture_output=True, text=True, timeout=120)


def section(out, first, stop):
    lines = out.splitlines()
    start = lines.index(first) + 1
    end = next(i for i in range(start, len(lines)) if lines[i] == stop or not lines[i].startswith("    "))
    return lines[start:end]


def test_a_thousand_watches_and_a_hundred_groups_are_summarized_one_line_each(big_files):
    mon_cf, ha_dir = big_files
    result = run_check("--mon-cf", mon_cf, "--ha-dir", ha_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # nothing to warn about in these files
    out = result.stdout

    assert section(out, "  hostgroups:", "  services:") == [
        f"    www{n}: www{n}.domain.com" for n in range(WATCHES)]
    services = [line for line in section(out, "  services:", "  IPVS entries implied by lvs.alert lines:")
                if not line.startswith("      ")]
    assert services == [f"    www{n}/http: every 10s, monitor http.monitor" for n in range(WATCHES)]

    expected_entries = []
    for n in range(WATCHES):
        vs, rs = scale.virtual_service(n), scale.real_server(n)
        expected_entries += [
            f"    www{n}/http alert removes TCP {vs} -> {rs} weight 5 (direct routing): ipvsadm -d -t {vs} -r {rs}",
            f"    www{n}/http upalert adds TCP {vs} -> {rs} weight 5 (direct routing): "
            f"ipvsadm -a -t {vs} -r {rs} -w 5 -g",
        ]
    assert section(out, "  IPVS entries implied by lvs.alert lines:", "") == expected_entries

    groups = section(out, "  resource groups (start order; stop is the reverse):", "")
    assert groups == [f"    {scale.NODES[n % 2]}: IPaddr {scale.vip(n)}/24/eth0 -> lvs group{n} -> group{n}"
                      for n in range(GROUPS)]
    story = out.split("What the cluster will do:\n", 1)[1].splitlines()
    takeovers = [line for line in story if "takes the group over" in line]
    assert takeovers == [
        f"  - If {scale.NODES[n % 2]} is silent for 10000 ms (deadtime), {scale.NODES[1 - n % 2]} takes the "
        f"group over and announces {scale.vip(n)} with gratuitous ARP." for n in range(GROUPS)]
    assert sum("lvs.alert runs `ipvsadm -d " in line for line in story) == WATCHES
    assert sum("lvs.alert runs `ipvsadm -a " in line for line in story) == WATCHES


def test_the_json_model_at_scale_has_every_hostgroup_watch_entry_and_group(big_files):
    mon_cf, ha_dir = big_files
    result = run_check("--mon-cf", mon_cf, "--ha-dir", ha_dir, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["valid"] is True
    assert [g["name"] for g in document["mon_cf"]["hostgroups"]] == [f"www{n}" for n in range(WATCHES)]
    assert [w["name"] for w in document["mon_cf"]["watches"]] == [f"www{n}" for n in range(WATCHES)]
    entries = document["ipvs_entries"]
    assert len(entries) == 2 * WATCHES
    assert {(e["alert_kind"], e["real_server"]) for e in entries} == {
        (kind, scale.real_server(n)) for n in range(WATCHES) for kind in ("alert", "upalert")}
    assert len({e["virtual_service"] for e in entries}) == scale.VIRTUAL_SERVICES
    assert len(document["ha"]["haresources"]["groups"]) == GROUPS
