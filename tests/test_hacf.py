"""ha.cf as heartbeat 3.0.6 reads it: the operator's files, each rule of SPEC §1a, every refusal."""

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lvs_compat.config.libc import c_atoi, c_scan_hex
from lvs_compat.config.errors import ConfigError
from lvs_compat.config.hacf import (Bcast, Mcast, Mcast6, Ping, PingGroup, Serial, Ucast, Ucast6,
                                    load_ha_cf, parse_boolean, parse_ha_cf, parse_msec)

SEED_HA_CONF = """\
#
#       keepalive: how many seconds between heartbeats
#
keepalive 2
#
#       deadtime: seconds-to-declare-host-dead
#
deadtime 10
#       hopfudge maximum hop count minus number of nodes in config
hopfudge 1
#
#       What UDP port to use for udp or ppp-udp communication?
#
udpport 1001
#       What interfaces to heartbeat over?
udp     eth0
#
#       Facility to use for syslog()/logger (alternative to log/debugfile)
#
logfacility     local0
#
#       Tell what machines are in the cluster
#       node    nodename ...    -- must match uname -n
node    lvs1.domain.com
node    lvs2.domain.com
"""

# The smallest file heartbeat accepts; tests append the directive under study.
BASE = "node lvs1\nbcast eth0\nlogfacility local0\n"


def parse(text: str):
    return parse_ha_cf(text, "/etc/ha.d/ha.cf")


