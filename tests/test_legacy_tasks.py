"""asyncio.async via getattr, Task.current_task()/all_tasks(), asyncio.wait() of bare coroutines."""
import asyncio

import pytest

import compat
from compat.legacy.warning import LegacyWarning

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TIMEOUT = 10


@pytest.fixture(autouse=True)
def installed():
    compat.install()
    yield
    compat.uninstall()


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
