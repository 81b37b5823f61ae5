"""A :class:`Server` serves one channel map on one asyncio loop.

It keeps, per fd, what it registered (an :class:`_Entry`) and changes the
registration only when the wanted interest changes: a change is marked
(:meth:`Server.sync_fd`, any thread), the channel's predicates are asked just
before the next poll (:meth:`Server.prepare`) and the difference is applied
(own loop: the core's selector; others: ``add_reader``/``add_writer``).
Calls from other threads are handed to the serving thread, decided by thread
identity in one place (:meth:`Server.other_thread_loop`).
"""
import asyncio
import socket
import threading
import weakref
from threading import get_ident as _get_ident
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Set

from compat.core import _asyncio
from compat.core.channel import REraised, is_polled, reads_directly
from compat.core.dispatch import _EPOLL, _ET, _HUP, _IN, _OUT, _PRI, _PlainSocket, dispatch_events

__all__ = ["Server"]

_NO_KEYS: Dict[int, Any] = {}

# Servers of plain-dict maps, by id(map), while they are attached to a loop.
_plain_servers: Dict[int, "Server"] = {}
# Every server attached to some loop (to mute the others during a loop()).
_attached: "weakref.WeakSet[Server]" = weakref.WeakSet()


class _Entry:
    """What the server registered for one fd."""

    __slots__ = ("fd", "obj", "server", "r", "w", "file", "ticking", "dirty", "live", "reads")

    def __init__(self, fd: int, obj: Any, server: "Server") -> None:
        self.fd = fd
        self.obj = obj
        self.server = server
        self.r = False
        self.w = False
        self.file = False  # a regular file: always ready, never registered
        self.ticking = False
        self.dirty = False  # queued for a predicate check before the next poll
        self.live = True  # still the server's entry for fd (False once unregistered)
        # Its handle_read_event is a stock one: a connected channel's
        # readable event may go straight to handle_read (a call less).
        self.reads = False


class _Run:
    """State of one ``serve()`` call: how it stops and what it re-raises."""

    __slots__ = ("pass_mode", "exc", "passes", "stopping", "closed")

    def __init__(self, pass_mode: bool) -> None:
        self.pass_mode = pass_mode
        self.exc: Optional[BaseException] = None
        # Counted passes on a foreign loop: the pass begun last, the pass
        # that asked the loop to stop, the pass whose poll is over.
        self.passes = 0
        self.stopping = -1
        self.closed = -1

    def close_pass(self, number: int) -> None:
        if self.passes == number:
            self.closed = number


def _unused_stream(obj: Any) -> bool:
    """A channel on a stream socket that neither connects nor listens."""
    if obj.accepting or getattr(obj, "connecting", True):
        return False
    sock = getattr(obj, "socket", None)
    return getattr(sock, "type", None) == socket.SOCK_STREAM