def refused(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value


def messages(config) -> list[str]:
    return [warning.message for warning in config.warnings]


# --- the seed's file ------------------------------------------------------------------------

def test_seed_cluster_heartbeats_every_2s_over_eth0_port_1001_and_declares_death_after_10s():
    config = parse(SEED_HA_CONF)
    assert (config.keepalive_ms, config.deadtime_ms) == (2000, 10000)
    assert (config.warntime_ms, config.initdead_ms, config.deadping_ms) == (5000, 20000, 10000)
    assert config.udp_port == 1001 and config.hopfudge == 1 and config.logfacility == "local0"
    assert [node.name for node in config.nodes] == ["lvs1.domain.com", "lvs2.domain.com"]
    assert config.media == (Bcast("eth0", 1001, config.media[0].location),)
    assert (config.media[0].location.line, config.media[0].location.column) == (16, 9)
    assert config.auto_failback == "legacy" and config.manages_resources


def test_seed_udp_line_is_bcast_with_heartbeats_own_warning():
    config = parse(SEED_HA_CONF)
    assert config.directives[4].name == "udp" and config.directives[4].args == ("eth0",)
    udp_warning = config.warnings[0]
    assert "directive 'udp' replaced by 'bcast'" in udp_warning.message
    assert (udp_warning.location.line, udp_warning.location.column) == (16, 1)
    assert any("Deprecated 'legacy' auto_failback" in m for m in messages(config))


def test_model_is_plain_json(tmp_path):
    path = tmp_path / "ha.cf"
    path.write_text(SEED_HA_CONF + "ucast eth0 10.0.0.2\nmcast eth1 225.0.0.1 694 1 0\n"
                    "ping_group gw 10.0.0.254 10.0.0.253\nrespawn hacluster /usr/lib/x -v\n")
    config = load_ha_cf(str(path))
    encoded = json.loads(json.dumps(dataclasses.asdict(config)))
    assert encoded["media"][1] == {"interface": "eth0", "peer": "10.0.0.2", "udp_port": 1001,
                                   "location": {"path": str(path), "line": 26, "column": 7},
                                   "kind": "ucast"}


def test_node_names_are_lowercased_and_has_node_ignores_case():
    config = parse("node LVS1.Domain.COM\nbcast eth0\n")
    assert config.nodes[0].name == "lvs1.domain.com"
    assert config.has_node("lvs1.DOMAIN.com") and not config.has_node("lvs2.domain.com")


# --- lexical rules (SPEC §1a rules 1-6) -----------------------------------------------------

@pytest.mark.parametrize("line, keepalive_ms", [
    ("keepalive 2#3", 2000),               # '#' anywhere starts a comment
    ("keepalive 2 # seconds", 2000),
    ("   \tkeepalive 2", 2000),            # leading blanks
    ("keepalive 2\r3", 2000),              # a CR ends the line
    ("keepalive 2 3", 3000),               # list directive: the last token wins
    ("keepalive ,2,,3", 3000),             # commas are delimiters too
])
def test_comments_blanks_and_delimiters(line, keepalive_ms):
    assert parse(BASE + "deadtime 30\n" + line + "\n").keepalive_ms == keepalive_ms


def test_node_list_is_split_on_spaces_and_commas():
    config = parse("node a, b c\nbcast eth0 eth1\n")
    assert [node.name for node in config.nodes] == ["a", "b", "c"]
    assert [medium.interface for medium in config.media] == ["eth0", "eth1"]
    assert [node.location.column for node in config.nodes] == [6, 9, 11]


def test_directives_are_case_sensitive():
    error = refused(BASE + "Keepalive 2\n")
    assert error.message == "Illegal directive [Keepalive]"
    assert (error.line, error.column) == (4, 1)


def test_500_space_ms_is_two_tokens_and_ms_alone_is_no_time():
    error = refused(BASE + "keepalive 500 ms\n")
    assert error.message == "keepalive time [ms] is invalid"
    assert (error.line, error.column) == (4, 15)


def test_list_directive_without_value_is_ignored_like_heartbeat():
    config = parse(BASE + "keepalive\n")
    assert config.keepalive_ms == 1000
    assert "keepalive without a value is ignored" in messages(config)


def test_whole_line_media_split_on_whitespace_only():
    error = refused("node a\nucast eth0,10.0.0.2\n")
    assert error.message == "ucast: [eth0,10.0.0.2] missing target IP address/hostname"
    config = parse("node a\nucast eth0 10.0.0.2 10.0.0.3\n")
    assert config.media == (Ucast("eth0", "10.0.0.2", 694, config.media[0].location),)
    assert any("one peer per line" in m for m in messages(config))


def test_normalpoll_is_compiled_out():
    assert refused(BASE + "normalpoll on\n").message == "Illegal directive [normalpoll]"


# --- time values (cl_get_msec) and other value types ----------------------------------------

@pytest.mark.parametrize("text, msec", [
    ("2", 2000), ("0.5", 500), ("500ms", 500), ("1500MS", 1500), ("1500msec", 1500),
    ("1500mSxyz", 1500), ("250000us", 250), ("250000usec", 250), ("499us", 0), ("501us", 1),
    (".5", 500), ("1.", 1000), ("1.2.3", 1200), ("0.0004", 0), ("0.0005", 1), ("10", 10000),
    ("2s", None), ("1m", None), ("-1", None), ("ms", None), ("1e3", None), ("x", None),
])
def test_time_values(text, msec):
    assert parse_msec(text) == msec


@pytest.mark.parametrize("text, value", [
    ("true", True), ("ON", True), ("Yes", True), ("y", True), ("1", True),
    ("false", False), ("off", False), ("NO", False), ("n", False), ("0", False), ("2", None),
])
def test_booleans(text, value):
    assert parse_boolean(text) == value


def test_integers_are_read_with_atoi_and_trailing_garbage_is_reported():
    assert (c_atoi("12x"), c_atoi("x"), c_atoi(" -3")) == (12, 0, -3)
    config = parse(BASE + "hopfudge 3x\n")
    assert config.hopfudge == 3
    assert "hopfudge [3x] is read by atoi() as 3" in messages(config)


def test_the_wire_reads_hex_like_sscanf_lx():
    # 0x then no hex digit: strtoul reads the 0; nothing at all: sscanf matches nothing
    assert [c_scan_hex(text) for text in (" 0x1F;", "ff", "0xg", "", "g")] == [31, 255, 0, None,
                                                                              None]


@pytest.mark.parametrize("deadtime, initdead_ms, warntime_ms", [
    ("30", 30000, 15000),      # more than 10 s: initdead = deadtime
    ("10.001", 10001, 5000),
    ("10", 20000, 5000),       # 6 to 10 s: twice deadtime
    ("6", 12000, 3000),
    ("5.999", 12000, 2999),    # less than 6 s: 12 s
    ("2500ms", 12000, 1250),
])
def test_derived_initdead_and_warntime(deadtime, initdead_ms, warntime_ms):
    config = parse(BASE + f"keepalive 500ms\ndeadtime {deadtime}\n")
    assert (config.initdead_ms, config.warntime_ms) == (initdead_ms, warntime_ms)
    assert config.deadping_ms == config.deadtime_ms


def test_explicit_initdead_below_10s_is_only_a_warning():
    config = parse(BASE + "keepalive 1\ndeadtime 4\ninitdead 8\nwarntime 3\n")
    assert (config.initdead_ms, config.warntime_ms) == (8000, 3000)
    assert any("Initial dead time [8000 ms] may be too small" in m for m in messages(config))


def test_default_timing():
    config = parse(BASE)
    assert (config.keepalive_ms, config.deadtime_ms, config.warntime_ms) == (1000, 30000, 15000)
    assert (config.initdead_ms, config.deadping_ms, config.udp_port, config.baud) == (
        30000, 30000, 694, 19200)


def test_unset_directives_take_the_heartbeat_D_table_read_by_their_own_handlers():
    # "conn_logd_time 60" is seconds (60000 ms) while "max_rexmit_delay 250" is a plain number
    config = parse(BASE)
    assert (config.conn_logd_time_ms, config.max_rexmit_delay_ms, config.memreserve_kb) == (
        60000, 250, 6500)
    assert (config.pacemaker, config.realtime, config.traditional_compression) == (
        "off", True, False)
    assert (config.cluster, config.hopfudge, config.compression_threshold_kb) == ("linux-ha", 1, 2)
    assert (config.msgfmt, config.hbgenmethod, config.uuidfrom, config.autojoin) == (
        "classic", "file", "file", "none")
    assert config.auto_failback == "legacy"


# --- timing refusals ------------------------------------------------------------------------

@pytest.mark.parametrize("lines, message, line", [
    ("keepalive 2s", "keepalive time [2s] is invalid", 4),
    ("keepalive 0", "keepalive time [0] is invalid", 4),
    ("warntime 0", "Warn time [0] is invalid", 4),
    ("keepalive 2\ndeadtime 4", "Dead time [4000] is too small compared to keepalive [2000]", 5),
    ("keepalive 15", "Dead time [30000] is too small compared to keepalive [15000]", 4),
    ("deadtime 30\ninitdead 20", "Initial dead time [20000] is smaller than deadtime [30000]", 5),
    ("deadping 2", "Ping dead time [2000] is too small compared to keepalive [1000]", 4),
])
def test_timing_refusals(lines, message, line):
    error = refused(BASE + lines + "\n")
    assert (error.message, error.line) == (message, line)


# --- directive arguments --------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    ("hopfudge 256", "Invalid hopfudge [256] (must be 0-255)"),
    ("debug -1", "Invalid debug [-1] (must be 0-255)"),
    ("rtprio 100", "Invalid rtprio [100] (must be 1-99)"),
    ("memreserve 0", "Invalid memreserve [0] (must be >= 1)"),
    ("baud 1234", "invalid baudrate [1234] specified"),
    ("udpport 0", "invalid port [0] specified"),
    ("udpport ha", "invalid port [ha] specified"),
    ("logfacility LOCAL0", "Log facility(LOCAL0) not valid"),
    ("realtime maybe", "Invalid realtime value [maybe] (expected true/false, on/off, yes/no, "
                       "y/n or 1/0)"),
    ("auto_failback sometimes", "Invalid auto_failback [sometimes] (on, off or legacy)"),
    ("msgfmt NETSTRING", "Invalid msgfmt [NETSTRING] (must be classic or netstring)"),
    ("hbgenmethod random", "Invalid hbgenmethod [random] (must be file or time)"),
    ("uuidfrom uuid", "Invalid uuidfrom [uuid] (must be file or nodename)"),
    ("autojoin some", "Invalid autojoin directive [some]"),
    ("autojoin any", "R1 style resource management conflicts with autojoin set: unset autojoin "
                     "(haresources mode)"),
    ("compression lzma", "Unknown compression module [lzma] (installed: zlib, bz2)"),
    ("env =x", "set_env: invalid nvpair(=x)"),
    ("env FOO", "set_env: invalid nvpair(FOO)"),
    ("serial ttyS0", "Serial port not full pathname [ttyS0] in config file"),
    ("baud 9600\nbaud 19200", "Baudrate multiply specified"),
    ("watchdog /dev/watchdog\nwatchdog /dev/watchdog", "Watchdog device multiply specified"),
    ("pacemaker off\ncrm off", "pacemaker/crm directive used multiple times!"),
    ("pacemaker perhaps", "Invalid pacemaker value [perhaps] (expected true/false, on/off, "
                          "yes/no, y/n or 1/0)"),
    ("crm no\ncrm_daemon_dir /usr/lib/pacemaker", "If you specify crm_daemon_dir, it must come "
                                                  "before the pacemaker directive"),
    ("use_logd maybe", "Invalid use_logd value [maybe] (expected true/false, on/off, yes/no, "
                       "y/n or 1/0)"),
    ("respawn hacluster ipfail", "Client child command [ipfail] is not full pathname"),
    ("respawn hacluster", "Client child command [] is not full pathname"),
    ("stonith", "No Stonith type given"),
    ("stonith_host *", "No Stonith type given"),
    ("apiauth ipfail", "Invalid apiauth directive [ipfail]: Syntax: apiauth client "
                       "[uid=uidlist] [gid=gidlist]"),
    ("apiauth ipfail uid=a uid=b", "Duplicate uid list in apiauth"),
    ("apiauth ipfail owner=a", "Invalid apiauth directive [ipfail owner=a]: Missing uid or gid"),
    ("apiauth x uid=a\napiauth x gid=b", "Duplicate apiauth directive for API client x"),
])
def test_argument_refusals(line, message):
    assert refused(BASE + line + "\n").message == message


