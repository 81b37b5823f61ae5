"""``compat run`` behaves like ``python``: each case runs the same program both ways and compares.

Fresh interpreters (sys.executable) with only the repository on PYTHONPATH;
what python prints before its own messages (its executable's path) is
replaced by ``compat run``'s name, the rest must be the same.
"""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    for name in ("PYTHONSTARTUP", "PYTHONWARNINGS", "COMPAT_WARNINGS", "PYTHONSAFEPATH"):
        env.pop(name, None)
    return env


def both(args, cwd, stdin=None):
    """(python ARGS, python -m compat run ARGS) as CompletedProcesses."""
    run = dict(cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT, input=stdin)
    plain = subprocess.run([sys.executable, *args], **run)
    via = subprocess.run([sys.executable, "-m", "compat", "run", *args], **run)
    return plain, via


def same_messages(plain, via):
    """python's ``<executable>: message`` lines equal compat's ``... run: message`` lines."""
    assert via.returncode == plain.returncode, (plain, via)
    mine = via.stderr.replace("python -m compat run: ", "PROG: ")
    theirs = plain.stderr.replace(f"{sys.executable}: ", "PROG: ")
    assert mine == theirs


def write(path, code):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


SHOW = """
import os, sys
print("file", __file__)
print("argv", sys.argv)
print("path0", sys.path[0])
print("cwd on path", os.getcwd() in sys.path)
print("name", __name__, __package__, __spec__ and __spec__.name)
"""


def test_script_sees_what_python_gives_it(tmp_path):
    write(tmp_path / "proj" / "main.py", SHOW)
    plain, via = both(["proj/main.py", "a", "b c"], cwd=tmp_path)
    assert plain.returncode == via.returncode == 0, via.stderr
    assert via.stdout == plain.stdout
    assert f"file {tmp_path / 'proj' / 'main.py'}" in via.stdout  # absolute, as python 3.9+
    assert "cwd on path False" in via.stdout  # compat's launcher left no trace on sys.path


def test_script_that_chdirs_finds_its_files(tmp_path):
    write(tmp_path / "proj" / "data.txt", "payload\n")
    write(tmp_path / "proj" / "main.py", """
        import os
        os.chdir("/")
        with open(os.path.join(os.path.dirname(__file__), "data.txt")) as f:
            print(f.read().strip())
        """)
    plain, via = both(["proj/main.py"], cwd=tmp_path)
    assert via.returncode == 0, via.stderr
    assert via.stdout == plain.stdout == "payload\n"


def test_module_mode_sees_what_python_m_gives_it(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "tool.py", SHOW)
    plain, via = both(["-m", "pkg.tool", "x"], cwd=tmp_path)
    assert plain.returncode == via.returncode == 0, via.stderr
    assert via.stdout == plain.stdout


def test_package_main_and_directory_main(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "__main__.py", SHOW)
    plain, via = both(["-m", "pkg", "x"], cwd=tmp_path)
    assert via.returncode == 0, via.stderr
    assert via.stdout == plain.stdout
    write(tmp_path / "app" / "__main__.py", SHOW)
    plain, via = both(["app", "y"], cwd=tmp_path)
    assert via.returncode == 0, via.stderr
    assert via.stdout == plain.stdout


def test_traceback_shows_only_the_programs_frames(tmp_path):
    write(tmp_path / "helper.py", "def fail():\n    raise KeyError('deep')\n")
    write(tmp_path / "boom.py", """
        import helper
        def f():
            try:
                helper.fail()
            except KeyError as exc:
                raise RuntimeError("wrapped") from exc
        f()
        """)
    plain, via = both(["boom.py"], cwd=tmp_path)
    assert via.returncode == plain.returncode == 1
    assert via.stderr == plain.stderr
    assert "compat" not in via.stderr and "runpy" not in via.stderr


def test_a_custom_excepthook_is_used(tmp_path):
    write(tmp_path / "hook.py", """
        import sys
        sys.excepthook = lambda t, v, tb: print("hooked", t.__name__, v, tb.tb_frame.f_code.co_name)
        raise ValueError("x")
        """)
    plain, via = both(["hook.py"], cwd=tmp_path)
    assert via.returncode == plain.returncode == 1
    assert via.stdout == plain.stdout == "hooked ValueError x <module>\n"


