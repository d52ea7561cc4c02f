"""mon.cf as mon 1.3.6 reads it: the recorded traces, the real daemon, operator stories and properties."""

import concurrent.futures
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SHARED, running_in_ci
from lvs_compat.config.errors import ConfigError
from lvs_compat.config.moncf import MonConfig, load_mon_cf, parse_mon_cf, perl_quotewords

RUN3 = SHARED / "reference" / "mon" / "traces" / "run3-config-parsing"
RUN_MON = Path(__file__).parent / "data" / "mon" / "run_mon.py"


def parse(text: str, path: str = "mon.cf") -> MonConfig:
    return parse_mon_cf(textwrap.dedent(text).lstrip("\n"), path)


def parse_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        parse(text)
    return error.value


def warning_messages(config: MonConfig) -> list[str]:
    return [warning.message for warning in config.warnings]


def warnings_at(config: MonConfig) -> dict[int, str]:
    return {warning.location.line: warning.message for warning in config.warnings}


# ---------------------------------------------------------------------------
# Shipped configs
# ---------------------------------------------------------------------------


def test_the_seed_mon_cf_gives_two_web_servers_each_feeding_lvs_alert():
    config = load_mon_cf(str(SHARED / "seed" / "examples" / "mon.cf"))
    assert config.warnings == ()
    assert [(group.name, group.hosts) for group in config.hostgroups] == [
        ("www1", ("www1.domain.com",)), ("www2", ("www2.domain.com",))]
    assert config.option("randstart").typed_value == 30.0
    assert config.option("maxprocs").value == "20"
    http = config.watch("www2").service("http")
    assert http.interval_seconds == 10.0
    assert (http.monitor.name, http.monitor.args, http.monitor.append_hosts) == ("http.monitor", (), True)
    (period,) = http.periods
    assert period.key == "wd {Sun-Sat}" and period.label is None
    upalert = period.alerts_of("upalert")[1]
    assert upalert.name == "lvs.alert"
    assert upalert.args == ("-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.2", "-W", "5", "-F", "dr")
    assert (upalert.location.line, upalert.location.column) == (45, 6)
    assert http.has_upalert
    assert config.hosts_for("www2") == ("www2.domain.com",)


def test_debians_default_mon_cf_parses_with_its_trap_service_and_two_periods():
    config = load_mon_cf("/etc/mon/mon.cf")
    assert config.warnings == ()
    assert config.option("dtlogging").typed_value is True
    assert config.option("randstart").typed_value == 60.0
    localhost = config.watch("localhost")
    assert [service.name for service in localhost.services] == ["trap", "ping", "http", "smtp"]
    trap = localhost.service("trap")
    assert (trap.interval_seconds, trap.monitor) == (None, None)  # trap only
    assert (trap.traptimeout_seconds, trap.trapduration_seconds) == (600.0, 3600.0)
    ping = localhost.service("ping")
    assert [period.key for period in ping.periods] == ["wd {Mon-Fri} hr {7am-10pm}", "wd {Sat-Sun}"]
    assert ping.periods[0].alertevery_seconds == 3600.0
    smtp = localhost.service("smtp")
    assert smtp.monitor.args == ("-t", "60")
    assert smtp.periods[0].numalerts == 10 and smtp.periods[0].key == ""
    assert smtp.periods[0].alerts[0].args == ("root@localhost",)
    assert json.loads(json.dumps(dataclasses.asdict(config)))["watches"][0]["name"] == "localhost"


# ---------------------------------------------------------------------------
# run3-config-parsing: every recorded outcome
# ---------------------------------------------------------------------------


def run3_cases():
    for row in (RUN3 / "RESULTS.tsv").read_text().splitlines():
        name, status, detail = row.split("\t")
        (config,) = (RUN3 / "configs").glob(name + ".*")
        yield pytest.param(config, status, detail, id=name.split("-")[0])


@pytest.mark.parametrize("config, status, detail", list(run3_cases()))
def test_every_recorded_run3_outcome(config, status, detail):
    if "exited during config load" in status:
        with pytest.raises(ConfigError) as raised:
            load_mon_cf(str(config))
        error = raised.value
        if detail.startswith("cf error:"):
            message, line = re.fullmatch(r"cf error: (.*), line (\d+)", detail).groups()
            assert (error.line, error.message) == (int(line), message.strip())
            assert error.column >= 1
        else:  # T21: mon pipes *.m4 files through m4; we refuse them, naming the file
            assert config.suffix == ".m4" and "m4" in error.message and error.line == 0
    else:
        model = load_mon_cf(str(config))
        for mon_warning in re.findall(r"Warning: (.*?)[.!]?$", detail):
            assert any(message.startswith(mon_warning) for message in warning_messages(model)), mon_warning


