"""``heartbeat``: the 3.0.6 command line (``/usr/libexec/heartbeat/heartbeat``).

C usage: ``heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]``.  Handled here:

* (no option): check the configuration, daemonize, run;
* ``-k``: stop the running daemon (SIGTERM, wait for it to exit); "INFO: Heartbeat already
  stopped." and exit 0 if none runs, as the C one;
* ``-r``: reload (SIGHUP to the running daemon);
* ``-s``: "heartbeat OK [pid N et al] is running on NODE [NODE]..." exit 0, or
  "heartbeat is stopped. No process" exit 3 (C wording and codes, LAB);
* ``-d``: one more debug level (repeatable); ``-v``: verbose (log to stderr as well);
* ``-V``: version; ``-D``: the directive defaults table (as the C ``-D`` prints it).

Not the C daemon's: ``--config-dir`` (default /etc/ha.d; ha.cf, then ha.conf), ``--state-dir``
(default /var/lib/heartbeat: hb_generation, hb_uuid), ``--run-dir`` (default /run/heartbeat:
the control socket), ``--pid-file`` (default /run/heartbeat.pid with the default run dir, else
RUN_DIR/heartbeat.pid), ``--node-name`` (default: the first line of CONFIG_DIR/nodeinfo, else
``uname -n``; lowercased) and ``--foreground`` (do not daemonize), so that several nodes run on
one machine; ``--failed-stop-action hold|reboot`` (default hold: a resource group that cannot be
stopped stays held here, logged critically, and the peer is not told to take it; ``reboot`` is
C's ``RecoverFromFailedStop``, ``reboot -nf``).

Start-up checks (exit 2, one located line, nothing started): ha.cf, authkeys, haresources
(nodes declared in ha.cf, every resource script found in ``resource.d/``, ``/etc/init.d/`` or
``/etc/rc.d/init.d/``, built-in resources' arguments usable).

Exit codes: 0 fine, 1 runtime failure, 2 configuration error (one located line on stderr:
``PATH:LINE:COL: message``; the daemon is not started), 3 (``-s``) not running.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..oneline import one_line
from . import PRODUCT, VERSION
DEFAULT_CONFIG_DIR = "/etc/ha.d"
DEFAULT_STATE_DIR = "/var/lib/heartbeat"
DEFAULT_RUN_DIR = "/run/heartbeat"
DEFAULT_PID_FILE = "/run/heartbeat.pid"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # C: "invalid option" + usage, exit 1 (LAB: rc 2 for -h)
        sys.stderr.write(f"heartbeat: {one_line(message)}\n")
        self.print_usage(sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="heartbeat", add_help=False,
                     usage="heartbeat [-dDkrsvV] [--config-dir DIR] [--state-dir DIR] "
                           "[--run-dir DIR] [--pid-file FILE] [--node-name NAME] [--foreground] "
                           "[--failed-stop-action hold|reboot]")
    parser.add_argument("-k", dest="action", action="store_const", const="stop")
    parser.add_argument("-r", dest="action", action="store_const", const="reload")
    parser.add_argument("-s", dest="action", action="store_const", const="status")
    parser.add_argument("-V", dest="action", action="store_const", const="version")
    parser.add_argument("-D", dest="action", action="store_const", const="defaults")
    parser.add_argument("-d", dest="debug", action="count", default=0)
    parser.add_argument("-v", dest="verbose", action="count", default=0)
    parser.add_argument("--config-dir", default=DEFAULT_CONFIG_DIR)
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    parser.add_argument("--run-dir", default=DEFAULT_RUN_DIR)
    parser.add_argument("--pid-file")
    parser.add_argument("--node-name")
    parser.add_argument("--foreground", action="store_true")
    parser.add_argument("--failed-stop-action", choices=("hold", "reboot"), default="hold")
    return parser


def pid_file_of(options) -> str:
    if options.pid_file:
        return options.pid_file
    if os.path.normpath(options.run_dir) == DEFAULT_RUN_DIR:
        return DEFAULT_PID_FILE
    return os.path.join(options.run_dir, "heartbeat.pid")


def local_node_name(config_dir: str, override: str | None = None) -> str:
    """``--node-name``, else the first line of CONFIG_DIR/nodeinfo, else ``uname -n``;
    lowercased (ASCII, as heartbeat does)."""
    name = override
    if not name:
        try:
            with open(os.path.join(config_dir, "nodeinfo"), encoding="utf-8",
                      errors="surrogateescape") as handle:
                name = handle.readline().strip()
        except OSError:
            name = ""
    if not name:
        name = os.uname().nodename
    from ..config.libc import ascii_lower  # here: `heartbeat -V` needs none of the config
    return ascii_lower(name)


def _defaults() -> int:
    from ..config.hacf_defaults import HA_CF_DEFAULTS
    print(f"{'Directive':<25}{'Default':<10}Description")
    print("-" * 80)
    for name, default, description in HA_CF_DEFAULTS:
        print(f"{name:<25}{default:<10}{description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if options.action == "version":
        print(f"{VERSION} ({PRODUCT})")
        return 0
    if options.action == "defaults":
        return _defaults()
    if options.action in ("status", "stop", "reload"):
        from . import running
        pid_file = pid_file_of(options)
        if options.action == "status":
            return running.status(pid_file, local_node_name(options.config_dir,
                                                            options.node_name))
        return running.stop(pid_file) if options.action == "stop" else running.reload(pid_file)

    from ..config.errors import ConfigError
    from .daemon import DaemonError, load_config, run_daemon
    node_name = local_node_name(options.config_dir, options.node_name)
    try:
        ha_dir = load_config(options.config_dir, node_name)
    except ConfigError as error:
        sys.stderr.write(f"{one_line(str(error))}\n")
        sys.stderr.write("heartbeat: Configuration error, heartbeat not started.\n")
        return 2
    except OSError as error:
        sys.stderr.write(one_line(f"{error.filename or options.config_dir}: {error.strerror}")
                         + "\n")
        return 2

    try:
        return run_daemon(ha_dir, options, node_name, pid_file_of(options))
    except DaemonError as error:
        sys.stderr.write(f"heartbeat: {one_line(str(error))}\n")
        return 1
    except KeyboardInterrupt:
        return 1
