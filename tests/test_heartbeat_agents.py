"""Resource groups as ResourceManager runs them (SPEC §1b): order, ``::`` arguments, status by
output text, start/stop by exit code, output to the debug file, retries, hung scripts killed.

Scripts are small /bin/sh files in a temporary resource.d; the built-ins (IPaddr...) are tested in
test_addresses*.py.  No network, no namespaces: these run anywhere in a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvs_compat.config.errors import ConfigError
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.heartbeat.agents import (AgentTimeouts, GroupExecutor, check_group_scripts,
                                         judge_status_output, locate_script)

RESOURCE_MANAGER = "/usr/share/heartbeat/ResourceManager"

# A recording script: every call appends "NAME ARGS..." to $RECORD; status answers from a state
# file so that start/stop change what status says, like a real init script.
RECORDER = """#!/bin/sh
name=$(basename "$0")
eval action=\\${$#}
echo "$name $*" >> "$RECORD"
state="$STATE_DIR/$name"
case "$action" in
  start) touch "$state"; echo "$name started"; exit ${START_RC:-0};;
  stop) rm -f "$state"; echo "$name stopped" >&2; exit 0;;
  status) if [ -e "$state" ]; then echo "$name is running"; else echo "$name is not running"; fi;;
esac
"""


class Lab:
    def __init__(self, tmp_path: Path):
        self.root = tmp_path
        self.config_dir = tmp_path / "ha.d"
        self.resource_d = self.config_dir / "resource.d"
        self.init_d = tmp_path / "init.d"
        self.state = tmp_path / "state"
        for directory in (self.resource_d, self.init_d, self.state):
            directory.mkdir(parents=True)
        self.record = tmp_path / "record"
        self.debugfile = tmp_path / "ha-debug"

    def script(self, name: str, text: str = RECORDER, where: Path | None = None) -> Path:
        path = (where or self.resource_d) / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def executor(self, haresources_text: str, **kwargs) -> GroupExecutor:
        path = self.config_dir / "haresources"
        path.write_text(haresources_text)
        haresources = parse_haresources(haresources_text, str(path))
        environment = {"RECORD": str(self.record), "STATE_DIR": str(self.state),
                       **kwargs.pop("environment", {})}
        return GroupExecutor(str(self.config_dir), haresources, str(self.debugfile),
                             search_dirs=(str(self.resource_d), str(self.init_d)),
                             environment=environment, **kwargs)

    def calls(self) -> list[str]:
        return self.record.read_text().splitlines() if self.record.exists() else []


@pytest.fixture
def lab(tmp_path):
    return Lab(tmp_path)


# --- status is judged by its text -----------------------------------------------------------

@pytest.mark.parametrize("text, running", [
    ("lvs is running", True),
    ("INFO:  Running OK", True),  # hto-mapfuncs, resource-agents wrappers
    ("OK", True),
    ("mon (pid 12) is running...", True),
    ("lvs is not running", False),
    ("NOT   RUNNING", False),
    ("not running", False),
    ("stopped", False),
    ("INFO:  Resource is stopped", False),
    ("", False),
    ("nothing running", True),  # "not" must be followed by a blank: quirk of the case pattern
    ("is not\nrunning", True),  # the blank must be a space, not a newline
    ("is not \nrunning", False),
    ("ok", False),  # *OK* is case-sensitive
])
def test_status_is_judged_by_text_like_we_own_resource(text, running):
    assert judge_status_output(text) is running


def _we_own_resource_case() -> str:
    """The three case arms of ResourceManager's we_own_resource, as installed."""
    text = Path(RESOURCE_MANAGER).read_text()
    body = text[text.index("we_own_resource()"):]
    body = body[body.index("case"):body.index("esac")]
    arms = [line.strip() for line in body.splitlines()[1:] if ")" in line]
    assert len(arms) == 3, arms
    return "\n".join(arms)


