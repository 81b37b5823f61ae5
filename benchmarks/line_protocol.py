"""CRLF line protocol: compat's asynchat facade against CPython 3.11's asynchat.

The same async_chat server (``--serve``, below) runs on stdlib asynchat under
python3.11 and on ``compat.asynchat`` under each interpreter asked for. Each
request is one CRLF line; the reply goes out through a producer
(``push_with_producer(simple_producer(...))``). The load generator
(``--load``, raw epoll, one request in flight per connection, every reply
byte checked) runs in another process; the two are pinned to different CPUs.
Method as in benchmarks/echo.py: the server's user+sys CPU is read from
/proc over each timed window; medians over the runs.

    python benchmarks/line_protocol.py [--scenarios 50,idle] [--duration 3]
        [--repeat 5] [--idle 10000] [--servers stdlib@3.11,compat@3.11,compat@3.13]

Server specs: ``IMPL[+poll][+nagle]@X.Y``; ``+nagle`` runs compat without
TCP_NODELAY (3.11's wire behaviour) to tell the kernel's share from the loop's.
The table splits CPU/request into total and user time.

Scenarios: ``50`` is 50 busy connections; ``idle`` is the same 50 plus
``--idle`` connections that were served once and then stay silent (stdlib
runs with use_poll=True there: select() cannot watch fds past 1023).
"""
import argparse
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from _bench_env import FIXED_MALLOC, die_with_parent, raise_nofile, server_cpu

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PAD = b"-" * 40  # reply = "RSP <request body> <pad>\r\n", 64 bytes
STALL_S = 10.0


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------








# ---------------------------------------------------------------------------
# The server: plain legacy asynchat code, whichever module it is given
# ---------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    """Run the line server until killed; print ``listening PORT`` when ready."""
    die_with_parent()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if args.nofile:
        raise_nofile(args.nofile)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if args.impl == "stdlib":
            import asynchat
            import asyncore
        else:
            from compat import asynchat, asyncore  # type: ignore[no-redef]
    want = "asynchat" if args.impl == "stdlib" else "compat.asynchat"
    if asynchat.__name__ != want:
        sys.exit("expected %s, got %s" % (want, asynchat.__name__))

    class LineHandler(asynchat.async_chat):
        if args.no_nodelay:
            tcp_nodelay = False  # compat only: 3.11's wire behaviour (Nagle on)

        def __init__(self, sock):
            asynchat.async_chat.__init__(self, sock)
            self.ibuffer = []
            self.set_terminator(b"\r\n")

        def collect_incoming_data(self, data):
            self.ibuffer.append(data)

        def found_terminator(self):
            line = b"".join(self.ibuffer)
            self.ibuffer = []
            self.push_with_producer(asynchat.simple_producer(b"RSP " + line[4:] + b" " + PAD + b"\r\n"))

    class LineServer(asyncore.dispatcher):
        def __init__(self):
            asyncore.dispatcher.__init__(self)
            self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
            self.set_reuse_addr()
            self.bind(("127.0.0.1", args.port or 0))  # a fixed one for benchmarks/workers.py
            self.listen(1024)

        def handle_accepted(self, sock, addr):
            LineHandler(sock)

    server = LineServer()
    sys.stderr.write("server: %s from %s, Python %s, use_poll=%s\n"
                     % (asynchat.__name__, asynchat.__file__, sys.version.split()[0], args.poll))  # fmt: skip
    sys.stdout.write("listening %d\n" % server.socket.getsockname()[1])
    sys.stdout.flush()
    asyncore.loop(timeout=30.0, use_poll=args.poll)


# ---------------------------------------------------------------------------
# The load generator
# ---------------------------------------------------------------------------


class BenchError(Exception):
    pass


class Conn:
    __slots__ = ("sock", "fd", "cid", "seq", "expected", "got", "t0")

    def __init__(self, sock: socket.socket, cid: int) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.cid = cid
        self.seq = 0
        self.expected = b""
        self.got = b""
        self.t0 = 0.0


