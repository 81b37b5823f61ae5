"""Helpers shared by the tests (one copy of each): addresses, stepping the
loop until something holds, connected socket pairs, a listener and an echo,
the warning filters of the legacy runtime's tests."""
import os
import socket
import time
from typing import Any, Callable, List, Optional, Tuple

import pytest

from compat import asyncore

HOST = "127.0.0.1"
TIMEOUT = 20.0
# The core forced onto select() (COMPAT_SELECTOR=select, as on platforms
# without epoll/kqueue): what select() itself cannot do is not tested there.
ON_SELECT = os.environ.get("COMPAT_SELECTOR", "").lower() == "select"

# compat's own DeprecationWarning/PendingDeprecationWarning/RuntimeWarning
# fail the test (LegacyWarning, which install() exists to give, excepted).
COMPAT_WARNINGS_FAIL = [
    pytest.mark.filterwarnings(r"error::DeprecationWarning:compat(\..*)?$"),
    pytest.mark.filterwarnings(r"error::PendingDeprecationWarning:compat(\..*)?$"),
    pytest.mark.filterwarnings(r"error::RuntimeWarning:compat(\..*)?$"),
    pytest.mark.filterwarnings("ignore::compat.legacy.warning.LegacyWarning"),
]


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
    """Sends back what it reads; closes quietly when the peer does."""

    def handle_read(self) -> None:
        data = self.recv(65536)
        if data:
            self.send(data)

    def handle_close(self) -> None:
        self.close()


class Listener(asyncore.dispatcher):
    """Listens on 127.0.0.1 (an ephemeral port) and serves each connection
    with ``handler(sock)``, or ``handler(sock, map=map)`` when it listens on
    a private map; what the handler returns is kept in ``accepted``."""

    def __init__(self, handler: Callable[..., Any] = Echo, map: Optional[dict] = None, backlog: int = 64) -> None:
        super().__init__(map=map)
        self.handler = handler
        self.private_map = map
        self.accepted: List[Any] = []
        self.create_socket()
        self.set_reuse_addr()
        self.bind((HOST, 0))
        self.listen(backlog)
        self.port = self.socket.getsockname()[1]

    def handle_accepted(self, sock: socket.socket, addr: Any) -> None:
        if self.private_map is None:
            self.accepted.append(self.handler(sock))
        else:
            self.accepted.append(self.handler(sock, map=self.private_map))


class StubSocket:
    """Just enough socket for a dispatcher (a real fd to poll), with a send()
    the test controls."""

    def __init__(self, fd: int, send: Callable[[Any], int]) -> None:
        self._fd = fd
        self.send = send

    def fileno(self) -> int:
        return self._fd

    def setblocking(self, flag: bool) -> None:
        pass

    def close(self) -> None:
        pass
