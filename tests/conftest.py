"""Suite-wide rules.

* Under ``CI=true`` a skipped test is a failure: CI runs as root with network
  namespaces available, so anything a test needs must be there (see README).
* Hypothesis: no per-example deadline (2-core CI machines stall), a fixed,
  moderate number of examples so the run time is predictable.
* Order and guests: lab tests (marker ``lab``) first, then the other host tests, then
  those that boot a guest (marker ``guest``).  The soak's and the demo's guest runs
  (tests/background_guests.py) start at the first test and run, one after the other,
  beside the host tests; a ``guest`` test waits for them: one guest at a time.
* make test's second lane (tests/second_lane.py): the host tests that share nothing with the lab
  (units, simulator, fuzz) and the self-contained lab modules of LAB_IN_LANE (the booted .deb)
  run in a second pytest process from the start, on the core the lab leaves idle.
"""

import os
import time
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



# lab first (namespaces, real daemons: they wait on heartbeat's timers and leave the CPU to the
# background guests), then the other host tests, then the tests that boot a guest themselves.
_ORDER = {"lab": 0, "guest": 2}
_CHAIN = pytest.StashKey[object]()
_TIMELINE = pytest.StashKey[dict]()      # "lab ended", "waited for the chain": seconds
_LANE = pytest.StashKey[object]()
_T0 = time.monotonic()


def pytest_collection_modifyitems(config, items):
    def rank(item):
        return min((_ORDER[mark.name] for mark in item.iter_markers() if mark.name in _ORDER),
                   default=1)
    items.sort(key=rank)    # stable: each group keeps its order
    if os.environ.get("LVS_COMPAT_LANE") != "on":
        return
    import second_lane
    lane_wanted = second_lane.wanted(config)
    os.environ.pop(second_lane.ENV, None)     # pytest runs started by tests never start a lane
    if lane_wanted:
        lane_items = second_lane.lane_items(items)
        if lane_items and len(lane_items) < len(items):
            taken = set(map(id, lane_items))
            items[:] = [item for item in items if id(item) not in taken]
            config.hook.pytest_deselected(items=lane_items)
            base = config._tmp_path_factory.mktemp("second_lane")
            config.stash[_LANE] = second_lane.Lane([item.nodeid for item in lane_items], base,
                                                   _T0)


_BACKGROUND = ("soak_run", "demo_run", "ipvs_real_run")     # the chain's order


@pytest.fixture(scope="session", autouse=True)
def _guests_in_background(request, tmp_path_factory):
    wanted = [name for name in _BACKGROUND
              if any(name in item.fixturenames for item in request.session.items)]
    lane = request.config.stash.get(_LANE, None)
    if lane is not None:
        lane.start()            # the lab leaves a core idle from its first test
    if wanted:
        import background_guests as guests
    if not wanted or not guests.can_boot():
        yield
        return
    runs = {name: getattr(guests, name)(tmp_path_factory.mktemp(name)) for name in wanted}
    chain = guests.Chain(list(runs.values()))
    request.config.stash[_CHAIN] = (chain, runs)
    yield
    chain.stop()


def _background(request, name):
    chain, runs = request.config.stash.get(_CHAIN, (None, {}))
    assert name in runs, f"the background guest run {name} was not started (needs root and QEMU)"
    return chain.wait(runs[name])


@pytest.fixture(scope="session")
def run_pids(request) -> set[str]:
    """The pids of this run's pytest processes, the main one and the second lane's: the lab
    names its namespaces after them, and a test that looks for leftovers must not count those
    of tests still running beside it."""
    lane = request.config.stash.get(_LANE, None)
    pids = {str(os.getpid())}
    if lane is not None and lane.pid is not None:
        pids.add(str(lane.pid))
    return pids


@pytest.fixture(scope="session")
def demo_run(request):
    """The demo's guest run, ended (tests/background_guests.py)."""
    return _background(request, "demo_run")


@pytest.fixture(scope="session")
def soak_run(request):
    """The chaos soak's guest run, ended (tests/background_guests.py)."""
    return _background(request, "soak_run")


@pytest.fixture(scope="session")
def ipvs_real_run(request):
    """The real-IPVS scenario's guest run, ended (tests/background_guests.py)."""
    return _background(request, "ipvs_real_run")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """One guest at a time: a test that boots its own waits for the background chain."""
    chain, _ = item.config.stash.get(_CHAIN, (None, {}))
    timeline = item.config.stash.setdefault(_TIMELINE, {})
    if item.get_closest_marker("lab") is None and "lab ended" not in timeline:
        timeline["lab ended"] = time.monotonic() - _T0
    if chain is not None and item.get_closest_marker("guest"):
        began = time.monotonic()
        chain.wait_all()
        timeline["waited for the chain"] = (timeline.get("waited for the chain", 0.0)
                                            + time.monotonic() - began)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """The second lane's verdict is the run's too."""
    lane = session.config.stash.get(_LANE, None)
    if lane is None:
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        lane.stop()
        return
    lane.wait()
    ok, _ = lane.verdict()
    if not ok and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    """The background guest runs are no test's duration: say how long each took."""
    chain, runs = config.stash.get(_CHAIN, (None, {}))
    if runs:
        parts = [f"{run.name} {run.elapsed:.0f} s (exit {run.returncode})"
                 if run.elapsed is not None else f"{run.name} not run" for run in runs.values()]
        terminalreporter.write_line("guest runs in the background, one after the other: "
                                    + ", ".join(parts))
    timeline = config.stash.get(_TIMELINE, {})
    if timeline:
        terminalreporter.write_line("main process: " + ", ".join(
            f"{what} {seconds:.0f} s" + (" into the run" if what == "lab ended" else "")
            for what, seconds in timeline.items()))
    lane = config.stash.get(_LANE, None)
    if lane is not None and lane.returncode is not None:
        ok, line = lane.verdict()
        if not ok:
            terminalreporter.write_sep("=", "second lane output (tests/second_lane.py)")
            terminalreporter.write(lane.output())
        terminalreporter.write_line(line, red=not ok, green=ok)
        for slow in lane.slowest():
            terminalreporter.write_line(f"  lane: {slow}")
