"""Map entries standing for sockets that asyncio owns.

An asyncio server or transport keeps its own registration with the loop, so
the shared map holds a stand-in for it: an entry keyed by the socket's fd,
with ``fileno()``, ``close()`` and ``__repr__``, and ``compat_external =
True`` so the core never registers the fd a second time. The entry keeps
``asyncore.loop()`` running while it is in the map, ``close_all()`` closes
what it stands for, and it leaves the map when that closes.

On the core's own loop (:class:`compat.core.loop.CoreEventLoop`) every server
and transport gets an entry from the loop's hooks. On any other loop (uvloop,
``asyncio.run``'s loop) only what goes through :func:`compat.aio.track` does.
"""
import asyncio
import threading
from typing import Any, Dict, List, MutableMapping, Optional, Tuple

from compat.core import _asyncio
from compat.core.channel_map import shared_map

__all__ = ["AsyncioChannel", "ServerChannel", "TransportChannel", "map_for", "track_server", "track_transport", "track_protocol", "hook_connection_lost"]


def map_for(loop: asyncio.AbstractEventLoop) -> Optional[MutableMapping[int, Any]]:
    """The shared map if channels made on ``loop`` belong in it, else None.

    A loop in another thread, while the shared map is served by a running
    loop elsewhere, keeps its sockets to itself: otherwise a worker thread's
    connections would keep the main thread's ``asyncore.loop()`` alive.
    """
    server = shared_map.server
    bound = server.loop
    if bound is None or bound is loop or bound.is_closed():
        return shared_map
    if not bound.is_running() and server.thread == threading.get_ident():
        return shared_map
    return None


class AsyncioChannel:
    """A map entry for a socket owned by asyncio (never registered by the core)."""

    compat_external = True
    kind = "asyncio"
    # What legacy code iterating the map may look at.
    accepting = False
    connected = True

    def __init__(self, fd: int, map: MutableMapping[int, Any]) -> None:
        self._fd = fd
        self._map = map
        self._left = False
        self._waiters: List[asyncio.Future] = []

    def fileno(self) -> int:
        """The fd this entry is keyed by, -1 once it left the map."""
        return -1 if self._left else self._fd

    def readable(self) -> bool:
        """Never polled by the core; asyncio reads this socket itself."""
        return False

    def writable(self) -> bool:
        """Never polled by the core; asyncio writes this socket itself."""
        return False

    def close(self) -> None:  # pragma: no cover - every subclass overrides
        """Close what this entry stands for."""
        raise NotImplementedError

    # -- membership ----------------------------------------------------------

    def enter(self) -> None:
        """Put the entry in its map (replacing a stand-in for the same fd)."""
        self._map[self._fd] = self

    def leave(self) -> None:
        """Take the entry out of its map and wake whoever waits for that.

        Called before the socket closes: the fd number can be reused by the
        kernel at once, and then the map slot belongs to someone else.
        """
        if self._left:
            return
        self._left = True
        if self._map.get(self._fd) is self:
            del self._map[self._fd]
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            _wake(fut)

    @property
    def in_map(self) -> bool:
        """True while the entry is the map's channel for its fd."""
        return not self._left and self._map.get(self._fd) is self

    async def wait_closed(self) -> None:
        """Wait until the entry leaves the map."""
        if self._left:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        await fut


def _wake(fut: "asyncio.Future[Any]") -> None:
    """Resolve ``fut`` from any thread."""
    loop = fut.get_loop()
    if loop.is_closed():
        return
    if _asyncio.running_loop() is loop:
        if not fut.done():
            fut.set_result(None)
    else:
        loop.call_soon_threadsafe(_set_done, fut)


def _set_done(fut: "asyncio.Future[Any]") -> None:
    if not fut.done():
        fut.set_result(None)


def _addr(value: Any) -> str:
    if isinstance(value, tuple) and len(value) >= 2:
        return f"{value[0]}:{value[1]}"
    return repr(value)


class ServerChannel(AsyncioChannel):
    """Entry for one listening socket of an ``asyncio.Server``."""

    kind = "asyncio server"
    accepting = True
    connected = False

    def __init__(self, server: Any, sock: Any, map: MutableMapping[int, Any]) -> None:
        super().__init__(sock.fileno(), map)
        self.server = server
        try:
            self.addr = sock.getsockname()
        except OSError:
            self.addr = None

    def close(self) -> None:
        """Stop the server accepting; its listening sockets close now."""
        self.server.close()
        # On loops whose Server we cannot hook, this is when we learn of it.
        self.leave()

    def __repr__(self) -> str:
        state = "listening" if self.in_map else "closed"
        return f"<asyncio server fd={self._fd} {state} {_addr(self.addr)}>"


