"""The OCF agent `lvs-compat export pacemaker` writes for the IPVS table (ocf:lvs-compat:lvs),
run through resource-agents' ocf-tester: meta-data, validate-all, probes, start and stop twice,
monitor in both states.  ipvsadm is the suite's fake (no IPVS in this kernel); the agent's lvs
script turns on ip_forward, so it runs in a throw-away network namespace, which has its own."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from conftest import REPO, SHARED
from lvs_alert_support import restored_commands

SEED = SHARED / "seed" / "examples"
EXPORT = [sys.executable, str(REPO / "bin" / "lvs-compat"), "export", "pacemaker"]
OCF_TESTER = "/usr/sbin/ocf-tester"


def run(argv, **kwargs):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, **kwargs)


def test_exported_agent_passes_ocf_tester_and_builds_the_seed_table(tmp_path):
    assert os.geteuid() == 0, "ocf-tester checks permissions as root; the agent runs in a namespace"
    assert os.access(OCF_TESTER, os.X_OK), "ocf-tester missing: make deps installs resource-agents"
    ha_dir = tmp_path / "ha.d"
    ha_dir.mkdir()
    (ha_dir / "ha.conf").write_text((SEED / "ha.conf").read_text())
    (ha_dir / "haresources").write_text(f"lvs1.domain.com 10.0.0.3 lvs::{SEED / 'mon.cf'} mon\n")
    (ha_dir / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (ha_dir / "authkeys").chmod(0o600)
    out = tmp_path / "out"
    result = run([*EXPORT, "--ha-dir", ha_dir, "--mon-cf", SEED / "mon.cf", "--out-dir", out])
    assert result.returncode == 0, result.stderr
    cib = (out / "cib.xml").read_text()
    assert 'class="ocf" provider="lvs-compat" type="lvs"' in cib
    assert f'name="mon_cf" value="{SEED / "mon.cf"}"' in cib
    exported = out / "ocf-lvs-compat-lvs"
    assert os.stat(exported).st_mode & 0o777 == 0o755
    # ocf-tester also runs meta-data as nobody: the agent must sit where nobody can reach it
    # (pytest's tmp_path is private to root)
    shared = tempfile.mkdtemp(prefix="lvsexp-ocf-")
    os.chmod(shared, 0o755)
    agent = shutil.copy2(exported, os.path.join(shared, "lvs"))

    table, log = tmp_path / "table.json", tmp_path / "ipvsadm.log"
    table.write_text("[]")
    # as root, $IPVSADM is run only where nobody but root can change it (issue 19)
    fake = shutil.copy(REPO / "tests/fake_ipvsadm", tmp_path / "fake_ipvsadm")
    namespace = f"lvsexp-ocf-{os.getpid()}"
    run(["ip", "netns", "add", namespace]).check_returncode()
    try:
        tester = run(["ip", "netns", "exec", namespace, OCF_TESTER, "-n", "lvs",
                      "-o", f"mon_cf={SEED / 'mon.cf'}", "-o", f"lvs_script={REPO / 'ha.d/resource.d/lvs'}",
                      "-o", f"ipvsadm={fake}", "-o", f"run_dir={tmp_path / 'run'}",
                      agent], env={**os.environ, "FAKE_IPVSADM_TABLE": str(table),
                                   "FAKE_IPVSADM_LOG": str(log)})
    finally:
        run(["ip", "netns", "del", namespace])
        shutil.rmtree(shared)
    assert tester.returncode == 0, tester.stdout + tester.stderr
    assert f"{agent} passed all tests" in tester.stdout
    calls = restored_commands([json.loads(line) for line in log.read_text().splitlines()])
    assert ["-A", "-t", "10.0.0.3:80", "-s", "wlc"] in calls  # started: the seed's table
    assert ["-a", "-t", "10.0.0.3:80", "-r", "192.168.0.2:80", "-w", "5", "-g"] in calls
    assert ["-D", "-t", "10.0.0.3:80"] in calls  # and stopped
    assert json.loads(table.read_text()) == []
