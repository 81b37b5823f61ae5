"""Facade 1: the asyncore API of CPython 3.11, served by compat's core.

Same names, same callbacks in the same order, same errors. What differs is
underneath: ``loop()`` runs an asyncio event loop (epoll where available, so
no fd limit and no O(all channels) pass), and that loop is shared with any
asyncio code in the thread.
"""
import os
import select
import socket
import sys
import time  # noqa: F401  (asyncore exposed it; code patches asyncore.time)
import warnings
from errno import (  # noqa: F401  (re-exported like asyncore did)
    EAGAIN,
    EALREADY,
    EBADF,
    ECONNABORTED,
    ECONNRESET,
    EINPROGRESS,
    EINVAL,
    EISCONN,
    ENOTCONN,
    EPIPE,
    ESHUTDOWN,
    EWOULDBLOCK,
    errorcode,
)
from collections import deque
from threading import get_ident as _get_ident
from typing import Any, Deque, MutableMapping, Optional, Tuple

from compat import core
from compat.core import ExitNow
from compat.core import listen as _listen

# Whose map a channel is in decides whether a call may run here (see core.handed_to_serving_thread).
_ChannelMap = core.ChannelMap

__all__ = [
    "ExitNow",
    "socket_map",
    "read",
    "write",
    "_exception",
    "readwrite",
    "poll",
    "poll2",
    "poll3",
    "loop",
    "dispatcher",
    "dispatcher_with_send",
    "compact_traceback",
    "close_all",
    "file_wrapper",
    "file_dispatcher",
]

_DISCONNECTED = frozenset({ECONNRESET, ENOTCONN, ESHUTDOWN, ECONNABORTED, EPIPE, EBADF})
_reraised_exceptions = core.REraised

#: The default map, shared by every facade. A dict that reports changes.
socket_map: core.ChannelMap = core.shared_map

_Map = MutableMapping[int, Any]


def _strerror(err: int) -> str:
    try:
        return os.strerror(err)
    except (ValueError, OverflowError, NameError):
        return errorcode.get(err, "Unknown error %s" % err)


# ---------------------------------------------------------------------------
# Dispatch helpers (asyncore's error rules)
# ---------------------------------------------------------------------------


def read(obj: Any) -> None:
    """Call ``obj.handle_read_event()``; errors go to ``obj.handle_error()``."""
    try:
        obj.handle_read_event()
    except _reraised_exceptions:
        raise
    except BaseException:
        obj.handle_error()


def write(obj: Any) -> None:
    """Call ``obj.handle_write_event()``; errors go to ``obj.handle_error()``."""
    try:
        obj.handle_write_event()
    except _reraised_exceptions:
        raise
    except BaseException:
        obj.handle_error()


def _exception(obj: Any) -> None:
    """Call ``obj.handle_expt_event()``; errors go to ``obj.handle_error()``."""
    try:
        obj.handle_expt_event()
    except _reraised_exceptions:
        raise
    except BaseException:
        obj.handle_error()


def readwrite(obj: Any, flags: int) -> None:
    """Dispatch poll() ``flags`` for ``obj`` as asyncore's poll2 pass does."""
    try:
        if flags & select.POLLIN:
            obj.handle_read_event()
        if flags & select.POLLOUT:
            obj.handle_write_event()
        if flags & select.POLLPRI:
            obj.handle_expt_event()
        if flags & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            obj.handle_close()
    except OSError as e:
        if e.errno not in _DISCONNECTED:
            obj.handle_error()
        else:
            obj.handle_close()
    except _reraised_exceptions:
        raise
    except BaseException:
        obj.handle_error()


# ---------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------


def poll(timeout: float = 0.0, map: Optional[_Map] = None) -> None:
    """One pass: wait up to ``timeout`` seconds, dispatch what is ready."""
    if map is None:
        map = socket_map
    core.serve(map, timeout, count=1)


# One pass either way: the core always uses the best selector of the platform.
poll2 = poll3 = poll


