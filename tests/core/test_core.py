"""The core: how maps are served, where interest lives, what a pass costs."""
import asyncio
import os
import resource
import socket
import threading
import time
import types

import pytest
from support import HOST, ON_SELECT, Echo, Listener, run_until

from compat import asyncore, core


class Collector(asyncore.dispatcher):
    """A client that connects, sends a payload and collects the echo."""

    def __init__(self, port, payload, map=None):
        super().__init__(map=map)
        self.payload = payload
        self.received = b""
        self.create_socket()
        self.connect((HOST, port))

    def handle_connect(self):
        pass

    def writable(self):
        return bool(self.payload)

    def handle_write(self):
        sent = self.send(self.payload)
        self.payload = self.payload[sent:]

    def handle_read(self):
        self.received += self.recv(65536)


def echo_roundtrip(sock, payload, timeout=5.0):
    sock.settimeout(timeout)
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "server closed early"
        got += chunk
    return got


def test_socket_map_is_a_dict_that_reports_changes(clean_map):
    assert isinstance(asyncore.socket_map, dict)
    assert isinstance(asyncore.socket_map, core.ChannelMap)


def test_loop_in_background_thread_serves_channels_made_in_main_thread(clean_map):
    server = Listener()
    clients = [socket.create_connection((HOST, server.port)) for _ in range(5)]
    thread = threading.Thread(target=asyncore.loop, kwargs={"timeout": 0.5})
    thread.start()
    try:
        for i, client in enumerate(clients):
            payload = b"%d" % i * 5000
            assert echo_roundtrip(client, payload) == payload
    finally:
        for client in clients:
            client.close()
        server.close()  # from the main thread: handed to the serving thread
        thread.join(10)
        asyncore.close_all(ignore_all=True)
    assert not thread.is_alive()


def test_plain_dict_map_is_served_only_while_loop_runs_over_it(clean_map):
    private = {}
    server = Listener(map=private)
    assert server._fileno in private and server._fileno not in asyncore.socket_map
    client = Collector(server.port, b"x" * 100000, map=private)
    run_until(lambda: len(client.received) == 100000, map=private)
    assert client.received == b"x" * 100000
    assert core.server_of(private) is None  # detached once loop() returned
    asyncore.close_all(map=private)
    assert private == {}


def test_plain_dict_edited_directly_between_loop_calls():
    private = {}
    a, b = socket.socketpair()
    try:
        chan = asyncore.dispatcher(a, map={})  # registered in a different map
        got = []
        chan.handle_read = lambda: got.append(chan.recv(10))
        private[a.fileno()] = chan  # direct edit, no notification
        b.sendall(b"ping")
        run_until(lambda: got, map=private)
        assert got == [b"ping"]
    finally:
        a.close()
        b.close()


def test_pysnmp_style_stepping_with_a_timer_between_calls():
    """loop(timeout, use_poll=True, map=m, count=1) driven by hand, a timer in between."""
    m = {}
    server = Listener(map=m)
    client = socket.create_connection((HOST, server.port))
    client.setblocking(False)
    ticks = 0
    echoed = b""
    deadline = time.monotonic() + 5
    try:
        client.send(b"tick")
        while echoed != b"tick" and time.monotonic() < deadline:
            asyncore.loop(0.05, True, m, 1)
            ticks += 1  # the application's own timer work between passes
            try:
                echoed += client.recv(10)
            except BlockingIOError:
                pass
        assert echoed == b"tick"
        assert ticks >= 1
    finally:
        client.close()
        asyncore.close_all(map=m)


