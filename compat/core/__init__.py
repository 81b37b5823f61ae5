"""The one event loop core: asyncore-style channel maps served by asyncio.

A *channel* is any object with ``readable()``, ``writable()``, ``accepting``
and the ``handle_*_event()`` methods of an asyncore dispatcher. A *map* is a
dict ``{fd: channel}``. A :class:`Server` binds one map to one asyncio loop
and dispatches events to the channels with asyncore's error rules.

On a loop the core created (:class:`HookedSelector`), a channel's fd sits in
the loop's selector with the channel's entry as its data: the selector asks
changed and overriding channels their predicates right before each poll and
dispatches their events straight from the poll, as asyncore's pass did; the
loop's own readers and writers go back to asyncio untouched. On any other
loop (uvloop, an application's) the core uses ``add_reader``/``add_writer``.

Interest is cached per fd and changed only when it changes. Channels whose
predicates are the stock ones (registered by the facades through
:func:`register_stock_predicates`) are asked only when the facades report a
state change that can alter the answer (:func:`sync_channel`: an output
buffer going empty <-> non-empty, a connect completing, ``listen()``, EOF),
also from inside the channel's own handler; an event that changes nothing
costs no predicate call. Channels that override ``readable()``/``writable()``
are asked before every poll on the core's loops, or after every dispatch (and
every ``timeout``) on others.
"""
import asyncio
import atexit
import math
import selectors
import select
import socket
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, List, MutableMapping, Optional, Set, Tuple

from compat.core import _asyncio

__all__ = [
    "ExitNow",
    "ChannelMap",
    "Server",
    "serve",
    "server_of",
    "sync_channel",
    "handed_to_serving_thread",
    "thread_loop",
    "new_event_loop",
    "new_core_loop",
    "shared_map",
    "register_stock_predicates",
    "register_stock_read_event",
]


class ExitNow(Exception):
    """Raised by a handler to make ``loop()`` return at once."""


# Exceptions that leave loop() instead of going to the channel's handle_error.
REraised = (ExitNow, KeyboardInterrupt, SystemExit)

_stock_predicates: Set[Callable[..., Any]] = set()
_polled_by_class: Dict[type, bool] = {}
# A tuple, not a set: `in` compares by identity first and never hashes
# whatever a channel's handle_read_event happens to wrap.
_stock_read_events: Tuple[Callable[..., Any], ...] = ()


def register_stock_predicates(*funcs: Callable[..., Any]) -> None:
    """Declare predicate functions whose answer changes only on reported events."""
    _stock_predicates.update(funcs)
    _polled_by_class.clear()


def register_stock_read_event(func: Callable[..., Any]) -> None:
    """Declare a ``handle_read_event`` that, for a channel that is
    ``connected`` and not ``accepting``, only calls ``handle_read``."""
    global _stock_read_events
    if func not in _stock_read_events:
        _stock_read_events += (func,)


def _is_polled(obj: Any) -> bool:
    """True when the channel's predicates must be asked before every poll."""
    cls = type(obj)
    polled = _polled_by_class.get(cls)
    if polled is None:
        polled = not (
            getattr(cls, "readable", None) in _stock_predicates
            and getattr(cls, "writable", None) in _stock_predicates
        )
        _polled_by_class[cls] = polled
    if not polled:
        # Predicates set on the instance itself. Looked up as attributes, not
        # through obj.__dict__: touching __dict__ turns off CPython's inline
        # attribute values for the object, slowing every later attribute access.
        for name in ("readable", "writable"):
            func = getattr(getattr(obj, name, None), "__func__", None)
            if func not in _stock_predicates:
                return True
    return polled


# ---------------------------------------------------------------------------
# The map
# ---------------------------------------------------------------------------