def loop(
    timeout: float = 30.0,
    use_poll: bool = False,
    map: Optional[_Map] = None,
    count: Optional[int] = None,
) -> None:
    """Serve ``map`` until it is empty, or for ``count`` passes.

    ``use_poll`` is accepted for compatibility; the core always uses the best
    selector of the platform (epoll on Linux), with no limit on fd numbers.
    """
    if map is None:
        map = socket_map
    core.serve(map, timeout, count)


# ---------------------------------------------------------------------------
# dispatcher
# ---------------------------------------------------------------------------


class dispatcher:
    """A socket wrapper whose events are delivered by ``loop()``."""

    debug = False
    connected = False
    accepting = False
    connecting = False
    closing = False
    addr: Any = None
    ignore_log_types = frozenset({"warning"})
    #: The peer sent EOF while output was queued; reading stops and
    #: handle_close() follows once the output is flushed.
    eof_received = False
    #: Set TCP_NODELAY on TCP sockets, as asyncio does since 3.7: without it a
    #: request/response exchange of large messages stalls ~40 ms per message
    #: on Nagle + delayed ACK. Set to False in a subclass for 3.11's wire
    #: behaviour.
    tcp_nodelay = True

    def __init__(self, sock: Optional[socket.socket] = None, map: Optional[_Map] = None) -> None:
        # Instance copies of the class defaults that every event reads:
        # CPython reads an instance attribute much faster than a class one.
        self.connected = self.connected
        self.accepting = self.accepting
        self.connecting = self.connecting
        self.eof_received = self.eof_received
        self._map = socket_map if map is None else map
        self._fileno: Optional[int] = None
        if sock:
            sock.setblocking(False)
            self.set_socket(sock, map)
            self.connected = True
            try:
                self.addr = sock.getpeername()
            except OSError as err:
                if err.errno in (ENOTCONN, EINVAL):
                    # An unconnected socket was handed in: not an error.
                    self.connected = False
                else:
                    # Broken socket: take it out of the map before it is polled.
                    self.del_channel(map)
                    raise
            self._sync_interest()
        else:
            self.socket = None

    def __repr__(self) -> str:
        status = [self.__class__.__module__ + "." + self.__class__.__qualname__]
        if self.accepting and self.addr:
            status.append("listening")
        elif self.connected:
            status.append("connected")
        if self.addr is not None:
            try:
                status.append("%s:%d" % self.addr)
            except TypeError:
                status.append(repr(self.addr))
        return "<%s at %#x>" % (" ".join(status), id(self))

    # -- the map ---------------------------------------------------------------

    def add_channel(self, map: Optional[_Map] = None) -> None:
        """Put this channel in ``map`` (default: its own map)."""
        if map is None:
            map = self._map
        map[self._fileno] = self  # type: ignore[index]
        core.notify_added(map, self._fileno, self)  # type: ignore[arg-type]

    def del_channel(self, map: Optional[_Map] = None) -> None:
        """Take this channel out of ``map``; its fd is unregistered first."""
        fd = self._fileno
        if map is None:
            map = self._map
        if fd in map:
            obj = map[fd]
            del map[fd]
            core.notify_removed(map, fd, obj)  # type: ignore[arg-type]
        self._fileno = None

    #: Tell the core this channel's buffers or state changed (any thread).
    _sync_interest = core.sync_channel

    # -- sockets ---------------------------------------------------------------

    def create_socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> None:
        """Create a non-blocking socket and add the channel to its map."""
        self.family_and_type = family, type
        sock = socket.socket(family, type)
        sock.setblocking(False)
        self.set_socket(sock)

    def set_socket(self, sock: socket.socket, map: Optional[_Map] = None) -> None:
        """Adopt ``sock`` and add the channel to ``map``."""
        self.socket = sock
        self._fileno = sock.fileno()
        if self.tcp_nodelay:
            _set_nodelay(sock)
        self.add_channel(map)

    def set_reuse_addr(self) -> None:
        """Set SO_REUSEADDR, ignoring errors, as asyncore did."""
        try:
            self.socket.setsockopt(
                socket.SOL_SOCKET,
                socket.SO_REUSEADDR,
                self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) | 1,
            )
        except OSError:
            pass

    def readable(self) -> bool:
        """Whether ``loop()`` should wait for this channel to be readable."""
        return True

    def writable(self) -> bool:
        """Whether ``loop()`` should wait for this channel to be writable."""
        return True

    def listen(self, num: int) -> None:
        """Start accepting connections."""
        self.accepting = True
        if os.name == "nt" and num > 5:
            num = 5
        result = self.socket.listen(num)
        _listen.listening(self.socket)  # compat run --workers: shared or refused
        self._sync_interest()
        return result

    def bind(self, addr: Any) -> None:
        """Bind the socket to ``addr``."""
        self.addr = addr
        _listen.before_bind(self.socket, addr)  # SO_REUSEPORT under compat run --workers
        return self.socket.bind(addr)

    def connect(self, address: Any) -> None:
        """Start a non-blocking connect; ``handle_connect`` runs when it completes."""
        self.connected = False
        try:
            err = self.socket.connect_ex(address)
        finally:
            # Set after the connect started: a loop serving this channel from
            # another thread must not poll the socket before (see core's
            # _unused_stream).
            self.connecting = True
        if err in (EINPROGRESS, EALREADY, EWOULDBLOCK) or (err == EINVAL and os.name == "nt"):
            self.addr = address
            self._sync_interest()
            return
        if err in (0, EISCONN):
            self.addr = address
            self.handle_connect_event()
            self._sync_interest()
        else:
            raise OSError(err, errorcode[err])

    def accept(self) -> Optional[Tuple[socket.socket, Any]]:
        """Accept a connection; None when there was none to accept."""
        try:
            conn, addr = self.socket.accept()
        except TypeError:
            return None
        except OSError as why:
            if why.errno in (EWOULDBLOCK, ECONNABORTED, EAGAIN):
                return None
            raise
        return conn, addr

    def send(self, data: Any) -> int:
        """Send what the socket takes now; 0 when it would block."""
        try:
            return self.socket.send(data)
        except OSError as why:
            if why.errno == EWOULDBLOCK:
                return 0
            if why.errno in _DISCONNECTED:
                self.handle_close()
                return 0
            raise

    def recv(self, buffer_size: int) -> bytes:
        """Receive up to ``buffer_size`` bytes; b'' (and handle_close) on disconnect."""
        try:
            data = self.socket.recv(buffer_size)
        except OSError as why:
            if why.errno in _DISCONNECTED:
                self.handle_close()
                return b""
            raise
        if not data:
            # A closed connection shows as readable with nothing to read.
            if self._output_pending():
                # The peer only half-closed: deliver what is queued first,
                # then handle_close (3.11 closed at once and lost it).
                self.eof_received = True
                self._sync_interest()
                return b""
            self.handle_close()
            return b""
        return data

    def _output_pending(self) -> bool:
        """Whether output is queued that a half-closing peer still expects."""
        return False

    def _flushed_after_eof(self) -> None:
        """The queued output is sent after the peer's EOF: now close."""
        self.eof_received = False
        self.handle_close()

    def close(self) -> None:
        """Leave the map (unregistering the fd first), then close the socket."""
        if core.handed_to_serving_thread(self._map, self.close):
            return
        self.connected = False
        self.accepting = False
        self.connecting = False
        self.del_channel()
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError as why:
                if why.errno not in (ENOTCONN, EBADF):
                    raise

    # -- logging ---------------------------------------------------------------

    def log(self, message: Any) -> None:
        """Log a 'hit' to stderr."""
        sys.stderr.write("log: %s\n" % str(message))

    def log_info(self, message: Any, type: str = "info") -> None:
        """Print an informational message unless its type is ignored."""
        if type not in self.ignore_log_types:
            print("%s: %s" % (type, message))

    # -- events ----------------------------------------------------------------

    def handle_read_event(self) -> None:
        """The socket is readable: accept, finish a connect, or read."""
        if self.accepting:
            self.handle_accept()
        elif not self.connected:
            if self.connecting:
                self.handle_connect_event()
            self.handle_read()
        else:
            self.handle_read()

    def handle_connect_event(self) -> None:
        """A connect finished: raise its error, or call handle_connect."""
        err = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err != 0:
            raise OSError(err, _strerror(err))
        self.handle_connect()
        self.connected = True
        self.connecting = False
        self._sync_interest()  # writable() of the stock channels reads `connected`

    def handle_write_event(self) -> None:
        """The socket is writable: finish a connect, then write."""
        if self.accepting:
            return  # a listening socket has nothing to write
        if not self.connected and self.connecting:
            self.handle_connect_event()
        self.handle_write()

    def handle_expt_event(self) -> None:
        """An exceptional condition: close on a socket error, else handle_expt."""
        err = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err != 0:
            self.handle_close()
        else:
            self.handle_expt()

    def handle_error(self) -> None:
        """Log the compact traceback of the current exception and close."""
        nil, t, v, tbinfo = compact_traceback()
        try:
            self_repr = repr(self)
        except BaseException:
            self_repr = "<__repr__(self) failed for object at %0x>" % id(self)
        self.log_info(
            "uncaptured python exception, closing channel %s (%s:%s %s)" % (self_repr, t, v, tbinfo),
            "error",
        )
        self.handle_close()

    def handle_expt(self) -> None:
        """Urgent (OOB) data arrived; override to read it."""
        self.log_info("unhandled incoming priority event", "warning")

    def handle_read(self) -> None:
        """Data can be read; override."""
        self.log_info("unhandled read event", "warning")

    def handle_write(self) -> None:
        """Data can be written; override."""
        self.log_info("unhandled write event", "warning")

    def handle_connect(self) -> None:
        """The connection is established; override."""
        self.log_info("unhandled connect event", "warning")

    def handle_accept(self) -> None:
        """A connection is waiting: accept it and call handle_accepted."""
        pair = self.accept()
        if pair is not None:
            self.handle_accepted(*pair)

    def handle_accepted(self, sock: socket.socket, addr: Any) -> None:
        """A connection was accepted; override to serve ``sock``."""
        sock.close()
        self.log_info("unhandled accepted event", "warning")

    def handle_close(self) -> None:
        """The peer closed or an error occurred; closes the channel."""
        self.log_info("unhandled close event", "warning")
        self.close()


