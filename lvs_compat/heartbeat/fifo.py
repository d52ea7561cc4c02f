"""The heartbeat FIFO (``<state-dir>/fifo``, C: ``HA_FIFO`` = /var/lib/heartbeat/fifo) and the
two programs that write to it, ``hb_standby`` and ``hb_takeover`` (SPEC §1e).

Scripts send cluster messages by appending classic text to the FIFO, as ``ha_clustermsg`` in
shellfuncs does: ``>>>\\n``, ``name=value`` lines, ``<<<\\n``.  The daemon

* turns ``t=ask_resources info=me`` into ``StandbyRequest(rsc_hold)`` and ``t=hb_takeover``
  into ``TakeoverRequest(rsc_hold)``: the coordinator checks them before anything goes on the
  wire (see ``resources``, "Deviations");
* sends every other message (the control fields are its own: any ``src``, ``seq``... written
  by the script are dropped) and processes it locally, as C does.

The daemon opens the FIFO read-write and non-blocking, so it never sees end-of-file and a writer
never blocks while it runs.  Text that is not a message (no ``>>>``, a line without ``=``) is
dropped and logged; the buffer is bounded.

``hb_standby [all|foreign|local|failback]`` and ``hb_takeover [...]``: the messages and exit
codes of ``/usr/share/heartbeat/hb_standby`` and ``hb_takeover``.  Ours also take
``--state-dir DIR`` (where the FIFO is; default /var/lib/heartbeat) so that several nodes run
on one machine, and say so in one line (exit 1) when no daemon reads the FIFO, where the shell
scripts would block forever.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

from ..oneline import one_line

FIFO_NAME = "fifo"
FIFO_MODE = 0o600  # C: FIFOMODE
MAX_BUFFER = 65536
CONTROL_FIELDS = frozenset({"src", "srcuuid", "seq", "hg", "ts", "ld", "ttl", "auth", "dest_uuid"})
RESOURCE_SETS = ("all", "foreign", "local", "failback")
DEFAULT_STATE_DIR = "/var/lib/heartbeat"


def fifo_path(state_dir: str) -> str:
    return os.path.join(state_dir, FIFO_NAME)


def open_fifo(path: str, flags: int) -> int:
    """``path`` opened non-blocking, never through a symbolic link, and only if it is a FIFO
    (checked on the descriptor, not the name, so nothing can be swapped in between): a
    regular file or device there is never written to.  OSError otherwise."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EEXIST, f"{path} exists and is not a FIFO")
    return fd


def parse_messages(buffer: bytes) -> tuple[list[list[tuple[str, str]]], bytes, list[str]]:
    """Complete ``>>>``...``<<<`` messages in ``buffer``: (messages, the rest, complaints)."""
    messages: list[list[tuple[str, str]]] = []
    complaints: list[str] = []
    while True:
        end = buffer.find(b"<<<\n")
        if end < 0:
            break
        chunk, buffer = buffer[:end], buffer[end + 4:]
        lines = chunk.decode("utf-8", "replace").split("\n")
        start = next((i for i, line in enumerate(lines) if line == ">>>"), None)
        if start is None:
            complaints.append("FIFO: text without '>>>' dropped")
            continue
        if start:
            complaints.append("FIFO: text before '>>>' dropped")
        fields = []
        for line in lines[start + 1:]:
            if not line:
                continue
            name, sep, value = line.partition("=")
            if not sep or not name:
                complaints.append(f"FIFO: line without name=value dropped: {line[:60]!r}")
                continue
            fields.append((name, value))
        messages.append(fields)
    if len(buffer) > MAX_BUFFER:
        complaints.append(f"FIFO: {len(buffer)} bytes without '<<<' dropped")
        buffer = b""
    return messages, buffer, complaints


