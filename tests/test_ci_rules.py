"""The suite's own rule: under CI=true a skipped test fails the run."""

import os
import shutil
import subprocess
import sys

from conftest import REPO


def run_pytest_on(tmp_path, ci: bool):
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\n"
        "def test_needs_something_missing():\n"
        "    pytest.skip('no network namespaces here')\n\n"
        "def test_fine():\n"
        "    pass\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_a_skip_fails_the_run_under_ci(tmp_path):
    result = run_pytest_on(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout
    assert "skipped while CI=true" in result.stdout
    assert "1 failed, 1 passed" in result.stdout


def test_a_skip_is_only_a_skip_outside_ci(tmp_path):
    result = run_pytest_on(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
