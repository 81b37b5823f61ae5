"""Every refusal: the function is left as it was and reported as path:line:col: reason."""
import textwrap


import libcst  # noqa: E402,F401  (the test extra installs it: a missing libcst fails, not skips)

from compat.codemod import transform_source  # noqa: E402


def refused(before: str, *function_names: str):
    """Run the codemod; the named functions must stay as they were."""
    src = textwrap.dedent(before)
    result = transform_source(src, "t.py")
    assert not result.failed, result.diagnostics
    for name in function_names:
        assert f"def {name}(" in result.new and f"async def {name}(" not in result.new
    again = transform_source(result.new, "t.py")
    assert again.new == result.new
    return result, [d.format("t.py") for d in result.diagnostics if d.kind == "refused"]


def test_bare_yield_value_is_refused():  # hard case 3
    result, diags = refused(
        """\
        import asyncio
        @asyncio.coroutine
        def tornado_style(fut):
            x = yield fut
            return x
        """,
        "tornado_style",
    )
    assert not result.changed
    assert diags == [
        "t.py:4:9: refused: bare `yield <value>` in a coroutine (Tornado/Trollius style): cannot tell what it waits for"
    ]


def test_unprovable_return_value_is_refused():  # hard case 4
    result, diags = refused(
        """\
        import asyncio
        @asyncio.coroutine
        def maybe(x):
            return make(x)
        """,
        "maybe",
    )
    assert not result.changed
    assert diags == [
        "t.py:4:5: refused: return value of a coroutine without `yield`: cannot prove whether it is awaitable"
    ]


def test_generator_both_iterated_and_awaited_is_refused():  # hard case 5
    result, diags = refused(
        """\
        import asyncio
        def helper():
            yield from asyncio.sleep(0)
        def numbers():
            yield 1
        @asyncio.coroutine
        def main():
            yield from numbers()
        for n in numbers():
            print(n)
        """,
        "main",
    )
    assert diags == ["t.py:8:5: refused: numbers() is a generator that is both iterated and awaited"]
    assert "async def helper():" in result.new  # decided per function


def test_yield_from_plain_generator_is_refused():
    _, diags = refused(
        """\
        import asyncio
        def numbers():
            yield 1
        @asyncio.coroutine
        def main():
            yield from numbers()
        """,
        "main",
    )
    assert diags == ["t.py:6:5: refused: `yield from numbers()`: a plain generator (it yields values), not a coroutine"]


def test_yield_from_plain_iterable_is_refused():  # hard case 6
    result, diags = refused(
        """\
        import asyncio
        @asyncio.coroutine
        def a():
            yield from [1, 2]
        @asyncio.coroutine
        def b(n):
            yield from range(n)
        @asyncio.coroutine
        def c(n):
            it = iter([n])
            yield from it
        """,
        "a", "b", "c",
    )
    assert not result.changed
    assert diags == [
        "t.py:4:5: refused: `yield from` a plain iterable inside a coroutine",
        "t.py:7:5: refused: `yield from range(...)`: a plain iterable inside a coroutine",
        "t.py:11:5: refused: `yield from` a plain iterable inside a coroutine",
    ]


def test_with_yield_from_unknown_object_is_refused():  # hard case 9
    result, diags = refused(
        """\
        import asyncio
        @asyncio.coroutine
        def f(thing):
            with (yield from thing):
                pass
        """,
        "f",
    )
    assert not result.changed
    assert diags == [
        "t.py:4:11: refused: `with (yield from x)` where x is not known to be an asyncio Lock/Semaphore/Condition (--unsafe-fixes converts it)"
    ]


def test_lock_reassigned_to_something_else_is_not_known():
    _, diags = refused(
        """\
        import asyncio
        lock = asyncio.Lock()
        lock = make_lock()
        @asyncio.coroutine
        def f():
            with (yield from lock):
                pass
        """,
        "f",
    )
    assert len(diags) == 1 and "not known to be an asyncio Lock" in diags[0]


def test_with_mixing_lock_and_plain_context_manager_is_refused():
    _, diags = refused(
        """\
        import asyncio
        lock = asyncio.Lock()
        @asyncio.coroutine
        def f():
            with (yield from lock), open('x') as fh:
                pass
        """,
        "f",
    )
    assert diags == ["t.py:5:5: refused: `with` mixing `(yield from lock)` and plain context managers: split it by hand"]


def test_yield_from_in_comprehension_is_refused_and_the_rest_converted():  # hard case 15
    result, diags = refused(
        """\
        import asyncio
        @asyncio.coroutine
        def gather_all(f, xs):
            return [(yield from f(x)) for x in xs]
        @asyncio.coroutine
        def fine():
            yield from asyncio.sleep(0)
        """,
        "gather_all",
    )
    assert diags == [
        "t.py:4:14: refused: `yield` inside a comprehension is a SyntaxError since Python 3.8: rewrite it as a loop"
    ]
    assert "async def fine():\n    await asyncio.sleep(0)\n" in result.new


def test_coroutines_driven_by_hand_are_refused():  # hard case 16
    result, diags = refused(
        """\
        import asyncio
        import inspect
        @asyncio.coroutine
        def stepped():
            yield from asyncio.sleep(0)
        @asyncio.coroutine
        def sent():
            yield from asyncio.sleep(0)
        @asyncio.coroutine
        def checked():
            yield from asyncio.sleep(0)
        @asyncio.coroutine
        def fine():
            yield from asyncio.sleep(0)
        def driver():
            next(stepped())
            c = sent()
            c.send(None)
            return inspect.isgeneratorfunction(checked)
        """,
        "stepped", "sent", "checked",
    )
    assert "async def fine():" in result.new
    assert diags == [
        "t.py:16:5: refused: coroutine stepped() is driven by hand (next/send/iteration/isgenerator); not converted",
        "t.py:18:5: refused: coroutine sent() is driven by hand (next/send/iteration/isgenerator); not converted",
        "t.py:19:12: refused: coroutine checked() is driven by hand (next/send/iteration/isgenerator); not converted",
    ]


def test_caller_of_refused_helper_is_refused_too():
    _, diags = refused(
        """\
        import asyncio
        def helper():
            yield from asyncio.sleep(0)
            yield from [1]
        @asyncio.coroutine
        def main():
            yield from helper()
        """,
        "helper", "main",
    )
    assert diags == [
        "t.py:4:5: refused: `yield from` a plain iterable inside a coroutine",
        "t.py:7:5: refused: `yield from helper()`: that helper could not be converted",
    ]


def test_refused_function_keeps_its_decorator_import():
    result, _ = refused(
        """\
        from asyncio import coroutine
        @coroutine
        def old(fut):
            yield fut
        @coroutine
        def new():
            yield from old(1)
        """,
        "old",
    )
    assert result.new.startswith("from asyncio import coroutine\n")
    assert "async def new():\n    await old(1)\n" in result.new


def test_unparseable_file_is_an_error_not_a_crash():
    result = transform_source("def f(:\n", "t.py")
    assert result.failed and not result.changed
    assert result.diagnostics[0].format("t.py").startswith("t.py:1:")


def test_direct_call_of_asyncio_coroutine_is_reported():
    _, diags = refused(
        """\
        import asyncio
        def plain():
            return 1
        wrapped = asyncio.coroutine(plain)
        """,
    )
    assert diags == [
        "t.py:4:11: refused: asyncio.coroutine() called directly (gone in 3.11): rewrite the function as async def by hand"
    ]
