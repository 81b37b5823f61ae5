"""asynchat's input framing, shared by ``async_chat`` and ``TerminatorProtocol``.

:class:`TerminatorFraming` splits incoming bytes by a terminator (bytes, an
int count, or None) into ``collect_incoming_data`` / ``found_terminator``
calls, in the same sequence as CPython 3.11's asynchat for any chunking.
Input is scanned with an offset instead of re-slicing the buffer after every
terminator, so a read carrying many records costs O(size). The class holds
no I/O: its users feed it with :meth:`TerminatorFraming._ac_feed`.
"""
from typing import Any, List, Optional, Union

__all__ = ["TerminatorFraming", "find_prefix_at_end"]

Terminator = Union[bytes, int, None]


class TerminatorFraming:
    """Terminator framing state and callbacks (a mixin; no I/O)."""

    #: Opt-in bound, in bytes, on one record still waiting for its bytes
    #: terminator (the data since the last ``found_terminator()``). A record
    #: that exceeds it calls ``handle_buffer_overflow()``. None (the
    #: default, as in 3.11) means unbounded. Int and None terminators are
    #: not bounded: their length is the application's own choice.
    ac_max_buffer_size: Optional[int] = None

    # Off by default: text on a byte stream is usually an application bug.
    use_encoding = 0
    encoding = "latin-1"

    def _init_framing(self) -> None:
        # Unconsumed input is _ac_in[_ac_pos:]; see the ac_in_buffer property.
        self._ac_in = b""
        self._ac_pos = 0
        # Bytes of the current record already handed to collect_incoming_data.
        self._ac_pending = 0
        self.incoming: List[bytes] = []

    @property
    def ac_in_buffer(self) -> bytes:
        """Received input not yet handed to ``collect_incoming_data``."""
        pos = self._ac_pos
        if pos:
            # Materialize once: legacy code may read it repeatedly.
            self._ac_in = self._ac_in[pos:]
            self._ac_pos = 0
        return self._ac_in

    @ac_in_buffer.setter
    def ac_in_buffer(self, value: bytes) -> None:
        self._ac_in = value
        self._ac_pos = 0

    # -- input ----------------------------------------------------------------

    def collect_incoming_data(self, data: bytes) -> None:
        """Receive a piece of the current record; override."""
        raise NotImplementedError("must be implemented in subclass")

    def _collect_incoming_data(self, data: bytes) -> None:
        """A ready-made collector: appends ``data`` to ``self.incoming``."""
        self.incoming.append(data)

    def _get_data(self) -> bytes:
        """Join and empty what ``_collect_incoming_data`` gathered."""
        data = b"".join(self.incoming)
        del self.incoming[:]
        return data

    def found_terminator(self) -> None:
        """The current record is complete; override."""
        raise NotImplementedError("must be implemented in subclass")

    def set_terminator(self, term: Union[Terminator, str]) -> None:
        """Set the input framing.

        ``term`` is a bytes delimiter of any length, an int (a count of bytes
        to collect), or None (collect everything); a str only with
        ``use_encoding`` set (encoded with ``encoding``).
        """
        if isinstance(term, str):
            if not self.use_encoding:
                raise TypeError(
                    "terminator must be bytes, an int or None, not str "
                    "(set use_encoding = 1 on the class to use str terminators)"
                )
            term = term.encode(self.encoding)
        elif isinstance(term, int):
            if term < 0:
                raise ValueError("the number of received bytes must be positive")
        elif isinstance(term, (bytearray, memoryview)):
            term = bytes(term)
        elif term is not None and not isinstance(term, bytes):
            raise TypeError("terminator must be bytes, an int or None, not %s" % type(term).__name__)
        self.terminator = term

    def get_terminator(self) -> Terminator:
        """The current terminator."""
        try:
            return self.terminator
        except AttributeError:
            raise AttributeError(
                "%s has no terminator: call set_terminator() before data arrives" % type(self).__name__
            ) from None

    def _ac_feed(self, data: bytes) -> None:
        """Frame ``data`` (appended to the unconsumed input): 3.11's callbacks.

        The visible ``ac_in_buffer`` is kept exact whenever user code runs,
        and re-read after it, since callbacks may change it or the terminator.
        """
        buf = self._ac_in
        pos = self._ac_pos
        if pos < len(buf):
            buf = (buf[pos:] if pos else buf) + data
        else:
            buf = data
        pos = 0
        self._ac_in = buf
        self._ac_pos = 0
        end = len(buf)
        bound = self.ac_max_buffer_size
        # get_terminator() is asked once per step, as in 3.11, unless it is
        # the stock one (then the attribute is read directly: same answer).
        stock_getter = type(self).get_terminator is _stock_get_terminator
        while pos < end:
            if stock_getter:
                try:
                    term = self.terminator  # an attribute load: cheaper than getattr()
                except AttributeError:
                    term = self.get_terminator()  # raises the explanation
            else:
                term = self.get_terminator()
            if not term:
                # No framing: hand over everything.
                self._ac_pending = 0
                self.collect_incoming_data(buf[pos:] if pos else buf)
                self._ac_in = b""
                self._ac_pos = 0
                return
            if isinstance(term, int):
                self._ac_pending = 0
                size = end - pos
                if size < term:
                    self.collect_incoming_data(buf[pos:] if pos else buf)
                    self._ac_in = b""
                    self._ac_pos = 0
                    self.terminator = self.terminator - size
                    return
                self.collect_incoming_data(buf[pos : pos + term])
                if self._ac_in is buf and self._ac_pos == pos:
                    self._ac_pos = pos + term
                else:
                    self._ac_consumed(term)
                self.terminator = 0
                self.found_terminator()
                buf, pos = self._ac_in, self._ac_pos
                end = len(buf)
                continue
            index = buf.find(term, pos)
            if index != -1:
                if bound is not None and self._ac_pending + index - pos > bound:
                    self._ac_overflow()
                    return
                self._ac_pending = 0
                if index > pos:
                    # Empty pieces are not reported (as in 3.11).
                    self.collect_incoming_data(buf[pos:index])
                    if self._ac_in is buf and self._ac_pos == pos:
                        self._ac_pos = index + len(term)
                    else:
                        self._ac_consumed(index - pos + len(term))
                else:
                    self._ac_pos = index + len(term)
                self.found_terminator()
                buf, pos = self._ac_in, self._ac_pos
                end = len(buf)
                continue
            # Not found: keep back a tail that may begin the terminator.
            held = _prefix_at_end(buf, term, pos)
            size = end - pos - held
            if bound is not None and self._ac_pending + size > bound:
                self._ac_overflow()
                return
            if not size:
                return  # everything left may be the start of the terminator
            self._ac_pending += size
            self.collect_incoming_data(buf[pos : pos + size] if held or pos else buf)
            if held:
                if self._ac_in is buf and self._ac_pos == pos:
                    self._ac_pos = end - held
                else:
                    # The callback replaced the buffer: 3.11 keeps its tail.
                    visible = self.ac_in_buffer
                    self._ac_in = visible[-held:]
                    self._ac_pos = 0
            else:
                self._ac_in = b""
                self._ac_pos = 0
            return

    def _ac_consumed(self, count: int) -> None:
        """Drop ``count`` bytes of the visible input, which a callback changed."""
        # collect_incoming_data replaced or read ac_in_buffer: 3.11 slices
        # whatever is visible now.
        visible = self.ac_in_buffer
        self._ac_in = visible[count:]
        self._ac_pos = 0

    def _ac_overflow(self) -> None:
        self._ac_in = b""
        self._ac_pos = 0
        self._ac_pending = 0
        self.handle_buffer_overflow()

    def handle_buffer_overflow(self) -> None:
        """A record outgrew ``ac_max_buffer_size``; the users define what follows."""
        raise NotImplementedError("must be implemented in subclass")


def find_prefix_at_end(haystack: Any, needle: Any) -> int:
    """Length of the longest proper prefix of ``needle`` that ends ``haystack``.

    E.g. 1 for ("qwerty\\r", "\\r\\n"), 0 for ("qwerty", "\\r\\n"). Assumes
    ``needle`` itself does not occur at the end (that is a full match).
    """
    return _prefix_at_end(haystack, needle, 0)


def _prefix_at_end(haystack: Any, needle: Any, start: int) -> int:
    # Longest first: a self-overlapping terminator (b"\r\n\r\n") must keep
    # back as much as can still complete it.
    size = min(len(needle) - 1, len(haystack) - start)
    while size > 0:
        if haystack.endswith(needle[:size], start):
            return size
        size -= 1
    return 0


_stock_get_terminator = TerminatorFraming.get_terminator
