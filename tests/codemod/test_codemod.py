"""Before/after pairs for every rewrite of the codemod (hard cases 1-17 included)."""
import textwrap


import libcst  # noqa: E402,F401  (the test extra installs it: a missing libcst fails, not skips)

from compat.codemod import transform_source  # noqa: E402


def rewrite(before: str) -> str:
    """Run the codemod; check the result compiles, is stable and refuses nothing."""
    result = transform_source(textwrap.dedent(before), "t.py")
    assert not result.failed, result.diagnostics
    refused = [d for d in result.diagnostics if d.kind == "refused"]
    assert not refused, refused
    compile(result.new, "t.py", "exec")
    again = transform_source(result.new, "t.py")
    assert again.new == result.new, "second run changed the file"
    return result.new


def check(before: str, after: str) -> None:
    assert rewrite(before) == textwrap.dedent(after)


# -- hard case 1: precedence ------------------------------------------------

def test_binary_operand_gets_parentheses():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def f(a, b):
            x = yield from a + b
            y = yield from a if b else None
            return x, y
        """,
        """\
        import asyncio
        async def f(a, b):
            x = await (a + b)
            y = await (a if b else None)
            return x, y
        """,
    )


def test_primary_operands_need_no_parentheses():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def f(a):
            yield from a
            yield from a.b
            yield from a[0]
            yield from a(1)
            return (yield from a.c())
        """,
        """\
        import asyncio
        async def f(a):
            await a
            await a.b
            await a[0]
            await a(1)
            return await a.c()
        """,
    )


def test_parentheses_kept_where_the_result_is_used_as_a_primary():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def f(a):
            x = (yield from a()).attr
            y = (yield from a())[0]
            z = (yield from a())()
            n = (yield from a()) + 1
            m = -(yield from a())
            return x, y, z, n, m
        """,
        """\
        import asyncio
        async def f(a):
            x = (await a()).attr
            y = (await a())[0]
            z = (await a())()
            n = await a() + 1
            m = -await a()
            return x, y, z, n, m
        """,
    )


def test_nested_yield_from_and_multiline_operand():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def f(a):
            x = yield from (yield from a())
            y = (yield from
                 a())
            z = yield from a(
                1,
            )
            return x, y, z
        """,
        """\
        import asyncio
        async def f(a):
            x = await (await a())
            y = (await
                 a())
            z = await a(
                1,
            )
            return x, y, z
        """,
    )


# -- hard case 2: bare yield -------------------------------------------------

def test_bare_yield_becomes_sleep_zero():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def spin():
            yield
            x = yield
            return x
        """,
        """\
        import asyncio
        async def spin():
            await asyncio.sleep(0)
            x = await asyncio.sleep(0)
            return x
        """,
    )


def test_bare_yield_imports_asyncio_when_missing():
    check(
        '''\
        """Doc."""
        from __future__ import annotations
        import os
        from asyncio import coroutine

        @coroutine
        def spin():
            yield
        ''',
        '''\
        """Doc."""
        from __future__ import annotations
        import os
        import asyncio

        async def spin():
            await asyncio.sleep(0)
        ''',
    )


# -- hard case 4: decorated function without yield --------------------------

def test_plain_function_returning_plain_value():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def double(x):
            if x is None:
                return
            return x * 2
        """,
        """\
        import asyncio
        async def double(x):
            if x is None:
                return
            return x * 2
        """,
    )


def test_plain_function_returning_provable_awaitable_gets_await():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def inner():
            yield from asyncio.sleep(0)
            return 1
        @asyncio.coroutine
        def outer(flag):
            if flag:
                return inner()
            return asyncio.sleep(0, 2)
        """,
        """\
        import asyncio
        async def inner():
            await asyncio.sleep(0)
            return 1
        async def outer(flag):
            if flag:
                return await inner()
            return await asyncio.sleep(0, 2)
        """,
    )


# -- hard case 5 and 14: helpers and wrappers convert with what they wrap ----

def test_helper_generator_only_awaited_is_converted():
    check(
        """\
        import asyncio
        def tick():
            yield
        def helper(n):
            yield from tick()
            return n
        @asyncio.coroutine
        def main():
            x = yield from helper(1)
            return x
        """,
        """\
        import asyncio
        async def tick():
            await asyncio.sleep(0)
        async def helper(n):
            await tick()
            return n
        async def main():
            x = await helper(1)
            return x
        """,
    )


def test_wrapper_converts_with_what_it_wraps():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def f(*a):
            yield from asyncio.sleep(0)
            return a
        def w(*a):
            return (yield from f(*a))
        def sleeper():
            yield from asyncio.sleep(0)
        """,
        """\
        import asyncio
        async def f(*a):
            await asyncio.sleep(0)
            return a
        async def w(*a):
            return await f(*a)
        async def sleeper():
            await asyncio.sleep(0)
        """,
    )