def _set_nodelay(sock: Any) -> None:
    if getattr(sock, "type", None) == socket.SOCK_STREAM and getattr(sock, "family", None) in (
        socket.AF_INET,
        socket.AF_INET6,
    ):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not connected yet on some platforms; harmless




class dispatcher_with_send(dispatcher):
    """A dispatcher with an output buffer: ``send()`` never loses data."""

    # Class defaults too: subclasses that call dispatcher.__init__ and set
    # out_buffer themselves (legal in 3.11) never run the __init__ below.
    # The queue is _out from offset _off, then the chunks in _more (None
    # until a send() finds output already queued): queued bytes are never
    # re-sliced or re-joined as 3.11 did, so they cost O(bytes) in all.
    # _out is non-empty whenever anything is queued.
    _out = b""
    _off = 0
    _more: "Optional[Deque[bytes]]" = None
    # Whether the core was last told the buffer holds data: reports go out
    # only when that changes, not on every send().
    _queued = False
    # Whether the class replaces initiate_send: send() then always calls it.
    _own_initiate_send = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._own_initiate_send = cls.initiate_send is not dispatcher_with_send.initiate_send

    def __init__(self, sock: Optional[socket.socket] = None, map: Optional[_Map] = None) -> None:
        # Instance copies: 3.11 reads class defaults slowly (send() reads them).
        self._out = b""
        self._off = 0
        self._more = None
        self._queued = False
        self._own_initiate_send = type(self)._own_initiate_send
        dispatcher.__init__(self, sock, map)

    # Writer interest follows the buffer: assigning it (as subclasses do)
    # tells the core when it goes from empty to non-empty and back.
    @property
    def out_buffer(self) -> bytes:
        """Everything queued and not yet sent (what 3.11 kept in one bytes object)."""
        out = self._out
        if self._off or self._more:
            return b"".join([memoryview(out)[self._off:], *(self._more or ())])
        return out

    @out_buffer.setter
    def out_buffer(self, value: bytes) -> None:
        self._out = value
        self._off = 0
        self._more = None
        if getattr(self, "_map", None) is not None:
            self._report_output()

    def _report_output(self) -> None:
        """Tell the core when the buffer went empty <-> non-empty."""
        queued = not not self._out
        if queued is not self._queued:
            self._queued = queued
            self._sync_interest()

    def initiate_send(self) -> None:
        """Send as much of the buffer as the socket takes now (64 KiB at most)."""
        out = self._out
        off = self._off
        more = self._more
        if more and len(out) - off < 65536:
            data = _first_64k(out, off, more)
        else:
            data = out[off:off + 65536]
        num_sent = dispatcher.send(self, data)
        if num_sent:
            off += num_sent
            if off < len(out):
                self._off = off
                return
            if more and self._drop_sent(off - len(out), more):
                return
            self._out = b""
            self._off = 0
            if self._queued:
                # Emptied after the core was told it held data (an EOF with
                # output pending always left it reported as holding data).
                self._queued = False
                self._sync_interest()
                if self.eof_received:
                    self._flushed_after_eof()

    def _drop_sent(self, sent: int, more: "Deque[bytes]") -> bool:
        """Move past the ``sent`` bytes sent from ``more``; whether any are left."""
        while more:
            chunk = more.popleft()
            if sent < len(chunk):
                self._out = chunk
                self._off = sent
                return True
            sent -= len(chunk)
        return False

    def _output_pending(self) -> bool:
        return bool(self._out)

    def handle_write(self) -> None:
        """Flush the buffer."""
        self.initiate_send()

    def writable(self) -> bool:
        """Writable while connecting or while the buffer holds data."""
        return (not self.connected) or len(self._out) > 0

    def send(self, data: Any) -> None:  # type: ignore[override]
        """Queue ``data`` and send what the socket takes now (any thread)."""
        m = self._map
        # The serving thread goes on at once; any other is handed over
        # (core.handed_to_serving_thread decides by thread identity too).
        if (m.__class__ is not _ChannelMap or m.server.thread != _get_ident()) and core.handed_to_serving_thread(
            m, self.send, data
        ):
            return
        if self.debug:
            self.log_info("sending %s" % repr(data))
        out = self._out
        if out or data.__class__ is not bytes or self._own_initiate_send:
            if out:
                if data.__class__ is not bytes:
                    # A snapshot of mutable buffers; 3.11's TypeError for text.
                    data = b"" + data
                if data:
                    more = self._more
                    if more is None:
                        more = self._more = deque()
                    more.append(data)
            else:
                self._out = out + data
            self.initiate_send()
        else:
            # Empty buffer, stock initiate_send: its one dispatcher.send,
            # inlined (two Python calls and two copies less per message;
            # benchmarks/hot_path.py shows what a call here costs).
            try:
                sent = self.socket.send(data if len(data) <= 65536 else data[:65536])
            except OSError as why:
                if why.errno == EWOULDBLOCK:
                    sent = 0
                elif why.errno in _DISCONNECTED:
                    self.handle_close()
                    sent = 0
                else:
                    self._out = data
                    raise
            if sent == len(data):
                return
            self._out = data
            if sent:
                self._off = sent
        if self._out and not self._queued:
            self._queued = True
            self._sync_interest()


