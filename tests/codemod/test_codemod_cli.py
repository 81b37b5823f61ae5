"""The command line: --diff/--write/--check, --jobs, progress, report text and --json."""
import json
import os
import subprocess
import sys
import textwrap


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 120

LEGACY = textwrap.dedent(
    """\
    import asyncio


    @asyncio.coroutine
    def main(loop):
        yield from asyncio.sleep(0, loop=loop)
    """
)
MODERN = textwrap.dedent(
    """\
    import asyncio


    async def main(loop):
        await asyncio.sleep(0)
    """
)
REFUSED = textwrap.dedent(
    """\
    import asyncio


    @asyncio.coroutine
    def tornado(fut):
        yield fut
    """
)


def run(*args, cwd=None, extra_env=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "compat", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=TIMEOUT,
    )




def test_diff_is_the_default_and_changes_nothing(tmp_path):
    f = tmp_path / "app.py"
    f.write_text(LEGACY)
    p = run("codemod", "app.py", cwd=str(tmp_path))
    assert p.returncode == 1, p.stderr  # not done: the file would change
    assert f.read_text() == LEGACY
    assert "--- a/app.py\n+++ b/app.py\n" in p.stdout
    assert "-@asyncio.coroutine\n" in p.stdout and "+async def main(loop):\n" in p.stdout


def test_write_rewrites_in_place_and_reports_refusals(tmp_path):
    (tmp_path / "app.py").write_text(LEGACY)
    (tmp_path / "old.py").write_text(REFUSED)
    p = run("codemod", "--write", str(tmp_path))
    assert p.returncode == 1, p.stderr  # files rewritten and a refusal left (pyupgrade's convention)
    assert (tmp_path / "app.py").read_text() == MODERN
    assert (tmp_path / "old.py").read_text() == REFUSED
    assert f"{tmp_path / 'old.py'}:6:5: refused: bare `yield <value>` in a coroutine" in p.stderr
    assert p.stdout == ""


def test_check_exits_1_when_something_would_change(tmp_path):
    f = tmp_path / "app.py"
    f.write_text(LEGACY)
    p = run("codemod", "--check", str(f))
    assert p.returncode == 1
    assert f"would rewrite {f}" in p.stderr
    assert f.read_text() == LEGACY
    f.write_text(MODERN)
    assert run("codemod", "--check", str(f)).returncode == 0


def test_check_fails_while_refusals_remain(tmp_path):
    f = tmp_path / "old.py"
    f.write_text(REFUSED)
    p = run("codemod", "--check", str(f))
    assert p.returncode == 1
    assert "refused: bare `yield <value>`" in p.stderr
    assert "0 of 1 file would be rewritten, 1 refusal, 0 errors, 0 needing nothing" in p.stderr
    (tmp_path / "new.py").write_text(MODERN)
    p = run("codemod", "--write", str(tmp_path / "new.py"))
    assert p.returncode == 0, p.stderr
    assert "0 of 1 file rewritten, 0 refusals, 0 errors, 1 needing nothing" in p.stderr


def test_many_files_with_jobs_show_progress(tmp_path):
    for i in range(25):
        sub = tmp_path / f"pkg{i % 3}"
        sub.mkdir(exist_ok=True)
        (sub / f"m{i}.py").write_text(LEGACY)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "skip.py").write_text(LEGACY)
    p = run("codemod", "--write", "--jobs", "2", str(tmp_path))
    assert p.returncode == 1, p.stderr
    assert "compat codemod: 25/25 files" in p.stderr
    assert "25 of 25 files rewritten" in p.stderr
    for path in tmp_path.glob("pkg*/*.py"):
        assert path.read_text() == MODERN
    assert (tmp_path / "__pycache__" / "skip.py").read_text() == LEGACY


def test_encoding_and_crlf_survive_write(tmp_path):
    f = tmp_path / "latin.py"
    src = "# -*- coding: latin-1 -*-\r\nimport asyncio\r\n@asyncio.coroutine\r\ndef f():\r\n    yield from g('\xe9')\r\n"
    f.write_bytes(src.encode("latin-1"))
    assert run("codemod", "--write", str(f)).returncode == 1
    assert f.read_bytes() == (
        "# -*- coding: latin-1 -*-\r\nimport asyncio\r\nasync def f():\r\n    await g('\xe9')\r\n"
    ).encode("latin-1")


def test_unparseable_file_exits_2(tmp_path):
    f = tmp_path / "broken.py"
    f.write_text("def f(:\n")
    p = run("codemod", "--check", str(f))
    assert p.returncode == 2
    assert f"{f}:1:" in p.stderr and "cannot parse" in p.stderr


