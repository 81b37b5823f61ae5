"""The one event loop core: asyncore-style channel maps served by asyncio.

A *channel* is any object with the attributes and methods of
:class:`~compat.core.channel.Channel` (what asyncore called a dispatcher); a
*map* is a dict ``{fd: channel}``. A :class:`Server` binds one map to one
asyncio loop and dispatches events to the channels with asyncore's rules.

Design rules (read before changing anything here):

1. The core imports no facade. The facades (``compat.asyncore``,
   ``compat.asynchat``, ``compat.aio``) build on it; nothing here knows them.
2. Every channel event goes through one function,
   :func:`compat.core.dispatch.dispatch_events`: the core's selector calls it
   once per poll, other loops' callbacks once per event. Do not add a second
   path for speed; measure with benchmarks/hot_path.py instead.
3. Interest is cached per fd and changed only when the wanted flags differ
   (mark -> prepare -> apply, in :class:`Server`). Channels with the stock
   predicates are asked only when a facade reports a change
   (:func:`sync_channel`); others before every poll.
4. Unregister an fd before its socket closes: the kernel reuses fd numbers
   at once.
5. The serving thread owns the channels: a call from any other thread is
   handed to it, decided by thread identity in one place
   (:meth:`Server.other_thread_loop`).
6. Whatever is taken from asyncio's private API lives in
   :mod:`compat.core._asyncio`, checked per interpreter by a contract test.
   No event loop policy API on 3.14+.

Modules, bottom up: ``_asyncio`` (asyncio internals), ``channel`` (the
contract, stock predicates), ``dispatch`` (the per-event path), ``server``
(membership, interest, hand-offs), ``channel_map`` (maps, the shared map),
``selector`` (the own loop's poll), ``external`` (map entries for asyncio's
sockets), ``loop`` (the core's loops, a thread's loop), ``serving``
(``asyncore.loop()``).
"""
from compat.core.channel import Channel, ExitNow, REraised, register_stock_predicates, register_stock_read_event
from compat.core.channel_map import (
    ChannelMap,
    handed_to_serving_thread,
    notify_added,
    notify_removed,
    server_for,
    server_of,
    shared_map,
    sync_channel,
)
from compat.core.loop import CoreEventLoop, new_core_loop, new_event_loop, new_uvloop_event_loop, thread_loop
from compat.core.selector import HookedSelector
from compat.core.server import Server
from compat.core.serving import serve

# Public names are documented (and pickled, and printed) as compat.core's.
ChannelMap.__module__ = ExitNow.__module__ = Server.__module__ = __name__

__all__ = [
    "Channel",
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
    "new_uvloop_event_loop",
    "shared_map",
    "register_stock_predicates",
    "register_stock_read_event",
    "CoreEventLoop",
    "HookedSelector",
    "REraised",
    "notify_added",
    "notify_removed",
    "server_for",
]
