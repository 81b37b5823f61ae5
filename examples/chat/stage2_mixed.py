"""Chat server, stage 2 of 3: asyncio sessions behind the legacy listener.

    python examples/chat/stage2_mixed.py [PORT]     # 0 (the default) = any port

Same protocol as stage1_asyncore.py (see there). What moved:

* the program now starts with ``compat.run()`` (``asyncio.run()`` plus the
  shared channel map); the stage 1 listener, an asyncore dispatcher, is
  created inside it and served by that same loop: no ``asyncore.loop()``;
* the per-connection code, where the logic lives, is now an asyncio streams
  coroutine (``session``, identical to stage 3's). The listener hands each
  accepted socket to it with ``compat.aio.adopt_stream``.

So the legacy and the new code run side by side, in one thread, on one loop.
Stage 3 replaces the listener by ``asyncio.start_server`` and drops compat.
"""
import asyncio
import asyncore
import signal
import socket
import sys

import compat
from compat import aio


class Room:
    """Who is here, and how to tell them all something."""

    def __init__(self):
        self.members = {}  # nick -> StreamWriter

    def join(self, nick, writer):
        self.broadcast("* %s joined" % nick)
        self.members[nick] = writer

    def leave(self, nick):
        if self.members.pop(nick, None) is not None:
            self.broadcast("* %s left" % nick)

    def broadcast(self, text):
        for writer in list(self.members.values()):
            send_line(writer, text)

    def who(self):
        return "* online: " + ", ".join(sorted(self.members))


def send_line(writer, text):
    if not writer.is_closing():
        writer.write(text.encode("utf-8") + b"\n")


async def session(reader, writer, room, stop):
    nick = None
    try:
        while True:
            raw = await reader.readline()  # b"" at EOF
            if not raw.endswith(b"\n"):
                break
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if not line:
                continue
            if nick is None:
                nick = line
                send_line(writer, "* welcome %s" % nick)
                room.join(nick, writer)
            elif line == "/who":
                send_line(writer, room.who())
            elif line == "/quit":
                send_line(writer, "* bye")
                break
            elif line == "/shutdown":
                stop.set()
            else:
                room.broadcast("<%s> %s" % (nick, line))
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        if nick is not None:
            room.leave(nick)
        writer.close()


class ChatListener(asyncore.dispatcher):
    """Stage 1's listener; it now passes each connection to ``hand_off``."""

    def __init__(self, port, hand_off):
        asyncore.dispatcher.__init__(self)
        self.hand_off = hand_off
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", port))
        self.listen(128)

    def handle_accepted(self, sock, addr):
        self.hand_off(sock)


async def serve(port):
    loop = asyncio.get_running_loop()
    room = Room()
    stop = asyncio.Event()
    writers = set()
    handlers = set()

    async def client_connected(reader, writer):
        writers.add(writer)
        handlers.add(asyncio.current_task())
        try:
            await session(reader, writer, room, stop)
        finally:
            writers.discard(writer)
            handlers.discard(asyncio.current_task())

    def hand_off(sock):
        # From now on the socket is an asyncio transport on this same loop.
        aio.adopt_stream(sock, client_connected)

    # Created while the loop runs: compat serves it on this loop.
    listener = ChatListener(port, hand_off)
    print("listening", listener.socket.getsockname()[1], flush=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    listener.close()
    room.broadcast("* server stopping")
    room.members.clear()
    for writer in list(writers):
        writer.close()
    if handlers:
        # Let the sessions end on their own rather than be cancelled.
        await asyncio.wait(list(handlers), timeout=5)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    compat.run(serve(port))


if __name__ == "__main__":
    main()
