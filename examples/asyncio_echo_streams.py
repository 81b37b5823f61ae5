"""An asyncio echo server written with streams (one coroutine per client).

    python examples/asyncio_echo_streams.py [PORT]     # 0 (the default) = any port

Each connection is served by ``echo()``, straight-line code: read what is
there, write it back, ``await writer.drain()`` so that a client that does not
read cannot make us buffer without bound. EOF from the client (``read()``
returns b"") ends the conversation.

It prints ``listening PORT`` when ready and stops on SIGINT or SIGTERM.
"""
import asyncio
import signal
import sys


async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the client reset the connection: nothing left to say
    finally:
        writer.close()


async def serve(port):
    loop = asyncio.get_running_loop()
    writers = set()
    handlers = set()

    async def client_connected(reader, writer):
        writers.add(writer)
        handlers.add(asyncio.current_task())
        try:
            await echo(reader, writer)
        finally:
            writers.discard(writer)
            handlers.discard(asyncio.current_task())

    server = await asyncio.start_server(client_connected, "127.0.0.1", port)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    for writer in list(writers):
        writer.close()  # the handler's read() then returns b"" and it ends
    if handlers:
        # Let them finish rather than be cancelled by asyncio.run().
        await asyncio.wait(list(handlers), timeout=5)
    await server.wait_closed()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    asyncio.run(serve(port))


if __name__ == "__main__":
    main()
