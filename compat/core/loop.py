"""The core's loops: every asyncio server and transport they make is a
channel in the shared map (a :mod:`compat.core.external` entry), which leaves
the map just before its socket closes.

- :class:`CoreEventLoop`: asyncio's selector loop on :class:`HookedSelector`
  (overriding channels are asked their predicates right before each poll).
- :func:`new_uvloop_event_loop`: uvloop's loop, tracking through the public
  loop API (its transports are made in C, out of reach).

Both are loop factories: ``asyncio.run(main(), loop_factory=...)``,
``asyncio.Runner(loop_factory=...)``, ``compat.run(main(), loop_factory=...)``.
"""
import asyncio
import atexit
import threading
import weakref
from typing import Any, Callable, Optional

from compat.core import _asyncio, listen
from compat.core.selector import selector_class
from compat.core.external import AsyncioChannel, TransportChannel, map_for, track_protocol, track_server

__all__ = ["CoreEventLoop", "new_core_loop", "new_event_loop", "new_uvloop_event_loop", "thread_loop"]


class _SharedMapServers:
    """Servers join the shared map; what is left of them leaves on close()."""

    def _compat_init(self) -> None:
        # Weak: an entry that left the map goes with its transport.
        self._compat_entries: "weakref.WeakSet[AsyncioChannel]" = weakref.WeakSet()

    def _compat_server(self, server: Any) -> Any:
        for entry in track_server(server, self):  # type: ignore[arg-type]
            self._compat_entries.add(entry)
        return server

    async def create_server(self, *args: Any, **kw: Any) -> Any:
        """``asyncio``'s create_server; the server's sockets join the shared map."""
        server = await super().create_server(*args, **listen.server_kwargs(args, kw))  # type: ignore[misc]
        for sock in server.sockets or ():
            listen.listening(sock)  # compat run --workers: shared or refused
        return self._compat_server(server)

    async def create_unix_server(self, *args: Any, **kw: Any) -> Any:
        """``asyncio``'s create_unix_server; the server's socket joins the shared map."""
        server = await super().create_unix_server(*args, **kw)  # type: ignore[misc]
        for sock in server.sockets or ():
            listen.listening(sock)  # compat run --workers refuses these
        return self._compat_server(server)

    def close(self) -> None:
        """Close the loop; what it still owned leaves the shared map."""
        for entry in list(self._compat_entries):
            entry.leave()
        self._compat_entries.clear()
        super().close()  # type: ignore[misc]


class CoreEventLoop(_SharedMapServers, _asyncio.TransportHookLoop):
    """asyncio's selector loop whose servers and transports are channels in the shared map."""

    def __init__(self) -> None:
        selector = selector_class()()
        super().__init__(selector)
        # The core finds its selector here (no private attribute of asyncio).
        self.compat_selector = selector
        self._compat_init()

    def compat_transport_made(self, transport: Any, sock: Any) -> None:
        """Every socket and datagram transport (accepted ones too) joins the map."""
        map = map_for(self)
        if map is None:
            return
        entry = TransportChannel(transport, sock.fileno(), map)
        transport.compat_before_close = entry.leave
        transport._compat_entries = [entry]
        self._compat_entries.add(entry)
        entry.enter()


def _tracked_factory(loop: asyncio.AbstractEventLoop, factory: Callable[[], Any]) -> Callable[[], Any]:
    def make() -> Any:
        protocol = factory()
        # A protocol with __slots__ cannot be hooked: its transport stays out
        # of the map (its server, if any, is in it).
        track_protocol(protocol, loop)
        return protocol

    return make


def _uvloop_class() -> type:
    import uvloop

    class UVCoreEventLoop(_SharedMapServers, uvloop.Loop):  # type: ignore[misc,valid-type,name-defined]
        """uvloop's loop whose servers and transports are channels in the shared map."""

        # Its protocol factories are wrapped here: hand-offs need not track.
        compat_tracks_protocols = True

        def __init__(self) -> None:
            super().__init__()
            self._compat_init()

        async def create_server(self, protocol_factory: Any, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
            """``create_server``; the server and each connection join the shared map."""
            return await super().create_server(_tracked_factory(self, protocol_factory), *args, **kw)

        async def create_unix_server(self, protocol_factory: Any, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
            """``create_unix_server``; the server and each connection join the shared map."""
            return await super().create_unix_server(_tracked_factory(self, protocol_factory), *args, **kw)

        async def create_connection(self, protocol_factory: Any, *args: Any, **kw: Any) -> Any:
            """``create_connection``; the transport joins the shared map."""
            return await super().create_connection(_tracked_factory(self, protocol_factory), *args, **kw)

        async def create_unix_connection(self, protocol_factory: Any, *args: Any, **kw: Any) -> Any:
            """``create_unix_connection``; the transport joins the shared map."""
            return await super().create_unix_connection(_tracked_factory(self, protocol_factory), *args, **kw)

        async def connect_accepted_socket(self, protocol_factory: Any, *args: Any, **kw: Any) -> Any:
            """``connect_accepted_socket``; the transport joins the shared map."""
            return await super().connect_accepted_socket(_tracked_factory(self, protocol_factory), *args, **kw)

        async def create_datagram_endpoint(self, protocol_factory: Any, *args: Any, **kw: Any) -> Any:
            """``create_datagram_endpoint``; the transport joins the shared map."""
            return await super().create_datagram_endpoint(_tracked_factory(self, protocol_factory), *args, **kw)

    return UVCoreEventLoop


_uv_class: Optional[type] = None


def new_uvloop_event_loop() -> asyncio.AbstractEventLoop:
    """A new uvloop loop whose servers and transports join the shared map
    (a loop factory; needs uvloop: ``pip install uvloop``)."""
    global _uv_class
    if _uv_class is None:
        try:
            _uv_class = _uvloop_class()
        except ImportError as exc:
            raise RuntimeError("new_uvloop_event_loop() needs uvloop: pip install uvloop") from exc
    return _uv_class()  # type: ignore[no-any-return]


# -- the loop of a thread ------------------------------------------------------


class _OwnedLoop:
    """Closes the loop the core made for a thread when that thread ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def close(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            loop.close()

    def __del__(self) -> None:
        self.close()


_local = threading.local()
_main_owned: list = []


def new_core_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the core's own kind (prepare hook before each poll)."""
    return CoreEventLoop()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop as the core makes one for a thread: the core's own kind, or
    the loop of a policy the application installed (uvloop.install())."""
    factory = _asyncio.policy_loop_factory()  # uvloop.install() or an application's policy
    return factory() if factory is not None else new_core_loop()


def thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's loop: the running one, the current one, or a new one."""
    running = _asyncio.running_loop()
    if running is not None:
        return running
    loop = _asyncio.current_loop()
    if loop is not None and not loop.is_closed():
        return loop
    owned = getattr(_local, "owned", None)
    if owned is None or owned.loop.is_closed():
        owned = _OwnedLoop(new_event_loop())
        _local.owned = owned
        if threading.current_thread() is threading.main_thread():
            _main_owned.append(owned)
    asyncio.set_event_loop(owned.loop)
    return owned.loop


@atexit.register
def _close_main_loops() -> None:
    while _main_owned:
        _main_owned.pop().close()
