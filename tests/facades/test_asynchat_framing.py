"""async_chat input framing: the callbacks do not depend on how recv() chunks.

Each property feeds a random stream through ``handle_read()`` (``recv`` is
overridden to return the next chunk, no sockets) once unchunked and once in
random chunks, and compares the records delivered by
``collect_incoming_data``/``found_terminator``. Where CPython's 3.11
asynchat.py is installed on this machine, the exact call sequence (chunk
boundaries, visible ``ac_in_buffer``, terminator countdown) is also compared
with it, chunk for chunk.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from typing import Any, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compat import asynchat

# Per interpreter on every run; raise it for a deeper search (e.g. 20000).
EXAMPLES = int(os.environ.get("COMPAT_HYPOTHESIS_EXAMPLES", "400"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ALPHABET = b"ab\r\n"
# Terminators that are prefixes/suffixes of themselves are the hard cases.
SELF_OVERLAPPING = [b"\r\n\r\n", b"\r\n\r", b"aa", b"aaa", b"aaaa", b"abab", b"aba", b"\n\n"]

byte_terminators = st.one_of(
    st.sampled_from(SELF_OVERLAPPING),
    st.lists(st.sampled_from(list(ALPHABET)), min_size=1, max_size=4).map(bytes),
)
int_terminators = st.integers(min_value=0, max_value=12)
any_terminator = st.one_of(byte_terminators, int_terminators, st.none())


def streams(max_size: int = 120) -> st.SearchStrategy[bytes]:
    """Streams from a small alphabet, so that terminators occur often."""
    return st.lists(st.sampled_from(list(ALPHABET) + [ord("x")]), max_size=max_size).map(bytes)


def chunkings(data: st.DataObject, stream: bytes) -> List[bytes]:
    """Split ``stream`` at random points (empty chunks excluded: b'' is EOF)."""
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=len(stream)))))
    cuts = [c for c in cuts if 0 < c < len(stream)]
    bounds = [0] + cuts + [len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def _python311_asynchat() -> str:
    """Where the python3.11 on PATH (if any) keeps its asynchat.py."""
    exe = shutil.which("python3.11")
    if not exe:
        return ""
    try:
        stdlib = subprocess.run(
            [exe, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return os.path.join(stdlib, "asynchat.py") if stdlib else ""


def _load_reference() -> Optional[Any]:
    """CPython 3.11's own asynchat.py, loaded from its install (never copied)."""
    candidates = [
        os.path.join(sysconfig.get_paths()["stdlib"], "asynchat.py"),
        os.environ.get("COMPAT_REFERENCE_ASYNCHAT", ""),
        _python311_asynchat(),
    ]
    for path in candidates:
        if path and os.path.exists(path):
            spec = importlib.util.spec_from_file_location("_reference_asynchat", path)
            module = importlib.util.module_from_spec(spec)
            import warnings

            # Its import-time removal check refuses 3.12+; it is only read here.
            saved = getattr(warnings, "_deprecated", None)
            warnings._deprecated = lambda *a, **k: None  # type: ignore[attr-defined]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    spec.loader.exec_module(module)  # type: ignore[union-attr]
            except Exception:
                continue
            finally:
                if saved is None:
                    del warnings._deprecated  # type: ignore[attr-defined]
                else:
                    warnings._deprecated = saved  # type: ignore[attr-defined]
            return module
    return None


REFERENCE = _load_reference()


def recorder_class(base: type) -> type:
    """A channel that records every framing callback and follows a terminator plan."""

    class Recorder(base):  # type: ignore[misc,valid-type]
        def __init__(self, first: Any, plan: List[Any], bound: Optional[int] = None) -> None:
            base.__init__(self)  # no socket: recv() is fed by hand
            self.calls: List[tuple] = []
            self.plan = list(plan)
            self.found = 0
            self.chunks: List[bytes] = []
            self.overflowed = False
            if bound is not None:
                self.ac_max_buffer_size = bound
            self.set_terminator(first)

        def recv(self, size: int) -> bytes:
            return self.chunks.pop(0)

        def collect_incoming_data(self, data: bytes) -> None:
            self.calls.append(("collect", bytes(data)))

        def found_terminator(self) -> None:
            self.calls.append(("found", self.ac_in_buffer))
            if self.plan:
                # Switching inside found_terminator: by record number, so the
                # same switch happens whatever the chunking.
                self.set_terminator(self.plan[self.found % len(self.plan)])
            self.found += 1

        def handle_buffer_overflow(self) -> None:
            self.overflowed = True
            self.calls.append(("overflow",))

        def feed(self, chunks: List[bytes]) -> "Recorder":
            for chunk in chunks:
                if self.overflowed:
                    break
                self.chunks.append(chunk)
                self.handle_read()
            return self

    return Recorder


Ours = recorder_class(asynchat.async_chat)
Theirs = recorder_class(REFERENCE.async_chat) if REFERENCE is not None else None


def records(calls: List[tuple]) -> List[Any]:
    """The chunking-independent view: whole records, then the unterminated tail."""
    out: List[Any] = []
    current = b""
    for call in calls:
        if call[0] == "collect":
            current += call[1]
        elif call[0] == "found":
            out.append(current)
            current = b""
        else:
            out.append("overflow")
            return out
    out.append(current)
    return out


def check(first: Any, plan: List[Any], stream: bytes, chunks: List[bytes]) -> None:
    whole = Ours(first, plan).feed([stream] if stream else [])
    parts = Ours(first, plan).feed(chunks)
    assert records(parts.calls) == records(whole.calls)
    assert parts.terminator == whole.terminator
    if Theirs is not None:
        ref = Theirs(first, plan).feed(chunks)
        assert parts.calls == ref.calls
        assert parts.ac_in_buffer == ref.ac_in_buffer
        assert parts.terminator == ref.terminator