def mon_client_views(name):
    """What the harness asked the running mon (harness.sh: list group g g1 h lonely-host.example)."""
    results = RUN3 / "results"
    views = {"watch": set(), "descriptions": {}, "groups": {}}
    for line in (results / f"{name}.watch").read_text().splitlines()[:-1]:
        views["watch"].add(tuple(line.split()))
    for line in (results / f"{name}.descriptions").read_text().splitlines()[:-1]:
        group, service, description = line.split(" ", 2)
        views["descriptions"][(group, service)] = unescape(description)
    groups_file = results / f"{name}.groups"
    if groups_file.exists():
        replies = iter(groups_file.read_text().splitlines())
        for group in ("g", "g1", "h", "lonely-host.example"):
            reply = next(replies)
            if reply.startswith("hostgroup "):
                views["groups"][group] = tuple(reply.split()[2:])
                next(replies)  # 220 list group completed
            else:
                views["groups"][group] = None
    return views


def unescape(text: str) -> str:
    """mon's esc_str(): \\hh for blanks, quotes and non-ASCII; \\\\ for a backslash."""
    return re.sub(r"\\(\\|[0-9a-f]{2})", lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1), 16)), text)


def our_views(config: MonConfig, group_names):
    return {
        "watch": {(watch.name, service.name) for watch in config.watches for service in watch.services},
        "descriptions": {(watch.name, service.name): service.description or ""
                         for watch in config.watches for service in watch.services},
        "groups": {name: (config.hostgroup(name).hosts if config.hostgroup(name) else None)
                   for name in group_names},
    }


@pytest.mark.parametrize("name", [
    "T01-hostgroup-then-watch-without-blank-line", "T06-continuations-and-comments",
    "T12-watch-without-hostgroup", "T15-garbage-top-level-lines",
    "T20-period-label-and-hostgroup-inside-watch", "T23-blank-line-inside-watch",
])
def test_the_model_matches_what_the_running_mon_reported(name):
    mon = mon_client_views(name)
    ours = our_views(load_mon_cf(str(RUN3 / "configs" / f"{name}.cf")), mon["groups"])
    assert ours == mon


def test_t06_descriptions_keep_spaces_before_the_backslash_and_hashes():
    config = load_mon_cf(str(RUN3 / "configs" / "T06-continuations-and-comments.cf"))
    descriptions = {service.name: service.description for service in config.watch("g").services}
    assert descriptions == {"nospace": "abcdef", "withspace": "abc def", "commentinside": "part1 part2",
                            "inlinehash": "text # not a comment"}


def test_t01_the_hostgroup_swallows_the_watch_and_says_where():
    config = load_mon_cf(str(RUN3 / "configs" / "T01-hostgroup-then-watch-without-blank-line.cf"))
    assert config.watches == ()
    assert config.hostgroup("g1").hosts[:4] == ("127.0.0.1", "watch", "g1", "service")
    warnings = warnings_at(config)
    assert "so mon reads 'watch g1' as host names" in warnings[13]
    assert "so mon reads 'service s' as host names" in warnings[14]
    assert warnings[12] == "hostgroup g1 has no watch assigned to it!"


def test_t23_the_service_after_a_blank_line_is_dropped_with_a_warning():
    config = load_mon_cf(str(RUN3 / "configs" / "T23-blank-line-inside-watch.cf"))
    assert [service.name for service in config.watch("g").services] == ["first"]
    assert warnings_at(config) == {
        20: "service 'second' is ignored: the blank line at line 19 ended watch 'g'"}


def test_t22_redistribute_with_arguments_and_an_absolute_monitor_are_never_found():
    config = load_mon_cf(str(RUN3 / "configs" / "T22-redistribute-and-abs-monitor.cf"))
    warnings = warnings_at(config)
    assert set(warnings) == {18, 25}
    assert "'redistonly.alert' is only found when an alert line also names it" in warnings[18]
    assert "absolute path" in warnings[25]
    redistribute = config.watch("g").service("redist_with_args").redistribute
    assert (redistribute.name, redistribute.args) == ("redistonly.alert", ("arg1", "arg2"))


def test_t24_alertdepend_alone_and_a_misspelt_dependency_never_alert():
    config = load_mon_cf(str(RUN3 / "configs" / "T24-depend-vs-alertdepend.cf"))
    warnings = warnings_at(config)
    assert set(warnings) == {27, 33}
    assert "never sends this service's failure alerts" in warnings[27]
    assert "depend names g:no_such_service" in warnings[33]


# ---------------------------------------------------------------------------
# Operator stories
# ---------------------------------------------------------------------------


def test_errors_on_a_continued_line_point_at_the_token_where_it_was_written():
    error = parse_error("""
        hostgroup g 10.0.0.1

        watch g
            service http
                interval \\
                    90
    """)
    assert (error.line, error.column, error.message[:23]) == (6, 13, "invalid time interval '")


