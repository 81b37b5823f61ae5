"""compat's asyncore/asynchat win over pyasyncore, pyasynchat, standard-asyncore and the 3.9-3.11 stdlib.

A real venv per module: compat installed from this checkout as a wheel
(``compat-precedence.pth`` comes with it), then pyftpdlib, pyasyncore and
pyasynchat with a plain ``pip install`` (pyftpdlib pulls the other two on
3.12+). Where the package index cannot be reached, the same install is done
from stand-in distributions built here (same names, same ``asyncore/`` and
``asynchat/`` packages, pyftpdlib depending on the other two), so the test
never depends on the network to mean something.
"""
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PIP_TIMEOUT = 300

pytestmark = pytest.mark.timeout(120)


def _run(cmd, **kw):
    kw.setdefault("timeout", PIP_TIMEOUT)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def _clean_env():
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "COMPAT_PRECEDENCE", "PYTHONWARNINGS"):
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(directory, name, version, files, requires=()):
    """A minimal pure-Python wheel of *files* ({path: text}) in *directory*."""
    info = f"{name}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    contents = dict(files)
    contents[f"{info}/METADATA"] = "\n".join(meta) + "\n"
    contents[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: compat-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [_record_line(path, text.encode()) for path, text in contents.items()]
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = "\n".join(record) + "\n"
    path = Path(directory) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, text in contents.items():
            zf.writestr(member, text)
    return path


STANDIN_MODULE = "STANDIN = True\nsocket_map = {}\n"


def make_standins(directory):
    """pyasyncore, pyasynchat and pyftpdlib stand-ins: the same layout as the real ones."""
    make_wheel(directory, "pyasyncore", "1.0.5", {"asyncore/__init__.py": STANDIN_MODULE})
    make_wheel(directory, "pyasynchat", "1.0.5", {"asynchat/__init__.py": STANDIN_MODULE + "import asyncore\n"},
               requires=["pyasyncore>=1.0.2"])
    make_wheel(directory, "pyftpdlib", "2.2.0",
               {"pyftpdlib/__init__.py": "", "pyftpdlib/ioloop.py": "import asynchat\nimport asyncore\n"},
               requires=["pyasynchat", "pyasyncore"])


def copy_sources(dest):
    """The files a build of compat reads, copied (a build leaves build/ and *.egg-info beside them)."""
    dest.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    for name in ("compat", "shims"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


def build_wheel(src, wheels, env):
    """compat's wheel from *src* into *wheels*, built by this environment's setuptools when it has one."""
    import importlib.util

    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
                 "-w", wheels, src], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return next(Path(wheels).glob("compat-*.whl"))


def test_the_build_uses_the_sources_not_an_installed_compat(tmp_path):
    # Where compat is installed, its startup hook has imported the installed
    # _compat_precedence before setuptools runs: a build step taken from that
    # module would be the installed (older) one. Simulate an old one.
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "_compat_precedence.py").write_text(
        "from setuptools.command.build_py import build_py\ndef install():\n    pass\n")
    (stale / "sitecustomize.py").write_text("import _compat_precedence\n")
    env = _clean_env()
    env["PYTHONPATH"] = str(stale)
    wheel = build_wheel(copy_sources(tmp_path / "src"), tmp_path / "wheels", env)
    with zipfile.ZipFile(wheel) as zf:
        assert {"compat-precedence.pth", "compat-precedence.start"} <= set(zf.namelist())


