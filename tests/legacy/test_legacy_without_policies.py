"""install() and `compat run` on an asyncio without the event loop policy API (what 3.16 removes).

Each case runs in a subprocess that first deletes the public policy names
from ``asyncio`` (and ``asyncio.events``) and makes touching one an error.
Only on 3.14+: before, the policy is asyncio's documented API and compat
reads it.
"""
import os
import subprocess
import sys
import textwrap

import pytest
from support import COMPAT_WARNINGS_FAIL

import compat

pytestmark = [pytest.mark.skipif(sys.version_info < (3, 14), reason="policies are the documented API before 3.14"), *COMPAT_WARNINGS_FAIL]

TIMEOUT = 60

NO_POLICIES = textwrap.dedent(
    """\
    import asyncio, asyncio.events, sys, warnings
    GONE = ("get_event_loop_policy", "set_event_loop_policy", "DefaultEventLoopPolicy", "AbstractEventLoopPolicy")
    for module in (asyncio, asyncio.events):
        for name in GONE:
            module.__dict__.pop(name, None)
    stock_getattr = asyncio.__dict__.get("__getattr__")
    def gone(name):
        if name in GONE or "Policy" in name:
            raise AttributeError(f"module 'asyncio' has no attribute {name!r} (removed in 3.16)")
        if stock_getattr is None:
            raise AttributeError(name)
        return stock_getattr(name)
    asyncio.__getattr__ = gone
    # compat is imported only now, as on 3.16; its own warnings are errors.
    import compat
    warnings.simplefilter("error", DeprecationWarning)
    warnings.simplefilter("ignore", category=compat.LegacyWarning)
    """
)

PROGRAM = textwrap.dedent(
    """\
    import asyncio

    @asyncio.coroutine
    def add(x, y, loop):
        yield from asyncio.tasks.sleep(0, loop=loop)
        return x + y

    def plain(loop):  # undecorated helper
        return (yield from add(1, 1, loop))

    @asyncio.coroutine
    def main(loop):
        lock = asyncio.Lock(loop=loop)
        with (yield from lock):
            two = yield from plain(loop)
        done, _ = yield from asyncio.wait([add(2, 3, loop)], loop=loop)
        return two, [t.result() for t in done], len(asyncio.Task.all_tasks()) >= 1

    loop = asyncio.get_event_loop()
    print(loop.run_until_complete(main(loop)))
    loop.close()
    asyncio.run(asyncio.sleep(0))
    loop = asyncio.get_event_loop()  # after asyncio.run(): a new one again
    print(loop.run_until_complete(main(loop)))
    asyncio.set_event_loop(None)
    loop = asyncio.get_event_loop()  # and after set_event_loop(None)
    print(loop.run_until_complete(main(loop)))
    loop.close()
    """
)

EXPECTED = ["(2, [5], True)"] * 3


def run(tmp_path, launcher):
    (tmp_path / "no_policies.py").write_text(NO_POLICIES)
    (tmp_path / "legacy_program.py").write_text(PROGRAM)
    root = os.path.dirname(os.path.dirname(os.path.abspath(compat.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), root, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-c", launcher],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=str(tmp_path),
    )


def test_the_simulation_removes_the_names(tmp_path):
    done = run(tmp_path, "import no_policies, asyncio; print(hasattr(asyncio, 'get_event_loop_policy'), hasattr(asyncio, 'DefaultEventLoopPolicy'))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_install_runs_a_legacy_program(tmp_path):
    launcher = "import no_policies, compat, runpy; compat.install(); runpy.run_path('legacy_program.py', run_name='__main__')"
    done = run(tmp_path, launcher)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED


def test_compat_run_runs_a_legacy_program(tmp_path):
    launcher = "import no_policies, sys; from compat.cli.main import main; sys.exit(main(['run', 'legacy_program.py']))"
    done = run(tmp_path, launcher)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED
