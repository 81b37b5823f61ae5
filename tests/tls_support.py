"""Test certificates (made here with trustme) and a verifying TLS echo client."""
import socket
import ssl
import threading
from typing import Any, Dict, Tuple

HOST = "127.0.0.1"


def contexts() -> Tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context
    that trusts only the test CA, with verification on as by default."""
    import trustme

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
            sender = threading.Thread(target=tls.sendall, args=(payload,))
            sender.start()
            got = bytearray()
            while len(got) < len(payload):
                chunk = tls.recv(65536)
                if not chunk:
                    break
                got += chunk
            sender.join(20)
            result["echo"] = bytes(got)
    except Exception as exc:  # the test thread reports it
        result["error"] = exc
