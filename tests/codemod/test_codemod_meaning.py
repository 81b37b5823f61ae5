"""Shapes where a rewrite used to change what the program does (issue 18, point 1).

Each case is a small before/after written here; where the meaning is the
point, the rewritten module is also run on this interpreter.
"""
import asyncio
import textwrap


import libcst  # noqa: E402,F401  (the test extra installs it: a missing libcst fails, not skips)

from compat.codemod import transform_source  # noqa: E402


def rewrite(before: str) -> str:
    result = transform_source(textwrap.dedent(before), "t.py")
    assert not result.failed, result.diagnostics
    refused = [d for d in result.diagnostics if d.kind == "refused"]
    assert not refused, refused
    compile(result.new, "t.py", "exec")
    assert transform_source(result.new, "t.py").new == result.new, "second run changed the file"
    return result.new


def check(before: str, after: str) -> str:
    new = rewrite(before)
    assert new == textwrap.dedent(after)
    return new


def execute(source: str) -> dict:
    namespace: dict = {"__name__": "rewritten"}
    exec(compile(source, "t.py", "exec"), namespace)
    return namespace


# -- dunder protocol methods keep their protocol -----------------------------

AWAITABLE_VIEW = """\
    import asyncio
    class View:
        @asyncio.coroutine
        def __iter__(self):
            yield from asyncio.sleep(0)
            return "viewed"
        def __await__(self):
            return (yield from self.__iter__())
    @asyncio.coroutine
    def main():
        return (yield from View())
    """


def test_decorated_iter_stays_a_generator_delegating_with_await():
    new = check(
        AWAITABLE_VIEW,
        """\
        import asyncio
        class View:
            def __iter__(self):
                yield from asyncio.sleep(0).__await__()
                return "viewed"
            def __await__(self):
                return (yield from self.__iter__())
        async def main():
            return await View()
        """,
    )
    assert asyncio.run(execute(new)["main"]()) == "viewed"


def test_undecorated_await_delegating_to_a_converted_coroutine():
    new = check(
        """\
        import asyncio
        @asyncio.coroutine
        def serve():
            yield from asyncio.sleep(0)
            return "server"
        class Serve:
            def __init__(self):
                self.server = serve()
            def __await__(self):
                return (yield from self.server)
            __iter__ = __await__
        @asyncio.coroutine
        def main():
            return (yield from Serve())
        """,
        """\
        import asyncio
        async def serve():
            await asyncio.sleep(0)
            return "server"
        class Serve:
            def __init__(self):
                self.server = serve()
            def __await__(self):
                return (yield from self.server.__await__())
            __iter__ = __await__
        async def main():
            return await Serve()
        """,
    )
    assert asyncio.run(execute(new)["main"]()) == "server"


def test_undecorated_iter_and_await_of_a_pool():
    new = check(
        """\
        import asyncio
        class Pool:
            @asyncio.coroutine
            def acquire(self):
                yield from asyncio.sleep(0)
                return "conn"
            def __iter__(self):
                conn = yield from self.acquire()
                return [conn]
            __await__ = __iter__
        @asyncio.coroutine
        def main(pool):
            conn = yield from pool
            return conn
        """,
        """\
        import asyncio
        class Pool:
            async def acquire(self):
                await asyncio.sleep(0)
                return "conn"
            def __iter__(self):
                conn = yield from self.acquire().__await__()
                return [conn]
            __await__ = __iter__
        async def main(pool):
            conn = await pool
            return conn
        """,
    )
    ns = execute(new)
    assert asyncio.run(ns["main"](ns["Pool"]())) == ["conn"]


def test_await_delegating_to_a_plain_generator_is_left_alone():
    check(
        """\
        import asyncio
        class Ready:
            def _wait(self):
                yield
                return 1
            def __await__(self):
                return (yield from self._wait())
        """,
        """\
        import asyncio
        class Ready:
            def _wait(self):
                yield
                return 1
            def __await__(self):
                return (yield from self._wait())
        """,
    )


def test_decorated_aiter_becomes_a_plain_method():
    new = check(
        """\
        import asyncio
        class Ticker:
            def __init__(self):
                self.n = 0
            @asyncio.coroutine
            def __aiter__(self):
                return self
            @asyncio.coroutine
            def __anext__(self):
                yield from asyncio.sleep(0)
                self.n += 1
                if self.n > 2:
                    raise StopAsyncIteration
                return self.n
        """,
        """\
        import asyncio
        class Ticker:
            def __init__(self):
                self.n = 0
            def __aiter__(self):
                return self
            async def __anext__(self):
                await asyncio.sleep(0)
                self.n += 1
                if self.n > 2:
                    raise StopAsyncIteration
                return self.n
        """,
    )
    ns = execute(new)

    async def collect():
        return [n async for n in ns["Ticker"]()]

    assert asyncio.run(collect()) == [1, 2]