def test_private_map_woken_by_a_self_pipe_file_dispatcher():
    """waitress-style: another thread wakes the loop through a pipe."""
    m = {}
    r, w = os.pipe()
    woken = []

    class Trigger(asyncore.file_dispatcher):
        def readable(self):
            return True

        def writable(self):
            return False

        def handle_read(self):
            woken.append(self.recv(100))
            if b"stop" in woken[-1]:
                raise asyncore.ExitNow

    trigger = Trigger(r, map=m)
    os.close(r)
    thread = threading.Thread(target=lambda: os.write(w, b"stop"))
    try:
        thread.start()
        with pytest.raises(asyncore.ExitNow):
            asyncore.loop(timeout=30, map=m)  # blocks until the pipe wakes it
        assert b"stop" in b"".join(woken)
    finally:
        thread.join()
        os.close(w)
        trigger.close()


@pytest.mark.skipif(ON_SELECT, reason="select() takes no fd above 1023")
def test_fd_numbers_above_1024_with_default_loop(clean_map):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("cannot raise RLIMIT_NOFILE above 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = []
    try:
        while len(filler) < 1100:
            filler.append(os.open(os.devnull, os.O_RDONLY))
        server = Listener()
        client = socket.create_connection((HOST, server.port))
        try:
            run_until(lambda: server.accepted)
            assert server.accepted[0]._fileno > 1024
            payload = b"high fd" * 1000
            client.sendall(payload)
            client.setblocking(False)
            got = []

            def drained():
                try:
                    got.append(client.recv(65536))
                except BlockingIOError:
                    pass
                return len(b"".join(got)) >= len(payload)

            run_until(drained)
            assert b"".join(got) == payload
        finally:
            client.close()
    finally:
        asyncore.close_all(ignore_all=True)
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_fd_closed_and_reused_within_one_pass(clean_map):
    """A handler closes its channel and a new channel gets the same fd at once."""
    a, b = socket.socketpair()
    events = []

    class Recycler(asyncore.dispatcher):
        def handle_read(self):
            events.append(("old", self.recv(10)))
            fd = self._fileno
            self.close()
            c, d = socket.socketpair()
            pairs.append((c, d))
            newcomer = Newcomer(c)
            events.append(("reused", newcomer._fileno == fd))
            d.sendall(b"new")

        def writable(self):
            return False

    class Newcomer(asyncore.dispatcher):
        def handle_read(self):
            events.append(("new", self.recv(10)))

        def writable(self):
            return False

    pairs = []
    Recycler(a)
    b.sendall(b"old")
    try:
        run_until(lambda: ("new", b"new") in events)
        assert events[0] == ("old", b"old")
        assert ("reused", True) in events
    finally:
        b.close()
        for c, d in pairs:
            d.close()
        asyncore.close_all(ignore_all=True)


def test_writable_switching_off_does_not_spin(clean_map):
    a, b = socket.socketpair()
    counts = {"writable": 0, "write": 0}

    class Toggle(asyncore.dispatcher):
        want = True

        def writable(self):
            counts["writable"] += 1
            return self.want

        def handle_write(self):
            counts["write"] += 1
            self.want = False  # one write, then interest goes away

        def handle_read(self):
            self.recv(10)

    chan = Toggle(a)
    try:
        run_until(lambda: counts["write"] == 1)
        counts["writable"] = 0
        asyncore.loop(timeout=0.3, count=1)  # nothing is ready: one blocking pass
        assert counts["write"] == 1
        # A spinning loop would ask thousands of times in 0.3 s.
        assert counts["writable"] <= 3
        chan.want = True
        run_until(lambda: counts["write"] == 2)
    finally:
        b.close()
        chan.close()


def test_only_overriding_channels_are_asked_each_pass(clean_map, monkeypatch):
    calls = {"stock": 0, "polled": 0}
    stock_writable = asyncore.dispatcher_with_send.writable

    def counting_writable(self):
        calls["stock"] += 1
        return stock_writable(self)

    monkeypatch.setattr(asyncore.dispatcher_with_send, "writable", counting_writable)
    core.register_stock_predicates(counting_writable)

    class Polled(asyncore.dispatcher):
        def writable(self):
            calls["polled"] += 1
            return False

        def handle_read(self):
            self.recv(10)

    pairs = [socket.socketpair() for _ in range(50)]
    try:
        idle = [asyncore.dispatcher_with_send(a) for a, _ in pairs[:-1]]
        polled = Polled(pairs[-1][0])
        asyncore.loop(timeout=0, count=1)
        server = core.server_of(asyncore.socket_map)
        assert list(server.polled) == [polled._fileno]
        calls["stock"] = calls["polled"] = 0
        asyncore.loop(timeout=0, count=20)
        assert calls["stock"] == 0  # 49 idle stock channels cost nothing per pass
        assert calls["polled"] >= 20  # the overriding one is asked every pass
        assert len(idle) == 49
    finally:
        for a, b in pairs:
            b.close()
        asyncore.close_all(ignore_all=True)


def test_pass_with_nothing_ready_blocks_for_timeout(clean_map, selector_polls):
    a, b = socket.socketpair()
    chan = asyncore.dispatcher_with_send(a)
    passes = []
    chan.handle_read = lambda: passes.append(chan.recv(10))
    try:
        asyncore.loop(timeout=0.2, count=1)
        # A busy loop polls again and again with a zero timeout; one blocking
        # pass asks the selector to wait (for about the timeout) once or twice.
        assert passes == []
        assert 1 <= len(selector_polls) <= 3
        assert any(t and t > 0.1 for t in selector_polls)
    finally:
        b.close()
        chan.close()


def test_loop_returns_when_map_empties(clean_map):
    a, b = socket.socketpair()

    class Closer(asyncore.dispatcher):
        def handle_read(self):
            self.recv(10)
            self.close()

        def writable(self):
            return False

    Closer(a)
    b.sendall(b"bye")
    try:
        asyncore.loop(timeout=5)  # returns because the only channel closed
        assert len(asyncore.socket_map) == 0
    finally:
        b.close()


def test_loop_inside_running_asyncio_loop_raises():
    async def main():
        with pytest.raises(RuntimeError, match="already being served"):
            asyncore.loop(count=1)

    asyncio.run(main())


def test_core_loop_is_the_threads_current_asyncio_loop(clean_map):
    a, b = socket.socketpair()
    seen = []

    class Peek(asyncore.dispatcher):
        def handle_read(self):
            self.recv(10)
            seen.append(asyncio.get_event_loop())
            self.close()

        def writable(self):
            return False

    Peek(a)
    b.sendall(b"x")
    try:
        asyncore.loop(timeout=5)
        assert seen and seen[0] is core.thread_loop()
    finally:
        b.close()


@pytest.mark.skipif(ON_SELECT, reason="select() fails the whole poll on a closed fd (EBADF), as 3.11's did")
def test_fd_closed_behind_the_cores_back_reaches_handle_close(clean_map):
    a, b = socket.socketpair()
    closed = []

    class Victim(asyncore.dispatcher):
        def writable(self):
            return False

        def handle_read(self):
            self.recv(10)

        def handle_close(self):
            closed.append(True)
            self.del_channel()

    chan = Victim(a)
    server = core.server_of(asyncore.socket_map)
    try:
        asyncore.loop(timeout=0, count=1)
        a.close()  # behind the core's back: the fd number is now invalid
        chan.writable = lambda: True  # re-arming the closed fd must not raise
        server = core.server_of(asyncore.socket_map)
        server.sync_fd(chan._fileno, chan)
        run_until(lambda: closed)
    finally:
        b.close()
        asyncore.close_all(ignore_all=True)


def test_push_from_another_thread_wakes_the_loop_at_once(clean_map):
    """A buffer change from another thread is registered without waiting a timeout."""
    a, b = socket.socketpair()
    chan = asyncore.dispatcher_with_send(a)
    chan.handle_read = lambda: chan.recv(10)
    b.settimeout(10)
    result = []

    def other():
        chan.send(b"")  # no-op send first: nothing to flush
        chan.out_buffer = b"from thread"
        result.append(b.recv(100))
        chan.close()

    thread = threading.Thread(target=other)
    try:
        core.thread_loop().call_soon(thread.start)  # starts once the loop runs
        asyncore.loop(timeout=30)  # would sit 30 s if the write interest waited a pass
        thread.join(10)
        assert result == [b"from thread"]
    finally:
        b.close()


def test_send_from_another_thread_keeps_order_and_every_byte(clean_map):
    a, b = socket.socketpair()
    chan = asyncore.dispatcher_with_send(a)
    chan.handle_read = lambda: chan.recv(10)
    chunks = [b"%05d" % i * 200 for i in range(200)]
    expected = b"".join(chunks)
    received = []

    def reader():
        b.settimeout(10)
        total = b""
        while len(total) < len(expected):
            data = b.recv(65536)
            if not data:
                break
            total += data
        received.append(total)
        chan.close()

    def writer():
        for chunk in chunks:
            chan.send(chunk)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]

    def start():  # from inside the running loop, so the writer is "another thread"
        for t in threads:
            t.start()

    try:
        core.thread_loop().call_soon(start)
        asyncore.loop(timeout=30)
        for t in threads:
            t.join(10)
        assert received == [expected]
    finally:
        b.close()