def _request(c: Conn) -> None:
    c.seq += 1
    body = b"%08d %08d" % (c.cid, c.seq)
    c.expected = b"RSP " + body + b" " + PAD + b"\r\n"
    c.got = b""
    c.t0 = time.perf_counter()
    c.sock.send(b"REQ " + body + b"\r\n")  # 23 bytes: always fits


def _pingpong(conns: Dict[int, Conn], ep: "select.epoll", until: float, lat: Optional[list] = None) -> int:
    """One request in flight per connection until ``until``; replies completed.

    Each reply's latency (seconds) goes to ``lat`` when it is a list.
    """
    done = 0
    last = time.perf_counter()
    for c in conns.values():
        _request(c)
    pending = len(conns)
    while pending:
        now = time.perf_counter()
        events = ep.poll(1.0)
        if not events and now - last > STALL_S:
            raise BenchError("stalled: no reply for %.0f s" % STALL_S)
        for fd, _ in events:
            c = conns[fd]
            data = c.sock.recv(4096)
            if not data:
                raise BenchError("server closed connection %d" % c.cid)
            c.got += data
            if len(c.got) < len(c.expected):
                continue
            if c.got != c.expected:
                raise BenchError("connection %d: reply %r, expected %r" % (c.cid, c.got, c.expected))
            done += 1
            last = time.perf_counter()
            if lat is not None:
                lat.append(last - c.t0)
            if last < until:
                _request(c)
            else:
                pending -= 1
    return done


def _open_idle(port: int, n: int) -> List[socket.socket]:
    """``n`` connections, each served one request, then silent."""
    idle: List[socket.socket] = []
    ep = select.epoll()
    try:
        for start in range(0, n, 500):
            pending: Dict[int, Tuple[socket.socket, bytes]] = {}
            for _ in range(min(500, n - start)):
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                s.setblocking(False)
                idle.append(s)
                s.send(b"REQ idle\r\n")
                pending[s.fileno()] = (s, b"")
                ep.register(s.fileno(), select.EPOLLIN)
            deadline = time.monotonic() + 300
            while pending:
                if time.monotonic() > deadline:
                    raise BenchError("idle connections not served in time")
                for fd, _ in ep.poll(1.0):
                    s, got = pending[fd]
                    got += s.recv(4096)
                    if got.endswith(b"\r\n"):
                        ep.unregister(fd)
                        del pending[fd]
                    else:
                        pending[fd] = (s, got)
    finally:
        ep.close()
    return idle


def load(args: argparse.Namespace) -> None:
    """Drive the server; print one JSON line with every timed window."""
    die_with_parent()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    raise_nofile(args.conns + args.idle + 256)
    ep = select.epoll()
    conns: Dict[int, Conn] = {}
    idle: List[socket.socket] = []
    out: dict = {"windows": []}
    try:
        for cid in range(args.conns):
            s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            conns[s.fileno()] = Conn(s, cid)
            ep.register(s.fileno(), select.EPOLLIN)
        _pingpong(conns, ep, time.perf_counter() + args.warmup)
        if args.idle:
            t0 = time.monotonic()
            idle = _open_idle(args.port, args.idle)
            out["idle_setup_s"] = time.monotonic() - t0
            _pingpong(conns, ep, time.perf_counter() + args.warmup)
        for _ in range(args.windows):
            user0, sys0 = server_cpu(args.server_pid)
            t0 = time.perf_counter()
            n = _pingpong(conns, ep, t0 + args.duration)
            elapsed = time.perf_counter() - t0
            user1, sys1 = server_cpu(args.server_pid)
            cpu = (user1 - user0) + (sys1 - sys0)
            out["windows"].append({
                "requests": n, "rate": n / elapsed,
                "server_cpu_per_req_us": cpu / n * 1e6 if n else float("nan"),
                "server_user_per_req_us": (user1 - user0) / n * 1e6 if n else float("nan"),
                "server_cpu_pct": cpu / elapsed * 100,
            })  # fmt: skip
    except (BenchError, OSError) as exc:
        out = {"error": "%s: %s" % (type(exc).__name__, exc)}
    finally:
        for c in conns.values():
            c.sock.close()
        for s in idle:
            s.close()
        ep.close()
    print(json.dumps(out))