def test_a_global_option_does_not_close_a_hostgroup():
    config = parse("""
        hostgroup web 10.0.0.1
        maxprocs = 5
        10.0.0.2

        watch web
    """)
    assert config.hostgroup("web").hosts == ("10.0.0.1", "10.0.0.2")
    assert config.option("maxprocs").value == "5"


def test_an_alias_without_a_blank_line_eats_the_watch_after_it():
    config = parse("""
        hostgroup g 10.0.0.1

        alias Web servers
        alias web
        production web farm
        watch g
            service ping
    """)
    assert config.watches == ()
    assert config.aliases[0].lines == ("production web farm", "watch g", "service ping")
    assert "alias 'web' is not closed by a blank line, so mon reads 'watch g' as alias text" in \
        warning_messages(config)
    # "alias Web servers" is not an alias header (one word only), so mon ignores it.
    assert any(message.startswith("mon ignores 'alias Web servers'") for message in warning_messages(config))


def test_a_watch_before_its_hostgroup_gets_a_one_host_group_until_the_hostgroup_replaces_it():
    config = parse("""
        watch 10.0.0.7
            service ping

        hostgroup 10.0.0.7 10.0.0.7 10.0.0.8
    """)
    assert config.hosts_for("10.0.0.7") == ("10.0.0.7", "10.0.0.8")
    assert warning_messages(config)[0].startswith("watch group 10.0.0.7 defined with no corresponding hostgroup")


def test_a_hostgroup_defined_twice_keeps_the_second_and_says_so():
    config = parse("""
        hostgroup g a b

        hostgroup g c

        watch g
            service ping
    """)
    assert config.hostgroup("g").hosts == ("c",)
    assert "(the one at line 1 is discarded)" in warnings_at(config)[3]


def test_a_watch_without_services_is_not_kept_and_may_be_repeated():
    config = parse("""
        hostgroup g h

        watch g

        watch g
            service ping

        watch lonely
    """)
    assert [watch.name for watch in config.watches] == ["g"]
    assert warning_messages(config)[1:] == ["watch lonely has no service, so mon does not keep it",
                                            "hostgroup lonely has no watch assigned to it!"]


def test_time_values_need_a_unit_and_zero_is_refused_where_mon_tests_truth():
    base = "hostgroup g h\n\nwatch g\n    service s\n"
    assert parse(base + "        interval 1.5M\n").watch("g").service("s").interval_seconds == 90.0
    # dhmstos() returns the string "0.0" for 0.0s, which Perl finds true: accepted.
    assert parse(base + "        interval 0.0s\n").watch("g").service("s").interval_seconds == 0.0
    assert parse_error(base + "        interval 0s\n").message.startswith("invalid time interval '0'")
    assert parse_error(base + "        interval 0m\n").message.startswith("invalid time interval '0'")
    assert parse_error(base + "        interval 5 m\n").message.startswith("invalid time interval ''")
    assert parse("randstart = 0s\n").option("randstart").typed_value == 0.0  # globals only need to parse


def test_every_service_and_period_keyword_lands_in_the_model():
    config = parse("""
        dep_behavior = hm
        unack_summary = yes

        hostgroup web 10.0.0.1 10.0.0.2

        watch web
            service http
                interval 1m
                failure_interval 10s
                monitor http.monitor -u "/status page" 'it''s' ;;
                description Front page \\
                    (port 80) # not a comment
                allow_empty_group
                exclude_hosts 10.0.0.2 10.0.0.2
                exclude_period hr {2-3}
                randskew 5s
                redistribute relay.alert
                traptimeout 2h
                trapduration 1h
                depend SELF:ping && other:thing
                monitordepend SELF:ping
                dep_memory 1d
                MON_EXTRA=with spaces kept
                period Office: wd {Mon-Fri} hr {9am-5pm}
                    alert exit=2-255 mail.alert -S "web down" ops@example.com
                    upalert mail.alert ops@example.com
                    startupalert relay.alert
                    alertevery 1h observe_detail
                    alertafter 3
                    numalerts 5
                    no_comp_alerts
                    alerts_dont_count
                    alertexitrange 1-3
                    EXTRA_IN_PERIOD=1
                period
                    alert relay.alert
                    alertafter 2 5m
                    alertevery 30m summary
            service ping
                interval 30s

        watch other
            service thing
    """)
    http = config.watch("web").service("http")
    assert (http.interval_seconds, http.failure_interval_seconds) == (60.0, 10.0)
    assert http.monitor.args == ("-u", "/status page", "its") and not http.monitor.append_hosts
    assert http.description == "Front page (port 80) # not a comment"
    assert http.allow_empty_group and http.exclude_hosts == ("10.0.0.2",)
    assert http.exclude_period.spec == "hr {2-3}"
    assert (http.randskew_seconds, http.traptimeout_seconds, http.trapduration_seconds) == (5.0, 7200.0, 3600.0)
    assert http.redistribute.name == "relay.alert"
    assert http.depend == "web:ping && other:thing" and http.monitordepend == "web:ping"
    assert (http.dep_behavior, http.dep_memory_seconds, http.unack_summary) == ("hm", 86400.0, True)
    assert [(env.name, env.value) for env in http.env] == [("MON_EXTRA", "with spaces kept"),
                                                           ("EXTRA_IN_PERIOD", "1")]
    office, always = http.periods
    assert (office.key, office.label, office.period.spec) == ("Office", "Office", "wd {Mon-Fri} hr {9am-5pm}")
    alert = office.alerts[0]
    assert (alert.kind, alert.name, alert.exit_range) == ("alert", "mail.alert", (2, 255))
    assert alert.args == ("-S", "web down", "ops@example.com")
    assert alert.raw_args == '-S "web down" ops@example.com'
    assert [line.kind for line in office.alerts] == ["alert", "upalert", "startupalert"]
    assert (office.alertevery_seconds, office.alertevery_mode) == (3600.0, "observe_detail")
    assert (office.alertafter_consecutive, office.numalerts, office.alertexitrange) == (3, 5, (1, 3))
    assert office.no_comp_alerts and office.alerts_dont_count
    assert (always.key, always.period.always) == ("", True)
    assert (always.alertafter_count, always.alertafter_seconds) == (2, 300.0)
    assert (always.alertevery_seconds, always.alertevery_mode) == (1800.0, None)
    assert config.watch("web").service("ping").dep_behavior == "hm"  # global defaults apply to each service
    assert warning_messages(config) == ["watch group other defined with no corresponding hostgroup "
                                        "(mon makes one with the single host other)"]