def test_missing_libcst_gives_a_clear_error(tmp_path):
    f = tmp_path / "app.py"
    f.write_text(LEGACY)
    # A stand-in sitecustomize makes ``import libcst`` fail in the child.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['libcst'] = None\n")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), REPO, os.environ.get("PYTHONPATH", "")])}
    probe = run("-c", "x", extra_env=env)  # not a command: just proves startup works
    assert probe.returncode == 2
    code = "import compat, compat.codemod, compat.codemod.cli; print('imported')"
    p = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0 and p.stdout.strip() == "imported", p.stderr
    p = run("codemod", str(f), extra_env=env)
    assert p.returncode == 2
    assert "the codemod needs libcst: pip install libcst" in p.stderr
    assert "Traceback" not in p.stderr
    # the report needs no libcst
    p = run("report", str(f), extra_env=env)
    assert p.returncode == 0 and "decorated coroutines" in p.stdout


REPORT_SRC = textwrap.dedent(
    """\
    import asyncore, asynchat
    import asyncio


    class Handler(asynchat.async_chat):
        pass


    class Server(asyncore.dispatcher):
        pass


    @asyncio.coroutine
    def main(loop):
        yield from asyncio.sleep(1, loop=loop)
        t = asyncio.async(main(loop))
        asyncio.Task.all_tasks()
        with (yield from thing):
            pass
    """
)


def test_report_text(tmp_path):
    f = tmp_path / "legacy.py"
    f.write_text(REPORT_SRC)
    (tmp_path / "clean.py").write_text("print('hi')\n")
    p = run("report", str(tmp_path))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert (
        f"{f}: 1 asyncore import, 1 asynchat import, 1 dispatcher subclass, "
        "1 async_chat subclass, 1 decorated coroutine, 2 yield from, 1 loop= argument, "
        "3 removed APIs, 1 left for a human (codemod refuses), 1 of them left as they are\n"
    ) in out
    assert f"  {f}:5:1: async_chat_subclass: class Handler(asynchat.async_chat)\n" in out
    assert f"  {f}:15:16: loop_kwarg: asyncio.sleep(..., loop=...)\n" in out
    assert f"  {f}:16:17: removed_api: asyncio.async() (gone in 3.7)\n" in out
    assert f"  {f}:18:5: removed_api: with (yield from thing) (TypeError from 3.9)\n" in out
    assert "  decorated coroutines the codemod leaves as they are: 1\n" in out
    assert "clean.py" not in out
    assert "total: 2 files (1 with legacy constructs)" in out


def test_report_json(tmp_path):
    f = tmp_path / "legacy.py"
    f.write_text(REPORT_SRC)
    p = run("report", "--json", str(f))
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    counts = data["files"][0]["counts"]
    assert counts["decorated_coroutine"] == 1
    assert counts["yield_from"] == 2
    assert counts["loop_kwarg"] == 1 and counts["loop_kwarg_removed_in_3_10"] == 1
    assert counts["removed_api"] == 3
    assert counts["refusal"] == 1
    assert data["totals"]["files"] == 1 and data["totals"]["dispatcher_subclass"] == 1
    kinds = {(x["line"], x["kind"]) for x in data["files"][0]["findings"]}
    assert (9, "dispatcher_subclass") in kinds and (14, "decorated_coroutine") in kinds


def test_report_of_unparseable_file_exits_2(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n")
    p = run("report", str(tmp_path))
    assert p.returncode == 2
    assert "cannot parse" not in p.stdout
    assert f"compat report: error: {tmp_path / 'broken.py'}: cannot parse" in p.stderr


def test_pre_commit_hook_runs_check():
    import re

    with open(os.path.join(REPO, ".pre-commit-hooks.yaml")) as fh:
        text = fh.read()
    assert re.search(r"entry:\s*python -m compat codemod --check", text)
    assert "types: [python]" in text


def test_report_counts_what_is_left_names_the_source_and_keeps_warnings(tmp_path):
    f = tmp_path / "era.py"
    f.write_text(textwrap.dedent(
        """\
        from asyncio import *
        import re
        PATTERN = re.compile("\\d+")

        @coroutine
        def tornado(fut):
            yield fut

        @coroutine
        def waits(lock):
            with (yield from lock):
                t = async(tornado(None), loop=None)
        """
    ))
    (tmp_path / "other.py").write_text(MODERN)
    p = run("report", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # the analysed file's SyntaxWarning is not printed
    out = p.stdout
    assert f"{f}: 2 decorated coroutines, 1 yield from, 1 loop= argument, 2 removed APIs, " \
        "2 left for a human (codemod refuses), 2 of them left as they are\n" in out
    assert f"  {f}:12:13: loop_kwarg: async(..., loop=...)\n" in out
    assert "  decorated coroutines the codemod leaves as they are: 2\n" in out
    assert "total: 2 files (1 with legacy constructs)" in out
    p = run("report", "--summary", str(tmp_path))
    assert p.returncode == 0 and str(f) not in p.stdout and "total: 2 files" in p.stdout
    p = run("report", "--summary", "--json", str(tmp_path))
    assert json.loads(p.stdout) == {"totals": json.loads(run("report", "--json", str(tmp_path)).stdout)["totals"]}