class FifoReader:
    """The daemon's end: ``fileno()`` for the selector, ``read()`` for the messages."""

    def __init__(self, state_dir: str):
        self.path = fifo_path(state_dir)
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            os.mkfifo(self.path, FIFO_MODE)
        else:
            if not stat.S_ISFIFO(mode):
                raise OSError(errno.EEXIST, f"{self.path} exists and is not a FIFO")
        self.fd = open_fifo(self.path, os.O_RDWR)
        try:
            # an existing FIFO: 3.0.6 chmods it to 0600; one of another user, who could open
            # it again whatever its mode, is refused (issue 19)
            owner = os.fstat(self.fd).st_uid
            if owner != os.geteuid():
                raise OSError(errno.EPERM, f"{self.path} is a FIFO owned by uid {owner}, "
                                           f"not by us: remove it")
            os.fchmod(self.fd, FIFO_MODE)
        except BaseException:
            os.close(self.fd)
            raise
        self._buffer = b""

    def fileno(self) -> int:
        return self.fd

    def read(self) -> tuple[list[list[tuple[str, str]]], list[str]]:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break
            self._buffer += data
            if len(data) < 65536:
                break
        messages, self._buffer, complaints = parse_messages(self._buffer)
        return messages, complaints

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def request_of(fields: list[tuple[str, str]]):
    """A local request for the coordinator, or None if the message is to be sent as it is."""
    from . import resources
    message = dict(fields)
    kind = message.get("t")
    if kind == "ask_resources" and message.get("info") == "me":
        return resources.StandbyRequest(message.get("rsc_hold", "all"))
    if kind == "hb_takeover":
        return resources.TakeoverRequest(message.get("rsc_hold", "all"))
    return None


def outbound_fields(fields: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in fields if name not in CONTROL_FIELDS)


def write_message(state_dir: str, fields: list[tuple[str, str]]) -> None:
    """Append one message to the FIFO (``ha_clustermsg``); OSError if nobody reads it."""
    text = ">>>\n" + "".join(f"{name}={value}\n" for name, value in fields) + "<<<\n"
    fd = open_fifo(fifo_path(state_dir), os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


# --- hb_standby / hb_takeover ---------------------------------------------------------------

def _client(program: str, argv: list[str], build) -> int:
    state_dir = DEFAULT_STATE_DIR
    args = []
    iterator = iter(argv)
    for arg in iterator:
        if arg == "--state-dir":
            state_dir = next(iterator, None)
            if state_dir is None:
                sys.stderr.write(f"{program}: --state-dir needs a directory\n")
                return 1
        elif arg.startswith("--state-dir="):
            state_dir = arg.split("=", 1)[1]
        else:
            args.append(arg)

    def usage() -> int:
        sys.stdout.write("usage:\n")
        sys.stderr.write(f"{program} [all|foreign|local|failback]\n")
        return 1

    if len(args) >= 2:
        print(f"{program}: too many arguments")
        return usage()
    resources = args[0] if args else "all"
    if resources == "--help":
        return usage()
    if resources not in RESOURCE_SETS:
        print(one_line(f"{program}: wrong resources({resources})."))
        return usage()
    try:
        write_message(state_dir, build(resources))
    except OSError as error:
        reason = ("no heartbeat is running (nobody reads it)" if error.errno == errno.ENXIO
                  else error.strerror or str(error))
        sys.stderr.write(one_line(f"{program}: {fifo_path(state_dir)}: {reason}") + "\n")
        return 1
    return 0


def standby_main(argv: list[str] | None = None) -> int:
    """hb_standby: this node gives up the set and the other node takes it."""
    def build(which: str):
        which = "foreign" if which == "failback" else which
        return [("t", "ask_resources"), ("rsc_hold", which), ("info", "me")]
    return _client("hb_standby", list(sys.argv[1:] if argv is None else argv), build)


def takeover_main(argv: list[str] | None = None) -> int:
    """hb_takeover: the other node gives up the set and this node takes it."""
    def build(which: str):
        return [("t", "hb_takeover"), ("rsc_hold", which)]
    return _client("hb_takeover", list(sys.argv[1:] if argv is None else argv), build)
