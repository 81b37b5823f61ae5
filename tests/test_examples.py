"""Every program in examples/ run as a subprocess and driven over real sockets.

Servers are started on port 0; the test waits (with a deadline, never a fixed
sleep) for their ``listening PORT`` line, talks to them with byte-exact
checks, stops them (SIGTERM, SIGINT or the documented quit command) and
requires exit status 0 and a stderr free of tracebacks and ResourceWarnings.
"""
import http.server
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STARTUP_TIMEOUT = 15.0
IO_TIMEOUT = 10.0

pytestmark = pytest.mark.timeout(60)


def child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "shims")])
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONWARNINGS", None)
    return env


def python_argv(script: str, *args: str, compat_run: bool = False) -> List[str]:
    argv = [sys.executable, "-W", "always::ResourceWarning"]
    if compat_run:
        argv += ["-m", "compat", "run"]
    return argv + [str(EXAMPLES / script), *args]


def check_stderr(err: str) -> None:
    assert "Traceback" not in err, err
    assert "ResourceWarning" not in err, err
    assert "error:" not in err, err  # asyncore's handle_error log lines


def run_client(script: str, *args: str, compat_run: bool = False) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        python_argv(script, *args, compat_run=compat_run),
        cwd=str(ROOT),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )


class Server:
    """An example server in a subprocess; ``port`` is known once it listens."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            python_argv(script, "0", *args),
            cwd=str(ROOT),
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        lines: "queue.Queue[bytes]" = queue.Queue()
        reader = threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True)
        reader.start()
        try:
            first = lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            self.kill()
            pytest.fail(f"{script} did not print 'listening PORT' within {STARTUP_TIMEOUT} s")
        reader.join(IO_TIMEOUT)
        words = first.split()
        if len(words) < 2 or words[0] != b"listening":
            out, err = self.kill()
            pytest.fail(f"{script} printed {first!r} instead of 'listening PORT'; stderr:\n{err}")
        self.ports = [int(word) for word in words[1:]]
        self.port = self.ports[0]
        assert all(port > 0 for port in self.ports)

    def connect(self, port: Optional[int] = None) -> "Client":
        return Client(port or self.port)

    def stop(self, signum: int = signal.SIGTERM) -> Tuple[str, str]:
        """Signal the server, wait for it, require a clean exit."""
        self.proc.send_signal(signum)
        return self.wait()

    def wait(self) -> Tuple[str, str]:
        """Wait for the server to exit by itself; require a clean exit."""
        try:
            out, err = self.proc.communicate(timeout=IO_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("server did not exit in time")
        text = err.decode("utf-8", "replace")
        assert self.proc.returncode == 0, text
        check_stderr(text)
        return out.decode("utf-8", "replace"), text

    def kill(self) -> Tuple[str, str]:
        if self.proc.poll() is None:
            self.proc.kill()
        out, err = self.proc.communicate(timeout=IO_TIMEOUT)
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class Client:
    """A blocking socket with a timeout, and byte-exact reading helpers."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise AssertionError(f"EOF after {len(self.buffer)} of {n} bytes")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"EOF before a full line; have {self.buffer!r}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def expect(self, line: bytes) -> None:
        assert self.read_line() == line

    def expect_eof(self) -> None:
        assert self.buffer == b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return
            if not chunk:
                return
            raise AssertionError(f"expected EOF, got {chunk!r}")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------
# echo servers and clients
# ---------------------------------------------------------------------------

ECHO_SERVERS = ["asyncore_echo_server.py", "asyncio_echo_protocol.py", "asyncio_echo_streams.py"]


@pytest.mark.parametrize("script", ECHO_SERVERS)
def test_echo_server(script: str) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: more than one send() takes
    with Server(script) as server:
        with server.connect() as first, server.connect() as second:
            first.send(b"hello\n")
            second.send(b"second client\n")
            assert first.read_exactly(6) == b"hello\n"
            assert second.read_exactly(14) == b"second client\n"
            sender = threading.Thread(target=first.send, args=(payload,))
            sender.start()
            assert first.read_exactly(len(payload)) == payload
            sender.join(IO_TIMEOUT)
        server.stop(signal.SIGTERM)