class ChannelMap(dict):
    """A ``{fd: channel}`` dict that tells its server when channels come and go."""

    __slots__ = ("server",)  # read on every send(): a slot is the fastest attribute

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.server = Server(self)

    def __setitem__(self, fd: int, obj: Any) -> None:
        old = dict.get(self, fd)
        dict.__setitem__(self, fd, obj)
        if old is not None and old is not obj:
            self.server.removed(fd, old)
        if old is not obj:
            self.server.added(fd, obj)

    def __delitem__(self, fd: int) -> None:
        obj = dict.pop(self, fd)
        self.server.removed(fd, obj)

    def pop(self, fd: int, *default: Any) -> Any:  # type: ignore[override]
        """Remove ``fd`` and return its channel (``default`` if absent)."""
        if fd not in self:
            return dict.pop(self, fd, *default)
        obj = dict.pop(self, fd)
        self.server.removed(fd, obj)
        return obj

    def popitem(self) -> Any:
        """Remove and return the last ``(fd, channel)`` pair."""
        fd, obj = dict.popitem(self)
        self.server.removed(fd, obj)
        return fd, obj

    def setdefault(self, fd: int, default: Any = None) -> Any:
        """Return the channel at ``fd``, adding ``default`` there if absent."""
        if fd not in self:
            self[fd] = default
        return dict.__getitem__(self, fd)

    def update(self, *args: Any, **kw: Any) -> None:
        """Add several channels at once."""
        for fd, obj in dict(*args, **kw).items():
            self[fd] = obj

    def clear(self) -> None:
        """Remove every channel."""
        items = list(self.items())
        dict.clear(self)
        for fd, obj in items:
            self.server.removed(fd, obj)

    def __ior__(self, other: Any) -> "ChannelMap":
        self.update(other)
        return self

    def copy(self) -> Dict[int, Any]:
        """A plain dict snapshot (copies are not served)."""
        return dict(self)

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


# Servers of plain-dict maps, by id(map), while they are attached to a loop.
_plain_servers: Dict[int, "Server"] = {}
# Every server attached to some loop (to mute the others during a loop()).
_attached: "weakref.WeakSet[Server]" = weakref.WeakSet()


def server_of(map: MutableMapping[int, Any]) -> Optional["Server"]:
    """The server bound to ``map``, or None when nothing serves it yet."""
    if isinstance(map, ChannelMap):
        return map.server
    server = _plain_servers.get(id(map))
    if server is not None and server.map is map:
        return server
    return None


def _server_for(map: MutableMapping[int, Any]) -> "Server":
    server = server_of(map)
    if server is None:
        server = Server(map)
        _plain_servers[id(map)] = server
    return server


def notify_added(map: MutableMapping[int, Any], fd: int, obj: Any) -> None:
    """A facade added ``obj`` to a plain-dict ``map`` (ChannelMap reports itself)."""
    if isinstance(map, ChannelMap):
        return
    server = server_of(map)
    if server is None:
        if _asyncio.running_loop() is None:
            return
        server = _server_for(map)  # mixed mode: a private map inside asyncio code
    server.added(fd, obj)


def notify_removed(map: MutableMapping[int, Any], fd: int, obj: Any) -> None:
    """A facade removed ``obj`` from a plain-dict ``map``."""
    if isinstance(map, ChannelMap):
        return
    server = server_of(map)
    if server is not None:
        server.removed(fd, obj)


def sync_channel(obj: Any) -> None:
    """A dispatcher's interest may have changed: its predicates are asked
    again before the next poll (any thread; its ``_map`` and ``_fileno``)."""
    map = obj._map
    server = map.server if type(map) is ChannelMap else server_of(map)
    if server is None:
        return
    fd = obj._fileno
    if fd is None:
        return
    server.sync_fd(fd, obj)


def handed_to_serving_thread(map: MutableMapping[int, Any], call: Callable[..., Any], *args: Any) -> bool:
    """Schedule ``call(*args)`` on the loop serving ``map`` if that loop runs in
    another thread (it wakes at once); False when the caller may go on itself.

    The serving thread owns the channels' buffers and fds: calls handed over
    run there in order, so data keeps its order and no fd is closed (and
    reused) while that thread polls it.
    """
    server = map.server if type(map) is ChannelMap else server_of(map)  # type: ignore[attr-defined]
    loop = server.other_thread_loop() if server is not None else None
    if loop is None:
        return False
    loop.call_soon_threadsafe(call, *args)
    return True


