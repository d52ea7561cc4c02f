"""Every ha.cf directive our heartbeat does not honour is said, at its line, by ``lvs-compat
check`` and by the daemon's start-up (issue 16 item 3: an operator who relied on it must not
lose it without a word)."""

import subprocess
import sys
import textwrap

from lvs_compat.config.hacf import DIRECTIVES, parse_ha_cf
from lvs_compat.config.hacf_honoured import NOT_HONOURED

from conftest import REPO

# what ours does with every other directive of 3.0.6 (a new directive must be placed here or in
# NOT_HONOURED: the completeness test below fails otherwise)
HONOURED = {
    "keepalive", "deadtime", "warntime", "initdead", "deadping", "hopfudge", "debug",
    "rtprio", "realtime", "max_rexmit_delay", "log_badpack", "hbgenmethod", "msgfmt",
    "uuidfrom", "cluster", "logfile", "debugfile", "logfacility", "node", "udpport", "baud",
    "nice_failback", "auto_failback", "autojoin", "env", "quorum_server", "bcast", "ucast",
    "mcast", "serial", "ping", "ping_group", "respawn", "failfast", "apiauth",
    # off: honoured; on: refused by the daemon (v1 only), warned by the parser
    "pacemaker", "crm",
    # Pacemaker-only: C ignores them too with pacemaker off
    "crm_daemon_dir", "crmd_spawns_pengine", "record_config_changes", "record_pengine_inputs",
    "enable_config_writes",
    # only when set to what ours does not do (listed in NOT_HONOURED with a predicate)
}

EVERY_UNHONOURED = """\
    logfile /var/log/ha-log
    node nodea nodeb
    bcast eth1
    watchdog /dev/watchdog
    stonith_host * baytech 10.0.0.3 mylogin mysecretpassword
    stonith baytech /etc/ha.d/conf/stonith.baytech
    apiauth ipfail uid=hacluster
    ping6 fe80::1
    ucast6 eth1 fe80::2
    use_logd yes
    conn_logd_time 60
    use_apphbd on
    syslogmsgfmt false
    coredumps true
    coreroot /var/lib/heartbeat/cores
    memreserve 6500
    compression bz2
    compression_threshold 2
    traditional_compression off
    respawn hacluster /usr/lib/heartbeat/ipfail >/tmp/log 2>&1
    mcast6 eth1 ff02::1 694 1 0
"""

EXPECTED = [
    "ha.cf:4:1: warning: watchdog: not honoured by lvs-compat heartbeat: the watchdog device is "
    "never opened, so a hung heartbeat does not reboot this node",
    "ha.cf:5:1: warning: stonith_host: not honoured by lvs-compat heartbeat: a dead peer is "
    "never fenced (reset or powered off) before its resource groups are taken over",
    "ha.cf:6:1: warning: stonith: not honoured by lvs-compat heartbeat: a dead peer is never "
    "fenced (reset or powered off) before its resource groups are taken over",
    "ha.cf:8:1: warning: ping6: not honoured by lvs-compat heartbeat: IPv6 ping nodes are not "
    "implemented: the node always counts as dead",
    "ha.cf:9:1: warning: ucast6: not honoured by lvs-compat heartbeat: IPv6 media are not "
    "implemented: the daemon refuses to start",
    "ha.cf:10:1: warning: use_logd: not honoured by lvs-compat heartbeat: log lines go to "
    "logfile, debugfile and logfacility (else stderr), never to ha_logd",
    "ha.cf:11:1: warning: conn_logd_time: not honoured by lvs-compat heartbeat: there is no "
    "ha_logd connection to retry",
    "ha.cf:12:1: warning: use_apphbd: not honoured by lvs-compat heartbeat: heartbeat does not "
    "register with apphbd",
    "ha.cf:13:1: warning: syslogmsgfmt: not honoured by lvs-compat heartbeat: log files are "
    "always written in syslog format",
    "ha.cf:14:1: warning: coredumps: not honoured by lvs-compat heartbeat: core dumps are left "
    "to the system's settings (ulimit, core_pattern)",
    "ha.cf:15:1: warning: coreroot: not honoured by lvs-compat heartbeat: core dumps are left to "
    "the system's settings (ulimit, core_pattern)",
    "ha.cf:16:1: warning: memreserve: not honoured by lvs-compat heartbeat: no memory is "
    "preallocated",
    "ha.cf:17:1: warning: compression: not honoured by lvs-compat heartbeat: messages are never "
    "compressed (v1 messages stay far below the threshold)",
    "ha.cf:18:1: warning: compression_threshold: not honoured by lvs-compat heartbeat: messages "
    "are never compressed (v1 messages stay far below the threshold)",
    "ha.cf:19:1: warning: traditional_compression: not honoured by lvs-compat heartbeat: "
    "messages are never compressed (v1 messages stay far below the threshold)",
    "ha.cf:20:1: warning: respawn: the command is run without a shell (its words split at "
    "blanks); heartbeat 3.0.6 hands it to /bin/sh, so [&>] means something else here",
    "ha.cf:21:1: warning: mcast6: not honoured by lvs-compat heartbeat: IPv6 media are not "
    "implemented: the daemon refuses to start",
]


