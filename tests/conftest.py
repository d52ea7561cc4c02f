"""Suite-wide rules.

* Under ``CI=true`` a skipped test is a failure: CI runs as root with network
  namespaces available, so anything a test needs must be there (see README).
* Hypothesis: no per-example deadline (2-core CI machines stall), a fixed,
  moderate number of examples so the run time is predictable.
* Guests: the demo's tools/ipvs-vm run (tests/demo_guest.py) starts at the first
  test and runs while the host-only tests do; tests that boot a guest of their own
  (marker ``guest``) run last, each after that run has ended, one guest at a time.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import demo_guest

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


DEMO_GUEST = pytest.StashKey[demo_guest.DemoGuest]()


def pytest_collection_modifyitems(config, items):
    # Stable: the guest tests keep their order among themselves, at the end of the run.
    items.sort(key=lambda item: item.get_closest_marker("guest") is not None)


@pytest.fixture(scope="session", autouse=True)
def _demo_guest_in_background(request, tmp_path_factory):
    wanted = any("demo_guest_run" in item.fixturenames for item in request.session.items)
    if not (wanted and demo_guest.can_run()):
        yield
        return
    running = demo_guest.start(tmp_path_factory.mktemp("demo"))
    request.config.stash[DEMO_GUEST] = running
    yield
    running.stop()


@pytest.fixture(scope="session")
def demo_guest_run(request):
    """The demo's guest run, ended (test_demo.py's guest tests read what it left)."""
    running = request.config.stash.get(DEMO_GUEST, None)
    assert running is not None, "the demo's guest run was not started (needs root and QEMU)"
    running.wait()
    return running


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    running = item.config.stash.get(DEMO_GUEST, None)
    if running is not None and item.get_closest_marker("guest"):
        running.wait()
