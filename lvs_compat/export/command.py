"""``lvs-compat export pacemaker|keepalived``: the I/O shell around the pure builders.

The files are checked exactly as ``lvs-compat check`` does; a configuration it rejects is not
exported (its one-line located errors on stderr, exit 2).  Without ``--out-dir`` the main
document goes to stdout (the CIB, or every keepalived.conf after a ``# file: NAME`` line); with
it every file is written there and its path printed.  Warnings go to stderr, one located line
each, then one summary line with their counts.
"""

from __future__ import annotations

import argparse
import os
from typing import TextIO

EXIT_OK = 0
EXIT_INVALID = 2


def add_parser(commands) -> None:
    export = commands.add_parser(
        "export", help="export the configuration to Pacemaker+Corosync or keepalived",
        description="Export mon.cf and an ha.d directory to the stacks that outgrow two directors. "
        "Exit 0 when exported (warnings on stderr), 2 when the files are invalid.")
    targets = export.add_subparsers(dest="target", required=True, parser_class=type(export))
    for target, text in (("pacemaker", "a CIB (xml, crm or pcs) and corosync.conf"),
                         ("keepalived", "one keepalived.conf per director")):
        sub = targets.add_parser(target, help=text, description=f"Write {text}.")
        sub.add_argument("--ha-dir", metavar="DIR", default=None, help="heartbeat directory (/etc/ha.d)")
        sub.add_argument("--mon-cf", metavar="PATH", default=None,
                         help="mon configuration file (/etc/mon/mon.cf, else /etc/mon.cf)")
        sub.add_argument("--out-dir", metavar="DIR", help="write the files here instead of stdout")
        sub.add_argument("--addr", metavar="NODE=IP", action="append", default=[],
                         help="a node's address (ha.cf has none); repeat per node")
        if target == "pacemaker":
            sub.add_argument("--format", choices=("xml", "crm", "pcs"), default="xml",
                             help="CIB as XML (default), crm shell input or pcs commands")


def _addresses(pairs: list[str]) -> tuple[dict[str, str], str | None]:
    addresses = {}
    for pair in pairs:
        name, equals, address = pair.partition("=")
        if not equals or not name or not address:
            return {}, f"--addr {pair!r}: expected NODE=IP"
        addresses[name.lower()] = address
    return addresses, None


def run_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..cli import DEFAULT_HA_DIR, check_files, default_targets
    from ..oneline import one_line
    from . import summary_line

    addresses, problem = _addresses(args.addr)
    if problem:
        print(one_line(f"lvs-compat export: {problem}"), file=err)
        return EXIT_INVALID
    mon_cf_path = args.mon_cf or default_targets()[0]
    if args.target == "pacemaker" and args.mon_cf is None and not os.path.exists(mon_cf_path):
        mon_cf_path = None  # optional for Pacemaker: mon.cf stays mon's
    checked, errors = check_files(mon_cf_path, args.ha_dir or DEFAULT_HA_DIR)
    for error in [*checked.warnings(), *errors]:  # as lvs-compat check prints them
        print(one_line(str(error)), file=err)
    if errors:
        print(f"lvs-compat export: not exported: {len(errors)} errors (see lvs-compat check)", file=err)
        return EXIT_INVALID

    if args.target == "pacemaker":
        from .pacemaker import export_pacemaker
        export = export_pacemaker(checked.ha, checked.mon_cf, args.format, addresses)
    else:
        from .keepalived import export_keepalived
        export = export_keepalived(checked.ha, checked.mon_cf, addresses)

    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        for item in export.files:
            path = os.path.join(args.out_dir, item.name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(item.text)
            if item.text.startswith("#!"):
                os.chmod(path, 0o755)
            print(path, file=out)
    elif args.target == "pacemaker":
        out.write(export.files[0].text)
    else:
        for item in export.files:
            out.write(f"# file: {item.name}\n{item.text}")
    for warning in export.warnings:
        print(one_line(str(warning)), file=err)
    print(f"lvs-compat {summary_line(export)}", file=err)
    return EXIT_OK
