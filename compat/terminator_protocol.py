"""asynchat's framing (terminators) and producers, for asyncio protocols.

:class:`TerminatorProtocol` splits incoming bytes exactly as ``async_chat``
does: the same ``collect_incoming_data`` / ``found_terminator`` calls for the
same chunks, with bytes, int and None terminators, so a legacy channel's
parsing code can move into an asyncio protocol unchanged.
"""
import asyncio
from collections import deque
from typing import Any, Deque, List, Optional, Union

__all__ = ["TerminatorProtocol", "find_prefix_at_end"]

Terminator = Union[bytes, int, None]
_BUFFERS = (bytes, bytearray, memoryview)


def find_prefix_at_end(haystack: bytes, needle: bytes) -> int:
    """Length of the longest proper prefix of ``needle`` that ``haystack`` ends with."""
    for size in range(min(len(needle) - 1, len(haystack)), 0, -1):
        if haystack.endswith(needle[:size]):
            return size
    return 0


class TerminatorProtocol(asyncio.Protocol):
    """An asyncio Protocol with ``async_chat``'s terminator framing and output API.

    Subclasses override :meth:`found_terminator` (and, to keep data
    elsewhere, :meth:`collect_incoming_data`), call :meth:`set_terminator`,
    and answer with :meth:`push`, :meth:`push_with_producer` and
    :meth:`close_when_done`.
    """

    use_encoding = False
    encoding = "latin-1"

    def __init__(self) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.terminator: Terminator = None
        self.ac_in_buffer = b""
        self.incoming: List[bytes] = []
        self._producers: Deque[Any] = deque()
        self._paused = False
        self._closing = False

    # -- terminators ---------------------------------------------------------

    def set_terminator(self, term: Union[Terminator, str]) -> None:
        """Set what ends a message: bytes, a byte count, or None (no framing)."""
        if isinstance(term, str):
            if not self.use_encoding:
                raise TypeError("a str terminator needs use_encoding = True; pass bytes")
            term = term.encode(self.encoding)
        elif isinstance(term, (bytearray, memoryview)):
            term = bytes(term)
        elif isinstance(term, bool) or not isinstance(term, (bytes, int, type(None))):
            raise TypeError(f"terminator must be bytes, int or None, not {type(term).__name__}")
        elif isinstance(term, int) and term < 0:
            raise ValueError("the number of received bytes must be positive")
        self.terminator = term

    def get_terminator(self) -> Terminator:
        """The current terminator."""
        return self.terminator

    def collect_incoming_data(self, data: bytes) -> None:
        """Keep a piece of the message being received (default: in a list)."""
        self.incoming.append(data)

    def _get_data(self) -> bytes:
        """The message collected so far, emptying the collection."""
        data = b"".join(self.incoming)
        self.incoming = []
        return data

    def found_terminator(self) -> None:
        """A message is complete; override."""
        raise NotImplementedError("TerminatorProtocol subclasses must define found_terminator()")

    # -- input ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Frame ``data``: collect pieces and call found_terminator per message."""
        # ac_in_buffer is the state between calls and also the cursor here:
        # found_terminator() may read or replace it, as with async_chat.
        self.ac_in_buffer += data
        while self.ac_in_buffer:
            term = self.get_terminator()
            if not term:
                self._take_all()
            elif isinstance(term, int):
                if not self._take_count(term):
                    return
            elif not self._take_until(term):
                return

    def _take_all(self) -> None:
        self.collect_incoming_data(self.ac_in_buffer)
        self.ac_in_buffer = b""

    def _take_count(self, count: int) -> bool:
        """Consume up to ``count`` bytes; False when the buffer ran out first."""
        have = len(self.ac_in_buffer)
        if have < count:
            self._take_all()
            # The rest of the message is still to come: it counts down.
            self.terminator = self.terminator - have  # type: ignore[operator]
            return False
        self.collect_incoming_data(self.ac_in_buffer[:count])
        self.ac_in_buffer = self.ac_in_buffer[count:]
        self.terminator = 0
        self.found_terminator()
        return True

    def _take_until(self, term: bytes) -> bool:
        """Consume through ``term``; False when no whole terminator is buffered."""
        buf = self.ac_in_buffer
        at = buf.find(term)
        if at >= 0:
            if at:
                self.collect_incoming_data(buf[:at])
            self.ac_in_buffer = buf[at + len(term):]
            self.found_terminator()
            return True
        # A terminator may be split across reads: hold back a matching tail.
        tail = find_prefix_at_end(buf, term)
        if tail:
            if tail != len(buf):
                self.collect_incoming_data(buf[:-tail])
                self.ac_in_buffer = buf[-tail:]
            return False
        self._take_all()
        return False

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
