"""The core on other selectors than epoll: select() (Windows, and where
nothing else is) and poll(), as on platforms without epoll or kqueue.

The asyncore and asynchat suites run again in a subprocess with the core's
loop forced onto each (``COMPAT_SELECTOR``).
"""
import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest

from compat.core import selector

TESTS = Path(__file__).resolve().parent.parent
SUITES = [
    "facades/test_asyncore_api.py",
    "facades/test_asynchat_sockets.py",
    "core/test_reused_fds.py",
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["select", "poll"])
def test_asyncore_and_asynchat_suites_on_another_selector(name: str) -> None:
    env = dict(os.environ, COMPAT_SELECTOR=name)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error::ResourceWarning",
         *[str(TESTS / s) for s in SUITES]],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=540,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize("name", sorted(selector.SELECTORS))
def test_compat_selector_picks_the_loops_selector(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPAT_SELECTOR", name)
    cls = selector.selector_class()
    assert issubclass(cls, selector.SELECTORS[name])
    sel = cls()
    sel.close()


def test_an_unknown_selector_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPAT_SELECTOR", "iocp")
    with pytest.raises(ValueError, match="COMPAT_SELECTOR='iocp': this platform has"):
        selector.selector_class()


def test_default_is_the_platforms_default() -> None:
    assert issubclass(selector.HookedSelector, selectors.DefaultSelector)
