"""``compat doctor``: what ``import asyncore`` gives, what shadows it, which loops run; exit 1 on trouble.

The precedence cases with real distributions installed are in
test_precedence.py; here the environment is made with PYTHONPATH.
"""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60


def doctor(*pythonpath, cwd, args=()):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    env.pop("COMPAT_PRECEDENCE", None)
    return subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-m", "compat", "doctor", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def test_healthy_environment(tmp_path):
    proc = doctor(REPO / "shims", REPO, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith("python      ")
    assert sys.executable in out
    assert f"asyncore    compat's ({REPO / 'compat' / 'asyncore.py'})" in out
    assert f"asynchat    compat's ({REPO / 'compat' / 'asynchat.py'})" in out
    assert "asyncore.loop(): compat.core" in out
    assert "asyncio.run(): " in out
    assert "uvloop " in out
    assert out.rstrip().endswith("give compat's modules")
    assert proc.stderr == ""


def test_a_shadowing_package_is_reported_and_fails(tmp_path):
    shadow = tmp_path / "shadow"
    (shadow / "asyncore").mkdir(parents=True)
    (shadow / "asyncore" / "__init__.py").write_text("socket_map = {}\n")
    proc = doctor(shadow, REPO / "shims", REPO, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"asyncore    NOT compat's: {shadow / 'asyncore' / '__init__.py'}" in proc.stdout
    assert "PROBLEM: `import asyncore` gives" in proc.stdout
    assert "asynchat    compat's" in proc.stdout  # only the shadowed one is a problem


def test_help_lists_exit_status(tmp_path):
    proc = doctor(REPO, cwd=tmp_path, args=("--help",))
    assert proc.returncode == 0
    assert "exit status" in proc.stdout and "  1  " in proc.stdout
    proc = doctor(REPO, cwd=tmp_path, args=("--bogus",))
    assert proc.returncode == 2
