"""LegacyWarning from the command line: ``compat run -W ...``, ``COMPAT_WARNINGS``, python's own -W.

Python resolves its -W categories before compat can be imported ("Invalid -W
option ignored"); ``compat run`` applies them once compat is importable.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compat.cli.run import warning_filter

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30

# Two legacy uses at two call sites, one of them inside a loop.
PROGRAM = """
import asyncio


@asyncio.coroutine
def tick():
    yield from asyncio.sleep(0)


async def main():
    for _ in range(3):
        await asyncio.sleep(0, loop=asyncio.get_running_loop())
    await tick()


asyncio.run(main())
print("finished")
"""


def run(args, tmp_path, py_args=(), env_extra=None):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(PROGRAM))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    for name in ("PYTHONWARNINGS", "COMPAT_WARNINGS"):
        env.pop(name, None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *py_args, "-m", "compat", "run", *args, str(script)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def legacy_lines(stderr):
    return [line for line in stderr.splitlines() if "LegacyWarning" in line]


def test_default_shows_each_call_site_once(tmp_path):
    proc = run([], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "finished\n"
    lines = legacy_lines(proc.stderr)
    assert any("coroutine" in line for line in lines)
    if sys.version_info >= (3, 10):  # 3.9 still has loop= itself
        assert sum("loop" in line for line in lines) == 1


@pytest.mark.parametrize("how", ["run-option", "environment", "python-option", "python-environment"])
def test_error_makes_the_first_legacy_use_fail(tmp_path, how):
    value = "error::compat.LegacyWarning"
    proc = {
        "run-option": lambda: run(["-W", value], tmp_path),
        "environment": lambda: run([], tmp_path, env_extra={"COMPAT_WARNINGS": value}),
        "python-option": lambda: run([], tmp_path, py_args=("-W", value)),
        "python-environment": lambda: run([], tmp_path, env_extra={"PYTHONWARNINGS": value}),
    }[how]()
    assert proc.returncode == 1
    assert "finished" not in proc.stdout
    assert "LegacyWarning: @asyncio.coroutine was removed" in proc.stderr
    assert "Traceback" in proc.stderr


@pytest.mark.skipif(sys.version_info < (3, 10), reason="3.9 accepts loop= itself: no LegacyWarning for it")
def test_always_lists_every_use(tmp_path):
    proc = run(["-W", "always::compat.LegacyWarning"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sum("loop" in line for line in legacy_lines(proc.stderr)) == 3


def test_later_options_win(tmp_path):
    proc = run(["-W", "error::compat.LegacyWarning", "-W", "ignore::compat.LegacyWarning"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert legacy_lines(proc.stderr) == []
    proc = run(["-W", "error::compat.LegacyWarning"], tmp_path,
               env_extra={"COMPAT_WARNINGS": "ignore::compat.LegacyWarning"})
    assert proc.returncode == 1  # the command line comes after the environment


@pytest.mark.parametrize("value,message", [
    ("bogus", "invalid action: 'bogus'"),
    ("error::no_such_module.Warning", "invalid module name: 'no_such_module'"),
    ("error::compat.NoSuchWarning", "unknown warning category: 'compat.NoSuchWarning'"),
    ("error::compat.install", "invalid warning category: 'compat.install'"),
    ("error::UserWarning::x", "invalid lineno 'x'"),
    ("a:b:c:d:5:6", "too many fields"),
])
def test_bad_values_are_usage_errors(tmp_path, value, message):
    proc = run(["-W", value], tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stdout == ""


def test_warning_filter_reads_values_as_python_does():
    from compat import LegacyWarning

    assert warning_filter("error::compat.LegacyWarning") == ("error", "", LegacyWarning, "", 0)
    assert warning_filter("i") == ("ignore", "", Warning, "", 0)
    assert warning_filter("e") == ("error", "", Warning, "", 0)
    assert warning_filter("") == ("default", "", Warning, "", 0)
    action, message, category, module, lineno = warning_filter("once:a.b:DeprecationWarning:pkg.mod:12")
    assert (action, category, lineno) == ("once", DeprecationWarning, 12)
    assert message == r"a\.b" and module == r"pkg\.mod\Z"
