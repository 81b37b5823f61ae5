"""CLI rough edges (issue 18, point 6): links, empty selections, encodings, terminals, Ctrl-C."""
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap


from test_codemod_cli import LEGACY, MODERN, REPO, TIMEOUT, run



def test_write_follows_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "src" / "app.py"
    real.parent.mkdir()
    real.write_text(LEGACY)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    p = run("codemod", "--write", str(link))
    assert p.returncode == 1, p.stderr
    assert link.is_symlink()
    assert real.read_text() == MODERN
    assert not list(real.parent.glob("*.tmp"))


def test_empty_or_skipped_only_selection_is_an_error(tmp_path):
    p = run("codemod", str(tmp_path))
    assert p.returncode == 2
    assert f"compat codemod: error: no Python files in {tmp_path}" in p.stderr
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text(LEGACY)
    p = run("codemod", str(tmp_path))
    assert p.returncode == 2
    assert "(1 directory skipped: --verbose lists them)" in p.stderr
    p = run("codemod", "--verbose", str(tmp_path))
    assert f"compat codemod: skipped directory {tmp_path / 'build'}" in p.stderr
    p = run("report", str(tmp_path))
    assert p.returncode == 2 and "compat report: error: no Python files in" in p.stderr


def test_verbose_lists_files_needing_nothing(tmp_path):
    (tmp_path / "modern.py").write_text(MODERN)
    p = run("codemod", "--verbose", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert f"{tmp_path / 'modern.py'}: nothing to change" in p.stderr


def test_diff_of_a_latin1_file_is_in_latin1_and_applies(tmp_path):
    f = tmp_path / "latin.py"
    src = "# -*- coding: latin-1 -*-\nimport asyncio\n@asyncio.coroutine\ndef f():\n    yield from g('\xe9')\n"
    f.write_bytes(src.encode("latin-1"))
    p = subprocess.run([sys.executable, "-m", "compat", "codemod", "latin.py"], cwd=str(tmp_path),
                       env={**os.environ, "PYTHONPATH": REPO}, capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 1, p.stderr
    assert "+    await g('\xe9')\n".encode("latin-1") in p.stdout
    if os.path.exists("/usr/bin/patch"):
        subprocess.run(["/usr/bin/patch", "-p1", "-s"], input=p.stdout, cwd=str(tmp_path),
                       check=True, timeout=TIMEOUT)
        assert f.read_bytes() == (
            "# -*- coding: latin-1 -*-\nimport asyncio\nasync def f():\n    await g('\xe9')\n"
        ).encode("latin-1")


def test_unsafe_fixes_flag(tmp_path):
    f = tmp_path / "pool.py"
    f.write_text(textwrap.dedent(
        """\
        import asyncio
        @asyncio.coroutine
        def f(pool):
            with (yield from pool):
                pass
        """))
    p = run("codemod", "--write", str(f))
    assert p.returncode == 1 and "refused: `with (yield from x)`" in p.stderr
    assert "async with" not in f.read_text()
    p = run("codemod", "--write", "--unsafe-fixes", str(f))
    assert p.returncode == 1, p.stderr
    assert f"{f}:4:11: note: unsafe fix: `with (yield from x)` made `async with x`" in p.stderr
    assert "1 unsafe fix" in p.stderr
    assert "async with pool:" in f.read_text()


def _make_tree(root, count):
    for i in range(count):
        (root / f"m{i:03}.py").write_text(LEGACY)


def test_progress_on_a_terminal_never_shares_a_line_with_output(tmp_path):
    _make_tree(tmp_path, 25)
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "compat", "codemod", str(tmp_path)],
            stdout=secondary, stderr=secondary, env={**os.environ, "PYTHONPATH": REPO},
        )
        os.close(secondary)
        secondary = -1
        chunks = []
        while True:
            ready, _, _ = select.select([primary], [], [], TIMEOUT)
            assert ready, "no output from the codemod"
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=TIMEOUT) == 1
    finally:
        os.close(primary)
        if secondary != -1:
            os.close(secondary)
    screen = b"".join(chunks).decode()
    assert "--- " in screen
    # every diff starts on a fresh line: the progress line is erased first
    for line in screen.replace("\r\n", "\n").split("\n"):
        if "--- " in line:
            assert line.split("\r")[-1].replace("\x1b[K", "").startswith("--- "), repr(line)


def test_ctrl_c_stops_cleanly(tmp_path):
    big = LEGACY + "".join(
        f"\n@asyncio.coroutine\ndef f{i}(loop):\n    yield from asyncio.sleep(0, loop=loop)\n"
        for i in range(60)
    )
    for i in range(100):
        (tmp_path / f"m{i:03}.py").write_text(big)
    proc = subprocess.Popen(
        [sys.executable, "-m", "compat", "codemod", "--check", "--jobs", "2", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": REPO},
        # a shell's background job inherits SIGINT ignored; the child must not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = ""
        while "/100 files" not in line:  # the first progress line: work has started
            line = proc.stderr.readline()
            assert line, "the codemod ended before printing progress"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "compat codemod: interrupted after " in err and " of 100 files" in err
