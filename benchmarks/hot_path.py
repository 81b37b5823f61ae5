"""Instructions per message on the per-event path, counted by callgrind.

Wall-clock figures on a shared 2-core machine move by +-5% between runs;
instruction counts do not. This runs one process that serves N socketpairs
in-process (no load generator): each round sends one request on every
connection, runs one pass of the server, reads every reply. Under
``valgrind --tool=callgrind`` it runs twice with different round counts and
prints the difference per message, so start-up and imports cancel out.
Kernel time is not counted: this measures the Python side only.

    python3.11 benchmarks/hot_path.py                # echo and line, stdlib vs compat
    python3.11 benchmarks/hot_path.py --kinds echo --impls compat,raw
    python3.13 benchmarks/hot_path.py --impls compat # stdlib needs 3.11 or older

Kinds: ``echo`` is benchmarks/_echo_server.py's handler (dispatcher_with_send,
64 B); ``line`` is line_protocol.py's async_chat handler (CRLF request, reply
through a simple_producer). Impls: ``stdlib`` (asyncore/asynchat of this
interpreter, one ``asyncore.poll()`` per pass), ``compat`` (one pass of the
core's selector), ``raw`` (echo only: a bare epoll loop, the floor).

The client's share is counted too and is the same for every impl; the
``raw`` row shows how much of the echo figure it and the system calls are.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAD = b"-" * 40
CONNS = 50


def build(kind: str, impl: str):  # type: ignore[no-untyped-def]
    """Server channels on CONNS socketpairs; returns (one_pass, clients, request)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # raw only needs the channels' sockets: compat's classes do where
        # the stdlib modules are gone (3.12+).
        if impl == "stdlib" or (impl == "raw" and sys.version_info < (3, 12)):
            import asynchat
            import asyncore

            # compat installed makes `import asyncore` its own (the precedence
            # .pth); the run sets COMPAT_PRECEDENCE=0, checked here.
            if impl == "stdlib" and (asyncore.__name__ != "asyncore" or "compat" in asyncore.__file__):
                raise SystemExit("hot_path: `import asyncore` gave compat's module; set COMPAT_PRECEDENCE=0")
        else:
            sys.path.insert(0, str(REPO))
            from compat import asynchat, asyncore, core

    class Echo(asyncore.dispatcher_with_send):
        def handle_read(self):  # type: ignore[no-untyped-def]
            data = self.recv(8192)
            if data:
                self.send(data)

    class Line(asynchat.async_chat):
        def __init__(self, sock, map=None):  # type: ignore[no-untyped-def]
            asynchat.async_chat.__init__(self, sock, map)
            self.ibuffer = []
            self.set_terminator(b"\r\n")

        def collect_incoming_data(self, data):  # type: ignore[no-untyped-def]
            self.ibuffer.append(data)

        def found_terminator(self):  # type: ignore[no-untyped-def]
            line = b"".join(self.ibuffer)
            self.ibuffer = []
            self.push_with_producer(asynchat.simple_producer(b"RSP " + line[4:] + b" " + PAD + b"\r\n"))

    handler = Echo if kind == "echo" else Line
    channel_map = asyncore.socket_map if impl == "compat" else {}
    clients, servers = [], []
    for _ in range(CONNS):
        a, b = socket.socketpair()
        b.setblocking(False)
        servers.append(handler(a, map=channel_map))
        clients.append(b)
    if impl == "raw":
        import select

        ep = select.epoll()
        socks = {ch.socket.fileno(): ch.socket for ch in servers}
        for fd in socks:
            ep.register(fd, select.EPOLLIN)

        def one_pass() -> None:
            for fd, _ in ep.poll(0):
                s = socks[fd]
                s.send(s.recv(8192))

    elif impl == "stdlib":

        def one_pass() -> None:
            asyncore.poll(0.0, channel_map)

    else:
        loop = core.thread_loop()
        server = core.server_for(channel_map)
        server.attach(loop)
        select_once = loop.compat_selector.select  # type: ignore[attr-defined]

        def one_pass() -> None:
            select_once(0)

    request = b"x" * 64 if kind == "echo" else b"REQ 0123456789abcdef0123456789\r\n"
    return one_pass, clients, request


def serve(kind: str, impl: str, rounds: int) -> None:
    """The measured process: ``rounds`` passes, every reply checked."""
    one_pass, clients, request = build(kind, impl)
    one_pass()
    for _ in range(rounds):
        for c in clients:
            c.send(request)
        one_pass()
        for c in clients:
            reply = c.recv(8192)
            if not reply or (kind == "echo" and reply != request):
                sys.exit("wrong reply %r" % reply[:40])


def count(kind: str, impl: str, rounds: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
         "--serve", kind, impl, str(rounds)],
        capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0", COMPAT_PRECEDENCE="0"),
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode or not found:
        raise RuntimeError("%s/%s failed: %s" % (kind, impl, (out.stderr or out.stdout)[-400:]))
    return int(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default="echo,line")
    ap.add_argument("--impls", default="stdlib,compat,raw")
    ap.add_argument("--rounds", type=int, default=200, help="extra rounds of the second run")
    ap.add_argument("--serve", nargs=3, metavar=("KIND", "IMPL", "ROUNDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not on PATH")
    print("python %s, %d connections, instructions per message (callgrind)" % (sys.version.split()[0], CONNS))
    for kind in args.kinds.split(","):
        base = None
        for impl in args.impls.split(","):
            if impl == "raw" and kind != "echo":
                continue
            if impl == "stdlib" and sys.version_info >= (3, 12):
                print("  %-5s %-7s skipped: no stdlib asyncore/asynchat on this Python" % (kind, impl))
                continue
            per = (count(kind, impl, 100 + args.rounds) - count(kind, impl, 100)) / (args.rounds * CONNS)
            if impl == "stdlib":
                base = per
            ratio = "  %.2fx stdlib" % (per / base) if base else ""
            print("  %-5s %-7s %9.0f%s" % (kind, impl, per, ratio))


if __name__ == "__main__":
    main()
