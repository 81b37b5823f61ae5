"""Fault injection across the facades: a failing handler hurts only its channel.

Each test runs a server with several well-behaved clients and one client
that makes a handler raise (or resets the connection). The faulty channel
must go through handle_error (legacy) or the loop's exception handler
(asyncio) and be closed; the others keep being served byte for byte; nothing
escapes loop().
"""
import socket
import struct

import pytest
from support import HOST, Listener, run_until

from compat import aio, asynchat, asyncore, core

GOOD_CLIENTS = 5


class Boom(Exception):
    """The injected fault."""


class Client:
    """A blocking-free client driven by the test's run_until loop."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port))
        self.sock.setblocking(False)
        self.got = b""

    def send(self, data):
        self.sock.sendall(data)

    def poll(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return False
        except ConnectionError:
            return True
        if not data:
            return True  # closed by the server
        self.got += data
        return False

    def close(self, reset=False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def check_others_still_served(port, line_mode=False):
    clients = [Client(port) for _ in range(GOOD_CLIENTS)]
    try:
        for i, c in enumerate(clients):
            c.send(b"hello %d\r\n" % i)
        expected = [b"hello %d\r\n" % i for i in range(GOOD_CLIENTS)]
        run_until(lambda: all(c.poll() or c.got == e for c, e in zip(clients, expected)) and all(
            c.got == e for c, e in zip(clients, expected)))
    finally:
        for c in clients:
            c.close()


# -- asyncore ----------------------------------------------------------------


class EchoOrBoom(asyncore.dispatcher_with_send):
    errors = []
    where = "read"

    def handle_read(self):
        data = self.recv(65536)
        if b"boom" in data and self.where == "read":
            raise Boom("in handle_read")
        if b"boom" in data and self.where == "write":
            self.armed = True
            self.out_buffer = self.out_buffer + data  # queued: a write event follows
            return
        self.send(data)

    def handle_write(self):
        if getattr(self, "armed", False):
            raise Boom("in handle_write")
        super().handle_write()

    def handle_error(self):
        EchoOrBoom.errors.append(self)
        super().handle_error()


@pytest.mark.parametrize("where", ["read", "write"])
def test_asyncore_handler_exception_closes_only_that_channel(clean_map, capsys, where):
    EchoOrBoom.errors = []
    EchoOrBoom.where = where
    server = Listener(EchoOrBoom)
    bad = Client(server.port)
    try:
        bad.send(b"boom")
        run_until(lambda: bad.poll() and EchoOrBoom.errors)
        assert "uncaptured python exception" in capsys.readouterr().out
        check_others_still_served(server.port)
    finally:
        bad.close()
        server.close()
        asyncore.close_all(ignore_all=True)


def test_asyncore_handle_accepted_exception_keeps_the_listener_serving(clean_map, capsys):
    calls = []

    def factory(sock):
        calls.append(sock)
        if len(calls) == 1:
            sock.close()
            raise Boom("in handle_accepted")
        return EchoOrBoom(sock)

    class Tolerant(Listener):
        def handle_error(self):
            # Legacy servers keep listening after a failed accept.
            asyncore.compact_traceback()

    EchoOrBoom.where = "never"
    server = Tolerant(factory)
    first = Client(server.port)
    try:
        run_until(lambda: first.poll())
        check_others_still_served(server.port)
    finally:
        first.close()
        server.close()
        asyncore.close_all(ignore_all=True)


def test_asyncore_peer_reset_while_output_queued_and_read_pending(clean_map):
    closed = []

    class Flooder(asyncore.dispatcher_with_send):
        def handle_read(self):
            if self.recv(10):
                self.send(b"x" * (8 << 20))  # far more than the socket buffers

        def handle_close(self):
            closed.append(self)
            self.close()

    server = Listener(Flooder)
    victim = Client(server.port)
    pending = Client(server.port)
    try:
        victim.send(b"go")
        run_until(lambda: len(asyncore.socket_map) == 3)
        run_until(lambda: any(getattr(c, "out_buffer", b"") for c in asyncore.socket_map.values()))
        victim.close(reset=True)  # output still queued for it
        pending.send(b"partial")  # a read is pending for this one
        pending.close(reset=True)
        run_until(lambda: len(closed) == 2)
        assert len(asyncore.socket_map) == 1  # only the listener is left
    finally:
        server.close()


def test_connect_refused_goes_through_handle_error_and_nothing_escapes(clean_map, capsys):
    probe = socket.socket()
    probe.bind((HOST, 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now

    class Connector(asyncore.dispatcher):
        failed = False

        def handle_connect(self):
            pass

        def handle_error(self):
            Connector.failed = True
            super().handle_error()

    c = Connector()
    c.create_socket()
    c.connect((HOST, port))
    asyncore.loop(timeout=5)  # returns: the failed channel closed itself
    assert Connector.failed
    assert "ConnectionRefusedError" in capsys.readouterr().out


# -- asynchat -----------------------------------------------------------------


class LineEcho(asynchat.async_chat):
    errors = []
    fault = "found_terminator"

    def __init__(self, sock):
        super().__init__(sock)
        self.set_terminator(b"\r\n")
        self.buf = []

    def collect_incoming_data(self, data):
        self.buf.append(data)

    def found_terminator(self):
        line = b"".join(self.buf)
        self.buf = []
        if line == b"boom":
            if self.fault == "found_terminator":
                raise Boom("in found_terminator")
            self.push_with_producer(BadProducer())
            return
        self.push(line + b"\r\n")

    def handle_error(self):
        LineEcho.errors.append(self)
        super().handle_error()


class BadProducer:
    def __init__(self):
        self.calls = 0

    def more(self):
        self.calls += 1
        if self.calls > 1:
            raise Boom("in producer more()")
        return b"partial "


@pytest.mark.parametrize("fault", ["found_terminator", "producer"])
def test_asynchat_handler_exception_closes_only_that_channel(clean_map, capsys, fault):
    LineEcho.errors = []
    LineEcho.fault = fault
    server = Listener(LineEcho)
    bad = Client(server.port)
    try:
        bad.send(b"boom\r\n")
        run_until(lambda: bad.poll() and LineEcho.errors)
        assert "Boom" in capsys.readouterr().out
        check_others_still_served(server.port)
    finally:
        bad.close()
        server.close()
        asyncore.close_all(ignore_all=True)


def test_asynchat_peer_reset_while_output_queued(clean_map):
    class Pusher(LineEcho):
        def found_terminator(self):
            if b"".join(self.buf) == b"go":
                self.buf = []
                self.push(b"y" * (8 << 20))
            else:
                super().found_terminator()

    server = Listener(Pusher)
    victim = Client(server.port)
    try:
        victim.send(b"go\r\n")
        run_until(lambda: any(getattr(c, "producer_fifo", None) for c in asyncore.socket_map.values()))
        victim.close(reset=True)
        run_until(lambda: len(asyncore.socket_map) == 1)
        check_others_still_served(server.port)
    finally:
        server.close()
        asyncore.close_all(ignore_all=True)


# -- asyncio facade -------------------------------------------------------------


def test_asyncio_protocol_exception_goes_to_the_loop_handler(clean_map):
    import asyncio

    handled = []

    class EchoProto(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            if b"boom" in data:
                raise Boom("in data_received")
            self.transport.write(data)

    class HandOff(asyncore.dispatcher):
        def __init__(self):
            super().__init__()
            self.create_socket()
            self.bind((HOST, 0))
            self.listen(50)
            self.port = self.socket.getsockname()[1]

        def handle_accepted(self, sock, addr):
            aio.adopt_protocol(sock, EchoProto)

    loop = core.thread_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda lp, ctx: handled.append(ctx.get("exception")))
    server = HandOff()
    bad = Client(server.port)
    try:
        bad.send(b"boom")
        run_until(lambda: bad.poll() and handled)
        assert isinstance(handled[0], Boom)
        check_others_still_served(server.port)
    finally:
        loop.set_exception_handler(previous)
        bad.close()
        server.close()
        asyncore.close_all(ignore_all=True)
        run_until(lambda: not asyncore.socket_map)


def test_connect_unreachable_raises_at_once_and_the_map_stays_usable(clean_map, monkeypatch):
    """No address here is really unreachable (127.0.0.1 only), so the kernel's
    answer is injected: connect() must raise it, as 3.11 did, and closing the
    channel leaves the map clean."""
    import errno

    c = asyncore.dispatcher()
    c.create_socket()
    monkeypatch.setattr(c, "socket", _Unreachable(c.socket))
    with pytest.raises(OSError) as info:
        c.connect((HOST, 9))
    assert info.value.errno == errno.ENETUNREACH
    c.close()
    assert len(asyncore.socket_map) == 0
    check_others_still_served(Listener(EchoOrBoom).port)
    asyncore.close_all(ignore_all=True)


class _Unreachable:
    """A socket whose connect answers ENETUNREACH (what a routeless network gives)."""

    def __init__(self, sock):
        self._sock = sock

    def connect_ex(self, address):
        import errno

        return errno.ENETUNREACH

    def __getattr__(self, name):
        return getattr(self._sock, name)
