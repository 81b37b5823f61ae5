"""Facade 2: the asynchat API of CPython 3.11, served by compat's core.

``async_chat`` frames its input by a terminator (bytes, an int count, or
None) and queues its output in a FIFO of bytes-like objects and producers.
The callbacks (``collect_incoming_data``/``found_terminator``) come in the
same sequence as 3.11 for every way the input can be chunked by ``recv()``.

What differs is underneath:

* Writer interest is event-driven. The core asks an ``async_chat`` its
  predicates only after its own events and when its output queue goes from
  empty to non-empty or back (``push``, ``push_with_producer``,
  ``close_when_done``, ``discard_buffers``, ``initiate_send``, or an append
  straight to ``producer_fifo``), so an idle channel costs nothing per pass.
* ``push()``, ``push_with_producer()``, ``close_when_done()``,
  ``initiate_send()`` and ``discard_buffers()`` called from another thread
  than the one running ``loop()`` are handed to that thread in order (its
  loop wakes at once; 3.11 raced on the queue and waited up to ``timeout``).
* A peer that half-closes while output is queued still gets that output;
  ``handle_close()`` follows once it is sent (3.11 closed at once and lost
  it), as for the asyncore facade's ``dispatcher_with_send``.
* Input framing (compat/framing.py, shared with ``compat.aio``'s
  ``TerminatorProtocol``) scans with an offset instead of re-slicing the
  buffer after every terminator, so a ``recv()`` carrying many records costs O(size).
* ``ac_max_buffer_size`` (opt-in, default unbounded as in 3.11) bounds a
  record waiting for its bytes terminator; see :meth:`async_chat.handle_buffer_overflow`.
"""
import socket
import weakref
from collections import deque
from threading import get_ident as _get_ident
from typing import Any, Iterable, MutableMapping, Optional, Protocol, Union

from compat import asyncore, core
from compat.framing import TerminatorFraming, find_prefix_at_end

# Whose map a channel is in decides whether a call may run here (see core.handed_to_serving_thread).
_ChannelMap = core.ChannelMap

__all__ = ["async_chat", "simple_producer", "find_prefix_at_end"]

BytesLike = Union[bytes, bytearray, memoryview]

_append = deque.append
_appendleft = deque.appendleft
_popleft = deque.popleft


def _is_producer(item: Any) -> bool:
    """Whether a queue entry is a producer: 3.11 tried slicing it first."""
    if not hasattr(type(item), "__getitem__"):
        return True  # slicing would raise TypeError: no need to try
    try:
        item[:0]
    except TypeError:
        return True
    return False


class Producer(Protocol):
    """What ``push_with_producer`` takes: ``more()`` returns b'' when exhausted."""

    def more(self) -> bytes:  # pragma: no cover - protocol
        ...


class _ProducerFifo(deque):
    """The output queue: reports empty <-> non-empty changes to its channel.

    ``async_chat`` itself goes around these overrides (it reports its own
    changes once per call); they are for legacy code that appends to or
    pops from ``producer_fifo`` directly.
    """

    __slots__ = ("_owner",)

    def __init__(self, iterable: Iterable[Any] = (), maxlen: Optional[int] = None) -> None:
        super().__init__(iterable, maxlen)
        # A weak reference: a strong one would make a cycle and keep the
        # channel's socket open until the garbage collector runs.
        self._owner: Optional["weakref.ReferenceType[async_chat]"] = None

    def _changed(self, was_empty: bool) -> None:
        if was_empty != (not self) and self._owner is not None:
            owner = self._owner()
            if owner is not None:
                owner._sync_interest()

    def append(self, item: Any) -> None:
        """Append ``item`` at the end (the writer is registered if it was empty)."""
        was = not self
        _append(self, item)
        if was:
            self._changed(True)

    def appendleft(self, item: Any) -> None:
        """Insert ``item`` at the front."""
        was = not self
        _appendleft(self, item)
        if was:
            self._changed(True)

    def extend(self, items: Iterable[Any]) -> None:
        """Append every item of ``items``."""
        was = not self
        deque.extend(self, items)
        self._changed(was)

    def extendleft(self, items: Iterable[Any]) -> None:
        """Insert every item of ``items`` at the front, in reverse order."""
        was = not self
        deque.extendleft(self, items)
        self._changed(was)

    def insert(self, index: int, item: Any) -> None:
        """Insert ``item`` before ``index``."""
        was = not self
        deque.insert(self, index, item)
        self._changed(was)

    def __iadd__(self, items: Iterable[Any]) -> "_ProducerFifo":
        self.extend(items)
        return self

    def pop(self) -> Any:
        """Remove and return the last item."""
        item = deque.pop(self)
        if not self:
            self._changed(False)
        return item

    def popleft(self) -> Any:
        """Remove and return the first item."""
        item = _popleft(self)
        if not self:
            self._changed(False)
        return item

    def remove(self, value: Any) -> None:
        """Remove the first occurrence of ``value``."""
        deque.remove(self, value)
        if not self:
            self._changed(False)

    def clear(self) -> None:
        """Remove every item."""
        was = not self
        deque.clear(self)
        self._changed(was)

    def __delitem__(self, index: Any) -> None:
        deque.__delitem__(self, index)
        if not self:
            self._changed(False)