def test_logfacility_none_means_no_syslog_and_then_use_logd_off_is_refused():
    config = parse("node a\nbcast eth0\nlogfacility none\n")
    assert config.logfacility == "none" and config.use_logd
    error = refused("node a\nbcast eth0\nlogfacility none\nuse_logd no\n")
    assert error.message == "No log entry found in ha.cf and use_logd is set to off"
    assert (error.line, error.column) == (4, 10)
    assert not parse("node a\nbcast eth0\nlogfile /var/log/ha-log\nuse_logd no\n").use_logd


def test_pacemaker_and_crm_are_accepted_but_recorded_as_leaving_v1_mode():
    for directive in ("pacemaker respawn", "crm yes"):
        config = parse(BASE + directive + "\n")
        assert not config.manages_resources
        assert any("lvs-compat only implements v1 mode" in m for m in messages(config))
    assert parse(BASE + "crm off\n").manages_resources
    assert parse(BASE + "autojoin any\npacemaker on\n").autojoin == "any"


def test_other_directives_are_recorded():
    config = parse(BASE + "cluster lab\nquorum_server qs\nrealtime off\nrtprio 5\n"
                   "watchdog /dev/watchdog\ndebug 2\nmsgfmt netstring\nhbgenmethod time\n"
                   "uuidfrom nodename\ncompression bz2\ncompression_threshold 4\n"
                   "traditional_compression yes\nmax_rexmit_delay 100\nconn_logd_time 500ms\n"
                   "memreserve 1000\nlog_badpack off\nsyslogmsgfmt off\ncoredumps no\n"
                   "coreroot /var/lib/heartbeat/cores\nuse_apphbd yes\nenv LANG=C TZ=UTC\n"
                   "record_config_changes on\nrecord_pengine_inputs off\nenable_config_writes y\n"
                   "debugfile /var/log/ha-debug\nlogfile /var/log/ha-log\nuse_logd yes\n"
                   "stonith baytech /etc/ha.d/conf/stonith.baytech\n"
                   "stonith_host KEN3 rps10 /dev/ttyS1 kathy 0\n"
                   "apiauth ping gid=haclient uid=alanr,root\n"
                   "failfast hacluster /usr/lib/heartbeat/ccm -x\n")
    assert (config.cluster, config.quorum_server) == ("qs", "qs")  # quorum_server overwrites
    assert (config.realtime, config.rtprio, config.watchdog) == (False, 5, "/dev/watchdog")
    assert (config.debug_level, config.msgfmt, config.hbgenmethod) == (2, "netstring", "time")
    assert (config.uuidfrom, config.compression, config.compression_threshold_kb) == (
        "nodename", "bz2", 4)
    assert (config.traditional_compression, config.max_rexmit_delay_ms) == (True, 100)
    assert (config.conn_logd_time_ms, config.memreserve_kb) == (500, 1000)
    assert (config.log_badpack, config.syslogmsgfmt, config.coredumps) == (False, False, False)
    assert (config.coreroot, config.use_apphbd, config.use_logd) == (
        "/var/lib/heartbeat/cores", True, True)
    assert config.env == (("LANG", "C"), ("TZ", "UTC"))
    assert (config.logfile, config.debugfile) == ("/var/log/ha-log", "/var/log/ha-debug")
    assert [(s.host, s.stonith_type, s.params) for s in config.stonith] == [
        (None, "baytech", "/etc/ha.d/conf/stonith.baytech"),
        ("ken3", "rps10", "/dev/ttyS1 kathy 0")]
    assert [(a.client, a.uids, a.gids) for a in config.apiauth] == [
        ("ping", ("alanr", "root"), ("haclient",))]
    child = config.respawn[0]
    assert (child.user, child.command, child.failfast) == (
        "hacluster", "/usr/lib/heartbeat/ccm -x", True)