def test_stacked_decorators_keep_the_others():
    check(
        """\
        import asyncio
        import functools
        class C:
            @staticmethod
            @asyncio.coroutine
            def s():
                yield from asyncio.sleep(0)
            @asyncio.coroutine
            @functools.wraps(print)
            def m(self):
                yield from self.s()
        """,
        """\
        import asyncio
        import functools
        class C:
            @staticmethod
            async def s():
                await asyncio.sleep(0)
            @functools.wraps(print)
            async def m(self):
                await self.s()
        """,
    )


# -- hard case 7: generators that are not coroutines --------------------------

def test_plain_generators_are_left_alone_also_nested():
    check(
        """\
        import asyncio
        def numbers():
            yield 1
            yield from range(3)
        @asyncio.coroutine
        def main():
            def pairs():
                yield (1, 2)
            total = sum(a + b for a, b in pairs())
            yield from asyncio.sleep(0)
            return total + sum(numbers())
        """,
        """\
        import asyncio
        def numbers():
            yield 1
            yield from range(3)
        async def main():
            def pairs():
                yield (1, 2)
            total = sum(a + b for a, b in pairs())
            await asyncio.sleep(0)
            return total + sum(numbers())
        """,
    )


# -- hard case 8: asyncio.wait of bare coroutines ---------------------------

def test_wait_wraps_coroutines_and_drops_loop():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def main(loop, c1, c2, t):
            yield from asyncio.wait([c1(), c2(), t], loop=loop)
            yield from asyncio.wait({asyncio.ensure_future(c1())})
            yield from asyncio.wait([c1() for _ in range(3)])
        """,
        """\
        import asyncio
        async def main(loop, c1, c2, t):
            await asyncio.wait([asyncio.ensure_future(c1()), asyncio.ensure_future(c2()), t])
            await asyncio.wait({asyncio.ensure_future(c1())})
            await asyncio.wait([asyncio.ensure_future(c1()) for _ in range(3)])
        """,
    )


# -- hard case 9: locks -----------------------------------------------------

def test_with_yield_from_known_lock_is_async_with():
    check(
        """\
        import asyncio
        GLOBAL = asyncio.Semaphore(2)
        class Box:
            cond = asyncio.Condition()
            def __init__(self):
                self._lock = asyncio.Lock()
            @asyncio.coroutine
            def run(self):
                lock = asyncio.BoundedSemaphore()
                with (yield from lock):
                    pass
                with (yield from self._lock):
                    pass
                with (yield from GLOBAL):
                    pass
                with (yield from self.cond):
                    pass
        """,
        """\
        import asyncio
        GLOBAL = asyncio.Semaphore(2)
        class Box:
            cond = asyncio.Condition()
            def __init__(self):
                self._lock = asyncio.Lock()
            async def run(self):
                lock = asyncio.BoundedSemaphore()
                async with lock:
                    pass
                async with self._lock:
                    pass
                async with GLOBAL:
                    pass
                async with self.cond:
                    pass
        """,
    )


def test_bare_yield_from_lock_is_acquire():
    check(
        """\
        import asyncio
        lock = asyncio.Lock()
        @asyncio.coroutine
        def f():
            yield from lock
            try:
                pass
            finally:
                lock.release()
        """,
        """\
        import asyncio
        lock = asyncio.Lock()
        async def f():
            await lock.acquire()
            try:
                pass
            finally:
                lock.release()
        """,
    )


# -- hard case 10: module-level loop used once -------------------------------

def test_single_use_loop_becomes_asyncio_run():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def main():
            yield from asyncio.sleep(0)
        # run it
        loop = asyncio.get_event_loop()
        loop.run_until_complete(main())
        loop.close()
        """,
        """\
        import asyncio
        async def main():
            await asyncio.sleep(0)
        # run it
        asyncio.run(main())
        """,
    )


def test_single_use_loop_in_main_guard_with_try_finally():
    check(
        """\
        import asyncio
        async def main():
            return 1
        if __name__ == '__main__':
            loop = asyncio.get_event_loop()
            try:
                print(loop.run_until_complete(main()))
            finally:
                loop.close()
        """,
        """\
        import asyncio
        async def main():
            return 1
        if __name__ == '__main__':
            print(asyncio.run(main()))
        """,
    )