def _first_64k(out: Any, off: int, more: "Deque[bytes]") -> bytes:
    """The next 64 KiB of a dispatcher_with_send queue, across its chunks
    (what 3.11 sent from its single buffer)."""
    parts: list = [memoryview(out)[off:]]
    room = 65536 - (len(out) - off)
    for chunk in more:
        if len(chunk) >= room:
            parts.append(memoryview(chunk)[:room])
            break
        parts.append(chunk)
        room -= len(chunk)
    return b"".join(parts)


# Their repr and pickling name the module legacy code imported them from.
dispatcher.__module__ = dispatcher_with_send.__module__ = "asyncore"

core.register_stock_predicates(dispatcher.readable, dispatcher.writable, dispatcher_with_send.writable)
core.register_stock_read_event(dispatcher.handle_read_event)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def compact_traceback() -> Tuple[Tuple[str, str, str], Any, Any, str]:
    """The current exception as ((file, function, line), type, value, info)."""
    t, v, tb = sys.exc_info()
    if not tb:
        raise AssertionError("traceback does not exist")
    frames = []
    while tb:
        code = tb.tb_frame.f_code
        frames.append((code.co_filename, code.co_name, str(tb.tb_lineno)))
        tb = tb.tb_next
    info = " ".join("[%s|%s|%s]" % frame for frame in frames)
    return frames[-1], t, v, info


