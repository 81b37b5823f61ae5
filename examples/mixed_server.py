"""One program, one thread, one loop: asyncore, asynchat and asyncio side by side.

    python examples/mixed_server.py [PORT]   # listens on PORT, PORT+1, PORT+2 (0 = any three)

Prints ``listening ECHO LINES STATS`` (three port numbers) when ready:

ECHO   an asyncore listener and asyncore channels, straight legacy code:
       every byte comes back.
LINES  an asyncio server (``compat.aio.start_legacy_server``) whose
       connections are served by a legacy async_chat channel; one command a
       line: ``UPPER text`` -> ``TEXT``, ``QUIT`` -> ``BYE`` and close,
       ``SHUTDOWN`` -> ``BYE`` and the whole program stops.
STATS  an asyncore listener that hands each connection to an asyncio
       streams coroutine (``compat.aio.adopt_stream``); it answers one line,
       ``channels N asyncio M``: the number of entries in the shared channel
       map and how many of them stand for asyncio servers and transports,
       then closes.

It stops on SHUTDOWN, SIGINT or SIGTERM, by calling ``asyncore.close_all()``:
since asyncio's servers and transports are entries in the same map, that one
call closes everything, old and new.
"""
import asynchat
import asyncio
import asyncore
import signal
import socket
import sys

import compat
from compat import aio


# -- legacy: an asyncore echo service ---------------------------------------


class EchoChannel(asyncore.dispatcher_with_send):
    def handle_read(self):
        data = self.recv(65536)
        if data:
            self.send(data)


class Listener(asyncore.dispatcher):
    """A legacy listener; what it does with a connection is ``on_accept``'s business."""

    def __init__(self, port, on_accept):
        asyncore.dispatcher.__init__(self)
        self.on_accept = on_accept
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", port))
        self.listen(128)

    def handle_accepted(self, sock, addr):
        self.on_accept(sock)


# -- legacy: an asynchat command channel, accepted by asyncio ---------------


class CommandChannel(asynchat.async_chat):
    stop = None  # set to an asyncio.Event by main()

    def __init__(self, sock):
        self.received = []
        asynchat.async_chat.__init__(self, sock)
        self.set_terminator(b"\n")

    def collect_incoming_data(self, data):
        self.received.append(data)

    def found_terminator(self):
        line = b"".join(self.received).rstrip(b"\r")
        self.received = []
        command, _, argument = line.partition(b" ")
        if command == b"UPPER":
            self.push(argument.upper() + b"\n")
        elif command in (b"QUIT", b"SHUTDOWN"):
            self.push(b"BYE\n")
            self.close_when_done()
            if command == b"SHUTDOWN":
                self.stop.set()
        else:
            self.push(b"ERR unknown command\n")


# -- new: an asyncio streams handler, fed by a legacy listener --------------


async def stats(reader, writer):
    entries = list(asyncore.socket_map.values())
    new = sum(isinstance(entry, aio.AsyncioChannel) for entry in entries)
    writer.write(b"channels %d asyncio %d\n" % (len(entries), new))
    await writer.drain()
    writer.close()


async def main(port):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    CommandChannel.stop = stop
    any_port = port == 0

    echo = Listener(port, EchoChannel)
    lines = await aio.start_legacy_server(CommandChannel, "127.0.0.1", 0 if any_port else port + 1)
    statistics = Listener(0 if any_port else port + 2, lambda sock: aio.adopt_stream(sock, stats))

    ports = [
        echo.socket.getsockname()[1],
        lines.sockets[0].getsockname()[1],
        statistics.socket.getsockname()[1],
    ]
    print("listening", *ports, flush=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    asyncore.close_all()  # legacy channels, asyncio server and transports alike


if __name__ == "__main__":
    compat.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
