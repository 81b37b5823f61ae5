"""The command line's front: --version, help of every command, the name it is started by."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import compat
from compat.cli.main import prog_name

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60
COMMANDS = ["run", "doctor", "codemod", "report", "demo"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


def python_m(*args):
    return subprocess.run([sys.executable, "-m", "compat", *args], env=_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)


def console_script(tmp_path, *args):
    """The ``compat`` console script as pip writes it (a file named compat calling main())."""
    script = tmp_path / "bin" / "compat"
    script.parent.mkdir(exist_ok=True)
    script.write_text("import sys\nfrom compat.cli.main import main\nsys.exit(main())\n")
    return subprocess.run([sys.executable, str(script), *args], env=_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)


def test_version():
    proc = python_m("--version")
    assert proc.returncode == 0
    assert proc.stdout == f"compat {compat.__version__}\n"


def test_top_level_help_lists_every_command():
    proc = python_m("--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: python -m compat ")
    for command in COMMANDS:
        assert f"\n  {command} " in proc.stdout
    assert "--version" in proc.stdout and "exit status" in proc.stdout
    proc = python_m()
    assert proc.returncode == 2 and proc.stderr.startswith("usage: ")
    proc = python_m("frobnicate")
    assert proc.returncode == 2 and "unknown command 'frobnicate'" in proc.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_lists_options_and_exit_status(command):
    proc = python_m(command, "--help")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"usage: python -m compat {command} "), out
    assert ("options" in out or "optional arguments" in out) and "-h, --help" in out  # 3.9: optional arguments
    assert "exit status" in out
    assert "\n  0 " in out or "0 when" in out or "\n  0  " in out
    assert "``" not in out  # plain text, no reST markup


@pytest.mark.parametrize("command", COMMANDS)
def test_console_script_names_itself(tmp_path, command):
    proc = console_script(tmp_path, command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: compat {command} ")
    assert "python -m compat" not in proc.stdout
    # argparse's continuation lines stay aligned under the first option.
    lines = proc.stdout.split("\n\n")[0].splitlines()
    indent = len(f"usage: compat {command} ")
    assert all(line.startswith(" " * indent) and line[indent] != " " for line in lines[1:]
               if line.strip() and not line.lstrip().startswith("compat ")), lines


def test_console_script_usage_errors_name_it(tmp_path):
    proc = console_script(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: compat [--version] COMMAND")
    proc = console_script(tmp_path, "run")
    assert proc.returncode == 2
    assert "usage: compat run" in proc.stderr and "compat run: error: missing SCRIPT" in proc.stderr


@pytest.mark.parametrize("argv0,name", [
    ("/usr/lib/python3/site-packages/compat/__main__.py", "python -m compat"),
    ("/venv/bin/compat", "compat"),
    ("C:\\venv\\Scripts\\compat.exe".replace("\\", os.sep), "compat"),
    ("", "python -m compat"),
])
def test_prog_name(argv0, name):
    assert prog_name(argv0) == name


def test_console_script_runs_a_program_as_python_would(tmp_path):
    # The console script's own directory (bin/) is not the program's sys.path[0].
    program = tmp_path / "proj" / "main.py"
    program.parent.mkdir()
    program.write_text("import sys, asyncore\nprint(sys.path[0])\nprint(asyncore.__name__)\n"
                       "print(sys.argv[1] in sys.path)\n")
    proc = console_script(tmp_path, "run", str(program), str(tmp_path / "bin"))
    assert proc.returncode == 0, proc.stderr
    path0, name, bin_on_path = proc.stdout.splitlines()
    assert path0 == str(program.parent)
    assert name == "compat.asyncore"
    assert bin_on_path == "False"
