"""The asyncore facade's dispatcher API, checked on real sockets on 127.0.0.1.

Expected behaviour is CPython 3.11's asyncore (what legacy servers rely on);
these tests are written for compat and drive compat.asyncore directly.
No fixed sleeps: the loop is stepped with ``run_until`` until a condition holds.
"""
import errno
import re
import select
import socket
import struct
import time
import traceback

import pytest

from compat import asyncore

pytestmark = pytest.mark.usefixtures("clean_map")

HOST = "127.0.0.1"


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def run_until(predicate, timeout=5.0, map=None):
    """Serve the map one pass at a time until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        asyncore.loop(timeout=0.05, count=1, map=map)


def wait_readable(sock, timeout=5.0):
    """Block until ``sock`` is readable (data, EOF or reset has arrived)."""
    r, _, _ = select.select([sock], [], [], timeout)
    assert r, "socket did not become readable"


@pytest.fixture
def tcp_pair():
    """A factory of connected plain TCP socket pairs ``(ours, peer)``."""
    made = []

    def make():
        with socket.create_server((HOST, 0)) as srv:
            ours = socket.create_connection(srv.getsockname())
            peer, _ = srv.accept()
        made.extend((ours, peer))
        return ours, peer

    yield make
    for s in made:
        s.close()


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


def test_connected_socket_is_adopted(tcp_pair):
    ours, peer = tcp_pair()
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


def test_send_and_recv_move_bytes(tcp_pair):
    ours, peer = tcp_pair()
    d = asyncore.dispatcher(ours)
    assert d.send(b"ping") == 4
    peer.settimeout(5)
    assert peer.recv(4) == b"ping"
    peer.sendall(b"pong")
    wait_readable(ours)
    assert d.recv(10) == b"pong"


def test_send_returns_zero_when_the_socket_buffer_is_full(tcp_pair):
    ours, peer = tcp_pair()
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


def test_send_to_reset_peer_calls_handle_close_and_returns_zero(tcp_pair):
    ours, peer = tcp_pair()
    d = Recorder(ours)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # RST
    wait_readable(ours)
    assert d.send(b"x") == 0
    assert d.events == ["close"]
    assert ours.fileno() == -1


def test_recv_on_peer_close_returns_empty_and_calls_handle_close(tcp_pair):
    ours, peer = tcp_pair()
    d = Recorder(ours)
    peer.close()  # FIN
    wait_readable(ours)
    assert d.recv(100) == b""
    assert d.events == ["close"]
    assert ours.fileno() not in asyncore.socket_map
    assert ours.fileno() == -1


def test_recv_on_reset_returns_empty_and_calls_handle_close(tcp_pair):
    ours, peer = tcp_pair()
    d = Recorder(ours)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # RST: recv fails with ECONNRESET
    wait_readable(ours)
    assert d.recv(100) == b""
    assert d.events == ["close"]
    assert not asyncore.socket_map


def test_peer_close_seen_by_loop_closes_channel(tcp_pair):
    class Reader(Recorder):
        def writable(self):
            return False

        def handle_read(self):
            self.events.append(("data", self.recv(100)))

    ours, peer = tcp_pair()
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


def test_close_is_idempotent(tcp_pair):
    ours, _ = tcp_pair()
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
    asyncore.dispatcher().close()  # never had a socket: nothing to do


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


def test_repr_connected_subclass(tcp_pair):
    class Channel(asyncore.dispatcher):
        pass

    ours, peer = tcp_pair()
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


def test_handle_expt_on_out_of_band_data(tcp_pair):
    class Urgent(Recorder):
        def writable(self):
            return False

        def handle_expt(self):
            self.events.append(("expt", self.socket.recv(1, socket.MSG_OOB)))

    ours, peer = tcp_pair()
    d = Urgent(ours)
    peer.send(b"!", socket.MSG_OOB)
    run_until(lambda: ("expt", b"!") in d.events)


# ---------------------------------------------------------------------------
# handle_error
# ---------------------------------------------------------------------------


def test_handle_error_prints_compact_traceback_and_closes(tcp_pair, capsys):
    class Broken(asyncore.dispatcher):
        def writable(self):
            return False

        def handle_read(self):
            raise ZeroDivisionError("in handle_read")

    ours, peer = tcp_pair()
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


def test_tcp_nodelay_set_by_default(tcp_pair):
    d = asyncore.dispatcher()
    d.create_socket()
    assert nodelay(d.socket) != 0
    ours, _ = tcp_pair()
    ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    asyncore.dispatcher(ours)  # an accepted/connected socket handed in
    assert nodelay(ours) != 0


def test_tcp_nodelay_false_leaves_nagle_on(tcp_pair):
    class Nagle(asyncore.dispatcher):
        tcp_nodelay = False

    d = Nagle()
    d.create_socket()
    assert nodelay(d.socket) == 0
    ours, _ = tcp_pair()
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