@pytest.fixture(scope="module", params=["index", "stand-ins"])
def venv(request, tmp_path_factory):
    """A venv with compat (from this checkout) and then pyftpdlib, pyasyncore, pyasynchat.

    Once with the packages from the package index (stand-ins when it cannot
    be reached), once with the stand-ins, so the fallback itself is tested.
    """
    root = tmp_path_factory.mktemp("precedence")
    env = _clean_env()
    compat_wheel = build_wheel(copy_sources(root / "src"), root / "wheels", env)
    with zipfile.ZipFile(compat_wheel) as zf:
        assert {"compat-precedence.pth", "compat-precedence.start"} <= set(zf.namelist())
    venv_dir = root / "venv"
    proc = _run([sys.executable, "-m", "venv", venv_dir], env=env)
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = venv_dir / bindir / ("python.exe" if os.name == "nt" else "python")
    pip = [python, "-m", "pip"]
    if proc.returncode != 0:
        # No ensurepip (Debian without python3-venv): this environment's pip
        # installs into the venv instead.
        proc = _run([sys.executable, "-m", "venv", "--clear", "--without-pip", venv_dir], env=env)
        assert proc.returncode == 0, proc.stderr
        pip = [sys.executable, "-m", "pip", "--python", python]
    proc = _run([*pip, "install", "-q", "--no-index", compat_wheel], env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # A plain install, dependencies and all, as a user types it.
    packages = ["pyftpdlib", "pyasyncore", "pyasynchat"]
    source = request.param
    if source == "index":
        proc = _run([*pip, "install", "-q", *packages], env=env)
        if proc.returncode != 0:
            source = "stand-ins"
    if source == "stand-ins":
        standins = root / "standins"
        standins.mkdir()
        make_standins(standins)
        proc = _run([*pip, "install", "-q", "--no-index", "--find-links", standins, *packages],
                    env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return python, root, source, pip


def is_the_other_module(path, name):
    """Whether *path* is what ``import name`` gives without compat: a distribution's or 3.9-3.11's stdlib."""
    if path.endswith(os.path.join(name, "__init__.py")):
        return True
    return sys.version_info < (3, 12) and "site-packages" not in path and path.endswith(name + ".py")


def py(venv, code, *, cwd=None, env_extra=None, args=()):
    python, root = venv[:2]
    env = _clean_env()
    env.update(env_extra or {})
    return _run([python, *args, "-c", textwrap.dedent(code)], cwd=cwd or root, env=env, timeout=60)


CHECK = """
import sys, asyncore, asynchat
import compat.asyncore, compat.asynchat
print(asyncore is compat.asyncore, asynchat is compat.asynchat,
      asyncore.socket_map is compat.asyncore.socket_map)
"""


def test_the_other_distributions_are_really_there(venv):
    python, root, source, pip = venv
    proc = _run([*pip, "list", "--format=freeze"], env=_clean_env())
    names = {line.split("==")[0].lower() for line in proc.stdout.splitlines()}
    assert {"compat", "pyasyncore", "pyasynchat", "pyftpdlib"} <= names, (source, proc.stdout)
    # Their packages sit beside compat's modules: without precedence they would win.
    proc = py(venv, "import importlib.util as u; print(u.find_spec('asyncore').origin)",
              env_extra={"COMPAT_PRECEDENCE": "0"})
    assert is_the_other_module(proc.stdout.strip(), "asyncore"), proc.stdout + proc.stderr
    # Their package, whichever wins: precedence must beat a package beside compat's module.
    proc = py(venv, "import importlib.machinery as m, sys; print(m.PathFinder.find_spec('asyncore', "
                    "[p for p in sys.path if 'site-packages' in p]).origin)")
    assert proc.stdout.strip().endswith(os.path.join("asyncore", "__init__.py")), proc.stdout + proc.stderr


def test_import_gives_compats_facades(venv):
    proc = py(venv, CHECK, args=("-W", "error::DeprecationWarning"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "True"]


def test_pyftpdlib_gets_compats_modules(venv):
    proc = py(venv, """
        import pyftpdlib.ioloop as ioloop
        import compat.asyncore, compat.asynchat
        assert ioloop.asyncore is compat.asyncore, ioloop.asyncore
        assert ioloop.asynchat is compat.asynchat, ioloop.asynchat
        print("ok")
        """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_environment_variable_turns_it_off(venv):
    proc = py(venv, """
        import asyncore, asynchat
        print(asyncore.__file__)
        print(asynchat.__file__)
        """, env_extra={"COMPAT_PRECEDENCE": "0"})
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert is_the_other_module(first, "asyncore"), first
    assert is_the_other_module(second, "asynchat"), second


def test_a_users_own_asyncore_still_wins(venv, tmp_path):
    (tmp_path / "asyncore.py").write_text("MINE = True\n")
    (tmp_path / "main.py").write_text("import asyncore\nprint(getattr(asyncore, 'MINE', False))\n")
    python = venv[0]
    proc = _run([python, tmp_path / "main.py"], cwd=tmp_path, env=_clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_doctor_reports_the_shadowing_distributions(venv):
    python, root = venv[:2]
    proc = _run([python, "-m", "compat", "doctor"], cwd=root, env=_clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pyasyncore" in proc.stdout and "pyasynchat" in proc.stdout
    env = _clean_env()
    env["COMPAT_PRECEDENCE"] = "0"
    proc = _run([python, "-m", "compat", "doctor"], cwd=root, env=env, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "COMPAT_PRECEDENCE=0" in proc.stdout


def test_a_mixed_program_shares_one_map(venv):
    # The failure this prevents: a legacy listener and asyncio code on two maps, a silent hang.
    proc = py(venv, """
        import asyncio, asyncore, socket

        class Echo(asyncore.dispatcher_with_send):
            def handle_read(self):
                self.send(self.recv(4096))

        class Listener(asyncore.dispatcher):
            def __init__(self):
                asyncore.dispatcher.__init__(self)
                self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
                self.bind(("127.0.0.1", 0))
                self.listen(5)
            def handle_accepted(self, sock, addr):
                Echo(sock)

        async def main():
            listener = Listener()
            port = listener.socket.getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping")
            data = await asyncio.wait_for(reader.readexactly(4), 10)
            writer.close()
            await writer.wait_closed()
            asyncore.close_all()
            return data

        import compat
        print(compat.run(main()))
        """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "b'ping'"


def test_no_deprecated_pth_import_line_runs_where_start_files_exist(venv):
    # 3.15+ (PEP 829): the .start entry point runs, the .pth import line is skipped.
    proc = py(venv, "import sys; print(sys.version_info >= (3, 15))", args=("-v",))
    assert proc.returncode == 0, proc.stderr
    if proc.stdout.strip() == "True":
        assert "compat-precedence.pth are suppressed due to matching" in proc.stderr
        assert "compat-precedence.pth are deprecated" not in proc.stderr
        assert "Executing entry point: _compat_precedence:install" in proc.stderr


def test_pyftpdlib_serves_a_download_on_compats_modules(venv):
    # The real pyftpdlib (when the index could be reached): its handlers are
    # async_chat channels of compat's facade, served by its own IO loop.
    if venv[2] != "index":
        pytest.skip("the real pyftpdlib could not be installed from the package index")
    proc = py(venv, """
        import ftplib, logging, os, tempfile, threading
        logging.disable(logging.CRITICAL)
        import asyncore, asynchat, compat.asyncore, compat.asynchat
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer

        assert asyncore is compat.asyncore and asynchat is compat.asynchat
        assert issubclass(FTPHandler, compat.asynchat.async_chat)
        root = tempfile.mkdtemp()
        payload = os.urandom(1 << 18)
        with open(os.path.join(root, "data.bin"), "wb") as f:
            f.write(payload)
        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(root)
        FTPHandler.authorizer = authorizer
        server = FTPServer(("127.0.0.1", 0), FTPHandler)
        port = server.socket.getsockname()[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2})
        thread.start()
        try:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=20)
            ftp.login()
            chunks = []
            ftp.retrbinary("RETR data.bin", chunks.append)
            names = ftp.nlst()
            ftp.quit()
        finally:
            server.close_all()
            thread.join(20)
        assert not thread.is_alive(), "the FTP server did not stop"
        assert b"".join(chunks) == payload
        print(names)
        """)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "['data.bin']"
