"""A heartbeat configuration directory (``/etc/ha.d`` or a copy of it) read as a whole.

* ``ha.cf`` is the only name heartbeat 3.0.6 reads (SPEC §1a "File name and location").  The
  seed's ``ha.conf`` is accepted as a fallback with a warning, so that old trees can be checked.
* ``haresources`` is optional here (``None``), but heartbeat in v1 mode refuses to start without
  it ("Cannot open resources file"; we warn).  The first word of every group must be a node
  declared in ``ha.cf`` (C: ``parse_ha_resources`` → "Bad nodename in haresources [x]").
* ``authkeys`` is parsed and its mode checked if present; if absent we warn, because heartbeat
  will not start without it, while a seed tree without one can still be checked.

``HaDirectory.warnings`` holds every warning of the directory and of its files, in reading order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .authkeys import AuthKeys, load_authkeys
from .errors import ConfigError, ConfigWarning, Location
from .hacf import HaConfig, load_ha_cf
from .haresources import HaResources, load_haresources

CONFIG_NAMES = ("ha.cf", "ha.conf")


@dataclass(frozen=True)
class HaDirectory:
    directory: str
    config_path: str
    ha_cf: HaConfig
    haresources: HaResources | None
    authkeys: AuthKeys | None
    warnings: tuple[ConfigWarning, ...]


def check_resource_nodes(ha_cf: HaConfig, haresources: HaResources) -> None:
    """Every group's node must be a ``node`` of ha.cf (checked case-insensitively)."""
    for group in haresources.groups:
        if not ha_cf.has_node(group.node):
            raise ConfigError(group.location, f"Bad nodename in haresources [{group.node}] "
                              f"(nodes: {', '.join(n.name for n in ha_cf.nodes)})")


def load_ha_dir(directory: str) -> HaDirectory:
    """Read ``ha.cf`` (or ``ha.conf``), ``haresources`` and ``authkeys`` from ``directory``."""
    config_path = next((os.path.join(directory, name) for name in CONFIG_NAMES
                        if os.path.exists(os.path.join(directory, name))), None)
    if config_path is None:
        raise ConfigError(Location(directory), "Cannot open config file: no ha.cf (nor ha.conf) "
                          "in this directory")
    ha_cf = load_ha_cf(config_path)
    warnings = list(ha_cf.warnings)
    if os.path.basename(config_path) != "ha.cf":
        warnings.insert(0, ConfigWarning(Location(config_path), "heartbeat 3.0.6 reads only "
                                         "ha.cf; rename ha.conf to ha.cf"))

    haresources = None
    resources_path = os.path.join(directory, "haresources")
    if os.path.exists(resources_path):
        haresources = load_haresources(resources_path)
        check_resource_nodes(ha_cf, haresources)
        warnings.extend(haresources.warnings)
    elif ha_cf.manages_resources:
        warnings.append(ConfigWarning(Location(resources_path), "no haresources: heartbeat "
                                      "will refuse to start (Cannot open resources file)"))

    authkeys = None
    authkeys_path = os.path.join(directory, "authkeys")
    if os.path.exists(authkeys_path):
        authkeys = load_authkeys(authkeys_path)
        warnings.extend(authkeys.warnings)
    else:
        warnings.append(ConfigWarning(Location(authkeys_path), "no authkeys: heartbeat will "
                                      "refuse to start without authkeys"))
    return HaDirectory(directory, config_path, ha_cf, haresources, authkeys, tuple(warnings))


def load_heartbeat_dir(directory: str, node_name: str) -> HaDirectory:
    """The ha.d directory as the heartbeat daemon needs it: ``load_ha_dir`` plus authkeys
    present, this node declared (or ``autojoin any``), a heartbeat medium, and v1 resource
    management (crm off).  ``ConfigError`` (located) on the first problem."""
    ha_dir = load_ha_dir(directory)
    ha_cf = ha_dir.ha_cf
    if ha_dir.authkeys is None:
        raise ConfigError(Location(os.path.join(directory, "authkeys")),
                          "Cannot open keyfile: heartbeat needs authkeys")
    if not ha_cf.has_node(node_name) and ha_cf.autojoin != "any":
        raise ConfigError(Location(ha_cf.path), f"Current node [{node_name}] not in "
                          "configuration (node directives); use --node-name or nodeinfo")
    if not [m for m in ha_cf.media if m.kind not in ("ping", "ping6", "ping_group")]:
        raise ConfigError(Location(ha_cf.path), "No heartbeat media defined")
    if not ha_cf.manages_resources:
        raise ConfigError(Location(ha_cf.path), "crm/pacemaker on is not supported by this "
                          "heartbeat (v1 haresources mode only): set crm off")
    return ha_dir
