"""Nothing that fails to map 1:1 is dropped silently: every export names the source line of each
directive with no or only an approximate equivalent, and ends with a count.  The builders are
pure, so these tests feed them parsed text directly (milliseconds, no files)."""

from lvs_compat.config.authkeys import parse_authkeys
from lvs_compat.config.hadir import HaDirectory
from lvs_compat.config.hacf import parse_ha_cf
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.config.moncf import parse_mon_cf
from lvs_compat.export import summary_line
from lvs_compat.export.keepalived import export_keepalived
from lvs_compat.export.pacemaker import export_pacemaker

HA_CF = """\
keepalive 2
deadtime 10
serial /dev/ttyS0
bcast eth0
node lvs1
node lvs2
stonith_host lvs1 apcsmart /dev/ttyS1
"""

MON_CF = """\
hostgroup web www1 www2

watch web
    service http
        interval 10s
        monitor http.monitor -m healthy
        period wd {Mon-Fri}
            alert mail.alert root
            upalert lvs.alert -P tcp -V 10.0.0.3:80 -R 192.168.0.1 -W 5 -F dr
"""


def ha_dir(ha_cf=HA_CF, haresources="lvs1 10.0.0.3 lvs::/etc/mon/mon.cf mon::-f\n",
           authkeys="auth 2\n2 crc\n"):
    return HaDirectory("ha.d", "ha.d/ha.cf", parse_ha_cf(ha_cf, "ha.d/ha.cf"),
                       parse_haresources(haresources, "ha.d/haresources"),
                       parse_authkeys(authkeys, "ha.d/authkeys"), ())


def warning_lines(export):
    return [str(w) for w in export.warnings]


def test_pacemaker_names_serial_crc_stonith_and_lsb_arguments_at_their_lines():
    lines = warning_lines(export_pacemaker(ha_dir()))
    assert ("ha.d/ha.cf:3:8: warning: no equivalent: serial /dev/ttyS0: corosync runs over IP only; "
            "this path is lost") in lines
    assert any(line.startswith("ha.d/ha.cf:7:1: warning: no equivalent: stonith apcsmart: ") for line in lines)
    assert any(line.startswith("ha.d/authkeys:2:1: warning: no equivalent: authkeys crc: corosync "
                               "crypto_hash none") for line in lines)
    assert any(line.startswith("ha.d/haresources:1:15: warning: approximate: lvs::/etc/mon/mon.cf -> "
                               "ocf:lvs-compat:lvs") for line in lines)
    assert any(line.startswith("ha.d/haresources:1:36: warning: no equivalent: mon::-f: arguments -f "
                               "dropped: an LSB script") for line in lines)
    # warnings come in file order, so an operator reads them top to bottom
    keys = [(w.location.path, w.location.line) for w in export_pacemaker(ha_dir()).warnings]
    assert keys == sorted(keys)


def test_pacemaker_without_stonith_says_so_at_the_file():
    lines = warning_lines(export_pacemaker(ha_dir(HA_CF.replace("stonith_host lvs1 apcsmart /dev/ttyS1\n", ""))))
    assert any(line.startswith("ha.d/ha.cf: warning: no equivalent: no stonith in ha.cf: "
                               "stonith-enabled=false written") for line in lines)


def test_keepalived_names_mon_alert_chains_periods_and_monitor_options():
    mon_cf = parse_mon_cf(MON_CF, "mon.cf")
    lines = warning_lines(export_keepalived(ha_dir(), mon_cf))
    assert ("mon.cf:8:13: warning: no equivalent: alert mail.alert: mon's alert chain is not exported "
            "(keepalived's smtp_alert needs smtp_server and a full address)") in lines
    assert any(line.startswith("mon.cf:7:9: warning: no equivalent: period wd {Mon-Fri}") for line in lines)
    assert any(line.startswith("mon.cf:6:17: warning: no equivalent: http.monitor -m regex") for line in lines)
    assert any(line.startswith("mon.cf:9:13: warning: approximate: hostgroup of http has 2 hosts and this "
                               "line one -R") for line in lines)
    assert any(line.startswith("ha.d/authkeys:2:1: warning: no equivalent: authkeys crc: VRRP") for line in lines)
    assert any(line.startswith("ha.d/ha.cf:3:8: warning: no equivalent: serial /dev/ttyS0") for line in lines)
    assert any(line.startswith("ha.d/ha.cf: warning: no equivalent: keepalived has no fencing") for line in lines)


def test_summary_line_counts_each_kind():
    export = export_keepalived(ha_dir(), parse_mon_cf(MON_CF, "mon.cf"))
    none = sum(1 for w in export.warnings if w.kind == "none")
    approximate = sum(1 for w in export.warnings if w.kind == "approximate")
    assert none and approximate
    assert summary_line(export) == (f"export keepalived: 2 files, {none + approximate} warnings "
                                    f"({none} no equivalent, {approximate} approximate)")
