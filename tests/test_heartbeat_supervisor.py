"""The respawn/failfast supervisor core (``heartbeat.supervisor``) on a fake clock: the rules of
heartbeat 3.0.6's ``ManagedChildDied`` and ``shutdown_last_client_child``, in milliseconds."""

import signal

from lvs_compat.heartbeat.events import Log
from lvs_compat.heartbeat.supervisor import (ManagedChild, RebootSystem, SignalChild,
                                             SpawnChild, Supervisor)

IPFAIL = ManagedChild("/usr/libexec/heartbeat/ipfail", ("/usr/libexec/heartbeat/ipfail",),
                      "hacluster", 105, 109)
DOPD = ManagedChild("/usr/lib/heartbeat/dopd -v", ("/usr/lib/heartbeat/dopd", "-v"),
                    "hacluster", 105, 109)
WATCHER = ManagedChild("/usr/local/sbin/watcher", ("/usr/local/sbin/watcher",), "root", 0, 0,
                       failfast=True)


def texts(actions):
    return [action.text for action in actions if isinstance(action, Log)]


def others(actions):
    return [action for action in actions if not isinstance(action, Log)]


class Children:
    """The core with a pretend shell: every spawn gets the next pid at once."""

    def __init__(self, *specs):
        self.core = Supervisor(specs)
        self.next_pid = 1000
        self.now = 0

    def run(self, actions):
        out = []
        for action in actions:
            out.append(action)
            if isinstance(action, SpawnChild):
                self.next_pid += 1
                out += self.core.spawned(action.index, self.next_pid, self.now)
        return out

    def start(self):
        return self.run(self.core.start(self.now))

    def die(self, index, exit_code=0, signum=0, after_ms=0):
        self.now += after_ms
        return self.run(self.core.exited(self.core.pid(index), exit_code, signum, self.now))

    def tick(self, after_ms):
        self.now += after_ms
        return self.run(self.core.tick(self.now))


def test_children_start_in_file_order_as_their_users_with_cs_log_lines():
    children = Children(IPFAIL, DOPD)
    out = children.start()
    assert texts(out) == [
        'Starting child client "/usr/libexec/heartbeat/ipfail" (105,109)',
        'Starting "/usr/libexec/heartbeat/ipfail" as uid 105  gid 109 (pid 1001)',
        'Starting child client "/usr/lib/heartbeat/dopd -v" (105,109)',
        'Starting "/usr/lib/heartbeat/dopd -v" as uid 105  gid 109 (pid 1002)']
    assert others(out) == [SpawnChild(0), SpawnChild(1)]
    assert children.core.running() == {0: 1001, 1: 1002}


def test_a_child_that_ran_30_s_is_restarted_at_once():
    children = Children(IPFAIL)
    children.start()
    out = children.die(0, signum=9, after_ms=45_000)
    assert texts(out)[:2] == [
        "Managed /usr/libexec/heartbeat/ipfail process 1001 killed by signal 9 "
        "[SIGKILL - Kill, unblockable].",
        'Respawning client "/usr/libexec/heartbeat/ipfail":']
    assert others(out) == [SpawnChild(0)]
    assert children.core.pid(0) == 1002


def test_a_quick_death_is_respawned_after_a_second():
    children = Children(IPFAIL)
    children.start()
    out = children.die(0, exit_code=1, after_ms=20)
    assert texts(out) == ["Managed /usr/libexec/heartbeat/ipfail process 1001 exited with "
                          "return code 1.",
                          'Respawning client "/usr/libexec/heartbeat/ipfail":']
    assert others(out) == [] and children.core.next_deadline_ms() == 1020
    assert children.tick(999) == []
    assert others(children.tick(1)) == [SpawnChild(0)]


def test_eleven_quick_deaths_in_a_row_give_up_respawning_too_fast():
    children = Children(IPFAIL)
    children.start()
    spawns = 0
    for death in range(1, 11):
        out = children.die(0, exit_code=1, after_ms=100)
        assert texts(out)[-1] == 'Respawning client "/usr/libexec/heartbeat/ipfail":', death
        spawns += len(others(children.tick(1000)))
    assert spawns == 10
    out = children.die(0, exit_code=1, after_ms=100)
    assert texts(out)[-1] == 'Client /usr/libexec/heartbeat/ipfail "respawning too fast"'
    assert others(out) == [] and children.core.next_deadline_ms() is None
    assert children.core.given_up(0) and children.core.running() == {}
    assert children.tick(60_000) == []


def test_a_long_run_resets_the_count_of_quick_deaths():
    children = Children(IPFAIL)
    children.start()
    for _ in range(10):
        children.die(0, exit_code=1, after_ms=100)
        children.tick(1000)
    children.die(0, exit_code=1, after_ms=30_000)   # ran 30 s: not a short run
    assert children.core.pid(0) is not None            # restarted at once
    for _ in range(10):
        children.die(0, exit_code=1, after_ms=100)
        children.tick(1000)
    assert not children.core.given_up(0) and children.core.pid(0) is not None


def test_exit_code_100_is_never_respawned():
    children = Children(IPFAIL)
    children.start()
    out = children.die(0, exit_code=100, after_ms=60_000)
    assert texts(out) == ["Managed /usr/libexec/heartbeat/ipfail process 1001 exited with "
                          "return code 100."]
    assert others(out) == [] and children.core.running() == {}