# --- auto_failback / nice_failback ----------------------------------------------------------

@pytest.mark.parametrize("lines, effective", [
    ("auto_failback on", "on"), ("auto_failback OFF", "off"), ("auto_failback legacy", "legacy"),
    ("", "legacy"),
    ("nice_failback on", "legacy"),                    # the default re-applies legacy
    ("nice_failback on\nauto_failback on", "on"),
    ("auto_failback on\nnice_failback on", "off"),     # C tests the current flag
    ("auto_failback legacy\nnice_failback on", "legacy"),
])
def test_auto_failback_and_obsolete_nice_failback(lines, effective):
    assert parse(BASE + lines + "\n").auto_failback == effective


# --- media ----------------------------------------------------------------------------------

def test_every_medium_kind():
    config = parse("node a\nbaud 38400\nbcast eth0\nucast eth1 10.0.0.2\n"
                   "mcast eth2 225.0.0.1 694 1 0\nucast6 eth3 fe80::2\n"
                   "mcast6 eth4 ff12::1:2:3:4 694 1 1\nserial /dev/ttyS0\nping 10.0.0.254\n"
                   "ping6 fe80::1\nping_group GW 10.0.0.254 10.0.0.253\n")
    kinds = [(type(m), m.kind) for m in config.media]
    assert kinds == [(Bcast, "bcast"), (Ucast, "ucast"), (Mcast, "mcast"), (Ucast6, "ucast6"),
                     (Mcast6, "mcast6"), (Serial, "serial"), (Ping, "ping"), (Ping, "ping"),
                     (PingGroup, "ping_group")]
    mcast, serial, group = config.media[2], config.media[5], config.media[8]
    assert (mcast.group, mcast.port, mcast.ttl, mcast.loop) == ("225.0.0.1", 694, 1, 0)
    assert serial.baud == 38400 and config.media[7].ipv6
    assert (group.name, group.hosts) == ("GW", ("10.0.0.254", "10.0.0.253"))
    assert [n.name for n in config.ping_nodes] == ["10.0.0.254", "fe80::1", "gw"]


