"""Facade 3: asyncio protocols and streams in the shared channel map.

Every asyncio server and transport on the core's loop is a channel in
``compat.asyncore.socket_map``: ``asyncore.loop()`` keeps serving while one
is open, ``asyncore.close_all()`` closes it, ``len(socket_map)`` counts it.
Legacy channels and asyncio code hand connections to each other with
:func:`adopt_protocol`, :func:`adopt_stream` and :func:`start_legacy_server`;
:class:`TerminatorProtocol` and :func:`write_producer` bring asynchat's
framing and producers to asyncio code.

Which loop is "the core's loop": the loop ``asyncore.loop()`` makes, the
loop :func:`run` makes, and loops of :func:`new_event_loop` (a loop factory). On
other loops (uvloop, the loop of a plain ``asyncio.run``) legacy channels are
served all the same, but only the servers and transports made through this
module (or passed to :func:`track`) are in the map.
"""
import asyncio
from typing import Any, Callable, Coroutine, Optional, TypeVar

from compat import core
from compat.aio.handoff import adopt_protocol, adopt_stream, closed, start_legacy_server, write_producer
from compat.aio.terminator import TerminatorProtocol, find_prefix_at_end
from compat.aio.track import PendingChannel, track
from compat.core.external import AsyncioChannel, ServerChannel, TransportChannel
from compat.core import _asyncio
from compat.core.loop import CoreEventLoop, new_uvloop_event_loop

__all__ = [
    "run",
    "new_event_loop",
    "new_uvloop_event_loop",
    "CoreEventLoop",
    "adopt_protocol",
    "adopt_stream",
    "start_legacy_server",
    "write_producer",
    "closed",
    "track",
    "TerminatorProtocol",
    "find_prefix_at_end",
    "AsyncioChannel",
    "ServerChannel",
    "TransportChannel",
    "PendingChannel",
]

T = TypeVar("T")


def __getattr__(name: str) -> Any:
    # Made on first use only: building a policy class touches the policy API,
    # which warns from Python 3.14 (and is gone in 3.16).
    if name == "CoreEventLoopPolicy":
        cls = _asyncio.policy_class(CoreEventLoop, name)
        cls.__doc__ = (
            "An event loop policy making CoreEventLoop loops (deprecated with the "
            "policy API; prefer asyncio.run(main(), loop_factory=compat.aio.new_event_loop))."
        )
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new :class:`CoreEventLoop`: a loop factory for ``asyncio.run(main(),
    loop_factory=compat.aio.new_event_loop)``, ``asyncio.Runner`` and :func:`run`.

    (A program that installed an event loop policy, e.g. ``uvloop.install()``,
    gets that policy's loop, on the Pythons that still have policies.)
    """
    return core.new_event_loop()


def run(
    main: Coroutine[Any, Any, T],
    *,
    debug: Optional[bool] = None,
    loop_factory: Optional[Callable[[], asyncio.AbstractEventLoop]] = None,
) -> T:
    """Run ``main`` on a new core loop, then serve the shared map until it is empty.

    Like ``asyncio.run``, plus: legacy channels already in the map are served
    from the start, every asyncio server and transport is in the map, and it
    returns only once ``main`` is done and the map is empty (as
    ``asyncore.loop()`` would). Remaining tasks are cancelled at the end.
    ``loop_factory`` picks the loop (default :func:`new_event_loop`; uvloop:
    :func:`new_uvloop_event_loop`).
    """
    if _asyncio.running_loop() is not None:
        raise RuntimeError("compat.run() cannot be called from a running event loop")
    if not asyncio.iscoroutine(main):
        raise TypeError(f"a coroutine was expected, got {main!r}")
    loop = (loop_factory or new_event_loop)()
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        core.shared_map.server.attach(loop)
        result = loop.run_until_complete(main)
        if core.shared_map:
            core.serve(core.shared_map)
        return result
    finally:
        try:
            _finish(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left, as asyncio.run does, and shut generators down."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                loop.call_exception_handler(
                    {"message": "unhandled exception during compat.run() shutdown", "exception": task.exception(), "task": task}
                )
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
