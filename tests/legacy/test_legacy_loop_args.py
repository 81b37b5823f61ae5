"""loop= accepted again by every API that took it in 3.7, and checked against the running loop."""
import asyncio
import sys

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
PATCHED = sys.version_info >= (3, 10)  # 3.9 still takes loop= natively


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def other_loop():
    other = asyncio.new_event_loop()
    yield other
    other.close()


def run(loop, coro):
    """Run *coro* on *loop* with a timeout, so a hang fails."""
    return loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT))


@compat.coroutine
def add(x, y):
    yield from asyncio.sleep(0)
    return x + y


def test_coroutine_functions_stay_coroutine_functions():
    for name in ("sleep", "wait_for", "open_connection", "start_server", "wait"):
        assert compat.iscoroutinefunction(getattr(asyncio, name)), name


def test_sleep_and_wait_for_with_loop(loop):
    async def main():
        slept = await asyncio.sleep(0, "r", loop=loop)
        got = await asyncio.wait_for(add(1, 2), TIMEOUT, loop=loop)
        return slept, got

    if PATCHED:
        with pytest.warns(LegacyWarning, match=r"sleep\(loop=\.\.\.\)"):
            assert run(loop, main()) == ("r", 3)
    else:
        assert run(loop, main()) == ("r", 3)


def test_coroutine_built_before_the_loop_runs(loop):
    # The common legacy shape: run_until_complete(api(..., loop=loop)).
    assert loop.run_until_complete(asyncio.wait_for(add(2, 2), TIMEOUT, loop=loop)) == 4


def test_gather_with_loop_outside_and_inside(loop):
    # Module-level style: gather() built before the loop runs.
    gathered = asyncio.gather(add(1, 1), add(2, 2), loop=loop)
    assert run(loop, gathered) == [2, 4]

    async def inside():
        coro = add(3, 3)
        return await asyncio.gather(coro, coro, loop=loop)

    assert run(loop, inside()) == [6, 6]
    empty = asyncio.gather(loop=loop)
    assert run(loop, empty) == []


def test_shield_and_as_completed_with_loop(loop):
    async def main():
        shielded = await asyncio.shield(add(1, 0), loop=loop)
        ordered = []
        for next_done in asyncio.as_completed([add(2, 0), add(3, 0)], loop=loop):
            ordered.append(await next_done)
        return shielded, sorted(ordered)

    assert run(loop, main()) == (1, [2, 3])


def test_wait_with_loop(loop):
    async def main():
        done, pending = await asyncio.wait([add(1, 1)], loop=loop)
        return [t.result() for t in done], pending

    assert run(loop, main()) == ([2], set())


def test_streams_with_loop(loop):
    async def handle(reader, writer):
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, loop=loop)
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port, loop=loop)
            writer.write(b"hi\n")
            reply = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return reply
        finally:
            server.close()
            await server.wait_closed()

    assert run(loop, main()) == b"HI\n"


@pytest.mark.skipif(not hasattr(asyncio, "start_unix_server"), reason="no unix sockets")
def test_unix_streams_with_loop(loop, tmp_path):
    path = str(tmp_path / "sock")

    async def handle(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_unix_server(handle, path, loop=loop)
        try:
            reader, writer = await asyncio.open_unix_connection(path, loop=loop)
            writer.write(b"unix\n")
            reply = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return reply
        finally:
            server.close()
            await server.wait_closed()

    assert run(loop, main()) == b"unix\n"


@pytest.mark.skipif(sys.platform == "win32", reason="shell differs")
def test_subprocess_with_loop():
    async def main():
        loop = asyncio.get_running_loop()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print('exec')", stdout=asyncio.subprocess.PIPE, loop=loop
        )
        out, _ = await proc.communicate()
        shell = await asyncio.create_subprocess_shell(
            "echo shell", stdout=asyncio.subprocess.PIPE, loop=loop
        )
        out2, _ = await shell.communicate()
        return out.strip(), out2.strip()

    # asyncio.run: the subprocess child watcher wants the main thread's own loop.
    assert asyncio.run(asyncio.wait_for(main(), TIMEOUT)) == (b"exec", b"shell")


def test_primitives_with_loop(loop):
    async def main():
        queues = [cls(loop=loop) for cls in (asyncio.Queue, asyncio.PriorityQueue, asyncio.LifoQueue)]
        for q in queues:
            q.put_nowait(1)
            assert await q.get() == 1
        lock = asyncio.Lock(loop=loop)
        async with lock:
            assert lock.locked()
        event = asyncio.Event(loop=loop)
        event.set()
        await event.wait()
        cond = asyncio.Condition(loop=loop)
        async with cond:
            cond.notify_all()
        for cls in (asyncio.Semaphore, asyncio.BoundedSemaphore):
            sem = cls(2, loop=loop)
            async with sem:
                pass
        return True

    assert run(loop, main())


def test_primitives_built_at_module_level_with_loop(loop):
    # Before 3.10 this is what made them usable from the loop they name.
    queue = asyncio.Queue(loop=loop)
    lock = asyncio.Lock(loop=loop)

    async def main():
        async with lock:
            await queue.put("x")
            return await queue.get()

    assert run(loop, main()) == "x"


def test_user_subclass_passing_loop_up(loop):
    class JobQueue(asyncio.Queue):
        def __init__(self, maxsize=0, *, loop=None):
            super().__init__(maxsize, loop=loop)

    async def main():
        q = JobQueue(loop=loop)
        q.put_nowait("job")
        return await q.get()

    assert run(loop, main()) == "job"


