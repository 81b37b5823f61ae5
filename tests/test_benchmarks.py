"""The benchmark scripts still run: each one briefly, on this interpreter.

No timing is checked here (benchmarks/README.md has the figures); these only
catch a script that no longer starts or whose server fails, which once went
unnoticed because nothing ran the benchmarks. Every reply the load
generators get is still byte-checked by the scripts themselves.
"""
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
VERSION = "%d.%d" % sys.version_info[:2]

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the harnesses read /proc and pin CPUs"),
]


@pytest.fixture
def env(tmp_path: Path) -> Dict[str, str]:
    """PATH finds this interpreter as pythonX.Y, which the harnesses look up."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / ("python" + VERSION)).symlink_to(sys.executable)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "")])
    env.pop("PYTHONWARNINGS", None)
    # The benchmarks' stdlib rows need the stdlib modules, not compat's
    # (which the installed precedence .pth would give).
    env["COMPAT_PRECEDENCE"] = "0"
    return env


def run(env: Dict[str, str], *argv: str) -> str:
    proc = subprocess.run(
        [sys.executable, *argv], cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=100
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stdout


def test_echo_benchmark_runs_the_compat_server(env):
    out = run(env, str(BENCH / "echo.py"), "--scenarios", "1x64", "--servers", "compat@" + VERSION,
              "--duration", "0.3", "--warmup", "0.1", "--repeat", "1")  # fmt: skip
    assert "compat %s " % VERSION in out
    assert "FAILED" not in out and "skipped" not in out, out


def test_line_protocol_benchmark_runs_the_compat_server(env):
    out = run(env, str(BENCH / "line_protocol.py"), "--scenarios", "50", "--servers", "compat@" + VERSION,
              "--duration", "0.3", "--warmup", "0.1", "--repeat", "1")  # fmt: skip
    assert "compat %s" % VERSION in out
    assert "FAILED" not in out and "skipped" not in out, out


def test_aio_echo_benchmark_runs_comparison_a(env):
    out = run(env, str(BENCH / "aio_echo.py"), "--only", "A", "--duration", "0.3", "--repeat", "1")
    assert "compat loop + legacy map" in out


def test_coroutine_chain_benchmark_runs(env):
    run(env, str(BENCH / "coroutine_chain.py"), "--calls", "200", "--runs", "1")


@pytest.mark.parametrize("kind, impl", [("echo", "compat"), ("echo", "raw"), ("line", "compat")])
def test_hot_path_measured_process_runs(env, kind, impl):
    # The process callgrind measures; it exits non-zero on a wrong reply.
    run(env, str(BENCH / "hot_path.py"), "--serve", kind, impl, "20")


def test_codemod_throughput_benchmark_runs(env):
    run(env, str(BENCH / "codemod_throughput.py"), "--lines", "300", "--runs", "1", "--jobs", "1")


def test_send_stall_benchmark_runs_the_compat_server(env):
    out = run(env, str(BENCH / "send_stall.py"), "--mb", "2", "--chunk", "0.25", "--repeat", "1",
              "--servers", "compat@" + VERSION)  # fmt: skip
    assert "compat@%s " % VERSION in out
    assert "FAILED" not in out and "skipped" not in out, out
