"""Shared fixtures: a per-test timeout (a hang fails, never blocks CI), map
hygiene, socket pairs, compat.install() for a test, and ``each_loop``: the
facade suites run on each loop kind. Shared helpers that are not fixtures
live in tests/support (``from support import ...``: this folder is on sys.path)."""
import asyncio
import os
import signal
import socket
from typing import Any, Callable, Iterator, List, Tuple

import pytest
import uvloop
from support import StubSocket

DEFAULT_TIMEOUT = 60.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout(seconds): fail the test after this many seconds")
    config.addinivalue_line("markers", "own_loop_only(reason): run only on the core's own loop, not on a foreign one")


@pytest.fixture(autouse=True)
def _timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that runs too long."""
    marker = request.node.get_closest_marker("timeout")
    seconds = float(marker.args[0]) if marker else DEFAULT_TIMEOUT

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"test did not finish within {seconds:g} s")

    # A hang that even the alarm cannot break (a C call that never returns)
    # is caught by pytest's faulthandler_timeout (tox.ini), which dumps every
    # thread and exits.
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def clean_map() -> Iterator[None]:
    """Start and end with an empty default socket_map (closing what is left)."""
    from compat import asyncore

    asyncore.close_all(ignore_all=True)
    try:
        yield
    finally:
        asyncore.close_all(ignore_all=True)


@pytest.fixture
def tcp_pairs() -> Iterator[Callable[[], Tuple[socket.socket, socket.socket]]]:
    """A factory of connected (server side, client side) TCP pairs on
    127.0.0.1; every socket it made is closed after the test."""
    from support import tcp_pair

    made: List[socket.socket] = []

    def make() -> Tuple[socket.socket, socket.socket]:
        pair = tcp_pair()
        made.extend(pair)
        return pair

    yield make
    for sock in made:
        sock.close()


@pytest.fixture
def installed() -> Iterator[None]:
    """compat.install() for the test, compat.uninstall() after it."""
    import compat

    compat.install()
    try:
        yield
    finally:
        compat.uninstall()


@pytest.fixture
def selector_polls(monkeypatch: pytest.MonkeyPatch) -> list:
    """The timeouts of every poll the thread's core loop makes from now on.

    A pass that blocks shows as few polls with a long timeout; a busy loop as
    many with zero: a check on the loop's behaviour, not on the clock.
    """
    from compat import core

    selector = core.thread_loop().compat_selector  # type: ignore[attr-defined]
    polls: list = []
    real_poll = selector._poll

    def counting_poll(timeout: object) -> object:
        polls.append(timeout)
        return real_poll(timeout)

    monkeypatch.setattr(selector, "_poll", counting_poll)
    return polls


# The loop kinds the facade suites run on: the core's own loop (nothing set),
# and a foreign loop set as the thread's current loop before asyncore.loop()
# runs (the core then serves its channels through that loop's callbacks).
# COMPAT_SELECTOR changes only the own loop: there the other kinds would
# repeat the default run.
LOOP_KINDS = ["own"] if os.environ.get("COMPAT_SELECTOR") else ["own", "asyncio", "uvloop"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``each_loop`` users over every kind, or only the own loop
    for tests marked ``own_loop_only``."""
    if "each_loop" in metafunc.fixturenames:
        only_own = metafunc.definition.get_closest_marker("own_loop_only")
        metafunc.parametrize("each_loop", ["own"] if only_own else LOOP_KINDS, indirect=True)


@pytest.fixture
def each_loop(request: pytest.FixtureRequest) -> Iterator[str]:
    """Make the parametrized loop kind the thread's current loop for the test
    (closed afterwards); the own loop needs nothing set."""
    kind = request.param
    if kind == "own":
        yield kind
        return
    if kind == "uvloop":
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield kind
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def stub_channel() -> Iterator[Callable[[Callable[[Any], int]], Any]]:
    """A connected dispatcher_with_send (own plain map) whose socket.send is given."""
    from compat import asyncore

    made: List[Tuple[int, int, dict]] = []

    def make(send: Callable[[Any], int]) -> Any:
        r, w = os.pipe()
        m: dict = {}
        chan = asyncore.dispatcher_with_send(map=m)
        chan.set_socket(StubSocket(r, send))
        chan.connected = True
        made.append((r, w, m))
        return chan

    yield make
    for r, w, m in made:
        os.close(r)
        os.close(w)
        m.clear()
