"""Nothing skipped silently: star imports, imports inside try/if (issue 18, point 2)."""
import textwrap


import libcst  # noqa: E402,F401  (the test extra installs it: a missing libcst fails, not skips)

from compat.codemod import transform_source  # noqa: E402
from compat.codemod.prepass import prepass  # noqa: E402


def rewrite(before: str) -> str:
    result = transform_source(textwrap.dedent(before), "t.py")
    assert not result.failed, result.diagnostics
    assert not [d for d in result.diagnostics if d.kind == "refused"], result.diagnostics
    compile(result.new, "t.py", "exec")
    assert transform_source(result.new, "t.py").new == result.new
    return result.new


def check(before: str, after: str) -> None:
    assert rewrite(before) == textwrap.dedent(after)


def test_star_import_from_asyncio():
    check(
        """\
        from asyncio import *
        @coroutine
        def main(loop):
            yield from sleep(0, loop=loop)
            t = async(main(loop))
            yield from wait([main(loop)])
            with (yield from Lock()):
                pass
        """,
        """\
        from asyncio import *
        async def main(loop):
            await sleep(0)
            t = ensure_future(main(loop))
            await wait([ensure_future(main(loop))])
            async with Lock():
                pass
        """,
    )


def test_star_import_does_not_capture_the_modules_own_names():
    check(
        """\
        from asyncio import *
        def sleep(n):
            return n
        def f():
            return sleep(1, loop=None)
        """,
        """\
        from asyncio import *
        def sleep(n):
            return n
        def f():
            return sleep(1, loop=None)
        """,
    )


def test_prepass_renames_async_call_after_star_import():
    text, changes = prepass("from asyncio import *\nt = async(f())\n")
    assert text == "from asyncio import *\nt = ensure_future(f())\n"
    assert changes == [(2, 5, "asyncio.async() is ensure_future()")]


def test_import_inside_try_except_import_error():
    check(
        """\
        try:
            import asyncio
        except ImportError:
            import trollius as asyncio
        @asyncio.coroutine
        def main():
            yield from asyncio.sleep(0)
        """,
        """\
        try:
            import asyncio
        except ImportError:
            import trollius as asyncio
        async def main():
            await asyncio.sleep(0)
        """,
    )


def test_import_inside_if_and_from_import_alias():
    check(
        """\
        import sys
        if sys.version_info >= (3, 4):
            from asyncio import coroutine as co, sleep as nap
        @co
        def main():
            yield from nap(0)
        """,
        """\
        import sys
        if sys.version_info >= (3, 4):
            from asyncio import sleep as nap
        async def main():
            await nap(0)
        """,
    )
