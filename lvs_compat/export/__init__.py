"""Export the checked configuration to the stacks that replace two directors (issue 17).

Pure builders: the parsed models (``HaDirectory`` from ``config.hadir``, ``MonConfig`` from
``config.moncf``) go in, text comes out with the warnings about what did not map 1:1.  Nothing
here reads a file, resolves a name or prints; ``command.py`` is the shell for ``lvs-compat
export``.

* ``pacemaker.py``: a CIB (XML, or the same as crm shell / pcs commands) and a corosync.conf;
* ``keepalived.py``: one keepalived.conf per director.

Every directive that has no equivalent, or only an approximate one, gives one
``ExportWarning`` located at its source line (the file as a whole when the problem is an
absence, e.g. no stonith).  ``kind`` says which: ``none`` (dropped) or ``approximate``
(emitted with a different meaning, explained in the message).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.errors import Location

NO_EQUIVALENT = "none"
APPROXIMATE = "approximate"


@dataclass(frozen=True)
class ExportWarning:
    location: Location
    kind: str  # NO_EQUIVALENT or APPROXIMATE
    message: str

    def __str__(self) -> str:
        what = "no equivalent" if self.kind == NO_EQUIVALENT else "approximate"
        return f"{self.location}: warning: {what}: {self.message}"


@dataclass(frozen=True)
class ExportFile:
    name: str  # a file name, no directory
    text: str


@dataclass(frozen=True)
class Export:
    target: str  # "pacemaker" or "keepalived"
    files: tuple[ExportFile, ...]
    warnings: tuple[ExportWarning, ...]

    def file(self, name: str) -> ExportFile:
        return next(item for item in self.files if item.name == name)


def summary_line(export: Export) -> str:
    """``export pacemaker: 2 files, 7 warnings (3 no equivalent, 4 approximate)``."""
    none = sum(1 for w in export.warnings if w.kind == NO_EQUIVALENT)
    approximate = len(export.warnings) - none
    return (f"export {export.target}: {len(export.files)} files, {len(export.warnings)} warnings "
            f"({none} no equivalent, {approximate} approximate)")


def directive_location(ha_cf, name: str) -> Location:
    """Where ``name`` was set in ha.cf (its last occurrence), else the file itself."""
    found = [d.location for d in ha_cf.directives if d.name == name]
    return found[-1] if found else Location(ha_cf.path)


def sorted_warnings(warnings) -> tuple[ExportWarning, ...]:
    """In file order (path, line, column); the order of finding breaks ties."""
    return tuple(sorted(warnings, key=lambda w: (w.location.path, w.location.line, w.location.column)))
