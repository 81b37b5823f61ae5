"""``except Exception`` around awaits lost cancellation in 3.8 (issue 18).

Up to Python 3.7 ``asyncio.CancelledError`` was an ``Exception``; since 3.8
it is a ``BaseException``. The codemod notes each such handler in a
coroutine it converts and, under --unsafe-fixes, makes it also name
``CancelledError``.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

import libcst  # noqa: E402,F401  (the test extra installs it: a missing libcst fails, not skips)

from compat.codemod import inventory_source, transform_source  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 120


def run(before: str, unsafe: bool = False):
    result = transform_source(textwrap.dedent(before), "t.py", unsafe_fixes=unsafe)
    assert not result.failed, result.diagnostics
    compile(result.new, "t.py", "exec")
    return result, [d.format("t.py") for d in result.diagnostics]


SERVE = """\
    import asyncio

    @asyncio.coroutine
    def serve(conn):
        try:
            yield from conn.read()
        except Exception:
            conn.close()
    """


def test_note_without_unsafe_fixes_and_code_left_as_is():
    result, diags = run(SERVE)
    assert "    except Exception:\n" in result.new
    assert "await conn.read()" in result.new
    assert diags == [
        "t.py:7:5: note: `except Exception` around an await caught asyncio.CancelledError up to Python 3.7; "
        "since 3.8 CancelledError is a BaseException and the cancellation passes this handler "
        "(--unsafe-fixes makes it also name asyncio.CancelledError)"
    ]


def test_unsafe_fix_names_cancelled_error():
    result, diags = run(SERVE, unsafe=True)
    assert result.new == textwrap.dedent(
        """\
        import asyncio

        async def serve(conn):
            try:
                await conn.read()
            except (Exception, asyncio.CancelledError):
                conn.close()
        """
    )
    assert diags == [
        "t.py:7:5: note: unsafe fix: `except Exception` made to also name asyncio.CancelledError: "
        "up to Python 3.7 it caught the cancellation of the awaits in its try, since 3.8 it does not"
    ]


def test_unsafe_fix_keeps_the_name_and_extends_tuples():
    result, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        def serve(conn):
            try:
                yield from conn.read()
            except (OSError, Exception) as exc:
                log(exc)
            try:
                yield
            except Exception as exc:
                log(exc)
        """,
        unsafe=True,
    )
    assert "    except (OSError, Exception, asyncio.CancelledError) as exc:\n" in result.new
    assert "    except (Exception, asyncio.CancelledError) as exc:\n" in result.new
    assert [d.split(": note: ")[0] for d in diags] == ["t.py:6:5", "t.py:10:5"]


def test_module_alias_is_used():
    result, _ = run(
        """\
        import asyncio as aio
        @aio.coroutine
        def serve(conn):
            try:
                yield from conn.read()
            except Exception:
                pass
        """,
        unsafe=True,
    )
    assert "except (Exception, aio.CancelledError):" in result.new
    assert "import asyncio\n" not in result.new


def test_from_import_is_used():
    result, _ = run(
        """\
        from asyncio import coroutine, CancelledError
        @coroutine
        def serve(conn):
            try:
                yield from conn.read()
            except Exception:
                pass
        """,
        unsafe=True,
    )
    assert "except (Exception, CancelledError):" in result.new
    assert "import asyncio" not in result.new


def test_import_added_where_the_module_has_none():
    result, _ = run(
        """\
        from asyncio import coroutine
        @coroutine
        def serve(conn):
            try:
                yield from conn.read()
            except Exception:
                pass
        """,
        unsafe=True,
    )
    assert "except (Exception, asyncio.CancelledError):" in result.new
    assert result.new.startswith("import asyncio\nasync def serve(conn):\n")


def test_no_import_that_would_shadow():
    # ``asyncio`` is something else here: importing it would rebind that name
    result, diags = run(
        """\
        from asyncio import coroutine
        from .compat import loop_tools as asyncio
        @coroutine
        def serve(conn):
            try:
                yield from conn.read()
            except Exception:
                pass
        """,
        unsafe=True,
    )
    assert "    except Exception:\n" in result.new
    assert "import asyncio\n" not in result.new
    assert len(diags) == 1 and diags[0].endswith("(not rewritten: `asyncio` is bound to something else here)")


