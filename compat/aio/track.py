"""Putting asyncio's sockets in the shared map: :func:`track` for servers and
transports made on loops compat does not own, and the stand-in for a socket
being handed from a legacy listener to asyncio."""
import asyncio
import socket
from typing import Any, List, MutableMapping, Optional

from compat.core import _asyncio, external
from compat.core.external import AsyncioChannel

__all__ = ["PendingChannel", "track"]


class PendingChannel(AsyncioChannel):
    """Entry for a socket being handed to asyncio (``adopt_*``) until its transport exists.

    Without it the map could empty (and ``loop()`` return) between the hand-off
    and the task that builds the transport.
    """

    kind = "asyncio adopting"

    def __init__(self, sock: socket.socket, map: MutableMapping[int, Any]) -> None:
        super().__init__(sock.fileno(), map)
        self.sock = sock
        self.task: Optional["asyncio.Task[Any]"] = None
        self.started = False  # the protocol factory ran: a transport owns the socket

    def close(self) -> None:
        """Give up the hand-off and close the socket."""
        if self.task is not None:
            self.task.cancel()
        if not self.started:
            self.sock.close()
        self.leave()

    def __repr__(self) -> str:
        return f"<asyncio adopting fd={self._fd}>"



def track(obj: Any, loop: Optional[asyncio.AbstractEventLoop] = None) -> List[AsyncioChannel]:
    """Put an asyncio server or transport in the shared map; return its entries.

    On the core's loop this happens by itself and returns the existing
    entries. On another loop the entry leaves the map when ``close()`` is
    called on it, when the server's ``close()`` is called (stdlib servers), or
    once ``wait_closed()`` returns (uvloop servers, whose methods cannot be
    hooked); a transport's entry leaves when its protocol's
    ``connection_lost`` runs.
    """
    if loop is None:
        loop = _asyncio.running_loop()
    if loop is None:
        get_loop = getattr(obj, "get_loop", None)
        loop = get_loop() if get_loop is not None else getattr(obj, "_loop", None)
    if loop is None:
        raise RuntimeError(f"track({type(obj).__name__}): pass loop= when no loop is running")
    existing = getattr(obj, "_compat_entries", None)
    if existing is None:
        existing = external._c_servers.get(id(obj), (None, None))[1]
    if existing is not None:
        return list(existing)
    if hasattr(obj, "sockets") and hasattr(obj, "close"):
        return external.track_server(obj, loop)
    if hasattr(obj, "get_extra_info") and hasattr(obj, "get_protocol"):
        entry = external.track_transport(obj, loop)
        return [entry] if entry is not None else []
    raise TypeError(f"track() takes an asyncio server or transport, not {type(obj).__name__}")
