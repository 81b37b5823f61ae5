"""TLS through the asyncore facade, written the way legacy TLS servers do it.

The handshake runs on a non-blocking socket from the event handlers, with
SSLWantRead/SSLWantWrite steering the interest; the client verifies the
server certificate (made here with trustme, nothing on disk is trusted).
"""
import socket
import ssl
import threading

import pytest

from support import HOST
from support.tls import contexts, echo_client

from compat import asyncore, core



@pytest.fixture(scope="module")
def certs():
    return contexts()


class TLSEcho(asyncore.dispatcher):
    """An echo handler that does its own TLS handshake and buffering."""

    def __init__(self, sock, ctx):
        tls = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        super().__init__(tls)
        self.handshaking = True
        self.want_write = False
        self.out = b""

    def writable(self):
        return self.want_write or bool(self.out)

    def _handshake(self):
        try:
            self.socket.do_handshake()
        except ssl.SSLWantReadError:
            self.want_write = False
        except ssl.SSLWantWriteError:
            self.want_write = True
        except (ssl.SSLError, OSError):
            self.handle_close()
        else:
            self.handshaking = False
            self.want_write = False

    def handle_read_event(self):
        if self.handshaking:
            self._handshake()
        else:
            super().handle_read_event()

    def handle_write_event(self):
        if self.handshaking:
            self._handshake()
        else:
            super().handle_write_event()

    def handle_read(self):
        try:
            data = self.recv(4096)  # small reads: the rest waits in the TLS buffer
        except ssl.SSLWantReadError:
            return
        self.out += data
        self.handle_write()

    def handle_write(self):
        if not self.out:
            return
        try:
            sent = self.send(self.out)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return
        self.out = self.out[sent:]

    def handle_close(self):
        self.close()


class TLSListener(asyncore.dispatcher):
    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.create_socket()
        self.bind((HOST, 0))
        self.listen(5)
        self.port = self.socket.getsockname()[1]

    def handle_accepted(self, sock, addr):
        TLSEcho(sock, self.ctx)


def test_tls_echo_with_verified_certificate(clean_map, certs):
    server_ctx, client_ctx = certs
    server = TLSListener(server_ctx)
    payload = bytes(range(256)) * 4096  # 1 MiB: many records, TLS-buffered reads
    result = {}

    def client():
        echo_client(server.port, client_ctx, payload, result)
        server.close()

    thread = threading.Thread(target=client)
    core.thread_loop().call_soon(thread.start)
    try:
        asyncore.loop(timeout=5)  # ends when the listener and the handler closed
    finally:
        thread.join(20)
    assert "error" not in result, result.get("error")
    assert result["echo"] == payload
    assert result["cert"]["subjectAltName"] == (("IP Address", HOST),)


def test_tls_client_rejects_an_untrusted_server(clean_map, certs):
    server_ctx, _ = certs
    stranger_ctx = ssl.create_default_context()  # does not trust the test CA
    server = TLSListener(server_ctx)
    result = {}

    def client():
        try:
            raw = socket.create_connection((HOST, server.port), timeout=20)
            with stranger_ctx.wrap_socket(raw, server_hostname=HOST):
                result["connected"] = True
        except ssl.SSLCertVerificationError as exc:
            result["refused"] = exc
        finally:
            server.close()

    thread = threading.Thread(target=client)
    core.thread_loop().call_soon(thread.start)
    try:
        asyncore.loop(timeout=5)
    finally:
        thread.join(20)
    assert "refused" in result and "connected" not in result
