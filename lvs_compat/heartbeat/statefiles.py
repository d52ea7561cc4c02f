"""The files heartbeat 3.0.6 keeps about itself, in the C daemon's formats, so that a node can
switch implementation and keep its identity (issue 5 item 4).

LAB (a real 3.0.6 node run once in the interop lab, files read back):

* ``/var/lib/heartbeat/hb_generation``: 16 bytes, the generation as ``%15lu\\n`` (right-aligned
  decimal).  Incremented and fsync'ed at every start; a node without the file starts at
  ``time() + 1`` ("No Previous generation - starting at N").  ``hbgenmethod time`` uses
  ``time()`` and writes nothing (SPEC §1d ``hg``).
* ``/var/lib/heartbeat/hb_uuid``: the node UUID as 16 raw bytes (a random version-4 UUID made
  at first start).  ``uuidfrom nodename``: the UUID is derived from the node name instead and
  no file is needed (we derive it as the name's bytes, NUL-padded/cut to 16; peers learn
  name<->uuid from ``srcuuid`` and never check how it was made).
* ``/run/heartbeat.pid``: the daemon's pid as ``%10d\\n``.

The clock is passed in (``now``), as everywhere in the heartbeat package.
"""

from __future__ import annotations

import errno
import os
import uuid as uuid_module

from ..files import create_new

GENERATION_FILE = "hb_generation"
PEER_GENERATIONS_FILE = "hb_peer_generations"
UUID_FILE = "hb_uuid"
UUID_BYTES = 16


class StateFileError(Exception):
    """A state file that cannot be read or written; ``str()`` is a one-line message."""


def _write_synced(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` atomically with ``data`` and fsync both file and directory."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = create_new(tmp, mode)  # O_EXCL | O_NOFOLLOW: never written through a symlink
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dirfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def next_generation(state_dir: str, method: str, now: float) -> tuple[int, str]:
    """The generation of this start and a log line saying how it was chosen.

    ``file``: read hb_generation, add 1, write it back (fsync) before anything is sent;
    ``time``: ``int(now)`` (nothing written)."""
    if method == "time":
        generation = int(now)
        return generation, f"Heartbeat generation: {generation} (hbgenmethod time)"
    path = os.path.join(state_dir, GENERATION_FILE)
    try:
        with open(path, "rb") as handle:
            text = handle.read(64)
    except FileNotFoundError:
        generation = int(now) + 1
        note = f"No Previous generation - starting at {generation}"
    except OSError as error:
        raise StateFileError(f"{path}: cannot read: {error.strerror}") from None
    else:
        try:
            generation = int(text.decode("ascii").strip()) + 1
        except ValueError:
            raise StateFileError(f"{path}: not a decimal generation number") from None
        note = f"Heartbeat generation: {generation}"
    try:
        _write_synced(path, b"%15d\n" % generation)
    except OSError as error:
        raise StateFileError(f"{path}: cannot write: {error.strerror}") from None
    return generation, note


def read_peer_generations(state_dir: str) -> dict[str, tuple[int, int]]:
    """node -> (generation, highest seq) from hb_peer_generations; {} without the file."""
    path = os.path.join(state_dir, PEER_GENERATIONS_FILE)
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 20)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise StateFileError(f"{path}: cannot read: {error.strerror}") from None
    records = {}
    for number, line in enumerate(data.split(b"\n"), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            name, generation, seq = fields[0].decode("utf-8"), int(fields[1]), int(fields[2])
            if len(fields) != 3 or generation < 0 or seq < 0:
                raise ValueError
        except (ValueError, IndexError, UnicodeDecodeError):
            raise StateFileError(f"{path}:{number}: not 'node generation seq'") from None
        records[name] = (generation, seq)
    return records


def write_peer_generations(state_dir: str, records) -> None:
    """Replace hb_peer_generations with ``records`` ((node, generation, seq), ...), fsync'ed."""
    path = os.path.join(state_dir, PEER_GENERATIONS_FILE)
    data = "".join(f"{name} {generation} {seq}\n" for name, generation, seq in records)
    try:
        _write_synced(path, data.encode("utf-8"))
    except OSError as error:
        raise StateFileError(f"{path}: cannot write: {error.strerror}") from None


def uuid_from_nodename(node_name: str) -> bytes:
    return node_name.encode("utf-8", "surrogateescape")[:UUID_BYTES].ljust(UUID_BYTES, b"\0")


def node_uuid(state_dir: str, uuidfrom: str, node_name: str) -> bytes:
    """The 16-byte node UUID: from hb_uuid (created with a random UUID if absent), or derived
    from the node name with ``uuidfrom nodename``."""
    if uuidfrom == "nodename":
        return uuid_from_nodename(node_name)
    path = os.path.join(state_dir, UUID_FILE)
    try:
        with open(path, "rb") as handle:
            data = handle.read(UUID_BYTES + 1)
    except FileNotFoundError:
        data = None
    except OSError as error:
        raise StateFileError(f"{path}: cannot read: {error.strerror}") from None
    if data is not None:
        if len(data) != UUID_BYTES:
            raise StateFileError(f"{path}: not a 16-byte binary uuid ({len(data)} bytes)")
        return data
    value = uuid_module.uuid4().bytes
    try:
        _write_synced(path, value)
    except OSError as error:
        raise StateFileError(f"{path}: cannot write: {error.strerror}") from None
    return value


def format_uuid(value: bytes) -> str:
    return str(uuid_module.UUID(bytes=value)) if len(value) == UUID_BYTES else value.hex()


# --- the pid file (C: /run/heartbeat.pid) ------------------------------------------------------

def read_pid(path: str) -> int | None:
    try:
        with open(path, "rb") as handle:
            text = handle.read(64)
        pid = int(text.decode("ascii").strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pid(path: str) -> int | None:
    """The pid in ``path`` if that process is alive and is a heartbeat, else None."""
    pid = read_pid(path)
    if pid is None or not pid_alive(pid):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except OSError:
        return pid
    return pid if b"heartbeat" in cmdline else None


def write_pid_file(path: str, pid: int) -> None:
    """Create the pid file (``%10d\\n``); refuses if another live heartbeat holds it."""
    other = running_pid(path)
    if other is not None and other != pid:
        raise StateFileError(f"{path}: heartbeat already running (pid {other})")
    try:
        _write_synced(path, b"%10d\n" % pid)
    except OSError as error:
        raise StateFileError(f"{path}: cannot write: {error.strerror}") from None


def remove_pid_file(path: str, pid: int) -> None:
    if read_pid(path) == pid:
        try:
            os.unlink(path)
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
