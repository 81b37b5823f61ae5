"""A legacy asyncore echo server, unchanged from the Python 3.x-era original.

Every byte a client sends comes straight back. The listener accepts in
handle_accept(); each connection is a plain dispatcher that keeps its own
output buffer and tells the loop, through writable(), when it has something
to send.

    python examples/asyncore_echo_server.py [PORT]     # 0 (the default) = any port

It prints ``listening PORT`` once it accepts connections and stops on
SIGINT (Ctrl-C) or SIGTERM. On Python 3.12+ ``import asyncore`` is compat's
drop-in module; ``python -m compat run`` works too.
"""
import asyncore
import signal
import socket
import sys


class EchoChannel(asyncore.dispatcher):
    """One client connection: what comes in is queued to go back out."""

    def __init__(self, sock):
        self.pending = b""  # bytes received and not yet sent back
        asyncore.dispatcher.__init__(self, sock)

    def handle_read(self):
        self.pending += self.recv(65536)

    def writable(self):
        return len(self.pending) > 0

    def handle_write(self):
        sent = self.send(self.pending)
        self.pending = self.pending[sent:]

    def handle_close(self):
        self.close()


class Listener(asyncore.dispatcher):
    """The listening socket: one EchoChannel per accepted connection."""

    def __init__(self, port):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", port))
        self.listen(128)

    def handle_accept(self):
        pair = self.accept()
        if pair is None:
            return  # the client went away before we got to it
        conn, _addr = pair
        EchoChannel(conn)


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
    listener = Listener(port)
    print("listening", listener.socket.getsockname()[1], flush=True)
    serve_until_stopped()


if __name__ == "__main__":
    main()