@pytest.mark.parametrize("script", ["asyncore_echo_server.py", "asyncio_echo_streams.py"])
def test_echo_server_stops_on_sigint_with_clients(script: str) -> None:
    with Server(script) as server:
        with server.connect() as client:
            client.send(b"ping")
            assert client.read_exactly(4) == b"ping"
            server.stop(signal.SIGINT)
            client.expect_eof()


@pytest.mark.parametrize(
    "script,compat_run",
    [("asyncio_echo_client.py", False), ("legacy_echo_client.py", True)],
    ids=["async-await", "yield-from"],
)
def test_echo_client(script: str, compat_run: bool) -> None:
    with Server("asyncio_echo_streams.py") as server:
        result = run_client(script, str(server.port), "hello", "wörld", compat_run=compat_run)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "hello\nwörld\n"
        check_stderr(result.stderr)
        server.stop()


def test_legacy_echo_client_against_legacy_server() -> None:
    with Server("asyncore_echo_server.py") as server:
        result = run_client("legacy_echo_client.py", str(server.port), "one", "two", compat_run=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "one\ntwo\n"
        server.stop()


# ---------------------------------------------------------------------------
# HTTP client
# ---------------------------------------------------------------------------


class _Pages(http.server.BaseHTTPRequestHandler):
    pages = {"/hello": b"hello from the test\n" * 1000}

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"not here\n"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(IO_TIMEOUT)


def test_asyncore_http_client(http_port: int) -> None:
    result = run_client("asyncore_http_client.py", f"http://127.0.0.1:{http_port}/hello")
    assert result.returncode == 0, result.stderr
    status, _, body = result.stdout.partition("\n")
    assert status.split()[1] == "200"
    assert body == "hello from the test\n" * 1000
    check_stderr(result.stderr)


def test_asyncore_http_client_not_found(http_port: int) -> None:
    result = run_client("asyncore_http_client.py", f"http://127.0.0.1:{http_port}/missing")
    assert result.returncode == 1
    assert result.stdout.split("\n")[0].split()[1] == "404"


def test_asyncore_http_client_refused() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    result = run_client("asyncore_http_client.py", f"http://127.0.0.1:{port}/")
    assert result.returncode == 1
    assert "refused" in result.stderr.lower()


# ---------------------------------------------------------------------------
# asynchat servers
# ---------------------------------------------------------------------------


def test_asynchat_line_server() -> None:
    with Server("asynchat_line_server.py") as server:
        with server.connect() as a, server.connect() as b:
            a.send(b"PING\nECHO hello there\r\nUP")
            a.expect(b"PONG\n")
            a.expect(b"hello there\n")
            a.send(b"PER mixed Case\nnope\n")
            a.expect(b"MIXED CASE\n")
            a.expect(b"ERR unknown command\n")
            b.send(b"QUIT\n")
            b.expect(b"BYE\n")
            b.expect_eof()
            a.send(b"SHUTDOWN\n")
            a.expect(b"BYE\n")
            a.expect_eof()
        server.wait()  # exits by itself, status 0


def test_asynchat_line_server_sigterm() -> None:
    with Server("asynchat_line_server.py") as server:
        with server.connect() as a:
            a.send(b"PING\n")
            a.expect(b"PONG\n")
            server.stop(signal.SIGTERM)


def test_asynchat_file_server(tmp_path: Path) -> None:
    big = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "small.txt").write_bytes(b"tiny\n")
    (tmp_path / "empty").write_bytes(b"")
    with Server("asynchat_file_server.py", str(tmp_path)) as server:
        with server.connect() as c:
            # Pipelined: the answers come back in order.
            c.send(b"GET small.txt\nGET big.bin\nGET nothing\nGET ../small.txt\nGET empty\n")
            c.expect(b"OK 5\n")
            assert c.read_exactly(5) == b"tiny\n"
            c.expect(b"OK %d\n" % len(big))
            assert c.read_exactly(len(big)) == big
            c.expect(b"ERR no such file\n")
            c.expect(b"ERR no such file\n")
            c.expect(b"OK 0\n")
            # A client that leaves in the middle of a file: no leaked file.
            with server.connect() as quitter:
                quitter.send(b"GET big.bin\n")
                quitter.expect(b"OK %d\n" % len(big))
                quitter.read_exactly(1000)
            c.send(b"QUIT\n")
            c.expect_eof()
        with server.connect() as c:
            c.send(b"SHUTDOWN\n")
            c.expect_eof()
        server.wait()


