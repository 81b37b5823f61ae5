"""``asyncio.test_utils`` while installed: the helpers 3.4-3.6 example code used.

``asyncio.test_utils`` was CPython's internal test helper module (removed in
3.7), but tutorials and library test suites of the time imported it.  This
module, written for compat, gives the commonly used part:

* ``run_briefly(loop)``: let the callbacks ready now (and the ones they
  schedule at once) run;
* ``run_once(loop)``: one pass of the loop;
* ``run_until(loop, pred, timeout=30)``: run the loop until ``pred()`` holds;
* ``TestLoop(gen=None)``: an event loop on a virtual clock.  Each deadline a
  timer is scheduled for is sent to the generator ``gen`` (primed first),
  which yields how far to advance the clock; with no ``gen``, or when the loop
  waits with no new timer, the clock jumps to the next deadline.  Sockets and
  ``call_soon_threadsafe`` are real.  ``close()`` checks that ``gen`` is done;
* ``TestCase``: ``unittest.TestCase`` with ``new_test_loop(gen)`` and
  ``set_event_loop(loop)`` (which, as then, leaves no current loop: code under
  test must be given its loop).

Any other name raises AttributeError naming what to use instead.
"""
import asyncio
import selectors
import time
import unittest
from typing import Any, Callable, Generator, List, Mapping, Optional, Tuple

__all__ = ["TestCase", "TestLoop", "run_briefly", "run_once", "run_until"]


def run_briefly(loop: asyncio.AbstractEventLoop) -> None:
    """Run *loop* until the callbacks ready now, and those they schedule at once, have run."""

    async def nothing() -> None:
        return None

    loop.run_until_complete(nothing())


def run_once(loop: asyncio.AbstractEventLoop) -> None:
    """One pass of *loop*: the ready callbacks, and I/O that is ready now."""
    loop.call_soon(loop.stop)
    loop.run_forever()


def run_until(loop: asyncio.AbstractEventLoop, pred: Callable[[], Any], timeout: float = 30) -> None:
    """Run *loop* until ``pred()`` is true; ``asyncio.TimeoutError`` after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise asyncio.TimeoutError(f"run_until(): condition still false after {timeout} s")
        loop.run_until_complete(asyncio.sleep(0.001))


class _VirtualSelector(selectors.BaseSelector):
    """A real selector whose ``select()`` never waits: it moves the loop's clock instead."""

    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.owner: Optional["TestLoop"] = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: Optional[float] = None) -> List[Tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if self.owner is not None and not ready:
            self.owner._compat_clock_wait(timeout)
        return ready


class TestLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    """An event loop whose ``time()`` is virtual (see the module docstring)."""

    __test__ = False  # not a pytest test class

    def __init__(self, gen: Optional[Callable[[], Generator[Any, Any, Any]]] = None) -> None:
        self._compat_time = 0.0
        self._compat_deadlines: List[float] = []
        self._compat_gen = gen() if gen is not None else None
        if self._compat_gen is not None:
            next(self._compat_gen)
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.owner = self

    def time(self) -> float:
        """The virtual clock."""
        return self._compat_time

    def advance_time(self, advance: float) -> None:
        """Move the virtual clock forward by *advance* seconds."""
        if advance:
            self._compat_time += advance

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """Schedule as usual; the deadline goes to the time generator."""
        self._compat_deadlines.append(when)
        return super().call_at(when, callback, *args, context=context)

    def _compat_clock_wait(self, timeout: Optional[float]) -> None:
        deadlines, self._compat_deadlines = self._compat_deadlines, []
        if self._compat_gen is not None and deadlines:
            for when in deadlines:
                try:
                    self.advance_time(self._compat_gen.send(when))
                except StopIteration:
                    raise AssertionError(
                        f"TestLoop: the time generator finished, but a timer was scheduled at {when}"
                    ) from None
        elif timeout:
            self.advance_time(timeout)

    def close(self) -> None:
        """Close the loop; AssertionError if the time generator has steps left."""
        gen, self._compat_gen = self._compat_gen, None
        super().close()
        if gen is not None:
            try:
                gen.send(0)
            except StopIteration:
                return
            gen.close()
            raise AssertionError("TestLoop: the time generator is not finished")


class TestCase(unittest.TestCase):
    """``unittest.TestCase`` with the loop helpers of ``asyncio.test_utils``."""

    loop: asyncio.AbstractEventLoop

    def set_event_loop(self, loop: asyncio.AbstractEventLoop, *, cleanup: bool = True) -> None:
        """Use *loop* as ``self.loop``; no loop is current (pass it explicitly)."""
        self.loop = loop
        asyncio.set_event_loop(None)
        if cleanup:
            self.addCleanup(self.close_loop, loop)

    def new_test_loop(self, gen: Optional[Callable[[], Generator[Any, Any, Any]]] = None) -> TestLoop:
        """A :class:`TestLoop` set as ``self.loop`` and closed after the test."""
        loop = TestLoop(gen)
        self.set_event_loop(loop)
        return loop

    @staticmethod
    def close_loop(loop: asyncio.AbstractEventLoop) -> None:
        """Let pending callbacks run, then close *loop*."""
        if not loop.is_closed():
            if not loop.is_running():
                run_briefly(loop)
            loop.close()

    def tearDown(self) -> None:
        asyncio.set_event_loop(None)
        super().tearDown()


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"asyncio.test_utils.{name} is not provided by compat: asyncio.test_utils was CPython's "
        f"internal test helper module (removed in Python 3.7); compat restores only "
        f"{', '.join(__all__)}. Write {name} in your own tests, or use "
        "unittest.IsolatedAsyncioTestCase and asyncio.run()"
    )