def test_coroutine_decorated_enter_is_refused():
    result = transform_source(textwrap.dedent(
        """\
        import asyncio
        class Guard:
            @asyncio.coroutine
            def __enter__(self):
                yield from asyncio.sleep(0)
                return self
        """), "t.py")
    assert not result.changed
    assert [d.format("t.py") for d in result.diagnostics] == [
        "t.py:4:5: refused: __enter__() is a protocol method: as `async def` it would return a coroutine"
    ]


# -- a plain generator delegating to a converted callee ----------------------

def test_callee_of_a_value_yielding_generator_is_not_converted():
    result = transform_source(textwrap.dedent(
        """\
        import asyncio
        @asyncio.coroutine
        def fetch():
            yield from asyncio.sleep(0)
            return 1
        def pipeline():
            x = yield from fetch()
            yield x
        """), "t.py")
    assert not result.changed
    assert [d.format("t.py") for d in result.diagnostics] == [
        "t.py:3:1: refused: fetch() is delegated to by plain generator pipeline() (line 7), "
        "which stays a generator"
    ]


def test_iter_of_a_plain_container_is_left_alone():
    check(
        """\
        import asyncio
        class Bag:
            def __init__(self, items):
                self.items = items
            def __iter__(self):
                yield from self.items
                yield from sorted(self.items)
        @asyncio.coroutine
        def main():
            yield from asyncio.sleep(0)
        """,
        """\
        import asyncio
        class Bag:
            def __init__(self, items):
                self.items = items
            def __iter__(self):
                yield from self.items
                yield from sorted(self.items)
        async def main():
            await asyncio.sleep(0)
        """,
    )


# -- asyncio.wait over coroutines held in a variable -------------------------

def test_wait_over_a_variable_wraps_each_element():
    new = check(
        """\
        import asyncio
        @asyncio.coroutine
        def job(n):
            yield from asyncio.sleep(0)
            return n
        @asyncio.coroutine
        def main():
            tasks = [job(n) for n in range(3)]
            done, pending = yield from asyncio.wait(tasks)
            return sorted(t.result() for t in done)
        """,
        """\
        import asyncio
        async def job(n):
            await asyncio.sleep(0)
            return n
        async def main():
            tasks = [job(n) for n in range(3)]
            done, pending = await asyncio.wait([asyncio.ensure_future(aw) for aw in tasks])
            return sorted(t.result() for t in done)
        """,
    )
    assert asyncio.run(execute(new)["main"]()) == [0, 1, 2]


# -- loop= where no loop runs ------------------------------------------------

def test_gather_with_loop_outside_a_coroutine_binds_each_awaitable():
    new = check(
        """\
        import asyncio
        @asyncio.coroutine
        def job(n):
            yield from asyncio.sleep(0, loop=None)
            return n
        def main(more):
            loop = asyncio.new_event_loop()
            try:
                first = loop.run_until_complete(asyncio.gather(job(1), job(2), loop=loop))
                rest = loop.run_until_complete(asyncio.gather(*[job(n) for n in more], loop=loop,
                                                              return_exceptions=True))
                one = loop.run_until_complete(asyncio.shield(job(5), loop=loop))
                return first + rest + [one]
            finally:
                loop.close()
        """,
        """\
        import asyncio
        async def job(n):
            await asyncio.sleep(0)
            return n
        def main(more):
            loop = asyncio.new_event_loop()
            try:
                first = loop.run_until_complete(asyncio.gather(asyncio.ensure_future(job(1), loop=loop), asyncio.ensure_future(job(2), loop=loop)))
                rest = loop.run_until_complete(asyncio.gather(*[asyncio.ensure_future(aw, loop=loop) for aw in [job(n) for n in more]], return_exceptions=True))
                one = loop.run_until_complete(asyncio.shield(asyncio.ensure_future(job(5), loop=loop)))
                return first + rest + [one]
            finally:
                loop.close()
        """,
    )
    assert execute(new)["main"]([3, 4]) == [1, 2, 3, 4, 5]


def test_gather_with_loop_inside_a_coroutine_only_drops_it():
    check(
        """\
        import asyncio
        @asyncio.coroutine
        def main(loop, a, b):
            return (yield from asyncio.gather(a(), b(), loop=loop))
        """,
        """\
        import asyncio
        async def main(loop, a, b):
            return await asyncio.gather(a(), b())
        """,
    )
