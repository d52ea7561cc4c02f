"""``lvs-compat``: the operator's command: ``lvs-compat check`` and ``lvs-compat export``.

``check`` validates mon.cf and an ha.d directory with the same parsers the
daemon and the alert use, then prints a summary (or the whole model as JSON).
Errors and warnings go to stderr as ``PATH:LINE:COL: ...`` lines.  Exit status:
0 valid, 2 invalid or bad command line, 70 an internal error (a bug: reported in
one line, never as a traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import TextIO

from .config.errors import ConfigError, ConfigWarning, Location
from .oneline import one_line
from .export import command as export_command
from .summary import CheckedFiles, implied_ipvs_entries, render_summary

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_INTERNAL_ERROR = 70  # EX_SOFTWARE

DEFAULT_MON_CF_PATHS = ("/etc/mon/mon.cf", "/etc/mon.cf")
DEFAULT_HA_DIR = "/etc/ha.d"


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_INVALID, one_line(f"{self.prog}: {message} (see --help)") + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="lvs-compat", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineArgumentParser)
    check = commands.add_parser(
        "check",
        help="validate mon.cf and /etc/ha.d and summarise what they configure",
        description="Validate mon.cf and an ha.d directory (ha.cf or ha.conf, haresources, authkeys). "
        "With neither option: /etc/mon/mon.cf (else /etc/mon.cf) and /etc/ha.d. "
        "Exit 0 when valid, 2 when not.",
    )
    check.add_argument("--mon-cf", metavar="PATH", help="mon configuration file")
    check.add_argument("--ha-dir", metavar="DIR", help="heartbeat configuration directory")
    check.add_argument("--json", action="store_true", help="print the whole parsed model as JSON")
    export_command.add_parser(commands)
    return parser


def default_targets() -> tuple[str | None, str | None]:
    mon_cf = next((path for path in DEFAULT_MON_CF_PATHS if os.path.exists(path)), DEFAULT_MON_CF_PATHS[0])
    return mon_cf, DEFAULT_HA_DIR


def check_files(mon_cf_path: str | None, ha_dir: str | None) -> tuple[CheckedFiles, list[ConfigError]]:
    """Parse what was asked for; return the models and every located error."""
    from .config.hadir import load_ha_dir
    from .config.moncf import load_mon_cf

    errors: list[ConfigError] = []
    mon_cf = ha = None
    if mon_cf_path is not None:
        try:
            mon_cf = load_mon_cf(mon_cf_path)
        except ConfigError as error:
            errors.append(error)
    if ha_dir is not None:
        if not os.path.isdir(ha_dir):
            errors.append(ConfigError(Location(ha_dir), "not a directory"))
        else:
            try:
                ha = load_ha_dir(ha_dir)
            except ConfigError as error:
                errors.append(error)
    checked = CheckedFiles(mon_cf=mon_cf, ha=ha)
    if mon_cf is not None:
        _, alert_errors = implied_ipvs_entries(mon_cf)
        errors.extend(alert_errors)
    return checked, errors


def to_json(checked: CheckedFiles, errors: list[ConfigError]) -> str:
    entries, _ = implied_ipvs_entries(checked.mon_cf) if checked.mon_cf else ([], [])
    document = {
        "valid": not errors,
        "errors": [{"path": e.path, "line": e.line, "column": e.column, "message": e.message} for e in errors],
        "mon_cf": dataclasses.asdict(checked.mon_cf) if checked.mon_cf else None,
        "ha": dataclasses.asdict(checked.ha) if checked.ha else None,
        "ipvs_entries": [dataclasses.asdict(entry) for entry in entries],
    }
    return json.dumps(document, indent=2, default=str)


def run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    mon_cf_path, ha_dir = args.mon_cf, args.ha_dir
    if mon_cf_path is None and ha_dir is None:
        mon_cf_path, ha_dir = default_targets()
    checked, errors = check_files(mon_cf_path, ha_dir)
    warnings: list[ConfigWarning] = list(checked.warnings())
    for problem in [*warnings, *errors]:
        print(one_line(str(problem)), file=err)
    if args.json:
        print(to_json(checked, errors), file=out)
    else:
        out.write(render_summary(checked))
    return EXIT_INVALID if errors else EXIT_OK


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "export":
            return export_command.run_export(args, out, err)
        return run_check(args, out, err)
    except BrokenPipeError:  # `lvs-compat check | head` is fine
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - the operator gets one line, not a traceback
        print(one_line(f"lvs-compat: internal error: {type(error).__name__}: {error} (please report)"), file=err)
        return EXIT_INTERNAL_ERROR
