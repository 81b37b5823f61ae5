"""TLS through the asyncio facade, with certificate verification on.

Two shapes: an asyncio TLS server on the core's loop (its transports are map
entries that close_all() closes), and a legacy listener handing accepted
sockets to an ``async def`` handler that does the TLS handshake.
"""
import asyncio
import socket
import threading

import pytest

from support import HOST
from support.tls import contexts, echo_client

from compat import aio, asyncore, core

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: many TLS records


@pytest.fixture(scope="module")
def certs():
    return contexts()


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def test_asyncio_tls_server_on_the_core_loop(clean_map, certs):
    server_ctx, client_ctx = certs
    loop = core.thread_loop()
    server = loop.run_until_complete(asyncio.start_server(echo, HOST, 0, ssl=server_ctx))
    port = server.sockets[0].getsockname()[1]
    result = {}

    def client_then_close_all():
        echo_client(port, client_ctx, PAYLOAD, result)
        loop.call_soon_threadsafe(asyncore.close_all)

    thread = threading.Thread(target=client_then_close_all)
    try:
        assert len(asyncore.socket_map) == 1  # the TLS server is a map entry
        loop.call_soon(thread.start)
        asyncore.loop(timeout=5)  # serves until close_all() empties the map
    finally:
        thread.join(20)
        server.close()
        loop.run_until_complete(server.wait_closed())
    assert "error" not in result, result.get("error")
    assert result["echo"] == PAYLOAD
    assert result["cert"]["subjectAltName"] == (("IP Address", HOST),)


def test_legacy_listener_hands_tls_connections_to_an_async_handler(clean_map, certs):
    server_ctx, client_ctx = certs

    class Listener(asyncore.dispatcher):
        def __init__(self):
            super().__init__()
            self.create_socket()
            self.bind((HOST, 0))
            self.listen(5)
            self.port = self.socket.getsockname()[1]

        def handle_accepted(self, sock, addr):
            aio.adopt_stream(sock, echo, ssl=server_ctx)

    listener = Listener()
    result = {}

    def client_then_stop():
        echo_client(listener.port, client_ctx, PAYLOAD, result)
        listener.close()  # handed to the serving thread

    thread = threading.Thread(target=client_then_stop)
    core.thread_loop().call_soon(thread.start)
    try:
        asyncore.loop(timeout=5)  # until the listener and the TLS transport closed
    finally:
        thread.join(20)
    assert "error" not in result, result.get("error")
    assert result["echo"] == PAYLOAD


def test_adopt_refuses_a_non_context_ssl_argument(clean_map):
    a, b = socket.socketpair()
    try:
        with pytest.raises(TypeError, match="SSLContext"):
            aio.adopt_protocol(a, asyncio.Protocol, ssl=True)
    finally:
        a.close()
        b.close()
