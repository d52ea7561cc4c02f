"""The heartbeat lab for the tests: ``lvs_compat.lab.heartbeat`` (its home, shared with
``make soak`` and bench/), plus what only pytest needs (the ``pty_pair`` fixture).

Test modules import the lab from here, as they always have.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from lvs_compat.lab import run, wait_for  # noqa: F401 (re-exported for the tests)
from lvs_compat.lab.heartbeat import (C_CL_STATUS, C_HEARTBEAT, CL_STATUS,  # noqa: F401
                                      HEARTBEAT, IFNAME, REPO, SUBNET, Lab, Node,
                                      have_c_heartbeat, have_lab, ha_cf)


@pytest.fixture
def pty_pair(tmp_path):
    """Two linked ptys, tmp_path/ttyA <-> tmp_path/ttyB (socat), for as long as the test runs."""
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        wait_for(lambda: a.exists() and b.exists(), 5, 0.02, "socat's ptys")
        yield str(a), str(b)
    finally:
        os.killpg(socat.pid, signal.SIGTERM)
        socat.wait(timeout=5)
