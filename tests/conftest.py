"""Shared fixtures: a per-test timeout (a hang fails, never blocks CI) and map hygiene."""
import signal
from typing import Iterator

import pytest

DEFAULT_TIMEOUT = 60.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout(seconds): fail the test after this many seconds")


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
