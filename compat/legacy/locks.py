"""``yield from lock`` / ``with (yield from lock)`` / ``with (await lock)`` again (gone in 3.9).

Acquiring this way returns a context manager whose exit releases the lock,
as 3.7 did.  Added to ``Lock``, ``Condition`` and ``Semaphore`` (and so
``BoundedSemaphore``) only where the class lacks it.
"""
import asyncio
from typing import Any, Generator

from compat.legacy.patch import Patcher
from compat.legacy.warning import warn_legacy

__all__ = ["install"]

CLASSES = ("Lock", "Condition", "Semaphore")


class _Releaser:
    """What ``yield from lock`` returns: ``with`` releases the lock on exit."""

    __slots__ = ("_lock",)

    def __init__(self, lock: Any) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: Any) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            raise RuntimeError("this lock context was already exited")
        lock.release()


def _acquire(lock: Any) -> Generator[Any, None, _Releaser]:
    yield from lock.acquire().__await__()
    return _Releaser(lock)


def _legacy_iter(self: Any) -> Generator[Any, None, _Releaser]:
    # Warn here, not in the generator, so the location is the user's line.
    warn_legacy(
        f"`yield from {type(self).__name__.lower()}` was removed in Python 3.9; "
        "use `async with` on it",
        stacklevel=2,
    )
    return _acquire(self)


def _legacy_await(self: Any) -> Generator[Any, None, _Releaser]:
    warn_legacy(
        f"`await {type(self).__name__.lower()}` was removed in Python 3.9; use `async with` on it",
        stacklevel=2,
    )
    return _acquire(self)


def install(patch: Patcher, module: Any = asyncio) -> None:
    """Give the asyncio lock classes back ``__iter__`` and ``__await__``."""
    for name in CLASSES:
        cls = getattr(module, name)
        if not hasattr(cls, "__iter__"):
            patch.set_attr(cls, "__iter__", _legacy_iter)
        if not hasattr(cls, "__await__"):
            patch.set_attr(cls, "__await__", _legacy_await)
