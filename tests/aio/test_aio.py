"""compat.aio: asyncio channels in the shared map, hand-offs, both ways of running.

Every test runs on the core's own loop ("default") and on uvloop. On uvloop
the loop's own servers/transports cannot be hooked, so tests that rely on
automatic tracking call ``aio.track()`` there (what the docs tell users).
"""
import asyncio
import gc
import os
import socket
import warnings
from typing import Iterator, List

import pytest
import uvloop
from support import HOST, TIMEOUT, Echo, Listener

from compat import aio, asynchat, asyncore, core

CLIENTS = 8


LOOP_KINDS = ["default", "uvloop"]


@pytest.fixture(params=LOOP_KINDS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    """Which event loop the test runs on: the core's own or uvloop's."""
    return request.param


def make_loop(kind: str) -> asyncio.AbstractEventLoop:
    return core.new_core_loop() if kind == "default" else uvloop.new_event_loop()


def finish_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Let pending closes run, cancel leftover tasks, close the loop."""
    if loop.is_closed():
        return

    async def drain() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Transports closed above finish on the next iterations.
        for _ in range(3):
            await asyncio.sleep(0)
        await loop.shutdown_asyncgens()

    loop.run_until_complete(drain())
    loop.close()


@pytest.fixture
def aloop(loop_kind: str, clean_map: None) -> Iterator[asyncio.AbstractEventLoop]:
    """A loop of ``loop_kind`` set as this thread's current loop (what asyncore.loop() uses)."""
    loop = make_loop(loop_kind)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncore.close_all(ignore_all=True)
        finish_loop(loop)
        asyncio.set_event_loop(None)


def run(loop: asyncio.AbstractEventLoop, coro):  # type: ignore[no-untyped-def]
    return loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT))


def payloads(n: int = CLIENTS) -> List[bytes]:
    # Sizes from one byte to well past a socket buffer, random content.
    return [os.urandom(size) for size in (1, 100, 4096, 65537, 300_000, 17, 1_000_000, 2)][:n]


# ---------------------------------------------------------------------------
# Servers and clients used throughout
# ---------------------------------------------------------------------------


class PolledEchoHandler(asyncore.dispatcher):
    """Old style: its own buffer and an overriding writable() (asked every pass)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.buffer = b""

    def writable(self) -> bool:
        return bool(self.buffer)

    def handle_read(self) -> None:
        self.buffer += self.recv(65536)

    def handle_write(self) -> None:
        sent = self.send(self.buffer)
        self.buffer = self.buffer[sent:]

    def handle_close(self) -> None:
        self.close()


class LineChat(asynchat.async_chat):
    """Answers each line with the line reversed."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.set_terminator(b"\r\n")

    def collect_incoming_data(self, data: bytes) -> None:
        self._collect_incoming_data(data)

    def found_terminator(self) -> None:
        self.push(self._get_data()[::-1] + b"\r\n")


async def stream_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]

    def eof_received(self) -> None:
        self.transport.close()


