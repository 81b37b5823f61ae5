"""What ``asyncore.loop()`` runs: :func:`serve` a map until it is empty, or
for a number of passes, with 3.11's argument rules."""
import asyncio
import math
import threading
from typing import Any, MutableMapping, Optional

from compat.core import _asyncio
from compat.core.channel_map import server_for
from compat.core.loop import thread_loop
from compat.core.server import Server, _attached, _Run

__all__ = ["serve"]


def _check_timeout(timeout: Any) -> float:
    """asyncore.loop()'s timeout, refused as 3.11's select() refused it."""
    if timeout is None:
        return 30.0
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a float or None")
    if timeout != timeout:
        raise ValueError("Invalid value NaN (not a number)")
    if timeout < 0:
        raise ValueError("timeout must be non-negative")
    if timeout == math.inf:
        raise OverflowError("timestamp out of range for platform time_t")
    return float(timeout)


def serve(map: MutableMapping[int, Any], timeout: float = 30.0, count: Optional[int] = None) -> None:
    """Serve ``map`` until it is empty, or for ``count`` passes.

    A pass waits up to ``timeout`` seconds for any channel of the map to be
    ready and dispatches what is ready. Called from a legacy channel's handler
    on the core's loop (a nested ``loop()``/``poll()``, as 3.11 allowed), the
    passes serve the legacy channels only; asyncio's callbacks wait for the
    outer pass.
    """
    timeout = _check_timeout(timeout)
    if count is not None and (isinstance(count, bool) or not isinstance(count, (int, float))):
        raise TypeError(f"count must be a number or None, not {type(count).__name__}")
    running = _asyncio.running_loop()
    if running is not None:
        selector = getattr(running, "compat_selector", None)
        if selector is None or not selector.dispatching:
            raise RuntimeError(
                "asyncore.loop() called while an asyncio event loop is running in this "
                "thread: the channels in the map are already being served by that loop; "
                "await something (or use compat.run()) instead of calling loop()"
            )
        _serve_nested(selector, map, timeout, count)
        return
    if not map:
        return
    loop = thread_loop()
    server = server_for(map)
    if server.loop is not loop:
        server.attach(loop)
    else:
        server.thread = threading.get_ident()
        if server.plain:
            server.reconcile()
    run = _Run(pass_mode=count is not None)
    server.run = run
    server.check_fds()
    muted = [s for s in list(_attached) if s is not server and s.loop is loop and s.entries and not s.muted]
    for other in muted:
        other.mute()
    try:
        if count is None:
            _run_until_empty(server, loop, timeout)
        else:
            while map and count > 0 and run.exc is None:
                run.passes += 1
                stopper = loop.call_later(timeout, loop.stop)
                try:
                    loop.run_forever()
                finally:
                    stopper.cancel()
                count -= 1
    finally:
        server.run = None
        for other in muted:
            other.unmute()
        if server.plain:
            server.detach()  # a plain map is served only while loop() runs over it
    _reraise(run)


def _reraise(run: _Run) -> None:
    """Raise what made loop() leave, keeping no reference to it here: a frame
    holding its own traceback would keep the handler's locals (an accepted
    socket, say) alive until the garbage collector runs."""
    exc, run.exc = run.exc, None
    if exc is not None:
        try:
            raise exc
        finally:
            exc = None


def _serve_nested(selector: Any, map: MutableMapping[int, Any], timeout: float, count: Optional[int]) -> None:
    """loop()/poll() from inside a legacy handler: poll and dispatch channel
    events right here. asyncio's own ready fds are left for the outer pass
    (the poll is level-triggered, they are reported again)."""
    if not map:
        return
    loop = _asyncio.running_loop()
    server = server_for(map)
    if server.loop is not loop:
        server.attach(loop)  # type: ignore[arg-type]
    outer, run = server.run, _Run(pass_mode=False)
    server.run = run
    try:
        server.check_fds()
        passes = 0
        while map and run.exc is None and (count is None or passes < count):
            selector.select(timeout)
            passes += 1
    finally:
        server.run = outer
    _reraise(run)


def _run_until_empty(server: Server, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
    # The heartbeat re-asks overriding predicates at least every `timeout`,
    # as asyncore's pass did, even when no fd and no timer wakes the loop.
    def heartbeat() -> None:
        nonlocal beat
        if server.selector is None:  # loops compat does not own
            server.prepare()
        beat = loop.call_later(timeout or 30.0, heartbeat)

    beat = loop.call_later(timeout or 30.0, heartbeat)
    try:
        while server.map and server.run is not None and server.run.exc is None:
            loop.run_forever()
    finally:
        beat.cancel()


