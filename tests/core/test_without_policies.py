"""Python 3.16 removes the event loop policy system: compat must not need it.

Each test runs a program in a fresh interpreter where the public policy names
are gone from ``asyncio`` (as they will be), and checks the core, the three
facades, ``install()`` and ``compat run`` all work there. On 3.9-3.13 the
policy API is how asyncio itself finds the current loop, so there is no 3.16
to imitate and the tests do not apply.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 14), reason="asyncio itself still runs on the policy API before 3.14"
)

REMOVE_POLICIES = textwrap.dedent(
    """
    import asyncio, asyncio.events
    GONE = ("get_event_loop_policy", "set_event_loop_policy", "DefaultEventLoopPolicy",
            "AbstractEventLoopPolicy", "EventLoopPolicy")
    for module in (asyncio, asyncio.events):
        for name in GONE:
            module.__dict__.pop(name, None)
    _getattr = asyncio.__getattr__
    def __getattr__(name):
        if name in GONE:
            raise AttributeError(f"module 'asyncio' has no attribute {name!r} (3.16)")
        return _getattr(name)
    asyncio.__getattr__ = __getattr__

    # Nothing deprecated on the way either; LegacyWarning is install()'s point.
    import warnings
    warnings.simplefilter("error", DeprecationWarning)
    warnings.simplefilter("error", PendingDeprecationWarning)
    from compat import LegacyWarning
    warnings.simplefilter("ignore", LegacyWarning)
    """
)

FACADES = textwrap.dedent(
    """
    import asyncio, socket
    from compat import aio, asynchat, asyncore

    HOST = "127.0.0.1"

    class Echo(asyncore.dispatcher_with_send):
        def handle_read(self):
            self.send(self.recv(100))

    class Lines(asynchat.async_chat):
        def __init__(self, sock):
            super().__init__(sock)
            self.set_terminator(b"\\n")
            self.buf = []
        def collect_incoming_data(self, data):
            self.buf.append(data)
        def found_terminator(self):
            self.push(b"".join(self.buf).upper() + b"\\n")
            self.buf = []

    class Listener(asyncore.dispatcher):
        def __init__(self, handler):
            super().__init__()
            self.handler = handler
            self.create_socket()
            self.bind((HOST, 0))
            self.listen(5)
        def handle_accepted(self, sock, addr):
            self.handler(sock)

    async def echo(reader, writer):
        writer.write(await reader.readline())
        await writer.drain()
        await reader.read()
        writer.close()

    async def main():
        legacy, chat = Listener(Echo), Listener(Lines)
        server = await asyncio.start_server(echo, HOST, 0)
        out = []
        for port, msg in ((legacy.socket.getsockname()[1], b"one\\n"),
                          (chat.socket.getsockname()[1], b"two\\n"),
                          (server.sockets[0].getsockname()[1], b"three\\n")):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(msg)
            out.append(await asyncio.wait_for(reader.readline(), 10))
            writer.close()
        kinds = sorted({getattr(ch, "kind", "legacy") for ch in asyncore.socket_map.values()})
        asyncore.close_all()
        return out, kinds

    out, kinds = aio.run(main())
    assert out == [b"one\\n", b"TWO\\n", b"three\\n"], out
    assert kinds == ["asyncio server", "asyncio transport", "legacy"], kinds

    # asyncore.loop() on its own, as legacy servers run.
    got = []
    class Client(asyncore.dispatcher):
        def __init__(self, port):
            super().__init__()
            self.create_socket()
            self.connect((HOST, port))
        def writable(self):
            return not self.connected
        def handle_connect(self):
            self.send(b"four")
        def handle_read(self):
            got.append(self.recv(100))
            self.close()
    listener = Listener(Echo)
    Client(listener.socket.getsockname()[1])
    while not got:
        asyncore.loop(timeout=5, count=1)
    asyncore.close_all()
    assert got == [b"four"], got
    print("ok")
    """
)

LEGACY = textwrap.dedent(
    """
    import asyncio

    @asyncio.coroutine
    def answer(x):
        yield from asyncio.sleep(0, loop=loop)
        return x * 2

    loop = asyncio.get_event_loop()
    print(loop.run_until_complete(answer(21)))
    loop.close()
    """
)


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def test_core_and_facades_without_policies(tmp_path: Path) -> None:
    result = _run(REMOVE_POLICIES + FACADES, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_compat_run_of_a_legacy_program_without_policies(tmp_path: Path) -> None:
    script = tmp_path / "legacy.py"
    script.write_text(LEGACY)
    code = REMOVE_POLICIES + "import sys\nfrom compat.cli.main import main\nsys.exit(main(['run', 'legacy.py']))\n"
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"
