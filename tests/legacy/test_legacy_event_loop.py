"""get_event_loop() while installed: gives a loop when none is set (the 3.14 case)."""
import asyncio
import sys
import threading

import pytest
from support import COMPAT_WARNINGS_FAIL

import compat
from compat.core import _asyncio
from compat.legacy.event_loop import get_event_loop
from compat.legacy.warning import LegacyWarning

pytestmark = COMPAT_WARNINGS_FAIL

TIMEOUT = 10


@pytest.fixture
def no_current_loop():
    """No loop set before; whatever the test sets is closed and unset after."""
    asyncio.set_event_loop(None)
    yield
    loop = _asyncio.current_loop()
    if loop is not None:
        loop.close()
    asyncio.set_event_loop(None)


def test_installed_as_asyncio_get_event_loop():
    compat.install()
    try:
        assert asyncio.get_event_loop is get_event_loop
        assert asyncio.events.get_event_loop is get_event_loop
    finally:
        compat.uninstall()
    assert asyncio.get_event_loop is not get_event_loop


def test_makes_and_sets_a_loop_when_none_is_set(no_current_loop):
    with pytest.warns(LegacyWarning, match="3.14"):
        loop = get_event_loop()
    assert isinstance(loop, asyncio.AbstractEventLoop)
    assert not loop.is_closed()
    assert get_event_loop() is loop  # now current: same loop, no new one
    assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"


def test_current_loop_is_returned_without_warning(no_current_loop, recwarn):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    assert get_event_loop() is loop
    assert not [w for w in recwarn if issubclass(w.category, LegacyWarning)]


def test_running_loop_is_returned():
    async def main():
        return get_event_loop() is asyncio.get_running_loop()

    assert asyncio.run(asyncio.wait_for(main(), TIMEOUT))


def test_after_asyncio_run_a_loop_is_given_again(no_current_loop):
    asyncio.run(asyncio.sleep(0))  # leaves no current loop, like set_event_loop(None)
    with pytest.warns(LegacyWarning):
        loop = get_event_loop()
    assert not loop.is_closed()


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="3.14+ raise by themselves (the tests above)")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_with_a_policy_that_raises_like_python_314():
    class Python314Policy(asyncio.AbstractEventLoopPolicy):
        """get_event_loop() as documented for 3.14: raises when none is set."""

        def __init__(self):
            self.loop = None

        def get_event_loop(self):
            if self.loop is None:
                raise RuntimeError("There is no current event loop")
            return self.loop

        def set_event_loop(self, loop):
            self.loop = loop

        def new_event_loop(self):
            return asyncio.SelectorEventLoop()

    policy = Python314Policy()
    old = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(policy)
    try:
        with pytest.raises(RuntimeError):
            policy.get_event_loop()  # the documented 3.14 behaviour...
        with pytest.warns(LegacyWarning):
            loop = get_event_loop()  # ...which compat turns back into a loop
        assert policy.loop is loop
        assert get_event_loop() is loop
        loop.close()
    finally:
        asyncio.set_event_loop_policy(old)


def test_other_threads_still_need_their_own_loop(no_current_loop):
    errors = []

    def worker():
        try:
            get_event_loop()
        except RuntimeError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=worker, name="worker-1")
    thread.start()
    thread.join(TIMEOUT)
    assert errors and "worker-1" in errors[0]


def test_module_level_legacy_script_shape(no_current_loop):
    # loop = get_event_loop(); Future(); gather(); run_until_complete(); close()
    compat.install()
    try:
        with pytest.warns(LegacyWarning):
            loop = asyncio.get_event_loop()
        fut = asyncio.Future()
        loop.call_soon(fut.set_result, "f")
        both = asyncio.gather(fut, asyncio.sleep(0, "s"))
        assert loop.run_until_complete(asyncio.wait_for(both, TIMEOUT)) == ["f", "s"]
    finally:
        compat.uninstall()
