"""The serial medium over a pty pair made by socat (no serial port needed): classic ``>>>``/``<<<``
framing through pyserial, alone and next to bcast (a node is alive while any medium hears it)."""

import shutil
import time

import pytest

from heartbeat_lab import Lab, ha_cf, have_lab, pty_pair, wait_for  # noqa: F401 (fixture)

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(shutil.which("socat") is None or have_lab() is not None,
                                reason="needs socat and root (network namespaces)")]

DEADTIME_S = 2.0
KEEPALIVE_S = 0.5




@pytest.fixture
def lab(tmp_path):
    cluster = Lab(tmp_path)
    try:
        yield cluster.open()
    finally:
        cluster.close()


def status(node, name):
    return node.cl_status("nodestatus", name).stdout.strip()


def link(node, name, link_name):
    return node.cl_status("hblinkstatus", name, link_name).stdout.strip()


def test_two_nodes_over_a_serial_line_see_each_other_and_a_crash(lab, pty_pair):
    a, b = lab.nodes
    a.write_config(ha_cf([a.name, b.name], media=f"baud 115200\nserial {pty_pair[0]}"))
    b.write_config(ha_cf([a.name, b.name], media=f"baud 115200\nserial {pty_pair[1]}"))
    a.start()
    b.start()
    try:
        wait_for(lambda: status(a, b.name) == "active" and status(b, a.name) == "active", 8,
                 0.1, "both nodes active over serial")
        # b's 5 s start-up bonus on dt began before a saw it active; a has the plain dt a
        # keepalive after it ends
        seen = time.monotonic()
        assert link(a, b.name, pty_pair[0]) == "up" and link(b, a.name, pty_pair[1]) == "up"
        time.sleep(max(0.0, seen + 5.0 + KEEPALIVE_S - time.monotonic()))
        killed = time.monotonic()
        b.kill9()
        wait_for(lambda: status(a, b.name) == "dead", DEADTIME_S + 3, 0.05, "the crash seen")
        assert time.monotonic() - killed <= DEADTIME_S + KEEPALIVE_S + 0.3
    except BaseException:
        print(a.log(), b.log())
        raise


def test_a_node_is_alive_while_any_medium_hears_it(lab, pty_pair):
    a, b = lab.nodes
    a.write_config(ha_cf([a.name, b.name], media=f"bcast hb0\nserial {pty_pair[0]}"))
    b.write_config(ha_cf([a.name, b.name], media=f"bcast hb0\nserial {pty_pair[1]}"))
    a.start()
    b.start()
    try:
        wait_for(lambda: status(a, b.name) == "active" and link(a, b.name, "hb0") == "up"
                 and link(a, b.name, pty_pair[0]) == "up", 8, 0.1, "both links up")
        lab.set_link(b, up=False)  # the network goes; the serial line stays
        wait_for(lambda: link(a, b.name, "hb0") == "dead", DEADTIME_S + 5, 0.1,
                 "the bcast link seen dead")
        assert link(a, b.name, pty_pair[0]) == "up"
        assert status(a, b.name) == "active" and status(b, a.name) == "active"
        lab.set_link(b, up=True)
        wait_for(lambda: link(a, b.name, "hb0") == "up", 5, 0.1, "the bcast link back")
        listing = a.cl_status("listhblinks", b.name)
        assert listing.stdout == f"\thb0\n\t{pty_pair[0]}\n"
    except BaseException:
        print(a.log(), b.log())
        raise