def test_alertafter_count_in_time_must_leave_room_for_the_count():
    base = "hostgroup g h\n\nwatch g\n    service s\n        interval 10m\n        period\n"
    assert parse(base + "            alertafter 3 25m\n").watch("g").service("s").periods[0].alertafter_count == 3
    error = parse_error(base + "            alertafter 3 20m\n")
    assert (error.line, error.column) == (7, 24)
    assert error.message.startswith("interval & alertafter not sensible")
    # Only integers with h, m or s: no days, no decimals, lower case.
    for spec in ("2 1d", "1.5m", "5M"):
        assert parse_error(base + f"            alertafter {spec}\n").message == \
            f"invalid interval specification '{spec}'"
    # "00s" is a true string in Perl, "0s" is not.
    assert parse(base + "            alertafter 00s\n").watch("g").service("s").periods[0].alertafter_seconds == 0
    assert parse_error(base + "            alertafter 0s\n").message.startswith("invalid time interval '0s'")


def test_monitor_words_follow_text_parsewords_and_a_glued_semicolon_pair_is_a_different_program():
    base = "hostgroup g h\n\nwatch g\n    service s\n"
    config = parse(base + r"        monitor check.monitor a\ b 'c\d' \"e\" -x;;" + "\n")
    monitor = config.watch("g").service("s").monitor
    assert monitor.args == ("a b", "c\\d", '"e"', "-x") and not monitor.append_hosts
    config = parse(base + "        monitor fping.monitor;;\n")
    assert config.watch("g").service("s").monitor.name == "fping.monitor;;"
    assert "put a space before ';;'" in warning_messages(config)[0]
    config = parse(base + "        monitor http.monitor -u \"/x\n")
    assert config.watch("g").service("s").monitor.args == ()
    assert "unbalanced quotes" in warning_messages(config)[0]


def test_perl_quotewords_edge_cases():
    assert perl_quotewords('a "b c"d \'e\\f\' g\\ h') == ("a", "b cd", "e\\f", "g h")
    assert perl_quotewords('x "" y') == ("x", "", "y")
    assert perl_quotewords('open "quote') is None
    assert perl_quotewords("trailing\\") is None
    assert perl_quotewords("") == ()


def test_exit_filters_need_exit_equals_n_without_spaces():
    base = "hostgroup g h\n\nwatch g\n    service s\n        period\n"
    config = parse(base + "            alert exit = 1 mail.alert root\n")
    alert = config.watch("g").service("s").periods[0].alerts[0]
    assert (alert.name, alert.exit_range) == ("=", (1, 1))  # what mon would call
    assert "write 'exit=N ALERT' with no spaces" in warning_messages(config)[0]


def test_redistribute_with_arguments_works_only_when_an_alert_line_names_the_same_program():
    config = parse("""
        hostgroup g h

        watch g
            service s
                redistribute relay.alert --to backup
                period
                    alert relay.alert
    """)
    assert config.warnings == ()


def test_env_lines_need_a_service_and_no_blank_before_the_equals_sign():
    base = "hostgroup g h\n\nwatch g\n"
    assert parse_error(base + "    FOO=bar\n").message == "environment variable defined without a service"
    assert parse_error(base + "    service s\n    FOO = bar\n").message == "unknown syntax [FOO = bar]"


