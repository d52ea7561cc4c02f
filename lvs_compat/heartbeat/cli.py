"""``heartbeat``: the 3.0.6 command line (``/usr/libexec/heartbeat/heartbeat``).

C usage: ``heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]``.  Every option of it is
accepted, with C's precedence (``main()`` in heartbeat.c): ``-V`` first, then a usage error,
then ``-D``, ``-k``, ``-s``, ``-R``, ``-r``, and last a start.  Operands are ignored, as by C.

* (no option): check the configuration, daemonize, run; "heartbeat: already running [pid N]."
  and exit 0 if one runs (C's ``make_daemon``);
* ``-f``: the same in the foreground (systemd's ``Type=simple`` unit runs ``heartbeat -f``);
  the pid file (``/run/heartbeat.pid``, the unit's ``PIDFile=``) is written either way;
* ``-k``: stop the running daemon (SIGTERM, wait for it to exit); "INFO: Heartbeat already
  stopped." and exit 0 if none runs, as the C one;
* ``-r``: reload: the configuration is checked first (an error: the located line, "Config
  errors: Heartbeat pid N NOT restarted", exit 1, the daemon untouched), then the running
  daemon is asked on its control socket (C sends SIGHUP and exits 0) and its refusal of a
  configuration that cannot run is reported ("heartbeat: reload refused, configuration kept:
  ...", exit 1); with none running, ``-r`` starts one, as C's ``goto StartHeartbeat``;
* ``-s``: "heartbeat OK [pid N et al] is running on NODE [NODE]..." exit 0, or
  "heartbeat is stopped. No process" exit 3, or 1 when a stale pid file names a dead process
  (C: LSB_STATUS_VAR_PID);
* ``-R``: C's "we are restarting" flag, given by the daemon to its own re-exec.  Ours re-execs
  itself otherwise, so from a shell it ends as C's does there: configuration checked (error:
  exit 1), "ERROR: heartbeat is not running." exit 6, or "ERROR: Heartbeat already running
  [pid N]." exit 1;
* ``-C STATE``: only with ``-R`` (else usage, exit 2); STATE is none, local, foreign or all;
* ``-M``: manage no resources (C's ``DoManageResources=0``): haresources is checked, not used;
* ``-l``: no realtime scheduling (C's ``cl_disable_realtime``), as ``realtime off`` in ha.cf;
* ``-d``: one more debug level (repeatable); ``-v``: verbose (log to stderr as well);
* ``-V``: version; ``-D``: the directive defaults table (as the C ``-D`` prints it), ``-D -W``
  in its wiki markup; ``-W`` alone changes nothing, as in C;
* ``-h`` (or any unknown option): "heartbeat: ..." and C's usage on stderr, exit 2.

Not the C daemon's: ``--config-dir`` (default /etc/ha.d; ha.cf, then ha.conf), ``--state-dir``
(default /var/lib/heartbeat: hb_generation, hb_uuid), ``--run-dir`` (default /run/heartbeat:
the control socket), ``--pid-file`` (default /run/heartbeat.pid with the default run dir, else
RUN_DIR/heartbeat.pid), ``--node-name`` (default: the first line of CONFIG_DIR/nodeinfo, else
``uname -n``; lowercased) and ``--foreground`` (= ``-f``), so that several nodes run on one
machine; ``--failed-stop-action hold|reboot`` (default hold: a resource group that cannot be
stopped stays held here, logged critically, and the peer is not told to take it; ``reboot`` is
C's ``RecoverFromFailedStop``, ``reboot -nf``).

Start-up checks (exit 6, one located line, nothing started): ha.cf, authkeys, haresources
(nodes declared in ha.cf, every resource script found in ``resource.d/``, ``/etc/init.d/`` or
``/etc/rc.d/init.d/``, built-in resources' arguments usable).

Exit codes (C's LSB codes): 0 fine, 1 runtime failure (or ``-s``: stale pid file), 2 usage,
3 (``-s``) not running, 6 configuration error (one located line on stderr:
``PATH:LINE:COL: message``; the daemon is not started, systemd shows ``6/NOTCONFIGURED``).
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

# C's exit codes (lsb_exitcodes.h)
EXIT_OK = 0
EXIT_GENERIC = 1
EXIT_USAGE = 2            # LSB_EXIT_EINVAL
EXIT_NOT_CONFIGURED = 6   # LSB_EXIT_NOTCONFIGED
STATUS_STALE_PID = 1      # LSB_STATUS_VAR_PID
STATUS_STOPPED = 3        # LSB_STATUS_STOPPED

RESOURCE_STATES = ("none", "local", "foreign", "all")   # -C, C's encode_resources()

C_USAGE = ("Usage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]\n"
           "\t-C only valid with -R\n"
           "\t-r is mutually exclusive with -R\n"
           "lvs-compat: [--config-dir DIR] [--state-dir DIR] [--run-dir DIR] [--pid-file FILE]"
           " [--node-name NAME] [--foreground] [--failed-stop-action hold|reboot]\n")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # C: getopt's complaint + usage(), exit LSB_EXIT_EINVAL (LAB)
        sys.stderr.write(f"heartbeat: {one_line(message)}\n\n{C_USAGE}")
        sys.exit(EXIT_USAGE)

    def format_usage(self):
        return C_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="heartbeat", add_help=False)
    flag = parser.add_argument
    flag("-V", dest="version", action="store_true")
    flag("-D", dest="defaults", action="store_true")
    flag("-W", dest="wiki", action="store_true")
    flag("-k", dest="stop", action="store_true")
    flag("-s", dest="status", action="store_true")
    flag("-R", dest="restarting", action="store_true")
    flag("-r", dest="reload", action="store_true")
    flag("-C", dest="current_state", metavar="Current-resource-state")
    flag("-M", dest="manage_resources", action="store_false")
    flag("-l", dest="realtime", action="store_false")
    flag("-f", "--foreground", dest="foreground", action="store_true")
    flag("-d", dest="debug", action="count", default=0)
    flag("-v", dest="verbose", action="count", default=0)
    flag("--config-dir", default=DEFAULT_CONFIG_DIR)
    flag("--state-dir", default=DEFAULT_STATE_DIR)
    flag("--run-dir", default=DEFAULT_RUN_DIR)
    flag("--pid-file")
    flag("--node-name")
    flag("--failed-stop-action", choices=("hold", "reboot"), default="hold")
    flag("operands", nargs="*", help=argparse.SUPPRESS)   # C ignores them
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


def _defaults(wiki: bool) -> int:
    from ..config.hacf_defaults import HA_CF_DEFAULTS
    if not wiki:
        print(f"{'Directive':<25}{'Default':<10}Description")
        print("-" * 80)
        for name, default, description in HA_CF_DEFAULTS:
            print(f"{name:<25}{default:<10}{description}")
        return EXIT_OK
    # C's dump_default_config(TRUE), `heartbeat -DW` (LAB)
    print("##Put this output in the ha.cf/DefaultValues page")
    print("The [wiki:ha.cf ha.cf] directives with default values are shown below"
          " - along with a brief description.")
    print(f"This was produced by {{{{{{heartbeat -DW}}}}}} ''# (version {VERSION})''")
    print()
    print("||''Directive''||''Default''||''Description''||")
    for name, default, description in HA_CF_DEFAULTS:
        page = "".join(word.capitalize() for word in name.split("_")) + "Directive"
        print(f"||[wiki:ha.cf/{page} {name}]||{default}||{description}||")
    return EXIT_OK


def _load(options, node_name: str):
    """The configuration directory, or None after its one located line on stderr."""
    from ..config.errors import ConfigError
    from .daemon import load_config
    try:
        return load_config(options.config_dir, node_name)
    except ConfigError as error:
        sys.stderr.write(f"{one_line(str(error))}\n")
    except OSError as error:
        sys.stderr.write(one_line(f"{error.filename or options.config_dir}: {error.strerror}")
                         + "\n")
    return None


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if options.version:
        print(f"{VERSION} ({PRODUCT})")
        return EXIT_OK
    if options.current_state is not None and (
            not options.restarting or options.current_state not in RESOURCE_STATES):
        what = ("-C only valid with -R" if not options.restarting
                else f"bad resource state [{options.current_state}]"
                     f" (one of {', '.join(RESOURCE_STATES)})")
        sys.stderr.write(f"heartbeat: {one_line(what)}\n\n{C_USAGE}")
        return EXIT_USAGE
    if options.defaults:
        return _defaults(options.wiki)

    from . import running
    from .statefiles import running_pid
    pid_file = pid_file_of(options)
    node_name = local_node_name(options.config_dir, options.node_name)
    if options.stop:
        return running.stop(pid_file)
    if options.status:
        return running.status(pid_file, node_name)
    if options.restarting:
        if _load(options, node_name) is None:
            return EXIT_GENERIC
        pid = running_pid(pid_file)
        if pid is None:
            sys.stderr.write("ERROR: heartbeat is not running.\n")
            return EXIT_NOT_CONFIGURED
        sys.stderr.write(f"ERROR: Heartbeat already running [pid {pid}].\n")
        return EXIT_GENERIC
    pid = running_pid(pid_file) if options.reload else None
    if pid is not None:
        if _load(options, node_name) is None:
            sys.stderr.write(f"heartbeat: Config errors: Heartbeat pid {pid} NOT restarted\n")
            return EXIT_GENERIC
        return running.reload(pid_file, options.run_dir)

    ha_dir = _load(options, node_name)
    if ha_dir is None:
        sys.stderr.write("heartbeat: Configuration error, heartbeat not started.\n")
        return EXIT_NOT_CONFIGURED
    other = running_pid(pid_file)
    if other is not None and other != os.getpid():
        sys.stderr.write(f"heartbeat: already running [pid {other}].\n")   # C: exit OK
        return EXIT_OK
    from dataclasses import replace
    if not options.realtime:
        ha_dir = replace(ha_dir, ha_cf=replace(ha_dir.ha_cf, realtime=False))
    if not options.manage_resources:
        ha_dir = replace(ha_dir, haresources=None)
    from .daemon import DaemonError, run_daemon
    try:
        return run_daemon(ha_dir, options, node_name, pid_file)
    except DaemonError as error:
        sys.stderr.write(f"heartbeat: {one_line(str(error))}\n")
        return EXIT_GENERIC
    except KeyboardInterrupt:
        return EXIT_GENERIC
