"""async_chat over real TCP sockets on 127.0.0.1: output queue, close, bound, cost."""
import os
import socket
import struct
import threading
from collections import deque
from typing import Any, Callable, List, Optional, Tuple

import pytest
from support import HOST, run_until

from compat import asynchat, asyncore, core

BIG = 8 << 20  # far more than loopback socket buffers take at once

pytestmark = pytest.mark.usefixtures("each_loop", "clean_map")

TcpPairs = Callable[[], Tuple[socket.socket, socket.socket]]


# -- helpers ---------------------------------------------------------------------


class Peer:
    """The far end, read without blocking between loop passes."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.data = bytearray()
        self.eof = False

    def drain(self) -> "Peer":
        while not self.eof:
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                self.eof = True
            self.data += chunk
        return self

    def at_eof(self) -> bool:
        return self.drain().eof


class Chat(asynchat.async_chat):
    """Records CRLF lines; remembers how it was closed."""

    def __init__(self, sock: Optional[socket.socket] = None, map: Any = None) -> None:
        super().__init__(sock, map)
        self.records: List[bytes] = []
        self.closed = False
        self.errors: List[BaseException] = []
        self.set_terminator(b"\r\n")

    def collect_incoming_data(self, data: bytes) -> None:
        self._collect_incoming_data(data)

    def found_terminator(self) -> None:
        self.records.append(self._get_data())

    def handle_close(self) -> None:
        self.closed = True
        self.close()

    def handle_error(self) -> None:
        import sys

        self.errors.append(sys.exc_info()[1])  # type: ignore[arg-type]
        self.close()


def entry_of(chan: asyncore.dispatcher) -> Any:
    """What the core registered for ``chan`` (its cached interest)."""
    server = core.server_of(chan._map)
    assert server is not None
    return server.entries[chan._fileno]


def writer_registered(chan: asyncore.dispatcher) -> bool:
    """Whether the next poll waits for ``chan`` to be writable.

    The core applies reported changes just before it polls; run that step.
    """
    server = core.server_of(chan._map)
    assert server is not None
    server.prepare()
    return bool(server.entries[chan._fileno].w)


# -- output ----------------------------------------------------------------------


class OddProducer:
    """Gives its data back in awkward sizes, as bytes, bytearray and memoryview."""

    SIZES = [1, 3, 7, 0x10001, 4093, 2, 200_000, 5]

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    def more(self) -> Any:
        size = self.SIZES[self.calls % len(self.SIZES)]
        kind = (bytes, bytearray, memoryview)[self.calls % 3]
        self.calls += 1
        piece, self.data = self.data[:size], self.data[size:]
        return kind(piece) if piece else b""


def test_producers_with_odd_sizes(tcp_pairs: TcpPairs) -> None:
    sock, peer_sock = tcp_pairs()
    chan, peer = Chat(sock), Peer(peer_sock)
    body = os.urandom(600_000)
    chan.push(b"<")
    chan.push_with_producer(OddProducer(body))
    chan.push(b"|")
    chan.push_with_producer(asynchat.simple_producer(body[:10_000], buffer_size=333))
    chan.push_with_producer(b"plain bytes as a producer")
    chan.push(b">")
    chan.close_when_done()
    run_until(peer.at_eof)
    assert bytes(peer.data) == b"<" + body + b"|" + body[:10_000] + b"plain bytes as a producer>"
    assert chan.closed and not chan.errors


@pytest.mark.parametrize("private_map", [False, True])
def test_close_when_done_flushes_everything_then_closes(tcp_pairs: TcpPairs, private_map: bool) -> None:
    map = {} if private_map else None
    sock, peer_sock = tcp_pairs()
    chan, peer = Chat(sock, map=map), Peer(peer_sock)
    payload = os.urandom(BIG)
    chan.push(payload)
    chan.close_when_done()
    assert not peer.at_eof()
    run_until(peer.at_eof, map=map)
    assert len(peer.data) == len(payload) and bytes(peer.data) == payload
    assert chan.closed and not chan.errors
    assert chan not in (map if map is not None else asyncore.socket_map).values()


def test_discard_buffers(tcp_pairs: TcpPairs) -> None:
    sock, peer_sock = tcp_pairs()
    chan, peer = Chat(sock), Peer(peer_sock)
    peer_sock.sendall(b"abc\r")  # a partial record, with a held terminator prefix
    run_until(lambda: chan.incoming and chan.ac_in_buffer == b"\r")
    big = os.urandom(BIG)
    chan.push(big)  # one slice goes out now, the rest is queued
    assert chan.producer_fifo and writer_registered(chan)
    chan.discard_buffers()
    assert not chan.producer_fifo and not chan.incoming and chan.ac_in_buffer == b""
    assert not writer_registered(chan)  # nothing to write: no writer registered
    chan.push(b"END")
    peer_sock.sendall(b"def\r\n")
    run_until(lambda: chan.records and peer.drain().data.endswith(b"END"))
    assert chan.records == [b"def"]
    sent = len(peer.data) - 3
    assert sent <= chan.ac_out_buffer_size and bytes(peer.data[:sent]) == big[:sent]
    chan.close()


def test_push_bytes_like(tcp_pairs: TcpPairs) -> None:
    sock, peer_sock = tcp_pairs()
    chan, peer = Chat(sock), Peer(peer_sock)
    big = os.urandom(3 * chan.ac_out_buffer_size + 17)
    chan.push(bytearray(b"ab"))
    chan.push(memoryview(b"cd"))
    chan.push(b"")
    chan.push(memoryview(big))  # split into ac_out_buffer_size slices
    chan.push(bytearray(b"ef"))
    chan.close_when_done()
    run_until(peer.at_eof)
    assert bytes(peer.data) == b"abcd" + big + b"ef"


def test_push_rejects_non_bytes(tcp_pairs: TcpPairs) -> None:
    sock, peer_sock = tcp_pairs()
    chan = Chat(sock)
    for bad in ("text", 10, None, [b"x"]):
        with pytest.raises(TypeError, match="bytes-like"):
            chan.push(bad)  # type: ignore[arg-type]
    assert not chan.producer_fifo
    chan.close()


def test_peer_reset_while_output_is_queued(tcp_pairs: TcpPairs) -> None:
    sock, peer_sock = tcp_pairs()
    chan = Chat(sock)
    chan.push(os.urandom(BIG))
    assert chan.producer_fifo
    # SO_LINGER 0: close() sends RST instead of FIN.
    peer_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer_sock.close()
    asyncore.loop(timeout=1.0)  # returns once the channel has left the map
    assert chan.closed and not chan.errors
    assert not asyncore.socket_map


def test_push_from_another_thread_is_sent_promptly(tcp_pairs: TcpPairs) -> None:
    """The loop waits with a 30 s timeout; the push must not wait for it."""
    sock, peer_sock = tcp_pairs()
    serving = threading.Event()
    payload = os.urandom(BIG)
    outcome: List[Any] = []

    class Waiter(Chat):
        def found_terminator(self) -> None:
            serving.set()  # loop() runs in the main thread now

    chan = Waiter(sock)

    def peer() -> None:
        try:
            peer_sock.sendall(b"go\r\n")
            assert serving.wait(10)
            chan.push(payload)  # more than one send: the rest needs the writer
            got = bytearray()
            peer_sock.settimeout(10)  # stdlib would sit in select() for 30 s
            while len(got) < len(payload):
                chunk = peer_sock.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
            outcome.append(bytes(got) == payload)
        except BaseException as exc:
            outcome.append(exc)
        finally:
            peer_sock.close()  # the channel sees EOF and closes: loop() returns

    thread = threading.Thread(target=peer)
    thread.start()
    try:
        asyncore.loop(timeout=30.0)
    finally:
        thread.join(20)
    assert outcome == [True]
    assert chan.closed and not chan.errors


def test_connect_then_push_before_connected() -> None:
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(1)
        client = Chat()
        client.handle_connect = lambda: None  # type: ignore[assignment]
        client.create_socket()
        client.connect(listener.getsockname())
        client.push(b"hello\r\n")  # queued until the connect completes
        assert client.writable()
        run_until(lambda: client.connected and not client.producer_fifo)
        peer_sock, _ = listener.accept()
    with peer_sock:
        peer_sock.settimeout(5)
        assert peer_sock.recv(100) == b"hello\r\n"
    assert not writer_registered(client)
    client.close()


def test_half_close_still_gets_the_reply(tcp_pairs: TcpPairs) -> None:
    """The peer sends a request and shuts down its side: the reply is not lost."""

    class Replier(Chat):
        def found_terminator(self) -> None:
            super().found_terminator()
            self.push(reply)

    reply = os.urandom(BIG)
    sock, peer_sock = tcp_pairs()
    chan, peer = Replier(sock), Peer(peer_sock)
    peer_sock.sendall(b"get\r\n")
    peer_sock.shutdown(socket.SHUT_WR)
    run_until(peer.at_eof)
    assert bytes(peer.data) == reply
    assert chan.records == [b"get"] and chan.closed and not chan.errors


# -- legacy access to the queue ----------------------------------------------------


def test_direct_producer_fifo_append_registers_writer(tcp_pairs: TcpPairs) -> None:
    sock, peer_sock = tcp_pairs()
    chan, peer = Chat(sock), Peer(peer_sock)
    run_until(lambda: core.server_of(asyncore.socket_map).loop is not None)
    assert not writer_registered(chan)
    chan.producer_fifo.append(b"direct\r\n")  # legacy code does this
    assert writer_registered(chan)
    run_until(lambda: peer.drain().data == b"direct\r\n")
    run_until(lambda: not writer_registered(chan))
    # Replacing the queue with a plain deque keeps it reporting.
    chan.producer_fifo = deque([b"replaced\r\n"])
    assert writer_registered(chan)
    chan.producer_fifo.append(None)
    run_until(peer.at_eof)
    assert bytes(peer.data) == b"direct\r\nreplaced\r\n"


# -- the input bound -----------------------------------------------------------------


class Bounded(Chat):
    ac_max_buffer_size = 1024


def test_input_bound_closes_by_default(tcp_pairs: TcpPairs, capsys: Any) -> None:
    sock, peer_sock = tcp_pairs()
    chan, peer = Bounded(sock), Peer(peer_sock)
    peer_sock.sendall(b"ok\r\n" + b"x" * 1024 + b"\r\n" + b"y" * 5000)
    run_until(peer.at_eof)
    assert chan.records == [b"ok", b"x" * 1024]  # exactly the bound is allowed
    assert chan.closed and not chan.errors
    assert "ac_max_buffer_size=1024" in capsys.readouterr().out


def test_input_bound_hook_can_answer(tcp_pairs: TcpPairs) -> None:
    class Polite(Bounded):
        def handle_buffer_overflow(self) -> None:
            self.push(b"ERR line too long\r\n")
            self.close_when_done()

    sock, peer_sock = tcp_pairs()
    chan, peer = Polite(sock), Peer(peer_sock)
    peer_sock.sendall(b"z" * 100_000)
    run_until(peer.at_eof)
    assert bytes(peer.data) == b"ERR line too long\r\n"
    assert chan.records == [] and not chan.incoming


def test_unbounded_by_default(tcp_pairs: TcpPairs) -> None:
    sock, peer_sock = tcp_pairs()
    chan = Chat(sock)
    assert chan.ac_max_buffer_size is None
    line = os.urandom(1 << 20).replace(b"\r", b"r")
    peer_sock.sendall(line + b"\r\n")
    run_until(lambda: chan.records)
    assert chan.records == [line]
    chan.close()


# -- what an idle channel costs --------------------------------------------------------


class Counted(Chat):
    """Counts how often the core asks its (stock) predicates."""

    asked = 0

    def readable(self) -> bool:
        self.asked += 1
        return asynchat.async_chat.readable(self)

    def writable(self) -> bool:
        self.asked += 1
        return asynchat.async_chat.writable(self)


core.register_stock_predicates(Counted.readable, Counted.writable)


class Echo(Chat):
    def found_terminator(self) -> None:
        self.push(self._get_data() + b"\r\n")


def test_idle_channel_is_not_asked_per_pass(tcp_pairs: TcpPairs) -> None:
    idle_sock, idle_peer_sock = tcp_pairs()
    busy_sock, busy_peer_sock = tcp_pairs()
    idle, busy = Counted(idle_sock), Echo(busy_sock)
    busy_peer = Peer(busy_peer_sock)
    server = core.server_of(asyncore.socket_map)
    assert asynchat.async_chat.readable in core.channel._stock_predicates
    asyncore.loop(timeout=0, count=1)
    assert server is not None and server.loop is not None
    assert idle._fileno not in server.polled and busy._fileno not in server.polled
    assert not writer_registered(idle) and entry_of(idle).r
    idle.asked = 0
    for i in range(200):  # 200 passes with events, none of them the idle channel's
        busy_peer_sock.sendall(b"ping %d\r\n" % i)
        run_until(lambda: busy_peer.drain().data.endswith(b"ping %d\r\n" % i))
    assert idle.asked == 0
    # A push is still seen at once.
    idle_peer = Peer(idle_peer_sock)
    idle.push_with_producer(asynchat.simple_producer(b"wake\r\n" * 50_000))
    assert writer_registered(idle)
    run_until(lambda: len(idle_peer.drain().data) == 6 * 50_000)
    run_until(lambda: not writer_registered(idle))
    idle.close()
    busy.close()


def test_encoding_producer(tcp_pairs: TcpPairs) -> None:
    class Text(Chat):
        use_encoding = 1
        encoding = "utf-8"

    sock, peer_sock = tcp_pairs()
    chan, peer = Text(sock), Peer(peer_sock)
    chan.set_terminator("\r\n")
    chan.push_with_producer(asynchat.simple_producer("h\u00e9llo\r\n"))  # type: ignore[arg-type]
    chan.close_when_done()
    run_until(peer.at_eof)
    assert bytes(peer.data) == "h\u00e9llo\r\n".encode("utf-8")