def test_local_loop_variables_elsewhere_do_not_count():
    check(
        """\
        import asyncio
        async def main():
            loop = asyncio.get_event_loop()
            return loop
        if __name__ == '__main__':
            loop = asyncio.get_event_loop()
            loop.run_until_complete(main())
        """,
        """\
        import asyncio
        async def main():
            loop = asyncio.get_event_loop()
            return loop
        if __name__ == '__main__':
            asyncio.run(main())
        """,
    )


def test_global_loop_used_in_a_function_is_kept():
    src = textwrap.dedent(
        """\
        import asyncio
        async def main():
            return 1
        def stop():
            loop.stop()
        loop = asyncio.get_event_loop()
        loop.run_until_complete(main())
        """
    )
    # not asyncio.run: the loop outlives the call; created explicitly (3.14)
    assert transform_source(src, "t.py").new == src.replace(
        "asyncio.get_event_loop()\n", "asyncio.new_event_loop()\nasyncio.set_event_loop(loop)\n")


def test_loop_used_more_than_once_is_kept():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def main(loop):
            yield from asyncio.sleep(0, loop=loop)
        loop = asyncio.get_event_loop()
        loop.run_until_complete(main(loop))
        loop.close()
        """,
        """\
        import asyncio
        async def main(loop):
            await asyncio.sleep(0)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main(loop))
        loop.close()
        """,
    )


# -- hard case 11: ensure_future spellings ------------------------------------

def test_task_creation_spellings_become_ensure_future():
    check(
        """\
        import asyncio
        from asyncio import Task
        def start(c, loop):
            a = asyncio.async(c())
            b = getattr(asyncio, 'async')(c())
            d = asyncio.Task(c())
            e = Task(c(), loop=loop)
            f = asyncio.Task(c(), name='x')
            ensure = getattr(asyncio, "async")
            return a, b, d, e, f, ensure
        """,
        """\
        import asyncio
        from asyncio import Task
        def start(c, loop):
            a = asyncio.ensure_future(c())
            b = asyncio.ensure_future(c())
            d = asyncio.ensure_future(c())
            e = asyncio.ensure_future(c(), loop=loop)
            f = asyncio.Task(c(), name='x')
            ensure = asyncio.ensure_future
            return a, b, d, e, f, ensure
        """,
    )


def test_task_class_methods_become_module_functions():
    check(
        """\
        import asyncio as aio
        def tasks():
            return aio.Task.current_task(), aio.Task.all_tasks()
        """,
        """\
        import asyncio as aio
        def tasks():
            return aio.current_task(), aio.all_tasks()
        """,
    )


# -- hard case 12: for over an awaited value --------------------------------

def test_for_over_yield_from_is_for_over_await():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def f(g):
            for x in (yield from g()):
                print(x)
        """,
        """\
        import asyncio
        async def f(g):
            for x in await g():
                print(x)
        """,
    )


# -- hard case 13: decorator aliases -------------------------------------------

def test_decorator_aliases_and_unused_import_removed():
    check(
        """\
        import asyncio as aio
        import types
        from asyncio import coroutine as co, sleep
        @aio.coroutine
        def a():
            yield from sleep(0)
        @co
        def b():
            yield from a()
        @types.coroutine
        def c():
            yield
        """,
        """\
        import asyncio as aio
        import types
        from asyncio import sleep
        async def a():
            await sleep(0)
        async def b():
            await a()
        @types.coroutine
        def c():
            yield
        """,
    )


def test_decorator_import_kept_while_still_used():
    check(
        """\
        from asyncio import coroutine
        @coroutine
        def a():
            yield from b()
        DECORATORS = [coroutine]
        """,
        """\
        from asyncio import coroutine
        async def a():
            await b()
        DECORATORS = [coroutine]
        """,
    )


# -- hard case 17: Return / StopIteration --------------------------------------

def test_raise_return_and_stop_iteration_become_return():
    check(
        """\
        import asyncio
        from trollius import Return
        @asyncio.coroutine
        def f(x):
            yield from asyncio.sleep(0)
            if x:
                raise Return(x)
            if x is None:
                raise StopIteration(None)
            raise Return
        """,
        """\
        import asyncio
        from trollius import Return
        async def f(x):
            await asyncio.sleep(0)
            if x:
                return x
            if x is None:
                return None
            return
        """,
    )


# -- the other rewrites ---------------------------------------------------------