def test_half_close_with_output_queued_delivers_everything(clean_map):
    """The peer sends a request and shuts down its side: the whole reply arrives."""
    reply = b"r" * (4 * 1024 * 1024)  # more than the socket buffers hold

    class Replier(asyncore.dispatcher_with_send):
        closed = False

        def handle_read(self):
            if self.recv(100):
                self.send(reply)

        def handle_close(self):
            Replier.closed = True
            self.close()

    server = Listener(handler=Replier)
    client = socket.create_connection((HOST, server.port))
    client.sendall(b"GET")
    client.shutdown(socket.SHUT_WR)
    client.setblocking(False)
    got = []

    def drained():
        try:
            while True:
                data = client.recv(1 << 20)
                if not data:
                    return True
                got.append(data)
        except BlockingIOError:
            return False

    try:
        run_until(drained, timeout=20)
        assert b"".join(got) == reply
        assert Replier.closed
    finally:
        client.close()
        server.close()


def test_sigint_during_loop_leaves_the_map_intact_and_service_resumes(clean_map):
    import signal

    server = Listener()
    main = threading.get_ident()
    core.thread_loop().call_soon(
        lambda: threading.Thread(target=signal.pthread_kill, args=(main, signal.SIGINT)).start()
    )
    with pytest.raises(KeyboardInterrupt):
        asyncore.loop(timeout=30)
    assert asyncore.socket_map.get(server._fileno) is server
    client = socket.create_connection((HOST, server.port))
    try:
        client.sendall(b"again")
        client.setblocking(False)
        got = []

        def echoed():
            try:
                got.append(client.recv(10))
            except BlockingIOError:
                pass
            return b"".join(got) == b"again"

        run_until(echoed)
    finally:
        client.close()
        server.close()


