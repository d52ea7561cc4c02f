"""The only module that runs ``ipvsadm``: read the IPVS table, change it.

Mechanism only, no policy: which change an alert makes lives in
``lvs_compat.lvsalert.policy`` (as keepalived keeps ``ipvswrapper.c`` apart
from ``ipwrapper.c``, ../shared/STYLE.md).

* The binary is ``$IPVSADM`` if set, else ``/sbin/ipvsadm`` (the seed's
  hard-coded path), else ``ipvsadm`` on ``PATH``.  As root, ``$IPVSADM`` and
  ``$LVS_COMPAT_RUN_DIR`` are used only if nobody but root can change what they
  name (``untrusted_as_root``): else each ipvsadm call fails (exit 126), and the
  run directory is an ``UntrustedPath`` error.
* Every call is an argv list handed to ``posix_spawn``; no shell ever sees an
  argument.  ``subprocess`` is not used because importing it costs ~7 ms and
  plumbum ~50 ms with Debian's python3, against ~8 ms for the whole
  interpreter start (bench/lvs_alert_startup.py), and mon starts an alert per
  event.
* A failure raises ``IpvsadmError`` carrying ipvsadm's own message (its
  stderr) and exit status, so the caller can report it verbatim.
* ``TableLock`` serializes changes between processes (mon runs up to
  ``maxprocs`` alerts at once) with ``flock`` on ``/run/lvs-compat/ipvs.lock``.
* Both waits are bounded (issue 19): an ipvsadm that has not finished after
  ``IPVSADM_TIMEOUT_S`` is killed (with anything it started: it runs in its
  own process group) and ``IpvsadmTimeout`` raised; a lock kept by one holder
  for ``LOCK_TIMEOUT_S`` raises ``LockTimeout`` (a lock that passes from holder
  to holder meanwhile is waited for on: a queue is not a hang).  One hung ipvsadm so costs each
  later alert at most one bounded wait, instead of holding the lock and
  queueing every later alert behind it until mon's ``maxprocs`` is used up.
  The bounds are arguments; $LVS_COMPAT_IPVSADM_TIMEOUT and
  $LVS_COMPAT_LOCK_TIMEOUT (seconds) exist for the test suite, which runs
  the executables with a hanging FAKE ipvsadm and must not wait the real
  bounds.
"""

import _socket

# ``posix`` is what ``os`` wraps.  ``import os`` costs ~0.7 ms here (posixpath,
# stat, _collections_abc), a tenth of the alert's whole run
# (bench/lvs_alert_startup.py); the alert needs only the system calls.
import posix

from lvs_compat.files import open_regular

DEFAULT_IPVSADM = "/sbin/ipvsadm"
# $LVS_COMPAT_RUN_DIR exists for the test suite, which must not share state
# with a director's real /run/lvs-compat.
RUN_DIR = "/run/lvs-compat"
# ipvsadm answers in milliseconds; one call may wait for the kernel's IPVS mutex behind another
# table change.  A holder makes at most five calls (lvs.alert: first attempt, -S, two changes; the
# lvs resource: -S, -R, -S, and -R, -S to undo a failed start), so the lock wait covers one holder
# whose calls all time out.
IPVSADM_TIMEOUT_S = 5.0
LOCK_TIMEOUT_S = 30.0

# ipvsadm's flag for each forwarding method (-S prints the same ones).
IPVSADM_FORWARDING_FLAG = {"gate": "-g", "masq": "-m", "ipip": "-i"}
FORWARDING_BY_FLAG = {flag: method for method, flag in IPVSADM_FORWARDING_FLAG.items()}
PROTOCOL_FLAG = {"tcp": "-t", "udp": "-u"}
PROTOCOL_BY_FLAG = {"-t": "tcp", "-u": "udp", "--tcp-service": "tcp", "--udp-service": "udp",
                    "--sctp-service": "sctp", "-f": "fwmark", "--fwmark-service": "fwmark"}


def getenv(name: str) -> str | None:
    """``os.environ.get`` over ``posix.environ`` (bytes, as the kernel gave them)."""
    value = posix.environ.get(name.encode())
    return None if value is None else value.decode("utf-8", "surrogateescape")