class async_chat(TerminatorFraming, asyncore.dispatcher):
    """A channel for command/response protocols: framed input, queued output.

    Subclasses implement :meth:`collect_incoming_data` and
    :meth:`found_terminator`, and set the input framing with
    :meth:`set_terminator`.
    """

    #: Bytes asked of each ``recv()``.
    ac_in_buffer_size = 65536
    #: Largest slice handed to one ``send()``; larger pushes are split.
    ac_out_buffer_size = 65536
    def __init__(self, sock: Optional[socket.socket] = None, map: Optional[MutableMapping[int, Any]] = None) -> None:
        self._init_framing()
        # Before dispatcher.__init__: registering the socket asks writable().
        self._fifo = self._new_fifo(())
        asyncore.dispatcher.__init__(self, sock, map)

    # -- state the core and legacy code look at ---------------------------------

    def _new_fifo(self, items: Iterable[Any]) -> _ProducerFifo:
        fifo = _ProducerFifo(items)
        fifo._owner = weakref.ref(self)
        return fifo

    @property
    def producer_fifo(self) -> "deque[Any]":
        """The output queue: bytes-like objects, producers, and None (close)."""
        return self._fifo

    @producer_fifo.setter
    def producer_fifo(self, value: Any) -> None:
        # Legacy code replaces the queue (`self.producer_fifo = deque()`): keep
        # it reporting changes by adopting a plain deque's items.
        if type(value) is deque:
            value = self._new_fifo(value)
        if "_map" not in self.__dict__:
            self._fifo = value  # before __init__ ran: nothing registered yet
            return
        was = self._stock_writable()
        self._fifo = value
        self._report(was)

    def _stock_writable(self) -> bool:
        return bool(self._fifo) or not self.connected

    def _report(self, was: bool) -> None:
        """Tell the core if writability changed since it was ``was``."""
        if self._stock_writable() != was:
            self._sync_interest()

    def handle_read(self) -> None:
        """Read what the socket has and feed it through the framing."""
        try:
            data = self.recv(self.ac_in_buffer_size)
        except BlockingIOError:
            return
        except OSError:
            self.handle_error()
            return
        if type(data) is not bytes:
            if isinstance(data, str) and self.use_encoding:
                data = data.encode(self.encoding)
            else:
                data = bytes(data)
        self._ac_feed(data)

    def handle_buffer_overflow(self) -> None:
        """A record outgrew ``ac_max_buffer_size`` before its terminator came.

        Called with the record's unconsumed input already dropped; the rest of
        the current ``recv()`` is not framed. The default logs an error,
        discards both buffers and calls ``handle_close()``. Override to answer
        the peer first (e.g. ``push()`` an error then ``close_when_done()``) or
        to keep the channel open; framing then resumes with the next read, as
        if a new record began.
        """
        self.log_info(
            "input record exceeds ac_max_buffer_size=%r bytes without terminator %r; closing %r"
            % (self.ac_max_buffer_size, getattr(self, "terminator", None), self),
            "error",
        )
        self.discard_buffers()
        self.handle_close()

    # -- output ---------------------------------------------------------------

    def handle_write(self) -> None:
        """The socket can take data: send from the queue."""
        self.initiate_send()

    def handle_close(self) -> None:
        """The peer closed: close the channel."""
        self.close()

    def push(self, data: BytesLike) -> None:
        """Queue bytes-like ``data`` and send what the socket takes now.

        The object is queued as is (as in 3.11): do not mutate a pushed
        bytearray before it is sent.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                "push() takes a bytes-like object (bytes, bytearray, memoryview), not %s"
                % type(data).__name__
            )
        m = self._map
        # The serving thread goes on at once; any other is handed over
        # (core.handed_to_serving_thread decides by thread identity too).
        if (m.__class__ is not _ChannelMap or m.server.thread != _get_ident()) and core.handed_to_serving_thread(
            m, self.push, data
        ):
            return
        fifo = self._fifo
        was = bool(fifo) or not self.connected
        # Our own queue is appended to around its notifying override: the
        # change is reported once, after the first send attempt.
        append = _append if type(fifo) is _ProducerFifo else type(fifo).append
        size = self.ac_out_buffer_size
        if len(data) > size:
            for start in range(0, len(data), size):
                append(fifo, data[start : start + size])
        else:
            append(fifo, data)
        self._send_and_report(was)

    def push_with_producer(self, producer: Union[Producer, BytesLike]) -> None:
        """Queue a producer (its ``more()`` gives data until b'') and start sending."""
        m = self._map
        # The serving thread goes on at once; any other is handed over
        # (core.handed_to_serving_thread decides by thread identity too).
        if (m.__class__ is not _ChannelMap or m.server.thread != _get_ident()) and core.handed_to_serving_thread(
            m, self.push_with_producer, producer
        ):
            return
        fifo = self._fifo
        was = bool(fifo) or not self.connected
        if type(fifo) is _ProducerFifo:
            _append(fifo, producer)
        else:
            fifo.append(producer)
        self._send_and_report(was)

    def readable(self) -> bool:
        """Always True: input is framed however much of it arrives."""
        return True

    def writable(self) -> bool:
        """True while the queue holds something, or the connect is pending."""
        return bool(self._fifo) or not self.connected

    def close_when_done(self) -> None:
        """Close the channel once everything queued before now is sent."""
        if core.handed_to_serving_thread(self._map, self.close_when_done):
            return
        was = self._stock_writable()
        fifo = self._fifo
        if type(fifo) is _ProducerFifo:
            _append(fifo, None)
        else:
            fifo.append(None)
        self._report(was)

    def initiate_send(self) -> None:
        """Send from the head of the queue once, as much as the socket takes."""
        m = self._map
        # The serving thread goes on at once; any other is handed over
        # (core.handed_to_serving_thread decides by thread identity too).
        if (m.__class__ is not _ChannelMap or m.server.thread != _get_ident()) and core.handed_to_serving_thread(
            m, self.initiate_send
        ):
            return
        was = self._stock_writable()
        self._send_and_report(was)

    def _output_pending(self) -> bool:
        # The peer half-closed: the facade keeps the channel open until this
        # queue is flushed (3.11 closed at once and lost it).
        return bool(self._fifo)

    def _send_and_report(self, was: bool) -> None:
        """3.11's initiate_send (at most one send() from the head of the
        queue), then tell the core if writability is no longer ``was``."""
        fifo = self._fifo
        own = type(fifo) is _ProducerFifo
        while fifo and self.connected:
            first = fifo[0]
            if not first:
                # An empty piece is dropped; None means close now.
                if own:
                    _popleft(fifo)
                else:
                    del fifo[0]
                if first is None:
                    self.handle_close()
                    break
                continue
            size = self.ac_out_buffer_size
            kind = type(first)
            if kind is bytes or kind is bytearray or kind is memoryview:
                data = first[:size]
            elif kind is simple_producer or _is_producer(first):
                # A producer: queue what it gives in front of it.
                data = first.more()
                if not data:
                    if own:
                        _popleft(fifo)
                    else:
                        del fifo[0]
                elif kind is simple_producer and not first.data:
                    # Its last piece: 3.11 would keep it queued for one more
                    # write event only to hear b''. Its more() has no other
                    # effect, so that round trip is skipped.
                    fifo[0] = data
                elif own:
                    _appendleft(fifo, data)
                else:
                    fifo.appendleft(data)
                continue
            else:
                data = first[:size]  # a str (use_encoding) or other sliceable
                if isinstance(data, str):
                    if not self.use_encoding:
                        raise TypeError(
                            "cannot send str %r from the output queue: push bytes, or set use_encoding"
                            % (data[:40],)
                        )
                    data = data.encode(self.encoding)
            try:
                sent = self.send(data)
            except OSError:
                self.handle_error()
                break
            if sent:
                if sent < len(data) or size < len(first):
                    fifo[0] = first[sent:]
                elif own:
                    _popleft(fifo)
                else:
                    del fifo[0]
            # One send per call: the socket said what it takes.
            break
        fifo = self._fifo
        if self.eof_received and not fifo:
            self._flushed_after_eof()
        elif (bool(fifo) or not self.connected) != was:
            self._sync_interest()

    def discard_buffers(self) -> None:
        """Drop all buffered input and queued output (emergencies only)."""
        if core.handed_to_serving_thread(self._map, self.discard_buffers):
            return
        was = self._stock_writable()
        self._ac_in = b""
        self._ac_pos = 0
        self._ac_pending = 0
        del self.incoming[:]
        fifo = self._fifo
        if type(fifo) is _ProducerFifo:
            deque.clear(fifo)
        else:
            fifo.clear()
        self._report(was)


class simple_producer:
    """A producer over a bytes object, handing it out ``buffer_size`` at a time."""

    def __init__(self, data: BytesLike, buffer_size: int = 512) -> None:
        if not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError("buffer_size must be a positive int, not %r" % (buffer_size,))
        self.data = data
        self.buffer_size = buffer_size

    def more(self) -> BytesLike:
        """The next piece of at most ``buffer_size`` bytes; b'' at the end."""
        data = self.data
        if len(data) > self.buffer_size:
            self.data = data[self.buffer_size :]
            return data[: self.buffer_size]
        self.data = b""
        return data


# Their repr and pickling name the module legacy code imported them from.
async_chat.__module__ = simple_producer.__module__ = "asynchat"

core.register_stock_predicates(async_chat.readable, async_chat.writable)