@pytest.mark.parametrize("exc", [asyncore.ExitNow, KeyboardInterrupt, SystemExit])
def test_leaving_exceptions_keep_the_map_and_a_second_loop_resumes(clean_map, exc):
    a, b = socket.socketpair()
    seen = []

    class Raiser(asyncore.dispatcher):
        def writable(self):
            return False

        def handle_read(self):
            data = self.recv(10)
            seen.append(data)
            if data == b"raise":
                raise exc()

    chan = Raiser(a)
    try:
        b.sendall(b"raise")
        with pytest.raises(exc):
            asyncore.loop(timeout=5)
        assert asyncore.socket_map.get(chan._fileno) is chan
        b.sendall(b"more")
        run_until(lambda: seen[-1] == b"more")
    finally:
        b.close()
        chan.close()


def test_predicates_are_not_asked_before_the_subclass_init_finishes(clean_map):
    """Regression: a handler made inside a running loop sets its attributes after
    dispatcher.__init__; asyncore asked predicates only at the next pass."""

    class Late(asyncore.dispatcher):
        def __init__(self, sock):
            super().__init__(sock)
            self.greeting = b"hello"  # writable() reads it

        def writable(self):
            return bool(self.greeting)

        def handle_write(self):
            self.greeting = self.greeting[self.send(self.greeting):]

        def handle_read(self):
            self.recv(10)

    server = Listener(handler=Late)
    client = socket.create_connection((HOST, server.port))
    client.setblocking(False)
    got = []

    def greeted():
        try:
            got.append(client.recv(10))
        except BlockingIOError:
            pass
        return b"".join(got) == b"hello"

    try:
        run_until(greeted)
    finally:
        client.close()
        asyncore.close_all(ignore_all=True)


