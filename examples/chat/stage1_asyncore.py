"""Chat server, stage 1 of 3: the legacy original (asyncore + asynchat).

    python examples/chat/stage1_asyncore.py [PORT]     # 0 (the default) = any port

The protocol, the same in all three stages (lines end with LF):

    first line      your nickname; you get "* welcome NAME", the others
                    "* NAME joined"
    /who            "* online: NAME, NAME" (sorted)
    /quit           "* bye", then the server closes your connection; the
                    others get "* NAME left" (also when you just disconnect)
    /shutdown       everyone gets "* server stopping"; the server exits
    anything else   everyone, you included, gets "<NAME> the line"

Empty lines are ignored. Prints ``listening PORT`` when ready; also stops on
SIGINT or SIGTERM.
"""
import asynchat
import asyncore
import signal
import socket
import sys


class Room:
    """Who is here, and how to tell them all something."""

    def __init__(self):
        self.members = {}  # nick -> session

    def join(self, nick, session):
        self.broadcast("* %s joined" % nick)
        self.members[nick] = session

    def leave(self, nick):
        if self.members.pop(nick, None) is not None:
            self.broadcast("* %s left" % nick)

    def broadcast(self, text):
        for session in list(self.members.values()):
            session.send_line(text)

    def who(self):
        return "* online: " + ", ".join(sorted(self.members))


class ChatSession(asynchat.async_chat):
    def __init__(self, sock, server):
        self.server = server
        self.room = server.room
        self.nick = None
        self.received = []
        asynchat.async_chat.__init__(self, sock)
        self.set_terminator(b"\n")

    def send_line(self, text):
        self.push(text.encode("utf-8") + b"\n")

    def collect_incoming_data(self, data):
        self.received.append(data)

    def found_terminator(self):
        line = b"".join(self.received).rstrip(b"\r").decode("utf-8", "replace")
        self.received = []
        if not line:
            return
        if self.nick is None:
            self.nick = line
            self.send_line("* welcome %s" % line)
            self.room.join(line, self)
        elif line == "/who":
            self.send_line(self.room.who())
        elif line == "/quit":
            self.send_line("* bye")
            self.close_when_done()
            self.room.leave(self.nick)
        elif line == "/shutdown":
            self.server.shutdown()
        else:
            self.room.broadcast("<%s> %s" % (self.nick, line))

    def handle_close(self):
        if self.nick is not None:
            self.room.leave(self.nick)
        self.close()


class ChatServer(asyncore.dispatcher):
    def __init__(self, port):
        asyncore.dispatcher.__init__(self)
        self.room = Room()
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", port))
        self.listen(128)

    def handle_accepted(self, sock, addr):
        ChatSession(sock, self)

    def shutdown(self):
        self.room.broadcast("* server stopping")
        for session in list(self.room.members.values()):
            session.close_when_done()
        self.room.members.clear()
        for channel in list(asyncore.socket_map.values()):
            if isinstance(channel, ChatSession) and channel.nick is None:
                channel.close()  # connected, but never said who they are
        self.close()  # loop() returns once the last session is flushed


def serve_until_stopped():
    """Run the loop until the map is empty or SIGINT/SIGTERM arrives.

    The signal handler only records the signal: an exception raised from a
    handler could land in the middle of a channel's close() and leak its
    socket. The loop looks at the flag after every pass (at most 0.2 s).
    """
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, frame: stop.append(signum))
    while asyncore.socket_map and not stop:
        asyncore.loop(timeout=0.2, count=1)
    asyncore.close_all()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ChatServer(port)
    print("listening", server.socket.getsockname()[1], flush=True)
    serve_until_stopped()


if __name__ == "__main__":
    main()
