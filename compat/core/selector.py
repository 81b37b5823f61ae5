"""The selector of the core's own loop: channels are polled and dispatched
straight from ``select()``, as asyncore's pass did.

Before each poll, the servers attached to this selector ask their changed and
overriding channels (:meth:`Server.prepare`); after it, channel events go to
:func:`compat.core.dispatch.dispatch_events` and asyncio's own events back to
asyncio. With epoll a channel's fd sits in the epoll set directly, with
EPOLLPRI (urgent data, select()'s exceptional set), outside asyncio's keys.
"""
import math
import os
import select
import selectors
from typing import Any, Dict, Optional

from compat.core import _asyncio
from compat.core.dispatch import _EPOLL, _IN, _OUT, _POLL, _PRI, _READ, _WRITE, dispatch_events

__all__ = ["HookedSelector", "selector_class", "SELECTORS"]


class _Hooked:
    """A selectors selector that asks the overriding channels before each poll
    and dispatches channel events itself (mixed into a selector class)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[call-arg]
        self._poller = _asyncio.selector_poller(self)
        # epoll and poll take channel fds directly, with their urgent-data bit
        # (the same bit values in both); other selectors go through the API.
        self._native = type(self._poller) in (_EPOLL, _POLL)
        self._select_api = isinstance(self, selectors.SelectSelector)
        self._keys = _asyncio.selector_keys(self)
        self.servers: list = []
        # fd -> Any of the channels registered here (the rest are asyncio's).
        self.channels: Dict[int, Any] = {}
        # > 0 while channel handlers run from select(): a loop()/poll() called
        # then is a nested pass (serving.serve).
        self.dispatching = 0

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
        self.dispatching += 1
        try:
            others, dispatched = dispatch_events(self._poll(timeout), self.channels, self._keys)
        finally:
            self.dispatching -= 1
        if dispatched:
            for server in self.servers:
                run = server.run
                if run is not None and run.pass_mode:
                    server.loop.stop()
        return others

    def set_channel(self, entry: Any, r: bool, w: bool) -> None:
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
        elif self._native:
            mask = (_IN if r else 0) | (_OUT if w else 0) | _PRI
            if fd in channels:
                try:
                    poller.modify(fd, mask)
                except FileNotFoundError:
                    # Its socket was closed behind the core's back (epoll
                    # forgot it) and the fd number now names a new socket.
                    poller.register(fd, mask)
            else:
                poller.register(fd, mask)
            channels[fd] = entry
        else:
            events = (_READ if r else 0) | (_WRITE if w else 0)
            if fd in channels:
                # Not modify(): the base class's calls self.register, which
                # would take the channel for a stale one.
                super().unregister(fd)  # type: ignore[misc]
            super().register(fd, events, entry)  # type: ignore[misc]
            channels[fd] = entry

    def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
        """asyncio registers one of its fds. If a channel still holds that fd
        number, the channel's socket was closed behind its back and the fd
        reused: the channel goes (handle_close, as poll()'s POLLNVAL did), so
        the new owner's events are not delivered to it (nor spin)."""
        fd = fileobj if type(fileobj) is int else fileobj.fileno()
        entry = self.channels.get(fd)
        if entry is not None:
            try:
                self.drop_channel(fd)
            except OSError:
                pass  # the closed socket took its registration with it
            entry.server.fd_taken(entry)
        return super().register(fileobj, events, data)  # type: ignore[misc]

    def drop_channel(self, fd: int) -> None:
        """Stop polling a channel's fd (before its socket closes)."""
        if self.channels.pop(fd, None) is None:
            return
        poller = self._poller
        if self._native:
            poller.unregister(fd)
        else:
            super().unregister(fd)  # type: ignore[misc]

    def close(self) -> None:
        """Close the selector (the channels' registrations go with it)."""
        self.channels.clear()
        super().close()

    def _poll(self, timeout: Optional[float]) -> Any:
        """``(fd, epoll-style event mask)`` pairs of one poll."""
        poller = self._poller
        if not self._native:
            ready = [
                (key.fd, (_IN if events & _READ else 0) | (_OUT if events & _WRITE else 0))
                for key, events in super().select(timeout)  # type: ignore[misc]
            ]
            if self._select_api and self.channels:
                # select()'s exceptional set: urgent data, as asyncore's pass saw it.
                ready += [(fd, _PRI) for fd in select.select([], [], list(self.channels), 0)[2]]
            return ready
        if type(poller) is _POLL:
            ms = -1 if timeout is None else 0 if timeout <= 0 else math.ceil(timeout * 1e3)
            try:
                return poller.poll(ms)
            except InterruptedError:
                return ()
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




class HookedSelector(_Hooked, selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's default selector (epoll on Linux), hooked."""


# What COMPAT_SELECTOR may name: the selectors this platform has.
SELECTORS: Dict[str, type] = {
    name: getattr(selectors, cls)
    for name, cls in (("epoll", "EpollSelector"), ("kqueue", "KqueueSelector"), ("devpoll", "DevpollSelector"),
                      ("poll", "PollSelector"), ("select", "SelectSelector"))
    if hasattr(selectors, cls)
}
_classes: Dict[type, type] = {selectors.DefaultSelector: HookedSelector}


def selector_class() -> type:
    """The hooked selector class for the core's loops: the platform's default,
    or the one the ``COMPAT_SELECTOR`` environment variable names (``select``,
    ``poll``, ``epoll``, ``kqueue``, ``devpoll``) where the default is not
    wanted or not usable."""
    name = os.environ.get("COMPAT_SELECTOR", "").strip().lower()
    if not name:
        return HookedSelector
    base = SELECTORS.get(name)
    if base is None:
        raise ValueError(
            f"COMPAT_SELECTOR={name!r}: this platform has {', '.join(sorted(SELECTORS))}"
        )
    cls = _classes.get(base)
    if cls is None:
        cls = _classes[base] = type(f"Hooked{base.__name__}", (_Hooked, base), {"__module__": __name__})
    return cls
