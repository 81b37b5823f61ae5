"""``python -m compat run --workers N``: the supervisor, end to end, in real processes.

The served program is an unchanged asynchat line server that greets each
connection with its process id, so a client knows which worker accepted it.
"""
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Set

import pytest

import compat
from compat.cli import workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balances only on Linux")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(compat.__file__)))
WAIT = 20.0

LINE_SERVER = textwrap.dedent(
    """\
    import asynchat, asyncore, os, socket, sys

    class Session(asynchat.async_chat):
        def __init__(self, sock):
            asynchat.async_chat.__init__(self, sock)
            self.set_terminator(b"\\n")
            self.data = b""
            self.push(b"pid %d worker %s\\n" % (os.getpid(), os.environ["COMPAT_WORKER"].encode()))

        def collect_incoming_data(self, data):
            self.data += data

        def found_terminator(self):
            line, self.data = self.data, b""
            if line == b"bye":
                self.close_when_done()
            else:
                self.push(b"echo " + line + b"\\n")

    class Listener(asyncore.dispatcher):
        def __init__(self, port):
            asyncore.dispatcher.__init__(self)
            self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
            self.set_reuse_addr()
            self.bind(("127.0.0.1", port))
            self.listen(128)

        def handle_accepted(self, sock, addr):
            Session(sock)

    Listener(int(sys.argv[1]))
    asyncore.loop()
    """
)