def join_path(directory: str, name: str) -> str:
    """``os.path.join(directory, name)`` for a relative ``name``."""
    return directory.rstrip("/") + "/" + name if directory else name


def make_directories(path: str, mode: int) -> None:
    """``os.makedirs(path, mode, exist_ok=True)``."""
    parts = path.rstrip("/").split("/")
    for end in range(1, len(parts) + 1):
        prefix = "/".join(parts[:end])
        if prefix:
            try:
                posix.mkdir(prefix, mode)
            except FileExistsError:
                pass


class UntrustedPath(OSError):
    """$IPVSADM or $LVS_COMPAT_RUN_DIR names, for root, what someone else could change."""


def untrusted_as_root(name: str, path: str) -> str | None:
    """Why root must not use ``path`` from ``$name``, else None (always None for other users,
    who can only hurt themselves).  Used as root: an absolute path without ``..`` that only
    root can change: it (if it exists yet) and every directory above it owned by root and
    not writable by group or others, a sticky directory above it (such as /tmp) excepted, as
    OpenSSH's StrictModes.  Each prefix is stat()ed, so a symbolic link is judged by what it
    names, and the link itself by the directory that holds it (issue 19)."""
    if posix.geteuid() != 0:
        return None
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not path.startswith("/") or ".." in parts:
        return f"${name}={path}: not used as root: not an absolute path without '..'"
    prefixes = ["/" + "/".join(parts[:end]) for end in range(len(parts) + 1)]
    writable_above = False  # the last directory seen is writable by others, though sticky
    for prefix in prefixes:
        try:
            status = posix.stat(prefix)
        except FileNotFoundError:  # a run directory made on first use: not where others
            if writable_above:     # could make it first
                return (f"${name}={path}: not used as root: {prefix} does not exist, in a "
                        f"directory writable by others")
            break
        if status.st_uid != 0:
            return f"${name}={path}: not used as root: {prefix} is owned by uid {status.st_uid}"
        writable_above = bool(status.st_mode & 0o022)
        if writable_above and not (status.st_mode & 0o1000 and prefix != prefixes[-1]):
            return f"${name}={path}: not used as root: {prefix} is writable by group or others"
    return None


def run_dir() -> str:
    """``$LVS_COMPAT_RUN_DIR`` (if root may use it: else ``UntrustedPath``), else RUN_DIR."""
    configured = getenv("LVS_COMPAT_RUN_DIR")
    if not configured:
        return RUN_DIR
    refused = untrusted_as_root("LVS_COMPAT_RUN_DIR", configured)
    if refused is not None:
        raise UntrustedPath(refused)
    return configured


