"""A legacy asynchat line server: one command per line, one answer per line.

    python examples/asynchat_line_server.py [PORT]     # 0 (the default) = any port

Commands (a line ends with LF; a CR before it is ignored):

    PING            -> PONG
    ECHO text       -> text
    UPPER text      -> TEXT
    QUIT            -> BYE, then the server closes this connection
    SHUTDOWN        -> BYE, then the server closes every connection and exits
    anything else   -> ERR unknown command

It prints ``listening PORT`` when ready and also stops on SIGINT or SIGTERM.
"""
import asynchat
import asyncore
import signal
import socket
import sys


class LineChannel(asynchat.async_chat):
    """Frames input by b"\\n" and answers each line."""

    def __init__(self, sock, server):
        self.server = server
        self.received = []
        asynchat.async_chat.__init__(self, sock)
        self.set_terminator(b"\n")

    def collect_incoming_data(self, data):
        self.received.append(data)

    def found_terminator(self):
        line = b"".join(self.received).rstrip(b"\r")
        self.received = []
        command, _, argument = line.partition(b" ")
        command = command.upper()
        if command == b"PING":
            self.push(b"PONG\n")
        elif command == b"ECHO":
            self.push(argument + b"\n")
        elif command == b"UPPER":
            self.push(argument.upper() + b"\n")
        elif command == b"QUIT":
            self.push(b"BYE\n")
            self.close_when_done()  # BYE goes out first, then the close
        elif command == b"SHUTDOWN":
            self.push(b"BYE\n")
            self.close_when_done()
            self.server.shutdown(keep=self)
        else:
            self.push(b"ERR unknown command\n")


class LineServer(asyncore.dispatcher):
    def __init__(self, port):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", port))
        self.listen(128)

    def handle_accepted(self, sock, addr):
        LineChannel(sock, self)

    def shutdown(self, keep):
        """Close everything but ``keep``; loop() returns once it is closed too."""
        for channel in list(asyncore.socket_map.values()):
            if channel is not keep:
                channel.close()


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
    server = LineServer(port)
    print("listening", server.socket.getsockname()[1], flush=True)
    serve_until_stopped()


if __name__ == "__main__":
    main()
