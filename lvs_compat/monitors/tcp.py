"""Check many TCP services at once: one thread, non-blocking sockets, one deadline.

The Perl monitors check hosts one after another, each under its own ``alarm``; here
every host starts at once and the same ``timeout`` ends them all, so a run never
lasts longer than the timeout (plus the time to print), whatever the servers do:
never answer, trickle a byte a second, or sit in a slow DNS lookup.

The protocol of a check is a *conversation* object, fed bytes and asked what to send
(see ``http.HttpGet`` and ``ftp.FtpDialogue``); this module only moves bytes:

* ``conversation.opening()``: bytes to send once connected;
* ``conversation.receive(data)``: bytes to send in reply (``b""`` for none);
* ``conversation.end_of_stream()``: the server closed (or reset) the connection;
* ``conversation.finished``: the verdict is known, stop reading.

Names are resolved in daemon threads (getaddrinfo cannot be interrupted), only when
a host is not an address literal, so the common case imports no ``threading``; at
most ``RESOLVER_THREADS`` of them, however many names there are.

Our own limits never make a server fail (issue 21). Each connection is a descriptor,
and mon runs monitors under a soft RLIMIT_NOFILE of 1024: with more hosts than that,
the monitor first raises its soft limit as far as the hard one allows; if that is
still too few, it keeps at most that many connections in flight and starts the next
host as soon as one finishes, all under the same deadline. A host that never got a
descriptor (or whose name never got a resolver thread) before the deadline is
``unchecked``, with the reason in ``unchecked_reason``: the monitors name it in the
detail as not checked, never in the summary (see ``core.exit_status``). A host
whose connection was open, or whose name was being resolved, when the deadline
struck is ``timed_out``, as before: that is the server's (or its DNS's) slowness.

Start-up cost: this uses ``_socket`` (the C half of ``socket``) and ``select.poll``.
``socket.py`` only adds enum wrappers and imports ``selectors``; together with
``enum`` and ``collections`` that is ≈ 3 ms of the ≈ 15 ms a monitor run costs
(``python3 -I -X importtime``; bench/monitors.py measures the whole run).
"""

import _socket as socket
import errno
import os
import select
import time

RECEIVE_SIZE = 65536
# Descriptors kept free for what is not a connection: stdio, the wake-up pipe, the
# resolver threads' sockets, and whatever mon left open.
RESERVED_FDS = 64
RESOLVER_THREADS = 16
# Below this many hosts the limit is not even looked at (``import resource`` costs
# ≈ 0.4 ms of a ≈ 10 ms run); running out of descriptors anyway is still handled.
LOOK_AT_LIMIT_FROM = 200
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)


class Probe:
    """One host's check: where it got to, and how it ended."""

    def __init__(self, host, conversation):
        self.host = host
        self.conversation = conversation
        self.addresses = None      # getaddrinfo() entries still to try
        self.resolve_error = None  # resolver's message (gai_strerror)
        self.connect_error = None  # "connect: <strerror>", "socket: <strerror>"
        self.connected = False
        self.timed_out = False
        self.unchecked = False     # the deadline came before we could try this host
        self.unchecked_reason = None
        self.resolving = False     # a resolver thread has taken its name
        self.started = False       # a socket was opened for it
        self.done = False
        self.sock = None
        self.outgoing = b""


def resolve_port(text):
    """(port, None), or (None, the originals' error) for an unknown service name."""
    if text.isdigit() and text.isascii():
        # int() refuses over 4,300 digits; any huge number is as wrong as 10**18.
        return (int(text) if len(text) <= 18 else 10**18), None
    try:
        return socket.getservbyname(text, "tcp"), None
    except OSError:
        return None, f"could not getservbyname for {text}"


def connection_budget(host_count):
    """(connections allowed in flight, the soft open-file limit or None if not looked at).

    Raises the soft RLIMIT_NOFILE towards the hard one when ``host_count`` needs it.
    """
    if host_count < LOOK_AT_LIMIT_FROM:
        return host_count, None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = host_count + RESERVED_FDS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if raised > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
                soft = raised
            except (ValueError, OSError):
                pass
    if soft == resource.RLIM_INFINITY:
        return host_count, None
    return max(1, min(host_count, soft - RESERVED_FDS)), soft