def test_channel_with_a_fake_socket_can_join_and_leave_a_served_map(clean_map):
    """Regression: a Mock socket (fileno() not an int) in an attached map
    raised TypeError in registration and stuck in the map."""
    from unittest import mock

    a, b = socket.socketpair()
    real = asyncore.dispatcher(a)
    asyncore.loop(timeout=0, count=1)  # the default map is now attached
    real.close()
    b.close()
    fake = asyncore.dispatcher()
    fake.set_socket(mock.Mock())
    assert fake._fileno in asyncore.socket_map
    fake.del_channel()
    assert len(asyncore.socket_map) == 0


# -- interest is event-driven for stock channels: no re-read after handlers --


def test_active_stock_channel_is_not_asked_its_predicates_per_message(clean_map, monkeypatch):
    calls = {"readable": 0, "writable": 0}
    stock_readable = asyncore.dispatcher.readable
    stock_writable = asyncore.dispatcher_with_send.writable

    def counting_readable(self):
        calls["readable"] += 1
        return stock_readable(self)

    def counting_writable(self):
        calls["writable"] += 1
        return stock_writable(self)

    monkeypatch.setattr(asyncore.dispatcher, "readable", counting_readable)
    monkeypatch.setattr(asyncore.dispatcher_with_send, "writable", counting_writable)
    core.register_stock_predicates(counting_readable, counting_writable)
    a, b = socket.socketpair()
    chan = Echo(a)
    try:
        assert echo_roundtrip_stepping(b, b"warm-up") == b"warm-up"
        calls["readable"] = calls["writable"] = 0
        for i in range(100):
            msg = b"message %d" % i
            assert echo_roundtrip_stepping(b, msg) == msg
        # Echoing into an empty buffer changes no interest: nothing to ask.
        assert calls == {"readable": 0, "writable": 0}
    finally:
        b.close()
        chan.close()


def echo_roundtrip_stepping(sock, payload):
    sock.sendall(payload)
    sock.setblocking(False)
    got = []

    def done():
        try:
            got.append(sock.recv(65536))
        except BlockingIOError:
            pass
        return len(b"".join(got)) >= len(payload)

    run_until(done)
    sock.setblocking(True)
    return b"".join(got)


def test_partial_send_inside_a_handler_registers_the_writer(clean_map):
    # The reply is far larger than the socket buffer: send() inside
    # handle_read queues the rest, which must be reported from inside the
    # handler (no re-read follows it any more) so that it gets flushed.
    big = os.urandom(4 * 1024 * 1024)

    class Bulk(asyncore.dispatcher_with_send):
        def handle_read(self):
            if self.recv(100) == b"go":
                self.send(big)

    a, b = socket.socketpair()
    chan = Bulk(a)
    try:
        b.sendall(b"go")
        b.setblocking(False)
        got = bytearray()

        def drained():
            try:
                while True:
                    chunk = b.recv(1 << 20)
                    if not chunk:
                        break
                    got.extend(chunk)
            except BlockingIOError:
                pass
            return len(got) >= len(big)

        run_until(drained, timeout=20)
        assert bytes(got) == big
        server = core.server_of(asyncore.socket_map)
        asyncore.loop(timeout=0, count=1)
        assert server.entries[chan._fileno].w is False  # flushed: writer gone again
    finally:
        b.close()
        chan.close()