@pytest.mark.parametrize("body", [
    "import sys; sys.exit(3)",
    "raise SystemExit('fatal: bad config')",
    "raise SystemExit(None)",
    "import sys; sys.exit(True)",
    "import os; os._exit(7)",
    "raise ValueError('x')",
    "x = = 1",
    "import atexit, sys; atexit.register(print, 'bye'); sys.exit(4)",
])
def test_exit_status_and_output_as_python(tmp_path, body):
    write(tmp_path / "prog.py", body + "\n")
    plain, via = both(["prog.py"], cwd=tmp_path)
    assert (via.returncode, via.stdout, via.stderr) == (plain.returncode, plain.stdout, plain.stderr)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32", reason="POSIX signals")
def test_uncaught_keyboard_interrupt_ends_like_python(tmp_path):
    write(tmp_path / "intr.py", "import atexit\natexit.register(print, 'cleanup')\nraise KeyboardInterrupt\n")
    plain, via = both(["intr.py"], cwd=tmp_path)
    assert plain.returncode == -signal.SIGINT
    assert via.returncode == plain.returncode
    assert via.stdout == plain.stdout == "cleanup\n"
    assert via.stderr == plain.stderr


@pytest.mark.parametrize("args", [
    ["no_such.py"],
    ["emptydir"],
    ["-m", "no_such_module"],
    ["-m", "no_such_pkg.sub"],
    ["-m", "pkg"],
    ["-m", ".relative"],
])
def test_errors_read_like_pythons(tmp_path, args):
    (tmp_path / "emptydir").mkdir()
    write(tmp_path / "pkg" / "__init__.py", "")
    plain, via = both(args, cwd=tmp_path)
    assert plain.returncode != 0
    same_messages(plain, via)
    assert "Traceback" not in via.stderr


def test_syntax_error_in_script_reads_like_pythons(tmp_path):
    write(tmp_path / "bad.py", "x = 1\ndef f(:\n    pass\n")
    plain, via = both(["bad.py"], cwd=tmp_path)
    assert via.returncode == plain.returncode == 1
    assert via.stderr == plain.stderr


def test_stdin_program(tmp_path):
    code = "import sys, asyncore\nprint(sys.argv, __name__, asyncore.__name__)\n"
    via = subprocess.run([sys.executable, "-m", "compat", "run", "-", "z"], cwd=tmp_path, env=_env(),
                         input=code, capture_output=True, text=True, timeout=TIMEOUT)
    assert via.returncode == 0, via.stderr
    assert via.stdout == "['-', 'z'] __main__ compat.asyncore\n"


def test_options_go_before_the_script_and_arguments_pass_untouched(tmp_path):
    write(tmp_path / "args.py", "import sys\nprint(sys.argv[1:])\n")
    plain, via = both(["args.py", "-W", "x", "-m", "y", "--help", "--", "-h"], cwd=tmp_path)
    assert via.returncode == 0, via.stderr
    assert via.stdout == plain.stdout == "['-W', 'x', '-m', 'y', '--help', '--', '-h']\n"


def test_parse_is_python_like():
    from compat.cli.run import UsageError, parse

    args = parse(["-W", "error", "-Wignore::UserWarning", "prog.py", "-W", "x"])
    assert (args.script, args.module, args.args) == ("prog.py", None, ["-W", "x"])
    assert args.options["warnings"] == ["error", "ignore::UserWarning"]
    args = parse(["-mpkg.mod", "a"])
    assert (args.script, args.module, args.args) == (None, "pkg.mod", ["a"])
    assert parse(["--", "-weird-name.py"]).script == "-weird-name.py"
    assert parse(["-h", "x.py"]) is None
    for bad in ([], ["-W"], ["--frob", "x.py"], ["-m"]):
        with pytest.raises(UsageError):
            parse(bad)


def test_an_added_option_is_parsed_and_listed(monkeypatch):
    # How another module adds an option (e.g. --workers N) without touching the parser.
    from compat.cli import run

    monkeypatch.setattr(run, "OPTIONS", [*run.OPTIONS, run.Option(("--workers",), "workers", "N", "worker processes")])
    args = run.parse(["--workers", "4", "-W", "error", "x.py", "--workers", "9"])
    assert args.options["workers"] == "4" and args.args == ["--workers", "9"]
    assert run.parse(["--workers=2", "x.py"]).options["workers"] == "2"
    assert "--workers N" in run.help_text() and "[--workers N]" in run.usage()
