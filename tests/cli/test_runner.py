"""``python -m compat run SCRIPT ARGS``: a legacy asyncore script, unchanged.

Every test runs a fresh interpreter (sys.executable) with only the repository
on PYTHONPATH -- not shims/ -- so ``import asyncore`` inside the script gets
compat's facade because of the runner alone, on 3.9-3.11 (where the stdlib
module still exists) as on 3.12+ (where it does not).
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def compat_run(*args, cwd, py_args=()):
    """``python [py_args] -m compat run ARGS`` in a fresh interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env.pop("PYTHONSTARTUP", None)
    return subprocess.run(
        [sys.executable, *py_args, "-m", "compat", "run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def write(path, code):
    path.write_text(textwrap.dedent(code))
    return path


def check(proc):
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def test_script_sees_compats_asyncore(tmp_path):
    script = write(
        tmp_path / "legacy.py",
        """
        import asyncore
        import compat.asyncore
        assert asyncore is compat.asyncore, asyncore.__file__
        print(type(asyncore.socket_map).__module__)
        """,
    )
    # -W error::DeprecationWarning: the stdlib asyncore (3.10/3.11) would warn.
    out = check(compat_run(str(script), cwd=tmp_path, py_args=("-W", "error::DeprecationWarning")))
    assert out.strip() == "compat.core"


def test_script_sees_compats_asynchat(tmp_path):
    script = write(
        tmp_path / "legacy.py",
        """
        import asynchat
        import compat.asynchat
        assert asynchat is compat.asynchat, asynchat.__file__
        """,
    )
    check(compat_run(str(script), cwd=tmp_path))


def test_script_runs_as_main_with_its_arguments(tmp_path):
    script = write(
        tmp_path / "args.py",
        """
        import sys
        print(__name__)
        print(repr(sys.argv))
        """,
    )
    out = check(compat_run(str(script), "one", "two words", "--flag", cwd=tmp_path))
    name, argv = out.splitlines()
    assert name == "__main__"
    assert eval(argv) == [str(script), "one", "two words", "--flag"]


def test_script_directory_is_on_sys_path(tmp_path):
    write(tmp_path / "helper_mod.py", "VALUE = 'from the sibling module'\n")
    script = write(tmp_path / "main.py", "import helper_mod\nprint(helper_mod.VALUE)\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = check(compat_run(str(script), cwd=elsewhere))
    assert out.strip() == "from the sibling module"


@pytest.mark.parametrize("code,rc", [(0, 0), (3, 3), (120, 120)])
def test_exit_code_is_propagated(tmp_path, code, rc):
    script = write(tmp_path / "exits.py", f"import sys\nsys.exit({code})\n")
    assert compat_run(str(script), cwd=tmp_path).returncode == rc


def test_exit_with_message_prints_it_and_returns_1(tmp_path):
    script = write(tmp_path / "exits.py", "raise SystemExit('fatal: bad config')\n")
    proc = compat_run(str(script), cwd=tmp_path)
    assert proc.returncode == 1
    assert "fatal: bad config" in proc.stderr


def test_uncaught_exception_gives_traceback_and_returns_1(tmp_path):
    script = write(tmp_path / "boom.py", "def f():\n    raise ValueError('boom')\nf()\n")
    proc = compat_run(str(script), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "ValueError: boom" in proc.stderr
    assert str(script) in proc.stderr  # the frame points at the user's file


def test_missing_script_gives_pythons_error(tmp_path):
    proc = compat_run("no_such_script.py", "arg", cwd=tmp_path)
    assert proc.returncode == 2  # python's status for a script it cannot open
    path = tmp_path / "no_such_script.py"
    assert f"run: can't open file '{path}': [Errno 2] No such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_script_prints_usage(tmp_path):
    proc = compat_run(cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage: python -m compat run [-W ARG] SCRIPT" in proc.stderr
    assert "missing SCRIPT or -m MODULE" in proc.stderr


def test_help_prints_options_and_exit_status(tmp_path):
    proc = compat_run("--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "usage: python -m compat run [-W ARG] SCRIPT" in proc.stdout
    for text in ("-W ARG", "-m MODULE", "COMPAT_WARNINGS", "exit status"):
        assert text in proc.stdout


def test_module_mode_runs_a_module_as_main(tmp_path):
    write(tmp_path / "legacy_mod.py", "import sys, asyncore\nprint(__name__, sys.argv[1:], asyncore.__name__)\n")
    out = check(compat_run("-m", "legacy_mod", "x", cwd=tmp_path))
    assert out.strip() == "__main__ ['x'] compat.asyncore"


def test_legacy_echo_server_and_client(tmp_path):
    # A typical 3.11-era program: server and client in one asyncore loop.
    script = write(
        tmp_path / "echo.py",
        """
        import asyncore
        import socket
        import sys

        class EchoHandler(asyncore.dispatcher_with_send):
            def handle_read(self):
                data = self.recv(8192)
                if data:
                    self.send(data)

        class EchoServer(asyncore.dispatcher):
            def __init__(self):
                asyncore.dispatcher.__init__(self)
                self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
                self.set_reuse_addr()
                self.bind(("127.0.0.1", 0))
                self.listen(5)

            def handle_accepted(self, sock, addr):
                EchoHandler(sock)

        class Client(asyncore.dispatcher_with_send):
            def __init__(self, addr, message):
                asyncore.dispatcher_with_send.__init__(self)
                self.message = message
                self.received = b""
                self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
                self.connect(addr)

            def handle_connect(self):
                self.send(self.message)

            def handle_read(self):
                self.received += self.recv(8192)
                if len(self.received) >= len(self.message):
                    raise asyncore.ExitNow

        message = sys.argv[1].encode() * 1000
        server = EchoServer()
        client = Client(server.socket.getsockname(), message)
        try:
            asyncore.loop(timeout=1)
        except asyncore.ExitNow:
            pass
        ok = client.received == message
        asyncore.close_all()
        print("echoed", len(client.received), ok)
        sys.exit(0 if ok else 1)
        """,
    )
    out = check(compat_run(str(script), "abc", cwd=tmp_path))
    assert out.strip() == "echoed 3000 True"
