"""The single-file drop-ins (tools/build-dropins) for the tests: built once per module from this
checkout, and copied alone where an operator would put them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "tools" / "build-dropins"
PYTHON = "/usr/bin/python3"      # what `make dropins` puts in the shebang
# What make dropins builds (Makefile DROPINS): not bin/cl_status, a developer tool (Debian's C
# cl_status stays at /usr/bin/cl_status and works against our daemon).
DROP_INS = ("alert.d/lvs.alert", "mon.d/http.monitor", "mon.d/ftp.monitor", "mon.d/fping.monitor",
            "bin/heartbeat", "bin/hb_standby", "bin/hb_takeover")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """build/dropins of this checkout, in a temporary directory."""
    out = tmp_path_factory.mktemp("dropins")
    subprocess.run([sys.executable, str(BUILD), "--python", PYTHON, "--out", str(out), *DROP_INS],
                   check=True, capture_output=True, timeout=120)
    return out


def copy_alone(built: Path, drop_in: str, directory: Path) -> Path:
    """The one file, copied into an otherwise empty ``directory`` (as to /usr/lib/mon/mon.d)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / Path(drop_in).name
    shutil.copy2(built / drop_in, target)
    return target
