"""The programs the scenario runs, and the Debian package of each (looked up, never run here:
lvs_compat/ipvs.py stays the only module that runs the IPVS admin tool)."""

from __future__ import annotations

import os
import shutil

TOOLS = {"ip": "iproute2", "nsenter": "util-linux", "ipvsadm": "ipvsadm", "mon": "mon",
         "perl": "perl"}
SBIN_MON = "/usr/sbin/mon"


def missing_tool() -> str | None:
    """One line naming the first missing program and how to install it, or None."""
    for tool, package in TOOLS.items():
        found = os.access(SBIN_MON, os.X_OK) if tool == "mon" else shutil.which(tool)
        if not found:
            return f"{tool} is not installed: `make deps` (or apt-get install {package})"
    return None
