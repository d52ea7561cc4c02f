"""Shared by the export tests: an ha.d made from the seed's files."""

from __future__ import annotations

from conftest import SHARED

SEED = SHARED / "seed" / "examples"


def make_ha_dir(tmp_path, extra_ha_conf="", haresources=None):
    """tmp_path/ha.d with the seed's ha.conf (plus ``extra_ha_conf``), its haresources (or
    ``haresources``) and a sha1 authkeys."""
    ha_dir = tmp_path / "ha.d"
    ha_dir.mkdir()
    (ha_dir / "ha.conf").write_text((SEED / "ha.conf").read_text() + extra_ha_conf)
    (ha_dir / "haresources").write_text(haresources or (SEED / "haresources").read_text())
    (ha_dir / "authkeys").write_text("auth 1\n1 sha1 secret\n")
    (ha_dir / "authkeys").chmod(0o600)
    return ha_dir
