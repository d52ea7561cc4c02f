"""Located configuration errors and warnings.

Every parsed item remembers where it came from (``Location``).  A problem that
makes a file unusable is raised as ``ConfigError``; a line that the original
tool silently misreads is kept with the original meaning and reported as a
``ConfigWarning`` in the parsed model.  Executables turn both into one-line
``PATH:LINE:COL: message`` text; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a config file.  ``line`` and ``column`` count from 1.

    ``line == 0`` means the file as a whole (e.g. it cannot be read).
    """

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{max(self.column, 1)}"


class ConfigError(Exception):
    """A config file that the original tool would refuse (or that cannot be read)."""

    def __init__(self, location: Location, message: str):
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message

    @property
    def path(self) -> str:
        return self.location.path

    @property
    def line(self) -> int:
        return self.location.line

    @property
    def column(self) -> int:
        return self.location.column


@dataclass(frozen=True)
class ConfigWarning:
    """Accepted input whose meaning an operator would not expect."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: warning: {self.message}"


def read_config_text(path: str) -> str:
    """Read a config file as text, or raise a ``ConfigError`` naming the path.

    Bytes that are not UTF-8 are kept (surrogateescape) so that a stray Latin-1
    comment does not make a file unreadable; the originals read bytes too.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(Location(path), f"cannot read: {exc.strerror or exc}") from None
    return data.decode("utf-8", errors="surrogateescape")
