"""Issue 15, item 1: every drop-in as one file (``make dropins``), copied alone into an empty
directory and run with an empty environment from elsewhere, does what the tree's file does on
the same input: the monitors against real servers on 127.0.0.x, lvs.alert against the FAKE
ipvsadm, heartbeat -V / -s, hb_standby, hb_takeover.  ``make dropins`` builds exactly these (not
bin/cl_status, a developer tool).  (The two-node runs: test_dropins_lab.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import pytest

from dropin_support import DROP_INS, PYTHON, REPO, built, copy_alone  # noqa: F401 (fixture)
from lvs_alert_support import FakeIpvsadm, MON_ARGS
from monitor_support import Namespace

HTTP_PORT, FTP_PORT = 8001, 2121
HTTP_OK, HTTP_500, HTTP_SILENT, HTTP_REFUSED = "127.0.0.21", "127.0.0.24", "127.0.0.27", "127.0.0.29"
FTP_VSFTPD, FTP_421, FTP_REFUSED = "127.0.0.38", "127.0.0.35", "127.0.0.39"
PING_DOWN = "127.0.0.9"
TIMEOUT_S = 2   # the monitors' -t: a silent host costs that much


def entry_line(drop_in: str) -> tuple[str, str]:
    text = (REPO / drop_in).read_text()
    (found,) = re.findall(r"^\s*from (lvs_compat[\w.]+) import (\w+)", text, re.MULTILINE)
    return found


@pytest.mark.parametrize("drop_in", DROP_INS)
def test_each_single_file_calls_the_entry_point_of_its_tree_file(built, drop_in):
    single = built / drop_in
    first_line = single.read_bytes().split(b"\n", 1)[0].decode()
    assert first_line.startswith(f"#!{PYTHON} -ISc")
    assert len(first_line) < 128                 # every kernel passes it whole
    with zipfile.ZipFile(single) as archive:
        main_py = archive.read("__main__.py").decode()
        names = set(archive.namelist())
    module, function = entry_line(drop_in)
    call = f"from {module} import {function}\nsys.exit({function}())\n"
    assert call in main_py and call in single.read_bytes()[:4096].decode()
    # compiled for the shebang's interpreter, beside the source (where zipimport looks)
    path = module.replace(".", "/")
    assert {f"{path}.py", f"{path}.pyc", "pyparsing/__init__.pyc", "serial/serialposix.pyc"} <= names
    assert not any(name.startswith("lvs_compat/lab/") for name in names)


def test_make_dropins_builds_these_and_not_cl_status():
    """The Makefile's DROPINS (make dropins, make install's share/lvs-compat/dropins) is the list
    tested here; bin/cl_status is not a drop-in: Debian's C cl_status stays at /usr/bin/cl_status."""
    dry = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "-n", "dropins"],
                         capture_output=True, text=True, timeout=60)
    (line,) = [line for line in dry.stdout.splitlines() if "tools/build-dropins" in line]
    built_by_make = line.split()[line.split().index("build/dropins") + 1:]
    assert sorted(built_by_make) == sorted(DROP_INS)
    assert "bin/cl_status" not in built_by_make


def test_another_python_or_a_zipapp_run_still_works(built, tmp_path):
    """The loader reads the .pyc only when their magic is the running interpreter's; else the
    sources through zipimport (simulated: the magic check inverted).  ``python3 FILE`` runs it
    as a zipapp (__main__.py)."""
    single = copy_alone(built, "bin/heartbeat", tmp_path / "libexec")
    boot = single.read_bytes().split(b"\n", 1)[0].decode().split(" -ISc", 1)[1]
    other_magic = boot.replace(".read(4096)", ".read(4096).replace(b'!= sys.modules', b'== sys.modules')")
    assert other_magic != boot and b"!= sys.modules" in single.read_bytes()[:4096]
    for argv in ([PYTHON, "-ISc" + other_magic, single, "-V"], [PYTHON, "-I", single, "-V"],
                 [PYTHON, "-ISc" + boot, single.name, "-V"]):
        cwd = single.parent if argv[2] == single.name else None
        result = run_alone(argv, tmp_path, **({"cwd": cwd} if cwd else {}))
        assert (result.returncode, result.stdout, result.stderr) == (0, "3.0.6 (lvs-compat)\n", ""), argv


