"""End to end: an unchanged 3.4-era script under `python -m compat run`."""
import os
import subprocess
import sys
import textwrap

from support import COMPAT_WARNINGS_FAIL

import compat

pytestmark = COMPAT_WARNINGS_FAIL

TIMEOUT = 60

SCRIPT = textwrap.dedent(
    """\
    import asyncio

    @asyncio.coroutine
    def add(x, y, loop):
        yield from asyncio.sleep(0, loop=loop)
        return x + y

    @asyncio.coroutine
    def main(loop):
        lock = asyncio.Lock(loop=loop)
        with (yield from lock):
            total = yield from add(1, 2, loop)
        done, _ = yield from asyncio.wait([add(3, 4, loop), add(5, 6, loop)], loop=loop)
        current = asyncio.Task.current_task()
        results = yield from asyncio.gather(add(0, 1, loop), getattr(asyncio, 'async')(add(0, 2, loop)), loop=loop)
        return total, sorted(t.result() for t in done), results, current is not None

    loop = asyncio.get_event_loop()
    for _ in range(2):
        print(loop.run_until_complete(main(loop)))
    loop.close()
    """
)


def run_script(tmp_path, *python_args):
    path = tmp_path / "legacy_script.py"
    path.write_text(SCRIPT)
    root = os.path.dirname(os.path.dirname(os.path.abspath(compat.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, *python_args, "-m", "compat", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=str(tmp_path),
    )


def test_legacy_script_runs_unchanged(tmp_path):
    done = run_script(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["(3, [7, 11], [1, 2], True)"] * 2


def test_each_legacy_use_warns_once_at_the_scripts_line(tmp_path):
    # __main__ shows DeprecationWarnings by default: each site once, though
    # main() runs twice.
    done = run_script(tmp_path)
    warned = [line for line in done.stderr.splitlines() if "LegacyWarning" in line]
    assert all(line.startswith(str(tmp_path / "legacy_script.py")) for line in warned), warned
    # One line may hold two legacy uses (wait(coroutines, loop=)): each once.
    uses = [tuple(line.split(":", 3)[1:]) for line in warned]
    assert len(uses) == len(set(uses)), warned
    lines = {int(line) for line, *_ in uses}
    # A decorator's call is on its own line from 3.11, on the def line before.
    assert lines & {3, 4} and lines & {8, 9}
    # yield from lock, wait, Task.current_task, async, get_event_loop
    expected = {11, 13, 14, 15, 18}
    if sys.version_info >= (3, 10):  # 3.9 takes loop= itself (its own warning)
        expected |= {5, 10}
    assert expected <= lines, done.stderr


AFTER_RUN = textwrap.dedent(
    """\
    import asyncio

    async def answer():
        return 42

    asyncio.run(answer())  # leaves no current loop
    loop = asyncio.get_event_loop()
    print(loop.run_until_complete(answer()))
    asyncio.set_event_loop(None)
    loop = asyncio.get_event_loop()
    print(loop.run_until_complete(asyncio.gather(answer(), answer())))
    loop.close()
    """
)


def test_module_level_get_event_loop_after_run_and_set_event_loop_none(tmp_path):
    # 3.14 raises RuntimeError in both places; 3.8 gave a new loop.
    path = tmp_path / "after_run.py"
    path.write_text(AFTER_RUN)
    root = os.path.dirname(os.path.dirname(os.path.abspath(compat.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "compat", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["42", "[42, 42]"]
