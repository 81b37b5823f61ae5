"""The shared map belongs to the core; the asyncore facade only names it.

CPython's own test_asyncore rebinds ``asyncore.socket_map = {}``; asyncio code
on the core's loop must keep working after that (its servers and transports
go to the core's shared map).
"""
import asyncio
from typing import Iterator

import pytest
from support import HOST, TIMEOUT

from compat import aio, asyncore, core


@pytest.fixture
def rebound_socket_map() -> Iterator[dict]:
    original = asyncore.socket_map
    asyncore.socket_map = {}  # what CPython's test_asyncore does
    try:
        yield asyncore.socket_map
    finally:
        asyncore.socket_map = original


def test_socket_map_is_the_cores_shared_map() -> None:
    assert asyncore.socket_map is core.shared_map


def test_asyncio_code_works_after_socket_map_is_rebound(rebound_socket_map: dict) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(10))
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server = await asyncio.start_server(echo, HOST, 0)
        try:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            writer.write(b"ping")
            data = await asyncio.wait_for(reader.read(10), TIMEOUT)
            writer.close()
            return data
        finally:
            server.close()
            await server.wait_closed()

    assert aio.run(main()) == b"ping"
    loop = core.new_core_loop()
    try:
        assert loop.run_until_complete(asyncio.wait_for(main(), TIMEOUT)) == b"ping"
    finally:
        loop.close()
    assert rebound_socket_map == {}


def test_legacy_channels_follow_the_rebound_map(rebound_socket_map: dict) -> None:
    chan = asyncore.dispatcher()
    chan.create_socket()
    try:
        assert chan._fileno in rebound_socket_map
        assert chan._fileno not in core.shared_map
    finally:
        chan.close()