def check_all(probes, port, timeout_s, clock=time.monotonic):
    """Run every probe's conversation against ``host:port``; return when all are
    done or ``timeout_s`` has passed, whichever comes first. Unfinished probes are
    marked ``timed_out`` (their conversations keep what they received so far), or
    ``unchecked`` if they never got a descriptor or a resolver thread."""
    deadline = clock() + timeout_s
    checks = _Checks(probes, port)
    try:
        checks.start()
        while checks.left > 0:
            remaining = deadline - clock()
            if remaining <= 0:
                break
            for probe_or_none, events in checks.selector.select(remaining):
                if probe_or_none is None:
                    checks.take_resolved()
                elif probe_or_none.sock is not None:
                    checks.on_event(probe_or_none, events)
            checks.fill()
    finally:
        checks.stop()
    return probes


class _Checks:
    """The state of one ``check_all``: the poller, the hosts waiting for a
    descriptor (in argument order), and how many connections are open."""

    def __init__(self, probes, port):
        from _collections import deque  # the C half of collections: no import cost

        self.probes = probes
        self.port = port
        self.left = len(probes)
        self.waiting = deque()
        self.in_flight = 0
        self.cap, self.soft_limit = connection_budget(len(probes))
        self.selector = _Poller()
        self.wake_read = self.wake_write = None
        self.names = None        # resolver state, when there are names

    def start(self):
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        self.selector.register(self.wake_read, select.POLLIN, None)
        names = []
        for probe in self.probes:
            probe.addresses = _numeric_addresses(probe.host, self.port)
            if probe.addresses is None:
                names.append(probe)
            else:
                self.waiting.append(probe)
        if names:
            self.names = _Resolver(names, self.port, self.wake_write)
        self.fill()

    def fill(self):
        """Start waiting hosts while descriptors allow."""
        while self.waiting and self.in_flight < self.cap:
            if not self._connect_next(self.waiting.popleft()):
                break

    def take_resolved(self):
        _drain(self.wake_read)
        for probe in self.names.take():
            if probe.resolve_error is not None:
                self._finish(probe)
            else:
                self.waiting.append(probe)

    def _connect_next(self, probe):
        """Connect to the next address of ``probe`` (in resolver order, as
        socket.create_connection does); with none left the probe is done. False
        when no descriptor was free: the probe waits again, first in line."""
        while probe.addresses:
            family, socktype, proto, _, sockaddr = probe.addresses.pop(0)
            try:
                sock = socket.socket(family, socktype, proto)
            except OSError as error:
                if error.errno in OUT_OF_DESCRIPTORS:
                    # Fewer descriptors than we counted on (mon's, the resolver's):
                    # wait for one of ours to close. Never the server's failure.
                    probe.addresses.insert(0, (family, socktype, proto, _, sockaddr))
                    self.waiting.appendleft(probe)
                    self.cap = max(1, self.in_flight)
                    return False
                probe.connect_error = f"socket: {error.strerror}"
                continue
            probe.started = True
            sock.setblocking(False)
            result = sock.connect_ex(sockaddr)
            if result in (0, errno.EINPROGRESS):
                probe.sock = sock
                self.in_flight += 1
                self.selector.register(sock.fileno(), select.POLLOUT, probe)
                return True
            sock.close()
            probe.connect_error = f"connect: {os.strerror(result)}"
        self._finish(probe)
        return True

    def on_event(self, probe, events):
        if not probe.connected:
            result = probe.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if result:
                probe.connect_error = f"connect: {os.strerror(result)}"
                self._close(probe)
                # Its next address after this batch of events (``fill``): a new socket
                # now could reuse this descriptor number and get its stale events.
                self.waiting.appendleft(probe)
                return
            probe.connected = True
            probe.connect_error = None
            probe.outgoing = probe.conversation.opening()
            self._update_interest(probe)
            return
        if events & select.POLLOUT and probe.outgoing:
            try:
                sent = probe.sock.send(probe.outgoing)
                probe.outgoing = probe.outgoing[sent:]
            except BlockingIOError:
                pass
            except OSError:
                probe.outgoing = b""  # peer gone: what it sent before is still to be read
            self._update_interest(probe)
        if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
            try:
                data = probe.sock.recv(RECEIVE_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""  # a reset ends the stream, as for Perl's <S>
            if data:
                probe.outgoing += probe.conversation.receive(data)
                if probe.conversation.finished:
                    self._finish(probe)
                else:
                    self._update_interest(probe)
            else:
                probe.conversation.end_of_stream()
                self._finish(probe)

    def _update_interest(self, probe):
        events = select.POLLIN | (select.POLLOUT if probe.outgoing else 0)
        self.selector.modify(probe.sock.fileno(), events, probe)

    def _finish(self, probe):
        if not probe.done:
            probe.done = True
            self.left -= 1
        self._close(probe)

    def _close(self, probe):
        if probe.sock is not None:
            self.selector.unregister(probe.sock.fileno())
            probe.sock.close()
            probe.sock = None
            self.in_flight -= 1

    def stop(self):
        """The deadline (or the end): say how each unfinished probe ended, close all."""
        for probe in self.probes:
            if not probe.done:
                if probe.started or probe.resolving:
                    probe.timed_out = True
                else:
                    probe.unchecked = True
                    probe.unchecked_reason = self._unchecked_reason(probe)
                probe.done = True
            self._close(probe)
        if self.wake_read is not None:
            os.close(self.wake_read)
            if self.names is None:
                os.close(self.wake_write)
            # else wake_write stays open: a resolver thread still running may write to it.

    def _unchecked_reason(self, probe):
        if probe.addresses is None and probe.resolve_error is None:
            return (f"its name was still waiting for one of the {RESOLVER_THREADS} resolver threads "
                    f"when the deadline came")
        limit = f" (open-file limit {self.soft_limit})" if self.soft_limit is not None else ""
        return (f"no connection free when the deadline came: {self.cap} at a time is what "
                f"this monitor's open-file limit allows{limit}")


class _Resolver:
    """At most RESOLVER_THREADS daemon threads resolving the names in turn; each
    result is handed over through ``take()`` and announced on the wake-up pipe."""

    def __init__(self, probes, port, wake_write):
        import threading

        self.port = port
        self.wake_write = wake_write
        self.todo = probes[::-1]   # list.pop() is atomic under the GIL
        self.done = []
        self.lock = threading.Lock()
        for _ in range(min(RESOLVER_THREADS, len(probes))):
            threading.Thread(target=self._work, daemon=True).start()

    def _work(self):
        while True:
            try:
                probe = self.todo.pop()
            except IndexError:
                return
            probe.resolving = True
            try:
                addresses = socket.getaddrinfo(_host_bytes(probe.host), self.port, type=socket.SOCK_STREAM)
            except socket.gaierror as error:
                addresses, probe.resolve_error = None, error.strerror
            except (UnicodeError, ValueError) as error:
                addresses, probe.resolve_error = None, str(error)
            except OSError as error:  # e.g. out of descriptors for the query itself
                addresses, probe.resolve_error = None, error.strerror
            with self.lock:
                probe.addresses = addresses
                probe.resolving = False
                self.done.append(probe)
            try:
                os.write(self.wake_write, b"!")
            except OSError:
                pass

    def take(self):
        with self.lock:
            done, self.done = self.done, []
        return done


def _host_bytes(host):
    """The host as bytes: a str would go through the "idna" codec, which imports
    ``re`` and more (~2 ms) on every run; mon hands us bytes anyway."""
    return os.fsencode(host)


def _numeric_addresses(host, port):
    try:
        return socket.getaddrinfo(_host_bytes(host), port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None


def _drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


class _Poller:
    """``select.poll`` keeping a value per descriptor (what selectors would give)."""

    def __init__(self):
        self.poll = select.poll()
        self.data = {}

    def register(self, fd, events, data):
        self.poll.register(fd, events)
        self.data[fd] = data

    def modify(self, fd, events, data):
        self.poll.modify(fd, events)
        self.data[fd] = data

    def unregister(self, fd):
        if self.data.pop(fd, None) is not None:
            self.poll.unregister(fd)

    def select(self, timeout_s):
        return [(self.data[fd], events) for fd, events in self.poll.poll(timeout_s * 1000) if fd in self.data]
