"""tools/ipvs-vm's own contract, without booting a guest (the real-IPVS tests boot it once:
tests/test_ipvs_real.py, which also checks that the guest's exit status comes through)."""

from __future__ import annotations

import subprocess

import pytest

from lvs_alert_support import REPO

TOOL = str(REPO / "tools" / "ipvs-vm")


@pytest.mark.guest
def test_a_timeout_kills_the_vm_and_exits_124():
    result = subprocess.run([TOOL, "run", "-t", "1", "--", "sleep", "600"], cwd=REPO, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 124, result.stderr
    assert "timed out after 1 s" in result.stderr


@pytest.mark.guest
def test_a_vm_that_cannot_boot_exits_125(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    recipe = next(line for line in open(TOOL) if line.startswith("RECIPE_VERSION="))
    (cache / "stamp").write_text(f"recipe {recipe.split('=')[1].strip()}\n")
    (cache / "vmlinux").write_text("not a kernel\n")
    (cache / "initramfs.cpio.gz").write_text("not an initramfs\n")
    result = subprocess.run([TOOL, "run", "-t", "60", "--", "true"], cwd=REPO, capture_output=True, text=True,
                            timeout=120, check=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                           "IPVS_VM_CACHE": str(cache)})
    assert result.returncode == 125, result.stderr
    assert "the guest reported no exit status" in result.stderr


def test_run_without_a_command_is_a_usage_error():
    result = subprocess.run([TOOL, "run", "--"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
