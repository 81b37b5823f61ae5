"""Resource hygiene: many connections leave no fd and no map entry behind."""
import asyncio
import os
import socket
import struct
import threading

import pytest
from support import HOST, Echo, Listener

from compat import aio, asynchat, asyncore, core

CONNECTIONS = 20_000


def open_fds():
    return len(os.listdir("/proc/self/fd"))


class ChatEcho(asynchat.async_chat):
    """The asynchat facade: echo whatever arrives (a None terminator)."""

    def __init__(self, sock):
        super().__init__(sock)
        self.set_terminator(None)

    def collect_incoming_data(self, data):
        self.push(data)

    def found_terminator(self):
        pass


class ProtocolEcho(asyncio.Protocol):
    """The asyncio facade: an accepted socket handed to a protocol."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


FACADES = {
    "asyncore": Echo,
    "asynchat": ChatEcho,
    "asyncio": lambda sock: aio.adopt_protocol(sock, ProtocolEcho),
}


def hammer(port, count, errors):
    """Connect, check one echo, reset: no TIME_WAIT pile-up across runs."""
    linger = struct.pack("ii", 1, 0)
    try:
        for i in range(count):
            with socket.create_connection((HOST, port), timeout=10) as s:
                payload = b"%d" % i
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    got += chunk
                if got != payload:
                    errors.append((i, got))
                    return
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    except Exception as exc:  # reported to the main thread, which fails the test
        errors.append(exc)


def serve_connections(count, handler):
    """Serve ``count`` echo connections from a client thread; return the errors."""
    server = Listener(handler, backlog=128)
    errors = []
    client = threading.Thread(target=hammer, args=(server.port, count, errors))

    def finish():
        client.join()
        server.close()  # from the client thread: the serving thread closes it

    stopper = threading.Thread(target=finish)
    loop = core.thread_loop()
    loop.call_soon(client.start)
    loop.call_soon(stopper.start)
    asyncore.loop(timeout=5)  # returns once the listener and every echo closed
    stopper.join(10)
    assert len(server.accepted) == count or errors
    return errors


@pytest.mark.timeout(180)
@pytest.mark.parametrize("facade", sorted(FACADES))
def test_20000_connections_through_each_facade_leave_nothing(clean_map, facade):
    handler = FACADES[facade]
    # One round first: the loop's own fds (epoll, self-pipe) are made once.
    assert serve_connections(1, handler) == []
    fds_before = open_fds()
    map_before = len(asyncore.socket_map)
    assert serve_connections(CONNECTIONS, handler) == []
    assert len(asyncore.socket_map) == map_before
    assert open_fds() == fds_before
