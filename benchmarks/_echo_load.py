"""Load generator for benchmarks/echo.py: echo ping-pong over raw epoll.

    python _echo_load.py --port P --server-pid PID --conns N --size B
                         [--idle N] [--duration S] [--warmup S] [--windows N]
                         [--cpu N]

Each active connection has exactly one message in flight: send it, wait
until the whole echo is back, compare every byte, send the next.  Messages
differ per connection and per sequence number (a header plus a shifting
window of random bytes), so a lost, repeated or reordered chunk is caught.

Idle connections are opened after a warm-up; each sends one byte and waits
for its echo, so the server has surely accepted it, then stays silent.

The server's CPU time (/proc/PID/stat) is read at the start and the end of
the timed window only; its RSS (/proc/PID/status) before and after the idle
connections and at the end.  One JSON object goes to stdout; on failure it
holds ``error`` and the exit status is 2.

Plain ``select.epoll`` and preallocated buffers keep the client cheap, and it
is the same code for every server.
"""
import argparse
import errno
import json
import os
import select
import socket
import struct
import sys
import time

from _bench_env import die_with_parent, raise_nofile, server_cpu

EPOLLIN = select.EPOLLIN
EPOLLOUT = select.EPOLLOUT
HEADER = struct.Struct("<IQ")  # connection id, sequence number
STALL_S = 10.0  # no completed message for this long: the server is stuck


class BenchError(Exception):
    pass






_TICK = os.sysconf("SC_CLK_TCK")




def machine_busy() -> float:
    """CPU seconds all CPUs spent not idle since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is inside user)
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _TICK


def server_mem(pid: int) -> dict:
    """VmRSS and VmHWM of *pid*, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


class Conn:
    __slots__ = ("sock", "fd", "cid", "seq", "expected", "buf", "view", "got", "t0", "out", "busy")

    def __init__(self, sock: socket.socket, cid: int, size: int) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.cid = cid
        self.seq = 0
        self.expected = b""
        self.buf = bytearray(size)
        self.view = memoryview(self.buf)
        self.got = 0
        self.t0 = 0.0
        self.out = None  # unsent tail of the current message
        self.busy = False  # a message is in flight