@pytest.mark.parametrize("line, message, column", [
    ("mcast eth0 225.0.0.1 694 1", "mcast [eth0] missing loop", 26),
    ("mcast eth0", "mcast [eth0] missing mcast address", 7),
    ("mcast eth0 10.0.0.1 694 1 0", "mcast [eth0] bad addr [10.0.0.1]", 12),
    ("mcast eth0 225.0.0.1 0 1 0", "mcast [eth0] bad port [0]", 22),
    ("mcast eth0 225.0.0.1 694 5 0", "mcast [eth0] bad ttl [5] (0-4)", 26),
    ("mcast eth0 225.0.0.1 694 1 2", "mcast [eth0] bad loop [2] (0 or 1)", 28),
    ("mcast6 eth0 fe80::1 694 1 0", "mcast6 [eth0] bad addr [fe80::1]", 13),
    ("ucast6 eth0 10.0.0.2", "ucast6 [eth0] bad addr [10.0.0.2]", 13),
    ("ucast", "ucast statement without device", 1),
    ("ping_group gw", "ping_group needs a name and at least one host", 1),
])
def test_media_refusals(line, message, column):
    error = refused("node a\n" + line + "\n")
    assert (error.message, error.line, error.column) == (message, 2, column)


def test_mcast_ttl_and_port_wrap_like_the_c_casts():
    medium = parse("node a\nmcast eth0 225.0.0.1 66230 260 257\n").media[0]
    assert (medium.port, medium.ttl, medium.loop) == (694, 4, 1)


