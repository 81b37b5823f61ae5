"""The asyncore facade's dispatcher API, checked on real sockets on 127.0.0.1.

Expected behaviour is CPython 3.11's asyncore (what legacy servers rely on);
these tests are written for compat and drive compat.asyncore directly.
No fixed sleeps: the loop is stepped with ``run_until`` until a condition holds.
"""
import errno
import gc
import os
import re
import select
import socket
import struct
import time
import traceback

import pytest
from support import HOST, Echo, Listener, run_until

from compat import asyncore

pytestmark = pytest.mark.usefixtures("each_loop", "clean_map")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def wait_readable(sock, timeout=5.0):
    """Block until ``sock`` is readable (data, EOF or reset has arrived)."""
    r, _, _ = select.select([sock], [], [], timeout)
    assert r, "socket did not become readable"


@pytest.fixture
def listener():
    """A plain listening socket; connections wait in its backlog."""
    srv = socket.create_server((HOST, 0))
    yield srv
    srv.close()


@pytest.fixture
def refused_addr():
    """An address whose port is bound but not listening: connect is refused."""
    s = socket.socket()
    s.bind((HOST, 0))  # held open so no one else takes the port
    yield s.getsockname()
    s.close()


class Recorder(asyncore.dispatcher):
    """Records the handle_* calls it gets, in order."""

    def __init__(self, sock=None, map=None):
        self.events = []
        super().__init__(sock, map)

    def handle_connect(self):
        # 3.11 sets `connected` only after handle_connect returns.
        self.events.append(("connect", self.connected))

    def handle_read(self):
        self.events.append("read")

    def handle_write(self):
        self.events.append("write")

    def handle_expt(self):
        self.events.append("expt")

    def handle_close(self):
        self.events.append("close")
        super().handle_close()

    def handle_error(self):
        self.events.append("error")
        super().handle_error()

    def names(self):
        return [e if isinstance(e, str) else e[0] for e in self.events]


class FakeSocket:
    """Stands in for a socket where a real one cannot produce the condition."""

    def __init__(self, so_error=0, accept_errno=None):
        self.so_error = so_error
        self.accept_errno = accept_errno
        self.closed = False

    def getsockopt(self, level, optname, *args):
        assert (level, optname) == (socket.SOL_SOCKET, socket.SO_ERROR)
        return self.so_error

    def accept(self):
        raise OSError(self.accept_errno, errno.errorcode[self.accept_errno])

    def close(self):
        self.closed = True


# ---------------------------------------------------------------------------
# Attributes and socket setup
# ---------------------------------------------------------------------------


def test_class_defaults():
    d = asyncore.dispatcher()
    assert (d.connected, d.accepting, d.connecting, d.closing) == (False,) * 4
    assert d.addr is None
    assert d.socket is None
    assert d.ignore_log_types == frozenset({"warning"})
    assert asyncore.dispatcher.tcp_nodelay is True


def test_connected_socket_is_adopted(tcp_pairs):
    ours, peer = tcp_pairs()
    d = asyncore.dispatcher(ours)
    assert d.connected is True
    assert d.addr == peer.getsockname()
    assert asyncore.socket_map[ours.fileno()] is d
    assert ours.getblocking() is False


def test_unconnected_socket_is_not_an_error():
    s = socket.socket()
    d = asyncore.dispatcher(s)
    assert d.connected is False
    assert d.addr is None
    assert asyncore.socket_map[s.fileno()] is d


def test_create_socket_adds_a_nonblocking_socket_to_the_map():
    d = asyncore.dispatcher()
    d.create_socket()
    assert d.family_and_type == (socket.AF_INET, socket.SOCK_STREAM)
    assert d.socket.family == socket.AF_INET and d.socket.type == socket.SOCK_STREAM
    assert d.socket.getblocking() is False
    assert asyncore.socket_map[d.socket.fileno()] is d


def test_create_socket_uses_the_dispatchers_own_map():
    m = {}
    d = asyncore.dispatcher(map=m)
    d.create_socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert m == {d.socket.fileno(): d}
        assert not asyncore.socket_map
    finally:
        asyncore.close_all(map=m)


def test_set_socket_adopts_socket_into_given_map():
    m = {}
    s = socket.socket()
    d = asyncore.dispatcher(map=m)
    d.set_socket(s)
    try:
        assert d.socket is s
        assert m == {s.fileno(): d}
    finally:
        asyncore.close_all(map=m)
    other = {}
    s2 = socket.socket()
    d2 = asyncore.dispatcher()
    d2.set_socket(s2, other)  # an explicit map wins over the default
    try:
        assert other == {s2.fileno(): d2}
        assert s2.fileno() not in asyncore.socket_map
    finally:
        asyncore.close_all(map=other)


def test_set_reuse_addr_sets_so_reuseaddr():
    d = asyncore.dispatcher()
    d.create_socket()
    d.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    d.set_reuse_addr()
    assert d.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0


def test_set_reuse_addr_ignores_socket_errors():
    d = asyncore.dispatcher()
    s = socket.socket()
    s.close()
    d.socket = s  # closed: getsockopt raises OSError(EBADF)
    d.set_reuse_addr()  # must not raise


