"""A whole /etc/ha.d: the seed's tree, Debian's sample files, and the real heartbeat 3.0.6 as judge.

The differential test runs the installed daemon on each config in private mount, network and PID
namespaces (its paths are compiled in): a tmpfs over /run and /var/lib/heartbeat, the case's
directory bound over /etc/ha.d, a ``nodeinfo`` file naming the local node, a veth ``eth0``, and
``/bin/true`` bound over ResourceManager and /sbin/reboot.  ``heartbeat -f -v`` prints its parsed
configuration once everything, haresources included, is accepted, and exits 6 with
"Configuration error, heartbeat not started." otherwise.  Killing ``unshare`` kills the namespace.
"""

import gzip
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

import pytest

from conftest import SHARED
from lvs_compat.config.authkeys import parse_authkeys
from lvs_compat.config.errors import ConfigError
from lvs_compat.config.hacf import Ping, parse_ha_cf, parse_msec
from lvs_compat.config.hadir import load_ha_dir
from lvs_compat.config.haresources import parse_haresources
from lvs_compat.config.libc import c_atoi

SEED_DIR = str(SHARED / "seed" / "examples")  # the HOWTO's ha.conf and haresources, no authkeys
DEBIAN_DOC = "/usr/share/doc/heartbeat"
HEARTBEAT = "/usr/libexec/heartbeat/heartbeat"