def unhonoured(config):
    return [str(w) for w in config.warnings if "not honoured" in w.message
            or "without a shell" in w.message]


def test_every_directive_of_3_0_6_is_either_honoured_or_warned_about():
    assert set(NOT_HONOURED) <= DIRECTIVES
    assert HONOURED | set(NOT_HONOURED) == DIRECTIVES, DIRECTIVES - HONOURED - set(NOT_HONOURED)
    assert not HONOURED & set(NOT_HONOURED)


def test_each_line_ours_does_not_honour_gets_one_located_warning():
    config = parse_ha_cf(textwrap.dedent(EVERY_UNHONOURED), "ha.cf")
    assert unhonoured(config) == EXPECTED


def test_settings_that_ask_for_what_ours_does_anyway_are_not_warned():
    config = parse_ha_cf(textwrap.dedent("""\
        logfile /var/log/ha-log
        node nodea nodeb
        bcast eth1
        use_logd off
        use_apphbd no
        syslogmsgfmt on
        respawn hacluster /usr/libexec/heartbeat/ipfail -v --opt=1
        failfast root /usr/local/sbin/watcher
        crm off
        """), "ha.cf")
    assert unhonoured(config) == []


def test_lvs_compat_check_and_the_daemon_start_print_the_same_located_lines(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    text = textwrap.dedent(EVERY_UNHONOURED).replace("ucast6 eth1 fe80::2\n", "") \
        .replace("mcast6 eth1 ff02::1 694 1 0\n", "").replace("bcast eth1", "bcast nosuchif0") \
        .replace("logfile /var/log/ha-log", f"logfile {tmp_path / 'ha-log'}") \
        .replace("node nodea nodeb", "node nodea nodeb\ncrm off")
    (etc / "ha.cf").write_text(text)
    (etc / "haresources").write_text("")
    (etc / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (etc / "authkeys").chmod(0o600)
    path = etc / "ha.cf"
    expected = [f"{path}:{line.split(':', 2)[1]}:{line.split(':', 2)[2]}"
                for line in unhonoured(parse_ha_cf(text, "ha.cf"))]
    assert len(expected) == len(EXPECTED) - 2 and expected[0].startswith(f"{path}:5:1: ")

    check = subprocess.run([sys.executable, str(REPO / "bin" / "lvs-compat"), "check",
                            "--ha-dir", str(etc)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert [line for line in check.stderr.splitlines() if line in expected] == expected

    # ipfail at its pre-3.0.6-13 path, a missing interface: the start ends after its
    # warnings, before anything runs
    started = subprocess.run([sys.executable, str(REPO / "bin" / "heartbeat"), "--foreground",
                              "-v", "--config-dir", str(etc), "--state-dir",
                              str(tmp_path / "state"), "--run-dir", str(tmp_path / "run"),
                              "--node-name", "nodea"],
                             capture_output=True, text=True, timeout=30)
    assert started.returncode == 1
    logged = [line.split(": ", 2)[2] for line in started.stderr.splitlines()
              if "not honoured" in line or "without a shell" in line]
    assert logged == [f"WARN: {line}" for line in expected]