@pytest.mark.skipif(not os.path.exists(RESOURCE_MANAGER), reason="needs Debian's heartbeat")
@settings(max_examples=150)
@given(st.text(alphabet="nNoOtTrRuUiIgGK \n\tx", max_size=24))
def test_status_judgement_matches_resource_managers_case_statement(text):
    """Differential: the real case arms, run by /bin/sh, on random status texts."""
    arms = _we_own_resource_case().replace("return 3", "echo no").replace("return 0", "echo yes")
    program = f'case "$1" in\n{arms}\nesac'
    shell = subprocess.run(["/bin/sh", "-c", program, "sh", text], capture_output=True,
                           text=True, check=True).stdout.strip()
    assert judge_status_output(text) is (shell == "yes")


# --- order, arguments, debug file -----------------------------------------------------------

def test_seed_group_starts_left_to_right_and_stops_right_to_left(lab):
    for name in ("first", "second", "third"):
        lab.script(name)
    executor = lab.executor("node1 first::a::b second third::x\n")
    result = executor.start_group("first::a::b")  # the key is the whole first resource
    assert result.ok and [o.action for o in result.outcomes] == ["start"] * 3
    assert lab.calls() == [
        "first a b status", "first a b start",
        "second status", "second start",
        "third x status", "third x start"]
    assert executor.group_status("first::a::b") == "ALL"
    lab.record.unlink()
    result = executor.stop_group("first::a::b")
    assert result.ok
    assert lab.calls() == ["third x stop", "second stop", "first a b stop"]
    assert executor.group_status("first::a::b") == "NONE"
    debug = lab.debugfile.read_text()
    assert "first started" in debug and "third stopped" in debug  # stdout and stderr


def test_takegroup_skips_what_already_runs(lab):
    lab.script("first")
    lab.script("second")
    (lab.state / "first").touch()
    executor = lab.executor("node1 first second\n")
    result = executor.start_group("first")
    assert result.ok
    assert [(o.resource.name, o.skipped) for o in result.outcomes] == [
        ("first", True), ("second", False)]
    assert lab.calls() == ["first status", "second status", "second start"]
    assert executor.key_running("first") and lab.calls()[-1] == "first status"
    assert executor.group_status("first") == "ALL"


def test_arguments_reach_the_script_verbatim_never_through_a_shell(lab, tmp_path):
    lab.script("first")
    trap = tmp_path / "pwned"
    key = f"first::a;touch::$(touch${{IFS}}{trap})::`id`"
    executor = lab.executor(f"node1 {key}\n")
    assert executor.start_group(key).ok
    assert lab.calls()[-1] == f"first a;touch $(touch${{IFS}}{trap}) `id` start"
    assert not trap.exists()


def test_scripts_get_heartbeats_environment(lab):
    lab.script("envdump", "#!/bin/sh\nenv > \"$STATE_DIR/env\"\necho OK\n")
    executor = lab.executor("node1 envdump\n", node_name="LVS1.domain.com",
                            environment={"EXTRA": "1"})
    executor.start_group("envdump")
    env = dict(line.split("=", 1) for line in (lab.state / "env").read_text().splitlines()
               if "=" in line)
    assert env["HA_CURHOST"] == "lvs1.domain.com"
    assert env["HA_DIR"] == str(lab.config_dir)
    assert env["HA_RESOURCEDIR"] == str(lab.resource_d)
    assert env["HA_DEBUGLOG"] == str(lab.debugfile)
    assert env["HA_STOPRETRYMAX"] == "10"
    assert env["OCF_ROOT"] == "/usr/lib/ocf"
    assert env["EXTRA"] == "1"