class Load:
    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.size = size
        # A shifting window into random bytes: cheap to build, unique enough.
        self.base = os.urandom(size + 256)
        self.ep = select.epoll()
        self.conns = {}  # fd -> Conn
        self.bytes_checked = 0

    def connect_active(self, n: int) -> None:
        for cid in range(n):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            # The client must not add Nagle delays of its own.
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            c = Conn(s, cid, self.size)
            self.conns[c.fd] = c
            self.ep.register(c.fd, EPOLLIN)

    def _start(self, c: Conn) -> None:
        c.seq += 1
        off = c.seq % 251
        msg = HEADER.pack(c.cid, c.seq) + self.base[off : off + self.size - HEADER.size]
        c.expected = msg
        c.got = 0
        c.busy = True
        c.t0 = time.perf_counter()
        try:
            n = c.sock.send(msg)
        except BlockingIOError:
            n = 0
        if n < len(msg):
            c.out = memoryview(msg)[n:]
            self.ep.modify(c.fd, EPOLLIN | EPOLLOUT)

    def run(self, until: float, lat, send_more: bool = True) -> int:
        """Ping-pong until *until* (perf_counter); return messages completed.

        Latencies go to *lat* when it is a list.  With *send_more* false,
        only the messages in flight are finished (a drain).
        """
        conns = self.conns
        poll = self.ep.poll
        perf = time.perf_counter
        size = self.size
        if send_more:
            for c in conns.values():
                if not c.busy:
                    self._start(c)
        done = 0
        inflight = sum(1 for c in conns.values() if c.busy)
        last_progress = perf()
        while True:
            now = perf()
            if now >= until or (not send_more and inflight == 0):
                return done
            events = poll(min(until - now, 1.0))
            if not events:
                if perf() - last_progress > STALL_S:
                    raise BenchError(
                        "stalled: no echo for %.0f s with %d messages in flight" % (STALL_S, inflight)
                    )
                continue
            for fd, ev in events:
                c = conns[fd]
                if ev & EPOLLOUT and c.out is not None:
                    try:
                        n = c.sock.send(c.out)
                    except BlockingIOError:
                        n = 0
                    c.out = c.out[n:] if n < len(c.out) else None
                    if c.out is None:
                        self.ep.modify(fd, EPOLLIN)
                if not ev & (EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    continue
                try:
                    n = c.sock.recv_into(c.view[c.got :])
                except BlockingIOError:
                    continue
                if n == 0:
                    if c.busy and c.got < size:
                        raise BenchError(
                            "server closed connection %d after %d of %d bytes of message %d"
                            % (c.cid, c.got, size, c.seq)
                        )
                    raise BenchError("server closed connection %d" % c.cid)
                if not c.busy:
                    raise BenchError("connection %d: %d unexpected bytes" % (c.cid, n))
                c.got += n
                if c.got < size:
                    continue
                t1 = perf()
                if c.buf != c.expected:
                    bad = next(i for i in range(size) if c.buf[i] != c.expected[i])
                    raise BenchError(
                        "connection %d message %d: wrong byte at offset %d" % (c.cid, c.seq, bad)
                    )
                self.bytes_checked += size
                c.busy = False
                done += 1
                last_progress = t1
                if lat is not None:
                    lat.append(t1 - c.t0)
                if send_more:
                    self._start(c)
                else:
                    inflight -= 1

    def check_quiet(self) -> None:
        """After a drain nothing more may arrive: an echo sent twice shows here."""
        for c in self.conns.values():
            try:
                extra = c.sock.recv(65536)
            except BlockingIOError:
                continue
            raise BenchError("connection %d: %d bytes after the last echo" % (c.cid, len(extra)))

    def open_idle(self, n: int, batch: int = 500) -> list:
        """Open *n* connections, each echoing one byte once; keep them open."""
        idle = []
        ep = select.epoll()
        deadline = time.monotonic() + 300
        try:
            for start in range(0, n, batch):
                pending = {}
                for _ in range(min(batch, n - start)):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setblocking(False)
                    err = s.connect_ex(("127.0.0.1", self.port))
                    if err not in (0, errno.EINPROGRESS):
                        s.close()
                        raise BenchError("idle connect #%d: %s" % (len(idle), os.strerror(err)))
                    idle.append(s)
                    pending[s.fileno()] = s
                    ep.register(s.fileno(), EPOLLOUT)
                sent = set()
                while pending:
                    if time.monotonic() > deadline:
                        raise BenchError(
                            "idle connections: %d of %d not echoed in time" % (len(pending) + n - len(idle), n)
                        )
                    for fd, ev in ep.poll(1.0):
                        s = pending[fd]
                        if fd not in sent:
                            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                            if err:
                                raise BenchError("idle connect: %s" % os.strerror(err))
                            s.send(b"i")
                            sent.add(fd)
                            ep.modify(fd, EPOLLIN)
                            continue
                        data = s.recv(16)
                        if data != b"i":
                            raise BenchError("idle connection: echo %r instead of b'i'" % data)
                        ep.unregister(fd)
                        del pending[fd]
        finally:
            ep.close()
        return idle


def pct(sorted_vals: list, q: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def timed_window(load: Load, pid: int, duration: float) -> dict:
    """Ping-pong for *duration* seconds; the server's CPU over exactly that."""
    perf = time.perf_counter
    lat = []
    busy0 = machine_busy()
    cpu0 = server_cpu(pid)
    own0 = os.times()
    t0 = perf()
    n = load.run(t0 + duration, lat)
    t1 = perf()
    cpu1 = server_cpu(pid)
    own1 = os.times()
    busy1 = machine_busy()
    user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    cpu = user + system
    elapsed = t1 - t0
    own = (own1.user - own0.user) + (own1.system - own0.system)
    lat.sort()
    return dict(
        msgs=n,
        elapsed_s=elapsed,
        rate=n / elapsed,
        p50_us=pct(lat, 0.50) * 1e6,
        p99_us=pct(lat, 0.99) * 1e6,
        max_us=(lat[-1] if lat else float("nan")) * 1e6,
        server_cpu_s=cpu,
        server_cpu_per_msg_us=cpu / n * 1e6 if n else float("nan"),
        server_user_per_msg_us=user / n * 1e6 if n else float("nan"),
        server_sys_per_msg_us=system / n * 1e6 if n else float("nan"),
        server_cpu_pct=cpu / elapsed * 100,
        client_cpu_pct=own / elapsed * 100,
        # Everything else the machine did meanwhile (other programs, softirq
        # threads), in % of one CPU: a busy machine makes the numbers noisy.
        other_cpu_pct=max(0.0, (busy1 - busy0) - cpu - own) / elapsed * 100,
        hwm_kb=server_mem(pid)["VmHWM"],
    )


def bench(args) -> dict:
    pid = args.server_pid
    load = Load(args.port, args.size)
    load.connect_active(args.conns)
    perf = time.perf_counter
    load.run(perf() + args.warmup, None)
    res = {}
    mem0 = server_mem(pid)
    res["rss_before_idle_kb"] = mem0["VmRSS"]
    res["hwm_before_idle_kb"] = mem0["VmHWM"]
    idle = []
    if args.idle:
        t = perf()
        idle = load.open_idle(args.idle)
        res["idle_setup_s"] = perf() - t
        mem1 = server_mem(pid)
        res["rss_after_idle_kb"] = mem1["VmRSS"]
        res["hwm_after_idle_kb"] = mem1["VmHWM"]
        res["hwm_per_idle_b"] = (mem1["VmHWM"] - mem0["VmHWM"]) * 1024.0 / args.idle
        res["rss_per_idle_b"] = (mem1["VmRSS"] - mem0["VmRSS"]) * 1024.0 / args.idle
        # Settle again: the server just did a burst of accepts.
        load.run(perf() + min(args.warmup, 0.5), None)

    res["windows"] = [timed_window(load, pid, args.duration) for _ in range(args.windows)]
    load.run(perf() + STALL_S * 2, None, send_more=False)
    late = sum(1 for c in load.conns.values() if c.busy)
    if late:
        raise BenchError("%d echoes still missing %.0f s after the last window" % (late, STALL_S * 2))
    load.check_quiet()
    res["bytes_checked"] = load.bytes_checked
    res["idle_open"] = len(idle)
    res["hwm_kb"] = server_mem(pid)["VmHWM"]
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--idle", type=int, default=0)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--windows", type=int, default=1, help="timed windows in a row")
    ap.add_argument("--cpu", type=int, default=None)
    args = ap.parse_args()
    if args.size < HEADER.size:
        ap.error("--size must be at least %d" % HEADER.size)
    die_with_parent()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        raise_nofile(args.conns + args.idle + 64)
        res = bench(args)
    except (BenchError, OSError) as exc:
        print(json.dumps({"error": "%s: %s" % (type(exc).__name__, exc)}))
        return 2
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
