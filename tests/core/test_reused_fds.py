"""A socket closed behind its channel's back, and its fd number reused at once.

The kernel hands out the lowest free fd, so the number comes back on the very
next socket: the core must serve the new socket (legacy or asyncio) and never
deliver its events to the stale channel, nor spin.
"""
import asyncio
import socket
from typing import Any, List

import pytest
from support import HOST, ON_SELECT, TIMEOUT, Listener, run_until

from compat import asyncore, core

pytestmark = pytest.mark.usefixtures("clean_map")


def _greet_and_close(sock: socket.socket) -> None:
    sock.sendall(b"hi")
    sock.close()


def test_reconnecting_inside_handle_close_on_the_same_fd(selector_polls: List[Any]) -> None:
    listener = Listener(_greet_and_close)
    fds: List[int] = []

    class Reconnecting(asyncore.dispatcher):
        def __init__(self) -> None:
            super().__init__()
            self.greetings = 0
            self.create_socket()
            fds.append(self._fileno)
            self.connect((HOST, listener.port))

        def handle_connect(self) -> None:
            pass

        def writable(self) -> bool:
            return not self.connected

        def handle_read(self) -> None:
            if self.recv(10) == b"hi":
                self.greetings += 1

        def handle_close(self) -> None:
            if self.greetings >= 3:
                self.close()
                return
            # The 2010-era way to reconnect: the fd number comes straight back.
            self.socket.close()
            self.create_socket()
            fds.append(self._fileno)
            self.connect((HOST, listener.port))

    client = Reconnecting()
    run_until(lambda: client.greetings >= 3, timeout=TIMEOUT)
    assert len(set(fds)) == 1, f"the fd was not reused, the test proves nothing: {fds}"
    assert len(selector_polls) < 1000, "the loop spun"
    listener.close()


@pytest.mark.skipif(ON_SELECT, reason="select() fails the whole poll on a closed fd (EBADF), as 3.11's did")
def test_asyncio_connection_on_the_fd_of_a_legacy_socket_closed_behind_its_back(selector_polls: List[Any]) -> None:
    listener = Listener(lambda sock: sock.close())
    closed: List[int] = []

    class Stale(asyncore.dispatcher):
        def handle_connect(self) -> None:
            pass

        def handle_read(self) -> None:
            self.recv(10)

        def handle_close(self) -> None:
            closed.append(1)
            self.close()

    stale = Stale()
    stale.create_socket()
    stale.connect((HOST, listener.port))
    run_until(lambda: stale.connected, timeout=TIMEOUT)
    fd = stale._fileno
    stale.socket.close()  # behind the map's back: the map still holds it at fd

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(10))
        await writer.drain()
        writer.close()

    async def main() -> List[int]:
        server = await asyncio.start_server(echo, HOST, 0)
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(b"new")
            assert await reader.read(10) == b"new"
            fds = [server.sockets[0].fileno(), writer.get_extra_info("socket").fileno()]
            writer.close()
            return fds
        finally:
            server.close()

    loop = core.thread_loop()
    taken = loop.run_until_complete(asyncio.wait_for(main(), TIMEOUT))
    assert fd in taken, f"asyncio did not get the freed fd, the test proves nothing: {fd} {taken}"
    run_until(lambda: closed, timeout=TIMEOUT)
    assert fd not in asyncore.socket_map or asyncore.socket_map[fd] is not stale
    assert len(selector_polls) < 1000, "the loop spun"
    listener.close()
