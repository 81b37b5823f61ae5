"""``with (yield from x)`` and module-level loops (issue 18, point 3)."""
import textwrap


import libcst  # noqa: E402,F401  (the test extra installs it: a missing libcst fails, not skips)

from compat.codemod import transform_source  # noqa: E402


def run(before: str, unsafe: bool = False):
    result = transform_source(textwrap.dedent(before), "t.py", unsafe_fixes=unsafe)
    assert not result.failed, result.diagnostics
    compile(result.new, "t.py", "exec")
    return result, [d.format("t.py") for d in result.diagnostics]


LOCK_PARAMETER = """\
    import asyncio
    @asyncio.coroutine
    def critical(lock, n):
        with (yield from lock):
            return n
    class Worker:
        def __init__(self):
            self._lock = asyncio.Lock()
        @asyncio.coroutine
        def step(self, guard):
            with (yield from guard):
                return (yield from critical(self._lock, 1))
        @asyncio.coroutine
        def run(self):
            yield from self.step(self._lock)
            yield from self.step(guard=asyncio.Semaphore())
    @asyncio.coroutine
    def main():
        lock = asyncio.Lock()
        yield from critical(lock, 2)
    """


def test_lock_through_parameters_every_call_site_passes_one():
    result, diags = run(LOCK_PARAMETER)
    assert diags == []
    assert result.new.count("async with") == 2
    assert "with (yield from" not in result.new


def test_parameter_given_something_else_at_one_site_is_refused():
    source = textwrap.dedent(LOCK_PARAMETER) + "@asyncio.coroutine\ndef other(thing):\n    yield from critical(thing, 3)\n"
    result, diags = run(source)
    assert diags == [
        "t.py:4:11: refused: `with (yield from x)` where x is not known to be an asyncio "
        "Lock/Semaphore/Condition (--unsafe-fixes converts it)",
    ]


def test_parameter_of_a_function_passed_around_is_not_known():
    _, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        def critical(lock):
            with (yield from lock):
                pass
        callbacks = [critical]
        """
    )
    assert [d.split(": refused: ")[0] for d in diags] == ["t.py:4:11"]


def test_unsafe_fixes_convert_the_rest_and_list_them():
    result, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        def f(pool):
            with (yield from pool) as conn:
                return conn
        """,
        unsafe=True,
    )
    assert result.new == textwrap.dedent(
        """\
        import asyncio
        async def f(pool):
            async with pool as conn:
                return conn
        """
    )
    assert diags == [
        "t.py:4:11: note: unsafe fix: `with (yield from x)` made `async with x` though x is not "
        "known to be an asyncio lock"
    ]


# -- module-level get_event_loop() -----------------------------------------

def test_main_guard_loop_passed_around_gets_a_new_loop():
    result, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        def handle(reader, writer):
            writer.close()
        if __name__ == "__main__":
            loop = asyncio.get_event_loop()
            server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, loop=loop))
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()
        """
    )
    assert diags == []
    assert result.new == textwrap.dedent(
        """\
        import asyncio
        async def handle(reader, writer):
            writer.close()
        if __name__ == "__main__":
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()
        """
    )
    exec(compile(result.new.replace('"__main__"', '__name__'), "t.py", "exec"), {"__name__": "t"})


def test_library_module_level_loop_is_reported():
    result, diags = run(
        """\
        import asyncio
        loop = asyncio.get_event_loop()
        queue = asyncio.Queue(loop=loop)
        """
    )
    assert diags == [
        "t.py:2:8: refused: asyncio.get_event_loop() at module level raises RuntimeError from 3.14 "
        "when no loop is set: create the loop where the program starts (asyncio.new_event_loop() "
        "and set_event_loop(), or asyncio.run())"
    ]


def test_loop_of_a_program_without_main_guard_and_nested_in_one():
    result, diags = run(
        """\
        import asyncio, sys
        @asyncio.coroutine
        def main():
            yield from asyncio.sleep(0)
        if __name__ == "__main__":
            if sys.platform == "win32":
                loop = asyncio.ProactorEventLoop()
                asyncio.set_event_loop(loop)
            else:
                loop = asyncio.get_event_loop()
            try:
                loop.run_until_complete(main())
            finally:
                loop.close()
        """
    )
    assert diags == []
    assert "        loop = asyncio.new_event_loop()\n        asyncio.set_event_loop(loop)\n" in result.new


def test_loop_of_a_main_function_called_under_the_guard():
    result, diags = run(
        """\
        import asyncio, os
        @asyncio.coroutine
        def start():
            yield from asyncio.sleep(0)
        def main():
            if os.name == "nt":
                loop = asyncio.ProactorEventLoop()
                asyncio.set_event_loop(loop)
            else:
                loop = asyncio.get_event_loop()
            loop.run_until_complete(start())
            loop.close()
        def helper():
            loop = asyncio.get_event_loop()
            return loop.run_until_complete(start())
        if __name__ == "__main__":
            main()
        """
    )
    assert diags == []
    assert result.new.count("asyncio.new_event_loop()") == 1
    assert "        loop = asyncio.new_event_loop()\n        asyncio.set_event_loop(loop)\n" in result.new
    # helper() is called from nowhere known: left as it is
    assert "def helper():\n    loop = asyncio.get_event_loop()\n" in result.new