# ---------------------------------------------------------------------------
# Interest bookkeeping and dispatch
# ---------------------------------------------------------------------------


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

    __slots__ = ("pass_mode", "exc")

    def __init__(self, pass_mode: bool) -> None:
        self.pass_mode = pass_mode
        self.exc: Optional[BaseException] = None


_PlainSocket = socket.socket
# epoll's bits where there is epoll; the same values stand in elsewhere.
_IN = getattr(select, "EPOLLIN", 1)
_OUT = getattr(select, "EPOLLOUT", 4)
_NOT_IN = ~_IN
_NOT_OUT = ~_OUT
_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_EPOLL = getattr(select, "epoll", None)
_PRI = getattr(select, "EPOLLPRI", 0)
_HUP = getattr(select, "EPOLLHUP", 0) | getattr(select, "EPOLLERR", 0)
_ET = getattr(select, "EPOLLET", 0)
# Errors and hang-ups wake both directions (as selectors does); OOB data
# (EPOLLPRI) goes to handle_expt_event only.
_READ_BITS = _IN | _HUP
_WRITE_BITS = _OUT | _HUP


class Server:
    """Serves one channel map on one asyncio loop."""

    def __init__(self, map: MutableMapping[int, Any]) -> None:
        self.map = map
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.thread: Optional[int] = None
        self.entries: Dict[int, _Entry] = {}
        self.polled: Dict[int, _Entry] = {}
        self.dirty: List[_Entry] = []
        self.hooked = False
        self._selector: Optional[HookedSelector] = None
        self.run: Optional[_Run] = None
        # The channel whose handler runs now (its re-sync follows the handler).
        self.current: Any = None
        # Muted while loop() serves another map on the same loop: 3.11
        # served only the map passed to loop().
        self.muted = False
        self._resync_pending = False
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
        self.hooked = isinstance(selector, HookedSelector)
        if self.hooked:
            selector.servers.append(self)
            self._selector = selector
        if not isinstance(self.map, ChannelMap):
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
        if self.hooked and self in self._selector.servers:
            self._selector.servers.remove(self)
        self.hooked = False
        self._selector = None
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
        """The loop serving this map, if it is running in another thread."""
        loop = self.loop
        if loop is not None and self.thread != threading.get_ident() and loop.is_running():
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
        old = self.entries.get(fd)
        if old is not None:
            if old.obj is obj:
                self._mark(old)
                return
            self._unregister(old)
        entry = _Entry(fd, obj, self)
        self.entries[fd] = entry
        if getattr(obj, "compat_external", False):
            return  # an asyncio server/transport: its loop already polls the fd
        if _is_polled(obj):
            self.polled[fd] = entry
        if not self.hooked:
            # Our own selector polls OOB data with the fd itself (EPOLLPRI).
            self._pri_register(fd)
        # Asked before the next poll, not now: asyncore never called the
        # predicates from add_channel, and subclasses set the attributes
        # their predicates read after dispatcher.__init__ returns.
        self._mark(entry)

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
        if self.current is obj:
            self._mark(entry)  # inside its own handler: surely the serving thread
        else:
            self._in_serving_thread(self._mark, entry)

    def _mark(self, entry: _Entry) -> None:
        """Queue ``entry`` to have its predicates asked before the next poll."""
        if entry.dirty or self.muted:
            return
        entry.dirty = True
        self.dirty.append(entry)
        if not self.hooked and not self._resync_pending and self.loop is not None:
            self._resync_pending = True
            self.loop.call_soon(self._resync)

    def sync_entry(self, entry: _Entry) -> None:
        """Make the registered interest match the channel's predicates."""
        obj = entry.obj
        # After a half-close with output queued, EOF stays readable: stop
        # reading until the output is flushed (see dispatcher.recv).
        r = not not obj.readable() and not getattr(obj, "eof_received", False)
        w = not not obj.writable() and not obj.accepting
        if r is entry.r and w is entry.w:
            return  # the common case after a handler: nothing changed
        # Here, not before every poll: a handle_read_event set on a served
        # instance is seen when its interest next changes (guide, ch. 7).
        entry.reads = getattr(getattr(obj, "handle_read_event", None), "__func__", None) in _stock_read_events
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
        selector = self._selector
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
            selector = self._selector
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
        if entry.r:
            self._dispatch(entry, True)
        if entry.w and entry.live:
            self._dispatch(entry, False)
        if (entry.r or entry.w) and not entry.ticking and self.loop is not None:
            entry.ticking = True
            self.loop.call_soon(self._file_tick, entry)

    def _invalid_fd(self, entry: _Entry) -> None:
        if self.entries.get(entry.fd) is entry:
            self._unregister(entry)
            self._call(entry, "handle_close")

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

    def _on_read(self, entry: _Entry) -> None:
        self._dispatch(entry, True)

    def _on_write(self, entry: _Entry) -> None:
        self._dispatch(entry, False)

    def _dispatch(self, entry: _Entry, read: bool) -> None:
        """One read or write event, delivered through the loop's callbacks
        (loops compat does not own; HookedSelector.select inlines this)."""
        run = self.run
        if run is not None and run.exc is not None:
            return  # loop() is leaving; level-triggered events come back
        obj = entry.obj
        self.current = obj
        try:
            if read:
                obj.handle_read_event()
            else:
                obj.handle_write_event()
        except BaseException as exc:
            self.current = None
            if self.failed(obj, exc):
                return
        self.current = None
        if read and entry.live:
            self.after_read(entry)
        self._handled(run)

    def _call(self, entry: _Entry, name: str) -> None:
        """A rare event for ``entry``: OOB data or a hang-up (no TLS check follows)."""
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
        self._handled(run)

    def _handled(self, run: Optional[_Run]) -> None:
        """After an event delivered through the loop's callbacks: end a
        counted pass; on loops compat does not own, ask overriding channels."""
        if run is not None and run.pass_mode:
            self.loop.stop()  # type: ignore[union-attr]
        if self.polled and not self.hooked and not self._resync_pending:
            self._resync_pending = True
            self.loop.call_soon(self._resync)  # type: ignore[union-attr]

    def readwrite(self, entry: _Entry, event: int) -> bool:
        """Deliver an epoll event mask as poll2's readwrite() did: read, then
        write; a channel closed by its read handler gets no write event.
        True when loop() is leaving."""
        if event & _READ_BITS and entry.r:
            self._dispatch(entry, True)
        if event & _WRITE_BITS and entry.w and entry.live:
            self._dispatch(entry, False)
        if event & _PRI and entry.live:
            self._call(entry, "handle_expt_event")
        run = self.run
        return run is not None and run.exc is not None

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
            self._read_pending(entry)

    def _read_pending(self, entry: _Entry) -> None:
        # TLS keeps decrypted bytes in user space: the fd will not poll
        # readable for them, so deliver another read event ourselves.
        pending = getattr(entry.obj.socket, "pending", None)
        if entry.r and pending is not None and pending() > 0 and self.loop is not None:
            self.loop.call_soon(self._on_read, entry)

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
        try:
            self._pri.register(fd, _PRI | _ET)
        except FileExistsError:
            self._pri.modify(fd, _PRI | _ET)
        except OSError:
            pass  # e.g. a regular file: no exceptional condition to watch

    def _on_pri(self) -> None:
        pri = self._pri
        if pri is None:
            return
        for fd, events in pri.poll(0):
            entry = self.entries.get(fd)
            if entry is None or self.muted:
                continue
            if events & _PRI:
                self._call(entry, "handle_expt_event")
            elif events & _HUP and not (entry.r or entry.w):
                # Nobody polls this fd for read or write, so only here can
                # the hang-up be seen; poll() semantics: handle_close.
                self._call(entry, "handle_close")