@SETTINGS
@given(term=byte_terminators, stream=streams(), data=st.data())
def test_bytes_terminator(term: bytes, stream: bytes, data: st.DataObject) -> None:
    check(term, [], stream, chunkings(data, stream))


@SETTINGS
@given(term=int_terminators, plan=st.lists(st.integers(1, 12), min_size=1, max_size=4), stream=streams(), data=st.data())
def test_int_terminator(term: int, plan: List[int], stream: bytes, data: st.DataObject) -> None:
    check(term, plan, stream, chunkings(data, stream))


@SETTINGS
@given(stream=streams(), data=st.data())
def test_none_terminator(stream: bytes, data: st.DataObject) -> None:
    check(None, [], stream, chunkings(data, stream))


@SETTINGS
@given(
    first=any_terminator,
    plan=st.lists(any_terminator, min_size=1, max_size=5),
    stream=streams(160),
    data=st.data(),
)
def test_switching_terminators(first: Any, plan: List[Any], stream: bytes, data: st.DataObject) -> None:
    check(first, plan, stream, chunkings(data, stream))


@SETTINGS
@given(
    term=byte_terminators,
    plan=st.lists(byte_terminators, max_size=3),
    bound=st.integers(0, 20),
    stream=streams(),
    data=st.data(),
)
def test_bound_is_chunking_independent(
    term: bytes, plan: List[bytes], bound: int, stream: bytes, data: st.DataObject
) -> None:
    """A record over the bound overflows however it arrives; earlier records are intact."""
    whole = Ours(term, plan, bound).feed([stream] if stream else [])
    parts = Ours(term, plan, bound).feed(chunkings(data, stream))
    assert whole.overflowed == parts.overflowed
    got, want = records(parts.calls), records(whole.calls)
    if whole.overflowed:
        # Only completed records are comparable: part of the oversized one
        # may have been collected before the overflow showed.
        assert got[:-2] == want[:-2] and got[-1] == want[-1] == "overflow"
    else:
        assert got == want
        # No record handed over exceeds the bound.
        assert all(len(r) <= bound for r in want[:-1])


def test_reference_found_or_not_on_311() -> None:
    """The exact comparison runs wherever 3.11's asynchat.py can be found."""
    if sys.version_info[:2] <= (3, 11):
        assert REFERENCE is not None, "the stdlib asynchat of this Python should load"
    elif REFERENCE is None:
        pytest.skip("no CPython 3.11 asynchat.py on this machine: compared chunked vs unchunked only")


# -- unit cases the properties rely on ------------------------------------------


@pytest.mark.parametrize(
    "haystack,needle,expected",
    [
        (b"qwerty\r", b"\r\n", 1),
        (b"qwertydkjf", b"\r\n", 0),
        (b"ab\r\n\r", b"\r\n\r\n", 3),
        (b"a", b"aaaa", 1),
        (b"", b"\r\n", 0),
        ("qwerty\r", "\r\n", 1),
    ],
)
def test_find_prefix_at_end(haystack: Any, needle: Any, expected: int) -> None:
    assert asynchat.find_prefix_at_end(haystack, needle) == expected


def test_set_terminator_validation() -> None:
    chan = asynchat.async_chat()
    with pytest.raises(ValueError):
        chan.set_terminator(-1)
    with pytest.raises(TypeError, match="use_encoding"):
        chan.set_terminator("\r\n")
    with pytest.raises(TypeError):
        chan.set_terminator(1.5)
    chan.set_terminator(bytearray(b"\r\n"))
    assert chan.get_terminator() == b"\r\n"

    class Text(asynchat.async_chat):
        use_encoding = 1

    text = Text()
    text.set_terminator("\r\n")
    assert text.get_terminator() == b"\r\n"


def test_missing_terminator_is_explained() -> None:
    chan = asynchat.async_chat()
    with pytest.raises(AttributeError, match="set_terminator"):
        chan.get_terminator()


def test_ac_in_buffer_edits_inside_callbacks() -> None:
    """Legacy code may drop or replace the unread input from found_terminator."""

    class Dropper(Ours):  # type: ignore[misc,valid-type]
        def found_terminator(self) -> None:
            super().found_terminator()
            if self.found == 1:
                self.ac_in_buffer = b""

    chan = Dropper(b"\n", []).feed([b"one\ntwo\nthree\n"])
    assert records(chan.calls) == [b"one", b""]


def test_simple_producer() -> None:
    prod = asynchat.simple_producer(b"abcdefg", buffer_size=3)
    assert [prod.more() for _ in range(4)] == [b"abc", b"def", b"g", b""]
    with pytest.raises(ValueError):
        asynchat.simple_producer(b"x", buffer_size=0)


def test_producer_fifo_assigned_before_init() -> None:
    """Legacy subclasses sometimes set attributes before calling __init__."""
    from collections import deque

    class Early(asynchat.async_chat):
        def __init__(self) -> None:
            self.producer_fifo = deque([b"lost in 3.11 too"])
            self.ac_in_buffer = b"x"
            asynchat.async_chat.__init__(self)

    chan = Early()
    assert not chan.producer_fifo and chan.ac_in_buffer == b""
    chan.producer_fifo = deque([b"a"])
    assert type(chan.producer_fifo).__name__ == "_ProducerFifo" and list(chan.producer_fifo) == [b"a"]
