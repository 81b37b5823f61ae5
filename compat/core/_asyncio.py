"""Everything compat takes from asyncio (and selectors) beyond their public API.

asyncio changes its private names between minor versions (3.14 renamed the
policy base class and deprecated the policy API, 3.15 added ``context=`` to
``_make_socket_transport``). Each private name compat relies on is reached
here and only here, and is listed in :data:`CONTRACT`, which
tests/core/test_asyncio_contract.py checks on every interpreter: a change in
asyncio breaks that one test with a message naming what moved.

Rules: no event loop policy API on 3.14+ (deprecated, removed in 3.16); no
``asyncio.iscoroutinefunction``.
"""
import asyncio
import inspect
import selectors
import sys
import warnings
from asyncio import selector_events
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = [
    "CONTRACT",
    "running_loop",
    "current_loop",
    "set_current_loop",
    "policy_loop_factory",
    "policy_class",
    "mark_coroutine_function",
    "bind_loop",
    "has_coroutine_marker",
    "TransportHookLoop",
    "close_now",
    "selector_poller",
    "selector_keys",
]

HAS_POLICIES_UNWARNED = sys.version_info < (3, 14)

# The running loop of this thread or None, without raising: asyncio's own
# fast accessor, exported for loop implementations since 3.7.
running_loop: Callable[[], Optional[asyncio.AbstractEventLoop]] = asyncio._get_running_loop


def set_current_loop(loop: Optional[asyncio.AbstractEventLoop]) -> None:
    """Make ``loop`` this thread's current loop (public API, no policy)."""
    asyncio.set_event_loop(loop)


# asyncio's own get_event_loop, kept before compat.install() replaces the
# public name with one that falls back to current_loop() (no recursion).
_stock_get_event_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.events.get_event_loop


