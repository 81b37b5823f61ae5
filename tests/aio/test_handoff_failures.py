"""Hand-offs from a legacy listener to asyncio that fail (issue 15, point 4).

A failed ``adopt_protocol``/``adopt_stream`` closes the socket (the peer sees
the connection end) and reports the exception through the loop's exception
handler; ``ssl_handshake_timeout`` aborts a peer that never does the TLS
handshake. Each runs on the core's loop, on a stock asyncio loop and on
uvloop.
"""
import asyncio
import math
import socket
import sys
import threading
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import trustme
import uvloop

from compat import aio, asyncore, core

HOST = "127.0.0.1"
TIMEOUT = 20.0



@pytest.fixture(params=["core", "stock", "uvloop"])
def loop(request: pytest.FixtureRequest, clean_map: None) -> Iterator[asyncio.AbstractEventLoop]:
    """A loop of each kind, its exception handler collecting into ``loop.reports``."""
    new = {"core": core.new_core_loop, "stock": asyncio.new_event_loop}.get(request.param)
    lp = new() if new is not None else uvloop.new_event_loop()
    reports: List[Dict[str, Any]] = []
    lp.set_exception_handler(lambda _loop, context: reports.append(context))
    lp.reports = reports  # type: ignore[attr-defined]
    try:
        yield lp
    finally:
        asyncore.close_all(ignore_all=True)
        lp.run_until_complete(finish())
        lp.close()


