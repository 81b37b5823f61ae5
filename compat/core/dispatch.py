"""The per-event path: every channel event goes through :func:`dispatch_events`.

On the core's own loop the selector calls it once per poll with the whole
poll result; on other loops each ``add_reader``/``add_writer`` callback calls
it with one event. Events are delivered with asyncore's rules: read, then
write, then urgent data (poll2's ``readwrite()``); a read handler that closed
its channel gets no write event; an exception goes to the channel's
``handle_error`` unless it is one that leaves ``loop()``.
"""
import select
import selectors
import socket
from typing import Any, Dict, Iterable, List, Tuple

__all__ = ["dispatch_events"]

_PlainSocket = socket.socket
# epoll's bits where there is epoll; the same values stand in elsewhere.
_IN = getattr(select, "EPOLLIN", 1)
_OUT = getattr(select, "EPOLLOUT", 4)
_NOT_IN = ~_IN
_NOT_OUT = ~_OUT
_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_EPOLL = getattr(select, "epoll", None)
# The type of select.poll() objects (select.poll itself is a function).
_POLL = type(select.poll()) if hasattr(select, "poll") else None
_PRI = getattr(select, "EPOLLPRI", 0) or getattr(select, "POLLPRI", 0)
# Hang-up, error, and poll()'s invalid fd (a socket closed behind our back).
_HUP = getattr(select, "EPOLLHUP", 0) | getattr(select, "EPOLLERR", 0) | getattr(select, "POLLNVAL", 0)
_ET = getattr(select, "EPOLLET", 0)
# Errors and hang-ups wake both directions (as selectors does); OOB data
# (EPOLLPRI) goes to handle_expt_event only.
_READ_BITS = _IN | _HUP
_WRITE_BITS = _OUT | _HUP




def dispatch_events(polled: Iterable[Tuple[int, int]], channels: Dict[int, Any], keys: Dict[int, Any]) -> Tuple[List[Any], bool]:
    """Deliver ``(fd, epoll mask)`` events to the channel entries in ``channels``.

    Events of fds that are not channels are returned as ``(key, events)`` for
    asyncio (``keys`` maps fds to its selector keys), with whether any channel
    event was delivered. Stops early when ``loop()`` is leaving (the poll is
    level-triggered: what was not delivered is reported again).
    """
    others = []
    dispatched = False
    for fd, event in polled:
        entry = channels.get(fd)
        if entry is None:
            key = keys.get(fd)
            if key is not None:  # else: unregistered earlier in this pass
                # Errors and hang-ups wake both directions, as selectors does.
                events = (event & _NOT_IN and _WRITE) | (event & _NOT_OUT and _READ)
                others.append((key, events & key.events))
            continue
        server = entry.server
        run = server.run
        if run is not None and run.exc is not None:
            break
        dispatched = True
        if event & _READ_BITS and entry.r:
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
            # No predicate re-read: stock channels report their changes and
            # overriding ones are asked before every poll. TLS may hold
            # decrypted bytes the fd will not poll readable for.
            if entry.live:
                if not entry.reads:
                    server.after_read(entry)  # not a stock dispatcher: may lack .socket
                elif type(obj.socket) is not _PlainSocket:
                    server.read_pending(entry)
        if event == _IN:
            continue  # the common case ends here
        if event & _WRITE_BITS and entry.w and entry.live:
            server.call(entry, "handle_write_event")
        if event & _PRI and entry.live:
            server.call(entry, "handle_expt_event")
        if run is not None and run.exc is not None:
            break
    return others, dispatched
