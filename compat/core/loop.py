"""The event loop class the core creates when no loop is set for a thread.

Besides the prepare hook (overriding channels are asked their predicates
right before each poll), this loop puts every asyncio server and transport it
makes into the shared map, as :mod:`compat.core.external` entries, and takes
them out just before their sockets close.
"""
import asyncio
import sys
import weakref
from asyncio import selector_events
from typing import Any, Dict, Optional

from compat.core.external import AsyncioChannel, ServerChannel, TransportChannel, map_for
from compat.core import HookedSelector, listen

__all__ = ["CoreEventLoop", "CoreEventLoopPolicy"]

# 3.12 started refusing a second transport on an fd inside the factory.
_CHECKS_FD = sys.version_info >= (3, 12)


class _TrackedMixin:
    """Transport side of the tracking: leave the map before the socket closes."""

    compat_entry: Optional[TransportChannel] = None
    _compat_lost = False

    def _call_connection_lost(self, exc: Optional[BaseException]) -> None:
        if self._compat_lost:
            return  # compat_close_now() already finished the close
        self._compat_lost = True
        entry = self.compat_entry
        if entry is not None:
            entry.leave()
        super()._call_connection_lost(exc)  # type: ignore[misc]

    def compat_close_now(self) -> None:
        """Close at once: unsent output is dropped, ``connection_lost`` runs now."""
        if self._compat_lost:
            return
        if self.get_write_buffer_size():  # type: ignore[attr-defined]
            self.abort()  # type: ignore[attr-defined]
        else:
            self.close()  # type: ignore[attr-defined]
        # close()/abort() only scheduled it; a loop that never runs again
        # would leave the socket open.
        self._call_connection_lost(None)


class TrackedSocketTransport(_TrackedMixin, selector_events._SelectorSocketTransport):  # type: ignore[misc,name-defined]
    """asyncio's stream transport, with a map entry."""


class TrackedDatagramTransport(_TrackedMixin, selector_events._SelectorDatagramTransport):  # type: ignore[misc,name-defined]
    """asyncio's datagram transport, with a map entry."""


class CoreEventLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    """asyncio's selector loop whose servers and transports are channels in the shared map."""

    def __init__(self) -> None:
        super().__init__(HookedSelector())
        # Weak: an entry that left the map goes with its transport.
        self._compat_entries: "weakref.WeakSet[AsyncioChannel]" = weakref.WeakSet()
        self._compat_servers: Dict[int, ServerChannel] = {}

    # -- transports ----------------------------------------------------------

    def _make_socket_transport(self, sock: Any, protocol: Any, waiter: Any = None, *, extra: Any = None, server: Any = None) -> Any:
        if _CHECKS_FD:
            self._ensure_fd_no_transport(sock)
        transport = TrackedSocketTransport(self, sock, protocol, waiter, extra, server)
        self._compat_track(transport, sock)
        return transport

    def _make_datagram_transport(self, sock: Any, protocol: Any, address: Any = None, waiter: Any = None, extra: Any = None) -> Any:
        if _CHECKS_FD:
            self._ensure_fd_no_transport(sock)
        transport = TrackedDatagramTransport(self, sock, protocol, address, waiter, extra)
        self._compat_track(transport, sock)
        return transport

    def _compat_track(self, transport: Any, sock: Any) -> None:
        map = map_for(self)
        if map is None:
            return
        entry = TransportChannel(transport, sock.fileno(), map)
        transport.compat_entry = entry
        transport._compat_entries = [entry]
        self._compat_entries.add(entry)
        entry.enter()

    # -- servers -------------------------------------------------------------

    async def create_server(self, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
        """``asyncio``'s create_server; the server's sockets join the shared map."""
        server = await super().create_server(*args, **listen.server_kwargs(args, kw))
        self._compat_track_server(server)
        for sock in server.sockets or ():
            listen.listening(sock)  # compat run --workers: shared or refused
        return server

    async def create_unix_server(self, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
        """``asyncio``'s create_unix_server; the server's socket joins the shared map."""
        server = await super().create_unix_server(*args, **kw)
        self._compat_track_server(server)
        for sock in server.sockets or ():
            listen.listening(sock)  # compat run --workers refuses these
        return server

    def _compat_track_server(self, server: Any) -> None:
        map = map_for(self)
        if map is None:
            return
        entries = []
        for sock in server.sockets or ():
            entry = ServerChannel(server, sock, map)
            self._compat_servers[entry.fileno()] = entry
            self._compat_entries.add(entry)
            entries.append(entry)
            entry.enter()
        server._compat_entries = entries

    def _stop_serving(self, sock: Any) -> None:
        # Server.close() comes here for each listening socket, before closing it.
        entry = self._compat_servers.pop(sock.fileno(), None)
        if entry is not None:
            self._compat_entries.discard(entry)
            entry.leave()
        super()._stop_serving(sock)

    # -- closing -------------------------------------------------------------

    def close(self) -> None:
        """Close the loop; what it still owned leaves the shared map."""
        for entry in list(self._compat_entries):
            entry.leave()
        self._compat_entries.clear()
        self._compat_servers.clear()
        super().close()


class CoreEventLoopPolicy(asyncio.DefaultEventLoopPolicy):  # type: ignore[misc,valid-type]
    """An event loop policy making :class:`CoreEventLoop` loops.

    ``asyncio.set_event_loop_policy(CoreEventLoopPolicy())`` makes
    ``asyncio.run()`` and ``asyncio.new_event_loop()`` use the core's loop, so
    every asyncio server and transport is a channel in the shared map.
    """

    _loop_factory = CoreEventLoop