# ---------------------------------------------------------------------------
# Loops
# ---------------------------------------------------------------------------


class HookedSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The default selector, asking the overriding channels before each poll."""

    def __init__(self) -> None:
        super().__init__()
        self._poller = _asyncio.selector_poller(self)
        self._keys = _asyncio.selector_keys(self)
        self.servers: list = []
        # fd -> _Entry of the channels registered here (the rest are asyncio's).
        self.channels: Dict[int, _Entry] = {}

    def select(self, timeout: Optional[float] = None) -> Any:
        """Run every server's prepare hook, poll, dispatch channel events.

        Events of channel entries are dispatched here, as asyncore's pass
        did; the rest (asyncio's own readers and writers) go back to the loop.
        """
        for server in self.servers:
            if server.polled or server.dirty:
                server.prepare()
        if not self.servers:
            return super().select(timeout)
        others = []
        dispatched = False
        channels = self.channels
        fd_to_key = self._keys
        for fd, event in self._poll(timeout):
            entry = channels.get(fd)
            if entry is None:
                key = fd_to_key.get(fd)
                if key is not None:  # else: unregistered earlier in this pass
                    # Errors and hang-ups wake both directions, as selectors does.
                    events = (event & _NOT_IN and _WRITE) | (event & _NOT_OUT and _READ)
                    others.append((key, events & key.events))
                continue
            dispatched = True
            if event != _IN:
                # Writable, both, or an error/hang-up (which wakes both).
                if entry.server.readwrite(entry, event):
                    break  # loop() leaves; level-triggered events come back
                continue
            # Readable only: the common case, Server._dispatch and
            # after_read inlined (this is the per-event hot path).
            if not entry.r:
                continue
            server = entry.server
            obj = entry.obj
            server.current = obj
            try:
                if entry.reads and obj.connected and not obj.accepting:
                    obj.handle_read()  # what the stock handle_read_event does
                else:
                    obj.handle_read_event()
            except BaseException as exc:
                server.current = None
                if server.failed(obj, exc):
                    break
            server.current = None
            # No predicate re-read (see after_read); TLS may hold
            # decrypted bytes the fd will not poll readable for.
            if entry.live:
                if not entry.reads:
                    server.after_read(entry)  # not a stock dispatcher: may lack .socket
                elif type(obj.socket) is not _PlainSocket:
                    server._read_pending(entry)
        if dispatched:
            for server in self.servers:
                run = server.run
                if run is not None and run.pass_mode:
                    server.loop.stop()
        return others

    def set_channel(self, entry: "_Entry", r: bool, w: bool) -> None:
        """Register, change or drop the poll interest of a channel's fd.

        With epoll the fd goes into the epoll set directly, with EPOLLPRI
        besides (OOB data reaches handle_expt_event, as select()'s exception
        set did), and stays out of the selector's key map, which is asyncio's.
        """
        fd = entry.fd
        channels = self.channels
        poller = self._poller
        if not (r or w):
            self.drop_channel(fd)
        elif type(poller) is _EPOLL:
            mask = (_IN if r else 0) | (_OUT if w else 0) | _PRI
            if fd in channels:
                poller.modify(fd, mask)
            else:
                poller.register(fd, mask)
            channels[fd] = entry
        else:
            events = (_READ if r else 0) | (_WRITE if w else 0)
            if fd in channels:
                self.modify(fd, events, entry)
            else:
                self.register(fd, events, entry)
            channels[fd] = entry

    def drop_channel(self, fd: int) -> None:
        """Stop polling a channel's fd (before its socket closes)."""
        if self.channels.pop(fd, None) is None:
            return
        poller = self._poller
        if type(poller) is _EPOLL:
            poller.unregister(fd)
        else:
            self.unregister(fd)

    def close(self) -> None:
        """Close the selector (the channels' registrations go with it)."""
        self.channels.clear()
        super().close()

    def _poll(self, timeout: Optional[float]) -> Any:
        """``(fd, epoll-style event mask)`` pairs of one poll."""
        poller = self._poller
        if type(poller) is not _EPOLL:
            return [
                (key.fd, (_IN if events & _READ else 0) | (_OUT if events & _WRITE else 0))
                for key, events in super().select(timeout)
            ]
        # Straight from epoll, as EpollSelector.select does it, without its
        # extra pass over the events (this is the per-event hot path).
        if timeout is None:
            timeout = -1
        elif timeout <= 0:
            timeout = 0
        else:
            timeout = math.ceil(timeout * 1e3) * 1e-3
        try:
            return poller.poll(timeout, len(self._keys) + len(self.channels) or 1)
        except InterruptedError:
            return ()


class _OwnedLoop:
    """Closes the loop the core made for a thread when that thread ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def close(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            loop.close()

    def __del__(self) -> None:
        self.close()


_local = threading.local()
_main_owned: list = []


def new_core_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the core's own kind (prepare hook before each poll)."""
    from compat.core.loop import CoreEventLoop

    return CoreEventLoop()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop as the core makes one for a thread: the core's own kind, or
    the loop of a policy the application installed (uvloop.install())."""
    factory = _asyncio.policy_loop_factory()  # uvloop.install() or an application's policy
    return factory() if factory is not None else new_core_loop()


def _current_loop() -> Optional[asyncio.AbstractEventLoop]:
    """The loop set for this thread, without creating one."""
    return _asyncio.current_loop()


def thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's loop: the running one, the current one, or a new one."""
    running = _asyncio.running_loop()
    if running is not None:
        return running
    loop = _current_loop()
    if loop is not None and not loop.is_closed():
        return loop
    owned = getattr(_local, "owned", None)
    if owned is None or owned.loop.is_closed():
        owned = _OwnedLoop(new_event_loop())
        _local.owned = owned
        if threading.current_thread() is threading.main_thread():
            _main_owned.append(owned)
    asyncio.set_event_loop(owned.loop)
    return owned.loop


@atexit.register
def _close_main_loops() -> None:
    while _main_owned:
        _main_owned.pop().close()


# ---------------------------------------------------------------------------
# loop()
# ---------------------------------------------------------------------------


def serve(map: MutableMapping[int, Any], timeout: float = 30.0, count: Optional[int] = None) -> None:
    """Serve ``map`` until it is empty, or for ``count`` passes.

    A pass waits up to ``timeout`` seconds for any channel of the map to be
    ready and dispatches what is ready.
    """
    if _asyncio.running_loop() is not None:
        raise RuntimeError(
            "asyncore.loop() called while an asyncio event loop is running in this "
            "thread: the channels in the map are already being served by that loop; "
            "await something (or use compat.run()) instead of calling loop()"
        )
    if timeout is None:
        timeout = 30.0
    elif not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number, not {type(timeout).__name__}")
    if count is not None and not isinstance(count, (int, float)):
        raise TypeError(f"count must be a number or None, not {type(count).__name__}")
    if not map:
        return
    loop = thread_loop()
    server = _server_for(map)
    if server.loop is not loop:
        server.attach(loop)
    else:
        server.thread = threading.get_ident()
        if not isinstance(map, ChannelMap):
            server.reconcile()
    timeout = max(float(timeout), 0.0)
    run = _Run(pass_mode=count is not None)
    server.run = run
    muted = [s for s in list(_attached) if s is not server and s.loop is loop and s.entries and not s.muted]
    for other in muted:
        other.mute()
    try:
        if count is None:
            _run_until_empty(server, loop, timeout)
        else:
            while map and count > 0 and run.exc is None:
                stopper = loop.call_later(timeout, loop.stop)
                try:
                    loop.run_forever()
                finally:
                    stopper.cancel()
                count -= 1
    finally:
        server.run = None
        for other in muted:
            other.unmute()
        if not isinstance(map, ChannelMap):
            server.detach()  # a plain map is served only while loop() runs over it
    if run.exc is not None:
        exc, run.exc = run.exc, None
        raise exc


def _run_until_empty(server: Server, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
    # The heartbeat re-asks overriding predicates at least every `timeout`,
    # as asyncore's pass did, even when no fd and no timer wakes the loop.
    def heartbeat() -> None:
        nonlocal beat
        if not server.hooked:
            server.prepare()
        beat = loop.call_later(timeout or 30.0, heartbeat)

    beat = loop.call_later(timeout or 30.0, heartbeat)
    try:
        while server.map and server.run is not None and server.run.exc is None:
            loop.run_forever()
    finally:
        beat.cancel()


# The one shared map: compat.asyncore.socket_map, and where the core's loops
# put asyncio's servers and transports.
shared_map = ChannelMap()
