"""dispatcher_with_send's output queue (issue 15, point 7).

3.11 kept the queue in one bytes object: every send() copied all of it to
append, every write event copied all of it to drop what went out, so 100 MB
queued in 1 MB sends blocked the loop for seconds. compat keeps the chunks
and an offset; what a subclass sees (``out_buffer``, the data handed to
``socket.send``) stays 3.11's. The cost is checked by memory, not by time:
one send() or write event must not allocate anything near the queue's size.
"""
import os
import socket
import tracemalloc
from typing import Any, Callable, List

import pytest
from support import StubSocket
from hypothesis import given, settings
from hypothesis import strategies as st

from compat import asyncore

MB = 1 << 20


class Wire:
    """socket.send stand-in: takes ``limit`` bytes per call (0: would block)."""

    def __init__(self) -> None:
        self.limit = 0
        self.data = bytearray()
        self.calls: List[bytes] = []

    def send(self, data: Any) -> int:
        self.calls.append(bytes(data))
        if self.limit == 0:
            raise BlockingIOError(11, "would block")
        n = min(self.limit, len(data))
        self.data += bytes(data[:n])
        return n


def peak_allocated_by(call: Callable[[], Any]) -> int:
    """Peak bytes allocated while ``call()`` runs, above what was held before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_send_with_much_queued_does_not_copy_the_queue(stub_channel):
    wire = Wire()
    chan = stub_channel(wire.send)
    chunks = [os.urandom(16) * (MB // 16) for _ in range(16)]  # 16 MB the socket does not take
    for chunk in chunks:
        chan.send(chunk)
    one_more = os.urandom(1000)
    # 3.11 (and compat before) built a new 16 MB buffer here.
    assert peak_allocated_by(lambda: chan.send(one_more)) < MB
    wire.limit = 65536
    # ... and here a new buffer of all but the 64 KiB sent.
    assert peak_allocated_by(chan.handle_write) < MB
    while chan.out_buffer:
        chan.handle_write()
    assert bytes(wire.data) == b"".join(chunks) + one_more


def test_a_write_event_on_a_real_socket_copies_at_most_what_it_sends(clean_map):
    a, b = socket.socketpair()
    chan = asyncore.dispatcher_with_send(a)
    try:
        payload = os.urandom(MB)
        for _ in range(12):
            chan.send(payload)
        assert len(chan.out_buffer) > 8 * MB  # the peer reads nothing yet
        b.setblocking(False)
        received = bytearray()

        def drain_then_write() -> None:
            while True:
                try:
                    received.extend(b.recv(MB))
                except BlockingIOError:
                    break
            chan.handle_write()

        for _ in range(3):
            assert peak_allocated_by(drain_then_write) < 3 * MB  # the peer's reads included
        assert bytes(received) == (payload * 12)[: len(received)]
    finally:
        b.close()
        chan.close()


def test_small_queued_sends_go_out_together_as_from_one_buffer(stub_channel):
    # Chunks are an internal matter: each send() to the socket gets the next
    # 64 KiB of the queue, across chunk boundaries, as 3.11 passed it.
    wire = Wire()
    chan = stub_channel(wire.send)
    pieces = [os.urandom(100) for _ in range(1000)]
    for piece in pieces:
        chan.send(piece)
    whole = b"".join(pieces)
    wire.calls.clear()
    wire.limit = 1 << 30
    chan.handle_write()
    assert wire.calls == [whole[:65536]]
    chan.handle_write()
    assert wire.calls[1] == whole[65536:]
    assert chan.out_buffer == b"" and bytes(wire.data) == whole


def test_out_buffer_reads_and_assignments_see_the_whole_queue(stub_channel):
    wire = Wire()
    chan = stub_channel(wire.send)
    wire.limit = 3
    chan.send(b"abcdef")  # 3 sent, "def" kept at an offset
    wire.limit = 0
    chan.send(b"ghi")
    chan.send(bytearray(b"jkl"))
    assert chan.out_buffer == b"defghijkl" and type(chan.out_buffer) is bytes
    chan.out_buffer = chan.out_buffer + b"mno"  # what 3.11 subclasses do
    chan.send(b"pqr")
    assert chan.out_buffer == b"defghijklmnopqr"
    chan.out_buffer = b""
    assert not chan.writable() or not chan.connected
    chan.send(b"stu")
    wire.limit = 100
    chan.handle_write()
    assert bytes(wire.data) == b"abcstu"


def test_a_mutable_buffer_is_copied_when_queued(stub_channel):
    wire = Wire()
    chan = stub_channel(wire.send)
    chan.send(b"first")
    data = bytearray(b"second")
    chan.send(data)
    data[:] = b"XXXXXX"  # 3.11 had copied it into its buffer
    chan.send(memoryview(bytearray(b"third")))
    wire.limit = 100
    chan.handle_write()
    assert bytes(wire.data) == b"firstsecondthird"


def test_text_is_refused_with_output_queued_and_nothing_is_lost(stub_channel):
    wire = Wire()
    chan = stub_channel(wire.send)
    chan.send(b"kept")
    with pytest.raises(TypeError):
        chan.send("text")
    assert chan.out_buffer == b"kept"


# What 3.11 did, step by step: one bytes buffer, send() appends and tries to
# send, each attempt hands buffer[:65536] to socket.send.
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 200_000), st.sampled_from(["bytes", "bytearray", "memoryview"])),
        st.tuples(st.just("limit"), st.integers(0, 150_000), st.just("")),
        st.tuples(st.just("write"), st.just(0), st.just("")),
        st.tuples(st.just("read"), st.just(0), st.just("")),
        st.tuples(st.just("assign"), st.integers(0, 70_000), st.just("")),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_what_the_socket_and_subclasses_see_is_what_3_11_showed(ops):
    r, w = os.pipe()
    try:
        wire = Wire()
        m: dict = {}
        chan = asyncore.dispatcher_with_send(map=m)
        chan.set_socket(StubSocket(r, wire.send))
        chan.connected = True
        model = b""  # 3.11's out_buffer
        expected_calls: List[bytes] = []

        def model_initiate_send() -> None:
            nonlocal model
            expected_calls.append(model[:65536])
            if wire.limit:
                model = model[min(wire.limit, len(model[:65536])):]

        counter = 0
        for op, n, kind in ops:
            if op == "send":
                counter += 1
                raw = bytes([counter % 256]) * n
                data: Any = {"bytes": raw, "bytearray": bytearray(raw), "memoryview": memoryview(raw)}[kind]
                model = model + data
                model_initiate_send()
                chan.send(data)
            elif op == "limit":
                wire.limit = n
            elif op == "write":
                model_initiate_send()
                chan.handle_write()
            elif op == "read":
                assert chan.out_buffer == model
            else:
                counter += 1
                model = bytes([counter % 256]) * n
                chan.out_buffer = model
            assert wire.calls == expected_calls
            assert chan.out_buffer == model
            assert bool(chan.writable()) == bool(model)
        m.clear()
    finally:
        os.close(r)
        os.close(w)
