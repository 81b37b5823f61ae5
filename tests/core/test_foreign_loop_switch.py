"""The shared map served by one foreign loop after another (each set as the
thread's current loop, then closed), as a test suite or an application that
makes a loop per job does."""
import asyncio
import socket
from typing import Any, List

import pytest
from support import HOST, run_until

from compat import asyncore

pytestmark = pytest.mark.usefixtures("clean_map")


class Connector(asyncore.dispatcher):
    """Connects and records handle_connect/handle_write."""

    def __init__(self, addr: Any) -> None:
        self.events: List[str] = []
        super().__init__()
        self.create_socket()
        self.connect(addr)

    def handle_connect(self) -> None:
        self.events.append("connect")

    def handle_write(self) -> None:
        self.events.append("write")


def serve_one_connect(listener: socket.socket) -> List[str]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        d = Connector(listener.getsockname())
        run_until(lambda: d.events)
        # close_all() queues a re-sync on this loop that never runs: the
        # loop is closed first.
        asyncore.close_all()
        return d.events
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_a_second_foreign_loop_serves_the_shared_map() -> None:
    with socket.create_server((HOST, 0)) as listener:
        assert serve_one_connect(listener)[0] == "connect"
        # Once failed: the first loop's unrun re-sync kept the map from
        # queueing one on the second, so no channel was ever polled.
        assert serve_one_connect(listener)[0] == "connect"