def run_alone(argv, tmp_path, **kwargs):
    """Run with an empty environment, from a directory that is neither the file's nor the tree."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run([str(part) for part in argv], env=kwargs.pop("env", {}),
                          cwd=kwargs.pop("cwd", elsewhere),
                          capture_output=True, text=True, timeout=60, **kwargs)


# --------------------------------------------------------------------------- monitors

@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("servers")
    with Namespace() as namespace:
        namespace.serve([
            {"kind": "http", "host": HTTP_OK, "port": HTTP_PORT, "status": "200 OK"},
            {"kind": "http", "host": HTTP_500, "port": HTTP_PORT, "status": "500 Internal Server Error"},
            {"kind": "silent", "host": HTTP_SILENT, "port": HTTP_PORT},
            {"kind": "close", "host": FTP_421, "port": FTP_PORT, "text": "421 Service not available, closing\\r\\n"},
        ])
        namespace.vsftpd(FTP_VSFTPD, FTP_PORT, "lvs-compat test vsftpd", workdir)
        namespace.drop_ping(PING_DOWN)
        yield namespace


MONITOR_CASES = {
    "http.monitor": ["-p", HTTP_PORT, "-t", TIMEOUT_S, HTTP_OK, HTTP_500, HTTP_SILENT, HTTP_REFUSED],
    "http.monitor healthy": ["-p", HTTP_PORT, "-t", TIMEOUT_S, HTTP_OK],
    "ftp.monitor": ["-p", FTP_PORT, "-t", TIMEOUT_S, FTP_VSFTPD, FTP_421, FTP_REFUSED],
    "fping.monitor": ["-r", "1", "-t", "500", "127.0.0.1", PING_DOWN],
}


@pytest.mark.parametrize("case", MONITOR_CASES)
def test_a_monitor_copied_alone_gives_the_trees_verdict(built, servers, tmp_path, case):
    monitor = case.split()[0]
    single = copy_alone(built, f"mon.d/{monitor}", tmp_path / "mon.d")
    args = [str(arg) for arg in MONITOR_CASES[case]]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runs = {"tree": [PYTHON, "-IS", str(REPO / "mon.d" / monitor), *args], "single": [str(single), *args]}
    started = {name: servers.start(argv, env={}, cwd=elsewhere, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
               for name, argv in runs.items()}
    results = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=TIMEOUT_S * 10 + 30)
        results[name] = (process.returncode, stdout.decode(), stderr.decode())
    if monitor == "fping.monitor":   # the detail carries round-trip times and dates
        results = {name: (rc, out.split("\n")[0], err) for name, (rc, out, err) in results.items()}
    assert results["single"] == results["tree"]
    if case == "http.monitor healthy":
        assert results["single"][0] == 0
    else:
        assert results["single"][0] == 1 and results["single"][1].split("\n")[0]


# --------------------------------------------------------------------------- lvs.alert

SERVICE_ONLY = "-A -t 10.0.0.3:80 -s wlc"
WITH_SERVER = "-a -t 10.0.0.3:80 -r 192.168.0.1 -w 5 -g"
LINE = ["-P", "tcp", "-V", "10.0.0.3:80", "-R", "192.168.0.1", "-W", "5", "-F", "dr"]


def fake_env(fake: FakeIpvsadm) -> dict[str, str]:
    """Only what points the alert at the FAKE ipvsadm: no PATH, no PYTHONPATH."""
    return {name: fake.env[name] for name in ("IPVSADM", "FAKE_IPVSADM_TABLE", "FAKE_IPVSADM_LOG",
                                              "LVS_COMPAT_RUN_DIR")}


@pytest.mark.parametrize("start,event", [(SERVICE_ONLY, "up"), (WITH_SERVER, "down")])
def test_lvs_alert_copied_alone_changes_the_table_as_the_trees_does(built, tmp_path, start, event):
    single = copy_alone(built, "alert.d/lvs.alert", tmp_path / "alert.d")
    args = [*MON_ARGS, *(["-u"] if event == "up" else []), *LINE]
    outcome = {}
    for name, program in (("tree", [PYTHON, "-IS", REPO / "alert.d" / "lvs.alert"]), ("single", [single])):
        (tmp_path / name).mkdir()
        fake = FakeIpvsadm(tmp_path / name)
        fake.setup(*{SERVICE_ONLY: [SERVICE_ONLY], WITH_SERVER: [SERVICE_ONLY, WITH_SERVER]}[start])
        result = run_alone([*program, *args], tmp_path, env=fake_env(fake), input="summary line\n")
        outcome[name] = (result.returncode, result.stdout, result.stderr, fake.table(), fake.calls())
    assert outcome["single"] == outcome["tree"]
    returncode, _, stderr, table, _ = outcome["single"]
    assert returncode == 0, stderr
    assert table == ({"tcp 10.0.0.3:80": {"192.168.0.1:80": ("gate", 5)}} if event == "up"
                     else {"tcp 10.0.0.3:80": {}})


# --------------------------------------------------------------------------- heartbeat & tools

def tree(drop_in: str) -> list[str]:
    return [sys.executable, str(REPO / drop_in)]   # the venv's interpreter: pyparsing for the tree


def test_heartbeat_copied_alone_reports_its_version_and_stopped_status(built, tmp_path):
    single = copy_alone(built, "bin/heartbeat", tmp_path / "libexec")
    version = run_alone([single, "-V"], tmp_path)
    assert (version.returncode, version.stdout, version.stderr) == (0, "3.0.6 (lvs-compat)\n", "")
    empty = tmp_path / "run"
    empty.mkdir()
    status = run_alone([single, "-s", "--run-dir", empty], tmp_path)
    reference = run_alone([*tree("bin/heartbeat"), "-s", "--run-dir", empty], tmp_path)
    assert status.returncode == 3        # stopped (SPEC: heartbeat -s, as the C daemon)
    assert (status.returncode, status.stdout, status.stderr) == \
        (reference.returncode, reference.stdout, reference.stderr)
    bad = run_alone([single, "--no-such-option"], tmp_path)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("heartbeat: ") or "heartbeat" in bad.stderr.splitlines()[0]


@pytest.mark.parametrize("drop_in,args", [
    ("bin/hb_standby", ["--state-dir", "{empty}", "all"]),
    ("bin/hb_takeover", ["--state-dir", "{empty}", "all"]),
])
def test_a_tool_copied_alone_answers_as_the_trees_does(built, tmp_path, drop_in, args):
    single = copy_alone(built, drop_in, tmp_path / "bin")
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [arg.replace("{empty}", str(empty)) for arg in args]
    ours = run_alone([single, *args], tmp_path)
    reference = run_alone([*tree(drop_in), *args], tmp_path)
    assert (ours.returncode, ours.stdout, ours.stderr) == \
        (reference.returncode, reference.stdout, reference.stderr)
    assert ours.returncode != 0 and "Traceback" not in ours.stderr