def test_no_fix_where_a_local_shadows_the_alias():
    result, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        def serve(conn, asyncio=None):
            try:
                yield from conn.read()
            except Exception:
                pass
        """,
        unsafe=True,
    )
    assert "    except Exception:\n" in result.new
    assert "not rewritten" in diags[0]


LEFT_ALONE = """\
    import asyncio
    @asyncio.coroutine
    def serve(conn):
        try:
            yield from conn.read()
        except:
            pass
        try:
            yield from conn.read()
        except BaseException:
            pass
        try:
            yield from conn.read()
        except (Exception, asyncio.CancelledError):
            pass
        try:
            yield from conn.read()
        except asyncio.CancelledError:
            raise
        except Exception:
            pass
        try:
            conn.parse()
        except Exception:
            pass
        try:
            yield from conn.read()
        finally:
            conn.close()
        def callback():
            try:
                conn.poll()
            except Exception:
                pass
        return callback

    def plain(conn):
        try:
            conn.parse()
        except Exception:
            pass

    def generator(conn):
        try:
            yield conn.parse()
        except Exception:
            pass
    """


@pytest.mark.parametrize("unsafe", [False, True])
def test_handlers_left_alone(unsafe):
    result, diags = run(LEFT_ALONE, unsafe=unsafe)
    assert "async def serve" in result.new
    assert "CancelledError)" not in result.new.replace("(Exception, asyncio.CancelledError)", "")
    assert result.new.count("except Exception:") == 5
    assert diags == []


def test_nested_coroutine_is_its_own_scope():
    result, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        def outer(conn):
            @asyncio.coroutine
            def inner():
                try:
                    yield from conn.read()
                except Exception:
                    pass
            try:
                conn.parse()
            except Exception:
                pass
            yield from inner()
        """,
        unsafe=True,
    )
    assert result.new == textwrap.dedent(
        """\
        import asyncio
        async def outer(conn):
            async def inner():
                try:
                    await conn.read()
                except (Exception, asyncio.CancelledError):
                    pass
            try:
                conn.parse()
            except Exception:
                pass
            await inner()
        """
    )
    assert [d.split(": note: ")[0] for d in diags] == ["t.py:8:9"]


def test_refused_coroutine_gets_no_note():
    result, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        def serve(conn):
            try:
                yield from conn.read()
            except Exception:
                pass
            yield 1
        """,
        unsafe=True,
    )
    assert result.new.startswith("import asyncio\n@asyncio.coroutine\n")
    assert not any("CancelledError" in d for d in diags)


def test_report_counts_them():
    entry = inventory_source(textwrap.dedent(SERVE), "t.py")
    assert entry["counts"]["cancellation"] == 1
    [finding] = [x for x in entry["findings"] if x["kind"] == "cancellation"]
    assert (finding["line"], finding["col"]) == (7, 5)
    assert "caught asyncio.CancelledError up to Python 3.7" in finding["detail"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "compat", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=TIMEOUT)


def test_cli_report_and_unsafe_fixes(tmp_path):
    f = tmp_path / "server.py"
    f.write_text(textwrap.dedent(SERVE))
    p = _cli("report", str(f))
    assert p.returncode == 0, p.stderr
    assert "1 except Exception no longer catching cancellation (3.8+)" in p.stdout
    assert "  except Exception no longer catching cancellation (3.8+): 1\n" in p.stdout
    data = json.loads(_cli("report", "--json", str(f)).stdout)
    assert data["totals"]["cancellation"] == 1
    p = _cli("codemod", "--write", str(f))
    assert p.returncode == 1, p.stderr
    assert f"{f}:7:5: note: `except Exception` around an await" in p.stderr
    assert "except Exception:" in f.read_text()
    f.write_text(textwrap.dedent(SERVE))
    p = _cli("codemod", "--write", "--unsafe-fixes", str(f))
    assert p.returncode == 1, p.stderr
    assert f"{f}:7:5: note: unsafe fix: `except Exception` made to also name asyncio.CancelledError" in p.stderr
    assert "1 unsafe fix" in p.stderr
    assert "except (Exception, asyncio.CancelledError):" in f.read_text()


def test_rewritten_handler_catches_cancellation_again():
    # the point of the fix: the rewritten coroutine behaves as on 3.7
    result, _ = run(
        """\
        import asyncio
        @asyncio.coroutine
        def worker(started, log):
            try:
                started.set_result(None)
                yield from asyncio.sleep(3600)
            except Exception as exc:
                log.append(type(exc).__name__)
            return "handled"
        """,
        unsafe=True,
    )
    ns = {}
    exec(compile(result.new, "t.py", "exec"), ns)

    async def main():
        log = []
        started = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(ns["worker"](started, log))
        await started
        task.cancel()
        return await task, log

    import asyncio
    assert asyncio.run(main()) == ("handled", ["CancelledError"])


def test_multiline_tuple_and_parenthesized_name():
    result, _ = run(
        """\
        import asyncio
        @asyncio.coroutine
        def serve(conn):
            try:
                yield from conn.read()
            except (
                OSError,
                Exception,
            ) as exc:
                pass
            try:
                yield from conn.read()
            except (Exception):
                pass
        """,
        unsafe=True,
    )
    assert "    except (\n        OSError,\n        Exception,\n        asyncio.CancelledError,\n    ) as exc:\n" in result.new
    assert "    except (Exception, asyncio.CancelledError):\n" in result.new


def test_async_with_and_for_bodies_await_too():
    # a decorated ``async def`` loses the decorator; only ``async with``/``async for`` await here
    result, diags = run(
        """\
        import asyncio
        @asyncio.coroutine
        async def serve(conn):
            while True:
                try:
                    async with conn:
                        pass
                except Exception:
                    pass
            try:
                async for item in conn:
                    pass
            except Exception:
                pass
        """,
        unsafe=True,
    )
    assert result.new.count("except (Exception, asyncio.CancelledError):") == 2
    assert len(diags) == 2