def test_scripts_get_nothing_else_of_the_daemons_environment(lab, monkeypatch):
    """Issue 19: scripts inherited the daemon's whole environment (a root shell's, Python's own
    variables).  They get what 3.0.6 under Debian's unit gives them: systemd's PATH and locale,
    heartbeat's HA_* variables, ha.cf's env lines; and the knobs of our own resource scripts."""
    for name, value in {"SSH_AUTH_SOCK": "/tmp/agent", "PYTHONPATH": "/tmp/evil",
                        "LD_PRELOAD": "/tmp/evil.so", "PATH": "/tmp/evil:/usr/bin",
                        "LANG": "C.UTF-8", "LC_TIME": "C", "LVS_COMPAT_RUN_DIR": "/tmp/run",
                        "IPVSADM": "/usr/sbin/ipvsadm"}.items():
        monkeypatch.setenv(name, value)
    lab.script("envdump", "#!/bin/sh\nenv > \"$STATE_DIR/env\"\necho OK\n")
    lab.executor("node1 envdump\n", node_name="lvs1").start_group("envdump")
    env = dict(line.split("=", 1) for line in (lab.state / "env").read_text().splitlines()
               if "=" in line)
    env.pop("PWD", None)  # the shell's own
    env.pop("SHLVL", None)
    assert env == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8", "LC_TIME": "C", "LVS_COMPAT_RUN_DIR": "/tmp/run",
        "IPVSADM": "/usr/sbin/ipvsadm",
        "HA_DATEFMT": "%Y/%m/%d_%T\t", "HA_cluster_type": "heartbeat",
        "HA_DIR": str(lab.config_dir), "HA_RESOURCEDIR": str(lab.resource_d),
        "HA_FUNCS": str(lab.config_dir / "shellfuncs"), "HA_DEBUGLOG": str(lab.debugfile),
        "HA_STOPRETRYMAX": "10", "OCF_ROOT": "/usr/lib/ocf", "HA_CURHOST": "lvs1",
        "RECORD": str(lab.record), "STATE_DIR": str(lab.state)}


# --- failures ---------------------------------------------------------------------------------

def test_failed_start_releases_the_whole_group_in_reverse(lab):
    lab.script("first")
    lab.script("broken", RECORDER.replace("${START_RC:-0}", "3"))
    lab.script("third")
    executor = lab.executor("node1 first broken third\n")
    result = executor.start_group("first")
    assert not result.ok and result.released and not result.still_running
    assert [(o.resource.name, o.action, o.ok) for o in result.outcomes] == [
        ("first", "start", True), ("broken", "start", False),
        ("third", "stop", True), ("broken", "stop", True), ("first", "stop", True)]
    assert result.failed[0].exit_code == 3
    assert result.failed[0].error.startswith("Return code 3 from ")
    assert "third start" not in lab.calls()


def test_a_failed_stop_is_tried_once_and_reported_still_running(lab):
    # the retries are the coordinator's one stop-retry policy (groups.py,
    # test_heartbeat_resource_machines.py): the executor stops once and says what is left
    lab.script("stuck", "#!/bin/sh\necho \"stuck $*\" >> \"$RECORD\"\n"
                        "case \"$1\" in status) echo running;; stop) exit 1;; esac\n")
    executor = lab.executor("node1 stuck\n")
    result = executor.stop_group("stuck")
    assert not result.ok
    assert [r.name for r in result.still_running] == ["stuck"]
    assert lab.calls() == ["stuck stop", "stuck status"]
    assert "still running" in result.outcomes[0].error


def test_failed_stop_of_a_stopped_resource_only_warns(lab):
    lab.script("lazy", "#!/bin/sh\ncase \"$1\" in status) echo stopped;; stop) exit 1;; esac\n")
    executor = lab.executor("node1 lazy\n")
    result = executor.stop_group("lazy")
    assert result.ok and not result.still_running
    assert "not LSB-compliant" in result.outcomes[0].error


def test_hung_start_script_is_killed_with_its_children_and_the_group_released(lab):
    lab.script("first")
    lab.script("hang", "#!/bin/sh\ncase \"$1\" in\n"
                       "  status) echo stopped;;\n"
                       "  start) sleep 60 & echo $! > \"$STATE_DIR/child\"; wait;;\n"
                       "esac\n")
    executor = lab.executor("node1 first hang\n",
                            timeouts=AgentTimeouts(start_s=0.5, kill_grace_s=0.2))
    started = time.monotonic()
    result = executor.start_group("first")
    assert time.monotonic() - started < 5
    assert not result.ok and result.released
    hung = result.outcomes[1]
    assert hung.timed_out and hung.exit_code is None and "killed after 0.5 s" in hung.error
    child = int((lab.state / "child").read_text())

    def child_state() -> str:  # a killed orphan may stay a zombie if PID 1 does not reap
        try:
            return Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return "gone"

    deadline = time.monotonic() + 2
    while child_state() not in ("gone", "Z") and time.monotonic() < deadline:
        time.sleep(0.05)
    state = child_state()
    assert state in ("gone", "Z")
    assert "killed after 0.5 s" in lab.debugfile.read_text()