def test_keyword_errors_name_the_line_like_mon():
    base = "hostgroup g h\n\nwatch g\n    service s\n"
    cases = {
        "    -weird\n": (5, "unknown syntax [-weird]"),
        "    service s\n": (5, "service s already defined for watch group g"),
        "    service a b\n": (5, "invalid service tag 'a b'"),
        "        numalerts many\n": None,  # period keyword outside a period
        "        period\n            numalerts many\n": (6, "-numeric arg 'many' "
                                                          "(syntax: numalerts = {positive integer}"),
        "        period\n            alertexitrange 1-\n": (6, "invalid exit code range '1-'"),
        "        period\n            upalertafter 0s\n": (6, "invalid upalertafter specification '0' "
                                                             "(syntax: upalertafter = {positive number}{smhd})"),
        "        period\n            alertevery 5 strict\n": (6, "invalid time interval '' (syntax: alertevery "
                                                                 "{positive number}{smhd} [ strict | observe_detail "
                                                                 "| ignore_summary ])"),
        "        dep_behavior x\n": (5, "unknown dependency behavior 'x' (syntax: dep_behavior = {m|a})"),
        "        unack_summary\n": (5, "invalid unack_summary value '' (syntax: unack_summary [0|1|y|yes|n|no])"),
        "        exclude_period hr {25}\n": (5, "malformed exclude_period 'hr {25}' (the specified time period is "
                                                "not valid as per Time::Period::inPeriod)"),
        "        dep_memory 0s\n": (5, "bad value '0s' for dep_memory option (syntax: dep_memory = timeval)"),
    }
    for body, expected in cases.items():
        error = parse_error(base + body)
        if expected is None:
            assert error.message == "unknown syntax [numalerts many]"
        else:
            assert (error.line, error.message) == expected, body
    assert parse_error("hostgroup g h\n\nwatch g\n    -weird\n").message == "need to specify service in watch record"


def test_global_options_are_checked_when_read():
    assert parse_error("\nFOO=bar\n").message == "unknown variable 'FOO'"
    assert parse_error("dep_behavior = x\n").message == "unknown dependency behavior 'x'"
    assert parse_error("randstart = 5\n").message.startswith("bad value '5' for randstart option")
    assert parse_error("exclude_period = weekdays\n").message.startswith("malformed exclude_period 'weekdays'")
    config = parse("""
        dtlogging = 1.0
        startupalerts_on_reset = moon
        authfile = auth.cf
        exclude_period = hr {2-3}
    """)
    assert config.option("dtlogging").typed_value is True  # Perl's == 1
    assert config.option("startupalerts_on_reset").typed_value is True  # mon's /^1|yes|true|on$/i
    assert config.option("exclude_period").typed_value.spec == "hr {2-3}"
    assert "mon checks that it is readable from its working directory" in warning_messages(config)[0]


def test_lines_mon_ignores_are_reported():
    config = parse("""
        include other.cf
        hostgroup g h

        watch g
            service s
                interval 5m \\
    """)
    assert config.watch("g").service("s").interval_seconds is None
    messages = warnings_at(config)
    assert messages[1].startswith("mon ignores 'include other.cf'")
    assert messages[6].startswith("the file ends inside a continued line")


def test_upalertafter_is_accepted_but_has_no_effect():
    config = parse("hostgroup g h\n\nwatch g\n    service s\n        period\n            upalertafter 1h\n")
    assert config.watch("g").service("s").periods[0].upalertafter_seconds == 3600.0
    assert warning_messages(config) == ["upalertafter has no effect in mon 1.3.6: upalerts are sent on the "
                                        "first success regardless (SPEC §2.1)"]


def test_windows_line_endings_are_whitespace():
    config = parse("hostgroup g h\r\n\r\nwatch g\r\n    service s\r\n        interval 5m\r\n")
    assert config.watch("g").service("s").interval_seconds == 300.0


def test_m4_files_are_refused_with_the_file_named():
    with pytest.raises(ConfigError) as error:
        parse("hostgroup g h\n", path="/etc/mon/mon.m4")
    assert str(error.value).startswith("/etc/mon/mon.m4: m4 preprocessing is not supported")


def test_a_500_line_config_parses_whole():
    """Its cost is measured beside mon's in bench/check_scale.py, not asserted here."""
    block = textwrap.dedent("""
        hostgroup web{n} 10.0.{n}.1 10.0.{n}.2

        watch web{n}
            service http
                interval 10s
                monitor http.monitor -p 80 -u "/x y"
                description web {n}
                period wd {{Mon-Fri}} hr {{9am-5pm}}
                    alert mail.alert root
                    upalert lvs.alert -P tcp -V 10.0.0.3:80 -R 10.0.{n}.1 -W 5 -F dr
                    alertevery 1h observe_detail
                    alertafter 2 30m
    """)
    text = "".join(block.format(n=n) for n in range(40))
    assert text.count("\n") >= 500
    config = parse_mon_cf(text, "big.cf")
    assert len(config.watches) == 40