def test_bind_records_addr_and_listen_accepts():
    d = asyncore.dispatcher()
    d.create_socket()
    d.bind((HOST, 0))
    assert d.addr == (HOST, 0)  # the address asked for, as 3.11 did
    assert d.accepting is False
    d.listen(5)
    assert d.accepting is True
    assert d.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    # A client can now connect to it.
    with socket.create_connection(d.socket.getsockname(), timeout=5):
        pass


# ---------------------------------------------------------------------------
# connect
# ---------------------------------------------------------------------------


def test_connect_in_progress_then_handle_connect_once(listener):
    d = Recorder()
    d.create_socket()
    addr = listener.getsockname()
    d.connect(addr)
    # Non-blocking connect on TCP returns EINPROGRESS: nothing called yet.
    assert (d.connecting, d.connected) == (True, False)
    assert d.addr == addr
    assert d.events == []
    run_until(lambda: d.connected)
    asyncore.loop(timeout=0.01, count=3)  # more passes: no second connect
    assert d.events.count(("connect", False)) == 1
    assert [e for e in d.events if e != "write"] == [("connect", False)]
    assert (d.connecting, d.connected) == (False, True)


def test_connect_first_write_event_calls_handle_connect_then_handle_write(listener):
    d = Recorder()
    d.create_socket()
    d.connect(listener.getsockname())
    run_until(lambda: d.events)
    assert d.names()[:2] == ["connect", "write"]


def test_connect_completed_by_read_event_calls_handle_connect_then_handle_read(listener):
    class ReadOnly(Recorder):
        def writable(self):
            return False

    d = ReadOnly()
    d.create_socket()
    d.connect(listener.getsockname())
    peer, _ = listener.accept()
    try:
        peer.sendall(b"hello")
        run_until(lambda: d.events)
        assert d.names()[:2] == ["connect", "read"]
        assert d.connected is True
    finally:
        peer.close()


def test_connect_refused_goes_to_handle_error_then_handle_close(refused_addr, capsys):
    d = Recorder()
    d.create_socket()
    d.connect(refused_addr)
    # Nothing escapes loop(): the OSError goes to handle_error, which closes.
    run_until(lambda: not asyncore.socket_map)
    assert d.events == ["error", "close"]
    assert d.socket.fileno() == -1
    out = capsys.readouterr().out
    assert "uncaptured python exception" in out
    assert "Connection refused" in out


def test_connect_already_connected_calls_handle_connect_at_once(tcp_pairs):
    ours, peer = tcp_pairs()
    d = Recorder(ours)
    d.connected = False  # as if connect() were called on it now
    d.connect(peer.getsockname())  # connect_ex gives EISCONN: done already
    assert d.events == [("connect", False)]
    assert (d.connecting, d.connected) == (False, True)


def test_connect_to_bad_address_raises_at_once():
    d = asyncore.dispatcher()
    d.create_socket()
    # connect_ex errors other than "in progress" are raised by connect() itself.
    # (the limited broadcast address: ENETUNREACH or EACCES, never in progress)
    with pytest.raises(OSError) as info:
        d.connect(("255.255.255.255", 9))
    assert info.value.errno not in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK)
    assert info.value.strerror == errno.errorcode[info.value.errno]  # as 3.11 raised it


# ---------------------------------------------------------------------------
# accept
# ---------------------------------------------------------------------------


def make_server(cls=asyncore.dispatcher, map=None):
    d = cls(map=map) if map is not None else cls()
    d.create_socket()
    d.set_reuse_addr()
    d.bind((HOST, 0))
    d.listen(5)
    return d


def test_accept_without_pending_connection_returns_none():
    d = make_server()
    assert d.accept() is None  # EAGAIN on the non-blocking socket


@pytest.mark.parametrize("code", [errno.ECONNABORTED, errno.EAGAIN, errno.EWOULDBLOCK])
def test_accept_returns_none_on_transient_errors(code):
    d = asyncore.dispatcher()
    d.socket = FakeSocket(accept_errno=code)
    assert d.accept() is None


def test_accept_raises_other_errors():
    d = asyncore.dispatcher()
    d.socket = FakeSocket(accept_errno=errno.EMFILE)
    with pytest.raises(OSError) as info:
        d.accept()
    assert info.value.errno == errno.EMFILE


def test_accept_returns_connection_and_address():
    d = make_server()
    with socket.create_connection(d.socket.getsockname(), timeout=5) as client:
        wait_readable(d.socket)
        conn, addr = d.accept()
        with conn:
            assert addr == client.getsockname()
            assert conn.getpeername() == client.getsockname()


def test_handle_accepted_gets_socket_and_address():
    class Server(asyncore.dispatcher):
        accepted = None

        def handle_accepted(self, sock, addr):
            self.accepted = (sock, addr)

    d = make_server(Server)
    with socket.create_connection(d.socket.getsockname(), timeout=5) as client:
        run_until(lambda: d.accepted)
        sock, addr = d.accepted
        with sock:
            assert addr == client.getsockname()


def test_default_handle_accepted_closes_socket_and_logs(capsys):
    class Server(asyncore.dispatcher):
        ignore_log_types = frozenset()  # show the 'warning' it logs
        seen = None

        def handle_accepted(self, sock, addr):
            self.seen = sock
            super().handle_accepted(sock, addr)

    d = make_server(Server)
    with socket.create_connection(d.socket.getsockname(), timeout=5) as client:
        run_until(lambda: d.seen is not None)
        assert d.seen.fileno() == -1
        client.settimeout(5)
        assert client.recv(1) == b""  # the server side really closed it
    assert "warning: unhandled accepted event" in capsys.readouterr().out


