"""Hand-offs between legacy channels and asyncio, both ways.

- legacy listener -> asyncio: :func:`adopt_protocol`, :func:`adopt_stream`
  (call them from ``handle_accepted(sock, addr)``);
- asyncio server -> legacy channel: :func:`start_legacy_server`;
- asynchat producers -> StreamWriter: :func:`write_producer`;
- legacy channel -> awaitable: :func:`closed`.
"""
import asyncio
import os
import socket
import ssl as _ssl
from typing import Any, Awaitable, Callable, Optional, Tuple

from compat import core
from compat.core import _asyncio, external
from compat.aio.track import PendingChannel, track
from compat.core.external import AsyncioChannel, _wake, map_for
from compat.core.loop import CoreEventLoop

__all__ = ["adopt_protocol", "adopt_stream", "start_legacy_server", "write_producer", "closed"]

ProtocolFactory = Callable[[], asyncio.BaseProtocol]
StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Optional[Awaitable[None]]]

# Hand-off tasks are kept alive here: the loop only holds weak references.
_tasks: "set[asyncio.Task[Any]]" = set()


def _loop_here() -> asyncio.AbstractEventLoop:
    """The running loop, else the loop the core serves this thread's map with."""
    running = _asyncio.running_loop()
    return running if running is not None else core.thread_loop()


def _check_stream_socket(sock: Any, what: str) -> Any:
    """Refuse what cannot be handed to asyncio; return the peer's address."""
    if not isinstance(sock, socket.socket):
        raise TypeError(f"{what} takes a socket.socket, not {type(sock).__name__}")
    if sock.fileno() == -1:
        raise ValueError(f"{what}: the socket is closed")
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"{what}: a stream (SOCK_STREAM) socket is required, not {sock.type!r}")
    try:
        return sock.getpeername()
    except OSError:
        raise ValueError(f"{what}: the socket is not connected") from None


def _check_handshake_timeout(ssl: Optional[_ssl.SSLContext], timeout: Optional[float]) -> None:
    """asyncio's rules for ``ssl_handshake_timeout``, checked before the socket is touched."""
    if timeout is None:
        return
    if ssl is None:
        raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"ssl_handshake_timeout must be a number, not {type(timeout).__name__}")
    if not timeout > 0:  # NaN too: it would never expire
        raise ValueError(f"ssl_handshake_timeout should be a positive number, got {timeout}")


def adopt_protocol(
    sock: socket.socket,
    protocol_factory: ProtocolFactory,
    *,
    ssl: Optional[_ssl.SSLContext] = None,
    ssl_handshake_timeout: Optional[float] = None,
    loop: Optional[asyncio.AbstractEventLoop] = None,
) -> "asyncio.Task[Tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]":
    """Serve the connected ``sock`` with an asyncio protocol from now on.

    Meant for a legacy listener's ``handle_accepted(sock, addr)``. Returns the
    task that builds the transport; it resolves to ``(transport, protocol)``.
    The socket stays a channel in the shared map throughout. With ``ssl``
    (a server-side context) the TLS handshake runs on the asyncio side and
    is aborted after ``ssl_handshake_timeout`` seconds (asyncio's default
    when None).

    Bad arguments raise here and leave ``sock`` to the caller. Once the task
    runs, a failed hand-off (the factory raising, a TLS setup or handshake
    failing, a timeout) closes ``sock`` and is reported through the loop's
    exception handler; the task holds the exception too.
    """
    return _adopt(sock, protocol_factory, "adopt_protocol", ssl, ssl_handshake_timeout, loop)


def _adopt(
    sock: socket.socket,
    protocol_factory: ProtocolFactory,
    what: str,
    ssl: Optional[_ssl.SSLContext],
    ssl_handshake_timeout: Optional[float],
    loop: Optional[asyncio.AbstractEventLoop],
) -> "asyncio.Task[Tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]":
    if ssl is not None and not isinstance(ssl, _ssl.SSLContext):
        raise TypeError(f"ssl must be an ssl.SSLContext, not {type(ssl).__name__}")
    _check_handshake_timeout(ssl, ssl_handshake_timeout)
    peer = _check_stream_socket(sock, what)
    if not callable(protocol_factory):
        raise TypeError("protocol_factory must be callable")
    if loop is None:
        loop = _loop_here()
    if loop.is_closed():
        raise RuntimeError(f"{what}: the event loop is closed")
    map = map_for(loop)
    pending = PendingChannel(sock, map) if map is not None else None
    # Set once the factory returned: from then on a transport owns the socket.
    made = False

    def factory() -> asyncio.BaseProtocol:
        nonlocal made
        protocol = protocol_factory()
        if pending is not None:
            _track_on_connect(protocol, loop)  # type: ignore[arg-type]
            pending.started = True
        made = True
        return protocol

    kw = {} if ssl_handshake_timeout is None else {"ssl_handshake_timeout": ssl_handshake_timeout}
    task = loop.create_task(loop.connect_accepted_socket(factory, sock, ssl=ssl, **kw))
    _tasks.add(task)
    if pending is not None:
        pending.task = task
        pending.enter()

    def done(task: "asyncio.Task[Any]") -> None:
        _tasks.discard(task)
        if pending is not None and pending.in_map:
            pending.leave()  # no transport took its place: the hand-off failed
        if task.cancelled():
            # Cancelled while awaiting the transport: asyncio closes that
            # transport, and the socket with it.
            if not made:
                sock.close()
            return
        exc = task.exception()
        if exc is None:
            return
        # Nothing holds the socket now: the transport, if one was made, was
        # aborted before the task failed (closing twice is harmless).
        sock.close()
        loop.call_exception_handler(  # type: ignore[union-attr]
            {
                "message": f"{what}: handing the connection from {_addr(peer)} to asyncio failed; "
                "its socket is closed",
                "exception": exc,
                "peername": peer,
            }
        )

    task.add_done_callback(done)
    return task


