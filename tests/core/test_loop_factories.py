"""Picking the core's loop without event loop policies: loop factories.

``asyncio.run(main(), loop_factory=...)`` and ``asyncio.Runner`` (3.12+),
``compat.run(main(), loop_factory=...)`` everywhere; the same for uvloop,
whose servers and transports then join the shared map without ``track()``.
"""
import asyncio
import sys
from typing import Any, Callable, List

import pytest
import uvloop  # the test extra installs it on every supported platform

from compat import aio, asyncore

HOST = "127.0.0.1"
TIMEOUT = 20.0

FACTORIES = {"core": aio.new_event_loop, "uvloop": aio.new_uvloop_event_loop}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest, clean_map: None) -> Callable[[], asyncio.AbstractEventLoop]:
    return FACTORIES[request.param]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(await reader.read(100))
    await writer.drain()
    await reader.read()  # stays open (and in the map) until the client goes
    writer.close()


async def _round_trip_and_inventory() -> List[str]:
    """A plain start_server + open_connection; what the shared map holds meanwhile."""
    server = await asyncio.start_server(_echo, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.read(100), TIMEOUT) == b"ping"
    kinds = sorted(getattr(ch, "kind", "?") for ch in asyncore.socket_map.values())
    # close_all() closes asyncio's server and transports too: nothing keeps serving.
    asyncore.close_all()
    assert not asyncore.socket_map
    await asyncio.wait_for(server.wait_closed(), TIMEOUT)
    with pytest.raises(OSError):
        await asyncio.wait_for(asyncio.open_connection(HOST, port), TIMEOUT)
    return kinds


EXPECTED = ["asyncio server", "asyncio transport", "asyncio transport"]


def test_compat_run_with_a_loop_factory(factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    assert aio.run(_round_trip_and_inventory(), loop_factory=factory) == EXPECTED


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is new in 3.12")
def test_asyncio_run_with_a_loop_factory(factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    assert asyncio.run(_round_trip_and_inventory(), loop_factory=factory) == EXPECTED  # type: ignore[call-arg]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.Runner(loop_factory=) is new in 3.12")
def test_asyncio_runner_with_a_loop_factory(factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    with asyncio.Runner(loop_factory=factory) as runner:  # type: ignore[attr-defined]
        assert runner.run(_round_trip_and_inventory()) == EXPECTED


def test_uvloop_factory_gives_uvloop() -> None:
    loop = aio.new_uvloop_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_legacy_channels_are_served_on_a_factory_loop(factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """A legacy dispatcher and an asyncio client on the factory's loop, one map."""

    class Echo(asyncore.dispatcher_with_send):
        def handle_read(self) -> None:
            self.send(self.recv(100))

    class Listener(asyncore.dispatcher):
        def __init__(self) -> None:
            super().__init__()
            self.create_socket()
            self.bind((HOST, 0))
            self.listen(5)

        def handle_accepted(self, sock: Any, addr: Any) -> None:
            Echo(sock)

    async def main() -> bytes:
        listener = Listener()
        try:
            reader, writer = await asyncio.open_connection(*listener.socket.getsockname())
            writer.write(b"legacy")
            data = await asyncio.wait_for(reader.readexactly(6), TIMEOUT)
            writer.close()
            return data
        finally:
            asyncore.close_all()

    assert aio.run(main(), loop_factory=factory) == b"legacy"


@pytest.mark.skipif(not hasattr(asyncio, "set_event_loop_policy"), reason="no event loop policies on this Python")
@pytest.mark.filterwarnings("ignore:'asyncio.*policy.* is deprecated:DeprecationWarning")
def test_a_policy_the_program_installed_still_picks_the_loop() -> None:
    """uvloop.install() (a policy) keeps working where policies exist; it is
    not the documented way, and warns from 3.14 as asyncio does."""
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        loop = aio.new_event_loop()
        try:
            assert isinstance(loop, uvloop.Loop)
        finally:
            loop.close()
    finally:
        asyncio.set_event_loop_policy(previous)
