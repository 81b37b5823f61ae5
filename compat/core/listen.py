"""Listening sockets shared by sibling processes (``SO_REUSEPORT``).

Public but internal: ``python -m compat run --workers N`` turns sharing on in
each worker process before the unchanged program starts; the asyncore facade
(``dispatcher.bind``/``listen``) and the core's loop (``create_server``) ask
this module, so the program's listening sockets all join one kernel-balanced
group. Off by default: then every function here does nothing.
"""
import socket
import sys
from typing import Any, Callable, Dict, Optional, Sequence

__all__ = ["ListenRefused", "share_port", "port_shared", "before_bind", "server_kwargs", "listening"]

_INET = (socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET))

_shared = False
_notify: Optional[Callable[[socket.socket], None]] = None


class ListenRefused(SystemExit):
    """A listening socket that cannot be shared by the workers.

    A ``SystemExit``, so that a program's ``except Exception`` around its
    start-up cannot turn the refusal into a half-working server.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def supported() -> Optional[str]:
    """None where ``SO_REUSEPORT`` balances connections; otherwise why not."""
    if not sys.platform.startswith("linux"):
        # BSD and macOS accept the option but do not spread connections.
        return f"SO_REUSEPORT balances connections over processes only on Linux, not on {sys.platform}"
    if not hasattr(socket, "SO_REUSEPORT"):
        return "this Python's socket module has no SO_REUSEPORT"
    return None


def share_port(on: bool = True, notify: Optional[Callable[[socket.socket], None]] = None) -> None:
    """Give the listening sockets made from now on ``SO_REUSEPORT``.

    ``notify(sock)`` is called once each listening socket listens.
    """
    global _shared, _notify
    if on:
        reason = supported()
        if reason is not None:
            raise ListenRefused(reason)
    _shared, _notify = on, notify if on else None


def port_shared() -> bool:
    """Whether :func:`share_port` is in effect in this process."""
    return _shared


def before_bind(sock: socket.socket, addr: Any) -> None:
    """Set ``SO_REUSEPORT`` on a TCP/UDP socket about to bind ``addr`` (port 0 excepted)."""
    if not _shared or sock.family not in _INET:
        return
    if isinstance(addr, tuple) and len(addr) >= 2 and addr[1] not in (0, None, "0", ""):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


def server_kwargs(args: Sequence[Any], kw: Dict[str, Any]) -> Dict[str, Any]:
    """``loop.create_server(*args, **kw)``'s keywords, with ``reuse_port`` when sharing."""
    if not _shared:
        return kw
    port = kw.get("port", args[2] if len(args) > 2 else None)
    if kw.get("sock") is not None:
        return kw  # bound by the program; listening() checks it
    if port in (0, None, "0", ""):
        raise ListenRefused(_port_zero(port))
    return dict(kw, reuse_port=True)


def listening(sock: socket.socket) -> None:
    """Check a socket that now listens, when sharing: refuse one the workers cannot share."""
    if not _shared:
        return
    if sock.family in _INET:
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
            raise ListenRefused(_port_zero(sock.getsockname()[1]))
    elif sock.family == getattr(socket, "AF_UNIX", None):
        raise ListenRefused(
            f"a Unix socket listener ({sock.getsockname()!r}) cannot be shared by several "
            "worker processes; run this program without --workers"
        )
    if _notify is not None:
        _notify(sock)


def _port_zero(port: Any) -> str:
    return (
        f"the program listens on port {port!r} without SO_REUSEPORT: port 0 (or a listen() "
        "without bind(), or a socket bound before compat could set SO_REUSEPORT) gives each "
        "worker its own ephemeral port, so clients would reach only one of them; "
        "give the program a fixed port, or run it without --workers"
    )