def test_listening_socket_gets_no_write_events():
    d = make_server(Recorder)
    asyncore.loop(timeout=0.01, count=3)
    assert d.events == []


# ---------------------------------------------------------------------------
# send / recv
# ---------------------------------------------------------------------------


def test_send_and_recv_move_bytes(tcp_pairs):
    ours, peer = tcp_pairs()
    d = asyncore.dispatcher(ours)
    assert d.send(b"ping") == 4
    peer.settimeout(5)
    assert peer.recv(4) == b"ping"
    peer.sendall(b"pong")
    wait_readable(ours)
    assert d.recv(10) == b"pong"


def test_send_returns_zero_when_the_socket_buffer_is_full(tcp_pairs):
    ours, peer = tcp_pairs()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    d = asyncore.dispatcher(ours)
    chunk = b"x" * 65536
    total = 0
    for _ in range(10000):  # the peer never reads: the buffers must fill
        n = d.send(chunk)
        if n == 0:
            break
        total += n
    else:
        pytest.fail("send never returned 0")
    assert total > 0
    assert d.connected  # EWOULDBLOCK is not a disconnect


def test_send_to_reset_peer_calls_handle_close_and_returns_zero(tcp_pairs):
    ours, peer = tcp_pairs()
    d = Recorder(ours)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # RST
    wait_readable(ours)
    assert d.send(b"x") == 0
    assert d.events == ["close"]
    assert ours.fileno() == -1


def test_recv_on_peer_close_returns_empty_and_calls_handle_close(tcp_pairs):
    ours, peer = tcp_pairs()
    d = Recorder(ours)
    peer.close()  # FIN
    wait_readable(ours)
    assert d.recv(100) == b""
    assert d.events == ["close"]
    assert ours.fileno() not in asyncore.socket_map
    assert ours.fileno() == -1


def test_recv_on_reset_returns_empty_and_calls_handle_close(tcp_pairs):
    ours, peer = tcp_pairs()
    d = Recorder(ours)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # RST: recv fails with ECONNRESET
    wait_readable(ours)
    assert d.recv(100) == b""
    assert d.events == ["close"]
    assert not asyncore.socket_map


def test_peer_close_seen_by_loop_closes_channel(tcp_pairs):
    class Reader(Recorder):
        def writable(self):
            return False

        def handle_read(self):
            self.events.append(("data", self.recv(100)))

    ours, peer = tcp_pairs()
    d = Reader(ours)
    peer.sendall(b"last words")
    peer.close()
    run_until(lambda: not asyncore.socket_map)
    # The data first, then the empty read that closes.
    assert d.events[0] == ("data", b"last words")
    assert d.events[-2:] == ["close", ("data", b"")]


# ---------------------------------------------------------------------------
# close
# ---------------------------------------------------------------------------


def test_close_is_idempotent(tcp_pairs):
    ours, _ = tcp_pairs()
    fd = ours.fileno()
    d = asyncore.dispatcher(ours)
    d.close()
    d.close()
    assert fd not in asyncore.socket_map
    assert ours.fileno() == -1
    assert (d.connected, d.accepting, d.connecting) == (False, False, False)


def test_close_of_a_listening_dispatcher():
    d = make_server()
    d.close()
    assert d.accepting is False
    assert not asyncore.socket_map


def test_close_without_socket():
    d = asyncore.dispatcher()
    d.close()  # never had a socket: nothing to do, nothing raised
    assert d.socket is None and not d.connected
    assert not asyncore.socket_map


# ---------------------------------------------------------------------------
# log, log_info, repr
# ---------------------------------------------------------------------------


def test_log_writes_to_stderr(capsys):
    asyncore.dispatcher().log("a hit")
    captured = capsys.readouterr()
    assert captured.err == "log: a hit\n"
    assert captured.out == ""


def test_log_info_prints_type_and_message(capsys):
    d = asyncore.dispatcher()
    d.log_info("hello")
    d.log_info("bad", "error")
    d.log_info("ignored", "warning")  # 'warning' is ignored by default
    assert capsys.readouterr().out == "info: hello\nerror: bad\n"


def test_log_info_honours_ignore_log_types(capsys):
    d = asyncore.dispatcher()
    d.ignore_log_types = frozenset({"info"})
    d.log_info("hidden")
    d.log_info("shown", "warning")
    assert capsys.readouterr().out == "warning: shown\n"


def test_default_handlers_log_warnings(capsys):
    d = asyncore.dispatcher()
    d.ignore_log_types = frozenset()
    d.handle_read()
    d.handle_write()
    d.handle_connect()
    d.handle_expt()
    assert capsys.readouterr().out.splitlines() == [
        "warning: unhandled read event",
        "warning: unhandled write event",
        "warning: unhandled connect event",
        "warning: unhandled incoming priority event",
    ]


def test_repr_plain():
    assert re.fullmatch(r"<asyncore\.dispatcher at 0x[0-9a-f]+>", repr(asyncore.dispatcher()))


def test_repr_listening():
    d = make_server()
    assert re.fullmatch(
        r"<asyncore\.dispatcher listening 127\.0\.0\.1:0 at 0x[0-9a-f]+>", repr(d)
    )


