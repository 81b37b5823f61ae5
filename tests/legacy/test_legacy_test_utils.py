"""asyncio.test_utils while installed: the helpers 3.4-3.6 tests and examples used."""
import asyncio
import sys
import threading
import unittest

import pytest
from support import COMPAT_WARNINGS_FAIL

import compat
from compat.legacy import test_utils as compat_test_utils

pytestmark = [*COMPAT_WARNINGS_FAIL, pytest.mark.usefixtures("installed")]

TIMEOUT = 10


def test_importable_both_ways_and_gone_after_uninstall():
    from asyncio import test_utils

    import asyncio.test_utils as dotted

    assert test_utils is dotted is compat_test_utils
    compat.uninstall()
    assert "asyncio.test_utils" not in sys.modules
    assert not hasattr(asyncio, "test_utils")
    compat.install()


def test_other_names_raise_naming_the_replacement():
    from asyncio import test_utils

    with pytest.raises(AttributeError, match=r"mock_nonblocking_socket.*removed in Python 3\.7.*run_briefly"):
        test_utils.mock_nonblocking_socket
    assert not hasattr(test_utils, "run_test_server")


def test_run_briefly_runs_ready_callbacks_and_what_they_schedule():
    from asyncio import test_utils

    loop = asyncio.new_event_loop()
    try:
        ran = []
        loop.call_soon(lambda: loop.call_soon(ran.append, "second"))
        loop.call_soon(ran.append, "first")
        test_utils.run_briefly(loop)
        assert ran == ["first", "second"]
    finally:
        loop.close()


def test_run_once_and_run_until():
    from asyncio import test_utils

    loop = asyncio.new_event_loop()
    try:
        ran = []
        loop.call_soon(ran.append, 1)
        test_utils.run_once(loop)
        assert ran == [1]
        # a condition another thread makes true
        flag = threading.Event()
        worker = threading.Thread(target=flag.set)
        worker.start()
        test_utils.run_until(loop, flag.is_set, timeout=TIMEOUT)
        worker.join(TIMEOUT)
        with pytest.raises(asyncio.TimeoutError, match="still false"):
            test_utils.run_until(loop, lambda: False, timeout=0)
    finally:
        loop.close()


def test_test_loop_time_generator_protocol():
    from asyncio import test_utils

    seen = []

    def gen():
        when = yield
        seen.append(when)
        when = yield 0.1  # advance to the first deadline
        seen.append(when)
        yield 0.2

    loop = test_utils.TestLoop(gen)
    try:
        assert loop.time() == 0

        async def main():
            await asyncio.sleep(0.1)
            await asyncio.sleep(0.2)
            return loop.time()

        assert loop.run_until_complete(main()) == pytest.approx(0.3)
        assert seen == [pytest.approx(0.1), pytest.approx(0.3)]
    finally:
        loop.close()


def test_test_loop_close_checks_the_generator_finished():
    from asyncio import test_utils

    def gen():
        yield
        yield 0
        yield 0  # a step the test never reaches

    loop = test_utils.TestLoop(gen)
    with pytest.raises(AssertionError, match="not finished"):
        loop.close()
    assert loop.is_closed()


def test_test_loop_without_generator_jumps_to_deadlines():
    from asyncio import test_utils

    loop = test_utils.TestLoop()
    try:
        loop.advance_time(5)

        async def main():
            await asyncio.sleep(3600)  # an hour of virtual time, at once
            return loop.time()

        assert loop.run_until_complete(asyncio.wait_for(main(), 7200)) >= 3605
    finally:
        loop.close()


def test_test_loop_serves_real_sockets():
    from asyncio import test_utils

    loop = test_utils.TestLoop()
    try:

        async def main():
            async def echo(reader, writer):
                writer.write(await reader.readline())
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(echo, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"ping\n")
                line = await reader.readline()
                writer.close()
                await writer.wait_closed()
                return line
            finally:
                server.close()
                await server.wait_closed()

        assert loop.run_until_complete(main()) == b"ping\n"
    finally:
        loop.close()


def test_test_case_helpers():
    from asyncio import test_utils

    results = []

    class Legacy(test_utils.TestCase):
        def test_it(self):
            def gen():
                yield
                yield 1.5

            loop = self.new_test_loop(gen)
            fut = loop.create_future()
            loop.call_later(1.5, fut.set_result, loop.time)
            results.append(loop.run_until_complete(fut)())
            results.append(self.loop is loop)

    outcome = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Legacy).run(outcome)
    assert outcome.wasSuccessful(), outcome.errors + outcome.failures
    assert results == [1.5, True]
