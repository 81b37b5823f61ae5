"""Test certificates (made here with trustme) and a verifying TLS echo client."""
import socket
import ssl
from typing import Any, Dict, Tuple

import trustme

from support import HOST


def contexts() -> Tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context
    that trusts only the test CA, with verification on as by default."""
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST).configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


def echo_client(port: int, client_ctx: ssl.SSLContext, payload: bytes, result: Dict[str, Any]) -> None:
    """Send ``payload`` over verified TLS, collect the echo into ``result``."""
    try:
        raw = socket.create_connection((HOST, port), timeout=20)
        with client_ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            result["cert"] = tls.getpeercert()
            # One thread only: an SSL socket is not safe to read and write
            # from two threads at once. Chunks small enough that the echo of
            # one never fills both directions' buffers.
            got = bytearray()
            for start in range(0, len(payload), 32768):
                chunk = payload[start:start + 32768]
                tls.sendall(chunk)
                want = start + len(chunk)
                while len(got) < want:
                    data = tls.recv(65536)
                    if not data:
                        raise ConnectionError("server closed after %d bytes" % len(got))
                    got += data
            result["echo"] = bytes(got)
    except Exception as exc:  # the test thread reports it
        result["error"] = exc