async def echo_client(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(payload)
        await writer.drain()
        return await reader.readexactly(len(payload))
    finally:
        writer.close()
        await writer.wait_closed()


async def check_echo(port: int, n: int = CLIENTS) -> None:
    sent = payloads(n)
    got = await asyncio.gather(*(echo_client(port, p) for p in sent))
    assert [len(g) for g in got] == [len(p) for p in sent]
    assert got == sent


async def line_client(port: int, lines: List[bytes]) -> List[bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        # Several lines per write and a line split across writes.
        blob = b"".join(line + b"\r\n" for line in lines)
        writer.write(blob[:3])
        await writer.drain()
        writer.write(blob[3:])
        return [(await reader.readuntil(b"\r\n"))[:-2] for _ in lines]
    finally:
        writer.close()
        await writer.wait_closed()


def entries(kind: type) -> list:
    return [e for e in asyncore.socket_map.values() if isinstance(e, kind)]


def tracked(loop_kind: str, server):  # type: ignore[no-untyped-def]
    """On uvloop the loop's own servers are put in the map by hand (documented limit)."""
    if loop_kind == "uvloop":
        aio.track(server)
    return server


# ---------------------------------------------------------------------------
# 1. asyncio servers and transports are entries of the shared map
# ---------------------------------------------------------------------------


def test_core_loop_puts_asyncio_servers_and_transports_in_the_map(clean_map: None) -> None:
    loop = core.new_core_loop()
    asyncio.set_event_loop(loop)
    try:

        async def main() -> None:
            server = await asyncio.start_server(stream_echo, HOST, 0)
            sock = server.sockets[0]
            [entry] = entries(aio.ServerChannel)
            assert entry.fileno() == sock.fileno()
            assert asyncore.socket_map[sock.fileno()] is entry
            assert "asyncio server" in repr(entry) and "listening" in repr(entry)
            assert len(asyncore.socket_map) == 1
            reader, writer = await asyncio.open_connection(HOST, sock.getsockname()[1])
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            # Both ends are transports on this loop: client + served connection.
            transports = entries(aio.TransportChannel)
            assert len(transports) == 2
            assert len(asyncore.socket_map) == 3
            assert all("asyncio transport" in repr(t) for t in transports)
            writer.close()
            await writer.wait_closed()
            await asyncio.wait_for(asyncio.gather(*(aio.closed(t) for t in transports)), TIMEOUT)
            assert len(asyncore.socket_map) == 1
            server.close()
            await server.wait_closed()
            assert len(asyncore.socket_map) == 0
            assert entry.fileno() == -1

        run(loop, main())
    finally:
        finish_loop(loop)
        asyncio.set_event_loop(None)


def test_udp_endpoint_is_an_entry_too(clean_map: None) -> None:
    loop = core.new_core_loop()
    try:

        async def main() -> None:
            transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(HOST, 0))
            [entry] = entries(aio.TransportChannel)
            assert entry.transport is transport
            transport.close()
            await aio.closed(entry)
            assert not asyncore.socket_map

        run(loop, main())
    finally:
        finish_loop(loop)


def test_track_puts_uvloop_servers_in_the_map(clean_map: None) -> None:
    loop = uvloop.new_event_loop()
    try:

        async def main() -> None:
            server = await asyncio.start_server(stream_echo, HOST, 0)
            assert not asyncore.socket_map  # uvloop's own servers are invisible...
            [entry] = aio.track(server)  # ...until tracked
            assert aio.track(server) == [entry]
            assert asyncore.socket_map[entry.fileno()] is entry
            await check_echo(server.sockets[0].getsockname()[1], 3)
            server.close()
            await asyncio.wait_for(aio.closed(entry), TIMEOUT)
            assert not asyncore.socket_map

        run(loop, main())
    finally:
        finish_loop(loop)


# ---------------------------------------------------------------------------
# 2a. asyncore.loop() as the main loop, asyncio inside it
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("handler", [Echo, PolledEchoHandler])
def test_asyncore_loop_serves_asyncio_servers_and_tasks(aloop, loop_kind, handler) -> None:  # type: ignore[no-untyped-def]
    legacy = Listener(handler)
    server = tracked(loop_kind, aloop.run_until_complete(asyncio.start_server(stream_echo, HOST, 0)))
    asyncio_port = server.sockets[0].getsockname()[1]
    counts = []

    async def clients() -> None:
        counts.append(len(asyncore.socket_map))
        await asyncio.gather(check_echo(legacy.port), check_echo(asyncio_port))
        legacy.close()
        server.close()

    task = aloop.create_task(asyncio.wait_for(clients(), TIMEOUT))
    asyncore.loop(timeout=1.0)  # returns once the map is empty: server closed
    aloop.run_until_complete(task)
    assert counts == [2]  # the legacy listener and the asyncio server
    assert not asyncore.socket_map


def test_asyncore_loop_keeps_running_while_an_asyncio_server_is_open(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    # Nothing legacy at all: the asyncio server alone keeps loop() running.
    server = tracked(loop_kind, aloop.run_until_complete(asyncio.start_server(stream_echo, HOST, 0)))
    port = server.sockets[0].getsockname()[1]
    seen = []

    async def client() -> None:
        await check_echo(port, 4)
        seen.append(len(asyncore.socket_map))
        server.close()

    task = aloop.create_task(asyncio.wait_for(client(), TIMEOUT))
    asyncore.loop(timeout=1.0)
    aloop.run_until_complete(task)
    assert seen and seen[0] >= 1
    assert not server.is_serving()


def test_close_all_closes_asyncio_and_legacy_channels_then_loop_returns(loop_kind, clean_map) -> None:  # type: ignore[no-untyped-def]
    loop = make_loop(loop_kind)
    asyncio.set_event_loop(loop)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            legacy = Listener(Echo)
            server = tracked(loop_kind, loop.run_until_complete(asyncio.start_server(stream_echo, HOST, 0)))
            asyncio_port = server.sockets[0].getsockname()[1]
            state = {}

            async def scenario() -> None:
                conns = []
                for port in (legacy.port, asyncio_port):
                    reader, writer = await asyncio.open_connection(HOST, port)
                    writer.write(b"hello")
                    assert await reader.readexactly(5) == b"hello"
                    conns.append((reader, writer))
                state["conns"] = conns
                state["before"] = len(asyncore.socket_map)
                kinds = {type(e).__name__ for e in asyncore.socket_map.values()}
                assert {"Listener", "Echo", "ServerChannel"} <= kinds
                asyncore.close_all()
                state["after"] = len(asyncore.socket_map)

            task = loop.create_task(asyncio.wait_for(scenario(), TIMEOUT))
            asyncore.loop(timeout=1.0)  # must return: close_all() emptied the map
            loop.run_until_complete(task)
            # default: listener, handler, server, served transport, 2 client
            # transports; uvloop: its own transports are not in the map.
            assert state["before"] == (6 if loop_kind == "default" else 3)
            assert state["after"] == 0
            assert not server.is_serving()

            async def peers_see_eof() -> None:
                (legacy_reader, legacy_writer), (aio_reader, aio_writer) = state["conns"]
                assert await legacy_reader.read() == b""
                if loop_kind == "default":
                    assert await aio_reader.read() == b""
                for writer in (legacy_writer, aio_writer):
                    writer.close()
                    await writer.wait_closed()

            run(loop, peers_see_eof())
            run(loop, server.wait_closed())
        finally:
            finish_loop(loop)
            asyncio.set_event_loop(None)
        del legacy, server, state, task
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


def test_close_all_closes_an_asyncio_transport_with_data_still_queued(clean_map: None) -> None:
    loop = core.new_core_loop()
    asyncio.set_event_loop(loop)
    try:
        lost = []

        class Stuffed(asyncio.Protocol):
            def connection_made(self, transport):  # type: ignore[no-untyped-def]
                transport.pause_reading()
                # More than the kernel takes while the peer does not read.
                transport.write(b"x" * 50_000_000)

            def connection_lost(self, exc):  # type: ignore[no-untyped-def]
                lost.append(exc)

        server = loop.run_until_complete(loop.create_server(Stuffed, HOST, 0))
        peer = socket.create_connection(server.sockets[0].getsockname())
        try:

            async def wait_for_transport() -> None:
                while not entries(aio.TransportChannel):
                    await asyncio.sleep(0)

            run(loop, wait_for_transport())
            asyncore.close_all()
            assert lost == [None]  # connection_lost ran within close_all()
            assert not asyncore.socket_map
        finally:
            peer.close()
    finally:
        finish_loop(loop)
        asyncio.set_event_loop(None)


# ---------------------------------------------------------------------------
# 2b. asyncio.run / compat.run as the main loop, legacy channels inside
# ---------------------------------------------------------------------------


def test_asyncio_run_serves_legacy_channels(loop_kind, clean_map) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        echo = Listener(Echo)
        chat = Listener(LineChat)
        polled = Listener(PolledEchoHandler)
        lines = [b"one", b"", b"three" * 1000]
        results = await asyncio.wait_for(
            asyncio.gather(
                check_echo(echo.port),
                check_echo(polled.port),
                *(line_client(chat.port, lines) for _ in range(CLIENTS)),
            ),
            TIMEOUT,
        )
        for got in results[2:]:
            assert got == [line[::-1] for line in lines]
        for ch in (echo, chat, polled):
            ch.close()

    if loop_kind == "default":
        asyncio.run(main())
    else:
        uvloop.run(main())
    assert not asyncore.socket_map


def test_compat_run_serves_map_until_empty(loop_kind, clean_map) -> None:  # type: ignore[no-untyped-def]
    # Created before the loop exists: compat.run serves it from the start.
    legacy = Listener(Echo)
    done = []

    async def clients(server) -> None:  # type: ignore[no-untyped-def]
        await asyncio.gather(check_echo(legacy.port), check_echo(server.sockets[0].getsockname()[1]))
        legacy.close()
        server.close()
        done.append(True)

    async def main() -> str:
        server = await aio.start_legacy_server(Echo, HOST, 0)
        asyncio.get_running_loop().create_task(asyncio.wait_for(clients(server), TIMEOUT))
        return "main returned"  # before any client ran: run() must go on serving

    factory = aio.new_uvloop_event_loop if loop_kind == "uvloop" else aio.new_event_loop
    assert aio.run(main(), loop_factory=factory) == "main returned"
    assert done == [True]
    assert not asyncore.socket_map


def test_compat_run_refuses_a_running_loop_and_non_coroutines(clean_map: None) -> None:
    with pytest.raises(TypeError, match="coroutine"):
        aio.run(lambda: None)  # type: ignore[arg-type]

    async def nested() -> None:
        coro = asyncio.sleep(0)
        try:
            aio.run(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(nested())


# ---------------------------------------------------------------------------
# 3. hand-offs
# ---------------------------------------------------------------------------


def test_legacy_listener_hands_sockets_to_a_protocol(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    tasks = []

    async def main() -> None:
        # Made inside the running loop: the map is served by it from now on.
        listener = Listener(lambda sock: tasks.append(aio.adopt_protocol(sock, EchoProtocol)))
        await check_echo(listener.port)
        assert len(tasks) == CLIENTS
        for task in tasks:
            transport, protocol = await task
            assert isinstance(protocol, EchoProtocol)
        listener.close()

    run(aloop, main())


def test_legacy_listener_hands_sockets_to_an_async_handler(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    seen_in_map = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fd = writer.get_extra_info("socket").fileno()
        seen_in_map.append(type(asyncore.socket_map.get(fd)).__name__)
        await stream_echo(reader, writer)

    listener = Listener(lambda sock: aio.adopt_stream(sock, handler))

    async def main() -> None:
        await check_echo(listener.port)
        listener.close()

    # Served by asyncore.loop(): the hand-off keeps the map non-empty.
    task = aloop.create_task(asyncio.wait_for(main(), TIMEOUT))
    asyncore.loop(timeout=1.0)
    aloop.run_until_complete(task)
    assert seen_in_map == ["TransportChannel"] * CLIENTS
    assert not asyncore.socket_map


def test_adopted_socket_stays_in_the_map_until_its_transport_closes(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    adopted = []

    async def main() -> None:
        listener = Listener(lambda sock: adopted.append((sock.fileno(), aio.adopt_protocol(sock, EchoProtocol))))
        reader, writer = await asyncio.open_connection(HOST, listener.port)
        listener.close()
        writer.write(b"abc")
        assert await reader.readexactly(3) == b"abc"
        [(fd, task)] = adopted
        transport, _ = await task
        entry = aio.track(transport)[0]
        assert asyncore.socket_map.get(entry.fileno()) is entry
        writer.close()
        await writer.wait_closed()
        await aio.closed(entry)

    run(aloop, main())
    assert not asyncore.socket_map


def test_adopt_rejects_bad_sockets(aloop) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="socket.socket"):
        aio.adopt_protocol(5, EchoProtocol)  # type: ignore[arg-type]
    closed_sock = socket.socket()
    closed_sock.close()
    with pytest.raises(ValueError, match="closed"):
        aio.adopt_protocol(closed_sock, EchoProtocol)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(ValueError, match="SOCK_STREAM"):
            aio.adopt_stream(udp, stream_echo)
    with socket.socket() as unconnected:
        with pytest.raises(ValueError, match="not connected"):
            aio.adopt_protocol(unconnected, EchoProtocol)
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(TypeError, match="callable"):
            aio.adopt_protocol(a, None)  # type: ignore[arg-type]
    assert not asyncore.socket_map


@pytest.mark.parametrize("channel", [Echo, PolledEchoHandler])
def test_start_legacy_server_serves_with_legacy_channels(aloop, loop_kind, channel) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        server = await aio.start_legacy_server(channel, HOST, 0, backlog=64, limit=1)
        assert isinstance(server, asyncio.AbstractServer) or hasattr(server, "serve_forever")
        [entry] = entries(aio.ServerChannel)
        assert entry.server is server
        await check_echo(server.sockets[0].getsockname()[1])
        server.close()
        await asyncio.wait_for(aio.closed(entry), TIMEOUT)

    run(aloop, main())
    assert not asyncore.socket_map


def test_start_legacy_server_with_async_chat(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        server = await aio.start_legacy_server(LineChat, HOST, 0)
        port = server.sockets[0].getsockname()[1]
        lines = [os.urandom(50).hex().encode() for _ in range(20)]
        got = await asyncio.gather(*(line_client(port, lines) for _ in range(CLIENTS)))
        assert got == [[line[::-1] for line in lines]] * CLIENTS
        server.close()

    run(aloop, main())


def test_start_legacy_server_refuses_bad_arguments(aloop) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        with pytest.raises(TypeError, match="callable"):
            await aio.start_legacy_server(None, HOST, 0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="TLS"):
            await aio.start_legacy_server(Echo, HOST, 0, ssl=True)

    run(aloop, main())


def test_closed_waits_for_a_legacy_channel(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    handlers = []

    async def main() -> None:
        listener = Listener(lambda sock: handlers.append(Echo(sock)))
        await check_echo(listener.port, 1)  # the client closes: the handler follows
        [handler] = handlers
        await aio.closed(handler)
        assert handler not in asyncore.socket_map.values()
        await aio.closed(handler)  # already closed: returns at once
        waiter = asyncio.ensure_future(aio.closed(listener))
        await asyncio.sleep(0)
        assert not waiter.done()
        listener.close()
        await waiter
        with pytest.raises(TypeError):
            await aio.closed(object())

    run(aloop, main())


# ---------------------------------------------------------------------------
# producers and terminators from asyncio code
# ---------------------------------------------------------------------------


class ChunkProducer:
    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.size = size
        self.calls = 0

    def more(self) -> bytes:
        self.calls += 1
        chunk, self.data = self.data[: self.size], self.data[self.size :]
        return chunk


def test_write_producer_streams_every_byte(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(3_000_000)

    async def main() -> None:
        async def serve(reader, writer):  # type: ignore[no-untyped-def]
            n = await aio.write_producer(writer, asynchat.simple_producer(data, buffer_size=65536))
            assert n == len(data)
            writer.close()

        server = tracked(loop_kind, await asyncio.start_server(serve, HOST, 0))
        reader, writer = await asyncio.open_connection(HOST, server.sockets[0].getsockname()[1])
        got = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert got == data
        server.close()

    run(aloop, main())


def test_write_producer_waits_for_drain_between_chunks() -> None:
    # A writer whose drain() the test releases by hand: no chunk is pulled
    # from the producer while the previous one is not drained.
    class Writer:
        def __init__(self) -> None:
            self.written: List[bytes] = []
            self.gate = None

        def write(self, data: bytes) -> None:
            self.written.append(data)

        async def drain(self) -> None:
            self.gate = asyncio.get_running_loop().create_future()
            await self.gate

    async def main() -> None:
        writer = Writer()
        producer = ChunkProducer(b"abcdefgh", 3)
        task = asyncio.ensure_future(aio.write_producer(writer, producer))  # type: ignore[arg-type]
        for expected in (b"abc", b"def", b"gh"):
            while writer.gate is None or writer.gate.done():
                await asyncio.sleep(0)
            assert writer.written[-1] == expected and producer.calls == len(writer.written)
            writer.gate.set_result(None)
        assert await task == 8
        with pytest.raises(TypeError, match="more"):
            await aio.write_producer(writer, b"bytes")  # type: ignore[arg-type]

    asyncio.run(main())


class ReverseLines(aio.TerminatorProtocol):
    """Lines get reversed; 'N:<n>' switches to an n-byte record, answered upper-case."""

    def __init__(self) -> None:
        super().__init__()
        self.set_terminator(b"\r\n")

    def found_terminator(self) -> None:
        data = self._get_data()
        if isinstance(self.get_terminator(), int):
            self.push(data.upper() + b"\r\n")
            self.set_terminator(b"\r\n")
        elif data.startswith(b"N:"):
            self.set_terminator(int(data[2:]))
        elif data == b"BYE":
            self.push_with_producer(asynchat.simple_producer(b"bye" * 10000 + b"\r\n", 7))
            self.close_when_done()
        else:
            self.push(data[::-1] + b"\r\n")


def test_terminator_protocol_on_real_sockets(aloop, loop_kind) -> None:  # type: ignore[no-untyped-def]
    async def client(port: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        record = os.urandom(5000).hex().encode()[:7777]
        script = b"hello\r\nN:%d\r\n%s" % (len(record), record) + b"world\r\nBYE\r\n"
        # Dribble it out in odd-sized pieces: framing must not care.
        for i in range(0, len(script), 13):
            writer.write(script[i : i + 13])
        await writer.drain()
        assert await reader.readuntil(b"\r\n") == b"olleh\r\n"
        assert await reader.readuntil(b"\r\n") == record.upper() + b"\r\n"
        assert await reader.readuntil(b"\r\n") == b"dlrow\r\n"
        assert await reader.read() == b"bye" * 10000 + b"\r\n"  # then closed
        writer.close()
        await writer.wait_closed()

    async def main() -> None:
        server = tracked(loop_kind, await aloop.create_server(ReverseLines, HOST, 0))
        await asyncio.gather(*(client(server.sockets[0].getsockname()[1]) for _ in range(CLIENTS)))
        server.close()

    run(aloop, main())


def test_terminator_protocol_bad_terminators() -> None:
    p = ReverseLines()
    with pytest.raises(TypeError, match="use_encoding"):
        p.set_terminator("\r\n")
    with pytest.raises(ValueError):
        p.set_terminator(-1)
    with pytest.raises(TypeError):
        p.set_terminator(1.5)  # type: ignore[arg-type]
    p.set_terminator(bytearray(b"\n"))
    assert p.get_terminator() == b"\n"
    with pytest.raises(TypeError, match="bytes-like"):
        p.push("text")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not connected"):
        p.push(b"x")
    p.use_encoding = True
    p.set_terminator("\r\n")
    assert p.get_terminator() == b"\r\n"