def close_all(map: Optional[_Map] = None, ignore_all: bool = False) -> None:
    """Close every channel of ``map`` and empty it."""
    if map is None:
        map = socket_map
    for x in list(map.values()):
        try:
            x.close()
        except OSError as err:
            if err.errno == EBADF:
                pass
            elif not ignore_all:
                raise
        except _reraised_exceptions:
            raise
        except BaseException:
            if not ignore_all:
                raise
    for fd, obj in list(map.items()):
        core.notify_removed(map, fd, obj)
    map.clear()


# ---------------------------------------------------------------------------
# Files (pipes, ttys) as channels
# ---------------------------------------------------------------------------

if os.name == "posix":

    class file_wrapper:
        """Just enough of a socket around a dup of a file descriptor."""

        def __init__(self, fd: int) -> None:
            self.fd = os.dup(fd)

        def __del__(self) -> None:
            if self.fd >= 0:
                warnings.warn("unclosed file %r" % self, ResourceWarning, source=self)
            self.close()

        def recv(self, *args: Any) -> bytes:
            """Read from the fd."""
            return os.read(self.fd, *args)

        def send(self, *args: Any) -> int:
            """Write to the fd."""
            return os.write(self.fd, *args)

        def getsockopt(self, level: int, optname: int, buflen: Optional[int] = None) -> int:
            """Only SO_ERROR, always 0: what dispatcher asks of a socket."""
            if level == socket.SOL_SOCKET and optname == socket.SO_ERROR and not buflen:
                return 0
            raise NotImplementedError("Only asyncore specific behaviour implemented.")

        read = recv
        write = send

        def close(self) -> None:
            """Close the fd (idempotent)."""
            if self.fd < 0:
                return
            fd, self.fd = self.fd, -1
            os.close(fd)

        def fileno(self) -> int:
            """The wrapped fd."""
            return self.fd

    class file_dispatcher(dispatcher):
        """A dispatcher over a pipe or other file descriptor."""

        def __init__(self, fd: Any, map: Optional[_Map] = None) -> None:
            dispatcher.__init__(self, None, map)
            self.connected = True
            try:
                fd = fd.fileno()
            except AttributeError:
                pass
            self.set_file(fd)
            os.set_blocking(fd, False)

        def set_file(self, fd: int) -> None:
            """Wrap ``fd`` and add the channel to its map."""
            self.socket = file_wrapper(fd)  # type: ignore[assignment]
            self._fileno = self.socket.fileno()
            self.add_channel()

    file_wrapper.__module__ = file_dispatcher.__module__ = "asyncore"
