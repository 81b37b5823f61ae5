"""asynchat's framing (terminators) and producers, for asyncio protocols.

:class:`TerminatorProtocol` splits incoming bytes with the very framing
code of ``async_chat`` (compat/framing.py): the same
``collect_incoming_data`` / ``found_terminator`` calls for the same chunks,
with bytes, int and None terminators, so a legacy channel's parsing code can
move into an asyncio protocol unchanged.
"""
import asyncio
from collections import deque
from typing import Any, Deque, Optional, Union

from compat.framing import Terminator, TerminatorFraming, find_prefix_at_end

__all__ = ["TerminatorProtocol", "find_prefix_at_end"]

_BUFFERS = (bytes, bytearray, memoryview)


class TerminatorProtocol(TerminatorFraming, asyncio.Protocol):
    """An asyncio Protocol with ``async_chat``'s terminator framing and output API.

    Subclasses override :meth:`found_terminator` (and, to keep data
    elsewhere, :meth:`collect_incoming_data`), call :meth:`set_terminator`,
    and answer with :meth:`push`, :meth:`push_with_producer` and
    :meth:`close_when_done`.
    """

    def __init__(self) -> None:
        self._init_framing()
        self.transport: Optional[asyncio.Transport] = None
        self.terminator: Terminator = None
        self._producers: Deque[Any] = deque()
        self._paused = False
        self._closing = False

    #: By default the pieces of a message are kept for :meth:`_get_data`.
    collect_incoming_data = TerminatorFraming._collect_incoming_data

    def data_received(self, data: bytes) -> None:
        """Frame ``data``: collect pieces and call found_terminator per message."""
        self._ac_feed(data)

    def handle_buffer_overflow(self) -> None:
        """A message outgrew ``ac_max_buffer_size``: drop the input and close."""
        del self.incoming[:]
        self._producers.clear()
        if self.transport is not None:
            self.transport.close()

    # -- output --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport for push()."""
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        """Drop queued producers; the connection is gone."""
        self._producers.clear()

    def push(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Send ``data`` after whatever is queued before it."""
        if not isinstance(data, _BUFFERS):
            raise TypeError(f"data argument must be bytes-like, not {type(data).__name__}")
        if self._producers:
            self._producers.append(_Bytes(bytes(data)))
            return
        self._transport().write(data)

    def push_with_producer(self, producer: Any) -> None:
        """Send what ``producer.more()`` yields until it returns b'' (with flow control)."""
        if not callable(getattr(producer, "more", None)):
            raise TypeError(f"a producer needs a more() method; got {type(producer).__name__}")
        self._producers.append(producer)
        self._pump()

    def close_when_done(self) -> None:
        """Close the connection once everything queued has been sent."""
        self._closing = True
        self._pump()

    def pause_writing(self) -> None:
        """The transport's buffer is full: stop pulling from producers."""
        self._paused = True

    def resume_writing(self) -> None:
        """The transport's buffer drained: go on with the producers."""
        self._paused = False
        self._pump()

    def _transport(self) -> asyncio.Transport:
        if self.transport is None:
            raise RuntimeError("not connected: push() before connection_made()")
        return self.transport

    def _pump(self) -> None:
        transport = self._transport()
        while self._producers and not self._paused and not transport.is_closing():
            data = self._producers[0].more()
            if not data:
                self._producers.popleft()
                continue
            transport.write(data)
        if self._closing and not self._producers and not transport.is_closing():
            transport.close()  # flushes what the transport holds first


class _Bytes:
    """Bytes pushed behind a producer, as a one-shot producer."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def more(self) -> bytes:
        data, self.data = self.data, b""
        return data
