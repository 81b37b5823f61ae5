"""asyncio.async via getattr, Task.current_task()/all_tasks(), asyncio.wait() of bare coroutines."""
import asyncio
import sys
import types
from contextlib import nullcontext

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


def run(coro):
    async def guarded():
        return await asyncio.wait_for(coro, TIMEOUT)

    return asyncio.run(guarded())


@compat.coroutine
def double(x):
    yield from asyncio.sleep(0)
    return 2 * x


def test_asyncio_async_through_getattr():
    async def main():
        with pytest.warns(LegacyWarning, match="ensure_future"):
            task = getattr(asyncio, "async")(double(4))
        assert isinstance(task, asyncio.Task)
        return await task

    assert run(main()) == 8


def test_asyncio_async_gone_after_uninstall():
    compat.uninstall()
    assert not hasattr(asyncio, "async")


def test_task_current_task_and_all_tasks():
    async def main():
        with pytest.warns(LegacyWarning, match="current_task"):
            current = asyncio.Task.current_task()
        with pytest.warns(LegacyWarning, match="all_tasks"):
            tasks = asyncio.Task.all_tasks()
        loop = asyncio.get_running_loop()
        return current, tasks, asyncio.Task.current_task(loop), asyncio.current_task()

    current, tasks, with_loop, expected = run(main())
    assert current is expected and with_loop is expected
    assert expected in tasks


def test_current_task_outside_a_task_is_none():
    loop = asyncio.new_event_loop()
    try:
        assert asyncio.Task.current_task(loop) is None
        assert asyncio.Task.all_tasks(loop) == set()
    finally:
        loop.close()


def test_task_class_still_is_the_task_class():
    async def main():
        loop = asyncio.get_running_loop()
        made_by_loop = loop.create_task(double(1))
        made_directly = asyncio.Task(double(2), loop=loop)
        assert isinstance(made_by_loop, asyncio.Task)
        assert isinstance(made_directly, asyncio.tasks.Task)
        assert issubclass(asyncio.tasks.Task, asyncio.Task)
        assert asyncio.Task.__name__ == "Task"
        return await made_by_loop, await made_directly

    assert run(main()) == (2, 4)


def test_user_task_subclass_keeps_normal_isinstance():
    class TracedTask(asyncio.Task):
        pass

    async def main():
        loop = asyncio.get_running_loop()
        plain = loop.create_task(double(1))
        traced = TracedTask(double(2))
        result = (isinstance(plain, TracedTask), isinstance(traced, TracedTask))
        await asyncio.gather(plain, traced)
        return result

    assert run(main()) == (False, True)


def test_wait_on_bare_coroutines():
    async def main():
        with pytest.warns(LegacyWarning, match="bare coroutines"):
            waiting = asyncio.wait([double(1), double(2)])
        done, pending = await waiting
        return sorted(t.result() for t in done), pending

    assert run(main()) == ([2, 4], set())


def test_wait_on_coroutines_built_before_the_loop_runs():
    loop = asyncio.new_event_loop()
    try:
        done, _ = loop.run_until_complete(asyncio.wait([double(3)], timeout=TIMEOUT))
        assert [t.result() for t in done] == [6]
    finally:
        loop.close()


def test_wait_of_tasks_is_untouched():
    async def main():
        task = asyncio.ensure_future(double(5))
        done, _ = await asyncio.wait({task}, return_when=asyncio.FIRST_COMPLETED)
        return done == {task}

    assert run(main())


def test_wait_rejects_a_single_coroutine_as_asyncio_does():
    async def main():
        coro = double(1)
        try:
            await asyncio.wait(coro)
        finally:
            coro.close()

    with pytest.raises(TypeError):
        run(main())


def test_all_tasks_includes_finished_tasks_still_referenced():
    # 3.6: Task.all_tasks() was every task of the loop still alive, done or not.
    async def main():
        finished = asyncio.ensure_future(double(1))
        await finished
        pending = asyncio.ensure_future(asyncio.sleep(TIMEOUT))
        everything = asyncio.Task.all_tasks()
        unfinished = asyncio.all_tasks()
        pending.cancel()
        return finished, pending, everything, unfinished

    finished, pending, everything, unfinished = run(main())
    assert finished.done() and finished in everything
    assert pending in everything
    assert finished not in unfinished  # asyncio's own answer is unchanged


def test_all_tasks_is_per_loop():
    other = asyncio.new_event_loop()
    try:
        task = other.create_task(double(3))
        other.run_until_complete(task)

        async def main():
            return asyncio.Task.all_tasks(), asyncio.Task.all_tasks(other)

        mine, of_other = run(main())
        assert task in of_other and task not in mine
    finally:
        other.close()


# -- plain generators (no decorator) in legacy code --


def _legacy(func):
    """Decorate as legacy code does, with the installed asyncio.coroutine."""
    with pytest.warns(LegacyWarning):
        return asyncio.coroutine(func)


def test_plain_generator_yields_from_a_decorated_coroutine():
    def fetch_gen(x):
        return (yield from double(x))

    fetch = _legacy(fetch_gen)

    def helper(x):  # undecorated, as much 3.4 code was
        first = yield from fetch(x)
        second = yield from fetch(first)
        return second

    def main_gen():
        return (yield from helper(3))

    main = _legacy(main_gen)
    assert run(main()) == 12


def test_plain_generator_given_to_run_until_complete_and_ensure_future():
    def sleeper_gen(x):
        yield from asyncio.sleep(0)
        return x

    sleeper = _legacy(sleeper_gen)

    def plain(x):
        return (yield from sleeper(x))

    loop = asyncio.new_event_loop()
    try:
        with pytest.warns(LegacyWarning) if sys.version_info >= (3, 12) else nullcontext():
            assert loop.run_until_complete(plain(5)) == 5

        async def main():
            with pytest.warns(LegacyWarning) if sys.version_info >= (3, 12) else nullcontext():
                task = asyncio.ensure_future(plain(6))
                gathered = asyncio.gather(plain(7), plain(8))
                direct = asyncio.Task(plain(9))
            with pytest.warns(LegacyWarning):
                done, _ = await asyncio.wait([plain(10)])
            return await task, await gathered, await direct, [t.result() for t in done]

        assert loop.run_until_complete(asyncio.wait_for(main(), TIMEOUT)) == (6, [7, 8], 9, [10])
    finally:
        loop.close()


def test_decorated_call_outside_a_plain_generator_is_a_native_coroutine():
    def gen():
        yield from asyncio.sleep(0)
        return 1

    legacy = _legacy(gen)
    coro = legacy()
    assert isinstance(coro, types.CoroutineType)
    coro.close()
    assert compat.iscoroutinefunction(legacy)


def test_what_a_plain_generator_gets_is_still_a_coroutine_for_asyncio():
    def leaf_gen(x):
        yield from asyncio.sleep(0)
        return x

    leaf = _legacy(leaf_gen)

    def plain(box):
        # not yielded from here: handed to asyncio, awaited elsewhere
        box.append(leaf(1))
        box.append(asyncio.ensure_future(leaf(2)))
        return (yield from leaf(3))

    async def main():
        box = []
        gen = plain(box)
        three = await _drive_plain(gen)
        handed, task = box
        assert asyncio.iscoroutine(handed)
        return await handed, await task, three

    assert run(main()) == (1, 2, 3)


@compat.coroutine
def _drive_plain(gen):
    return (yield from gen)
