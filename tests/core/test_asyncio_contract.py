"""The private asyncio/selectors names compat relies on, checked on this interpreter.

Every entry of ``compat.core._asyncio.CONTRACT`` has a check here; when asyncio
renames or re-signs one of them, this test fails naming it (and nothing else
should need to be read to find out why the rest of the suite broke).
"""
import asyncio
import inspect
import selectors
import socket
import sys
from asyncio import selector_events
from typing import Callable, Dict, Tuple

import pytest

from compat.core import _asyncio


def _params(func: Callable) -> Dict[str, inspect.Parameter]:
    return dict(inspect.signature(func).parameters)


def check_running_loop() -> None:
    assert callable(asyncio._get_running_loop)
    assert asyncio._get_running_loop() is None

    async def inside() -> object:
        return asyncio._get_running_loop()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(inside()) is loop
    finally:
        loop.close()


def check_socket_transport() -> None:
    params = _params(selector_events._SelectorSocketTransport.__init__)
    assert list(params)[:5] == ["self", "loop", "sock", "protocol", "waiter"], params
    assert {"extra", "server"} <= set(params), params


def check_datagram_transport() -> None:
    params = _params(selector_events._SelectorDatagramTransport.__init__)
    assert list(params)[:7] == ["self", "loop", "sock", "protocol", "address", "waiter", "extra"], params


def check_call_connection_lost() -> None:
    params = _params(selector_events._SelectorTransport._call_connection_lost)
    assert list(params) == ["self", "exc"], params


def check_make_socket_transport() -> None:
    params = _params(selector_events.BaseSelectorEventLoop._make_socket_transport)
    assert list(params)[:4] == ["self", "sock", "protocol", "waiter"], params
    # Everything after waiter is keyword-only; TransportHookLoop passes it on as **kw.
    rest = [p for name, p in params.items() if name not in ("self", "sock", "protocol", "waiter")]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in rest), params
    assert {"extra", "server"} <= {p.name for p in rest}, params


def check_make_datagram_transport() -> None:
    params = _params(selector_events.BaseSelectorEventLoop._make_datagram_transport)
    assert list(params) == ["self", "sock", "protocol", "address", "waiter", "extra"], params


def check_ensure_fd_no_transport() -> None:
    method = getattr(selector_events.BaseSelectorEventLoop, "_ensure_fd_no_transport", None)
    if sys.version_info < (3, 12):
        return  # absent or not called from the factories before 3.12: nothing relied on
    assert method is not None
    assert list(_params(method)) == ["self", "fd"], _params(method)


def check_fd_to_key() -> None:
    sel = selectors.DefaultSelector()
    try:
        a, b = socket.socketpair()
        with a, b:
            sel.register(a, selectors.EVENT_READ)
            keys = _asyncio.selector_keys(sel)
            assert isinstance(keys, dict) and keys[a.fileno()].fileobj is a
    finally:
        sel.close()


def check_poller() -> None:
    if not hasattr(selectors, "EpollSelector"):
        pytest.skip("no epoll on this platform: the core polls through the selector's API")
    sel = selectors.EpollSelector()
    try:
        assert isinstance(_asyncio.selector_poller(sel), type(sel._selector))
        assert hasattr(_asyncio.selector_poller(sel), "poll")
    finally:
        sel.close()


def check_policy_local() -> None:
    if sys.version_info >= (3, 14):
        assert not _asyncio.HAS_POLICIES_UNWARNED
        return  # not read on 3.14+: get_event_loop() no longer creates loops
    policy = asyncio.DefaultEventLoopPolicy()
    assert isinstance(policy, asyncio.events.BaseDefaultEventLoopPolicy)
    assert hasattr(policy._local, "_loop")
    loop = asyncio.new_event_loop()
    try:
        policy.set_event_loop(loop)
        assert policy._local._loop is loop
    finally:
        policy.set_event_loop(None)
        loop.close()


