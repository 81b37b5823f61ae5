"""The drop-in top-level modules in shims/: ``import asyncore`` gives compat's facade.

Each test runs a fresh interpreter (sys.executable) with shims/ first on
PYTHONPATH, so it means the same on 3.9-3.11, where the stdlib still has an
asyncore further down sys.path, as on 3.12+, where it has none.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIMS = REPO / "shims"
TIMEOUT = 30


def run_python(code, *, cwd=None, pythonpath=(SHIMS, REPO), py_args=(), script_dir=None):
    """Run ``code`` in a fresh interpreter; return the CompletedProcess.

    With ``script_dir`` the code is written there as main.py and run as a
    script (so its directory comes first on sys.path, as for a user's program).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    env.pop("PYTHONSTARTUP", None)
    code = textwrap.dedent(code)
    if script_dir is not None:
        script = Path(script_dir) / "main.py"
        script.write_text(code)
        cmd = [sys.executable, *py_args, str(script)]
    else:
        cmd = [sys.executable, *py_args, "-c", code]
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def check(proc):
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def test_import_asyncore_is_the_facade_module_itself(tmp_path):
    out = check(
        run_python(
            """
            import sys
            import asyncore
            import compat.asyncore
            assert asyncore is compat.asyncore, asyncore
            assert sys.modules["asyncore"] is compat.asyncore
            print(asyncore.__file__)
            """,
            cwd=tmp_path,
        )
    )
    assert Path(out.strip()) == REPO / "compat" / "asyncore.py"


def test_names_from_asyncore_are_compats_objects(tmp_path):
    # `from asyncore import ...` must hand out the very objects the core serves.
    check(
        run_python(
            """
            from asyncore import dispatcher, socket_map, loop, ExitNow
            import compat.asyncore as facade
            import compat.core
            assert dispatcher is facade.dispatcher
            assert socket_map is facade.socket_map
            assert loop is facade.loop
            assert ExitNow is compat.core.ExitNow
            assert dispatcher.__module__ == "asyncore"
            """,
            cwd=tmp_path,
        )
    )


def test_import_asyncore_emits_no_warning(tmp_path):
    # On 3.10/3.11 the stdlib asyncore warns on import; the shim must not load it.
    out = check(
        run_python(
            """
            import sys
            import asyncore
            print(sorted(m for m in sys.modules if "asyncore" in m))
            """,
            cwd=tmp_path,
            py_args=("-W", "error"),
        )
    )
    assert out.strip() == "['asyncore', 'compat.asyncore']"
    assert "Warning" not in out


def test_legacy_echo_through_the_shim(tmp_path):
    # An unchanged asyncore program, end to end over 127.0.0.1.
    out = check(
        run_python(
            """
            import asyncore, socket

            class Echo(asyncore.dispatcher_with_send):
                def handle_read(self):
                    self.send(self.recv(4096))

            class Server(asyncore.dispatcher):
                def __init__(self):
                    asyncore.dispatcher.__init__(self)
                    self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
                    self.set_reuse_addr()
                    self.bind(("127.0.0.1", 0))
                    self.listen(5)
                def handle_accepted(self, sock, addr):
                    Echo(sock)

            class Client(asyncore.dispatcher_with_send):
                def __init__(self, addr):
                    asyncore.dispatcher_with_send.__init__(self)
                    self.got = b""
                    self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
                    self.connect(addr)
                    self.send(b"hello shim")
                def handle_read(self):
                    self.got += self.recv(4096)
                    if self.got == b"hello shim":
                        asyncore.close_all()

            server = Server()
            client = Client(server.socket.getsockname())
            asyncore.loop(timeout=1)
            print(client.got.decode(), type(asyncore.socket_map).__module__)
            """,
            cwd=tmp_path,
        )
    )
    assert out.split() == ["hello", "shim", "compat.core"]


def test_import_asynchat_is_the_facade_module_itself(tmp_path):
    check(
        run_python(
            """
            import asynchat, asyncore
            import compat.asynchat, compat.asyncore
            assert asynchat is compat.asynchat
            assert asyncore is compat.asyncore
            """,
            cwd=tmp_path,
        )
    )


def test_user_module_named_compat_makes_import_fail_clearly(tmp_path):
    shadow = tmp_path / "compat.py"
    shadow.write_text("HELLO = 1\n")  # a user's own module, found first
    proc = run_python("import asyncore\n", script_dir=tmp_path, cwd=tmp_path)
    assert proc.returncode == 1
    err = proc.stderr
    assert "ImportError" in err
    assert "cannot provide 'asyncore'" in err
    assert str(shadow) in err  # says which file shadows the package
    assert "shadows" in err and "rename" in err


def test_missing_compat_package_is_a_plain_import_error(tmp_path):
    # -S: no site-packages, so an installed compat cannot be found either.
    proc = run_python("import asyncore\n", cwd=tmp_path, pythonpath=(SHIMS,), py_args=("-S",))
    assert proc.returncode == 1
    assert "No module named 'compat'" in proc.stderr
    assert "shadows" not in proc.stderr