def _seconds_from_env(name: str, default: float) -> float:
    """$name as seconds > 0 (the test suite's override), else ``default``."""
    try:
        value = float(getenv(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


def ipvsadm_timeout() -> float:
    return _seconds_from_env("LVS_COMPAT_IPVSADM_TIMEOUT", IPVSADM_TIMEOUT_S)


def lock_timeout() -> float:
    return _seconds_from_env("LVS_COMPAT_LOCK_TIMEOUT", LOCK_TIMEOUT_S)


def canonical_address(text: str, version: int) -> str | None:
    """``text`` as inet_ntop writes it, or None unless it is a valid IPv4/IPv6 address.

    ``_socket`` rather than ``socket`` (which imports enum and selectors) or
    ``ipaddress``: start-up cost.
    """
    family = _socket.AF_INET6 if version == 6 else _socket.AF_INET
    try:
        return _socket.inet_ntop(family, _socket.inet_pton(family, text))
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None


class Endpoint:
    """An IP address (canonical text) and optional port, as ipvsadm spells it."""

    __slots__ = ("address", "port")

    def __init__(self, address: str, port: int | None):
        self.address = address
        self.port = port

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.address

    def with_port(self, port: int | None) -> "Endpoint":
        return self if self.port is not None else Endpoint(self.address, port)

    def __str__(self) -> str:
        host = f"[{self.address}]" if self.is_ipv6 else self.address
        return host if self.port is None else f"{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Endpoint({self.address!r}, {self.port!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Endpoint) and (self.address, self.port) == (other.address, other.port)

    def __hash__(self) -> int:
        return hash((self.address, self.port))


class IpvsadmError(Exception):
    """ipvsadm failed: its argv, exit status and its own message."""

    def __init__(self, argv: list[str], status: int, message: str):
        self.argv = argv
        self.status = status
        # One line, so that a syslog record holds all of it.
        self.message = "; ".join(line.strip() for line in message.strip().splitlines()) or f"exit status {status}"
        super().__init__(self.message)

    @property
    def command(self) -> str:
        return " ".join(self.argv)


class IpvsadmTimeout(IpvsadmError):
    """ipvsadm did not finish in time and was killed; what it changed is unknown."""

    def __init__(self, argv: list[str], timeout: float):
        super().__init__(argv, 124, f"no answer within {timeout:g} s: killed "
                                    "(the table may or may not have changed)")
        self.timeout = timeout


class LockTimeout(OSError):
    """The table lock stayed taken for the whole bounded wait."""

    def __init__(self, path: str, timeout: float):
        super().__init__(f"{path} held by one other process for {timeout:g} s "
                         "(a hung ipvsadm?); nothing was changed")
        self.path = path
        self.timeout = timeout

    def __str__(self) -> str:
        return self.args[0]


class RealServer:
    __slots__ = ("endpoint", "forwarding", "weight")

    def __init__(self, endpoint: Endpoint, forwarding: str, weight: int):
        self.endpoint = endpoint
        self.forwarding = forwarding  # "gate", "masq", "ipip"
        self.weight = weight

    def __repr__(self) -> str:
        return f"RealServer({str(self.endpoint)!r}, {self.forwarding!r}, {self.weight})"


class VirtualService:
    __slots__ = ("protocol", "endpoint", "scheduler", "real_servers")

    def __init__(self, protocol: str, endpoint: Endpoint, scheduler: str):
        self.protocol = protocol
        self.endpoint = endpoint
        self.scheduler = scheduler
        self.real_servers: dict[Endpoint, RealServer] = {}

    def find(self, real_server: Endpoint) -> RealServer | None:
        """The entry for ``real_server``; no port means the service's port, as for ipvsadm."""
        return self.real_servers.get(real_server.with_port(self.endpoint.port))

    def __repr__(self) -> str:
        return (f"VirtualService({self.protocol!r}, {str(self.endpoint)!r}, {self.scheduler!r}, "
                f"{list(self.real_servers.values())!r})")


class IpvsTable:
    """The live table as ``ipvsadm -S -n`` prints it (services keyed by protocol and endpoint)."""

    def __init__(self, services: dict[tuple[str, Endpoint], VirtualService] | None = None):
        self.services = services or {}

    def find_service(self, protocol: str, endpoint: Endpoint) -> VirtualService | None:
        return self.services.get((protocol, endpoint))

    def summary(self) -> dict[str, dict[str, tuple[str, int]]]:
        """``{"tcp 10.0.0.3:80": {"192.168.0.1:80": ("gate", 5)}}``: for tests and reports."""
        return {
            f"{service.protocol} {service.endpoint}": {
                str(server.endpoint): (server.forwarding, server.weight)
                for server in service.real_servers.values()
            }
            for service in self.services.values()
        }


def parse_endpoint(text: str) -> Endpoint:
    """``IP:PORT`` or ``[IPv6]:PORT`` as ipvsadm prints it; ValueError otherwise."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        version = 6
    else:
        host, _, port = text.rpartition(":")
        version = 4
    address = canonical_address(host, version)
    if address is None or not port.isdigit():
        raise ValueError(f"unexpected address in ipvsadm output: {text!r}")
    return Endpoint(address, int(port))


def parse_saved_table(text: str) -> IpvsTable:
    """Parse ``ipvsadm -S -n`` (the ipvsadm-save format).

    Services other than TCP/UDP (fwmark, SCTP) are kept with their raw
    service word so that nothing in the table is misread as ours.
    """
    table = IpvsTable()
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] not in ("-A", "-a"):
            continue
        protocol = PROTOCOL_BY_FLAG.get(words[1], words[1])
        if protocol in ("tcp", "udp"):
            service_endpoint = parse_endpoint(words[2])
        else:
            service_endpoint = Endpoint(words[2], None)
        # Each word mapped to the next one: enough to look up "-s", "-r", "-w".
        options = dict(zip(words[3:], words[4:]))
        key = (protocol, service_endpoint)
        if words[0] == "-A":
            table.services[key] = VirtualService(protocol, service_endpoint, options.get("-s", ""))
            continue
        service = table.services.get(key)
        if service is None or "-r" not in options:
            continue
        forwarding = next((FORWARDING_BY_FLAG[word] for word in words if word in FORWARDING_BY_FLAG), "gate")
        endpoint = parse_endpoint(options["-r"])
        service.real_servers[endpoint] = RealServer(endpoint, forwarding, int(options.get("-w", "1")))
    return table


def ipvsadm_path() -> str:
    configured = getenv("IPVSADM")
    if configured:
        return configured
    if posix.access(DEFAULT_IPVSADM, posix.X_OK):
        return DEFAULT_IPVSADM
    for directory in (getenv("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
        candidate = join_path(directory or ".", "ipvsadm")
        if posix.access(candidate, posix.X_OK):
            return candidate
    return "ipvsadm"


def _monotonic() -> float:
    import time  # built in: no import cost

    return time.monotonic()


def _read_both(out_fd: int, err_fd: int, deadline: float) -> tuple[bytes, bytes] | None:
    """Both pipes to their ends, or None if ``deadline`` (monotonic) passes first."""
    import select  # a C extension: ~0.08 ms

    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = 2
    while open_fds:
        left = deadline - _monotonic()
        if left <= 0:
            return None
        for fd, _ in poller.poll(max(1, int(left * 1000) + 1)):
            chunk = posix.read(fd, 65536)
            if chunk:
                chunks[fd].append(chunk)
            else:
                poller.unregister(fd)
                open_fds -= 1
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def _reap(pid: int, deadline: float) -> int | None:
    """The child's exit status once it exits, or None if ``deadline`` passes first."""
    import time

    pause = 0.001
    while True:
        reaped, wait_status = posix.waitpid(pid, posix.WNOHANG)
        if reaped:
            return posix.waitstatus_to_exitcode(wait_status)
        left = deadline - _monotonic()
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause = min(2 * pause, 0.05)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view):]


