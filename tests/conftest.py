"""Suite-wide rules.

* Under ``CI=true`` a skipped test is a failure: CI runs as root with network
  namespaces available, so anything a test needs must be there (see README).
* Hypothesis: no per-example deadline (2-core CI machines stall), a fixed,
  moderate number of examples so the run time is predictable.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

settings.register_profile(
    "lvs-compat",
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("lvs-compat")


def running_in_ci() -> bool:
    return os.environ.get("CI") == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if running_in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped while CI=true (CI must run every test): {reason}"