def _addr(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return repr(peer)


def _track_on_connect(protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
    """On a foreign loop, put the transport in the map when the protocol gets it."""
    if isinstance(loop, CoreEventLoop) or getattr(loop, "compat_tracks_protocols", False):
        return  # the core's loops put the transport in the map themselves
    if not external.track_protocol(protocol, loop):
        raise TypeError(
            f"cannot hand a socket to {type(protocol).__name__} on this loop: "
            "its connection_made cannot be wrapped (__slots__)"
        )


def adopt_stream(
    sock: socket.socket,
    client_connected_cb: StreamHandler,
    *,
    limit: int = 2**16,
    ssl: Optional[_ssl.SSLContext] = None,
    ssl_handshake_timeout: Optional[float] = None,
    loop: Optional[asyncio.AbstractEventLoop] = None,
) -> "asyncio.Task[Tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]":
    """Serve the connected ``sock`` with ``client_connected_cb(reader, writer)``.

    The callback is called as ``asyncio.start_server`` calls it; a coroutine
    function runs as a task. Returns the hand-off task of :func:`adopt_protocol`,
    with the same ``ssl``, ``ssl_handshake_timeout`` and failure handling.
    """
    if not callable(client_connected_cb):
        raise TypeError("client_connected_cb must be callable")

    def factory() -> asyncio.BaseProtocol:
        reader = asyncio.StreamReader(limit=limit)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb)

    return _adopt(sock, factory, "adopt_stream", ssl, ssl_handshake_timeout, loop)


class _HandOffProtocol(asyncio.Protocol):
    """Takes an accepted connection away from asyncio and gives it to a legacy channel."""

    def __init__(self, channel_factory: Callable[[socket.socket], Any]) -> None:
        self.channel_factory = channel_factory

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Nothing has been read yet (reading starts after this callback), so
        # a duplicate of the fd carries the whole connection; dropping the
        # transport closes only asyncio's copy, which sends nothing to the peer.
        tsock = transport.get_extra_info("socket")
        sock = socket.socket(tsock.family, tsock.type, tsock.proto, fileno=os.dup(tsock.fileno()))
        transport.abort()
        try:
            self.channel_factory(sock)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, (KeyboardInterrupt, SystemExit, core.ExitNow)):
                raise
            asyncio.get_running_loop().call_exception_handler(
                {"message": "start_legacy_server: the channel factory failed", "exception": exc}
            )

    def data_received(self, data: bytes) -> None:  # pragma: no cover - aborted before any read
        raise RuntimeError("hand-off protocol received data")


async def start_legacy_server(
    channel_factory: Callable[[socket.socket], Any],
    host: Any = None,
    port: Optional[int] = None,
    **kw: Any,
) -> asyncio.AbstractServer:
    """An asyncio server whose connections are served by ``channel_factory(sock)``.

    Takes ``asyncio.start_server``'s keyword arguments (``limit`` is accepted
    and unused; ``ssl`` is refused: a legacy channel reads the raw socket).
    ``channel_factory`` is typically a dispatcher or ``async_chat`` subclass.
    Returns the ``asyncio.Server``, which is a channel in the shared map.
    """
    if not callable(channel_factory):
        raise TypeError("channel_factory must be callable")
    if kw.get("ssl") is not None:
        raise ValueError("start_legacy_server cannot serve TLS: legacy channels read the raw socket")
    kw.pop("limit", None)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _HandOffProtocol(channel_factory), host, port, **kw)
    track(server, loop)
    return server


async def write_producer(writer: asyncio.StreamWriter, producer: Any) -> int:
    """Write everything ``producer.more()`` yields (until b'') to ``writer``.

    Waits on ``writer.drain()`` after each chunk, so a slow reader slows the
    producer instead of filling memory. Returns the number of bytes written.
    """
    more = getattr(producer, "more", None)
    if not callable(more):
        raise TypeError(f"a producer needs a more() method; got {type(producer).__name__}")
    total = 0
    while True:
        data = more()
        if not data:
            return total
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"producer.more() must return bytes, not {type(data).__name__}")
        writer.write(data)
        total += len(data)
        await writer.drain()


async def closed(channel: Any) -> None:
    """Wait until ``channel`` leaves its map (a legacy channel closed, or an asyncio entry)."""
    if isinstance(channel, AsyncioChannel):
        await channel.wait_closed()
        return
    if not callable(getattr(channel, "del_channel", None)):
        raise TypeError(f"closed() takes a legacy channel or a map entry, not {type(channel).__name__}")
    if not _in_map(channel):
        return
    fut = asyncio.get_running_loop().create_future()
    _close_waiters(channel).append(fut)
    await fut


def _in_map(channel: Any) -> bool:
    fd = getattr(channel, "_fileno", None)
    map = getattr(channel, "_map", None)
    return fd is not None and map is not None and map.get(fd) is channel


def _close_waiters(channel: Any) -> list:
    """The futures woken when ``channel`` leaves its map (hooking del_channel once)."""
    waiters = channel.__dict__.get("_compat_close_waiters")
    if waiters is not None:
        return waiters
    waiters = channel._compat_close_waiters = []
    original = channel.del_channel

    # Every way out of the map goes through del_channel (close(),
    # handle_close(), close_all() via close()).
    def del_channel(map: Any = None) -> None:
        try:
            original(map)
        finally:
            if not _in_map(channel):
                pending = list(waiters)
                del waiters[:]
                for fut in pending:
                    _wake(fut)

    channel.del_channel = del_channel
    return waiters
