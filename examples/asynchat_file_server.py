"""A legacy asynchat file server: files streamed by a producer.

    python examples/asynchat_file_server.py PORT DIRECTORY   # PORT 0 = any port

Protocol, one request a line (LF-terminated), answers in order:

    GET name        -> "OK <size>\\n" then exactly <size> bytes of the file
                       "ERR no such file\\n" when DIRECTORY has no such file
    QUIT            -> the server closes the connection
    SHUTDOWN        -> the server closes every connection and exits

Only plain names inside DIRECTORY are served (no "/" and no leading ".").
The file is never read into memory: a producer hands async_chat one 64 KiB
piece whenever the socket can take more, so a slow client costs one buffer,
not one file. The server prints ``listening PORT`` when ready and also
stops on SIGINT or SIGTERM.
"""
import asynchat
import asyncore
import os
import signal
import socket
import sys


class FileProducer:
    """Gives a file's content in pieces; closes the file at the end."""

    def __init__(self, path, size=65536):
        self.file = open(path, "rb")
        self.size = size

    def more(self):
        if self.file.closed:
            return b""
        data = self.file.read(self.size)
        if not data:
            self.file.close()
        return data

    def close(self):
        self.file.close()


class FileChannel(asynchat.async_chat):
    def __init__(self, sock, server):
        self.server = server
        self.received = []
        asynchat.async_chat.__init__(self, sock)
        self.set_terminator(b"\n")

    def collect_incoming_data(self, data):
        self.received.append(data)

    def found_terminator(self):
        line = b"".join(self.received).rstrip(b"\r").decode("utf-8", "replace")
        self.received = []
        command, _, name = line.partition(" ")
        if command == "GET":
            path = self.server.lookup(name)
            if path is None:
                self.push(b"ERR no such file\n")
                return
            producer = FileProducer(path)
            size = os.fstat(producer.file.fileno()).st_size
            self.push(b"OK %d\n" % size)
            self.push_with_producer(producer)
        elif command == "QUIT":
            self.close_when_done()
        elif command == "SHUTDOWN":
            self.close_when_done()
            self.server.shutdown(keep=self)
        else:
            self.push(b"ERR unknown command\n")

    def close(self):
        # Files of answers that will never be sent: close them now.
        for item in list(self.producer_fifo):
            if isinstance(item, FileProducer):
                item.close()
        asynchat.async_chat.close(self)


class FileServer(asyncore.dispatcher):
    def __init__(self, port, directory):
        asyncore.dispatcher.__init__(self)
        self.directory = os.path.abspath(directory)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", port))
        self.listen(128)

    def lookup(self, name):
        if not name or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = os.path.join(self.directory, name)
        return path if os.path.isfile(path) else None

    def handle_accepted(self, sock, addr):
        FileChannel(sock, self)

    def shutdown(self, keep):
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
    if len(sys.argv) != 3:
        sys.exit("usage: asynchat_file_server.py PORT DIRECTORY")
    server = FileServer(int(sys.argv[1]), sys.argv[2])
    print("listening", server.socket.getsockname()[1], flush=True)
    serve_until_stopped()


if __name__ == "__main__":
    main()
