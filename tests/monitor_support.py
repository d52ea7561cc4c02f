"""Live targets for the monitor tests: a private network namespace and scripted servers.

Everything runs inside a network namespace of our own (``ip netns add``, unique name,
only ``lo``, never linked to a host interface), so:
* the servers on 127.0.0.x and ::1 exist only there;
* "down" hosts for fping are nft drop rules inside it;
* a name that does not resolve cannot leak a DNS query: the host's resolver is not
  reachable from a namespace with only ``lo`` (or, with ``resolver="silent"``, the
  namespace's resolv.conf points at a loopback UDP port that never answers).

The namespace is deleted on exit, also when a test fails.

Run as a program (``python3 monitor_support.py serve SPEC.json``) this module is the
server process started inside the namespace; SPEC is a list of listeners:

  {"kind": "http", "host": "127.0.0.21", "port": 8001, "status": "200 OK"}
  {"kind": "silent", ...}                     accepts, never answers
  {"kind": "trickle", ..., "text": "..."}     sends one byte a second
  {"kind": "ftp", ..., "greeting": "220 ready\\r\\n", "after_quit": "221 bye\\r\\n"}
  {"kind": "close", ..., "text": "421 busy\\r\\n"}   sends text, closes
  {"kind": "udp-silent", ...}                 a DNS server that never answers

An optional "log" path records what each client sent.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from lvs_compat.lab import Netlab

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PERL_MONITORS = Path("/usr/lib/mon/mon.d")
OUR_MONITORS = REPO / "mon.d"


class Namespace:
    """A network namespace with only ``lo`` up, in the namespace lab (``lvs_compat.lab``).
    Use as a context manager."""

    def __init__(self, resolver=None):
        self.name = f"lvsmon-{os.getpid()}-{secrets.token_hex(4)}"
        self.resolver = resolver
        self.lab = Netlab()
        self.etc_dir = Path("/etc/netns") / self.name

    @property
    def processes(self):
        return self.lab.processes

    def __enter__(self):
        try:
            if self.resolver == "silent":
                # `ip netns exec` bind-mounts /etc/netns/NAME/resolv.conf over the
                # host's: the only nameserver is a loopback port nobody answers.
                self.etc_dir.mkdir(parents=True)
                (self.etc_dir / "resolv.conf").write_text("nameserver 127.0.0.53\noptions timeout:5 attempts:2\n")
            self.lab.add(self.name)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.lab.close()
        shutil.rmtree(self.etc_dir, ignore_errors=True)

    def command(self, argv):
        return Netlab.exec_argv(self.name, argv)

    def run(self, argv, **kwargs):
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.command(argv), **kwargs)

    def start(self, argv, **kwargs):
        # as before: in pytest's session (a Ctrl-C reaches it); what it leaves behind is
        # reaped with the namespace
        kwargs.setdefault("start_new_session", False)
        kwargs.setdefault("stdin", None)
        return self.lab.start(self.name, argv, **kwargs)

    def serve(self, listeners):
        """Start the scripted servers; return once every listener is bound."""
        process = self.start([sys.executable, __file__, "serve", json.dumps(listeners)],
                             stdout=subprocess.PIPE, text=True)
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"test servers did not start: {line!r}")
        return process

    def drop_ping(self, *addresses):
        """nft rule in this namespace: ICMP echo requests to ``addresses`` vanish."""
        self.run(["nft", "add", "table", "inet", "lvsmon"], check=True)
        self.run(["nft", "add", "chain", "inet", "lvsmon", "in",
                  "{ type filter hook input priority 0; }"], check=True)
        for address in addresses:
            family = "ip6" if ":" in address else "ip"
            icmp = "icmpv6 type echo-request" if family == "ip6" else "icmp type echo-request"
            self.run(["nft", "add", "rule", "inet", "lvsmon", "in", family, "daddr", address,
                      *icmp.split(), "drop"], check=True)

    def vsftpd(self, address, port, banner, workdir):
        """A real vsftpd in the foreground on address:port."""
        empty = Path(workdir) / "empty"
        empty.mkdir(exist_ok=True)
        conf = Path(workdir) / f"vsftpd-{address}.conf"
        conf.write_text("\n".join([
            "listen=YES", "listen_ipv6=NO", f"listen_address={address}", f"listen_port={port}",
            "background=NO", "anonymous_enable=NO", "local_enable=YES", "write_enable=NO",
            f"secure_chroot_dir={empty}", "xferlog_enable=NO", f"vsftpd_log_file={workdir}/vsftpd.log",
            f"ftpd_banner={banner}", "seccomp_sandbox=NO", ""]))
        process = self.start(["vsftpd", str(conf)])
        wait_for_port(self, address, port)
        return process


def wait_for_port(namespace, address, port, timeout_s=5.0):
    probe = ("import socket,sys,time\n"
             "end=time.time()+%r\n"
             "while time.time()<end:\n"
             " try: socket.create_connection((%r,%d),0.2).close(); sys.exit(0)\n"
             " except OSError: time.sleep(0.05)\n"
             "sys.exit(1)\n") % (timeout_s, address, port)
    namespace.run([sys.executable, "-c", probe], check=True)


class MonitorRun:
    """One monitor run: what mon would see (stdout+stderr merged) and the parts."""

    def __init__(self, argv, returncode, stdout, stderr, merged, elapsed_s):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.merged = merged
        self.elapsed_s = elapsed_s

    @property
    def summary(self):
        """mon's summary: the first line of the merged output (SPEC.md §1.4)."""
        return self.merged.split("\n", 1)[0]

    @property
    def failed_hosts(self):
        """The failed hosts named on stdout's first line."""
        return set(self.stdout.split("\n", 1)[0].split())