def check_get_event_loop_policy() -> None:
    getter = getattr(asyncio.events, "_get_event_loop_policy", None)
    if sys.version_info < (3, 14):
        return  # the public getter is used, it does not warn there
    if sys.version_info >= (3, 16):
        return  # no policies at all: policy_loop_factory() answers None without it
    assert getter is not None
    assert list(_params(getter)) == []
    assert getter() is not None


def check_coroutine_marker() -> None:
    # Written by mark_coroutine_function before 3.12 (inspect.markcoroutinefunction
    # after), read by has_coroutine_marker while asyncio has it.
    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if sys.version_info >= (3, 12) and marker is None:
        return

    def plain() -> None:
        pass

    assert marker is not None
    plain._is_coroutine = marker  # type: ignore[attr-defined]
    assert _asyncio.has_coroutine_marker(plain)
    if sys.version_info < (3, 12):
        assert asyncio.coroutines.iscoroutinefunction(_asyncio.mark_coroutine_function(lambda: None))


def check_loop_bound_mixin() -> None:
    if sys.version_info < (3, 10):
        return  # loop= is native on 3.9: bind_loop is not used
    mixin = asyncio.mixins._LoopBoundMixin  # type: ignore[attr-defined]
    assert mixin._loop is None
    for cls in (asyncio.Queue, asyncio.Lock, asyncio.Event, asyncio.Condition, asyncio.Semaphore):
        assert issubclass(cls, mixin), cls


def check_condition_lock() -> None:
    async def inside() -> None:
        # Made in a running loop: before 3.10 the primitives bind a loop at
        # creation, and outside one that depends on what ran before.
        lock = asyncio.Lock()
        assert asyncio.Condition(lock)._lock is lock  # type: ignore[attr-defined]
        assert isinstance(asyncio.Condition()._lock, asyncio.Lock)  # type: ignore[attr-defined]

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(inside())
    finally:
        loop.close()


CHECKS: Dict[Tuple[str, str], Callable[[], None]] = {
    ("asyncio", "_get_running_loop"): check_running_loop,
    ("asyncio.selector_events", "_SelectorSocketTransport"): check_socket_transport,
    ("asyncio.selector_events", "_SelectorDatagramTransport"): check_datagram_transport,
    ("asyncio.selector_events._SelectorTransport", "_call_connection_lost"): check_call_connection_lost,
    ("asyncio.selector_events.BaseSelectorEventLoop", "_make_socket_transport"): check_make_socket_transport,
    ("asyncio.selector_events.BaseSelectorEventLoop", "_make_datagram_transport"): check_make_datagram_transport,
    ("asyncio.selector_events.BaseSelectorEventLoop", "_ensure_fd_no_transport"): check_ensure_fd_no_transport,
    ("selectors._BaseSelectorImpl", "_fd_to_key"): check_fd_to_key,
    ("selectors.EpollSelector", "_selector"): check_poller,
    ("asyncio.events.BaseDefaultEventLoopPolicy", "_local"): check_policy_local,
    ("asyncio.events", "_get_event_loop_policy"): check_get_event_loop_policy,
    ("asyncio.coroutines", "_is_coroutine"): check_coroutine_marker,
    ("asyncio.mixins._LoopBoundMixin", "_loop"): check_loop_bound_mixin,
    ("asyncio.locks.Condition", "_lock"): check_condition_lock,
}


def test_every_contract_entry_has_a_check() -> None:
    listed = {(where, name) for where, name, _ in _asyncio.CONTRACT}
    assert listed == set(CHECKS), "CONTRACT and CHECKS differ: " + repr(listed ^ set(CHECKS))


@pytest.mark.parametrize("where,name,need", _asyncio.CONTRACT, ids=[f"{w}.{n}" for w, n, _ in _asyncio.CONTRACT])
def test_private_name_still_as_compat_needs_it(where: str, name: str, need: str) -> None:
    try:
        CHECKS[(where, name)]()
    except (AssertionError, AttributeError, TypeError, ValueError) as exc:
        pytest.fail(
            f"asyncio changed {where}.{name} on Python {sys.version.split()[0]}: compat needs {need} "
            f"(see compat/core/_asyncio.py): {exc!r}"
        )