def test_repr_connected_subclass(tcp_pairs):
    class Channel(asyncore.dispatcher):
        pass

    ours, peer = tcp_pairs()
    d = Channel(ours)
    port = peer.getsockname()[1]
    expected = "<%s.%s connected 127.0.0.1:%d at %#x>" % (
        Channel.__module__,
        Channel.__qualname__,
        port,
        id(d),
    )
    assert repr(d) == expected


def test_repr_non_tuple_address():
    d = asyncore.dispatcher()
    d.addr = "/run/app.sock"
    assert "'/run/app.sock'" in repr(d)


# ---------------------------------------------------------------------------
# handle_*_event -> handle_* (the 3.11 order), on fakes where needed
# ---------------------------------------------------------------------------


def test_read_event_on_listening_socket_calls_handle_accept():
    class D(Recorder):
        def handle_accept(self):
            self.events.append("accept")

    d = D()
    d.accepting = True
    d.handle_read_event()
    assert d.events == ["accept"]


def test_write_event_on_listening_socket_is_ignored():
    d = Recorder()
    d.accepting = True
    d.handle_write_event()
    assert d.events == []


def test_read_event_when_connected_calls_handle_read():
    d = Recorder()
    d.connected = True
    d.handle_read_event()
    assert d.events == ["read"]


def test_read_and_write_events_when_idle_skip_connect():
    # Neither connected nor connecting (e.g. a UDP socket): just the handler.
    d = Recorder()
    d.handle_read_event()
    d.handle_write_event()
    assert d.events == ["read", "write"]


def test_connect_event_with_socket_error_raises():
    d = Recorder()
    d.socket = FakeSocket(so_error=errno.ECONNREFUSED)
    d.connecting = True
    with pytest.raises(OSError) as info:
        d.handle_write_event()
    assert info.value.errno == errno.ECONNREFUSED
    assert d.events == []
    assert (d.connecting, d.connected) == (True, False)


def test_expt_event_without_error_calls_handle_expt():
    d = Recorder()
    d.socket = FakeSocket(so_error=0)
    d.handle_expt_event()
    assert d.events == ["expt"]


def test_expt_event_with_socket_error_calls_handle_close():
    d = Recorder()
    d.socket = FakeSocket(so_error=errno.ECONNRESET)
    d.handle_expt_event()
    assert d.events == ["close"]
    assert d.socket.closed


def test_handle_expt_on_out_of_band_data(tcp_pairs):
    class Urgent(Recorder):
        def writable(self):
            return False

        def handle_expt(self):
            self.events.append(("expt", self.socket.recv(1, socket.MSG_OOB)))

    ours, peer = tcp_pairs()
    d = Urgent(ours)
    peer.send(b"!", socket.MSG_OOB)
    run_until(lambda: ("expt", b"!") in d.events)


# ---------------------------------------------------------------------------
# handle_error
# ---------------------------------------------------------------------------


def test_handle_error_prints_compact_traceback_and_closes(tcp_pairs, capsys):
    class Broken(asyncore.dispatcher):
        def writable(self):
            return False

        def handle_read(self):
            raise ZeroDivisionError("in handle_read")

    ours, peer = tcp_pairs()
    d = Broken(ours)
    peer.sendall(b"x")
    run_until(lambda: not asyncore.socket_map)  # loop() itself raised nothing
    assert ours.fileno() == -1
    out = capsys.readouterr().out
    assert out.startswith("error: uncaptured python exception, closing channel <")
    assert "ZeroDivisionError" in out and "in handle_read" in out
    # [file|function|line] of the frame that raised, as compact_traceback gives.
    line = Broken.handle_read.__code__.co_firstlineno + 1
    assert f"[{__file__}|handle_read|{line}])" in out


def test_handle_error_survives_a_broken_repr(capsys):
    class BadRepr(asyncore.dispatcher):
        def __repr__(self):
            raise RuntimeError("no repr")

    d = BadRepr()
    try:
        raise ValueError("boom")
    except ValueError:
        d.handle_error()
    assert "<__repr__(self) failed for object at" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# TCP_NODELAY
# ---------------------------------------------------------------------------


def nodelay(sock):
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_tcp_nodelay_set_by_default(tcp_pairs):
    d = asyncore.dispatcher()
    d.create_socket()
    assert nodelay(d.socket) != 0
    ours, _ = tcp_pairs()
    ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    asyncore.dispatcher(ours)  # an accepted/connected socket handed in
    assert nodelay(ours) != 0


def test_tcp_nodelay_false_leaves_nagle_on(tcp_pairs):
    class Nagle(asyncore.dispatcher):
        tcp_nodelay = False

    d = Nagle()
    d.create_socket()
    assert nodelay(d.socket) == 0
    ours, _ = tcp_pairs()
    Nagle(ours)
    assert nodelay(ours) == 0


def test_tcp_nodelay_ignores_udp_sockets():
    d = asyncore.dispatcher()
    d.create_socket(socket.AF_INET, socket.SOCK_DGRAM)  # must not raise
    assert d.socket.type == socket.SOCK_DGRAM


# ---------------------------------------------------------------------------
# compact_traceback
# ---------------------------------------------------------------------------


