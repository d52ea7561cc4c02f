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
a host is not an address literal, so the common case imports no ``threading``.

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


def check_all(probes, port, timeout_s, clock=time.monotonic):
    """Run every probe's conversation against ``host:port``; return when all are
    done or ``timeout_s`` has passed, whichever comes first. Unfinished probes are
    marked ``timed_out``; their conversations keep what they received so far."""
    deadline = clock() + timeout_s
    selector = _Poller()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    selector.register(wake_read, select.POLLIN, None)
    pending_names = []
    try:
        for probe in probes:
            probe.addresses = _numeric_addresses(probe.host, port)
            if probe.addresses is None:
                pending_names.append(probe)
            else:
                _connect_next(probe, selector)
        if pending_names:
            _resolve_in_threads(pending_names, port, wake_write)
        while not all(probe.done for probe in probes):
            remaining = deadline - clock()
            if remaining <= 0:
                break
            for probe_or_none, events in selector.select(remaining):
                if probe_or_none is None:
                    _drain(wake_read)
                    for probe in pending_names:
                        if not probe.done and probe.sock is None and (
                                probe.addresses is not None or probe.resolve_error is not None):
                            if probe.resolve_error is not None:
                                probe.done = True
                            else:
                                _connect_next(probe, selector)
                else:
                    _on_event(probe_or_none, events, selector)
    finally:
        for probe in probes:
            if not probe.done:
                probe.timed_out = True
                probe.done = True
            _close(probe, selector)
        os.close(wake_read)
        if not pending_names:
            os.close(wake_write)
        # else wake_write stays open: a resolver thread still running may write to it.
    return probes


def _host_bytes(host):
    """The host as bytes: a str would go through the "idna" codec, which imports
    ``re`` and more (~2 ms) on every run; mon hands us bytes anyway."""
    return os.fsencode(host)


def _numeric_addresses(host, port):
    try:
        return socket.getaddrinfo(_host_bytes(host), port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None


def _resolve_in_threads(probes, port, wake_write):
    import threading

    def resolve(probe):
        try:
            probe.addresses = socket.getaddrinfo(_host_bytes(probe.host), port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            probe.resolve_error = error.strerror
        except (UnicodeError, ValueError) as error:
            probe.resolve_error = str(error)
        try:
            os.write(wake_write, b"!")
        except OSError:
            pass

    for probe in probes:
        threading.Thread(target=resolve, args=(probe,), daemon=True).start()


def _drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _connect_next(probe, selector):
    """Connect to the next address of ``probe`` (in resolver order, as
    socket.create_connection does); with none left the probe is done."""
    while probe.addresses:
        family, socktype, proto, _, sockaddr = probe.addresses.pop(0)
        try:
            sock = socket.socket(family, socktype, proto)
        except OSError as error:
            probe.connect_error = f"socket: {error.strerror}"
            continue
        sock.setblocking(False)
        result = sock.connect_ex(sockaddr)
        if result in (0, errno.EINPROGRESS):
            probe.sock = sock
            selector.register(sock.fileno(), select.POLLOUT, probe)
            return
        sock.close()
        probe.connect_error = f"connect: {os.strerror(result)}"
    probe.done = True


def _on_event(probe, events, selector):
    if not probe.connected:
        result = probe.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if result:
            probe.connect_error = f"connect: {os.strerror(result)}"
            _close(probe, selector)
            _connect_next(probe, selector)
            return
        probe.connected = True
        probe.connect_error = None
        probe.outgoing = probe.conversation.opening()
        _update_interest(probe, selector)
        return
    if events & select.POLLOUT and probe.outgoing:
        try:
            sent = probe.sock.send(probe.outgoing)
            probe.outgoing = probe.outgoing[sent:]
        except BlockingIOError:
            pass
        except OSError:
            probe.outgoing = b""  # peer gone: what it sent before is still to be read
        _update_interest(probe, selector)
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
                probe.done = True
                _close(probe, selector)
            else:
                _update_interest(probe, selector)
        else:
            probe.conversation.end_of_stream()
            probe.done = True
            _close(probe, selector)


def _update_interest(probe, selector):
    events = select.POLLIN | (select.POLLOUT if probe.outgoing else 0)
    selector.modify(probe.sock.fileno(), events, probe)


def _close(probe, selector):
    if probe.sock is not None:
        selector.unregister(probe.sock.fileno())
        probe.sock.close()
        probe.sock = None


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