ASYNCIO_SERVER = textwrap.dedent(
    """\
    import asyncio, os, sys
    import compat

    async def session(reader, writer):
        writer.write(b"pid %d\\n" % os.getpid())
        while True:
            line = (await reader.readline()).rstrip(b"\\n")
            if not line or line == b"bye":
                break
            writer.write(b"echo " + line + b"\\n")
        writer.close()

    async def main():
        await asyncio.start_server(session, "127.0.0.1", int(sys.argv[1]))

    compat.run(main())
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> Dict[str, str]:
    e = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    e.pop("PYTHONWARNINGS", None)
    return e


class Supervisor:
    """``compat run --workers`` in a subprocess; its stderr lines read by a thread."""

    def __init__(self, tmp_path: Path, source: str, *options: str, port: Optional[int] = None) -> None:
        self.port = free_port() if port is None else port
        script = tmp_path / "server.py"
        script.write_text(source)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "compat", "run", *options, str(script), str(self.port)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env(),
            cwd=str(tmp_path),
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: List[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        # Until every worker is gone too: they share the supervisor's stderr.
        assert self.proc.stderr is not None
        with self.proc.stderr:
            for line in self.proc.stderr:
                self.lines.put(line.rstrip("\n"))

    def expect(self, pattern: str, timeout: float = WAIT) -> "re.Match[str]":
        """The next stderr line matching ``pattern`` (earlier lines are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got:\n" + "\n".join(self.seen)) from None
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def listening(self, n: int) -> Set[int]:
        """Wait until ``n`` more workers listen; their pids."""
        return {int(self.expect(r"worker \d+ \(pid (\d+)\) listening").group(1)) for _ in range(n)}

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self) -> int:
        code = self.proc.wait(timeout=WAIT)
        self.reader.join(WAIT)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def close(self) -> None:
        """Kill the supervisor; its workers, left without clients, then stop by themselves."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # A worker notices within a poll and then drains; on a machine running
        # three suites at once on two cores that has taken over WAIT once.
        self.reader.join(2 * WAIT)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        assert not self.reader.is_alive(), "a worker outlived its supervisor:\n" + "\n".join(self.seen)


CLIENTS: List["Client"] = []


@pytest.fixture
def supervised(tmp_path: Path):
    started: List[Supervisor] = []
    CLIENTS.clear()

    def start(source: str = LINE_SERVER, *options: str, port: Optional[int] = None) -> Supervisor:
        sup = Supervisor(tmp_path, source, *options, port=port)
        started.append(sup)
        return sup

    yield start
    for c in CLIENTS:
        c.close()
    for sup in started:
        sup.close()


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.file = self.sock.makefile("rb")
        CLIENTS.append(self)
        greeting = self.file.readline()
        assert greeting.startswith(b"pid "), greeting
        self.pid = int(greeting.split()[1])
        self.slot = greeting.split()[3] if len(greeting.split()) > 3 else None

    def echo(self, text: bytes) -> bytes:
        self.sock.sendall(text + b"\n")
        return self.file.readline()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def pids_reached(port: int, want: Set[int], limit: int = 300) -> Set[int]:
    """Connect until every pid in ``want`` has answered (or ``limit`` connections)."""
    seen: Set[int] = set()
    for _ in range(limit):
        c = Client(port)
        seen.add(c.pid)
        c.close()
        if want <= seen:
            break
    return seen


def test_connections_spread_over_all_workers_and_sigterm_exits_0(supervised):
    sup = supervised(LINE_SERVER, "--workers", "3")
    pids = sup.listening(3)
    assert len(pids) == 3
    assert pids_reached(sup.port, pids) == pids
    slots = set()
    for _ in range(300):
        if len(slots) == 3:
            break
        c = Client(sup.port)
        slots.add(c.slot)
        c.close()
    assert slots == {b"0", b"1", b"2"}  # COMPAT_WORKER: each copy's number
    sup.signal(signal.SIGTERM)
    assert sup.wait() == 0
    assert sum("exited with status 0" in line for line in sup.seen) == 3, sup.seen


def test_asyncio_server_on_the_core_loop_is_shared_too(supervised):
    sup = supervised(ASYNCIO_SERVER, "--workers", "2")
    pids = sup.listening(2)
    assert pids_reached(sup.port, pids) == pids
    c = Client(sup.port)
    sup.signal(signal.SIGINT)
    sup.expect("SIGINT: stopping 2")
    assert c.echo(b"still here") == b"echo still here\n"
    c.close()
    assert sup.wait() == 0


def test_killed_worker_is_replaced(supervised):
    sup = supervised(LINE_SERVER, "--workers", "2")
    pids = sup.listening(2)
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    sup.expect(rf"\(pid {victim}\) killed by SIGKILL")
    (new,) = sup.listening(1)
    assert new not in pids
    alive = (pids - {victim}) | {new}
    assert pids_reached(sup.port, alive) == alive


def test_graceful_shutdown_serves_accepted_connections_to_the_end(supervised):
    sup = supervised(LINE_SERVER, "--workers", "2")
    pids = sup.listening(2)
    held: Dict[int, Client] = {}
    for _ in range(300):
        c = Client(sup.port)
        if c.pid in held:
            c.close()
        else:
            held[c.pid] = c
        if set(held) == pids:
            break
    assert set(held) == pids
    sup.signal(signal.SIGTERM)
    sup.expect("SIGTERM: stopping 2")
    # Stopped accepting: a new connection is refused, once both have closed their listeners.
    deadline = time.monotonic() + WAIT
    while True:
        try:
            Client(sup.port).close()
        except (ConnectionRefusedError, ConnectionResetError):
            break
        assert time.monotonic() < deadline, "workers still accept after SIGTERM"
    for c in held.values():
        assert c.echo(b"after stop") == b"echo after stop\n"
        assert sup.proc.poll() is None
        c.echo(b"bye")
        c.close()
    assert sup.wait() == 0


def test_graceful_timeout_kills_and_exit_status_says_so(supervised):
    sup = supervised(LINE_SERVER, "--workers", "1", "--graceful-timeout", "0.2")
    sup.listening(1)
    c = Client(sup.port)
    sup.signal(signal.SIGTERM)
    assert sup.wait() == 128 + signal.SIGKILL
    assert any("still serving after 0.2s: killing it" in line for line in sup.seen), sup.seen
    c.close()


def test_workers_dying_at_start_up_make_it_give_up_with_their_status(supervised):
    sup = supervised("import sys\nsys.exit(3)\n", "--workers", "2")
    assert sup.wait() == 3
    text = "\n".join(sup.seen)
    assert "giving up" in text and "before it listened" in text, text


def test_port_zero_is_refused(supervised):
    sup = supervised(LINE_SERVER, "--workers", "2", port=0)
    assert sup.wait() == 2
    text = "\n".join(sup.seen)
    assert "refused" in text and "port 0" in text, text


def test_a_listener_bound_without_the_facade_is_refused(supervised):
    # A socket bound before the program hands it to the dispatcher cannot get
    # SO_REUSEPORT in time: refused rather than half-working.
    source = LINE_SERVER.replace(
        "        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)\n        self.set_reuse_addr()\n"
        "        self.bind((\"127.0.0.1\", port))\n",
        "        s = socket.socket()\n        s.bind((\"127.0.0.1\", port))\n        self.set_socket(s)\n",
    )
    assert source != LINE_SERVER
    sup = supervised(source, "--workers", "2")
    assert sup.wait() == 2
    assert any("without SO_REUSEPORT" in line for line in sup.seen), sup.seen


def test_asyncio_server_on_port_0_is_refused(supervised):
    sup = supervised(ASYNCIO_SERVER, "--workers", "2", port=0)
    assert sup.wait() == 2
    assert any("port 0" in line for line in sup.seen), sup.seen


def test_a_listener_compat_cannot_see_makes_it_give_up(supervised):
    # A plain socket listener gets no SO_REUSEPORT: the second worker cannot
    # bind, and the supervisor gives up saying why instead of retrying forever.
    source = (
        "import socket, sys\n"
        "s = socket.socket()\n"
        "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
        "s.listen(5)\n"
        "s.accept()\n"
    )
    sup = supervised(source, "--workers", "2")
    assert sup.wait() == 1
    text = "\n".join(sup.seen)
    assert "Address already in use" in text and "giving up" in text and "socketserver" in text, text
    # The first worker, blocked in accept(), took SIGTERM the way it would without compat.
    assert "killed by SIGTERM" in text, text


@pytest.mark.parametrize(
    "patch, reason",
    [("del socket.SO_REUSEPORT", "no SO_REUSEPORT"), ("sys.platform = 'darwin'", "only on Linux, not on darwin")],
)
def test_refused_where_so_reuseport_does_not_balance(tmp_path, patch, reason):
    script = tmp_path / "server.py"
    script.write_text(LINE_SERVER)
    code = (
        f"import socket, sys\n{patch}\nfrom compat.cli.main import main\n"
        f"sys.exit(main(['run', '--workers', '2', {str(script)!r}, '1']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=WAIT)
    assert proc.returncode == 2, proc.stderr
    assert "refused" in proc.stderr and reason in proc.stderr, proc.stderr


def test_sighup_restarts_workers_one_by_one(supervised):
    sup = supervised(LINE_SERVER, "--workers", "2")
    old = sup.listening(2)
    held = Client(sup.port)
    sup.signal(signal.SIGHUP)
    new = sup.listening(2)
    assert not new & old
    note = sup.expect(r"restart done: \d+ .*").group(0)
    assert "tcp_migrate_req" in note
    assert held.echo(b"served to the end") == b"echo served to the end\n"
    assert pids_reached(sup.port, new) == new
    held.echo(b"bye")
    held.close()
    sup.signal(signal.SIGTERM)
    assert sup.wait() == 0
    for pid in old | new:
        assert any(f"(pid {pid}) exited with status 0" in line for line in sup.seen), (pid, sup.seen)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--workers", "0", "x.py"], "at least 1"),
        (["--workers", "many", "x.py"], "a number or 'auto'"),
        (["--workers", "2", "--graceful-timeout", "soon", "x.py"], "takes seconds"),
        (["--workers"], "needs a value"),
        (["--workers", "2"], "no program"),
        (["--graceful-timeout", "2", "x.py"], "goes with --workers"),
    ],
)
def test_bad_command_lines(argv, message, capsys):
    from compat.cli.main import main

    assert main(["run", *argv]) == 2
    assert message in capsys.readouterr().err


def test_command_line_split():
    assert not workers.requested(["server.py", "--workers", "2"])  # the program's own option
    assert workers.requested(["--workers=auto", "server.py"])
    ours, rest = workers._split(["--workers", "2", "--other", "-m", "pkg.mod", "--workers", "9"])
    assert ours == {"--workers": "2"}
    assert rest == ["--other", "-m", "pkg.mod", "--workers", "9"]
    assert workers._parse(["--workers", "auto", "s.py"])[0] == workers.usable_cpus()


@pytest.mark.timeout(120)
def test_workers_benchmark_runs_briefly():
    # No timing checked: only that both servers start under --workers and every reply checks out.
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "workers.py"), "--workers", "1,2", "--loaders", "1",
         "--conns", "4", "--duration", "0.3", "--warmup", "0.1"],
        capture_output=True, text=True, env=env(), timeout=100, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "FAILED" not in proc.stdout and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert proc.stdout.count("\n2 ") == 2, proc.stdout


def test_sighup_counts_connections_reset_in_the_old_accept_queue(supervised):
    # A listener that never accepts: connections wait in the kernel's accept
    # queue, and the old worker's queue is what a restart loses.
    source = LINE_SERVER.replace("    def handle_accepted(self, sock, addr):", "    def readable(self):\n"
                                 "        return False\n\n    def handle_accepted(self, sock, addr):")  # fmt: skip
    assert source != LINE_SERVER
    sup = supervised(source, "--workers", "1")
    sup.listening(1)
    waiting = [socket.create_connection(("127.0.0.1", sup.port), timeout=WAIT) for _ in range(3)]
    try:
        sup.signal(signal.SIGHUP)
        note = sup.expect(r"restart done: .*").group(0)
        migrated = workers._migrate_req()
        assert note.startswith("restart done: 3 connection(s) queued" if migrated else "restart done: 3 new"), note
        if not migrated:
            for s in waiting:
                with pytest.raises(ConnectionResetError):
                    s.recv(1)
    finally:
        for s in waiting:
            s.close()


def test_listen_switch_sets_so_reuseport_and_refuses_port_0():
    from compat.core import listen

    assert not listen.port_shared()
    seen = []
    listen.share_port(True, notify=seen.append)
    try:
        with socket.socket() as s:
            listen.before_bind(s, ("127.0.0.1", free_port()))
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        with socket.socket() as s:
            listen.before_bind(s, ("127.0.0.1", 0))
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            with pytest.raises(listen.ListenRefused, match="port 0"):
                listen.listening(s)
        assert listen.server_kwargs((None, "127.0.0.1", 8000), {}) == {"reuse_port": True}
        assert listen.server_kwargs((None,), {"port": 8000, "host": "h"})["reuse_port"] is True
        with pytest.raises(listen.ListenRefused, match="port 0"):
            listen.server_kwargs((None, "127.0.0.1", 0), {})
        with pytest.raises(listen.ListenRefused, match="port None"):
            listen.server_kwargs((None, "127.0.0.1"), {})
        assert seen == []
    finally:
        listen.share_port(False)
    assert listen.server_kwargs((None, "127.0.0.1", 0), {}) == {}


@pytest.mark.timeout(10)
def test_a_signal_during_a_report_to_the_supervisor_does_not_deadlock():
    # SIGTERM handled while the worker's main thread was inside send() (its
    # "listen" line) made the handler's own "stopped" line wait for that send
    # forever: the worker never exited.
    ours, theirs = socket.socketpair()
    side = workers._WorkerSide(theirs, 1.0)
    real = theirs.sendall
    calls = []

    class Interrupted:
        def sendall(self, data: bytes) -> None:
            calls.append(data)
            real(data)
            if len(calls) == 1:
                side.send("stopped 0")  # what the signal handler does

    side.chan = Interrupted()  # type: ignore[assignment]
    try:
        side.send("listen 127.0.0.1 1")
        ours.settimeout(WAIT)
        got = b""
        while got.count(b"\n") < 2:
            got += ours.recv(100)
        assert got == b"listen 127.0.0.1 1\nstopped 0\n"
    finally:
        ours.close()
        theirs.close()
