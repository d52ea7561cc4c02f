"""Opening files in a directory where something may already sit at the name (issue 19): never
through a symbolic link (``O_NOFOLLOW``), a temporary file always new (``O_EXCL``), a kept
file (a lock, the verdicts) only if it is a regular file, checked on the descriptor.

``posix`` only, like ``lvs_compat.ipvs``: ``lvs.alert`` opens its lock and verdicts with these
on its hot path, where ``import os`` would cost a tenth of its run.
"""

import posix

_S_IFMT = 0o170000
_S_IFREG = 0o100000
_EEXIST = 17  # errno.EEXIST on Linux, without importing errno (0.1 ms of the alert's start)


def create_new(path: str, mode: int = 0o600) -> int:
    """A new file at ``path``, open for writing (``O_EXCL | O_NOFOLLOW``).  What is there
    already (the leftover of a run that died, or a symbolic link someone put there) is
    removed, never followed or written through; a second collision is an OSError."""
    flags = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_NOFOLLOW | posix.O_CLOEXEC
    try:
        return posix.open(path, flags, mode)
    except FileExistsError:
        posix.unlink(path)  # the name itself, a symbolic link included, not what it points to
        return posix.open(path, flags, mode)


def open_regular(path: str, flags: int, mode: int = 0o600) -> int:
    """``path`` opened with ``flags`` (``O_CREAT`` allowed), never through a symbolic link
    (OSError ELOOP) and only if it is a regular file (else FileExistsError)."""
    fd = posix.open(path, flags | posix.O_NOFOLLOW | posix.O_CLOEXEC, mode)
    if posix.fstat(fd).st_mode & _S_IFMT != _S_IFREG:
        posix.close(fd)
        raise FileExistsError(_EEXIST, "exists and is not a regular file", path)
    return fd