# ---------------------------------------------------------------------------
# Differential: the real mon daemon on configs of our own
# ---------------------------------------------------------------------------

MON_PORT = 25840
MON_HEADER = """\
cfbasedir    = {dir}/etc
alertdir     = {dir}/alert.d
mondir       = {dir}/mon.d
statedir     = {dir}/state
logdir       = {dir}/log
authfile     = {dir}/etc/auth.cf
serverbind   = 127.0.0.1
trapbind     = 127.0.0.1
serverport   = {port}
trapport     = {port}

"""

# Bodies appended to MON_HEADER.  Intervals are long so that no monitor runs.
DIFFERENTIAL_CONFIGS = {
    "words-and-times": """
        hostgroup g 127.0.0.1

        watch g
            service quoting
                interval 1.5M
                monitor ok.monitor -x "a b" 'c d' ;;
                description two  spaces # and a hash
            service zero_point_zero
                interval 0.0s
            service double_zero
                interval 00s
                randskew 2d
            service days
                interval 2d
                exclude_hosts b a b
                exclude_period wd {Sat-Sun}
                depend SELF:days || g:quoting
                alertdepend SELF:quoting
    """,
    "hostgroup-quirks": """
        hostgroup g 127.0.0.1
        maxprocs = 5
        127.0.0.2
        hostgroup g/x a b

        hostgroup empty

        watch lonely
            service s

        hostgroup lonely x y

        watch g trailing words
            service s
    """,
    "alias-and-view-swallow": """
        hostgroup g 127.0.0.1

        alias a
        first line
        watch g
            service s

        view v g
        watch g
            service t

        watch g
            service u
    """,
    "blank-lines-and-garbage": """
        hostgroup g 127.0.0.1
        garbage at top level? no: inside the hostgroup

        include other.cf
        watch g
            service first
                description first
                interval 1h

            service second
                description dropped
        hostgroup h 127.0.0.2
        watch h
            service s
    """,
    "continuations": """
        hostgroup g 127.0.0.1 \\
            127.0.0.3

        watch g
            service s
                description one\\
        # a comment in between
                    two \\
                    three
                monitor ok.monitor \\
                    -x
                interval 1h
                period lbl:
                    alert x.alert
                    alertafter 00s
                    alertevery 1h summary_junk
                    numalerts 0
                period none
                    alertevery 30m STRICT
            service tail
                interval 1h \\
    """,
    "crlf": "hostgroup g 127.0.0.1\r\n\r\nwatch g\r\n    service s\r\n        interval 5m\r\n"
            "        description with cr\r\n",
    # Errors: mon's message and line must match ours.
    "interval-0s": "hostgroup g h\n\nwatch g\n    service s\n        interval 0s\n",
    "interval-0m": "hostgroup g h\n\nwatch g\n    service s\n        interval 0m\n",
    "alertafter-upper-unit": "hostgroup g h\n\nwatch g\n    service s\n        period\n            alertafter 5M\n",
    "alertafter-0s": "hostgroup g h\n\nwatch g\n    service s\n        period\n            alertafter 0s\n",
    "alertafter-1-0s": "hostgroup g h\n\nwatch g\n    service s\n        interval 1h\n        period\n"
                       "            alertafter 1 0s\n",
    "numalerts": "hostgroup g h\n\nwatch g\n    service s\n        period\n            numalerts x\n",
    "alertexitrange": "hostgroup g h\n\nwatch g\n    service s\n        period\n            alertexitrange 1-\n",
    "alertevery-no-unit": "hostgroup g h\n\nwatch g\n    service s\n        period\n            alertevery 5 strict\n",
    "upalertafter-0": "hostgroup g h\n\nwatch g\n    service s\n        period\n            upalertafter 0s\n",
    "dep-behavior": "hostgroup g h\n\nwatch g\n    service s\n        dep_behavior x\n",
    "global-dep-behavior": "dep_behavior = x\n",
    "randstart": "randstart = 5\n",
    "global-exclude-period": "exclude_period = hr {25}\n",
    "exclude-period": "hostgroup g h\n\nwatch g\n    service s\n        exclude_period weekdays\n",
    "failure-interval": "hostgroup g h\n\nwatch g\n    service s\n        failure_interval 5\n",
    "traptimeout": "hostgroup g h\n\nwatch g\n    service s\n        traptimeout 0h\n",
    "service-tag": "hostgroup g h\n\nwatch g\n    service a b\n",
    "duplicate-service": "hostgroup g h\n\nwatch g\n    service s\n    service s\n",
    "env-first": "hostgroup g h\n\nwatch g\n    FOO=bar\n",
    "no-service": "hostgroup g h\n\nwatch g\n    -x\n",
    "weird-line": "hostgroup g h\n\nwatch g\n    service s\n        interval 5m\n        -x\n",
    "top-level-env": "hostgroup g h\n\nFOO=bar\n",
    "unack-summary": "hostgroup g h\n\nwatch g\n    service s\n        unack_summary 2\n",
    "global-unack-summary": "unack_summary = 2\n",
    "duplicate-label": "hostgroup g h\n\nwatch g\n    service s\n        period x: wd {Mon}\n"
                       "        period x: wd {Tue}\n",
}


