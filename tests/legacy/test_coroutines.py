"""compat.coroutine: legacy generator coroutines as native coroutines."""
import asyncio
import collections.abc
import functools
import gc
import inspect
import sys
import traceback
import types

import pytest
from support import COMPAT_WARNINGS_FAIL

import compat
from compat.coroutines import coroutine, iscoroutinefunction

# Deprecated in 3.14, removed in 3.16: checked only where it is not deprecated.
ASYNCIO_ISCOROUTINEFUNCTION = sys.version_info < (3, 14)

pytestmark = COMPAT_WARNINGS_FAIL

TIMEOUT = 10


def run(coro):
    """asyncio.run with a timeout, so a hang fails the test."""

    async def guarded():
        return await asyncio.wait_for(coro, TIMEOUT)

    return asyncio.run(guarded())


@coroutine
def add_later(x, y):
    yield from asyncio.sleep(0)
    return x + y


@coroutine
def fails_inside():
    yield from asyncio.sleep(0)
    raise ValueError("from the user's coroutine")


@coroutine
def calls_failing():
    return (yield from fails_inside())


# -- what the decorator produces ---------------------------------------------


def test_public_names():
    assert compat.coroutine is coroutine
    assert compat.iscoroutinefunction is iscoroutinefunction


def test_call_is_a_real_coroutine():
    coro = add_later(1, 2)
    try:
        assert isinstance(coro, collections.abc.Coroutine)
        assert isinstance(coro, types.CoroutineType)
        assert asyncio.iscoroutine(coro)
        for name in ("send", "throw", "close", "__await__"):
            assert callable(getattr(coro, name))
    finally:
        coro.close()


def test_iscoroutinefunction_for_every_form():
    @coroutine
    def plain():
        return 1

    for func in (add_later, plain):
        if ASYNCIO_ISCOROUTINEFUNCTION:
            assert asyncio.iscoroutinefunction(func)
        assert iscoroutinefunction(func)
        assert inspect.iscoroutinefunction(func)
    assert not iscoroutinefunction(len)
    assert not iscoroutinefunction(lambda: None)


def test_iscoroutinefunction_reads_the_asyncio_marker():
    def marked():
        pass

    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if marker is None:
        pytest.skip("this asyncio has no coroutine marker")
    marked._is_coroutine = marker
    assert iscoroutinefunction(marked)


def test_metadata_and_original_left_alone():
    def gen(a, b=2, *, c=3):
        """doc"""
        yield
        return a + b + c

    wrapped = coroutine(gen)
    assert wrapped.__name__ == "gen"
    assert wrapped.__qualname__ == gen.__qualname__
    assert wrapped.__doc__ == "doc"
    assert not hasattr(wrapped, "__wrapped__")  # not a wrapper: unwrapping finds itself
    assert inspect.unwrap(wrapped) is wrapped
    assert inspect.signature(wrapped) == inspect.signature(gen)
    assert inspect.isgeneratorfunction(gen)  # the user's function is not mutated
    assert run(wrapped(1)) == 6
    assert run(wrapped(1, 1, c=1)) == 3


def test_closures_and_defaults_survive():
    base = 10

    @coroutine
    def closure(x, step=1):
        yield
        return base + x + step

    assert run(closure(1)) == 12


def test_async_def_is_returned_unchanged():
    async def native():
        return 1

    assert coroutine(native) is native


def test_bad_input_is_rejected_clearly():
    with pytest.raises(TypeError, match="expects a function"):
        coroutine(42)

    async def agen():
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        coroutine(agen)


def test_methods_static_and_bound():
    class Service:
        factor = 3

        @coroutine
        def method(self, x):
            yield from asyncio.sleep(0)
            return x * self.factor

        @staticmethod
        @coroutine
        def static(x):
            yield
            return -x

    service = Service()
    assert run(service.method(2)) == 6
    assert run(Service.static(2)) == -2

    class Plain:
        def gen(self):
            yield
            return "bound"

    bound = coroutine(Plain().gen)
    assert iscoroutinefunction(bound) and inspect.iscoroutinefunction(bound)
    if ASYNCIO_ISCOROUTINEFUNCTION:
        assert asyncio.iscoroutinefunction(bound)
    assert run(bound()) == "bound"


# -- awaiting and being awaited ------------------------------------------------


def test_native_awaits_legacy():
    async def main():
        return await add_later(2, 3)

    assert run(main()) == 5


def test_legacy_yields_from_native_and_legacy():
    async def native_part(x):
        await asyncio.sleep(0)
        return x * 10

    @coroutine
    def main():
        a = yield from native_part(1)
        b = yield from add_later(a, 1)
        return b

    assert run(main()) == 11


def test_legacy_yields_from_future_and_bare_yield():
    @coroutine
    def main():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_soon(fut.set_result, "done")
        yield  # gives up one loop iteration, as it always did
        return (yield from fut)

    assert run(main()) == "done"


def test_types_coroutine_generator_can_yield_from_legacy():
    @types.coroutine
    def helper():
        return (yield from add_later(1, 1))

    @coroutine
    def main():
        return (yield from helper())

    assert run(main()) == 2


