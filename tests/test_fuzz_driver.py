"""The fuzzing tooling itself: ``fuzz/run.py`` counts, saves what it finds and says so.

``make fuzz`` runs the atheris engine (installed on demand, not part of ``make test``); the
``random`` engine runs the same targets and mutations without coverage guidance, so the driver's
bookkeeping is tested here without atheris.
"""

import json
import subprocess
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO))
from fuzz import run, targets  # noqa: E402

pytestmark = pytest.mark.fuzz


def test_a_short_run_prints_the_figures_and_exits_0_when_nothing_is_found(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "fuzz" / "run.py"), "--engine", "random", "--runs", "60",
         "--targets", "authkeys,wire", "--jobs", "2", "--seed", "8", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cases run: 120; exceptions other than ConfigError/DecodeError: 0 (goal 0); " \
           "packets accepted with bad authentication: 0 (goal 0)" in result.stdout
    stats = json.loads((tmp_path / "fuzz-stats" / "wire.json").read_text())
    assert stats["cases"] == stats["accepted"] + stats["refused"] == 60
    assert sorted(p.name for p in (tmp_path / "fuzz-corpus").iterdir()) == ["authkeys", "wire"]


def test_a_finding_is_counted_once_per_place_and_its_input_saved(tmp_path):
    run._use_output(tmp_path)
    recorder = run.Recorder("demo", tmp_path / "demo.json", slow_seconds=60)

    def check(data: bytes) -> str:
        if data.startswith(b"boom"):
            try:
                int(data)
            except ValueError as error:
                raise targets._unexpected("demo", error) from error
        return targets.REFUSED

    for data in (b"ok", b"boom 1", b"boom 2", b"fine"):
        recorder.record(check, data)
    recorder.flush()
    stats = json.loads((tmp_path / "demo.json").read_text())
    assert (stats["cases"], stats["refused"]) == (4, 2)
    assert stats["findings"] == {targets.UNEXPECTED_EXCEPTION: 2}
    [(signature, saved)] = stats["distinct"].items()
    assert signature.startswith("unexpected exception: ValueError at ")
    assert (tmp_path / "fuzz-crashes" / "demo").is_dir()
    saved = sorted((tmp_path / "fuzz-crashes" / "demo").iterdir())
    assert [path.name.startswith("unexpected-exception-") for path in saved] == [True, True]
    assert saved[0].read_bytes() == b"boom 1"
    assert "Traceback" in saved[1].read_text() and saved[1].name == saved[0].name + ".txt"