# ---------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------


class Spec:
    """One server: ``stdlib@3.11`` or ``compat@3.X`` (``+poll`` for use_poll)."""

    def __init__(self, text: str) -> None:
        head, _, self.version = text.partition("@")
        parts = head.split("+")
        self.impl, self.poll, self.nagle = parts[0], "poll" in parts[1:], "nagle" in parts[1:]
        if self.impl not in ("stdlib", "compat") or not self.version or set(parts[1:]) - {"poll", "nagle"}:
            raise ValueError("bad server spec %r (want IMPL[+poll][+nagle]@X.Y)" % text)
        self.exe = shutil.which("python" + self.version)

    @property
    def label(self) -> str:
        mode = (" poll" if self.poll else " select") if self.impl == "stdlib" else ""
        return "%s %s%s%s" % (self.impl, self.version, mode, " nagle" if self.nagle else "")

    def env(self) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDEVMODE", "PYTHONASYNCIODEBUG")}
        env.update(FIXED_MALLOC)
        # The stdlib server must not see compat's shims; compat's comes from here.
        env["PYTHONPATH"] = str(REPO) if self.impl == "compat" else ""
        return env


def run_once(spec: Spec, args: argparse.Namespace, idle: int, windows: int, cpus: Tuple) -> dict:
    """One server process and one load process; the load's JSON."""
    nofile = 50 + idle + 256
    cmd = [spec.exe, __file__, "--serve", "--impl", spec.impl, "--nofile", str(nofile)]
    if spec.poll:
        cmd.append("--poll")
    if spec.nagle:
        cmd.append("--no-nodelay")
    if cpus[0] is not None:
        cmd += ["--cpu", str(cpus[0])]
    with tempfile.TemporaryFile("w+") as err:
        server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=spec.env(), text=True)
        try:
            ready, _, _ = select.select([server.stdout], [], [], 30)
            line = server.stdout.readline() if ready else ""  # type: ignore[union-attr]
            if not line.startswith("listening "):
                err.seek(0)
                return {"error": "server did not start: " + (err.read().strip()[-300:] or line)}
            lcmd = [sys.executable, __file__, "--load", "--port", line.split()[1],
                    "--server-pid", str(server.pid), "--idle", str(idle), "--windows", str(windows),
                    "--duration", str(args.duration), "--warmup", str(args.warmup)]  # fmt: skip
            if cpus[1] is not None:
                lcmd += ["--cpu", str(cpus[1])]
            budget = 120 + windows * (args.duration + args.warmup) * 3 + (600 if idle else 0)
            proc = subprocess.run(lcmd, capture_output=True, text=True, timeout=budget)
            try:
                return json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                return {"error": "load exit %d: %s" % (proc.returncode, proc.stderr.strip()[-300:])}
        finally:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def summarize(runs: List[dict]) -> dict:
    """Medians over every timed window of ``runs``."""
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        return {"error": errors[0]}
    windows = [w for r in runs for w in r["windows"]]
    med = {k: statistics.median(w[k] for w in windows) for k in windows[0]}
    med["windows"] = len(windows)
    setups = [r["idle_setup_s"] for r in runs if "idle_setup_s" in r]
    if setups:
        med["idle_setup_s"] = statistics.median(setups)
    return med


