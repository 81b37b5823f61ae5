"""A legacy asyncore HTTP client: one GET, response printed to stdout.

    python examples/asyncore_http_client.py http://127.0.0.1:PORT/path

It connects without blocking, sends an HTTP/1.0 request (so the server closes
the connection after the response: no chunked encoding to undo), collects
the response until the server closes, then prints the status line and the
body. Exit status: 0 for a 2xx answer, 1 otherwise or when the connection
fails.
"""
import asyncore
import socket
import sys
from urllib.parse import urlsplit


class HTTPGet(asyncore.dispatcher_with_send):
    """Fetch one URL; the parsed answer ends up in status/headers/body."""

    def __init__(self, url):
        asyncore.dispatcher_with_send.__init__(self)
        parts = urlsplit(url)
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.chunks = []
        self.status = None
        self.headers = {}
        self.body = b""
        self.error = None
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect((self.host, self.port))

    def handle_connect(self):
        request = (
            "GET %s HTTP/1.0\r\n"
            "Host: %s:%d\r\n"
            "User-Agent: compat-example\r\n"
            "\r\n" % (self.path, self.host, self.port)
        )
        self.send(request.encode("ascii"))

    def handle_read(self):
        data = self.recv(65536)
        if data:
            self.chunks.append(data)

    def handle_close(self):
        self.close()
        raw = b"".join(self.chunks)
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        self.status = lines[0] if lines[0] else None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def handle_error(self):
        # A refused or reset connection arrives here as the current exception.
        self.error = sys.exc_info()[1]
        self.close()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: asyncore_http_client.py URL")
    client = HTTPGet(sys.argv[1])
    asyncore.loop(timeout=5.0)
    if client.error is not None or client.status is None:
        print("failed:", client.error or "no response", file=sys.stderr)
        return 1
    print(client.status)
    sys.stdout.flush()
    sys.stdout.buffer.write(client.body)
    sys.stdout.flush()
    code = client.status.split()[1] if len(client.status.split()) > 1 else ""
    return 0 if code.startswith("2") else 1


if __name__ == "__main__":
    sys.exit(main())
