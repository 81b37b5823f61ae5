"""Echo server for benchmarks/echo.py: the same asyncore code on either module.

    python _echo_server.py --impl stdlib|compat [--poll] [--uvloop]
                           [--nodelay] [--cpu N] [--nofile N]

Prints ``listening PORT`` on stdout once it accepts connections, then serves
until it is killed.  What it is (module file, Python version, loop flavour)
goes to stderr, so the harness can check it ran what it meant to.
"""
import argparse
import os
import socket
import sys
import warnings

from _bench_env import die_with_parent, raise_nofile






def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=("stdlib", "compat", "raw"), required=True)
    ap.add_argument("--poll", action="store_true", help="asyncore.loop(use_poll=True)")
    ap.add_argument("--uvloop", action="store_true", help="uvloop.install() first")
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--nofile", type=int, default=0)
    ap.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on accepted sockets")
    ap.add_argument("--recv-size", type=int, default=8192)
    ap.add_argument("--port", type=int, default=0, help="a fixed port (benchmarks/workers.py)")
    args = ap.parse_args()

    die_with_parent()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.nofile:
        raise_nofile(args.nofile)

    if args.impl == "raw":
        raw_epoll_echo(args.recv_size)
        return

    # 3.11's asyncore warns on import; the benchmark knows.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if args.impl == "stdlib":
            import asyncore
        else:
            from compat import asyncore
    if args.impl == "stdlib" and asyncore.__name__ != "asyncore":
        sys.exit("expected the stdlib asyncore, got %r" % asyncore.__name__)
    if args.impl == "compat" and asyncore.__name__ != "compat.asyncore":
        sys.exit("expected compat.asyncore, got %r" % asyncore.__name__)

    flavour = "default"
    if args.uvloop:
        import uvloop

        uvloop.install()
        flavour = "uvloop %s" % uvloop.__version__

    recv_size = args.recv_size
    nodelay = args.nodelay

    # The server below is the classic one from the asyncore documentation:
    # nothing in it knows which asyncore it runs on.

    class EchoHandler(asyncore.dispatcher_with_send):
        def handle_read(self):
            data = self.recv(recv_size)
            if data:
                self.send(data)

        def handle_close(self):
            self.close()

    class EchoServer(asyncore.dispatcher):
        def __init__(self, host, port):
            asyncore.dispatcher.__init__(self)
            self.create_socket()
            self.set_reuse_addr()
            self.bind((host, port))
            self.listen(1024)

        def handle_accepted(self, sock, addr):
            if nodelay:  # only with --nodelay: shows what Nagle costs
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            EchoHandler(sock)

    server = EchoServer("127.0.0.1", args.port)
    port = server.socket.getsockname()[1]
    sys.stderr.write(
        "server: %s from %s, Python %s, use_poll=%s, loop=%s, nodelay=%s\n"
        % (asyncore.__name__, asyncore.__file__, sys.version.split()[0], args.poll, flavour, nodelay)
    )
    sys.stderr.flush()
    sys.stdout.write("listening %d\n" % port)
    sys.stdout.flush()
    asyncore.loop(timeout=30.0, use_poll=args.poll)


def raw_epoll_echo(recv_size: int) -> None:
    """The floor: a hand-written epoll echo loop, no framework at all.

    No server with asyncore's interface (a Python call per event, recv and
    send as Python methods) can cost less per message than this.
    """
    import select

    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1024)
    lsock.setblocking(False)
    ep = select.epoll()
    ep.register(lsock.fileno(), select.EPOLLIN)
    socks = {}
    lfd = lsock.fileno()
    sys.stderr.write("server: raw epoll echo, Python %s\n" % sys.version.split()[0])
    sys.stderr.flush()
    sys.stdout.write("listening %d\n" % lsock.getsockname()[1])
    sys.stdout.flush()
    while True:
        for fd, ev in ep.poll(30.0):
            if fd == lfd:
                try:
                    conn, _ = lsock.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                socks[conn.fileno()] = conn
                ep.register(conn.fileno(), select.EPOLLIN)
                continue
            s = socks[fd]
            data = s.recv(recv_size)
            if data:
                s.send(data)  # 64 B to 16 KiB into an empty buffer: taken whole
            else:
                ep.unregister(fd)
                del socks[fd]
                s.close()


if __name__ == "__main__":
    main()
