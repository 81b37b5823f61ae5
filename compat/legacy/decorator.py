"""``@asyncio.coroutine`` while installed: ``compat.coroutine`` that plain generators can ``yield from``.

In 3.4-3.6 a decorated generator function still made generators, so an
undecorated helper generator could ``yield from`` it.  ``compat.coroutine``
makes native coroutine objects, which the interpreter refuses in a plain
generator ("cannot 'yield from' a coroutine object in a non-coroutine
generator").  The decorator installed as ``asyncio.coroutine`` therefore looks
at its caller: called from a plain generator, it hands back the coroutine
inside a :class:`GeneratorCompatible`, which such a generator can
``yield from`` and which asyncio still takes as a coroutine; called from
anywhere else, the native coroutine itself.  The price is a wrapper call and
a frame lookup per call, paid only by code run under ``install()``;
``compat.coroutine`` itself stays wrapper-free.
"""
import functools
import inspect
import sys
import types
from typing import Any, Callable, Generator, TypeVar

from compat.coroutines import coroutine
from compat.core import _asyncio
from compat.legacy.warning import warn_legacy

__all__ = ["GeneratorCompatible", "legacy_coroutine"]

F = TypeVar("F", bound=Callable[..., Any])

_CO_GENERATOR = inspect.CO_GENERATOR
_KIND_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE
get_frame = sys._getframe


class GeneratorCompatible:
    """A coroutine that a plain generator can ``yield from``.

    ``yield from`` and ``await`` both delegate to the coroutine; ``send``,
    ``throw`` and ``close`` make it a ``collections.abc.Coroutine``, so
    ``ensure_future()``/``Task`` accept it as well.  Anything else is read
    from the coroutine (``cr_frame``, ``__qualname__``, ...).
    """

    __slots__ = ("_coro",)

    def __init__(self, coro: Any) -> None:
        self._coro = coro

    def __iter__(self) -> Generator[Any, Any, Any]:
        return self._coro.__await__()  # type: ignore[no-any-return]

    __await__ = __iter__

    def send(self, value: Any) -> Any:
        """Resume the coroutine with *value*."""
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        """Raise an exception inside the coroutine."""
        return self._coro.throw(*args)

    def close(self) -> None:
        """Close the coroutine."""
        self._coro.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._coro, name)

    def __repr__(self) -> str:
        return repr(self._coro)


def legacy_coroutine(func: F) -> F:
    """``@asyncio.coroutine``: ``compat.coroutine`` plus a LegacyWarning at the decorator."""
    warn_legacy("@asyncio.coroutine was removed in Python 3.11; use async def (see `compat codemod`)")
    native = coroutine(func)
    if native is func or not isinstance(native, types.FunctionType):
        return native  # async def (unchanged) or a bound method

    @functools.wraps(native)
    def call(*args: Any, **kwargs: Any) -> Any:
        coro = native(*args, **kwargs)
        try:
            flags = get_frame(1).f_code.co_flags
        except ValueError:  # called straight from C, with no Python frame above
            return coro
        if flags & _KIND_FLAGS != _CO_GENERATOR:
            return coro
        return GeneratorCompatible(coro)

    # Not a wrapper for tools that unwrap (pytest would find a generator function).
    del call.__wrapped__
    call.__signature__ = inspect.signature(native)  # type: ignore[attr-defined]
    return _asyncio.mark_coroutine_function(call)  # type: ignore[return-value]


legacy_coroutine.__name__ = legacy_coroutine.__qualname__ = "coroutine"