def test_compact_traceback_describes_every_frame():
    def inner():
        raise KeyError("k")

    try:
        inner()
    except KeyError:
        (file, func, line), t, v, info = asyncore.compact_traceback()
        frames = traceback.extract_tb(v.__traceback__)
    assert (file, func, line) == (__file__, "inner", str(frames[-1].lineno))
    assert t is KeyError and v.args == ("k",)
    assert info == " ".join("[%s|%s|%d]" % (f.filename, f.name, f.lineno) for f in frames)
    assert len(frames) == 2


def test_compact_traceback_without_exception_raises():
    with pytest.raises(AssertionError):
        asyncore.compact_traceback()


# ---------------------------------------------------------------------------
# loop(), poll(), poll2(), poll3()
# ---------------------------------------------------------------------------


class Writer(asyncore.dispatcher):
    """Always writable (the stock predicates); counts its write events."""

    def __init__(self, sock=None, map=None, on_write=None):
        self.writes = 0
        self.on_write = on_write
        super().__init__(sock, map)

    def handle_write(self):
        self.writes += 1
        if self.on_write is not None:
            self.on_write(self)


@pytest.mark.own_loop_only("counts the own selector's polls")
def test_loop_returns_at_once_on_an_empty_map(selector_polls):
    assert not asyncore.socket_map
    asyncore.loop(timeout=30)
    asyncore.loop(timeout=30, map={})
    assert selector_polls == []  # no pass was run, so nothing waited


@pytest.mark.timeout(15)
def test_loop_without_count_returns_when_the_map_empties(tcp_pairs):
    ours, _ = tcp_pairs()
    d = Writer(ours, on_write=lambda self: self.writes == 3 and self.close())
    asyncore.loop(timeout=5)
    assert d.writes == 3
    assert not asyncore.socket_map


@pytest.mark.parametrize("use_poll", [False, True])
def test_loop_count_runs_that_many_passes(tcp_pairs, use_poll):
    ours, _ = tcp_pairs()
    d = Writer(ours)
    asyncore.loop(timeout=1, use_poll=use_poll, count=4)
    assert d.writes == 4  # one ready channel: one event per pass
    assert asyncore.socket_map == {ours.fileno(): d}


@pytest.mark.own_loop_only("counts the own selector's polls")
def test_loop_count_stops_early_when_the_map_empties(tcp_pairs, selector_polls):
    ours, _ = tcp_pairs()
    d = Writer(ours, on_write=lambda self: self.close())
    asyncore.loop(timeout=5, count=10)
    assert d.writes == 1
    assert len(selector_polls) <= 2  # did not go on to sit out more passes


def test_loop_count_zero_runs_no_pass(tcp_pairs):
    ours, _ = tcp_pairs()
    d = Writer(ours)
    asyncore.loop(timeout=1, count=0)
    assert d.writes == 0


def test_loop_positional_arguments(tcp_pairs):
    ours, _ = tcp_pairs()
    m = {}
    d = Writer(ours, map=m)
    asyncore.loop(1.0, True, m, 2)  # timeout, use_poll, map, count
    assert d.writes == 2
    asyncore.close_all(m)


@pytest.mark.parametrize("poll", [asyncore.poll, asyncore.poll2, asyncore.poll3])
def test_poll_functions_run_one_pass(tcp_pairs, poll):
    ours, _ = tcp_pairs()
    d = Writer(ours)
    poll(1.0)
    assert d.writes == 1
    d.close()
    # The same with a map passed positionally.
    m = {}
    ours2, _ = tcp_pairs()
    d2 = Writer(ours2, map=m)
    poll(1.0, m)
    assert d2.writes == 1
    asyncore.close_all(m)


def test_poll3_is_poll2():
    assert asyncore.poll3 is asyncore.poll2


@pytest.mark.parametrize("poll", [asyncore.poll, asyncore.poll2])
@pytest.mark.own_loop_only("counts the own selector's polls")
def test_poll_with_nothing_ready_waits_for_the_timeout(tcp_pairs, poll, selector_polls):
    class Idle(asyncore.dispatcher):
        def writable(self):
            return False

    ours, _ = tcp_pairs()
    Idle(ours)  # readable, but the peer sends nothing
    poll(0.2)
    # The pass blocked (a wait of about the timeout), no busy loop.
    assert 1 <= len(selector_polls) <= 3
    assert any(t and t > 0.1 for t in selector_polls)


def test_loop_resumes_after_count_passes_with_map_intact(tcp_pairs):
    ours, _ = tcp_pairs()
    d = Writer(ours)
    asyncore.loop(timeout=1, count=2)
    asyncore.loop(timeout=1, count=3)
    assert d.writes == 5


@pytest.mark.parametrize("exc_type", [asyncore.ExitNow, KeyboardInterrupt, SystemExit])
def test_exits_leave_loop_and_a_second_loop_resumes(tcp_pairs, exc_type):
    def first_write_raises(self):
        if self.writes == 1:
            raise exc_type("leave")

    ours, _ = tcp_pairs()
    d = Writer(ours, on_write=first_write_raises)
    d.handle_error = lambda: pytest.fail("handle_error must not see " + exc_type.__name__)
    with pytest.raises(exc_type):
        asyncore.loop(timeout=1)
    assert d.writes == 1
    assert asyncore.socket_map == {ours.fileno(): d}  # still served
    asyncore.loop(timeout=1, count=2)
    assert d.writes == 3


