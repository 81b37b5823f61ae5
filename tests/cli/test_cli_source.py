"""``compat run`` runs source that 3.7+ cannot parse: ``asyncio.async(...)``, ``from asyncio import async``.

The script and the modules it imports from its own directory are rewritten
as they are compiled; files on disk stay as they are, no bytecode of a
rewritten module is left for plain python, tracebacks keep the original lines.
"""
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from compat.legacy.source import compile_legacy, install_hook, uninstall_hook
from compat.legacy.warning import LegacyWarning

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def compat_run(*args, cwd, env_extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env.pop("PYTHONWARNINGS", None)
    env.pop("COMPAT_WARNINGS", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "compat", "run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def write(path, code):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


LEGACY_LIB = """
import asyncio
from asyncio import async


@asyncio.coroutine
def double(x):
    yield from asyncio.sleep(0)
    return 2 * x


def spawn(x):
    return asyncio.async(double(x))


def spawn_too(x):
    return async(double(x))


def broken():
    task = asyncio.async(double(1))
    task.cancel()
    raise RuntimeError("line 23")
"""

MAIN = """
import asyncio
import sys

from lib import legacy


async def main():
    a = await legacy.spawn(1)
    b = await legacy.spawn_too(2)
    c = await asyncio.async(legacy.double(3))
    print(a, b, c)
    if sys.argv[1:] == ["fail"]:
        legacy.broken()


asyncio.run(main())
"""


def test_script_and_its_modules_run_files_unchanged(tmp_path):
    lib = write(tmp_path / "lib" / "legacy.py", LEGACY_LIB)
    write(tmp_path / "lib" / "__init__.py", "")
    main = write(tmp_path / "main.py", MAIN)
    before = {p: p.read_bytes() for p in (lib, main)}
    proc = compat_run(str(main), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "2 4 6\n"
    assert {p: p.read_bytes() for p in before} == before
    # No bytecode of the rewritten module: plain python must still refuse it.
    assert not list((tmp_path / "lib").glob("__pycache__/legacy*"))
    plain = subprocess.run([sys.executable, "-c", "import lib.legacy"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert "SyntaxError" in plain.stderr


def test_tracebacks_keep_the_original_lines(tmp_path):
    write(tmp_path / "lib" / "legacy.py", LEGACY_LIB)
    write(tmp_path / "lib" / "__init__.py", "")
    main = write(tmp_path / "main.py", MAIN)
    proc = compat_run(str(main), "fail", cwd=tmp_path)
    assert proc.returncode == 1
    err = proc.stderr
    assert f'File "{tmp_path / "lib" / "legacy.py"}", line 23, in broken' in err
    assert 'raise RuntimeError("line 23")' in err
    assert f'File "{main}", line 14, in main' in err
    assert "RuntimeError: line 23" in err


def test_each_rewrite_is_a_legacy_warning_and_can_be_an_error(tmp_path):
    main = write(tmp_path / "main.py", "import asyncio\nt = asyncio.async\nprint(t is asyncio.ensure_future)\n")
    proc = compat_run(str(main), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True\n"
    assert f"{main}:2: LegacyWarning: asyncio.async() is ensure_future()" in proc.stderr
    proc = compat_run("-W", "error::compat.LegacyWarning", str(main), cwd=tmp_path)
    assert proc.returncode == 1
    assert f'File "{main}", line 2' in proc.stderr
    assert "SyntaxError: asyncio.async() is ensure_future()" in proc.stderr
    assert "LegacyWarning made an error" in proc.stderr


def test_module_mode_and_packages_below_the_project(tmp_path):
    write(tmp_path / "app" / "__init__.py", "")
    write(tmp_path / "app" / "sub" / "__init__.py", "")
    write(tmp_path / "app" / "sub" / "tasks.py", "import asyncio\ndef go(c):\n    return asyncio.async(c)\n")
    write(tmp_path / "app" / "__main__.py", """
        import asyncio
        from app.sub import tasks
        async def one():
            return 1
        async def main():
            print(await tasks.go(one()))
        asyncio.run(main())
        """)
    proc = compat_run("-m", "app", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n"


def test_other_syntax_errors_are_reported_as_they_are(tmp_path):
    # asyncio.async AND a real syntax error: the user sees python's error.
    main = write(tmp_path / "main.py", "import asyncio\nasyncio.async(x)\nx = = 1\n")
    proc = compat_run(str(main), cwd=tmp_path)
    assert proc.returncode == 1
    assert f'File "{main}", line 3' in proc.stderr
    assert proc.stderr.rstrip().endswith("SyntaxError: invalid syntax")


def test_modules_outside_the_project_are_left_alone(tmp_path):
    # Only the program's own tree is rewritten; elsewhere python's rules hold.
    outside = tmp_path / "outside"
    write(outside / "old_dep.py", "import asyncio\nf = asyncio.async\n")
    main = write(tmp_path / "proj" / "main.py", "import old_dep\n")
    proc = compat_run(str(main), cwd=tmp_path,
                      env_extra={"PYTHONPATH": os.pathsep.join([str(REPO), str(outside)])})
    assert proc.returncode == 1
    assert "SyntaxError" in proc.stderr


def test_compile_legacy_in_process():
    namespace = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = compile_legacy(b"import asyncio\nx = asyncio.async\n", "<legacy>", "m")
    exec(code, namespace)
    import asyncio

    assert namespace["x"] is asyncio.ensure_future
    assert [w.category for w in caught] == [LegacyWarning]
    assert caught[0].lineno == 2
    with pytest.raises(SyntaxError) as info:
        compile_legacy("def f(:\n", "<bad>")
    assert info.value.lineno == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LegacyWarning)
        code = compile_legacy("from asyncio import async\nx = async\n", "<legacy>", "m")
        with pytest.raises(SyntaxError) as info:
            compile_legacy("import asyncio\nasyncio.async(x)\nx = = 1\n", "<bad>")
    assert info.value.lineno == 3
    # Valid source compiles as is, with no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_legacy("async def f():\n    await g()\n", "<ok>")


def test_hook_installs_and_uninstalls(tmp_path, monkeypatch):
    write(tmp_path / "hooked_legacy_mod.py", "import asyncio\nF = asyncio.async\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    hooks_before = list(sys.path_hooks)
    install_hook([str(tmp_path)])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LegacyWarning)
            import hooked_legacy_mod
        import asyncio

        assert hooked_legacy_mod.F is asyncio.ensure_future
    finally:
        uninstall_hook()
        sys.modules.pop("hooked_legacy_mod", None)
    assert sys.path_hooks == hooks_before
    with pytest.raises(SyntaxError):
        import hooked_legacy_mod  # noqa: F401