def test_hung_status_counts_as_not_running(lab):
    lab.script("slow", "#!/bin/sh\nsleep 30\necho running\n")
    executor = lab.executor("node1 slow\n", timeouts=AgentTimeouts(status_s=0.3,
                                                                   kill_grace_s=0.1))
    started = time.monotonic()
    outcome = executor.status_outcome(executor.haresources.groups[0].resources[0])
    assert time.monotonic() - started < 3
    assert not outcome.ok and outcome.timed_out


def test_a_daemon_left_holding_stdout_does_not_block_the_start(lab):
    lab.script("daemon", "#!/bin/sh\ncase \"$1\" in status) echo stopped;;\n"
                         "start) sleep 3 & echo launched; exit 0;; esac\n")
    executor = lab.executor("node1 daemon\n")
    started = time.monotonic()
    result = executor.start_group("daemon")
    assert result.ok and time.monotonic() - started < 2
    assert "launched" in result.outcomes[0].output


# --- script lookup and the start-up check ------------------------------------------------------

def test_lookup_order_resource_d_then_init_d_executable_files_only(lab):
    lab.script("lvs", where=lab.init_d)
    dirs = (str(lab.resource_d), str(lab.init_d))
    assert locate_script("lvs", dirs) == str(lab.init_d / "lvs")
    (lab.resource_d / "lvs").write_text("not executable")
    assert locate_script("lvs", dirs) == str(lab.init_d / "lvs")
    lab.script("lvs")
    assert locate_script("lvs", dirs) == str(lab.resource_d / "lvs")
    (lab.resource_d / "dir").mkdir()
    assert locate_script("dir", dirs) is None
    assert locate_script("../init.d/lvs", dirs) is None


def test_default_lookup_covers_the_seeds_rc_d_init_d(lab):
    executor = GroupExecutor(str(lab.config_dir), parse_haresources("n x\n"))
    assert executor.search_dirs == (str(lab.resource_d), "/etc/init.d", "/etc/rc.d/init.d")


def test_missing_script_is_a_located_error_before_anything_starts(lab):
    lab.script("lvs")
    text = "# seed\nlvs1.domain.com 10.0.0.3 lvs \\\n   mon\n"
    executor = lab.executor(text)
    with pytest.raises(ConfigError) as error:
        executor.check()
    assert str(error.value).startswith(f"{lab.config_dir / 'haresources'}:3:4: "
                                       "Cannot locate resource script mon (looked in ")
    assert not lab.calls()


def test_builtins_are_never_looked_up_but_their_arguments_are_checked(lab):
    haresources = parse_haresources(
        "n1 10.0.0.3 IPaddr2::10.0.0.4/24 SendArp::10.0.0.3/eth0 Filesystem::/dev/sda1::/data\n"
        "n2 Filesystem::/dev/sdb1\n", "haresources")
    with pytest.raises(ConfigError, match=r"^haresources:2:4: Filesystem::/dev/sdb1: Filesystem "
                                          r"takes device::directory"):
        check_group_scripts(haresources, str(lab.config_dir), ())
    check_group_scripts(parse_haresources("n1 SendArp::10.0.0.3/eth0\n"), "/nonexistent", ())
    with pytest.raises(ConfigError, match="SendArp needs IP/INTERFACE"):
        check_group_scripts(parse_haresources("n1 SendArp::10.0.0.3\n"), "/nonexistent", ())


def test_unknown_group_key_is_a_key_error(lab):
    executor = lab.executor("node1 first\n")
    with pytest.raises(KeyError, match="no resource group with key"):
        executor.start_group("second")