def current_loop() -> Optional[asyncio.AbstractEventLoop]:
    """This thread's current (set) loop, without creating one or warning."""
    if not HAS_POLICIES_UNWARNED:
        # 3.14+: get_event_loop() no longer creates a loop; it returns the
        # running or the set one, or raises.
        try:
            return _stock_get_event_loop()
        except RuntimeError:
            return None
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)
    if local is not None:
        # The stdlib policies (and uvloop's) keep the loop here; reading it
        # avoids their implicit creation and its warning on 3.12-3.13.
        return getattr(local, "_loop", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return policy.get_event_loop()  # type: ignore[no-any-return]
        except RuntimeError:
            return None


def _installed_policy() -> Any:
    """The event loop policy an application installed, without a warning;
    None on interpreters without policies (3.16+)."""
    if HAS_POLICIES_UNWARNED:
        return asyncio.get_event_loop_policy()
    getter = getattr(asyncio.events, "_get_event_loop_policy", None)  # 3.14, 3.15
    return getter() if getter is not None else None


def policy_loop_factory() -> Optional[Callable[[], asyncio.AbstractEventLoop]]:
    """``new_event_loop`` of a non-default policy an application installed
    (``uvloop.install()``, its own policy), else None.

    Policies are not the documented way to pick a loop (loop factories are),
    but programs that install one keep working on the versions that have them.
    """
    policy = _installed_policy()
    if policy is None or type(policy).__module__.startswith("asyncio."):
        return None
    return policy.new_event_loop  # type: ignore[no-any-return]


def policy_class(loop_factory: Callable[[], asyncio.AbstractEventLoop], name: str) -> type:
    """An event loop policy class making ``loop_factory()`` loops, for programs
    that still set policies (deprecated from 3.14; there are none on 3.16).
    Touching the policy base class warns on 3.14+, as asyncio does."""
    base = getattr(asyncio, "DefaultEventLoopPolicy", None)
    if base is None:
        raise AttributeError(f"{name}: this Python has no event loop policies; pass loop_factory= instead")
    return type(name, (base,), {"_loop_factory": staticmethod(loop_factory), "__module__": "compat.aio"})


# -- the legacy runtime (compat.install()) ------------------------------------


def mark_coroutine_function(func: Callable[..., Any]) -> Callable[..., Any]:
    """Make a plain function returning a coroutine pass as a coroutine function
    (``inspect`` from 3.12; before, asyncio's own marker)."""
    marker = getattr(inspect, "markcoroutinefunction", None)
    if marker is not None:
        return marker(func)  # type: ignore[no-any-return]
    func._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return func


def has_coroutine_marker(func: Any) -> bool:
    """Whether *func* carries asyncio's old coroutine-function marker (set by
    ``@asyncio.coroutine`` of 3.9/3.10 and by mocks before 3.12), which
    ``inspect.iscoroutinefunction`` does not read."""
    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    return marker is not None and getattr(func, "_is_coroutine", None) is marker


def bind_loop(obj: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Bind a Queue/Lock/Event/Condition/Semaphore to ``loop`` now, as 3.7's
    ``loop=`` did (3.10+ bind on first use; using it from another loop then
    fails with asyncio's own error). A Condition's own lock is bound too."""
    obj._loop = loop
    lock = getattr(obj, "_lock", None) if isinstance(obj, asyncio.Condition) else None
    if isinstance(lock, asyncio.Lock) and lock._loop is None:  # type: ignore[attr-defined]
        lock._loop = loop  # type: ignore[attr-defined]


# -- transports of the core's own loop ---------------------------------------


class _HookedTransport:
    """A selector transport that tells its loop before its socket closes.

    ``compat_before_close`` (set by the loop) runs just before
    ``connection_lost`` and the socket's close: the fd number can be reused by
    the kernel at once after that.
    """

    compat_before_close: Optional[Callable[[], None]] = None
    _compat_lost = False

    def _call_connection_lost(self, exc: Optional[BaseException]) -> None:
        if self._compat_lost:
            return  # close_now() already finished the close
        self._compat_lost = True
        before = self.compat_before_close
        if before is not None:
            before()
        super()._call_connection_lost(exc)  # type: ignore[misc]


class _SocketTransport(_HookedTransport, selector_events._SelectorSocketTransport):  # type: ignore[misc,name-defined]
    pass


class _DatagramTransport(_HookedTransport, selector_events._SelectorDatagramTransport):  # type: ignore[misc,name-defined]
    pass


def close_now(transport: Any) -> bool:
    """Close a transport of a :class:`TransportHookLoop` at once: unsent
    output is dropped and ``connection_lost`` runs before this returns (a loop
    that never runs again would otherwise leave the socket open). False for
    other transports, which are only asked to close."""
    if not isinstance(transport, _HookedTransport):
        return False
    if transport._compat_lost:
        return True
    if transport.get_write_buffer_size():  # type: ignore[attr-defined]
        transport.abort()  # type: ignore[attr-defined]
    else:
        transport.close()  # type: ignore[attr-defined]
    transport._call_connection_lost(None)
    return True


class TransportHookLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    """asyncio's selector loop calling :meth:`compat_transport_made` for
    every socket and datagram transport it makes (accepted ones included)."""

    def compat_transport_made(self, transport: Any, sock: Any) -> None:
        """Override: ``transport`` now owns ``sock``."""

    def _make_socket_transport(self, sock: Any, protocol: Any, waiter: Any = None, **kw: Any) -> Any:
        # **kw: extra and server everywhere; context from 3.15 on.
        ensure_fd_no_transport(self, sock)
        transport = _SocketTransport(self, sock, protocol, waiter, **kw)
        self.compat_transport_made(transport, sock)
        return transport

    def _make_datagram_transport(self, sock: Any, protocol: Any, address: Any = None, waiter: Any = None, extra: Any = None) -> Any:
        ensure_fd_no_transport(self, sock)
        transport = _DatagramTransport(self, sock, protocol, address, waiter, extra)
        self.compat_transport_made(transport, sock)
        return transport


def ensure_fd_no_transport(loop: Any, sock: Any) -> None:
    """3.12+ refuse a second transport on an fd; earlier versions did not check."""
    check = getattr(loop, "_ensure_fd_no_transport", None)
    if check is not None:
        check(sock)


# -- selectors ---------------------------------------------------------------


def selector_poller(selector: selectors.BaseSelector) -> Any:
    """The ``select.epoll``/``poll``/``devpoll``/``kqueue`` object under a
    selectors selector, or None (SelectSelector has none)."""
    return getattr(selector, "_selector", None)


def selector_keys(selector: selectors.BaseSelector) -> Dict[int, selectors.SelectorKey]:
    """The selector's live ``{fd: SelectorKey}`` dict (read on every poll)."""
    return selector._fd_to_key  # type: ignore[attr-defined,no-any-return]


# -- the contract ------------------------------------------------------------

# (where, name, what compat needs of it): checked per interpreter by the
# contract test, which fails naming the entry.
CONTRACT: Tuple[Tuple[str, str, str], ...] = (
    ("asyncio", "_get_running_loop", "callable returning the running loop or None"),
    ("asyncio.selector_events", "_SelectorSocketTransport", "class; __init__(loop, sock, protocol, waiter, extra=, server=, **kw)"),
    ("asyncio.selector_events", "_SelectorDatagramTransport", "class; __init__(loop, sock, protocol, address, waiter, extra)"),
    ("asyncio.selector_events._SelectorTransport", "_call_connection_lost", "method(exc): calls connection_lost, closes the socket"),
    ("asyncio.selector_events.BaseSelectorEventLoop", "_make_socket_transport", "method(sock, protocol, waiter=None, *, extra=None, server=None[, context=None])"),
    ("asyncio.selector_events.BaseSelectorEventLoop", "_make_datagram_transport", "method(sock, protocol, address=None, waiter=None, extra=None)"),
    ("asyncio.selector_events.BaseSelectorEventLoop", "_ensure_fd_no_transport", "3.12+: method(sock) raising if a transport owns its fd"),
    ("selectors._BaseSelectorImpl", "_fd_to_key", "instance dict {fd: SelectorKey}"),
    ("selectors.EpollSelector", "_selector", "instance select.epoll (poll/devpoll/kqueue on other selectors)"),
    ("asyncio.events.BaseDefaultEventLoopPolicy", "_local", "3.9-3.13: thread-local with ._loop (read to avoid implicit creation)"),
    ("asyncio.events", "_get_event_loop_policy", "3.14-3.15: the installed policy without a DeprecationWarning"),
    ("asyncio.coroutines", "_is_coroutine", "3.9-3.11 (read up to 3.15 if present): marker object asyncio.iscoroutinefunction recognises (mark_coroutine_function, has_coroutine_marker)"),
    ("asyncio.mixins._LoopBoundMixin", "_loop", "3.10+: class attribute None, the loop bound on first use (bind_loop)"),
    ("asyncio.locks.Condition", "_lock", "instance attribute: the Condition's own Lock (bind_loop)"),
)