def harness(args: argparse.Namespace) -> int:
    """Measure every server in every scenario; print medians and ratios."""
    specs = [Spec(t.strip()) for t in args.servers.split(",") if t.strip()]
    for s in specs:
        if s.exe is None:
            print("skipped %s: no python%s on PATH (try PYENV_VERSION)" % (s.label, s.version))
    specs = [s for s in specs if s.exe]
    avail = sorted(os.sched_getaffinity(0))
    cpus = (avail[-1], avail[0]) if len(avail) >= 2 else (None, None)
    print("line protocol benchmark: load on %s (Python %s); server CPU %s, load CPU %s"
          % (sys.executable, sys.version.split()[0], cpus[0], cpus[1]))  # fmt: skip
    results: Dict[str, List[Tuple[Spec, dict]]] = {}
    for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        idle = args.idle if scenario == "idle" else 0
        todo = []
        for s in specs:
            if idle and s.impl == "stdlib" and not s.poll:
                s = Spec("stdlib+poll@" + s.version)  # select() stops at fd 1023
            todo.append(s)
        runs: Dict[int, List[dict]] = {i: [] for i in range(len(todo))}
        if idle:
            # Opening the idle connections dominates: once per server, then
            # several timed windows on it.
            for i, s in enumerate(todo):
                sys.stderr.write("%s: %s ...\n" % (scenario, s.label))
                runs[i].append(run_once(s, args, idle, args.repeat, cpus))
        else:
            # Servers in turn, fresh processes: a noisy spell hits all alike.
            for r in range(args.repeat):
                for i, s in enumerate(todo):
                    sys.stderr.write("%s: %s (%d/%d) ...\n" % (scenario, s.label, r + 1, args.repeat))
                    runs[i].append(run_once(s, args, 0, 1, cpus))
        rows = [(s, summarize(runs[i])) for i, s in enumerate(todo)]
        results[scenario] = rows
        title = "50 connections" + (" + %d idle" % idle if idle else "")
        print("\n== %s (medians of %d windows of %g s)" % (title, args.repeat, args.duration))
        print("%-22s %10s %14s %10s %6s %8s | %8s %12s"
              % ("server", "req/s", "CPU/req", "(user)", "srv%", "setup", "req/s x", "CPU/req x"))  # fmt: skip
        base = next((m for s, m in rows if s.impl == "stdlib" and "error" not in m), None)
        for s, m in rows:
            if "error" in m:
                print("%-22s FAILED: %s" % (s.label, m["error"]))
                continue
            ratio = ("%8.2f %12.2f" % (m["rate"] / base["rate"], m["server_cpu_per_req_us"] / base["server_cpu_per_req_us"])
                     if base else "")  # fmt: skip
            print("%-22s %10.0f %11.1f us %7.1f us %6.0f %7.1fs | %s"
                  % (s.label, m["rate"], m["server_cpu_per_req_us"], m["server_user_per_req_us"],
                     m["server_cpu_pct"], m.get("idle_setup_s", 0.0), ratio))  # fmt: skip
        sys.stdout.flush()
    print("\n== targets (issue 4)")
    for scenario, what, key, ok in (
        ("50", "server CPU/request at 50 connections <= 1.0x stdlib", "server_cpu_per_req_us", lambda r: r <= 1.0),
        ("idle", "requests/s with %d idle connections >= 10x stdlib" % args.idle, "rate", lambda r: r >= 10),
    ):
        rows = results.get(scenario, [])
        base = next((m for s, m in rows if s.impl == "stdlib" and "error" not in m), None)
        for s, m in rows:
            if s.impl == "compat" and base and "error" not in m:
                r = m[key] / base[key]
                print("  %-4s %-58s %s: %.2fx" % ("ok" if ok(r) else "MISS", what, s.label, r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({sc: [{"server": s.label, **m} for s, m in rows] for sc, rows in results.items()}, f, indent=1)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--impl", choices=("stdlib", "compat"), help=argparse.SUPPRESS)
    ap.add_argument("--poll", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-nodelay", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--nofile", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--conns", type=int, default=50, help=argparse.SUPPRESS)
    ap.add_argument("--windows", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--scenarios", default="50,idle", help="comma list of: 50, idle")
    ap.add_argument("--servers", default="stdlib@3.11,compat@3.11,compat@3.13",
                    help="IMPL[+poll][+nagle]@X.Y,...; +nagle: compat without TCP_NODELAY, as 3.11")  # fmt: skip
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per timed window")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds of load before timing")
    ap.add_argument("--repeat", type=int, default=5, help="runs (50) or windows (idle) per server")
    ap.add_argument("--idle", type=int, default=10000, help="idle connections in the idle scenario")
    ap.add_argument("--json", help="also write the medians to this file")
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return 0
    if args.load:
        load(args)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return harness(args)


if __name__ == "__main__":
    sys.exit(main())