def test_connect_completion_reported_for_a_stock_client(clean_map):
    # dispatcher_with_send is writable while connecting; once connected with
    # an empty buffer it must stop polling for write (handle_connect_event
    # reports the flip, since no predicate re-read follows the handler).
    listener = Listener()
    client = asyncore.dispatcher_with_send()
    client.create_socket()
    client.handle_connect = lambda: None
    client.handle_read = lambda: None
    client.connect((HOST, listener.port))
    try:
        run_until(lambda: client.connected and listener.accepted)
        asyncore.loop(timeout=0, count=1)
        server = core.server_of(asyncore.socket_map)
        entry = server.entries[client._fileno]
        assert (entry.r, entry.w) == (True, False)
        client.send(b"ping")
        peer = listener.accepted[0]
        got = []
        peer.handle_read = lambda: got.append(peer.recv(100))
        run_until(lambda: b"".join(got) == b"ping")
    finally:
        asyncore.close_all(ignore_all=True)


def test_predicate_set_on_the_instance_makes_the_channel_polled(clean_map):
    a, b = socket.socketpair()
    chan = asyncore.dispatcher_with_send()
    chan.writable = lambda: False
    chan.readable = lambda: False
    chan.set_socket(a)  # registered now, with its own predicates
    try:
        asyncore.loop(timeout=0, count=1)
        server = core.server_of(asyncore.socket_map)
        assert chan._fileno in server.polled
        entry = server.entries[chan._fileno]
        assert (entry.r, entry.w) == (False, False)
    finally:
        b.close()
        chan.close()


def test_own_loop_polls_oob_data_without_a_second_epoll(clean_map):
    # On the core's own loop a channel's fd is polled once, with EPOLLPRI
    # (a nested epoll set for OOB data cost every packet a second wake-up).
    a, b = socket.socketpair()
    chan = Echo(a)
    try:
        asyncore.loop(timeout=0, count=1)
        server = core.server_of(asyncore.socket_map)
        assert server.selector is not None
        assert server._pri is None
        assert server.selector.channels[chan._fileno] is server.entries[chan._fileno]
    finally:
        b.close()
        chan.close()


# -- the per-message shortcuts keep asyncore's behaviour --


@pytest.mark.parametrize(
    "error, queued, closed",
    [(BlockingIOError(11, "would block"), b"data", False), (ConnectionResetError(104, "reset"), b"data", True)],
)
def test_send_into_empty_buffer_handles_socket_errors_like_initiate_send(stub_channel, error, queued, closed):
    def send(data):
        raise error

    chan = stub_channel(send)
    closes = []
    chan.handle_close = lambda: closes.append(1)
    chan.send(b"data")
    assert chan.out_buffer == queued  # kept for the next write event
    assert bool(closes) is closed


def test_send_into_empty_buffer_raises_other_errors_with_data_kept(stub_channel):
    def send(data):
        raise OSError(22, "invalid")

    chan = stub_channel(send)
    with pytest.raises(OSError):
        chan.send(b"data")
    assert chan.out_buffer == b"data"  # as 3.11: buffered before the send


def test_send_of_a_bytearray_leaves_a_bytes_buffer(stub_channel):
    chan = stub_channel(lambda data: 2)
    chan.send(bytearray(b"abcdef"))
    assert chan.out_buffer == b"cdef"
    assert type(chan.out_buffer) is bytes


def test_send_calls_an_overriding_initiate_send(clean_map):
    sent = []

    class Counting(asyncore.dispatcher_with_send):
        def initiate_send(self):
            sent.append(self.out_buffer)
            asyncore.dispatcher_with_send.initiate_send(self)

    a, b = socket.socketpair()
    chan = Counting(a)
    try:
        chan.send(b"one")
        assert sent == [b"one"]
        assert b.recv(10) == b"one"
    finally:
        b.close()
        chan.close()