async def finish() -> None:
    """Cancel what a failed test left running; let closing transports finish."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.fixture
def connection() -> Iterator[Tuple[socket.socket, socket.socket]]:
    """(server side, client side) of a TCP connection on 127.0.0.1."""
    with socket.create_server((HOST, 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=TIMEOUT)
        server, _ = listener.accept()
    try:
        yield server, client
    finally:
        server.close()
        client.close()


@pytest.fixture(scope="module")
def certs() -> Tuple[Any, Any]:
    import ssl

    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


class Recording(asyncio.Protocol):
    def __init__(self) -> None:
        self.made = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made = True


def hand_off(loop: asyncio.AbstractEventLoop, adopt: Any, *args: Any, **kw: Any) -> "asyncio.Task[Any]":
    """Call ``adopt(*args, **kw)`` inside ``loop`` and wait until its task is done."""

    async def main() -> "asyncio.Task[Any]":
        task = adopt(*args, **kw)
        await asyncio.wait({task}, timeout=TIMEOUT)
        assert task.done()
        return task

    return loop.run_until_complete(main())


def assert_closed_for_the_peer(client: socket.socket) -> None:
    try:
        assert client.recv(100) == b""
    except ConnectionResetError:
        pass


def assert_reported(loop: asyncio.AbstractEventLoop, task: "asyncio.Task[Any]", what: str) -> None:
    ours = [c for c in loop.reports if c.get("message", "").startswith(what)]  # type: ignore[attr-defined]
    assert len(ours) == 1, loop.reports  # type: ignore[attr-defined]
    assert ours[0]["exception"] is task.exception()
    assert "failed" in ours[0]["message"] and HOST in ours[0]["message"]


def test_raising_protocol_factory_closes_the_socket_and_is_reported(loop, connection):
    server, client = connection

    def factory() -> asyncio.Protocol:
        raise ZeroDivisionError("factory bug")

    task = hand_off(loop, aio.adopt_protocol, server, factory)
    assert isinstance(task.exception(), ZeroDivisionError)
    assert server.fileno() == -1
    assert_closed_for_the_peer(client)
    assert_reported(loop, task, "adopt_protocol")
    assert not asyncore.socket_map


def test_raising_stream_handler_factory_is_reported_as_adopt_stream(loop, connection, monkeypatch):
    server, client = connection

    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("no reader")

    monkeypatch.setattr(asyncio, "StreamReader", broken)
    task = hand_off(loop, aio.adopt_stream, server, lambda r, w: None)
    assert isinstance(task.exception(), RuntimeError)
    assert server.fileno() == -1
    assert_closed_for_the_peer(client)
    assert_reported(loop, task, "adopt_stream")


def test_failing_tls_setup_closes_the_socket_and_is_reported(loop, connection):
    import ssl

    class Broken(ssl.SSLContext):
        """Fails where asyncio sets up TLS on the socket."""

        def wrap_bio(self, *args: Any, **kw: Any) -> Any:
            raise ssl.SSLError("TLS setup failed")

    server, client = connection
    task = hand_off(loop, aio.adopt_stream, server, lambda r, w: None, ssl=Broken(ssl.PROTOCOL_TLS_SERVER))
    assert isinstance(task.exception(), ssl.SSLError)
    assert server.fileno() == -1
    assert_closed_for_the_peer(client)
    assert_reported(loop, task, "adopt_stream")
    assert not asyncore.socket_map


def test_failed_tls_handshake_is_reported(loop, connection, certs):
    server, client = connection
    server_ctx, _ = certs
    client.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not a TLS client
    made: List[Recording] = []

    def factory() -> Recording:
        made.append(Recording())
        return made[-1]

    task = hand_off(loop, aio.adopt_protocol, server, factory, ssl=server_ctx)
    assert isinstance(task.exception(), OSError)
    assert server.fileno() == -1
    assert_closed_for_the_peer(client)
    assert_reported(loop, task, "adopt_protocol")
    assert not made[0].made


def test_ssl_handshake_timeout_aborts_a_silent_peer(loop, connection, certs):
    server, client = connection
    server_ctx, _ = certs
    called = []
    task = hand_off(
        loop, aio.adopt_stream, server, lambda r, w: called.append(1), ssl=server_ctx, ssl_handshake_timeout=0.05
    )
    assert server.fileno() == -1
    assert_closed_for_the_peer(client)
    assert called == []
    if sys.version_info >= (3, 11) or uvloop is not None and isinstance(loop, uvloop.Loop):
        # 3.9 and 3.10's stock TLS code ends the handshake wait without an
        # error on a timeout; later asyncio and uvloop fail it.
        assert isinstance(task.exception(), ConnectionAbortedError)
        assert_reported(loop, task, "adopt_stream")


def test_ssl_handshake_timeout_lets_a_prompt_client_through(loop, certs):
    server_ctx, client_ctx = certs
    got: List[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readexactly(5))
        writer.write(b"pong!")
        await writer.drain()
        writer.close()

    async def main() -> None:
        with socket.create_server((HOST, 0)) as listener:
            listener.setblocking(False)
            port = listener.getsockname()[1]
            client = asyncio.ensure_future(asyncio.open_connection(HOST, port, ssl=client_ctx, server_hostname=HOST))
            sock, _ = await asyncio.get_running_loop().sock_accept(listener)
        try:
            task = aio.adopt_stream(sock, handler, ssl=server_ctx, ssl_handshake_timeout=TIMEOUT)
            reader, writer = await client
        except BaseException:
            sock.close()
            raise
        try:
            writer.write(b"ping!")
            assert await reader.readexactly(5) == b"pong!"
            await task
        finally:
            writer.close()

    loop.run_until_complete(asyncio.wait_for(main(), TIMEOUT))
    assert got == [b"ping!"]
    assert loop.reports == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"ssl_handshake_timeout": 5.0}, ValueError, "only meaningful with ssl"),
        ({"ssl": "ctx", "ssl_handshake_timeout": 0}, ValueError, "positive number"),
        ({"ssl": "ctx", "ssl_handshake_timeout": -1}, ValueError, "positive number"),
        ({"ssl": "ctx", "ssl_handshake_timeout": math.nan}, ValueError, "positive number"),
        ({"ssl": "ctx", "ssl_handshake_timeout": "5"}, TypeError, "must be a number"),
        ({"ssl": "ctx", "ssl_handshake_timeout": True}, TypeError, "must be a number"),
    ],
)
@pytest.mark.parametrize("adopt", ["adopt_protocol", "adopt_stream"])
def test_bad_ssl_handshake_timeout_is_refused_and_the_socket_left_alone(clean_map, connection, adopt, kw, error, match):
    import ssl

    server, _ = connection
    if kw.get("ssl") == "ctx":
        kw = dict(kw, ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    factory = Recording if adopt == "adopt_protocol" else (lambda r, w: None)
    with pytest.raises(error, match=match):
        getattr(aio, adopt)(server, factory, loop=core.thread_loop(), **kw)
    assert server.fileno() != -1  # still the caller's
    assert not asyncore.socket_map


def test_protocol_with_slots_is_served_on_the_core_loop(clean_map, connection):
    # Only foreign loops need connection_made wrapped to track the transport.
    server, client = connection
    loop = core.new_core_loop()
    try:
        task = hand_off(loop, aio.adopt_protocol, server, asyncio.Protocol)
        transport, protocol = task.result()
        assert type(protocol) is asyncio.Protocol
        transport.close()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert_closed_for_the_peer(client)


def test_failed_hand_off_on_a_loop_of_another_thread_closes_the_socket(clean_map, connection):
    # While the shared map is served by a loop running in another thread, a
    # hand-off on this thread's loop gets no map entry; its failure must
    # still close the socket.
    server, client = connection
    ready = threading.Event()
    stop: List[Any] = []

    def serve_map() -> None:
        serving = core.new_core_loop()

        async def hold() -> None:
            a, b = socket.socketpair()
            channel = asyncore.dispatcher(a)  # binds the map to this running loop
            stop.append((serving, asyncio.Event()))
            ready.set()
            try:
                await asyncio.wait_for(stop[0][1].wait(), TIMEOUT)
            finally:
                channel.close()
                b.close()

        try:
            serving.run_until_complete(hold())
        finally:
            ready.set()
            serving.close()

    thread = threading.Thread(target=serve_map)
    thread.start()
    loop = asyncio.new_event_loop()
    reports: List[Dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    try:
        assert ready.wait(TIMEOUT) and stop

        def factory() -> asyncio.Protocol:
            raise ZeroDivisionError("factory bug")

        task = hand_off(loop, aio.adopt_protocol, server, factory)
    finally:
        if stop:
            stop[0][0].call_soon_threadsafe(stop[0][1].set)
        thread.join(TIMEOUT)
        loop.close()
    assert isinstance(task.exception(), ZeroDivisionError)
    assert server.fileno() == -1
    assert_closed_for_the_peer(client)
    assert [c["exception"] for c in reports] == [task.exception()]


def test_successful_hand_off_reports_nothing(loop, connection):
    server, client = connection
    task = hand_off(loop, aio.adopt_protocol, server, Recording)
    transport, protocol = task.result()
    assert protocol.made
    transport.close()
    loop.run_until_complete(asyncio.sleep(0))
    assert loop.reports == []  # type: ignore[attr-defined]
    assert_closed_for_the_peer(client)