def _kill_group(pid: int) -> None:
    """SIGKILL to the child's process group (it may have started helpers), then reap it if it
    goes at once; one that does not (stuck in the kernel) is left to init."""
    try:
        posix.killpg(pid, 9)
    except OSError:
        pass
    _reap(pid, _monotonic() + 0.5)


class Ipvsadm:
    """Runs one ipvsadm binary; ``path`` None means ``ipvsadm_path()``; each call gets at most
    ``timeout`` seconds (None: ``ipvsadm_timeout()``)."""

    def __init__(self, path: str | None = None, timeout: float | None = None):
        self.path = path or ipvsadm_path()
        self.timeout = timeout if timeout is not None else ipvsadm_timeout()
        # a $IPVSADM root must not run fails each call, as a binary that cannot be executed
        configured = None if path else getenv("IPVSADM")
        self.refused = configured and untrusted_as_root("IPVSADM", configured)

    def run(self, args: list[str]) -> str:
        """Run ``ipvsadm ARGS``; its stdout, or IpvsadmError with its stderr (IpvsadmTimeout if
        it has not finished within ``timeout``)."""
        status, stdout, stderr = self.call(args)
        if status != 0:
            raise IpvsadmError([self.path, *args], status, stderr)
        return stdout

    def call(self, args: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
        """Run ``ipvsadm ARGS`` with ``stdin`` (None: /dev/null); its exit status, stdout and
        stderr.  IpvsadmError if it cannot be started, IpvsadmTimeout if it has not finished
        within ``timeout``."""
        argv = [self.path, *args]
        if self.refused:
            raise IpvsadmError(argv, 126, self.refused)
        if stdin is None:
            stdin_action = (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0)
            stdin_fd = -1
        else:
            # A memory file rather than a pipe: nothing to write while reading its output.
            stdin_fd = posix.memfd_create("ipvsadm-stdin", posix.MFD_CLOEXEC)
            _write_all(stdin_fd, stdin)
            posix.lseek(stdin_fd, 0, 0)
            stdin_action = (posix.POSIX_SPAWN_DUP2, stdin_fd, 0)
        out_read, out_write = posix.pipe()
        err_read, err_write = posix.pipe()
        try:
            # Pipe fds are close-on-exec; dup2 onto 0, 1 and 2 clears that for the child only.
            # Its own process group, so that a timeout kills whatever it started too.
            pid = posix.posix_spawnp(argv[0], argv, posix.environ, setpgroup=0, file_actions=[
                stdin_action,
                (posix.POSIX_SPAWN_DUP2, out_write, 1),
                (posix.POSIX_SPAWN_DUP2, err_write, 2),
            ])
        except OSError as error:
            for fd in (out_read, out_write, err_read, err_write):
                posix.close(fd)
            raise IpvsadmError(argv, 127, f"cannot run {argv[0]}: {error.strerror}") from None
        finally:
            if stdin_fd >= 0:
                posix.close(stdin_fd)
        posix.close(out_write)
        posix.close(err_write)
        deadline = _monotonic() + self.timeout
        try:
            output = _read_both(out_read, err_read, deadline)
        finally:
            posix.close(out_read)
            posix.close(err_read)
        status = None if output is None else _reap(pid, deadline)
        if status is None:
            _kill_group(pid)
            raise IpvsadmTimeout(argv, self.timeout)
        stdout, stderr = output
        return status, stdout.decode(errors="replace"), stderr.decode(errors="replace")

    def restore(self, batch: list[list[str]]) -> None:
        """Run ``ipvsadm -R`` once, one line per argv of ``batch`` (see ``restore_text``).

        ipvsadm 1.31 executes the lines in order; a line the kernel refuses ("Service not
        defined", "Destination already exists") is reported on stderr and the next one runs,
        and the exit status is the LAST line's; a line it cannot parse ends it with status 2,
        the lines before it applied (measured in the guest, tools/ipvs-vm).  So neither the
        status nor this call tells what was applied: IpvsadmError is raised on a non-zero
        status or anything on stderr, and the caller reads the table to see where it stands.
        """
        args = ["-R"]
        status, _, stderr = self.call(args, restore_text(batch).encode())
        if status != 0 or stderr.strip():
            raise IpvsadmError([self.path, *args], status, stderr)

    def read_table(self) -> IpvsTable:
        return parse_saved_table(self.run(["-S", "-n"]))


def service_args(protocol: str, endpoint: Endpoint) -> list[str]:
    return [PROTOCOL_FLAG[protocol], str(endpoint)]


def add_service_args(protocol: str, endpoint: Endpoint, scheduler: str) -> list[str]:
    return ["-A", *service_args(protocol, endpoint), "-s", scheduler]


def delete_service_args(protocol: str, endpoint: Endpoint) -> list[str]:
    return ["-D", *service_args(protocol, endpoint)]


def add_real_server_args(protocol: str, service: Endpoint, server: Endpoint, weight: int,
                         forwarding: str) -> list[str]:
    # The seed's order: -a -t VIP -r RIP -w W -g.
    return ["-a", *service_args(protocol, service), "-r", str(server), "-w", str(weight),
            IPVSADM_FORWARDING_FLAG[forwarding]]


def edit_real_server_args(protocol: str, service: Endpoint, server: Endpoint, weight: int,
                          forwarding: str) -> list[str]:
    # ipvsadm -e resets what it is not given to defaults, so both -w and the method go along.
    return ["-e", *service_args(protocol, service), "-r", str(server), "-w", str(weight),
            IPVSADM_FORWARDING_FLAG[forwarding]]


def delete_real_server_args(protocol: str, service: Endpoint, server: Endpoint) -> list[str]:
    return ["-d", *service_args(protocol, service), "-r", str(server)]


# ipvsadm -R splits a line at blanks and honours quotes and backslashes (config_stream_read);
# none of the words we write needs them, so a word holding one is a bug, never quoted.
_RESTORE_UNSAFE = frozenset(" \t\n\r\v\f\"'\\#")


def restore_text(batch: list[list[str]]) -> str:
    """``ipvsadm -R``'s input: each argv on a line of its own, the words as they are (the
    format ``ipvsadm -S`` writes).  ValueError for a word ipvsadm would split or unquote."""
    for args in batch:
        for word in args:
            if not word or not _RESTORE_UNSAFE.isdisjoint(word):
                raise ValueError(f"not a word for ipvsadm -R: {word!r} in {args!r}")
    return "".join(" ".join(args) + "\n" for args in batch)


class TableLock:
    """An exclusive flock on RUN_DIR/ipvs.lock for the duration of a ``with``.  The holder
    writes a token of its own into the file; a waiter gives up (``LockTimeout``) once one
    holder has kept the lock for ``timeout`` seconds (None: ``lock_timeout()``), and waits on
    while the lock passes from holder to holder: a queue of healthy alerts (a storm of them on
    a loaded director) is not a hung ipvsadm."""

    def __init__(self, directory: str | None = None, timeout: float | None = None):
        self.directory = directory or run_dir()
        self.path = join_path(self.directory, "ipvs.lock")
        self.timeout = timeout if timeout is not None else lock_timeout()
        self.fd = -1

    def __enter__(self) -> "TableLock":
        import fcntl  # a C extension: ~0.03 ms

        flags = posix.O_RDWR | posix.O_CREAT
        try:
            self.fd = open_regular(self.path, flags, 0o600)  # never through a symlink
        except FileNotFoundError:  # first use since boot: /run is a tmpfs
            make_directories(self.directory, 0o755)
            self.fd = open_regular(self.path, flags, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the usual case: free
        except BlockingIOError:
            try:
                _flock_within(self.fd, self.timeout)
            except _Expired:
                posix.close(self.fd)
                self.fd = -1
                raise LockTimeout(self.path, self.timeout) from None
            except BaseException:
                posix.close(self.fd)
                self.fd = -1
                raise
        posix.pwrite(self.fd, _holder_token(), 0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        posix.close(self.fd)  # closing the only fd releases the flock
        self.fd = -1


class _Expired(Exception):
    pass


def _expired(signum, frame) -> None:
    raise _Expired()


_TOKEN_SIZE = 32     # _holder_token's width


def _holder_token() -> bytes:
    """What a holder writes at the start of the lock file: its pid and when it took the lock,
    fixed width, so each holder overwrites the whole of the last one's (``_holder_of``)."""
    import time  # built in

    return f"{posix.getpid():>10} {time.monotonic_ns():>20}\n".encode()


def _holder_of(fd: int) -> bytes:
    return posix.pread(fd, _TOKEN_SIZE, 0)


def _flock_within(fd: int, timeout: float) -> None:
    """A blocking flock (the kernel wakes us the moment the holder lets go, unlike polling with
    LOCK_NB) cut short by SIGALRM once the holder's token has stayed the same for ``timeout``
    seconds: the handler's exception ends the interrupted flock (PEP 475 retries only when the
    handler returns); a new token meanwhile (the lock went to another holder) waits on."""
    import _signal  # built in; ``signal`` would import enum
    import fcntl

    previous = _signal.signal(_signal.SIGALRM, _expired)
    try:
        holder = _holder_of(fd)
        while True:
            _signal.setitimer(_signal.ITIMER_REAL, timeout)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return
            except _Expired:
                now = _holder_of(fd)
                if now == holder:
                    raise
                holder = now            # the queue moved: another bounded wait
            finally:
                _signal.setitimer(_signal.ITIMER_REAL, 0)
    finally:
        _signal.signal(_signal.SIGALRM, previous)
