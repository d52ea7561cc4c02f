"""The only module that runs ``ipvsadm``: read the IPVS table, change it.

Mechanism only, no policy: which change an alert makes lives in
``lvs_compat.lvsalert.policy`` (as keepalived keeps ``ipvswrapper.c`` apart
from ``ipwrapper.c``, ../shared/STYLE.md).

* The binary is ``$IPVSADM`` if set, else ``/sbin/ipvsadm`` (the seed's
  hard-coded path), else ``ipvsadm`` on ``PATH``.
* Every call is an argv list handed to ``posix_spawn``; no shell ever sees an
  argument.  ``subprocess`` is not used because importing it costs ~7 ms and
  plumbum ~50 ms with Debian's python3, against ~8 ms for the whole
  interpreter start (bench/lvs_alert_startup.py), and mon starts an alert per
  event.
* A failure raises ``IpvsadmError`` carrying ipvsadm's own message (its
  stderr) and exit status, so the caller can report it verbatim.
* ``TableLock`` serializes changes between processes (mon runs up to
  ``maxprocs`` alerts at once) with ``flock`` on ``/run/lvs-compat/ipvs.lock``.
"""

import _socket

# ``posix`` is what ``os`` wraps.  ``import os`` costs ~0.7 ms here (posixpath,
# stat, _collections_abc), a tenth of the alert's whole run
# (bench/lvs_alert_startup.py); the alert needs only the system calls.
import posix

DEFAULT_IPVSADM = "/sbin/ipvsadm"
# $LVS_COMPAT_RUN_DIR exists for the test suite, which must not share state
# with a director's real /run/lvs-compat.
RUN_DIR = "/run/lvs-compat"

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


def run_dir() -> str:
    return getenv("LVS_COMPAT_RUN_DIR") or RUN_DIR


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


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := posix.read(fd, 65536):
        chunks.append(chunk)
    posix.close(fd)
    return b"".join(chunks)


class Ipvsadm:
    """Runs one ipvsadm binary; ``path`` None means ``ipvsadm_path()``."""

    def __init__(self, path: str | None = None):
        self.path = path or ipvsadm_path()

    def run(self, args: list[str]) -> str:
        """Run ``ipvsadm ARGS``; its stdout, or IpvsadmError with its stderr."""
        argv = [self.path, *args]
        out_read, out_write = posix.pipe()
        err_read, err_write = posix.pipe()
        try:
            # Pipe fds are close-on-exec; dup2 onto 1 and 2 clears that for the child only.
            pid = posix.posix_spawnp(argv[0], argv, posix.environ, file_actions=[
                (posix.POSIX_SPAWN_OPEN, 0, "/dev/null", posix.O_RDONLY, 0),
                (posix.POSIX_SPAWN_DUP2, out_write, 1),
                (posix.POSIX_SPAWN_DUP2, err_write, 2),
            ])
        except OSError as error:
            for fd in (out_read, out_write, err_read, err_write):
                posix.close(fd)
            raise IpvsadmError(argv, 127, f"cannot run {argv[0]}: {error.strerror}") from None
        posix.close(out_write)
        posix.close(err_write)
        # ipvsadm writes at most a line or two to stderr, so reading stdout to
        # the end first cannot dead-lock on a full stderr pipe.
        stdout = _read_all(out_read)
        stderr = _read_all(err_read)
        _, wait_status = posix.waitpid(pid, 0)
        status = posix.waitstatus_to_exitcode(wait_status)
        if status != 0:
            raise IpvsadmError(argv, status, stderr.decode(errors="replace"))
        return stdout.decode(errors="replace")

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


class TableLock:
    """An exclusive flock on RUN_DIR/ipvs.lock for the duration of a ``with``."""

    def __init__(self, directory: str | None = None):
        self.directory = directory or run_dir()
        self.path = join_path(self.directory, "ipvs.lock")
        self.fd = -1

    def __enter__(self) -> "TableLock":
        import fcntl  # a C extension: ~0.03 ms

        flags = posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC
        try:
            self.fd = posix.open(self.path, flags, 0o600)
        except FileNotFoundError:  # first use since boot: /run is a tmpfs
            make_directories(self.directory, 0o755)
            self.fd = posix.open(self.path, flags, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info: object) -> None:
        posix.close(self.fd)  # closing the only fd releases the flock
        self.fd = -1