# Plus seeded random mixtures of valid and invalid lines (no continuations, so
# mon's line numbers are exactly ours).
RANDOM_LINES = {
    "top": ["hostgroup g 127.0.0.1 h2", "hostgroup h x", "hostgroup g", "watch g", "watch h", "watch g extra",
            "", "", "", "alias a", "alias a b", "view v g h", "view v", "maxprocs = 5", "include x", "garbage",
            "dep_behavior = m", "unack_summary = 1", "randstart = 10s", "exclude_period = wd {Mon}",
            "hostgroup g/z q", "watch", "service", "FOO=1", "cltimeout = 1x"],
    "service": ["service s", "service t", "service u.v-w_x", "interval 5m", "interval 1.5h", "interval 0.0s",
                "monitor ok.monitor", 'monitor ok.monitor -a "b c" ;;', "monitor x.monitor;;",
                "description d e  f", "depend SELF:s", "alertdepend g:t", "exclude_hosts a b",
                "exclude_period hr {1-2}", "randskew 5s", "redistribute r.alert x", "allow_empty_group",
                "traptimeout 1m", "dep_memory 1h", "unack_summary yes", "FOO=bar baz", "dep_behavior hm",
                "failure_interval 30s", "# comment"],
    "period": ["period", "period wd {Mon-Fri}", "period lbl: hr {9am-5pm}", "period Lbl:", "period none",
               "alert mail.alert x", "alert exit=1-2 x.alert", "upalert mail.alert y", "startupalert s.alert",
               "alertevery 1h", "alertevery 2m observe_detail", "alertevery 1h summary", "alertafter 3",
               "alertafter 5m", "alertafter 2 30m", "numalerts 3", "no_comp_alerts", "alerts_dont_count",
               "alertexitrange 2-4", "upalertafter 1h", "BAR=1", "ackalert a.alert", "disablealert d.alert"],
    "bad": ["interval 5", "interval 0s", "alertafter 1d", "alertevery 0m", "numalerts x", "period wd {x}",
            "service a/b", "-junk", "frobnicate 1", "alertexitrange x", "dep_behavior z", "interval = 5m",
            "FOO = bar", "exclude_period junk", "alertafter 3 20s"],
}


def random_config(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(3, 25)):
        kind = rng.choices(list(RANDOM_LINES), weights=(25, 35, 33, 7))[0]
        line = rng.choice(RANDOM_LINES[kind])
        lines.append(rng.choice(["", "    ", "\t", "        "]) + line if line else "")
    return "\n".join(lines) + "\n"


_RNG = random.Random(1795607141)
DIFFERENTIAL_CONFIGS.update({f"random-{number:02}": random_config(_RNG) for number in range(32)})
GROUPS_TO_LIST = ("g", "h", "g/x", "g/z", "empty", "lonely", "a", "v")


def mon_can_run() -> str | None:
    """Why the real daemon cannot be run here, or None."""
    if os.geteuid() != 0:
        return "needs root (unshare -n)"
    for program in ("/usr/sbin/mon", "unshare", "ip"):
        if not shutil.which(program):
            return f"{program} is missing"
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        return "unshare -n does not work here"
    return None


