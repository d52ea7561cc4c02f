"""`make install` into a staging DESTDIR gives programs that run without the venv."""

import shutil
import subprocess
import zipfile

import pytest

from conftest import REPO, SHARED


def test_staged_install_runs_with_debians_python_and_no_venv(tmp_path):
    stage = tmp_path / "stage"
    subprocess.run(["make", "-C", str(REPO), "install", f"DESTDIR={stage}", "PREFIX=/usr"],
                   check=True, capture_output=True, timeout=600)
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

    # The pinned LIBDIR points into the real root; run the staged copy against
    # the staged library by rewriting only that line, with an empty environment.
    runnable = tmp_path / "lvs-compat"
    runnable.write_text(text.replace('"/usr/lib/lvs-compat"', repr(str(stage / "usr/lib/lvs-compat"))))
    runnable.chmod(0o755)
    result = subprocess.run([str(runnable), "check", "--mon-cf", str(SHARED / "seed/examples/mon.cf")],
                            capture_output=True, text=True, env={}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "IPVS entries implied by lvs.alert lines" in result.stdout


DROP_INS = ("alert.d/lvs.alert", "mon.d/fping.monitor", "mon.d/http.monitor",
            "mon.d/ftp.monitor", "bin/heartbeat", "bin/cl_status", "bin/hb_standby",
            "bin/hb_takeover")


@pytest.mark.parametrize("drop_in", DROP_INS)
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
