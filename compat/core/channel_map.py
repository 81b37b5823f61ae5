"""Channel maps: :class:`ChannelMap` (a dict that reports its changes to its
server), the one shared map, and the functions the facades call.

Plain dicts passed as ``map=`` still work: they get a server while
``loop()`` runs over them (or while asyncio code runs, in mixed mode).
"""
from threading import get_ident as _get_ident
from typing import Any, Callable, Dict, MutableMapping, Optional

from compat.core import _asyncio
from compat.core.server import Server, _plain_servers

__all__ = [
    "ChannelMap",
    "shared_map",
    "server_of",
    "server_for",
    "notify_added",
    "notify_removed",
    "sync_channel",
    "handed_to_serving_thread",
]


class ChannelMap(dict):
    """A ``{fd: channel}`` dict that tells its server when channels come and go."""

    __slots__ = ("server",)  # read on every send(): a slot is the fastest attribute

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.server = Server(self, plain=False)

    def __setitem__(self, fd: int, obj: Any) -> None:
        old = dict.get(self, fd)
        dict.__setitem__(self, fd, obj)
        if old is not None and old is not obj:
            self.server.removed(fd, old)
        # Also when the same channel is added again: it may hold a new socket
        # on a reused fd (reconnecting after closing its socket directly).
        self.server.added(fd, obj)

    def __delitem__(self, fd: int) -> None:
        obj = dict.pop(self, fd)
        self.server.removed(fd, obj)

    def pop(self, fd: int, *default: Any) -> Any:  # type: ignore[override]
        """Remove ``fd`` and return its channel (``default`` if absent)."""
        if fd not in self:
            return dict.pop(self, fd, *default)
        obj = dict.pop(self, fd)
        self.server.removed(fd, obj)
        return obj

    def popitem(self) -> Any:
        """Remove and return the last ``(fd, channel)`` pair."""
        fd, obj = dict.popitem(self)
        self.server.removed(fd, obj)
        return fd, obj

    def setdefault(self, fd: int, default: Any = None) -> Any:
        """Return the channel at ``fd``, adding ``default`` there if absent."""
        if fd not in self:
            self[fd] = default
        return dict.__getitem__(self, fd)

    def update(self, *args: Any, **kw: Any) -> None:
        """Add several channels at once."""
        for fd, obj in dict(*args, **kw).items():
            self[fd] = obj

    def clear(self) -> None:
        """Remove every channel."""
        items = list(self.items())
        dict.clear(self)
        for fd, obj in items:
            self.server.removed(fd, obj)

    def __ior__(self, other: Any) -> "ChannelMap":
        self.update(other)
        return self

    def copy(self) -> Dict[int, Any]:
        """A plain dict snapshot (copies are not served)."""
        return dict(self)

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


def server_of(map: MutableMapping[int, Any]) -> Optional["Server"]:
    """The server bound to ``map``, or None when nothing serves it yet."""
    if isinstance(map, ChannelMap):
        return map.server
    server = _plain_servers.get(id(map))
    if server is not None and server.map is map:
        return server
    return None


def server_for(map: MutableMapping[int, Any]) -> "Server":
    server = server_of(map)
    if server is None:
        server = Server(map)
        _plain_servers[id(map)] = server
    return server


def notify_added(map: MutableMapping[int, Any], fd: int, obj: Any) -> None:
    """A facade added ``obj`` to a plain-dict ``map`` (ChannelMap reports itself)."""
    if isinstance(map, ChannelMap):
        return
    server = server_of(map)
    if server is None:
        if _asyncio.running_loop() is None:
            return
        server = server_for(map)  # mixed mode: a private map inside asyncio code
    server.added(fd, obj)


def notify_removed(map: MutableMapping[int, Any], fd: int, obj: Any) -> None:
    """A facade removed ``obj`` from a plain-dict ``map``."""
    if isinstance(map, ChannelMap):
        return
    server = server_of(map)
    if server is not None:
        server.removed(fd, obj)


def sync_channel(obj: Any) -> None:
    """A dispatcher's interest may have changed: its predicates are asked
    again before the next poll (any thread; its ``_map`` and ``_fileno``)."""
    map = obj._map
    server = map.server if type(map) is ChannelMap else server_of(map)
    if server is None:
        return
    fd = obj._fileno
    if fd is None:
        return
    server.sync_fd(fd, obj)


def handed_to_serving_thread(map: MutableMapping[int, Any], call: Callable[..., Any], *args: Any) -> bool:
    """Schedule ``call(*args)`` on the loop serving ``map`` if that loop runs in
    another thread (it wakes at once); False when the caller may go on itself.

    The serving thread owns the channels' buffers and fds: calls handed over
    run there in order, so data keeps its order and no fd is closed (and
    reused) while that thread polls it. Decided by thread identity only
    (:meth:`Server.other_thread_loop`).
    """
    server = map.server if type(map) is ChannelMap else server_of(map)  # type: ignore[attr-defined]
    if server is None or server.thread == _get_ident():
        return False  # the common case, decided without another call
    loop = server.other_thread_loop()
    if loop is None:
        return False
    loop.call_soon_threadsafe(call, *args)
    return True



# The one shared map: compat.asyncore.socket_map, and where the core's loops
# put asyncio's servers and transports.
shared_map = ChannelMap()