def test_readable_event_reaches_an_overriding_handle_read_event(clean_map):
    events = []

    class Own(Echo):
        def handle_read_event(self):
            events.append("class")
            Echo.handle_read_event(self)

    a, b = socket.socketpair()
    chan = Own(a)
    try:
        assert echo_roundtrip_stepping(b, b"x") == b"x"
        assert events and set(events) == {"class"}
    finally:
        b.close()
        chan.close()


def test_readable_event_reaches_a_handle_read_event_set_on_the_instance(clean_map):
    events = []
    a, b = socket.socketpair()
    chan = Echo(a)
    plain = chan.handle_read_event

    def own():
        events.append("instance")
        plain()

    chan.handle_read_event = own
    try:
        assert echo_roundtrip_stepping(b, b"x") == b"x"
        assert events and set(events) == {"instance"}
    finally:
        b.close()
        chan.close()


def test_accepting_set_by_hand_routes_reads_to_handle_accept(clean_map):
    # The state handle_read_event routes on is read at every event, not
    # cached: code that adopts a socket and sets `accepting` itself works.
    a, b = socket.socketpair()
    chan = Echo(a)
    calls = []
    chan.handle_accept = lambda: calls.append("accept") or chan.recv(10)
    chan.handle_read = lambda: calls.append("read") or chan.recv(10)
    try:
        b.send(b"1")
        run_until(lambda: calls)
        chan.accepting = True
        b.send(b"2")
        run_until(lambda: len(calls) == 2)
        assert calls == ["read", "accept"]
    finally:
        b.close()
        chan.close()


def test_handle_read_event_wrapping_an_unhashable_callable_is_called(clean_map):
    # Which handle_read_event a channel has is found by identity: a bound
    # method around an unhashable callable must not break registration.
    calls = []

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, chan):
            calls.append(1)
            chan.recv(10)

    a, b = socket.socketpair()
    chan = asyncore.dispatcher(a)
    chan.handle_read_event = types.MethodType(Unhashable(), chan)
    try:
        b.send(b"x")
        run_until(lambda: calls)
    finally:
        b.close()
        chan.close()


def test_send_after_a_partial_send_keeps_the_byte_order(stub_channel):
    wire = bytearray()
    limits = [3]  # the first send takes 3 bytes, later ones everything

    def send(data):
        n = limits.pop(0) if limits else len(data)
        wire.extend(bytes(data[:n]))
        return n

    chan = stub_channel(send)
    chan.send(b"abcdef")
    assert chan.out_buffer == b"def"
    chan.send(b"ghi")
    assert bytes(wire) == b"abcdefghi"
    assert chan.out_buffer == b""


def test_send_of_text_is_a_type_error_and_queues_nothing(stub_channel):
    sent = []
    chan = stub_channel(lambda data: sent.append(data) or len(data))
    with pytest.raises(TypeError):
        chan.send("text")
    assert chan.out_buffer == b"" and sent == []


class _SkipsWithSendInit(asyncore.dispatcher_with_send):
    """Calls dispatcher.__init__ and sets out_buffer itself, as 3.11 allowed."""

    def __init__(self, sock):
        asyncore.dispatcher.__init__(self, sock)
        self.out_buffer = b""
        self.flushed = []

    def handle_read(self):
        data = self.recv(100)
        if data:
            self.send(data)


class _SkipsInitOwnFlush(_SkipsWithSendInit):
    def initiate_send(self):
        self.flushed.append(self.out_buffer)
        asyncore.dispatcher_with_send.initiate_send(self)


@pytest.mark.parametrize("cls, flushed", [(_SkipsWithSendInit, []), (_SkipsInitOwnFlush, [b"hi"])])
def test_subclass_that_skips_the_with_send_init_still_echoes(clean_map, cls, flushed):
    a, b = socket.socketpair()
    chan = cls(a)
    try:
        assert echo_roundtrip_stepping(b, b"hi") == b"hi"
        assert chan.flushed == flushed  # an overriding initiate_send is still called
    finally:
        b.close()
        chan.close()
