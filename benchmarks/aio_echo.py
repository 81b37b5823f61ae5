"""asyncio on compat's loop, and the asyncore facade on uvloop: server CPU per message.

Two comparisons, each measured in the same run, alternating the contenders
on every repeat so drift on the machine hits both alike:

A. an asyncio ``Protocol`` echo server on compat's loop (``CoreEventLoop``,
   served by ``asyncore.loop()`` with legacy channels in the shared map: a
   listener and idle connections) against the same server on the stock
   asyncio loop. Target: compat / stock <= 1.03.
B. the classic asyncore echo server (benchmarks/_echo_server.py) on
   ``compat.asyncore`` with uvloop against stdlib asyncore, both under
   python3.11. Target: compat+uvloop / stdlib <= 0.80.

Server and load generator (benchmarks/_echo_load.py: epoll ping-pong, every
byte checked) run in separate processes pinned to different CPUs; the
server's CPU comes from /proc/PID/stat over the timed window only.

    python benchmarks/aio_echo.py [--duration 2] [--repeat 5] [--conns 50]
                                  [--size 64] [--polled N] [--python PATH]
                                  [--python311 PATH] [--only A|B]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LOAD = HERE / "_echo_load.py"
ASYNCORE_SERVER = HERE / "_echo_server.py"
SERVER_CPU, LOAD_CPU = 0, 1
IDLE_LEGACY = 100  # idle legacy connections kept in the map during A


# ---------------------------------------------------------------------------
# Server side of A (this file run with --serve-protocol)
# ---------------------------------------------------------------------------


def serve_protocol(loop_kind: str, polled: int = 0) -> None:
    """An asyncio Protocol echo server on the stock loop or compat's."""
    import asyncio
    import socket

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)  # type: ignore[attr-defined]

    if loop_kind == "stock":
        loop = asyncio.SelectorEventLoop()
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(loop.create_server(Echo, "127.0.0.1", 0))
        announce(server.sockets[0].getsockname()[1], f"stock {type(loop).__name__}")
        loop.run_forever()
        return

    from compat import aio, asyncore

    loop = aio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(Echo, "127.0.0.1", 0))

    # The legacy side of the map: a listening dispatcher and idle channels,
    # all registered with the same loop while the asyncio echo runs. They
    # are dispatcher_with_send (stock predicates, like async_chat): the core
    # tracks their interest by events. A channel overriding readable() or
    # writable() is asked before every poll, as asyncore did; --polled adds
    # some of those to see that cost.
    class Idle(asyncore.dispatcher_with_send):
        def handle_read(self) -> None:
            self.recv(1)

    class Polled(Idle):
        def writable(self) -> bool:
            return False

    class Listener(asyncore.dispatcher):
        def __init__(self) -> None:
            super().__init__()
            self.create_socket()
            self.bind(("127.0.0.1", 0))
            self.listen(5)

    Listener()
    peers = []
    for i in range(IDLE_LEGACY):
        a, b = socket.socketpair()
        (Polled if i < polled else Idle)(a)
        peers.append(b)
    kinds: Dict[str, int] = {}
    for ch in asyncore.socket_map.values():
        kinds[type(ch).__name__] = kinds.get(type(ch).__name__, 0) + 1
    announce(server.sockets[0].getsockname()[1], f"compat {type(loop).__name__}, map {kinds}")
    asyncore.loop(timeout=30.0)


