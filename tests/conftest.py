"""Shared fixtures: a per-test timeout (a hang fails, never blocks CI) and map hygiene."""
import faulthandler
import signal
import sys
from typing import Iterator

import pytest

DEFAULT_TIMEOUT = 60.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout(seconds): fail the test after this many seconds")


@pytest.fixture(autouse=True)
def _timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that runs too long; dump all threads if even that hangs."""
    marker = request.node.get_closest_marker("timeout")
    seconds = float(marker.args[0]) if marker else DEFAULT_TIMEOUT

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"test did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds + 30, exit=True, file=sys.stderr)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def clean_map() -> Iterator[None]:
    """Start and end with an empty default socket_map (closing what is left)."""
    from compat import asyncore

    asyncore.close_all(ignore_all=True)
    try:
        yield
    finally:
        asyncore.close_all(ignore_all=True)