def test_a_failfast_child_that_dies_abnormally_reboots_the_machine():
    children = Children(WATCHER)
    children.start()
    out = children.die(0, exit_code=2, after_ms=60_000)
    assert "Rebooting system.  Reason: /usr/local/sbin/watcher" in texts(out)
    assert RebootSystem("/usr/local/sbin/watcher") in out
    clean = Children(WATCHER)
    clean.start()
    assert RebootSystem("/usr/local/sbin/watcher") not in clean.die(0, exit_code=0,
                                                                    after_ms=60_000)


def test_shutdown_stops_the_last_line_first_one_at_a_time():
    children = Children(IPFAIL, DOPD)
    children.start()
    out = children.core.shutdown(children.now)
    assert texts(out) == ["killing /usr/lib/heartbeat/dopd -v process group 1002 with signal 15"]
    assert others(out) == [SignalChild(1, 1002, signal.SIGTERM)]
    assert not children.core.stopped
    out = children.die(1, signum=15, after_ms=50)
    assert texts(out) == ["killing /usr/libexec/heartbeat/ipfail process group 1001 with "
                          "signal 15"]   # nothing logged of the death, no respawn
    assert others(out) == [SignalChild(0, 1001, signal.SIGTERM)]
    assert others(children.die(0, exit_code=0, after_ms=50)) == []
    assert children.core.stopped and children.core.running() == {}


def test_shutdown_cancels_a_pending_respawn_and_skips_a_dead_child():
    children = Children(IPFAIL, DOPD)
    children.start()
    children.die(1, exit_code=1, after_ms=10)       # dopd: respawn due in 1 s
    out = children.core.shutdown(children.now)
    assert texts(out) == ["client [/usr/lib/heartbeat/dopd -v] is not running.",
                          "killing /usr/libexec/heartbeat/ipfail process group 1001 with "
                          "signal 15"]
    children.die(0, signum=15, after_ms=10)
    assert children.core.stopped and children.tick(5000) == []


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    children = Children(IPFAIL)
    children.start()
    children.core.shutdown(children.now)
    assert children.core.next_deadline_ms() == 10_000
    assert children.tick(9_999) == []
    out = children.tick(1)
    assert texts(out) == ["/usr/libexec/heartbeat/ipfail process (PID 1001) timed out (try 1)."
                          "  Killing with signal SIGKILL (9)."]
    assert others(out) == [SignalChild(0, 1001, signal.SIGKILL)]
    children.die(0, signum=9)
    assert children.core.stopped


def test_a_failfast_child_killed_by_the_shutdown_still_reboots_as_in_c():
    children = Children(WATCHER)
    children.start()
    children.core.shutdown(children.now)
    assert RebootSystem("/usr/local/sbin/watcher") in children.die(0, signum=15)
    graceful = Children(WATCHER)
    graceful.start()
    graceful.core.shutdown(graceful.now)
    assert RebootSystem("/usr/local/sbin/watcher") not in graceful.die(0, exit_code=3)


def test_a_program_that_cannot_be_started_is_not_tried_again():
    core = Supervisor([IPFAIL])
    assert others(core.start(0)) == [SpawnChild(0)]
    out = core.spawn_failed(0, "Permission denied", 0)
    assert texts(out) == ["Cannot exec /usr/libexec/heartbeat/ipfail: Permission denied"]
    assert core.running() == {} and core.next_deadline_ms() is None
    assert others(core.shutdown(0)) == [] and core.stopped


def test_no_children_means_stopped_at_once():
    core = Supervisor([])
    assert core.start(0) == [] and core.shutdown(0) == [] and core.stopped


def test_a_shutdown_before_comm_up_means_no_child_is_started_at_comm_up():
    """C's comm_now_up starts the children only if no shutdown is in progress."""
    children = Children(IPFAIL)
    children.core.shutdown(children.now)
    assert children.start() == [] and children.core.stopped


def test_children_inherit_the_recorded_directives_as_3_0_6_exports_them():
    """LAB (ipfail's /proc/PID/environ under Debian's 3.0.6, this ha.cf): libplumb's
    cl_inherit_logging_environment reads HA_logfile/HA_debugfile/HA_use_logd, so without them
    ipfail logs nowhere."""
    from lvs_compat.config.hacf import parse_ha_cf
    from lvs_compat.heartbeat.respawn import child_environment
    ha_cf = parse_ha_cf(
        "logfile /var/lib/heartbeat/ha-log\ndebugfile /var/lib/heartbeat/ha-debug\n"
        "keepalive 500ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport 694\nuse_logd no\n"
        "crm off\nauto_failback off\nbcast hb0\nnode nodea\nnode nodeb\n")
    env = child_environment(ha_cf, "nodea", "/etc/ha.d", base={})
    observed = {   # a subset of the C child's HA_ variables, as seen there
        "HA_logfile": "/var/lib/heartbeat/ha-log", "HA_debugfile": "/var/lib/heartbeat/ha-debug",
        "HA_LOGFILE": "/var/lib/heartbeat/ha-log", "HA_DEBUGLOG": "/var/lib/heartbeat/ha-debug",
        "HA_use_logd": "no", "HA_auto_failback": "off", "HA_keepalive": "500ms",
        "HA_deadtime": "2", "HA_warntime": "1", "HA_initdead": "4", "HA_deadping": "2000ms",
        "HA_udpport": "694", "HA_debug": "0", "HA_cluster": "linux-ha", "HA_msgfmt": "classic",
        "HA_pacemaker": "off", "HA_CURHOST": "nodea"}
    assert {name: env.get(name) for name in observed} == observed
    assert "HA_hbversion" not in env