def test_half_migrated_function_is_repaired():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def f():
            await asyncio.sleep(0)
            x = yield from asyncio.sleep(0, 1)
            return x
        @asyncio.coroutine
        async def g():
            await f()
        """,
        """\
        import asyncio
        async def f():
            await asyncio.sleep(0)
            x = await asyncio.sleep(0, 1)
            return x
        async def g():
            await f()
        """,
    )


def test_loop_argument_removed_only_where_310_removed_it():
    check(
        """\
        import asyncio
        def f(loop, other):
            a = asyncio.Queue(loop=loop)
            b = asyncio.Event(loop=loop, )
            c = asyncio.wait_for(other, 1, loop=loop)
            d = asyncio.gather(
                other,
                loop=loop,
            )
            e = asyncio.Lock(
                loop=loop)
            g = asyncio.Future(loop=loop)
            h = asyncio.ensure_future(other, loop=loop)
            i = other.call(loop=loop)
            j = asyncio.sleep(1, loop=loop, result=2)
            return a, b, c, d, e, g, h, i, j
        """,
        """\
        import asyncio
        def f(loop, other):
            a = asyncio.Queue()
            b = asyncio.Event()
            c = asyncio.wait_for(other, 1)
            d = asyncio.gather(
                asyncio.ensure_future(other, loop=loop),
            )
            e = asyncio.Lock(
                )
            g = asyncio.Future(loop=loop)
            h = asyncio.ensure_future(other, loop=loop)
            i = other.call(loop=loop)
            j = asyncio.sleep(1, result=2)
            return a, b, c, d, e, g, h, i, j
        """,
    )


def test_streams_and_subprocess_lose_loop():
    check(
        """\
        import asyncio
        from asyncio import open_connection
        import asyncio.subprocess
        def f(loop):
            open_connection('h', 1, loop=loop)
            asyncio.start_server(print, 'h', 1, loop=loop)
            asyncio.subprocess.create_subprocess_exec('ls', loop=loop)
            asyncio.create_subprocess_shell('ls', loop=loop)
        """,
        """\
        import asyncio
        from asyncio import open_connection
        import asyncio.subprocess
        def f(loop):
            open_connection('h', 1)
            asyncio.start_server(print, 'h', 1)
            asyncio.subprocess.create_subprocess_exec('ls')
            asyncio.create_subprocess_shell('ls')
        """,
    )


def test_comments_blank_lines_and_quotes_survive():
    check(
        '''\
        import asyncio  # the loop


        # A comment before the decorator.
        @asyncio.coroutine  # legacy decorator
        def fetch(url):
            """Docstring with 'quotes'."""
            # comment in the body

            data = yield from get(url, 'single', "double")  # trailing
            return data + r\'\'\'raw\'\'\'
        ''',
        '''\
        import asyncio  # the loop


        # A comment before the decorator.
        # legacy decorator
        async def fetch(url):
            """Docstring with 'quotes'."""
            # comment in the body

            data = await get(url, 'single', "double")  # trailing
            return data + r\'\'\'raw\'\'\'
        ''',
    )


def test_async_used_as_a_name_is_renamed_with_a_note():
    result = transform_source("def f(async=False):\n    return g(async=async)\n", "t.py")
    assert result.new == "def f(async_=False):\n    return g(async_=async_)\n"
    notes = [d for d in result.diagnostics if d.kind == "note"]
    assert [(d.line, d.col) for d in notes] == [(1, 7), (2, 14), (2, 20)]
    compile(result.new, "t.py", "exec")


def test_from_asyncio_import_async():
    check(
        """\
        from asyncio import async, sleep
        def f(c):
            return async(c())
        """,
        """\
        from asyncio import ensure_future, sleep
        def f(c):
            return ensure_future(c())
        """,
    )


def test_crlf_newlines_survive():
    src = "import asyncio\r\n@asyncio.coroutine\r\ndef f():\r\n    yield from g()\r\n"
    out = transform_source(src, "t.py").new
    assert out == "import asyncio\r\nasync def f():\r\n    await g()\r\n"


def test_untouched_file_is_returned_as_is():
    src = "import asyncio\n\nasync def f():\n    await asyncio.sleep(0)  # modern\n"
    result = transform_source(src, "t.py")
    assert not result.changed and result.new == src and not result.diagnostics


def test_decisions_are_per_function():
    src = textwrap.dedent(
        """\
        import asyncio
        @asyncio.coroutine
        def good():
            yield from asyncio.sleep(0)
        @asyncio.coroutine
        def bad():
            yield asyncio.sleep(0)
        """
    )
    result = transform_source(src, "t.py")
    assert "async def good" in result.new
    assert "@asyncio.coroutine\ndef bad():\n    yield asyncio.sleep(0)\n" in result.new
    assert [d.format("t.py") for d in result.diagnostics] == [
        "t.py:7:5: refused: bare `yield <value>` in a coroutine (Tornado/Trollius style): cannot tell what it waits for"
    ]
