"""`yield from lock`, `with (yield from lock)` and `with (await lock)` on Lock, Condition, Semaphore."""
import asyncio

import pytest
from support import COMPAT_WARNINGS_FAIL

import compat
from compat.legacy.warning import LegacyWarning

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    *COMPAT_WARNINGS_FAIL,
    pytest.mark.usefixtures("installed"),
]

TIMEOUT = 10
KINDS = [asyncio.Lock, asyncio.Condition, asyncio.Semaphore, asyncio.BoundedSemaphore]


def run(coro):
    async def guarded():
        return await asyncio.wait_for(coro, TIMEOUT)

    return asyncio.run(guarded())


def held(lock):
    return lock.locked()


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_with_yield_from(kind):
    @compat.coroutine
    def main():
        lock = kind()
        with (yield from lock):
            inside = held(lock)
        return inside, held(lock)

    with pytest.warns(LegacyWarning, match="yield from"):
        assert run(main()) == (True, False)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_with_await(kind):
    async def main():
        lock = kind()
        with (await lock):
            inside = held(lock)
        return inside, held(lock)

    with pytest.warns(LegacyWarning, match="await"):
        assert run(main()) == (True, False)


def test_bare_yield_from_then_release():
    @compat.coroutine
    def main():
        lock = asyncio.Lock()
        yield from lock
        try:
            return held(lock)
        finally:
            lock.release()

    assert run(main()) is True


def test_release_on_exception():
    @compat.coroutine
    def main():
        lock = asyncio.Lock()
        try:
            with (yield from lock):
                raise KeyError("inside")
        except KeyError:
            pass
        return held(lock)

    assert run(main()) is False


def test_contended_lock_is_exclusive():
    order = []

    @compat.coroutine
    def worker(name, lock, gate):
        with (yield from lock):
            order.append(name + " in")
            yield from gate.wait()
            order.append(name + " out")

    async def main():
        lock, gate = asyncio.Lock(), asyncio.Event()
        first = asyncio.ensure_future(worker("a", lock, gate))
        second = asyncio.ensure_future(worker("b", lock, gate))
        while not order:
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # b gets a turn and has to queue on the lock
        assert order == ["a in"]
        gate.set()
        await asyncio.gather(first, second)

    run(main())
    assert order == ["a in", "a out", "b in", "b out"]


def test_cancelled_while_waiting_for_lock():
    @compat.coroutine
    def waiter(lock, started):
        started.set_result(None)
        with (yield from lock):
            pass

    async def main():
        lock = asyncio.Lock()
        await lock.acquire()
        started = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(waiter(lock, started))
        await started
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        lock.release()
        return lock.locked()

    assert run(main()) is False


def test_double_exit_is_an_error():
    async def main():
        lock = asyncio.Lock()
        context = await lock
        with context:
            pass
        with pytest.raises(RuntimeError, match="already exited"):
            context.__exit__(None, None, None)

    run(main())


def test_removed_after_uninstall():
    compat.uninstall()
    assert not hasattr(asyncio.Lock, "__iter__")
    assert not hasattr(asyncio.Semaphore, "__await__")
