"""The serial medium over a pty pair made by socat (no serial port needed): classic ``>>>``/``<<<``
framing through pyserial, alone and next to bcast (a node is alive while any medium hears it)."""

import os
import shutil
import signal
import subprocess
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


class SocatLine:
    """A serial line (two linked ptys, socat) that can be cut, its far ends gone, and restored
    under the same names."""

    def __init__(self, directory):
        self.a, self.b = str(directory / "lineA"), str(directory / "lineB")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: os.path.exists(self.a) and os.path.exists(self.b), 5, 0.02,
                 "socat's ptys")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        self.process = None


def cpu_seconds(pid):
    """User + system CPU time a process has used (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_serial_line_whose_far_end_hangs_up_costs_no_cpu_and_is_used_again(lab, tmp_path):
    # A pty whose other side closed reads EIO for ever and stays readable: the daemon once
    # spun at 92 % CPU (under SCHED_RR) on it.  Now it closes the line, tries it again every
    # 1-8 s, and uses it once it opens.  bcast keeps the nodes in touch meanwhile.
    line = SocatLine(tmp_path)
    line.start()
    a, b = lab.nodes
    a.write_config(ha_cf([a.name, b.name], media=f"bcast hb0\nserial {line.a}"))
    b.write_config(ha_cf([a.name, b.name], media=f"bcast hb0\nserial {line.b}"))
    a.start()
    b.start()
    try:
        wait_for(lambda: link(a, b.name, line.a) == "up" and link(b, a.name, line.b) == "up",
                 8, 0.1, "the serial link up both ways")
        line.stop()
        wait_for(lambda: link(a, b.name, line.a) == "dead", DEADTIME_S + 5, 0.1,
                 "the serial link seen dead")
        # a spinning loop takes a core's worth of CPU; the idle daemon a few percent at most
        used, started = cpu_seconds(a.process.pid), time.monotonic()
        time.sleep(3 * KEEPALIVE_S * 2)
        share = (cpu_seconds(a.process.pid) - used) / (time.monotonic() - started)
        assert share < 0.25, f"the daemon used {share:.0%} of a CPU with its serial line gone"
        assert status(a, b.name) == "active" and link(a, b.name, "hb0") == "up"
        assert "closed, tried again every 1-8 s" in a.log()
        line.start()
        # the next try comes within the longest back-off (8 s), then a keepalive
        wait_for(lambda: link(a, b.name, line.a) == "up" and link(b, a.name, line.b) == "up",
                 8 + 2 * KEEPALIVE_S + 2, 0.1, "the serial link up again")
        assert f"serial {line.a} open again" in a.log()
    except BaseException:
        print(a.log(), b.log())
        raise
    finally:
        line.stop()
