"""``loop=`` accepted again (and checked) by the asyncio APIs that dropped it in 3.10.

Python 3.7 bound everything to the loop given as ``loop=``; using it from a
different loop failed.  Restored here:

* coroutine functions (``sleep``, ``wait_for``, ``open_connection``, ...):
  when the coroutine starts, the given loop must be the running one, else
  ``LoopMismatchError``;
* ``gather``, ``shield``, ``as_completed``: their arguments are scheduled on
  the given loop, as 3.7 did, after the same check when a loop is running;
* ``Queue``/``Lock``/``Event``/``Condition``/``Semaphore``/``BoundedSemaphore``:
  the object is bound to the given loop at once, so using it from another loop
  fails with asyncio's own "bound to a different event loop" error.

Each is patched under every name asyncio gives it (``asyncio.sleep`` and
``asyncio.tasks.sleep``, ``asyncio.streams.start_server``, ...), so the
submodule spellings of 3.7 code work too.  Python 3.9 still accepts
``loop=`` everywhere; nothing is patched there.  ``Future``, ``Task`` and
``ensure_future`` accept it on every version.
"""
import asyncio
import functools
import sys
from typing import Any, Callable, Dict, Iterable, List

from compat.core import _asyncio
from compat.legacy.patch import Patcher
from compat.legacy.warning import warn_legacy

__all__ = [
    "LoopMismatchError",
    "MISSING",
    "check_loop_type",
    "check_running_loop",
    "install",
    "mark_coroutine_function",
    "set_everywhere",
]

#: APIs that are coroutine functions taking ``loop=`` in 3.7.
COROUTINE_APIS = (
    "sleep",
    "wait_for",
    "open_connection",
    "start_server",
    "open_unix_connection",
    "start_unix_server",
    "create_subprocess_exec",
    "create_subprocess_shell",
)
#: Classes whose constructor took ``loop=`` in 3.7 (subclasses inherit the fix).
CLASSES = ("Queue", "Lock", "Event", "Condition", "Semaphore", "BoundedSemaphore")

MISSING: Any = object()

mark_coroutine_function = _asyncio.mark_coroutine_function


class LoopMismatchError(RuntimeError, ValueError):
    """``loop=`` named a loop other than the running one.

    Both a RuntimeError and a ValueError, the two errors 3.7 raised for it
    ("attached to a different loop", "futures are tied to different loops").
    """


def check_loop_type(api: str, loop: Any) -> None:
    """TypeError unless *loop* is an event loop."""
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(f"asyncio.{api}(): loop= must be an event loop, not {type(loop).__name__}")


def check_running_loop(api: str, loop: Any) -> None:
    """LoopMismatchError if a loop is running and it is not *loop*."""
    running = _asyncio.running_loop()
    if running is not None and running is not loop:
        raise LoopMismatchError(
            f"asyncio.{api}() was given loop={loop!r}, but it runs in {running!r}: "
            "loop= must be the running loop (drop the argument)"
        )


def _warn_loop_arg(api: str) -> None:
    warn_legacy(
        f"asyncio.{api}(loop=...) was removed in Python 3.10; drop the loop argument",
        stacklevel=3,
    )


async def _run_on(api: str, loop: Any, func: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    check_running_loop(api, loop)
    return await func(*args, **kwargs)


def _coroutine_api(api: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def accepting_loop(*args: Any, loop: Any = MISSING, **kwargs: Any) -> Any:
        if loop is MISSING:
            return original(*args, **kwargs)
        _warn_loop_arg(api)
        if loop is None:
            return original(*args, **kwargs)
        check_loop_type(api, loop)
        # The check waits for the coroutine to run: legacy code often builds
        # it before the loop starts (run_until_complete(sleep(1, loop=loop))).
        return _run_on(api, loop, original, args, kwargs)

    return mark_coroutine_function(accepting_loop)


def _on_loop(api: str, loop: Any, aws: Iterable[Any]) -> List[Any]:
    """Futures for *aws* scheduled on *loop* (coroutines become tasks there)."""
    check_loop_type(api, loop)
    check_running_loop(api, loop)
    seen: Dict[int, Any] = {}
    out = []
    for aw in aws:
        # The same coroutine twice must become one task, as gather() does.
        fut = seen.get(id(aw))
        if fut is None:
            fut = seen[id(aw)] = asyncio.ensure_future(aw, loop=loop)
        out.append(fut)
    return out


def _gather(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def gather(*aws: Any, loop: Any = MISSING, return_exceptions: bool = False) -> Any:
        if loop is MISSING:
            return original(*aws, return_exceptions=return_exceptions)
        _warn_loop_arg("gather")
        if loop is None:
            return original(*aws, return_exceptions=return_exceptions)
        futures = _on_loop("gather", loop, aws)
        if not futures:
            empty = loop.create_future()
            empty.set_result([])
            return empty
        return original(*futures, return_exceptions=return_exceptions)

    return gather


def _shield(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def shield(arg: Any, *, loop: Any = MISSING) -> Any:
        if loop is not MISSING:
            _warn_loop_arg("shield")
            if loop is not None:
                (arg,) = _on_loop("shield", loop, [arg])
        return original(arg)

    return shield


def _as_completed(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def as_completed(fs: Any, *, loop: Any = MISSING, timeout: Any = None) -> Any:
        if loop is not MISSING:
            _warn_loop_arg("as_completed")
            # A single future or coroutine is a caller error asyncio reports itself.
            if loop is not None and not (asyncio.isfuture(fs) or asyncio.iscoroutine(fs)):
                fs = set(_on_loop("as_completed", loop, set(fs)))
        return original(fs, timeout=timeout)

    return as_completed


def _init_accepting_loop(cls: type, original: Callable[..., None]) -> Callable[..., None]:
    name = cls.__name__
    # 3.10's own "no loop given" default, which BoundedSemaphore passes up to
    # Semaphore; read from the signature rather than from asyncio.mixins.
    stdlib_missing = (getattr(original, "__kwdefaults__", None) or {}).get("loop", MISSING)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, loop: Any = MISSING, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if loop is MISSING or (loop is stdlib_missing and loop is not None):
            return
        _warn_loop_arg(name)
        if loop is None:
            return
        check_loop_type(name, loop)
        _asyncio.bind_loop(self, loop)

    return __init__


def set_everywhere(patch: Patcher, module: Any, name: str, value: Any) -> None:
    """Set ``module.name`` and the same name in each loaded submodule of
    *module* that holds the same object (``asyncio.tasks.sleep`` for
    ``asyncio.sleep``), so every spelling of the API gets *value*."""
    original = getattr(module, name)
    prefix = module.__name__ + "."
    for modname, sub in list(sys.modules.items()):
        if modname.startswith(prefix) and getattr(sub, name, None) is original:
            patch.set_attr(sub, name, value)
    patch.set_attr(module, name, value)


def install(patch: Patcher, module: Any = asyncio) -> None:
    """Make the ``asyncio`` APIs accept ``loop=`` again (3.10+ only)."""
    if sys.version_info < (3, 10):
        return
    for api in COROUTINE_APIS:
        original = getattr(module, api, None)
        if original is not None:  # the unix ones are missing on Windows
            set_everywhere(patch, module, api, _coroutine_api(api, original))
    set_everywhere(patch, module, "gather", _gather(module.gather))
    set_everywhere(patch, module, "shield", _shield(module.shield))
    set_everywhere(patch, module, "as_completed", _as_completed(module.as_completed))
    for name in CLASSES:
        cls = getattr(module, name)
        patch.set_attr(cls, "__init__", _init_accepting_loop(cls, cls.__init__))