def test_other_exceptions_go_to_handle_error(tcp_pairs):
    class Failing(Writer):
        errors = []

        def handle_write(self):
            super().handle_write()
            raise ValueError("oops")

        def handle_error(self):
            self.errors.append(asyncore.compact_traceback()[1])
            if len(self.errors) == 2:
                self.close()

    ours, _ = tcp_pairs()
    d = Failing(ours)
    asyncore.loop(timeout=1)  # returns once handle_error closed the channel
    assert d.errors == [ValueError, ValueError]
    assert d.writes == 2


def test_exit_now_is_an_exception():
    assert issubclass(asyncore.ExitNow, Exception)


def test_socket_map_is_a_dict_subclass():
    assert isinstance(asyncore.socket_map, dict)
    assert type(asyncore.socket_map) is not dict


class Client(asyncore.dispatcher_with_send):
    def __init__(self, addr, message, map=None):
        super().__init__(map=map)
        self.received = b""
        self.create_socket()
        self.connect(addr)
        self.send(message)  # queued until connected

    def handle_read(self):
        self.received += self.recv(8192)


def test_echo_round_trip_on_a_plain_dict_map():
    m = {}
    server = Listener(Echo, map=m)
    client = Client(server.socket.getsockname(), b"hello" * 1000, map=m)
    try:
        run_until(lambda: len(client.received) == 5000, map=m)
        assert client.received == b"hello" * 1000
        assert not asyncore.socket_map  # nothing leaked into the default map
        assert len(m) == 3  # server, client, accepted connection
    finally:
        asyncore.close_all(map=m)
    assert m == {}


def test_echo_round_trip_on_the_default_map():
    server = Listener(Echo)
    client = Client(server.socket.getsockname(), b"ping")
    run_until(lambda: client.received == b"ping")


def test_loop_over_a_private_map_serves_only_that_map(tcp_pairs):
    """Regression: socket_map stayed registered on the thread's loop and was
    served by loop(map=private) too; 3.11 served only the map passed."""
    a, _ = tcp_pairs()
    b, _ = tcp_pairs()
    default_channel = Writer(a)
    asyncore.loop(timeout=1, count=1)  # the default map has been served before
    private = {}
    private_channel = Writer(b, map=private)
    try:
        asyncore.loop(timeout=1, map=private, count=3)
        assert private_channel.writes == 3
        assert default_channel.writes == 1  # untouched by the private loop
    finally:
        asyncore.close_all(map=private)


def test_plain_dict_map_edited_between_loops(tcp_pairs):
    m = {}
    a, _ = tcp_pairs()
    d1 = Writer(a, map=m)
    asyncore.loop(timeout=1, map=m, count=1)
    b, _ = tcp_pairs()
    d2 = Writer(b, map=m)
    del m[a.fileno()]  # a direct edit, as some programs do
    asyncore.loop(timeout=1, map=m, count=2)
    assert (d1.writes, d2.writes) == (1, 2)
    asyncore.close_all(map=m)


def test_loop_inside_running_asyncio_loop_raises(tcp_pairs):
    import asyncio

    ours, _ = tcp_pairs()
    m = {}
    Writer(ours, map=m)

    async def main():
        with pytest.raises(RuntimeError, match="channels .*already being served"):
            asyncore.loop(timeout=0.01, map=m, count=1)
        with pytest.raises(RuntimeError, match="already being served"):
            asyncore.loop()

    try:
        asyncio.run(main())
    finally:
        asyncore.close_all(map=m)


@pytest.mark.parametrize("kwargs", [{"timeout": "x"}, {"count": "3"}, {"timeout": [1]}])
def test_bad_loop_arguments_raise_type_error(tcp_pairs, kwargs):
    ours, _ = tcp_pairs()
    m = {}
    Writer(ours, map=m)
    try:
        with pytest.raises(TypeError):
            asyncore.loop(map=m, **kwargs)
    finally:
        asyncore.close_all(map=m)


def test_float_count_runs_like_3_11(tcp_pairs):
    """Regression: 3.11 accepted a float count and ran ceil(count) passes."""
    ours, _ = tcp_pairs()
    d = Writer(ours)
    asyncore.loop(timeout=1, count=1.5)
    assert d.writes == 2


# ---------------------------------------------------------------------------
# read, write, _exception, readwrite (on fake channels)
# ---------------------------------------------------------------------------


class FakeChannel:
    """Records which handler ran; ``fail`` maps a handler to what it raises."""

    def __init__(self, **fail):
        self.calls = []
        self.fail = fail

    def _call(self, name):
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def handle_read_event(self):
        self._call("read")

    def handle_write_event(self):
        self._call("write")

    def handle_expt_event(self):
        self._call("expt")

    def handle_close(self):
        self._call("close")

    def handle_error(self):
        self._call("error")


DISPATCHERS = [(asyncore.read, "read"), (asyncore.write, "write"), (asyncore._exception, "expt")]


@pytest.mark.parametrize("func,event", DISPATCHERS)
def test_dispatch_helpers_call_their_event(func, event):
    obj = FakeChannel()
    func(obj)
    assert obj.calls == [event]