def announce(port: int, what: str) -> None:
    sys.stderr.write(f"server: {what}, Python {sys.version.split()[0]}\n")
    sys.stderr.flush()
    sys.stdout.write(f"listening {port}\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------


def env() -> Dict[str, str]:
    from _bench_env import FIXED_MALLOC  # here: the served copy of this file runs via -c

    e = dict(os.environ, **FIXED_MALLOC)
    # Only the repository: the shims would shadow stdlib asyncore in B.
    e["PYTHONPATH"] = str(REPO)
    e.pop("PYTHONDEVMODE", None)
    e.pop("PYTHONASYNCIODEBUG", None)
    return e


def measure(server_cmd: List[str], python: str, args: argparse.Namespace) -> Dict[str, float]:
    """Start a server pinned to one CPU, load it from another; the load's JSON."""
    cmd = [python, "-c", f"import os; os.sched_setaffinity(0, {{{SERVER_CPU}}}); import runpy, sys; "
           f"sys.argv = {server_cmd!r}; sys.path.insert(0, os.path.dirname(sys.argv[0])); "
           f"runpy.run_path(sys.argv[0], run_name='__main__')"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("listening "):
            server.kill()
            raise RuntimeError(f"server did not start: {line!r} {server.stderr.read()}")  # type: ignore[union-attr]
        port = int(line.split()[1])
        load = subprocess.run(
            [sys.executable, str(LOAD), "--port", str(port), "--server-pid", str(server.pid),
             "--conns", str(args.conns), "--size", str(args.size), "--duration", str(args.duration),
             "--cpu", str(LOAD_CPU)],
            capture_output=True, text=True, timeout=args.duration * 4 + 60,
        )
        res = json.loads(load.stdout)
        if "error" in res:
            raise RuntimeError(res["error"])
        return res["windows"][0]
    finally:
        server.kill()
        _, err = server.communicate()
        measure.last_banner = next((ln for ln in err.splitlines() if ln.startswith("server:")), "")  # type: ignore[attr-defined]


def compare(title: str, contenders: Dict[str, List[str]], pythons: Dict[str, str], args: argparse.Namespace) -> Dict[str, float]:
    """Median server CPU per message for each contender, alternating order."""
    print(f"\n{title}")
    samples: Dict[str, List[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for i in range(args.repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            w = measure(contenders[name], pythons[name], args)
            samples[name].append(w["server_cpu_per_msg_us"])
            print(f"  run {i + 1} {name:<26} {w['server_cpu_per_msg_us']:7.2f} us/msg  "
                  f"{w['rate']:9.0f} msg/s  server {w['server_cpu_pct']:5.1f}% CPU  "
                  f"[{measure.last_banner}]")  # type: ignore[attr-defined]
            sys.stdout.flush()
    medians = {name: statistics.median(v) for name, v in samples.items()}
    for name, m in medians.items():
        print(f"  median {name:<23} {m:7.2f} us/msg")
    return medians


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve-protocol", choices=("stock", "compat"), help=argparse.SUPPRESS)
    ap.add_argument("--polled", type=int, default=0, help="legacy channels overriding writable() in A (default 0)")
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--python", default=sys.executable, help="interpreter for A (default: this one)")
    ap.add_argument("--python311", default=shutil.which("python3.11"), help="python3.11 with uvloop, for B")
    ap.add_argument("--only", choices=("A", "B"))
    args = ap.parse_args()
    if args.serve_protocol:
        serve_protocol(args.serve_protocol, args.polled)
        return 0
    if len(os.sched_getaffinity(0)) < 2:
        print("note: fewer than 2 CPUs; server and load will share one", file=sys.stderr)
    results = []
    if args.only in (None, "A"):
        me = str(Path(__file__).resolve())
        m = compare(
            f"A. asyncio Protocol echo, {args.conns} conns x {args.size} B, server CPU per message",
            {"stock asyncio loop": [me, "--serve-protocol", "stock"],
             "compat loop + legacy map": [me, "--serve-protocol", "compat", "--polled", str(args.polled)]},
            {"stock asyncio loop": args.python, "compat loop + legacy map": args.python},
            args,
        )
        results.append(("A", "compat loop + legacy map / stock loop", m["compat loop + legacy map"] / m["stock asyncio loop"], 1.03))
    if args.only in (None, "B"):
        py = args.python311
        if not py or not _has(py, "uvloop") or not _has(py, "asyncore"):
            print("\nB. skipped: need --python311 pointing at a python3.11 with uvloop installed")
        else:
            s = str(ASYNCORE_SERVER)
            m = compare(
                f"B. asyncore echo (python3.11), {args.conns} conns x {args.size} B, server CPU per message",
                {"stdlib asyncore": [s, "--impl", "stdlib"],
                 "compat.asyncore + uvloop": [s, "--impl", "compat", "--uvloop"]},
                {"stdlib asyncore": py, "compat.asyncore + uvloop": py},
                args,
            )
            results.append(("B", "compat.asyncore on uvloop / stdlib asyncore", m["compat.asyncore + uvloop"] / m["stdlib asyncore"], 0.80))
    print("\nratios (medians, same run):")
    for key, what, ratio, target in results:
        met = ratio <= target
        print(f"  {key}. {what:<46} {ratio:5.3f}x  (target <= {target:.2f}x: {'met' if met else 'NOT met'})")
    # As echo.py: the exit status says whether it ran, not how fast.
    return 0


def _has(python: str, module: str) -> bool:
    probe = subprocess.run([python, "-W", "ignore", "-c", f"import {module}"], capture_output=True, env=env())
    return probe.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
