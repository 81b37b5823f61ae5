"""TerminatorProtocol frames input exactly as async_chat does, for any chunking.

The reference is compat.asynchat.async_chat and, on Pythons that still ship
it, the standard library's own asynchat (loaded from its file, since the
shims directory shadows the name). Both are fed the same chunks; the calls
to collect_incoming_data / found_terminator must be the same, in order.
"""
import importlib.util
import os
import sysconfig
import warnings
from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compat import aio, asynchat

Call = Tuple[str, Any]


def _stdlib_asynchat() -> Optional[Any]:
    path = os.path.join(sysconfig.get_paths()["stdlib"], "asynchat.py")
    if not os.path.exists(path):
        return None  # removed in 3.12
    spec = importlib.util.spec_from_file_location("_stdlib_asynchat_reference", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


STDLIB = _stdlib_asynchat()


def recorder(base: type) -> type:
    """A subclass of ``base`` logging its framing calls; found_terminator follows a script."""

    class Recorder(base):  # type: ignore[misc,valid-type]
        def setup(self, script: List[Any]) -> None:
            self.log: List[Call] = []
            self.script = list(script)
            self.set_terminator(self.script.pop(0))

        def collect_incoming_data(self, data: bytes) -> None:
            self.log.append(("data", bytes(data)))

        def found_terminator(self) -> None:
            self.log.append(("found", self.get_terminator()))
            if self.script:
                self.set_terminator(self.script.pop(0))

    return Recorder


def feed_chat(base: Any, script: List[Any], chunks: List[bytes]) -> Tuple[List[Call], bytes]:
    class Fed(recorder(base.async_chat)):  # type: ignore[misc]
        def recv(self, size: int) -> bytes:
            return self.pending

    chat = Fed()  # no socket: not in any map
    chat.setup(script)
    for chunk in chunks:
        chat.pending = chunk
        chat.handle_read()
    return chat.log, bytes(chat.ac_in_buffer)


def feed_protocol(script: List[Any], chunks: List[bytes]) -> Tuple[List[Call], bytes]:
    proto = recorder(aio.TerminatorProtocol)()
    proto.setup(script)
    for chunk in chunks:
        proto.data_received(chunk)
    return proto.log, proto.ac_in_buffer


terminators = st.one_of(
    st.sampled_from([b"\r\n", b"\n", b"ab", b"aab", b"abab", b"x", None]),
    st.integers(min_value=0, max_value=7),
)
alphabet = st.binary(min_size=0, max_size=12).map(lambda b: bytes(b"abx\r\n"[c % 5] for c in b))


@settings(max_examples=400, deadline=None)
@given(script=st.lists(terminators, min_size=1, max_size=8), chunks=st.lists(alphabet, max_size=10))
def test_same_calls_as_async_chat(script: List[Any], chunks: List[bytes]) -> None:
    chunks = [c for c in chunks if c]  # a read of b"" means EOF to async_chat
    expected = feed_chat(asynchat, script, chunks)
    assert feed_protocol(script, chunks) == expected
    if STDLIB is not None:
        assert feed_chat(STDLIB, script, chunks) == expected


@pytest.mark.parametrize(
    "term, chunks, calls",
    [
        # A terminator split over three reads is still found once.
        (b"\r\n", [b"ab\r", b"", b"\ncd"], [("data", b"ab"), ("found", b"\r\n"), ("data", b"cd")]),
        # A count spanning reads counts down across them.
        (5, [b"ab", b"cdefg"], [("data", b"ab"), ("data", b"cde"), ("found", 0), ("data", b"fg")]),
        # None: everything is data, nothing is a message end.
        (None, [b"a\r\n", b"b"], [("data", b"a\r\n"), ("data", b"b")]),
    ],
)
def test_known_sequences(term: Any, chunks: List[bytes], calls: List[Call]) -> None:
    proto = recorder(aio.TerminatorProtocol)()
    proto.setup([term])
    for chunk in chunks:
        proto.data_received(chunk)
    assert proto.log == calls


@pytest.mark.parametrize(
    "hay, needle, expected",
    [
        (b"", b"ab", 0),
        (b"xxa", b"ab", 1),
        (b"xaa", b"aab", 2),
        (b"xab", b"aab", 0),  # "ab" ends it, but "ab" does not begin "aab"
        (b"aab", b"aab\r", 3),
        (b"qwerty\r", b"\r\n", 1),
        (b"qwerty", b"\r\n", 0),
        (b"\r\n\r", b"\r\n\r\n", 3),  # a self-overlapping terminator keeps the longest
        (b"a", b"a", 0),  # a proper prefix only: a full match is not a prefix
    ],
)
def test_find_prefix_at_end_known_values(hay: bytes, needle: bytes, expected: int) -> None:
    # One function serves both facades (compat.framing); checked by value.
    assert aio.find_prefix_at_end is asynchat.find_prefix_at_end
    assert asynchat.find_prefix_at_end(hay, needle) == expected
