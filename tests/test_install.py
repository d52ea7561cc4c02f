"""`make install` into a staging DESTDIR gives programs that run without the venv."""

import subprocess

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

    # The pinned LIBDIR points into the real root; run the staged copy against
    # the staged library by rewriting only that line, with an empty environment.
    runnable = tmp_path / "lvs-compat"
    runnable.write_text(text.replace('"/usr/lib/lvs-compat"', repr(str(stage / "usr/lib/lvs-compat"))))
    runnable.chmod(0o755)
    result = subprocess.run([str(runnable), "check", "--mon-cf", str(SHARED / "seed/examples/mon.cf")],
                            capture_output=True, text=True, env={}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "IPVS entries implied by lvs.alert lines" in result.stdout