def test_sending_gratuitous_arp_imports_no_scapy():
    """Start-up and failback cost: the frames are built with struct and sent on an AF_PACKET
    socket; scapy (0.2 s of import here, GIL-bound, several times that under emulation) is
    never imported by the executor or the announcer."""
    code = ("import sys, lvs_compat.heartbeat.agents, lvs_compat.addresses as a\n"
            "sent = a.ArpAnnouncer().announce('127.0.0.9', 'lo', '00:00:00:00:00:00',\n"
            "                                 a.ArpSettings(10, 1, background=False))\n"
            "print(sent.frames_sent, sent.error)\n"
            "print(sorted(m for m in sys.modules if m.startswith('scapy')))")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == ["2 None", "[]"]     # a request and a reply went out
    source = (Path(__file__).parent.parent / "lvs_compat" / "addresses.py").read_text()
    assert "import scapy" not in source and "from scapy" not in source


def test_executor_from_a_config_directory_takes_debugfile_logfile_and_env_lines(tmp_path):
    from lvs_compat.config.hadir import load_ha_dir
    ha_d = tmp_path / "ha.d"
    (ha_d / "resource.d").mkdir(parents=True)
    (ha_d / "ha.cf").write_text(
        f"debugfile {tmp_path}/ha-debug\nlogfile {tmp_path}/ha-log\nlogfacility local0\n"
        "env SITE=lab\nbcast eth0\nnode lvs1 lvs2\n")
    (ha_d / "haresources").write_text("lvs1 envdump\n")
    (ha_d / "authkeys").write_text("auth 1\n1 crc\n")
    (ha_d / "authkeys").chmod(0o600)
    script = ha_d / "resource.d" / "envdump"
    script.write_text(f"#!/bin/sh\nenv > {tmp_path}/env\n")
    script.chmod(0o755)
    executor = GroupExecutor.from_ha_dir(load_ha_dir(str(ha_d)), "LVS2")
    executor.check()
    assert executor.start_group("envdump").ok
    env = dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines()
               if "=" in line)
    assert (env["SITE"], env["HA_LOGFACILITY"], env["HA_CURHOST"]) == ("lab", "local0", "lvs2")
    assert env["HA_DEBUGLOG"] == f"{tmp_path}/ha-debug"
    assert env["HA_LOGFILE"] == f"{tmp_path}/ha-log"
    assert env["HA_LOGD"] == "no"  # use_logd off, as 3.0.6 tells scripts (hb_resource.c)


class _SilentAnnouncer:
    def announce(self, ip, ifname, mac, settings):
        pass


def test_sendarp_and_forked_arp_state_files_are_never_written_through_a_symlink(
        tmp_path, monkeypatch):
    """Issue 19: HA_RSCTMP (/run/resource-agents) is world-writable in 3.0.6; the SendArp marker
    and the send_arp pid file were opened through a symbolic link found at their name."""
    from lvs_compat import addresses

    victims = {name: tmp_path / f"victim-{name}" for name in ("marker", "pidfile")}
    state = tmp_path / "rsctmp"
    state.mkdir()
    (state / "SendArp_10.0.0.3").symlink_to(victims["marker"])        # dangling: created?
    victims["pidfile"].write_text("precious\n")
    (state / "send_arp-10.0.0.3").symlink_to(victims["pidfile"])
    agent = addresses.SendArpAgent(_SilentAnnouncer(), state_dir=str(state))
    assert agent.start("10.0.0.3/lo").ok
    assert not victims["marker"].exists() and not (state / "SendArp_10.0.0.3").is_symlink()
    assert agent.status("10.0.0.3/lo").ok

    children = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid
    monkeypatch.setattr(os, "fork", fork)
    announcer = _SilentAnnouncer()

    def start():
        announcer.announce("10.0.0.3", "lo", "00:00:00:00:00:00", addresses.ArpSettings(100, 1))
        return addresses.AgentResult(True, "started")
    result = addresses._with_forked_arp(announcer, str(state), start)
    monkeypatch.undo()
    assert result.ok and len(children) == 1
    assert os.waitpid(children[0], 0)[1] == 0
    assert victims["pidfile"].read_text() == "precious\n"
