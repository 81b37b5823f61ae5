"""Generator-based coroutines (``@coroutine`` + ``yield from``) as native coroutines.

``compat.coroutine`` turns a generator function into a coroutine function by
giving a copy of its code object the ``CO_COROUTINE`` flag instead of
``CO_GENERATOR``.  The bytecode of ``yield from`` and ``await`` is the same
delegation machinery, so the body runs unchanged, but calling the function now
creates a real ``types.CoroutineType`` object:

* asyncio on 3.12+ accepts it everywhere (``Task``, ``create_task``,
  ``asyncio.run``, ``start_server`` callbacks), which a generator - even a
  ``types.coroutine`` one - is not;
* there is no wrapper frame or object per call, so a call+await chain costs
  the same as native ``async def`` (see benchmarks/coroutine_chain.py);
* tracebacks show only the user's frames, and an un-awaited call warns
  "coroutine ... was never awaited" from the interpreter itself.

The one thing given up: an *undecorated* plain generator cannot
``yield from`` the result (the interpreter refuses coroutine objects there);
decorate such helpers with ``compat.coroutine`` or ``types.coroutine``.
(``asyncio.coroutine`` as ``compat.install()`` restores it lifts this, at the
cost of a wrapper call: see compat/legacy/decorator.py.)
"""
import functools
import inspect
import sys
import types
from typing import Any, Callable, TypeVar

__all__ = ["coroutine", "iscoroutinefunction"]

F = TypeVar("F", bound=Callable[..., Any])

_CO_GENERATOR = inspect.CO_GENERATOR
_CO_COROUTINE = inspect.CO_COROUTINE
_CO_ITERABLE_COROUTINE = inspect.CO_ITERABLE_COROUTINE
_CO_ASYNC_GENERATOR = inspect.CO_ASYNC_GENERATOR


def _as_coroutine_function(func: types.FunctionType) -> types.FunctionType:
    """A copy of generator function *func* whose calls create coroutine objects.

    The copy runs the user's own code, so it is not a wrapper: it has no
    ``__wrapped__`` (tools that unwrap, such as pytest, would otherwise find
    the generator function and treat it as one).
    """
    code = func.__code__
    flags = (code.co_flags & ~(_CO_GENERATOR | _CO_ITERABLE_COROUTINE)) | _CO_COROUTINE
    new = types.FunctionType(
        code.replace(co_flags=flags),
        func.__globals__,
        func.__name__,
        func.__defaults__,
        func.__closure__,
    )
    # Copies, so that the original function stays exactly as the user wrote it.
    new.__kwdefaults__ = dict(func.__kwdefaults__) if func.__kwdefaults__ else None
    functools.update_wrapper(new, func)
    del new.__wrapped__
    return new


def _awaiting_wrapper(func: Callable[..., Any]) -> Callable[..., Any]:
    """Coroutine function that calls *func* and awaits what it returns, if awaitable.

    This is what the old decorator did for a function without ``yield``.  The
    call itself happens when the coroutine first runs, as it did then.
    """

    def call_and_await(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        if isinstance(result, (types.GeneratorType, types.CoroutineType)):
            result = yield from result
        elif hasattr(type(result), "__await__"):
            result = yield from result.__await__()
        return result

    wrapper = _as_coroutine_function(call_and_await)  # type: ignore[arg-type]
    functools.update_wrapper(wrapper, func)
    return wrapper


def coroutine(func: F) -> F:
    """Decorate a legacy generator-based coroutine so it is a native coroutine function.

    Works on generator functions using ``yield from`` (and bare ``yield``), and
    on plain functions, whose returned awaitable is awaited, as
    ``@asyncio.coroutine`` did.  Native ``async def`` functions are returned
    unchanged.
    """
    if not callable(func):
        raise TypeError(f"coroutine() expects a function, got {type(func).__name__}")
    if isinstance(func, types.MethodType):
        # A bound method: convert the function and bind the result again.
        return types.MethodType(coroutine(func.__func__), func.__self__)  # type: ignore[return-value]
    if isinstance(func, types.FunctionType):
        flags = func.__code__.co_flags
        if flags & _CO_COROUTINE:
            return func
        if flags & _CO_ASYNC_GENERATOR:
            raise TypeError(
                f"coroutine() cannot decorate async generator function {func.__qualname__!r}"
            )
        if flags & _CO_GENERATOR:
            return _as_coroutine_function(func)  # type: ignore[return-value]
    elif inspect.iscoroutinefunction(func):
        return func
    return _awaiting_wrapper(func)  # type: ignore[return-value]


def iscoroutinefunction(func: Any) -> bool:
    """True for ``async def`` functions, ``compat.coroutine`` ones and asyncio-marked ones."""
    if inspect.iscoroutinefunction(func):
        return True
    # The marker of the old decorator (and of mocks before 3.12), which
    # inspect does not read; only possible if asyncio was ever imported.
    if "asyncio" not in sys.modules:
        return False
    from compat.core._asyncio import has_coroutine_marker

    return has_coroutine_marker(func)