# ---------------------------------------------------------------------------
# the chat server, three stages, one client test
# ---------------------------------------------------------------------------

CHAT_STAGES = ["chat/stage1_asyncore.py", "chat/stage2_mixed.py", "chat/stage3_asyncio.py"]


def join(server: Server, nick: bytes) -> Client:
    client = server.connect()
    client.send(nick + b"\n")
    client.expect(b"* welcome " + nick + b"\n")
    return client


@pytest.mark.parametrize("script", CHAT_STAGES)
def test_chat(script: str) -> None:
    with Server(script) as server:
        alice = join(server, b"alice")
        bob = join(server, b"bob")
        alice.expect(b"* bob joined\n")
        try:
            alice.send(b"hello everyone\n")
            alice.expect(b"<alice> hello everyone\n")
            bob.expect(b"<alice> hello everyone\n")
            # A line in pieces, then two lines in one segment, an empty one and CRLF.
            bob.send(b"hel")
            bob.send(b"lo\r\n\n/who\n")
            alice.expect(b"<bob> hello\n")
            bob.expect(b"<bob> hello\n")
            bob.expect(b"* online: alice, bob\n")
            bob.send(b"/quit\n")
            bob.expect(b"* bye\n")
            bob.expect_eof()
            alice.expect(b"* bob left\n")
            carol = join(server, b"carol")
            alice.expect(b"* carol joined\n")
            carol.close()  # gone without a word
            alice.expect(b"* carol left\n")
            nobody = server.connect()  # connected, never sent a nickname
            alice.send(b"/who\n")
            alice.expect(b"* online: alice\n")
            alice.send(b"/shutdown\n")
            alice.expect(b"* server stopping\n")
            alice.expect_eof()
            nobody.expect_eof()
            nobody.close()
        finally:
            alice.close()
            bob.close()
        server.wait()


@pytest.mark.parametrize("script", CHAT_STAGES)
def test_chat_sigterm(script: str) -> None:
    with Server(script) as server:
        with join(server, b"dave") as dave:
            server.stop(signal.SIGTERM)
            dave.buffer = b""
            try:
                rest = dave.sock.recv(65536)
            except ConnectionResetError:
                rest = b""
            assert rest in (b"", b"* server stopping\n")


# ---------------------------------------------------------------------------
# the mixed server
# ---------------------------------------------------------------------------


def test_mixed_server() -> None:
    with Server("mixed_server.py") as server:
        echo_port, lines_port, stats_port = server.ports
        with server.connect(echo_port) as echo, server.connect(lines_port) as lines:
            echo.send(b"old school")
            assert echo.read_exactly(10) == b"old school"
            lines.send(b"UPPER mixed\n")
            lines.expect(b"MIXED\n")
            with server.connect(stats_port) as stats:
                # echo listener + channel, lines server (asyncio) + channel,
                # stats listener + this connection's transport (asyncio)
                stats.expect(b"channels 6 asyncio 2\n")
                stats.expect_eof()
            lines.send(b"SHUTDOWN\n")
            lines.expect(b"BYE\n")
            lines.expect_eof()
            echo.expect_eof()  # close_all() closed the legacy channels too
        server.wait()


def test_mixed_server_sigterm() -> None:
    with Server("mixed_server.py") as server:
        with server.connect(server.ports[1]) as lines:
            lines.send(b"UPPER x\n")
            lines.expect(b"X\n")
            server.stop(signal.SIGTERM)
            lines.expect_eof()