@pytest.mark.parametrize("func,event", DISPATCHERS)
@pytest.mark.parametrize("exc", [ValueError("v"), OSError(errno.ECONNRESET, "reset")])
def test_dispatch_helpers_send_errors_to_handle_error(func, event, exc):
    obj = FakeChannel(**{event: exc})
    func(obj)
    assert obj.calls == [event, "error"]


@pytest.mark.parametrize("func,event", DISPATCHERS)
@pytest.mark.parametrize("exc_type", [asyncore.ExitNow, KeyboardInterrupt, SystemExit])
def test_dispatch_helpers_reraise_exits(func, event, exc_type):
    obj = FakeChannel(**{event: exc_type()})
    with pytest.raises(exc_type):
        func(obj)
    assert obj.calls == [event]


@pytest.mark.parametrize(
    "flags,calls",
    [
        (select.POLLIN, ["read"]),
        (select.POLLOUT, ["write"]),
        (select.POLLPRI, ["expt"]),
        (select.POLLHUP, ["close"]),
        (select.POLLERR, ["close"]),
        (select.POLLNVAL, ["close"]),
        (select.POLLIN | select.POLLOUT | select.POLLPRI | select.POLLHUP,
         ["read", "write", "expt", "close"]),
        (0, []),
    ],
)
def test_readwrite_dispatches_flags_in_order(flags, calls):
    obj = FakeChannel()
    asyncore.readwrite(obj, flags)
    assert obj.calls == calls


@pytest.mark.parametrize(
    "code", [errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.ECONNABORTED,
             errno.EPIPE, errno.EBADF]
)
def test_readwrite_disconnect_errors_call_handle_close(code):
    obj = FakeChannel(read=OSError(code, "gone"))
    asyncore.readwrite(obj, select.POLLIN | select.POLLOUT)
    assert obj.calls == ["read", "close"]  # the write event is skipped


@pytest.mark.parametrize("exc", [OSError(errno.EACCES, "denied"), ValueError("v")])
def test_readwrite_other_errors_call_handle_error(exc):
    obj = FakeChannel(write=exc)
    asyncore.readwrite(obj, select.POLLIN | select.POLLOUT)
    assert obj.calls == ["read", "write", "error"]


@pytest.mark.parametrize("exc_type", [asyncore.ExitNow, KeyboardInterrupt, SystemExit])
def test_readwrite_reraises_exits(exc_type):
    obj = FakeChannel(read=exc_type())
    with pytest.raises(exc_type):
        asyncore.readwrite(obj, select.POLLIN)


# ---------------------------------------------------------------------------
# close_all
# ---------------------------------------------------------------------------


def test_close_all_closes_every_channel_and_clears_the_map(tcp_pairs):
    socks = [tcp_pairs()[0] for _ in range(3)]
    channels = [asyncore.dispatcher(s) for s in socks]
    asyncore.close_all()
    assert not asyncore.socket_map
    assert all(s.fileno() == -1 for s in socks)
    assert not any(c.connected for c in channels)


class Closer:
    def __init__(self, exc=None):
        self.exc = exc
        self.closed = False

    def close(self):
        self.closed = True
        if self.exc is not None:
            raise self.exc


def test_close_all_ignores_ebadf():
    m = {1: Closer(OSError(errno.EBADF, "bad fd")), 2: Closer()}
    objs = list(m.values())
    asyncore.close_all(m)
    assert m == {}
    assert all(o.closed for o in objs)


@pytest.mark.parametrize("exc", [OSError(errno.EACCES, "denied"), ValueError("v")])
def test_close_all_raises_close_errors_unless_ignore_all(exc):
    m = {1: Closer(exc), 2: Closer()}
    with pytest.raises(type(exc)):
        asyncore.close_all(m)
    assert len(m) == 2  # raised before the map was cleared
    objs = list(m.values())
    asyncore.close_all(m, ignore_all=True)
    assert m == {}
    assert all(o.closed for o in objs)


@pytest.mark.parametrize("exc_type", [asyncore.ExitNow, KeyboardInterrupt, SystemExit])
def test_close_all_reraises_exits_even_with_ignore_all(exc_type):
    m = {1: Closer(exc_type())}
    with pytest.raises(exc_type):
        asyncore.close_all(m, ignore_all=True)


# ---------------------------------------------------------------------------
# dispatcher_with_send
# ---------------------------------------------------------------------------


class Sink(asyncore.dispatcher):
    """Reads everything into ``self.data``."""

    def __init__(self, sock, map=None):
        self.data = bytearray()
        super().__init__(sock, map)

    def writable(self):
        return False

    def handle_read(self):
        self.data += self.recv(65536)


def test_dispatcher_with_send_flushes_large_data_fully(tcp_pairs):
    ours, peer = tcp_pairs()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)  # force buffering
    sender = asyncore.dispatcher_with_send(ours)
    sink = Sink(peer)
    payload = bytes(range(256)) * 4096  # 1 MiB; a lost or reordered chunk shows
    assert sender.send(payload) is None  # queued, never "short"
    assert sender.out_buffer  # the socket could not take it all at once
    assert sender.writable()
    run_until(lambda: len(sink.data) >= len(payload), timeout=20)
    assert bytes(sink.data) == payload
    assert sender.out_buffer == b""
    assert not sender.writable()


