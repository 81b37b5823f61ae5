"""``asyncio.get_event_loop()`` that gives a loop when none is set.

Python 3.12 and 3.13 warn when ``get_event_loop()`` has to create a loop, and
3.14 raises RuntimeError instead (also already after ``asyncio.run()`` or
``set_event_loop(None)``).  Module-level legacy code such as
``loop = asyncio.get_event_loop(); loop.run_until_complete(main())`` needs
the old answer: the running loop, else the current loop, else - in the main
thread - a new loop, made current.  Only that last case is a legacy use.
"""
import asyncio
import threading
from typing import Any

from compat import core
from compat.core import _asyncio
from compat.legacy.patch import Patcher
from compat.legacy.warning import warn_legacy

__all__ = ["get_event_loop", "install"]


def get_event_loop() -> asyncio.AbstractEventLoop:
    """The running loop, else the current one, else (main thread) a new current loop."""
    running = _asyncio.running_loop()
    if running is not None:
        return running
    loop = _asyncio.current_loop()
    if loop is not None:
        return loop
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            f"There is no current event loop in thread {threading.current_thread().name!r}; "
            "create one with asyncio.new_event_loop() and asyncio.set_event_loop()"
        )
    warn_legacy(
        "asyncio.get_event_loop() with no current loop raises from Python 3.14; "
        "compat made a new loop. Use asyncio.run() or asyncio.new_event_loop()",
        stacklevel=2,
    )
    loop = core.new_event_loop()
    _asyncio.set_current_loop(loop)
    return loop


def install(patch: Patcher, module: Any = asyncio) -> None:
    """Replace ``asyncio.get_event_loop`` (and the ``asyncio.events`` one it comes from)."""
    patch.set_attr(module, "get_event_loop", get_event_loop)
    # Module-level Future()/gather()/ensure_future() reach it through events.
    patch.set_attr(module.events, "get_event_loop", get_event_loop)
