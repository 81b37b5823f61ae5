"""Chat server, stage 3 of 3: plain asyncio, compat no longer imported.

    python examples/chat/stage3_asyncio.py [PORT]     # 0 (the default) = any port

Same protocol as stage1_asyncore.py (see there). Compared with stage 2 the
legacy listener is gone: ``asyncio.start_server`` accepts and calls
``session()`` directly. Nothing here needs compat; it runs on any Python 3.9+.
"""
import asyncio
import signal
import sys


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
        writer.close()  # what is buffered ("* bye") is flushed first


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

    server = await asyncio.start_server(client_connected, "127.0.0.1", port)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    room.broadcast("* server stopping")
    room.members.clear()
    for writer in list(writers):
        writer.close()
    if handlers:
        # Let the sessions end on their own rather than be cancelled.
        await asyncio.wait(list(handlers), timeout=5)
    await server.wait_closed()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    asyncio.run(serve(port))


if __name__ == "__main__":
    main()
