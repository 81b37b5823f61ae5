"""``python -m compat demo`` as a user runs it: a subprocess that must exit 0."""
import os
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = [
    "asyncore echo (dispatcher)",
    "async_chat lines (upper-case)",
    "asyncio streams echo",
    "asyncore listener -> async def",
]


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "shims"), e.get("PYTHONPATH", "")])
    return e


def demo(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-W", "error::DeprecationWarning", "-m", "compat", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        cwd=ROOT,
    )


@pytest.mark.parametrize("loop_kind", ["default", "uvloop"])
def test_demo_checks_everything_and_exits_0(loop_kind: str) -> None:
    proc = demo(*(["--uvloop"] if loop_kind == "uvloop" else []))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    if loop_kind == "default":
        assert "one loop (CoreEventLoop)" in out.splitlines()[0]
    assert "one thread (MainThread)" in out
    for service in SERVICES:
        assert service in out
    # The shared map held all three facades' channels at once.
    for kind in ["asyncore listener (Listener)", "asyncore channel (EchoHandler)", "async_chat (LineChannel)", "asyncio server", "asyncio transport (served)"]:
        assert kind in out
    assert "0 channels left; all checks passed" in out


def test_demo_traffic_table_agrees_with_clients() -> None:
    proc = demo("--clients", "3", "--rounds", "2", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines():
        if any(line.strip().startswith(s) for s in SERVICES):
            conns, bytes_in, bytes_out, checked = (int(x) for x in line.split()[-4:])
            assert conns == 3 and bytes_out == checked and bytes_in > 0


def test_demo_rejects_bad_arguments() -> None:
    proc = demo("--clients", "0")
    assert proc.returncode == 2
    assert "at least 1" in proc.stderr


@pytest.mark.timeout(40)
def test_demo_serve_keeps_running_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-W", "error::ResourceWarning", "-m", "compat", "demo", "--serve", "--clients", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        cwd=ROOT,
    )
    try:
        # readline() blocks; the per-test timeout (SIGALRM) bounds it.
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("serving;"):
                break
        assert proc.poll() is None  # still serving after the checks
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
