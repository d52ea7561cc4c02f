"""Issue 15, items 1 and 5: the single-file heartbeat (``make dropins``) copied alone, in a
cluster.

* Two of ours in the namespace lab, one of them the copied file (``Node.heartbeat``), started
  as an operator does (it daemonizes): they see each other active, it restarts itself on a
  changed ha.cf and -r, sees the other die on kill -9, and stops on -k.
* A mixed pair as an operator half-way through a migration has it: one director runs Debian's
  heartbeat 3.0.6, the other the copied file put over /usr/libexec/heartbeat/heartbeat inside
  its own mount namespace, started by that path with no option at all (so /etc/ha.d,
  /var/lib/heartbeat, /run/heartbeat and ``uname -n``, as the C daemon).  On both, Debian's own
  /usr/bin/cl_status (left as it is: there is no drop-in of ours for it) asks the daemon
  through the client API at /run/heartbeat/register.  Each is the home of one group (a VIP and the seed's lvs and mon, recording scripts).
  Both see each other active, each holds its own group; kill -9 of the C node moves its group
  to ours, and the client's ARP entry follows.

Timers: keepalive 500 ms, deadtime 2 s, initdead 4 s (as tests/test_heartbeat_takeover_interop.py).
"""

from pathlib import Path

import pytest

from dropin_support import built, copy_alone  # noqa: F401 (fixture)
from heartbeat_lab import C_CL_STATUS, C_HEARTBEAT, SUBNET, Lab, ha_cf, have_c_heartbeat, have_lab, wait_for
from heartbeat_takeover_support import VIP, VIP2, TakeoverLab, install_recorders, records, rscstatus, wait_records

pytestmark = [pytest.mark.lab]

DEADTIME_S = 2.0
BONUS_S = 2.0          # dt is deadtime + 2 s during a node's first 5 s (SPEC §1d)
INITDEAD_S = 4.0
RQSTDELAY_S = 10.0     # the C node's, compiled in
TIMERS = dict(keepalive="500ms", deadtime="2", warntime="1", initdead="4")


def status(node, name):
    return node.cl_status("nodestatus", name).stdout.strip()


@pytest.fixture
def pair(tmp_path):
    lab = Lab(tmp_path, names=("nodea", "nodeb"))
    try:
        yield lab.open()
    finally:
        lab.close()


@pytest.mark.skipif(have_lab() is not None, reason=str(have_lab()))
def test_a_copied_single_file_heartbeat_joins_ours_restarts_and_sees_it_die(pair, built, tmp_path):
    tree_node, copied = pair.nodes
    copied.heartbeat = copy_alone(built, "bin/heartbeat", tmp_path / "libexec")
    for node in pair.nodes:
        node.write_config(ha_cf([n.name for n in pair.nodes], media="bcast hb0", **TIMERS))
    tree_node.start()
    pid = copied.start_daemon()        # as an operator starts it: it daemonizes
    assert str(copied.heartbeat).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    both_active = lambda: status(tree_node, copied.name) == "active" and status(copied, tree_node.name) == "active"  # noqa: E731
    wait_for(both_active, INITDEAD_S + 6, 0.1, f"both to see each other active\n{copied.log()}")
    assert copied.ctl("-s").stdout.startswith(f"heartbeat OK [pid {pid} et al]")

    # a changed ha.cf and -r: it re-executes itself (sys.orig_argv: the shebang's boot line)
    generation = int((copied.state / "hb_generation").read_text())
    (copied.etc / "ha.cf").write_text((copied.etc / "ha.cf").read_text() + "# edited\n")
    assert copied.ctl("-r").returncode == 0
    wait_for(lambda: (copied.state / "hb_generation").read_text().strip() == str(generation + 1),
             DEADTIME_S + BONUS_S + 2, 0.05, f"the restart\n{copied.log()}")
    wait_for(both_active, INITDEAD_S + 6, 0.1, f"both active after the restart\n{copied.log()}")
    assert copied.ctl("-s").stdout.startswith(f"heartbeat OK [pid {pid} et al]")

    tree_node.kill9()
    wait_for(lambda: status(copied, tree_node.name) == "dead", DEADTIME_S + BONUS_S + 2, 0.05,
             f"the copied node to declare {tree_node.name} dead\n{copied.log()}")
    assert copied.ctl("-k").returncode == 0
    assert copied.ctl("-s").returncode == 3


@pytest.fixture
def mixed(tmp_path):
    lab = TakeoverLab(tmp_path, names=("hbcnode", "ournode", "client"), kinds=("c", "c", "client"))
    try:
        yield lab.open()
    finally:
        lab.close()


@pytest.mark.interop
@pytest.mark.skipif(have_c_heartbeat() is not None, reason=str(have_c_heartbeat()))
def test_copied_heartbeat_over_debians_pairs_with_a_c_node_and_takes_its_group(mixed, built, tmp_path):
    lab = mixed
    c, ours = lab.members
    operator = tmp_path / "operator"   # what the operator copied from build/dropins
    placed = {C_HEARTBEAT: copy_alone(built, "bin/heartbeat", operator)}
    haresources = (f"{c.name} {VIP}/24/hb0/{SUBNET}.255 lvs mon\n"
                   f"{ours.name} {VIP2}/24/hb0/{SUBNET}.255 lvs::two mon::two\n")
    for node in (c, ours):
        node.write_config(ha_cf([c.name, ours.name], media="bcast hb0", **TIMERS), haresources=haresources)
        install_recorders(node)
    c.start_c()
    lab.wait_holder(c, INITDEAD_S + 8)
    ours.start_c(replace=placed)
    # the program at Debian's path in ours's namespaces is the copied file, the C one in the other's
    assert ours.nsenter(C_HEARTBEAT, "-V").stdout == "3.0.6 (lvs-compat)\n"
    assert "lvs-compat" not in c.nsenter(C_HEARTBEAT, "-V").stdout
    # status() there is Debian's C cl_status (an ELF), not a copy of ours
    assert ours.nsenter("head", "-c", "4", C_CL_STATUS).stdout == "\x7fELF"

    wait_for(lambda: status(c, ours.name) == "active" and status(ours, c.name) == "active",
             INITDEAD_S + BONUS_S + 6, 0.1,
             f"the C node and the copied one to see each other active\n{ours.log()}\n{ours.c_log()[-3000:]}")
    # once the C node is stable (its RQSTDELAY), auto_failback hands ours its own group
    lab.wait_holder(ours, RQSTDELAY_S + 10, VIP2)
    wait_records(ours, ["lvs two start", "mon two start"])
    wait_for(lambda: "transition" not in (rscstatus(c), rscstatus(ours)), 10, 0.2, "both stable")
    assert lab.holders(VIP) == [c.name]
    assert lab.client_ping(VIP)
    lab.wait_client_sees(c, 3, VIP)

    lab.crash(c, (VIP,))
    lab.wait_holder(ours, DEADTIME_S + BONUS_S + 3, VIP)
    lab.wait_client_sees(ours, 3, VIP)
    wait_records(ours, ["lvs start", "mon start"])
    wait_for(lambda: status(ours, c.name) == "dead", DEADTIME_S + 2, 0.05, "ours to see the C node dead")
    assert lab.holders(VIP2) == [ours.name]
