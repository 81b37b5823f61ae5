"""What ``asyncore.loop()`` accepts and leaves behind, as 3.11 did.

Nested ``loop()``/``poll()`` from a legacy handler (legacy code waits for a
reply that way), bad arguments refused with 3.11's errors, and nothing kept
alive after ``loop()`` raises or after ``asyncio.run()`` served channels.
"""
import asyncio
import gc
import math
import os
import socket
import weakref
from typing import Any, Iterator, List

import pytest
from support import HOST, TIMEOUT, Echo, Listener, run_until

from compat import asyncore

pytestmark = pytest.mark.usefixtures("clean_map")


class Client(asyncore.dispatcher_with_send):
    """Connects to ``port``; collects what it reads."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.got = b""
        self.create_socket()
        self.connect((HOST, port))

    def handle_connect(self) -> None:
        pass

    def handle_read(self) -> None:
        self.got += self.recv(100)


def test_nested_loop_from_a_handler_serves_the_other_channels() -> None:
    echo = Listener(Echo)
    backend = Client(echo.port)
    answers: List[bytes] = []

    class Front(asyncore.dispatcher_with_send):
        def handle_read(self) -> None:
            request = self.recv(100)
            if not request:
                return
            backend.send(request)
            # Wait for the backend's reply the 2005 way: run the loop from here.
            while len(backend.got) < len(request):
                asyncore.loop(timeout=0.1, count=1)
            answers.append(backend.got)
            self.send(b"answer:" + backend.got)

    front = Listener(Front)
    with socket.create_connection((HOST, front.port), timeout=TIMEOUT) as user:
        user.sendall(b"question")
        run_until(lambda: answers, timeout=TIMEOUT)
        assert user.recv(100) == b"answer:question"
    asyncore.poll(0)  # a pass of its own, not nested: fine too
    asyncore.close_all()


def test_nested_loop_from_a_coroutine_is_refused() -> None:
    Listener(Echo)

    async def main() -> None:
        asyncore.loop(timeout=0, count=1)

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="asyncio event loop is running"):
            loop.run_until_complete(main())
    finally:
        loop.close()
    asyncore.close_all()


@pytest.mark.parametrize(
    "timeout,error,message",
    [
        (-1, ValueError, "timeout must be non-negative"),
        (math.nan, ValueError, "NaN"),
        (math.inf, OverflowError, "out of range"),
        ("1", TypeError, "timeout must be a float or None"),
    ],
)
def test_bad_timeouts_are_refused_as_in_3_11(timeout: Any, error: type, message: str) -> None:
    Listener(Echo)
    with pytest.raises(error, match=message):
        asyncore.loop(timeout=timeout, count=1)
    asyncore.close_all()


def test_an_entry_at_fd_minus_one_is_refused_as_in_3_11() -> None:
    a, b = socket.socketpair()
    with a, b:
        private: dict = {}
        chan = asyncore.dispatcher(a, map=private)
        private[-1] = chan
        with pytest.raises(ValueError, match="negative integer"):
            asyncore.loop(timeout=0, map=private, count=1)
        del private[-1]
        chan.close()


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_nothing_keeps_the_handlers_frame_alive_after_loop_raises(no_gc: None) -> None:
    class Token:
        pass

    refs: List[Any] = []

    class Boom(asyncore.dispatcher):
        def handle_accepted(self, sock: socket.socket, addr: Any) -> None:
            token = Token()  # a local of the failing handler, like an accepted socket
            refs.append(weakref.ref(token))
            sock.close()
            raise KeyboardInterrupt  # leaves loop(), as ExitNow does

    listener = Boom()
    listener.create_socket()
    listener.bind((HOST, 0))
    listener.listen(5)
    with socket.create_connection(listener.socket.getsockname(), timeout=TIMEOUT):
        try:
            asyncore.loop(timeout=TIMEOUT)
        except KeyboardInterrupt:
            pass
    listener.close()
    assert refs and refs[0]() is None, "a reference cycle keeps the handler's frame alive"


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds through /proc")
def test_no_fd_left_after_asyncio_run_served_legacy_channels() -> None:
    async def main() -> bytes:
        listener = Listener(Echo)
        reader, writer = await asyncio.open_connection(HOST, listener.port)
        writer.write(b"x")
        data = await asyncio.wait_for(reader.read(1), TIMEOUT)
        writer.close()
        asyncore.close_all()
        return data

    async def warm_up() -> None:
        await asyncio.sleep(0)

    asyncio.run(warm_up())  # imports and caches
    before = _open_fds()
    assert asyncio.run(main()) == b"x"
    assert _open_fds() == before
