"""`make install` into a staging DESTDIR gives programs that run without the venv."""

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, SHARED
from lvs_compat.export.ocf_agent import AGENT_INSTALL_PATH, agent_text


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """make install DESTDIR=STAGE PREFIX=/usr, once for the module."""
    stage = tmp_path_factory.mktemp("install") / "stage"
    subprocess.run(["make", "-C", str(REPO), "install", f"DESTDIR={stage}", "PREFIX=/usr"],
                   check=True, capture_output=True, timeout=600)
    return stage


def test_staged_install_runs_with_debians_python_and_no_venv(stage, tmp_path):
    program = stage / "usr/bin/lvs-compat"
    text = program.read_text()
    assert text.startswith("#!/usr/bin/python3 -IS\n")
    assert 'LIBDIR = "/usr/lib/lvs-compat"\n' in text
    assert (stage / "usr/lib/lvs-compat/lvs_compat/config/errors.py").is_file()
    assert (stage / "usr/lib/lvs-compat/pyparsing").is_dir()
    assert (stage / "etc/ha.d/resource.d/lvs").read_text().startswith("#!/usr/bin/python3 -IS\n")
    # the single-file drop-ins (tools/build-dropins) beside it, for an operator to copy
    dropins = stage / "usr/share/lvs-compat/dropins"
    for drop_in in DROP_INS:
        single = dropins / drop_in
        assert single.read_bytes().startswith(b"#!/usr/bin/python3 -ISc"), drop_in
        assert zipfile.is_zipfile(single) and single.stat().st_mode & 0o111, drop_in

    # the OCF agent the pacemaker export names, running the lvs script installed beside it
    agent = stage / AGENT_INSTALL_PATH.lstrip("/")
    assert agent.read_text() == agent_text(lvs_script="/etc/ha.d/resource.d/lvs")
    assert agent.stat().st_mode & 0o777 == 0o755

    # The pinned LIBDIR points into the real root; run the staged copy against
    # the staged library by rewriting only that line, with an empty environment.
    runnable = tmp_path / "lvs-compat"
    runnable.write_text(text.replace('"/usr/lib/lvs-compat"', repr(str(stage / "usr/lib/lvs-compat"))))
    runnable.chmod(0o755)
    result = subprocess.run([str(runnable), "check", "--mon-cf", str(SHARED / "seed/examples/mon.cf")],
                            capture_output=True, text=True, env={}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "IPVS entries implied by lvs.alert lines" in result.stdout


def test_uninstall_removes_what_install_put_there_but_the_diverted_files(stage):
    """make uninstall on the staged tree (every directory pointed into it; DIVERT=true in place
    of tools/divert, which gives Debian's originals back on the live system): all of ours is
    gone, the OCF agent and its directory included, but the diverted files, which tools/divert
    removes (tests/test_deb_systemd.py runs that on a booted Debian)."""
    staged = {path.relative_to(stage) for path in stage.rglob("*") if path.is_file()}
    assert Path(AGENT_INSTALL_PATH.lstrip("/")) in staged
    result = subprocess.run(
        ["make", "-C", str(REPO), "--no-print-directory", "uninstall", "DIVERT=true",
         f"PREFIX={stage}/usr", f"SYSCONFDIR={stage}/etc", f"SYSTEMD_UNITDIR={stage}/lib/systemd/system",
         f"OCF_AGENTDIR={stage}{os.path.dirname(AGENT_INSTALL_PATH)}"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    left = {str(path.relative_to(stage)) for path in stage.rglob("*") if path.is_file()}
    diverted = {line.lstrip("/") for line in (REPO / "tools/deb/diverted").read_text().splitlines()
                if line.startswith("/")}
    assert left == diverted
    assert not (stage / os.path.dirname(AGENT_INSTALL_PATH).lstrip("/")).exists()


DROP_INS = ("alert.d/lvs.alert", "mon.d/fping.monitor", "mon.d/http.monitor",
            "mon.d/ftp.monitor", "bin/heartbeat", "bin/hb_standby", "bin/hb_takeover")


def test_staged_install_leaves_debians_cl_status_alone(stage):
    """Neither the tree's cl_status (a developer tool) nor a single-file build of it is
    installed: Debian's C /usr/bin/cl_status stays, and works against our daemon.  The lists
    tools/divert and the .deb divert no longer name it; tools/deb/undiverted gives it back."""
    assert not (stage / "usr/bin/cl_status").exists()
    assert not (stage / "usr/share/lvs-compat/dropins/bin/cl_status").exists()
    listed = {name: [line for line in (REPO / "tools/deb" / name).read_text().splitlines()
                     if line.startswith("/")] for name in ("diverted", "undiverted")}
    assert "/usr/bin/cl_status" not in listed["diverted"]
    assert listed["undiverted"] == ["/usr/bin/cl_status"]
    installed = {"/" + str(path.relative_to(stage)) for path in stage.rglob("*") if path.is_file()}
    assert set(listed["diverted"]) <= installed     # what is diverted is what we install there
    assert not set(listed["undiverted"]) & installed


# the tree's programs, as an operator might copy one (bin/cl_status, a developer tool, too)
@pytest.mark.parametrize("drop_in", DROP_INS + ("bin/cl_status",))
def test_a_drop_in_copied_without_its_library_says_so_in_one_line(drop_in, tmp_path):
    """An operator copies one file into /usr/lib/mon/mon.d (or over the heartbeat binary) on a
    box without the project: one line naming what is missing and exit 1 (mon's and heartbeat's
    failure status), never a traceback.  Debian's interpreter, isolated, as installed."""
    target = tmp_path / "alone" / drop_in.rsplit("/", 1)[1]
    target.parent.mkdir()
    shutil.copy2(REPO / drop_in, target)
    result = subprocess.run(["/usr/bin/python3", "-I", str(target), "-h", "10.0.0.1"],
                            capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{target.name}: cannot load the lvs-compat library from ")
    assert "No module named 'lvs_compat'" in line