def run_real_mon(path: Path) -> dict:
    """run_mon.py on one config in a new network namespace; its whole session is killed if it hangs."""
    process = subprocess.Popen(["unshare", "-n", sys.executable, str(RUN_MON), str(path), str(MON_PORT),
                                *GROUPS_TO_LIST], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


@pytest.fixture(scope="module")
def real_mon(tmp_path_factory):
    """The real mon's reading of every DIFFERENTIAL_CONFIGS entry: {name: (path, text, result)}."""
    reason = mon_can_run()
    if reason:
        if running_in_ci():
            pytest.fail(f"the differential mon test cannot run: {reason}")
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("mon")
    for directory in ("etc", "alert.d", "mon.d", "state", "log"):
        (base / directory).mkdir()
    (base / "etc" / "auth.cf").write_text("list: all\n")
    header = MON_HEADER.format(dir=base, port=MON_PORT)
    configs = {}
    for name, body in DIFFERENTIAL_CONFIGS.items():
        text = header + textwrap.dedent(body).lstrip("\n")
        (base / f"{name}.cf").write_bytes(text.encode())
        configs[name] = (str(base / f"{name}.cf"), text)
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        results = dict(zip(configs, pool.map(run_real_mon, (Path(path) for path, _ in configs.values()))))
    return {name: (path, text, results[name]) for name, (path, text) in configs.items()}


def opstatus_fields(line: str) -> dict[str, str]:
    return {key: unescape(value) for key, _, value in (item.partition("=") for item in line.split(" "))}


@pytest.mark.parametrize("name", list(DIFFERENTIAL_CONFIGS))
def test_we_read_our_configs_as_the_real_mon_does(real_mon, name):
    path, text, mon = real_mon[name]
    assert mon["exit"] != "timeout"
    if mon["exit"] is not None:
        (mon_error,) = [line for line in mon["stderr"] if line.startswith("cf error:")]
        message, _, line = re.fullmatch(r"cf error: (.*?)(, line (\d+))?", mon_error).groups()
        with pytest.raises(ConfigError) as raised:
            parse_mon_cf(text, path)
        assert raised.value.message == message.strip()
        if line:
            assert raised.value.line == int(line)
        return
    config = parse_mon_cf(text, path)
    replies = mon["replies"]
    views = {"watch": {tuple(line.split()) for line in replies["list watch"][:-1]},
             "descriptions": {tuple(line.split(" ", 2)[:2]): unescape(line.split(" ", 2)[2])
                              for line in replies["list descriptions"][:-1]},
             "groups": {}}
    for command, reply in replies.items():
        if command.startswith("list group "):
            group = command.removeprefix("list group ")
            views["groups"][group] = tuple(reply[0].split(" ")[2:]) if reply[0].startswith("hostgroup ") else None
    ours = our_views(config, views["groups"])
    # mon lists an empty group as "hostgroup empty " (one empty word after the name).
    ours["groups"] = {name: (hosts or ("",)) if hosts is not None else None for name, hosts in ours["groups"].items()}
    assert ours == views
    for line in replies["list opstatus"][:-1]:
        fields = opstatus_fields(line)
        service = config.watch(fields["group"]).service(fields["service"])
        assert fields["monitor"] == (service.monitor.raw if service.monitor else "")
        for keyword in ("depend", "alertdepend", "monitordepend", "hostdepend"):
            assert fields[keyword] == (getattr(service, keyword) or "")
        assert float(fields.get("interval", 0)) == (service.interval_seconds or 0)
        assert float(fields.get("randskew", 0)) == (service.randskew_seconds or 0)
        assert set(fields.get("exclude_hosts", "").split()) == set(service.exclude_hosts)
        assert fields.get("exclude_period") == (service.exclude_period.spec if service.exclude_period else None)
    aliases = "\n".join(replies["list aliases"][:-1])
    assert aliases == "".join(f"alias {alias.name}\n" + "".join(f"{line}\n" for line in alias.lines) + "\n"
                              for alias in config.aliases).rstrip("\n") + ("\n" if config.aliases else "")
    for warning in mon["stderr"]:
        text_of_warning = re.fullmatch(r"Warning: (.*?)[.!]?", warning).group(1)
        assert any(message.startswith(text_of_warning) for message in warning_messages(config)), warning


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

MON_CF_FRAGMENTS = [
    "", "  ", "\\", "  \\", "# comment", "  # comment \\", "hostgroup g a b", "hostgroup g", "watch g", "watch h x",
    "service s", "service t", "service bad/name", "interval 5m", "interval 0.0s", "interval = 5m",
    "monitor x.monitor -a \"b c\" ;;", "monitor 'unbalanced", "monitor", "description x \\", "period",
    "period wd {Mon-Fri}", "period lbl: hr {9am-5pm}", "period wd {Mon", "alert mail.alert root",
    "alert exit=1-2 x.alert", "alert exit = 1 x", "upalert x", "alertafter 2 10m", "alertafter 3",
    "alertevery 1h strict", "numalerts 2", "alertexitrange 1-3", "FOO=bar", "FOO = bar", "maxprocs = 3",
    "randstart = 1x", "dtlogging = yes", "alias a", "view v g h", "depend SELF:s", "redistribute r.alert a",
    "exclude_period hr {1}", "exclude_hosts a b", "upalertafter 1h", "{", "}", ";;", "include x",
]


@given(st.lists(st.one_of(st.sampled_from(MON_CF_FRAGMENTS), st.text(max_size=12)), max_size=40),
       st.sampled_from(["\n", "\r\n"]))
def test_any_text_is_a_model_or_one_located_error(lines, newline):
    text = newline.join(lines)
    try:
        config = parse_mon_cf(text, "fuzz.cf")
    except ConfigError as error:
        assert error.line >= 1 and error.column >= 1 and error.path == "fuzz.cf"
    else:
        json.dumps(dataclasses.asdict(config))
        for warning in config.warnings:
            assert warning.location.line >= 1


@given(st.text())
def test_any_text_at_all_is_a_model_or_a_located_error(text):
    try:
        parse_mon_cf(text, "fuzz.cf")
    except ConfigError as error:
        assert error.line >= 1
