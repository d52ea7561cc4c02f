"""The namespace lab (lvs_compat/lab): what it builds is connected only to itself, and nothing
it made outlives it, also when a set-up step fails half-way or ``close`` runs twice."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lvs_compat.lab import Netlab, TimedOut, namespace_names, unique_name, wait_for

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="needs root and ip (network namespaces)")]


def test_two_machines_on_a_bridge_talk_and_everything_goes_on_close():
    lab = Netlab()
    hub = lab.bridge(unique_name("nlt"))
    machines = [lab.add(unique_name("nlt")) for _ in range(2)]
    for index, netns in enumerate(machines, start=1):
        lab.plug(netns, "eth0", hub, f"p{index}")
        lab.address(netns, "eth0", f"10.253.0.{index}/24")
    assert lab.ns(machines[0], "ping", "-c", "1", "-W", "2", "10.253.0.2").returncode == 0
    # the lab's links are not the host's
    assert "10.253.0." not in subprocess.run(["ip", "-o", "addr", "show"], capture_output=True,
                                             text=True, check=True).stdout
    sleeper = lab.start(machines[1], ["sleep", "600"])
    lab.close()
    assert sleeper.returncode is not None
    assert not {hub, *machines} & namespace_names()
    lab.close()                     # twice: nothing left to do, no error


def test_a_failed_step_inside_with_leaves_no_namespace_and_no_process():
    names = (unique_name("nlt"), unique_name("nlt"))
    with pytest.raises(subprocess.CalledProcessError):
        with Netlab() as lab:
            lab.add(names[0])
            lab.pair(names[0], "hb0", names[1], "hb0")     # names[1] does not exist
    assert not set(names) & namespace_names()


def test_delete_kills_what_runs_inside_even_if_the_lab_did_not_start_it():
    with Netlab() as lab:
        netns = lab.add(unique_name("nlt"))
        stray = subprocess.Popen(Netlab.exec_argv(netns, ["sleep", "600"]),
                                 stdin=subprocess.DEVNULL)
        wait_for(lambda: stray.pid in [int(pid) for pid in subprocess.run(
            ["ip", "netns", "pids", netns], capture_output=True, text=True).stdout.split()]
                 or stray.poll() is not None, 10, 0.05, "the stray process in the namespace")
        lab.delete(netns)
        assert stray.wait(timeout=10) == -9
        assert netns not in namespace_names()


def test_wait_for_returns_the_value_or_times_out_as_an_assertion():
    assert wait_for(lambda: 42, 1) == 42
    with pytest.raises(TimedOut, match="waiting for nothing"):
        wait_for(lambda: 0, 0.2, 0.05, "nothing")
    assert issubclass(TimedOut, AssertionError)