class TransportChannel(AsyncioChannel):
    """Entry for an asyncio transport (TCP, UDP or TLS-carrying socket)."""

    kind = "asyncio transport"

    def __init__(self, transport: Any, fd: int, map: MutableMapping[int, Any]) -> None:
        super().__init__(fd, map)
        self.transport = transport
        self.addr = transport.get_extra_info("peername")

    def close(self) -> None:
        """Close the transport now.

        Like asyncore's ``close()``, this does not wait for buffered output:
        on the core's loop ``connection_lost`` runs before this returns and the
        socket is closed, so nothing is left half-open if the loop never runs
        again (``close_all()`` then ``loop()`` returning at once).
        """
        if not _asyncio.close_now(self.transport):
            self.transport.close()
        self.leave()

    def __repr__(self) -> str:
        protocol = self.transport.get_protocol() if not self._left else None
        name = type(protocol).__name__ if protocol is not None else "-"
        state = "open" if self.in_map else "closed"
        return f"<asyncio transport fd={self._fd} {state} peer={_addr(self.addr)} protocol={name}>"


def track_server(server: Any, loop: asyncio.AbstractEventLoop) -> List[AsyncioChannel]:
    """Entries for ``server``'s listening sockets, leaving the map when it closes."""
    map = map_for(loop)
    if map is None:
        return []
    entries: List[AsyncioChannel] = [ServerChannel(server, sock, map) for sock in server.sockets or ()]
    for entry in entries:
        entry.enter()
    original_close = server.close

    def close() -> None:
        # Out of the map before the sockets close (their fds are reused at once).
        for entry in entries:
            entry.leave()
        original_close()

    try:
        server.close = close
        server._compat_entries = entries
    except AttributeError:
        # uvloop's Server is a C type: no attribute of ours fits on it, and
        # the close is learnt from wait_closed() (or the entry's own close()).
        key = id(server)
        _c_servers[key] = (server, entries)

        async def watch() -> None:
            try:
                await server.wait_closed()
            finally:
                _c_servers.pop(key, None)
                for entry in entries:
                    entry.leave()

        task = loop.create_task(watch())
        _watchers.add(task)
        task.add_done_callback(_watchers.discard)
    return entries


# Servers of C types, by id, while tracked (the tuple keeps the id valid).
_c_servers: Dict[int, Tuple[Any, List[AsyncioChannel]]] = {}
_watchers: "set[asyncio.Task[Any]]" = set()


def track_transport(transport: Any, loop: asyncio.AbstractEventLoop) -> Optional[TransportChannel]:
    """An entry for ``transport``, leaving the map when its protocol loses the connection."""
    map = map_for(loop)
    sock = transport.get_extra_info("socket")
    if map is None or sock is None or transport.is_closing():
        return None
    entry = TransportChannel(transport, sock.fileno(), map)
    protocol = transport.get_protocol()
    hook_connection_lost(protocol, entry.leave)
    try:
        transport._compat_entries = [entry]
    except AttributeError:
        pass  # a C transport (uvloop): track() may be asked twice, harmlessly
    entry.enter()
    return entry


def track_protocol(protocol: Any, loop: asyncio.AbstractEventLoop) -> bool:
    """Put the transport ``protocol`` is given into the map when it gets it
    (loops that make transports where compat cannot hook, such as uvloop's).
    False when the protocol's methods cannot be wrapped (``__slots__``)."""
    original = protocol.connection_made

    def connection_made(transport: asyncio.BaseTransport) -> None:
        if getattr(transport, "_compat_entries", None) is None:
            track_transport(transport, loop)
        original(transport)

    try:
        protocol.connection_made = connection_made
    except AttributeError:
        return False
    return True


def hook_connection_lost(protocol: Any, callback: Any) -> None:
    """Run ``callback()`` just before ``protocol.connection_lost``."""
    original = protocol.connection_lost

    def connection_lost(exc: Optional[BaseException]) -> None:
        try:
            callback()
        finally:
            original(exc)

    try:
        protocol.connection_lost = connection_lost
    except AttributeError:
        raise TypeError(
            f"cannot track {type(protocol).__name__}: its connection_lost cannot be wrapped "
            "(a protocol with __slots__ needs the core's loop)"
        ) from None