def run_monitors(namespace, runs, timeout_s=120):
    """Run monitors in ``namespace``, all at once; ``runs`` is a list of
    (path, args). Each runs twice: stdout and stderr apart, and merged into one pipe
    as mon runs it (both must agree on the exit status). Returns a MonitorRun each."""
    started = []
    for path, args in runs:
        argv = [str(path), *map(str, args)]
        t0 = time.monotonic()
        separate = namespace.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        merged = namespace.start(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started.append((argv, t0, separate, merged))
    results = []
    decode = lambda data: data.decode("utf-8", "surrogateescape")  # noqa: E731
    for argv, t0, separate, merged in started:
        stdout, stderr = separate.communicate(timeout=timeout_s)
        elapsed = time.monotonic() - t0
        merged_out, _ = merged.communicate(timeout=timeout_s)
        assert separate.returncode == merged.returncode, (argv, separate.returncode, merged.returncode)
        results.append(MonitorRun(argv, separate.returncode, decode(stdout), decode(stderr),
                                  decode(merged_out), elapsed))
    return results


def run_monitor(namespace, path, args, timeout_s=120):
    return run_monitors(namespace, [(path, args)], timeout_s)[0]


def perl_and_ours(namespace, monitor, args, timeout_s=120):
    """The same monitor command, Debian's Perl original and ours, run at once."""
    return run_monitors(namespace, [(PERL_MONITORS / monitor, args), (OUR_MONITORS / monitor, args)], timeout_s)


# --------------------------------------------------------------------------- servers

def _unescape(text):
    return text.encode().decode("unicode_escape").encode("latin-1")


def _record(spec, data):
    if spec.get("log"):
        with open(spec["log"], "ab") as log:
            log.write(b"--- " + spec["host"].encode() + b" ---\n" + data + b"\n")


def _read_request(connection):
    data = b""
    connection.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _handle(spec, connection):
    kind = spec["kind"]
    with connection:
        try:
            if kind == "http":
                _record(spec, _read_request(connection))
                code = spec["status"].split()[0]
                body = spec.get("body", f"body text MARKER-{code}\n")
                connection.sendall((f"HTTP/1.0 {spec['status']}\r\nContent-Type: text/plain\r\n"
                                    f"X-Test: yes\r\n\r\n{body}").encode())
            elif kind == "silent":
                time.sleep(3600)
            elif kind == "trickle":
                for byte in _unescape(spec["text"]):
                    connection.sendall(bytes([byte]))
                    time.sleep(1)
                time.sleep(3600)
            elif kind == "close":
                connection.sendall(_unescape(spec["text"]))
            elif kind == "ftp":
                connection.sendall(_unescape(spec["greeting"]))
                connection.settimeout(5)
                _record(spec, connection.recv(4096))
                connection.sendall(_unescape(spec["after_quit"]))
                if spec.get("hold"):
                    time.sleep(3600)
        except OSError:
            pass


def _listen(spec):
    family = socket.AF_INET6 if ":" in spec["host"] else socket.AF_INET
    if spec["kind"] == "udp-silent":
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((spec["host"], spec["port"]))
        return sock, lambda: [sock.recvfrom(4096) for _ in iter(int, 1)]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((spec["host"], spec["port"]))
    sock.listen(64)

    def accept_forever():
        while True:
            connection, _ = sock.accept()
            threading.Thread(target=_handle, args=(spec, connection), daemon=True).start()
    return sock, accept_forever


def serve(listeners):
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    loops = [_listen(spec) for spec in listeners]
    for _, loop in loops:
        threading.Thread(target=loop, daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(json.loads(sys.argv[2]))