def test_future_task_ensure_future_take_loop(loop):
    async def main():
        fut = asyncio.Future(loop=loop)
        fut.set_result(1)
        task = asyncio.Task(add(1, 1), loop=loop)
        ensured = asyncio.ensure_future(add(2, 2), loop=loop)
        return await fut, await task, await ensured

    assert run(loop, main()) == (1, 2, 4)


# -- a different loop than the running one ---------------------------------------

MISMATCH = (RuntimeError, ValueError)  # what 3.7 raised; LoopMismatchError is both


def test_sleep_on_another_loop_fails_clearly(loop, other_loop):
    async def main():
        await asyncio.sleep(0.001, loop=other_loop)

    with pytest.raises(MISMATCH) as info:
        run(loop, main())
    if PATCHED:
        assert "loop= must be the running loop" in str(info.value)


def test_wait_for_on_another_loop_fails_clearly(loop, other_loop):
    async def main():
        coro = add(1, 1)
        try:
            await asyncio.wait_for(coro, TIMEOUT, loop=other_loop)
        finally:
            coro.close()

    with pytest.raises(MISMATCH):
        run(loop, main())


def test_gather_on_another_loop_fails_clearly(loop, other_loop):
    async def main():
        fut = loop.create_future()
        fut.set_result(1)
        await asyncio.gather(fut, loop=other_loop)

    with pytest.raises(MISMATCH):
        run(loop, main())


def test_wait_on_another_loop_fails_clearly(loop, other_loop):
    async def main():
        fut = loop.create_future()
        fut.set_result(1)
        await asyncio.wait([fut], loop=other_loop)

    with pytest.raises(MISMATCH):
        run(loop, main())


def test_lock_bound_to_another_loop_fails_when_used(loop, other_loop):
    lock = asyncio.Lock(loop=other_loop)

    async def main():
        async with lock:  # uncontended: held right away
            # contended acquire has to wait on a future: that is where 3.7 failed too
            await asyncio.wait_for(lock.acquire(), TIMEOUT)

    with pytest.raises(MISMATCH):
        run(loop, main())


def test_queue_bound_to_another_loop_fails_when_used(loop, other_loop):
    queue = asyncio.Queue(loop=other_loop)

    async def main():
        await queue.get()  # empty: waits on a future

    with pytest.raises(MISMATCH):
        run(loop, main())


@pytest.mark.skipif(not PATCHED, reason="3.9 checks loop= itself")
def test_loop_must_be_a_loop(loop):
    with pytest.raises(TypeError, match="must be an event loop"):
        asyncio.sleep(0, loop="main loop")
    with pytest.raises(TypeError, match="must be an event loop"):
        asyncio.Lock(loop=42)
    with pytest.raises(TypeError, match="must be an event loop"):
        asyncio.gather(loop=object())


@pytest.mark.skipif(not PATCHED, reason="loop= is native on 3.9")
def test_loop_none_is_accepted_and_warned(loop):
    async def main():
        with pytest.warns(LegacyWarning):
            coro = asyncio.sleep(0, loop=None)
        await coro
        return asyncio.Lock(loop=None)

    assert isinstance(run(loop, main()), asyncio.Lock)


# -- submodule spellings (asyncio.tasks.sleep, asyncio.streams.start_server, ...) --


def test_submodule_spellings_take_loop(loop):
    async def main():
        slept = await asyncio.tasks.sleep(0, "s", loop=loop)
        waited = await asyncio.tasks.wait_for(add(1, 1), TIMEOUT, loop=loop)
        gathered = await asyncio.tasks.gather(add(1, 2), add(2, 2), loop=loop)
        shielded = await asyncio.tasks.shield(add(2, 3), loop=loop)
        completed = [await f for f in asyncio.tasks.as_completed([add(3, 3)], loop=loop)]
        done, _ = await asyncio.tasks.wait([add(3, 4)], loop=loop)
        lock = asyncio.locks.Lock(loop=loop)
        event = asyncio.locks.Event(loop=loop)
        semaphore = asyncio.locks.BoundedSemaphore(2, loop=loop)
        queue = asyncio.queues.Queue(loop=loop)
        lifo = asyncio.queues.LifoQueue(loop=loop)
        async with lock, semaphore:
            event.set()
            await event.wait()
            await queue.put(8)
            await lifo.put(9)
        return [slept, waited, gathered, shielded, completed, [t.result() for t in done], await queue.get(), await lifo.get()]

    assert run(loop, main()) == ["s", 2, [3, 4], 5, [6], [7], 8, 9]


def test_submodule_spelling_checks_the_loop(loop, other_loop):
    if not PATCHED:
        pytest.skip("3.9 checks loop= itself, with its own error")
    with pytest.raises(MISMATCH):
        run(loop, asyncio.tasks.sleep(0, loop=other_loop))


def test_streams_submodule_server_and_client_take_loop(loop):
    async def handle(reader, writer):
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.streams.start_server(handle, "127.0.0.1", 0, loop=loop)
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.streams.open_connection("127.0.0.1", port, loop=loop)
            writer.write(b"hello\n")
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return line
        finally:
            server.close()
            await server.wait_closed()

    assert run(loop, main()) == b"HELLO\n"


def test_submodule_spellings_are_restored_by_uninstall():
    patched = asyncio.tasks.sleep
    compat.uninstall()
    assert asyncio.tasks.sleep is asyncio.sleep
    if PATCHED:
        assert patched is not asyncio.tasks.sleep
        assert asyncio.streams.start_server.__module__ == "asyncio.streams"
        with pytest.raises(TypeError):
            asyncio.tasks.sleep(0, loop=None)
    compat.install()  # the fixture uninstalls