class Server:
    """Serves one channel map on one asyncio loop."""

    def __init__(self, map: MutableMapping[int, Any], plain: bool = True) -> None:
        self.map = map
        # A plain dict (no notifications): served only while loop() runs on it.
        self.plain = plain
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.thread: Optional[int] = None
        self.entries: Dict[int, _Entry] = {}
        self.polled: Dict[int, _Entry] = {}
        self.dirty: List[_Entry] = []
        self.selector: Any = None  # the core's HookedSelector, on its own loop
        self.run: Optional[_Run] = None
        # The channel whose handler runs now (its re-sync follows the handler).
        self.current: Any = None
        # Muted while loop() serves another map on the same loop: 3.11
        # served only the map passed to loop().
        self.muted = False
        self._resync_pending = False
        self.invalid_fds: Set[int] = set()
        # On loops compat does not own, exceptional conditions (OOB data,
        # hang-up while not polled) have no add_reader twin: a private
        # edge-triggered epoll, itself a reader. Our own selector polls
        # EPOLLPRI with the fd instead (HookedSelector.set_channel).
        self._pri: Any = None

    def __repr__(self) -> str:
        return f"<compat.core.Server of {len(self.map)} channels on {self.loop!r}>"

    # -- binding to a loop ---------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Register every channel of the map on ``loop``."""
        if self.loop is loop and not loop.is_closed():
            self.thread = threading.get_ident()
            return
        if self.loop is not None and self.loop.is_running() and not self.loop.is_closed():
            raise RuntimeError(
                "this channel map is already being served by an event loop running "
                "in another thread; serve it from one thread at a time"
            )
        self.detach()
        self.loop = loop
        self.thread = threading.get_ident()
        _attached.add(self)
        selector = getattr(loop, "compat_selector", None)
        if selector is not None:
            selector.servers.append(self)
            self.selector = selector
        if self.plain:
            _plain_servers[id(self.map)] = self
        for fd, obj in list(self.map.items()):
            self._register(fd, obj)

    def detach(self) -> None:
        """Drop every registration; the map is no longer served."""
        loop = self.loop
        if loop is None:
            return
        self.loop = None
        self.muted = False
        _attached.discard(self)
        self.loop = loop  # _drop_interest works on the loop being left
        for entry in self.entries.values():
            self._drop_interest(entry)
        self.loop = None
        if not loop.is_closed():
            if self._pri is not None:
                loop.remove_reader(self._pri.fileno())
        if self._pri is not None:
            self._pri.close()
            self._pri = None
        for entry in self.entries.values():
            entry.live = False
        self.entries.clear()
        self.polled.clear()
        self.dirty = []
        # A re-sync queued on the loop being left never runs there: the next
        # loop must be able to queue its own.
        self._resync_pending = False
        if self.selector is not None and self in self.selector.servers:
            self.selector.servers.remove(self)
        self.selector = None
        if _plain_servers.get(id(self.map)) is self:
            del _plain_servers[id(self.map)]

    def reconcile(self) -> None:
        """Catch up with direct edits of a plain-dict map (no notifications)."""
        entries = self.entries
        for fd in [fd for fd, e in entries.items() if self.map.get(fd) is not e.obj]:
            self._unregister(entries[fd])
        for fd, obj in list(self.map.items()):
            if fd not in entries:
                self._register(fd, obj)

    def _usable_loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The loop to register on now, moving to a running loop if needed."""
        loop = self.loop
        running = _asyncio.running_loop()
        if running is not None and running is not loop:
            if loop is None or loop.is_closed() or not loop.is_running():
                self.attach(running)
                return None  # attach registered everything already
        if loop is not None and loop.is_closed():
            self.detach()
            return None
        return loop

    def mute(self) -> None:
        """Stop serving until :meth:`unmute` (another map's loop() runs)."""
        loop = self.loop
        if loop is None or self.muted:
            return
        for entry in self.entries.values():
            self._drop_interest(entry)
        self.muted = True

    def unmute(self) -> None:
        """Serve again: every channel is asked its predicates before the next poll."""
        if not self.muted:
            return
        self.muted = False
        for entry in list(self.entries.values()):
            if not getattr(entry.obj, "compat_external", False):
                self._mark(entry)

    # -- channels coming and going ------------------------------------------

    def added(self, fd: int, obj: Any) -> None:
        """``obj`` was put in the map at ``fd``."""
        if self._usable_loop() is None:
            return
        loop = self.other_thread_loop()
        if loop is not None:
            loop.call_soon_threadsafe(self._added_later, fd, obj)
            return
        self._register(fd, obj)

    def _added_later(self, fd: int, obj: Any) -> None:
        if self.loop is not None and self.map.get(fd) is obj:
            self._register(fd, obj)

    def removed(self, fd: int, obj: Any) -> None:
        """``obj`` left the map: unregister before its socket closes."""
        entry = self.entries.get(fd)
        if entry is not None and entry.obj is obj:
            self._in_serving_thread(self._unregister, entry)

    def other_thread_loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The loop serving this map, if it is running in another thread than
        the caller's: the one thread-identity check of the core."""
        if self.thread == _get_ident():
            return None
        loop = self.loop
        if loop is not None and loop.is_running():
            return loop
        return None

    def _in_serving_thread(self, action: Callable[[_Entry], None], entry: _Entry) -> None:
        """``action(entry)`` now, or in the serving thread if it is another one."""
        loop = self.other_thread_loop()
        if loop is None:
            action(entry)
        else:
            loop.call_soon_threadsafe(self._if_still_there, action, entry)

    def _if_still_there(self, action: Callable[[_Entry], None], entry: _Entry) -> None:
        if self.entries.get(entry.fd) is entry:
            action(entry)

    def _register(self, fd: int, obj: Any) -> None:
        if type(fd) is not int:
            return  # a test double's fake fileno(): nothing the selector can poll
        if fd < 0:
            # Refused when loop() serves the map, as select() refused it.
            self.invalid_fds.add(fd)
            if self.run is not None:
                self.check_fds()
            return
        old = self.entries.get(fd)
        if old is not None:
            if old.obj is obj:
                # Registered anew: its socket may be a new one on the same fd
                # number, which the poller does not know yet.
                self._drop_interest(old)
                self._mark(old)
                return
            self._unregister(old)
        entry = _Entry(fd, obj, self)
        self.entries[fd] = entry
        if getattr(obj, "compat_external", False):
            return  # an asyncio server/transport: its loop already polls the fd
        if is_polled(obj):
            self.polled[fd] = entry
        if self.selector is None:
            # Our own selector polls OOB data with the fd itself (EPOLLPRI).
            self._pri_register(fd)
        # Asked before the next poll, not now: asyncore never called the
        # predicates from add_channel, and subclasses set the attributes
        # their predicates read after dispatcher.__init__ returns.
        self._mark(entry)

    def check_fds(self) -> None:
        """Make loop() raise, as 3.11's did, for an entry at a negative fd."""
        bad = [fd for fd in self.invalid_fds if fd in self.map]
        self.invalid_fds = set(bad)
        if bad:
            exc = ValueError(f"file descriptor cannot be a negative integer ({bad[0]})")
            if self.run is None:
                raise exc
            self._leave(exc)

    def _unregister(self, entry: _Entry) -> None:
        fd = entry.fd
        del self.entries[fd]
        entry.live = False
        self.polled.pop(fd, None)
        loop = self.loop
        self._drop_interest(entry)
        if self._pri is not None:
            try:
                self._pri.unregister(fd)
            except OSError:
                pass
        run = self.run
        if run is not None and not self.map and loop is not None:
            loop.stop()  # loop() returns once the map is empty

    # -- interest ------------------------------------------------------------

    def sync_fd(self, fd: int, obj: Any) -> None:
        """Re-read the predicates of the channel at ``fd`` (any thread)."""
        entry = self.entries.get(fd)
        if entry is None or entry.obj is not obj:
            return
        self._in_serving_thread(self._mark, entry)

    def _mark(self, entry: _Entry) -> None:
        """Queue ``entry`` to have its predicates asked before the next poll."""
        if entry.dirty or self.muted:
            return
        entry.dirty = True
        self.dirty.append(entry)
        if self.selector is None and not self._resync_pending and self.loop is not None:
            self._resync_pending = True
            self.loop.call_soon(self._resync)

    def sync_entry(self, entry: _Entry) -> None:
        """Make the registered interest match the channel's predicates."""
        obj = entry.obj
        # After a half-close with output queued, EOF stays readable: stop
        # reading until the output is flushed (see dispatcher.recv).
        r = not not obj.readable() and not getattr(obj, "eof_received", False)
        w = not not obj.writable() and not obj.accepting
        if (r or w) and not obj.connected and _unused_stream(obj):
            # A TCP socket not yet connecting or listening polls as hung up;
            # a channel made in another thread would be closed by that before
            # its connect() (the serving loop wakes at once). connect() and
            # listen() report the change.
            r = w = False
        if r is entry.r and w is entry.w:
            return  # the common case after a handler: nothing changed
        # Here, not before every poll: a handle_read_event set on a served
        # instance is seen when its interest next changes (guide, ch. 7).
        entry.reads = reads_directly(obj)
        loop = self.loop
        if loop is None:
            return
        if entry.file:
            entry.r, entry.w = r, w
            if (r or w) and not entry.ticking:
                entry.ticking = True
                loop.call_soon(self._file_tick, entry)
            return
        try:
            self._set_interest(entry, r, w)
        except PermissionError:
            # A regular file: epoll refuses it, select() calls it always
            # ready. Deliver its events from the ready queue instead.
            self._drop_interest(entry)
            entry.file = True
            self.sync_entry(entry)
        except (OSError, ValueError, KeyError):
            # The fd is closed or invalid (closed behind our back): poll()
            # would report POLLNVAL, which asyncore turns into handle_close.
            self._drop_interest(entry)
            loop.call_soon(self._invalid_fd, entry)

    def _set_interest(self, entry: _Entry, r: bool, w: bool) -> None:
        fd = entry.fd
        selector = self.selector
        if selector is not None:
            # Our own loop: the selector holds the entry and HookedSelector
            # dispatches it straight after the poll (no asyncio Handle).
            selector.set_channel(entry, r, w)
            entry.r, entry.w = r, w
            return
        loop = self.loop
        if r != entry.r:
            if r:
                loop.add_reader(fd, self._on_read, entry)  # type: ignore[union-attr]
            else:
                loop.remove_reader(fd)  # type: ignore[union-attr]
            entry.r = r
        if w != entry.w:
            if w:
                loop.add_writer(fd, self._on_write, entry)  # type: ignore[union-attr]
            else:
                loop.remove_writer(fd)  # type: ignore[union-attr]
            entry.w = w

    def _drop_interest(self, entry: _Entry) -> None:
        """Unregister ``entry``'s fd (before its socket closes)."""
        if entry.file or not (entry.r or entry.w):
            entry.r = entry.w = False
            return
        loop = self.loop
        if loop is not None and not loop.is_closed():
            selector = self.selector
            try:
                if selector is not None:
                    selector.drop_channel(entry.fd)
                else:
                    if entry.r:
                        loop.remove_reader(entry.fd)
                    if entry.w:
                        loop.remove_writer(entry.fd)
            except (KeyError, ValueError, OSError):
                pass  # already gone with an fd closed behind our back
        entry.r = entry.w = False

    def _file_tick(self, entry: _Entry) -> None:
        entry.ticking = False
        if self.entries.get(entry.fd) is not entry or self.muted:
            return
        mask = (_IN if entry.r else 0) | (_OUT if entry.w else 0)
        if mask and not self._pass_over():
            self._deliver(entry, mask)
        if (entry.r or entry.w) and not entry.ticking and self.loop is not None:
            entry.ticking = True
            self.loop.call_soon(self._file_tick, entry)

    def fd_taken(self, entry: _Entry) -> None:
        """Another owner registered ``entry``'s fd: its socket is gone."""
        entry.r = entry.w = False
        if self.loop is not None:
            self.loop.call_soon(self._invalid_fd, entry)

    def _invalid_fd(self, entry: _Entry) -> None:
        if self.entries.get(entry.fd) is entry:
            self._unregister(entry)
            self._rare(entry, "handle_close")

    def prepare(self) -> None:
        """Ask changed and overriding channels their predicates (before each poll)."""
        if self.muted:
            return
        entries = self.entries
        polled = self.polled
        if self.dirty:
            dirty, self.dirty = self.dirty, []
            for entry in dirty:
                entry.dirty = False
                # Overriding channels are asked just below anyway.
                if entries.get(entry.fd) is entry and polled.get(entry.fd) is not entry:
                    self.sync_entry(entry)
        for entry in list(polled.values()):
            if entries.get(entry.fd) is entry:
                self.sync_entry(entry)

    def _resync(self) -> None:
        self._resync_pending = False
        if self.loop is not None:
            self.prepare()

    # -- dispatch ------------------------------------------------------------

    def _pass_over(self) -> bool:
        """A counted pass has dispatched its poll's events: what a loop
        reports after that belongs to the next pass (the fd is polled again)."""
        run = self.run
        return run is not None and run.closed == run.passes

    def _on_read(self, entry: _Entry) -> None:
        if not self._pass_over():
            self._deliver(entry, _IN)

    def _on_write(self, entry: _Entry) -> None:
        if not self._pass_over():
            self._deliver(entry, _OUT)

    def _deliver(self, entry: _Entry, event: int) -> None:
        """One event through the loop's callbacks (loops compat does not own,
        regular files): the same per-event path as the core's selector."""
        dispatched = dispatch_events(((entry.fd, event),), {entry.fd: entry}, _NO_KEYS)[1]
        if dispatched:
            self._handled(self.run)

    def call(self, entry: _Entry, name: str) -> None:
        """A write event or a rare one (OOB data, a hang-up) for ``entry``."""
        run = self.run
        if run is not None and run.exc is not None:
            return
        obj = entry.obj
        self.current = obj
        try:
            getattr(obj, name)()
        except BaseException as exc:
            self.current = None
            if self.failed(obj, exc):
                return
        self.current = None

    def _rare(self, entry: _Entry, name: str) -> None:
        self.call(entry, name)
        self._handled(self.run)

    def _handled(self, run: Optional[_Run]) -> None:
        """After events delivered through the loop's callbacks: end a counted
        pass; on loops compat does not own, ask overriding channels."""
        if run is not None and run.pass_mode and run.stopping != run.passes:
            run.stopping = run.passes
            self.loop.stop()  # type: ignore[union-attr]
            # Where stop() is itself a queued callback (uvloop), the loop
            # polls once more before it stops: this marks the pass over
            # before that poll (on asyncio's loops, it runs in the next pass
            # and is ignored there).
            self.loop.call_soon(run.close_pass, run.passes)  # type: ignore[union-attr]
        if self.polled and self.selector is None and not self._resync_pending:
            self._resync_pending = True
            self.loop.call_soon(self._resync)  # type: ignore[union-attr]

    def failed(self, obj: Any, exc: BaseException) -> bool:
        """A handler of ``obj`` raised ``exc`` (called inside the except
        block, so handle_error sees it): True when loop() is leaving."""
        if isinstance(exc, REraised):
            self._leave(exc)
            return True
        try:
            obj.handle_error()
        except BaseException as exc2:
            self.current = None
            self._leave(exc2)
            return True
        self.current = None
        return False

    def after_read(self, entry: _Entry) -> None:
        """After a read handler, re-deliver TLS bytes already decrypted.

        Interest is not re-read here: stock channels report their changes
        (sync_channel) and overriding ones are asked before every poll.
        """
        try:
            plain = type(entry.obj.socket) is _PlainSocket
        except AttributeError:
            plain = True
        if not plain:
            self.read_pending(entry)

    def read_pending(self, entry: _Entry) -> None:
        # TLS keeps decrypted bytes in user space: the fd will not poll
        # readable for them, so deliver another read event ourselves.
        pending = getattr(entry.obj.socket, "pending", None)
        if entry.r and pending is not None and pending() > 0 and self.loop is not None:
            self.loop.call_soon(self._deliver, entry, _IN)

    def _leave(self, exc: BaseException) -> None:
        run = self.run
        if run is None:
            raise exc
        run.exc = exc
        self.loop.stop()  # type: ignore[union-attr]

    # -- exceptional conditions ---------------------------------------------

    def _pri_register(self, fd: int) -> None:
        if _EPOLL is None or self.loop is None:
            return
        if self._pri is None:
            self._pri = _EPOLL()
            self.loop.add_reader(self._pri.fileno(), self._on_pri)
            self._detach_on_close(self.loop)
        try:
            self._pri.register(fd, _PRI | _ET)
        except FileExistsError:
            self._pri.modify(fd, _PRI | _ET)
        except OSError:
            pass  # e.g. a regular file: no exceptional condition to watch

    def _detach_on_close(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let go of ``loop`` (and close the side epoll) when it is closed:
        a loop compat does not own (asyncio.run's) says so only there."""
        original = loop.close
        ref = weakref.ref(self)

        def close() -> None:
            server = ref()
            if server is not None and server.loop is loop:
                server.detach()
            original()

        try:
            loop.close = close  # type: ignore[method-assign]
        except AttributeError:
            pass  # a loop type without instance attributes: closed on next use

    def _on_pri(self) -> None:
        pri = self._pri
        if pri is None:
            return
        for fd, events in pri.poll(0):
            entry = self.entries.get(fd)
            if entry is None or self.muted:
                continue
            if events & _PRI:
                self._rare(entry, "handle_expt_event")
            elif events & _HUP and not (entry.r or entry.w):
                # Nobody polls this fd for read or write, so only here can
                # the hang-up be seen; poll() semantics: handle_close.
                self._rare(entry, "handle_close")