def test_dispatcher_with_send_keeps_order_of_several_sends(tcp_pairs):
    ours, peer = tcp_pairs()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    sender = asyncore.dispatcher_with_send(ours)
    sink = Sink(peer)
    parts = [bytes([i]) * 100000 for i in range(10)]
    for part in parts:
        sender.send(part)
    expected = b"".join(parts)
    run_until(lambda: len(sink.data) >= len(expected), timeout=20)
    assert bytes(sink.data) == expected


def test_dispatcher_with_send_writable_while_connecting():
    d = asyncore.dispatcher_with_send()
    assert d.out_buffer == b""
    assert d.writable()  # not connected yet: wants the connect event


def test_dispatcher_with_send_debug_logs_what_it_sends(tcp_pairs, capsys):
    ours, _ = tcp_pairs()
    d = asyncore.dispatcher_with_send(ours)
    d.debug = True
    d.send(b"abc")
    assert capsys.readouterr().out == "info: sending b'abc'\n"


# ---------------------------------------------------------------------------
# file_wrapper and file_dispatcher (pipes)
# ---------------------------------------------------------------------------

needs_posix = pytest.mark.skipif(not hasattr(asyncore, "file_dispatcher"), reason="POSIX only")


@pytest.fixture
def pipe():
    r, w = os.pipe()
    fds = [r, w]
    yield r, w
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass  # the test closed it


@needs_posix
def test_file_wrapper_works_on_a_dup(pipe):
    r, w = pipe
    fw = asyncore.file_wrapper(r)
    try:
        assert fw.fd != r and fw.fileno() == fw.fd
        os.write(w, b"abc")
        assert fw.recv(2) == b"ab"
        assert fw.read(1) == b"c"  # read is recv
        os.close(r)  # the original going away does not affect the dup
        os.write(w, b"more")
        assert fw.recv(10) == b"more"
    finally:
        fw.close()
    assert fw.fd == -1 and fw.fileno() == -1
    fw.close()  # idempotent


@needs_posix
def test_file_wrapper_send_and_write(pipe):
    r, w = pipe
    fw = asyncore.file_wrapper(w)
    try:
        assert fw.send(b"ab") == 2
        assert fw.write(b"c") == 1
        assert os.read(r, 10) == b"abc"
    finally:
        fw.close()


@needs_posix
def test_file_wrapper_getsockopt_answers_only_so_error(pipe):
    fw = asyncore.file_wrapper(pipe[0])
    try:
        assert fw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        with pytest.raises(NotImplementedError):
            fw.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        with pytest.raises(NotImplementedError):
            fw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR, 4)
    finally:
        fw.close()


@needs_posix
def test_file_wrapper_close_closes_its_fd(pipe):
    fw = asyncore.file_wrapper(pipe[0])
    fd = fw.fd
    fw.close()
    with pytest.raises(OSError):
        os.fstat(fd)


@needs_posix
def test_unclosed_file_wrapper_warns_and_closes(pipe):
    fw = asyncore.file_wrapper(pipe[0])
    fd = fw.fd
    with pytest.warns(ResourceWarning, match="unclosed file"):
        del fw
        gc.collect()
    with pytest.raises(OSError):
        os.fstat(fd)  # __del__ closed it


@needs_posix
def test_file_dispatcher_reads_a_pipe_until_eof(pipe):
    r, w = pipe

    class PipeReader(asyncore.file_dispatcher):
        def __init__(self, fd):
            self.data = b""
            self.closed = False
            super().__init__(fd)

        def writable(self):
            return False

        def handle_read(self):
            self.data += self.recv(100)

        def handle_close(self):
            self.closed = True
            self.close()

    d = PipeReader(r)
    assert d.connected is True
    assert os.get_blocking(r) is False  # the fd passed in is made non-blocking
    assert asyncore.socket_map == {d.socket.fd: d}  # keyed by the dup
    os.write(w, b"hello")
    run_until(lambda: d.data == b"hello")
    os.close(w)
    run_until(lambda: d.closed)
    assert not asyncore.socket_map
    os.fstat(r)  # closing the dispatcher left the caller's fd open


@needs_posix
def test_file_dispatcher_accepts_an_object_with_fileno(pipe):
    r, w = pipe
    with os.fdopen(w, "wb", buffering=0, closefd=False) as f:

        class PipeWriter(asyncore.file_dispatcher):
            done = False

            def readable(self):
                return False

            def writable(self):
                return not self.done

            def handle_write(self):
                self.send(b"written by the loop")
                self.done = True

        d = PipeWriter(f)
        run_until(lambda: d.done)
        d.close()
    assert os.read(r, 100) == b"written by the loop"


@needs_posix
def test_file_dispatcher_on_a_private_map_as_a_wakeup_pipe(pipe):
    # waitress-style: a self-pipe in a private map wakes a blocking loop().
    r, w = pipe
    m = {}

    class Waker(asyncore.file_dispatcher):
        woken = 0

        def writable(self):
            return False

        def handle_read(self):
            self.recv(8192)
            self.woken += 1

    waker = Waker(r, map=m)
    try:
        assert m == {waker.socket.fd: waker}
        os.write(w, b"x")
        start = time.monotonic()
        asyncore.loop(timeout=10, map=m, count=1)
        assert waker.woken == 1
        assert time.monotonic() - start < 5  # woken by the pipe, not the timeout
    finally:
        asyncore.close_all(map=m)