def skip_or_fail(reason: str) -> None:
    """Skip locally; under CI=true a test that cannot run is a failure, not a silent skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


def make_dir(path, ha_cf=None, haresources=None, authkeys=None, authkeys_mode=0o600,
             name="ha.cf"):
    path.mkdir(exist_ok=True)
    for file_name, text in ((name, ha_cf), ("haresources", haresources), ("authkeys", authkeys)):
        if text is not None:
            (path / file_name).write_text(text)
    if authkeys is not None:
        os.chmod(path / "authkeys", authkeys_mode)
    return str(path)


# --- the seed's tree --------------------------------------------------------------------------

def test_seed_tree_is_read_from_ha_conf_and_warns_about_the_name_and_the_missing_authkeys():
    directory = load_ha_dir(SEED_DIR)
    assert directory.config_path == os.path.join(SEED_DIR, "ha.conf")
    assert (directory.ha_cf.keepalive_ms, directory.ha_cf.deadtime_ms) == (2000, 10000)
    assert directory.ha_cf.udp_port == 1001 and directory.authkeys is None
    (group,) = directory.haresources.groups
    assert [r.command for r in group.start_order] == [("IPaddr", "10.0.0.3"), ("lvs",), ("mon",)]
    texts = [warning.message for warning in directory.warnings]
    assert texts[0] == "heartbeat 3.0.6 reads only ha.cf; rename ha.conf to ha.cf"
    assert any("directive 'udp' replaced by 'bcast'" in text for text in texts)
    assert texts[-1] == "no authkeys: heartbeat will refuse to start without authkeys"


def test_ha_cf_wins_over_ha_conf(tmp_path):
    make_dir(tmp_path, ha_cf="node a\nbcast eth1\n", authkeys="auth 1\n1 crc\n")
    (tmp_path / "ha.conf").write_text("node b\nbcast eth0\n")
    directory = load_ha_dir(str(tmp_path))
    assert directory.config_path.endswith("/ha.cf") and directory.ha_cf.has_node("a")
    assert directory.authkeys.active.method == "crc"
    assert directory.haresources is None
    assert "no haresources: heartbeat will refuse to start (Cannot open resources file)" in [
        warning.message for warning in directory.warnings]


def test_a_directory_without_ha_cf_is_refused(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_ha_dir(str(tmp_path))
    assert str(caught.value) == (f"{tmp_path}: Cannot open config file: no ha.cf (nor ha.conf) "
                                 "in this directory")


def test_haresources_must_name_nodes_of_ha_cf(tmp_path):
    make_dir(tmp_path, ha_cf="node lvs1\nnode lvs2\nbcast eth0\n",
             haresources="LVS2 10.0.0.4\n\n  lvs3  10.0.0.3 lvs mon\n")
    with pytest.raises(ConfigError) as caught:
        load_ha_dir(str(tmp_path))
    assert caught.value.message == "Bad nodename in haresources [lvs3] (nodes: lvs1, lvs2)"
    assert (caught.value.line, caught.value.column) == (3, 3)


def test_a_readable_authkeys_stops_the_directory(tmp_path):
    make_dir(tmp_path, ha_cf="node a\nbcast eth0\n", authkeys="auth 1\n1 crc\n",
             authkeys_mode=0o644)
    with pytest.raises(ConfigError, match=r"Bad permissions on keyfile .* \(mode is 0644\)"):
        load_ha_dir(str(tmp_path))


# --- Debian's sample files (mostly comments) --------------------------------------------------

def debian_sample(name: str) -> str:
    path = os.path.join(DEBIAN_DOC, name)
    if not os.path.exists(path):
        skip_or_fail(f"{path} is not installed")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as handle:
        return handle.read()


def test_debian_sample_ha_cf_alone_has_no_media_like_heartbeat_says():
    text = debian_sample("ha.cf.gz")
    with pytest.raises(ConfigError) as caught:
        parse_ha_cf(text, "ha.cf")
    assert caught.value.message == "No heartbeat media defined"
    config = parse_ha_cf(text + "node ken3\nnode kathy\nbcast eth0\n", "ha.cf")
    assert (config.auto_failback, config.logfacility) == ("on", "local0")
    assert [directive.name for directive in config.directives] == [
        "logfacility", "auto_failback", "node", "node", "bcast"]


def test_debian_sample_haresources_is_all_comments():
    assert parse_haresources(debian_sample("haresources.gz")).groups == ()


def test_debian_sample_authkeys_has_no_auth_line_until_uncommented():
    text = debian_sample("authkeys")
    with pytest.raises(ConfigError, match=r"Missing auth directive in keyfile"):
        parse_authkeys(text)
    uncommented = text.replace("#auth 1", "auth 1").replace("#1 crc", "1 crc")
    assert parse_authkeys(uncommented.replace("#2 sha1", "2 sha1")).active.method == "crc"


# --- differential: the real heartbeat 3.0.6 decides ------------------------------------------

NAMESPACE_SETUP = r"""
set -e
ip link add eth0 type veth peer name eth0peer
ip addr add 10.0.0.1/24 brd + dev eth0
ip link set eth0 up
ip link set eth0peer up
ip link set lo up
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 750 /run/heartbeat
chown hacluster:haclient /run/heartbeat
mount -t tmpfs -o mode=755 tmpfs /var/lib/heartbeat
mkdir -p /var/lib/heartbeat/cores/root /var/lib/heartbeat/cores/hacluster
mount --bind "$1" /etc/ha.d
mount --bind /bin/true /usr/share/heartbeat/ResourceManager
mount --bind /bin/true /sbin/reboot
exec stdbuf -oL "$2" -f -v
"""
DUMP_END = "#" + "-" * 51
LOCAL_NODE = "lvs1.domain.com"


@dataclass
class Verdict:
    accepted: bool
    exit_code: int | None
    dump: list[str]
    log: list[str]


def run_heartbeat(config_dir: str, timeout: float = 20.0) -> Verdict:
    """Start the real daemon on ``config_dir`` and stop it as soon as it has judged the config."""
    argv = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
            "--propagation", "private", "--", "sh", "-c", NAMESPACE_SETUP, "sh", config_dir,
            HEARTBEAT]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace")
    dump, log, judged = [], [], threading.Event()

    def read_dump():
        for line in process.stdout:
            dump.append(line.rstrip("\n"))
            if line.startswith(DUMP_END) and any("Communications media" in d for d in dump):
                break
        judged.set()

    def read_log():
        log.extend(line.rstrip("\n") for line in process.stderr)

    readers = [threading.Thread(target=read, daemon=True) for read in (read_dump, read_log)]
    for reader in readers:
        reader.start()
    try:
        judged.wait(timeout)
        accepted = bool(dump) and dump[-1].startswith(DUMP_END)
    finally:
        if process.poll() is None:
            process.kill()  # --kill-child: the namespace's init, heartbeat, dies with it
        exit_code = process.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
    return Verdict(accepted, None if accepted else exit_code, dump, log)


def ready_to_start(config_dir: str) -> bool:
    """Our answer to "would heartbeat start here as LOCAL_NODE?"."""
    try:
        directory = load_ha_dir(config_dir)
    except ConfigError:
        return False
    return (directory.authkeys is not None and directory.ha_cf.has_node(LOCAL_NODE)
            and (directory.haresources is not None or not directory.ha_cf.manages_resources))


SEED = open(os.path.join(SEED_DIR, "ha.conf")).read()
GOOD = "node lvs1.domain.com lvs2.domain.com\nbcast eth0\nlogfacility local0\n"
HARESOURCES = "lvs1.domain.com 10.0.0.3 lvs mon\n"
AUTHKEYS = "auth 1\n1 sha1 secret\n"


@dataclass
class Case:
    name: str
    ha_cf: str = GOOD
    haresources: str | None = HARESOURCES
    authkeys: str | None = AUTHKEYS
    authkeys_mode: int = 0o600
    heartbeat_accepts: bool = True
    we_accept: bool | None = None  # differs from heartbeat only for documented deviations
    why: str = ""


CASES = [
    Case("seed ha.conf as ha.cf, udp alias", SEED),
    Case("time forms", GOOD + "keepalive 500ms\ndeadtime 2500MS\nwarntime 1.5\n"
         "initdead 250000000us\ndeadping 3\n"),
    Case("derived initdead 12 s below 6 s deadtime", GOOD + "keepalive 1\ndeadtime 5\n"),
    Case("unicast, multicast and ping media", "node lvs1.domain.com\nudpport 1001\n"
         "ucast eth0 10.0.0.2\nmcast eth0 225.0.0.1 694 1 0\nping 10.0.0.254\n"
         "ping_group gw 10.0.0.253 10.0.0.252\nlogfile /var/lib/heartbeat/ha-log\n"),
    Case("node list split on commas, bcast list", "node lvs1.domain.com,lvs2.domain.com\n"
         "bcast eth0 lo\nuse_logd yes\n"),
    Case("only ping media", "node lvs1.domain.com\nping 10.0.0.254\nlogfacility local0\n"),
    Case("nice_failback on alone ends as legacy", GOOD + "nice_failback on\n"),
    Case("auto_failback on, then nice_failback", GOOD + "auto_failback on\nnice_failback on\n"),
    Case("keepalive without a value", GOOD + "keepalive\n"),
    Case("udpport after the bcast line", GOOD + "udpport 1001\n"),
    Case("pacemaker off", GOOD + "crm off\n"),
    Case("haresources node in capitals", haresources="LVS1.Domain.Com 10.0.0.3 lvs\n"),
    Case("authkeys mode 0400", authkeys_mode=0o400),
    Case("2s is not a time", GOOD + "keepalive 2s\n", heartbeat_accepts=False),
    Case("500 ms with a space", GOOD + "keepalive 500 ms\n", heartbeat_accepts=False),
    Case("deadtime too small", GOOD + "keepalive 2\ndeadtime 4\n", heartbeat_accepts=False),
    Case("unknown directive", GOOD + "keepalvie 2\n", heartbeat_accepts=False),
    Case("directive in capitals", GOOD + "Keepalive 2\n", heartbeat_accepts=False),
    Case("initdead below deadtime", GOOD + "deadtime 30\ninitdead 20\n",
         heartbeat_accepts=False),
    Case("mcast ttl 5", GOOD + "mcast eth0 225.0.0.1 694 5 0\n", heartbeat_accepts=False),
    Case("unknown log facility", GOOD + "logfacility local9\n", heartbeat_accepts=False),
    Case("use_logd off and nowhere to log", "node lvs1.domain.com\nbcast eth0\nuse_logd no\n",
         heartbeat_accepts=False),
    Case("autojoin in haresources mode", GOOD + "autojoin any\n", heartbeat_accepts=False),
    Case("no media", "node lvs1.domain.com\nlogfacility local0\n", heartbeat_accepts=False),
    Case("local node not declared", "node lvs2.domain.com\nbcast eth0\nlogfacility local0\n",
         haresources="lvs2.domain.com 10.0.0.3\n", heartbeat_accepts=False),
    Case("authkeys mode 0644", authkeys_mode=0o644, heartbeat_accepts=False),
    Case("authkeys mode 0640", authkeys_mode=0o640, heartbeat_accepts=False),
    Case("authkeys mode 0604", authkeys_mode=0o604, heartbeat_accepts=False),
    Case("auth after its key", authkeys="1 sha1 secret\nauth 1\n", heartbeat_accepts=False),
    Case("crc with a key", authkeys="auth 1\n1 crc secret\n", heartbeat_accepts=False),
    Case("unknown auth method", authkeys="auth 1\n1 sha256 secret\n", heartbeat_accepts=False),
    Case("no authkeys", authkeys=None, heartbeat_accepts=False),
    Case("no haresources", haresources=None, heartbeat_accepts=False),
    Case("haresources bad node", haresources="lvs3.domain.com 10.0.0.3\n",
         heartbeat_accepts=False),
    Case("atoi reads 3x as 3", GOOD + "hopfudge 3x\n"),
    Case("udpport above 65535 wraps", "udpport 70000\n" + GOOD),
    Case("mcast port and ttl wrap like the C casts", GOOD + "mcast eth0 225.0.0.1 66230 260 1\n"),
    Case("compression bz2", GOOD + "compression bz2\n"),
    Case("logfacility none, use_logd yes", "node lvs1.domain.com\nbcast eth0\n"
         "logfacility none\nuse_logd yes\n"),
    Case("unknown compression", GOOD + "compression lzma\n", heartbeat_accepts=False),
    Case("deadping too small", GOOD + "deadping 2\n", heartbeat_accepts=False),
    Case("baud twice", GOOD + "baud 9600\nbaud 19200\n", heartbeat_accepts=False),
    Case("crm twice", GOOD + "crm off\ncrm off\n", heartbeat_accepts=False),
    Case("ucast without peer", GOOD + "ucast eth0\n", heartbeat_accepts=False),
    Case("serial without full path", GOOD + "serial ttyS0\n", heartbeat_accepts=False),
    Case("respawn without full path", GOOD + "respawn hacluster ipfail\n",
         heartbeat_accepts=False),
    Case("apiauth without ids", GOOD + "apiauth ipfail\n", heartbeat_accepts=False),
    Case("stonith_host without type", GOOD + "stonith_host *\n", heartbeat_accepts=False),
    *(Case(f"warntime {text!r}", GOOD + f"warntime {text}\n",
           heartbeat_accepts=(parse_msec(text) or 0) > 0)
      for text in ("1.2.3", ".5", "0.0004", "5usec", "7cl_get", "1500mSxyz", "1e3", "0x10",
                   "+1", "..", "3us", "600us", "-1")),
    Case("VIP 10.0.0.300", haresources="lvs1.domain.com 10.0.0.300 lvs\n", we_accept=False,
         why="heartbeat checks only node names; findif refuses the IP at takeover time"),
    Case("duplicate group key", haresources="lvs1.domain.com 10.0.0.3\n"
         "lvs2.domain.com 10.0.0.3\n", we_accept=False,
         why="ResourceManager greps groups by key and would merge both lines"),
]


@pytest.fixture(scope="module")
def namespaces_work(tmp_path_factory):
    if os.geteuid() != 0:
        skip_or_fail("the differential test needs root (namespaces and mounts)")
    for tool in (HEARTBEAT, shutil.which("unshare"), shutil.which("stdbuf"), shutil.which("ip")):
        if not tool or not os.access(tool, os.X_OK):
            skip_or_fail(f"the differential test needs {tool or 'unshare, stdbuf and ip'}")
    probe = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--",
                            "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "p"],
                           capture_output=True, timeout=20)
    if probe.returncode != 0:
        skip_or_fail(f"namespaces/veth unavailable: {probe.stderr.decode().strip()}")


def dump_values(dump: list[str]) -> tuple[dict[str, str], list[str], list[tuple[str, str]]]:
    """Recorded parameters, node names and (type, name) media from ``heartbeat -v``."""
    media_start = next(i for i, line in enumerate(dump) if "Communications media" in line)
    parameters = dict(line.split("\t")[:2] for line in dump[:media_start]
                      if "\t" in line and not line.startswith(("#", "node ")))
    nodes = [line.split("\t")[0].split(" ", 1)[1] for line in dump if line.startswith("node ")]
    media = [tuple(line.split(" ", 1)) for line in dump[media_start:] if not line.startswith("#")]
    return parameters, nodes, media


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_real_heartbeat_agrees(case, tmp_path, namespaces_work):
    config_dir = make_dir(tmp_path / "ha.d", case.ha_cf, case.haresources, case.authkeys,
                          case.authkeys_mode)
    (tmp_path / "ha.d" / "nodeinfo").write_text(LOCAL_NODE + "\n")
    verdict = run_heartbeat(config_dir)
    log = "\n".join(verdict.log[-8:])
    assert verdict.accepted == case.heartbeat_accepts, log
    if not verdict.accepted:
        assert "Configuration error, heartbeat not started." in log and verdict.exit_code == 6
    we_accept = case.heartbeat_accepts if case.we_accept is None else case.we_accept
    assert ready_to_start(config_dir) == we_accept, case.why
    if verdict.accepted and we_accept:
        config = load_ha_dir(config_dir).ha_cf
        parameters, nodes, media = dump_values(verdict.dump)
        assert {name: parse_msec(parameters[name]) for name in (
            "keepalive", "deadtime", "warntime", "initdead", "deadping")} == {
            "keepalive": config.keepalive_ms, "deadtime": config.deadtime_ms,
            "warntime": config.warntime_ms, "initdead": config.initdead_ms,
            "deadping": config.deadping_ms}
        assert c_atoi(parameters["udpport"]) & 0xFFFF == config.udp_port
        assert (c_atoi(parameters["baud"]), c_atoi(parameters["hopfudge"])) == (
            config.baud, config.hopfudge)
        assert (parameters["msgfmt"], parameters["autojoin"]) == (config.msgfmt, config.autojoin)
        assert nodes == [n.name for n in sorted(config.nodes + config.ping_nodes,
                                                key=lambda n: (n.location.line,
                                                               n.location.column))]
        ours = [("ping6" if isinstance(m, Ping) and m.ipv6 else m.kind,
                 getattr(m, "interface", None) or getattr(m, "device", None)
                 or getattr(m, "host", None) or m.name) for m in config.media]
        assert media == ours
        legacy = any("Deprecated 'legacy' auto_failback" in line for line in verdict.log)
        assert legacy == (config.auto_failback == "legacy")
