"""Task-level legacy APIs: ``asyncio.async``, ``Task.current_task/all_tasks``,
``asyncio.wait()`` given bare coroutines (and ``loop=``), and - on 3.12+,
which refuse them - plain generators given to ``ensure_future()`` (and so to
``run_until_complete()``, ``gather()``, ``wait()``, ``asyncio.Task()``).
"""
import asyncio
import functools
import gc
import sys
import types
from typing import Any, Callable, Generator, Optional, Set

from compat.coroutines import coroutine
from compat.legacy.loop_args import (
    MISSING,
    check_loop_type,
    check_running_loop,
    mark_coroutine_function,
    set_everywhere,
)
from compat.legacy.patch import Patcher
from compat.legacy.warning import warn_legacy

__all__ = ["install", "legacy_async", "legacy_task_class", "from_generator"]

# 3.12 stopped accepting generator objects as coroutines.
GENERATORS_REFUSED = sys.version_info >= (3, 12)


@coroutine
def _drive(gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    return (yield from gen)


def from_generator(obj: Any) -> Any:
    """*obj*, or a coroutine running it if it is a plain generator (3.6 took those as coroutines)."""
    if GENERATORS_REFUSED and isinstance(obj, types.GeneratorType):
        warn_legacy(
            "a generator given as a coroutine was refused from Python 3.12; "
            "decorate its function with @asyncio.coroutine (or use async def)",
            stacklevel=3,
        )
        return _drive(obj)
    return obj


def _is_coroutine(obj: Any) -> bool:
    """A coroutine, or a generator (which legacy code passed as one)."""
    return asyncio.iscoroutine(obj) or isinstance(obj, types.GeneratorType)


def legacy_async(coro_or_future: Any, *, loop: Optional[asyncio.AbstractEventLoop] = None) -> Any:
    """``asyncio.async()``: the pre-3.4.4 name of ``ensure_future()``."""
    warn_legacy("asyncio.async() was removed in Python 3.7; use asyncio.ensure_future()")
    return asyncio.ensure_future(coro_or_future, loop=loop)


legacy_async.__name__ = legacy_async.__qualname__ = "async"

_task_classes: dict = {}


def legacy_task_class(base: type) -> type:
    """A subclass of *base* with the ``current_task``/``all_tasks`` classmethods of 3.8.

    ``asyncio.Task`` is a C type that cannot take new attributes, so
    ``asyncio.Task`` is replaced by this subclass while installed; its
    metaclass makes ``isinstance(t, asyncio.Task)`` hold for every task of
    *base* (those made by ``create_task``), not just its own instances.
    """
    cached = _task_classes.get(base)
    if cached is not None:
        return cached

    class _Meta(type(base)):  # type: ignore[misc]
        def __instancecheck__(cls, obj: Any) -> bool:
            if cls is legacy:
                return isinstance(obj, base)
            return super().__instancecheck__(obj)

        def __subclasscheck__(cls, sub: type) -> bool:
            if cls is legacy:
                return issubclass(sub, base)
            return super().__subclasscheck__(sub)

    def current_task(cls: type, loop: Optional[asyncio.AbstractEventLoop] = None) -> Any:
        """The task running in *loop* (default: the current loop), or None."""
        warn_legacy("Task.current_task() was removed in Python 3.9; use asyncio.current_task()")
        return asyncio.current_task(loop if loop is not None else asyncio.get_event_loop())

    def all_tasks(cls: type, loop: Optional[asyncio.AbstractEventLoop] = None) -> Set[Any]:
        """Every task of *loop* (default: the current loop) still alive, done
        ones included, as in 3.6 (``asyncio.all_tasks()`` gives only the
        unfinished ones)."""
        warn_legacy("Task.all_tasks() was removed in Python 3.9; use asyncio.all_tasks()")
        if loop is None:
            loop = asyncio.get_event_loop()
        tasks: Set[Any] = set(asyncio.all_tasks(loop))
        # asyncio keeps no public record of finished tasks; the garbage
        # collector tracks every live one (a scan of the heap: this legacy
        # call is made at shutdown, not per request).
        for obj in gc.get_objects():
            if isinstance(obj, base) and obj.get_loop() is loop:  # type: ignore[attr-defined]
                tasks.add(obj)
        return tasks

    def __init__(self: Any, coro: Any, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, from_generator(coro), *args, **kwargs)  # type: ignore[misc]

    namespace = {
        "__slots__": (),
        "__init__": __init__,
        "__module__": base.__module__,
        "__qualname__": base.__qualname__,
        "__doc__": base.__doc__,
        "current_task": classmethod(current_task),
        "all_tasks": classmethod(all_tasks),
    }
    legacy = _Meta(base.__name__, (base,), namespace)
    _task_classes[base] = legacy
    return legacy


async def _wait_scheduled(original: Callable[..., Any], fs: Set[Any], loop: Any, **kwargs: Any) -> Any:
    if loop is not MISSING and loop is not None:
        check_running_loop("wait", loop)
    running = asyncio.get_running_loop()
    futures = {asyncio.ensure_future(from_generator(f), loop=running) if _is_coroutine(f) else f for f in fs}
    return await original(futures, **kwargs)


def _wait(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wait(
        fs: Any, *, loop: Any = MISSING, timeout: Optional[float] = None, return_when: str = asyncio.ALL_COMPLETED
    ) -> Any:
        if loop is not MISSING:
            warn_legacy("asyncio.wait(loop=...) was removed in Python 3.10; drop the loop argument")
            if loop is not None:
                check_loop_type("wait", loop)
        if asyncio.isfuture(fs) or asyncio.iscoroutine(fs):
            return original(fs, timeout=timeout, return_when=return_when)  # asyncio's own error
        fs = set(fs)
        if any(_is_coroutine(f) for f in fs):
            warn_legacy(
                "asyncio.wait() on bare coroutines was removed in Python 3.11; "
                "wrap each in asyncio.ensure_future()"
            )
        elif loop is MISSING or loop is None:
            return original(fs, timeout=timeout, return_when=return_when)
        return _wait_scheduled(original, fs, loop, timeout=timeout, return_when=return_when)

    return mark_coroutine_function(wait)


def _ensure_future(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def ensure_future(coro_or_future: Any, *, loop: Optional[asyncio.AbstractEventLoop] = None) -> Any:
        return original(from_generator(coro_or_future), loop=loop)

    return ensure_future


def install(patch: Patcher, module: Any = asyncio) -> None:
    """Restore ``asyncio.async``, ``Task.current_task``/``all_tasks``, the old
    ``wait()`` and (3.12+) generators given to ``ensure_future()``."""
    if not hasattr(module, "async"):
        patch.set_attr(module, "async", legacy_async)
        patch.set_attr(module.tasks, "async", legacy_async)
    if not hasattr(module.Task, "current_task"):
        patch.set_attr(module, "Task", legacy_task_class(module.Task))
    # Even where wait() still takes coroutines (3.9, 3.10), do it here so each
    # use warns LegacyWarning like on 3.11+.
    set_everywhere(patch, module, "wait", _wait(module.wait))
    if GENERATORS_REFUSED:
        # Also the one run_until_complete() and gather() call (asyncio.tasks').
        set_everywhere(patch, module, "ensure_future", _ensure_future(module.ensure_future))