def test_udpport_after_a_bcast_line_does_not_reach_it():
    config = parse("node a\nbcast eth0\nudpport 1001\nbcast eth1\nucast eth2 10.0.0.2\n")
    assert [m.udp_port for m in config.media] == [694, 694, 1001]
    assert config.udp_port == 1001
    assert any("udpport setting must precede media statements" in m for m in messages(config))


def test_baud_after_a_serial_line_does_not_reach_it():
    config = parse("node a\nserial /dev/ttyS0\nbaud 115200\nserial /dev/ttyS1\n")
    assert [m.baud for m in config.media] == [19200, 19200] and config.baud == 115200
    assert any("baudrate setting must precede media statements" in m for m in messages(config))


def test_only_ping_media_is_accepted_with_a_warning():
    config = parse("node a\nping 10.0.0.254\n")
    assert any("only ping media" in m for m in messages(config))


def test_at_most_64_media():
    refused_text = "node a\nbcast " + " ".join(f"eth{n}" for n in range(65)) + "\n"
    assert refused(refused_text).message == "Too many media specified (> 64)"
    assert len(parse("node a\nbcast " + " ".join(f"e{n}" for n in range(64))).media) == 64


def test_a_cluster_needs_nodes_and_media():
    assert refused("bcast eth0\n").message == "no nodes defined"
    assert refused("node a\n").message == "No heartbeat media defined"
    error = refused("")
    assert (error.message, error.line) == ("No heartbeat media defined", 0)


# --- robustness -----------------------------------------------------------------------------

PIECES = list("ab01.,# \t\r\n\f\x00mus\u00e9") + [
    "node ", "bcast ", "keepalive ", "deadtime ", "udp ", "ucast ", "mcast ", "ping_group ",
    "apiauth ", "respawn ", "baud ", "serial /dev/x", "initdead ", "warntime ", "225.0.0.1 ",
    "use_logd ", "logfacility ", "nice_failback ", "auto_failback ", "stonith_host ", "9" * 30]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60),
                 st.lists(st.sampled_from(PIECES), max_size=40).map("".join)))
def test_any_text_gives_a_model_or_a_located_error(text):
    try:
        config = parse(text)
    except ConfigError as error:
        assert error.line >= 0 and error.column >= 0 and str(error)
    else:
        json.dumps(dataclasses.asdict(config))