def test_legacy_yields_from_plain_generator_helper():
    def helper(fut):
        return (yield from fut)

    @coroutine
    def main():
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(7)
        return (yield from helper(fut))

    assert run(main()) == 7


def test_undecorated_generator_cannot_yield_from_legacy():
    # Known limitation, documented in compat.coroutines: the interpreter refuses
    # coroutine objects in a plain generator; decorating the helper fixes it.
    def helper():
        return (yield from add_later(1, 1))

    gen = helper()
    with pytest.raises(TypeError, match="non-coroutine generator"):
        with pytest.warns(RuntimeWarning, match="never awaited"):
            try:
                gen.send(None)
            finally:
                gc.collect()
    assert run(coroutine(helper)()) == 2


def test_plain_function_awaits_what_it_returns():
    @coroutine
    def returns_value(x):
        return x * 2

    @coroutine
    def returns_coroutine(x):
        return add_later(x, 1)

    @coroutine
    def returns_future():
        fut = asyncio.get_running_loop().create_future()
        fut.set_result("fut")
        return fut

    @coroutine
    def returns_generator():
        def gen():
            yield
            return "gen"

        return gen()

    async def main():
        return (
            await returns_value(3),
            await returns_coroutine(3),
            await returns_future(),
            await returns_generator(),
        )

    assert run(main()) == (6, 4, "fut", "gen")


def test_plain_function_wrapper_keeps_its_signature():
    def plain(a, *, b=1):
        return a + b

    wrapped = coroutine(plain)
    assert wrapped.__wrapped__ is plain
    assert inspect.signature(wrapped) == inspect.signature(plain)


def test_plain_function_runs_only_when_awaited():
    calls = []

    @coroutine
    def plain():
        calls.append(1)
        return 1

    coro = plain()
    assert calls == []
    assert run(coro) == 1
    assert calls == [1]


# -- every asyncio entry point accepts it ----------------------------------------


def test_asyncio_run_accepts_it():
    assert asyncio.run(add_later(1, 1)) == 2


def test_run_until_complete_accepts_it():
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(add_later(1, 2)) == 3
    finally:
        loop.close()


def test_task_apis_accept_it():
    async def main():
        loop = asyncio.get_running_loop()
        results = [
            await asyncio.Task(add_later(1, 0)),
            await loop.create_task(add_later(2, 0)),
            await asyncio.ensure_future(add_later(3, 0)),
            await asyncio.wait_for(add_later(4, 0), TIMEOUT),
            await asyncio.shield(add_later(5, 0)),
        ]
        results.extend(await asyncio.gather(add_later(6, 0), add_later(7, 0)))
        done, _ = await asyncio.wait([asyncio.ensure_future(add_later(8, 0))])
        results.extend(t.result() for t in done)
        for next_done in asyncio.as_completed([add_later(9, 0)]):
            results.append(await next_done)
        return results

    assert run(main()) == list(range(1, 10))


def test_start_server_callback_runs():
    received = []

    @coroutine
    def handle(reader, writer):
        data = yield from reader.readline()
        received.append(data)
        writer.write(data.upper())
        yield from writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping\n")
            reply = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return reply
        finally:
            server.close()
            await server.wait_closed()

    assert run(main()) == b"PING\n"
    assert received == [b"ping\n"]


# -- cancellation, errors, warnings ----------------------------------------------


def test_cancellation_raises_at_yield_from():
    seen = []

    @coroutine
    def sleeper(started):
        started.set_result(None)
        try:
            yield from asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled at yield from")
            raise

    async def main():
        started = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(sleeper(started))
        await started
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main()) is True
    assert seen == ["cancelled at yield from"]


def test_exception_traceback_shows_user_frames():
    async def main():
        await calls_failing()

    with pytest.raises(ValueError, match="user's coroutine") as info:
        run(main())
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert names[-2:] == ["calls_failing", "fails_inside"]
    assert all(not name.startswith("_as_coroutine") for name in names)


def test_throw_and_close_protocol():
    @coroutine
    def catcher():
        try:
            yield
        except KeyError:
            return "caught"

    coro = catcher()
    coro.send(None)
    with pytest.raises(StopIteration) as info:
        coro.throw(KeyError("k"))
    assert info.value.value == "caught"
    again = catcher()
    again.send(None)
    again.close()
    assert inspect.getcoroutinestate(again) == inspect.CORO_CLOSED


def test_unawaited_legacy_coroutine_warns_like_native():
    @coroutine
    def forgotten():
        yield

    with pytest.warns(RuntimeWarning, match="coroutine .*forgotten' was never awaited"):
        forgotten()
        gc.collect()


def test_unawaited_plain_function_coroutine_warns_too():
    @coroutine
    def forgotten_plain():
        return 1

    with pytest.warns(RuntimeWarning, match="forgotten_plain' was never awaited"):
        forgotten_plain()
        gc.collect()


def test_partial_of_generator_function_is_awaited():
    def gen(x):
        yield
        return x

    part = coroutine(functools.partial(gen, 5))
    assert run(part()) == 5
