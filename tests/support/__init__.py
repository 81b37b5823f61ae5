"""Helpers shared by the tests (one copy of each): addresses, stepping the
loop until something holds, connected socket pairs, a listener and an echo."""
import os
import socket
import time
from typing import Any, Callable, Optional, Tuple

from compat import asyncore

HOST = "127.0.0.1"
TIMEOUT = 20.0
# The core forced onto select() (COMPAT_SELECTOR=select, as on platforms
# without epoll/kqueue): what select() itself cannot do is not tested there.
ON_SELECT = os.environ.get("COMPAT_SELECTOR", "").lower() == "select"


def run_until(predicate: Callable[[], Any], map: Any = None, timeout: float = 10.0) -> None:
    """Step ``asyncore.loop`` one pass at a time until ``predicate()`` holds;
    fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached within %.1f s" % timeout)
        asyncore.loop(timeout=0.01, map=map, count=1)


def tcp_pair() -> Tuple[socket.socket, socket.socket]:
    """A connected (server side, client side) pair of TCP sockets on 127.0.0.1."""
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname(), timeout=TIMEOUT)
        server, _ = listener.accept()
    return server, client


class Echo(asyncore.dispatcher_with_send):
    """Sends back what it reads."""

    def handle_read(self) -> None:
        data = self.recv(65536)
        if data:
            self.send(data)


class Listener(asyncore.dispatcher):
    """Listens on 127.0.0.1 (an ephemeral port) and serves each connection
    with ``handler(sock)``."""

    def __init__(self, handler: Callable[[socket.socket], Any] = Echo, map: Optional[dict] = None) -> None:
        super().__init__(map=map)
        self.handler = handler
        self.create_socket()
        self.set_reuse_addr()
        self.bind((HOST, 0))
        self.listen(64)
        self.port = self.socket.getsockname()[1]

    def handle_accepted(self, sock: socket.socket, addr: Any) -> None:
        self.handler(sock)
