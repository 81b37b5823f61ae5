"""Calls from other threads while ``loop()`` serves the map in this one.

push()/send() from a worker thread are handed to the serving thread, decided
by thread identity: data keeps its order even while the serving thread is
inside the same channel's handler. Channels created in a worker thread are not
closed by the events of a socket that has not connected yet.
"""
import socket
import sys
import threading
from typing import Any, List

import pytest
from support import HOST, TIMEOUT, Listener

from compat import asynchat, asyncore

pytestmark = pytest.mark.usefixtures("clean_map")

ROUNDS = 1000
PAD = b"-" * 2000


def _read_lines(sock: socket.socket, want: int) -> List[bytes]:
    buf = b""
    lines: List[bytes] = []
    sock.settimeout(TIMEOUT)
    while len(lines) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines.extend(done)
    return lines


def _check_order(lines: List[bytes]) -> None:
    """Both sources' lines arrive once each, each source in order."""
    for tag in (b"S", b"W"):
        seq = [int(line[1:].rstrip(b"-")) for line in lines if line[:1] == tag]
        assert seq == list(range(ROUNDS)), f"{tag!r} lines lost, duplicated or reordered"


@pytest.fixture(autouse=True)
def _switch_often() -> Any:
    """Threads take turns every microsecond: races show in every run, not one in a hundred."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _serve_while(worker: Any, errors: List[BaseException]) -> None:
    """loop() in this thread until the worker is done (it closes the map's channels)."""
    thread = threading.Thread(target=worker)
    thread.start()
    try:
        asyncore.loop(timeout=0.05)
    finally:
        thread.join(TIMEOUT)
    assert not errors, errors


def _pushing_chat(kind: str) -> None:
    """A server channel answering each request line from its own handler,
    while a worker thread pushes (or sends) to the very same channel."""
    chans: List[Any] = []
    ready = threading.Event()
    errors: List[BaseException] = []

    if kind == "push":

        class Server(asynchat.async_chat):
            def __init__(self, sock: socket.socket) -> None:
                super().__init__(sock)
                self.set_terminator(b"\n")
                self.buf = b""
                chans.append(self)
                ready.set()

            def collect_incoming_data(self, data: bytes) -> None:
                self.buf += data

            def found_terminator(self) -> None:
                self.push(b"S" + self.buf + b"\n")
                self.buf = b""

        def out(chan: Any, data: bytes) -> None:
            chan.push(data)

    else:

        class Server(asyncore.dispatcher_with_send):  # type: ignore[no-redef]
            def __init__(self, sock: socket.socket) -> None:
                super().__init__(sock)
                self.buf = b""
                chans.append(self)
                ready.set()

            def handle_read(self) -> None:
                self.buf += self.recv(65536)
                *lines, self.buf = self.buf.split(b"\n")
                for line in lines:
                    self.send(b"S" + line + b"\n")

        def out(chan: Any, data: bytes) -> None:
            chan.send(data)

    listener = Listener(Server)

    def worker() -> None:
        try:
            with socket.create_connection((HOST, listener.port), timeout=TIMEOUT) as client:
                assert ready.wait(TIMEOUT)
                chan = chans[0]
                # Big enough lines that the socket buffer fills: output queues
                # up, and both threads work on the same queue.
                lines: List[bytes] = []
                reader = threading.Thread(target=lambda: lines.extend(_read_lines(client, 2 * ROUNDS)))
                reader.start()
                for i in range(ROUNDS):
                    # A request (answered from the channel's own handler) and
                    # a line from here, at about the same time.
                    client.sendall(b"%d%s\n" % (i, PAD))
                    out(chan, b"W%d%s\n" % (i, PAD))
                reader.join(TIMEOUT)
                _check_order(lines)
        except BaseException as exc:
            errors.append(exc)
        finally:
            asyncore.close_all()

    _serve_while(worker, errors)


@pytest.mark.parametrize("kind", ["push", "send"])
def test_calls_from_a_worker_keep_order_while_the_channel_handles_its_own(kind: str) -> None:
    _pushing_chat(kind)


@pytest.mark.parametrize("gap", [False, True])
def test_client_channel_made_in_a_worker_thread_is_not_closed_before_it_connects(gap: bool) -> None:
    """create_socket() in a worker adds the channel to the map being served;
    its not yet connected socket polls as hung up, which must not close it."""
    listener = Listener(lambda sock: sock.close())
    errors: List[BaseException] = []
    connected: List[int] = []
    rounds = 300 if gap else ROUNDS

    class Client(asyncore.dispatcher):
        def handle_connect(self) -> None:
            connected.append(1)
            self.close()

        def handle_read(self) -> None:
            self.recv(100)  # what a client does; ENOTCONN here closed it

        def handle_write(self) -> None:
            pass

    def worker() -> None:
        try:
            for _ in range(rounds):
                client = Client()
                client.create_socket()
                if gap:
                    # Let the serving loop poll at least once with the fresh socket in it.
                    for _ in range(2):
                        polled = threading.Event()
                        loop = asyncore.socket_map.server.loop
                        loop.call_soon_threadsafe(polled.set)
                        assert polled.wait(TIMEOUT)
                client.connect((HOST, listener.port))
        except BaseException as exc:
            errors.append(exc)
        finally:
            done = threading.Event()

            def finish() -> None:
                if len(connected) < rounds and not errors:
                    asyncore.socket_map.server.loop.call_later(0.01, finish)
                    return
                asyncore.close_all()
                done.set()

            asyncore.socket_map.server.loop.call_soon_threadsafe(finish)
            done.wait(TIMEOUT)

    _serve_while(worker, errors)
    assert len(connected) == rounds
