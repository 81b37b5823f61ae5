"""An asyncio echo server written with a Protocol (callbacks, no coroutines).

    python examples/asyncio_echo_protocol.py [PORT]     # 0 (the default) = any port

This is the closest asyncio counterpart of an asyncore dispatcher: the loop
calls data_received() as handle_read() was called, and transport.write()
replaces the output buffer and writable()/handle_write(). Flow control is
the one new duty: when a client stops reading, the transport calls
pause_writing() and we stop reading from that client until resume_writing().

It prints ``listening PORT`` when ready and stops on SIGINT or SIGTERM.
"""
import asyncio
import signal
import sys


class EchoProtocol(asyncio.Protocol):
    def __init__(self, connections):
        self.connections = connections
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.connections.add(transport)

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        # The client half-closed: what was written is flushed, then close.
        return False

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def connection_lost(self, exc):
        self.connections.discard(self.transport)


async def serve(port):
    loop = asyncio.get_running_loop()
    connections = set()
    server = await loop.create_server(lambda: EchoProtocol(connections), "127.0.0.1", port)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    for transport in list(connections):
        transport.close()
    await server.wait_closed()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    asyncio.run(serve(port))


if __name__ == "__main__":
    main()
