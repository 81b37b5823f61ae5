"""``compat run --workers N``: one unchanged server on 1, 2 and ``auto`` workers.

Two unchanged legacy servers, the asyncore echo server of benchmarks/echo.py
(``_echo_server.py``) and the asynchat line server of
benchmarks/line_protocol.py (its ``--serve`` mode), each run under
``python -m compat run --workers N`` on a fixed port. The load is spread over
``--loaders`` processes (each the load generator of the benchmark the server
comes from: one message in flight per connection, every reply byte checked),
all timing the same window of the system-wide monotonic clock.

    python benchmarks/workers.py [--servers echo,line] [--workers 1,2,auto]
        [--loaders 2] [--conns 50] [--duration 3] [--warmup 0.5] [--repeat 1]
        [--json results.json]

Per server and worker count: msg/s, p50/p99 latency, the workers' CPU per
message (user+sys of every worker, from /proc, over the window), the
clients' CPU and the whole machine's. Ratios are against 1 worker measured in
the same run. When the machine's CPUs were all busy, the msg/s ratio
measures the machine, not the server, and the table says so: on a 2-core
machine the loaders and the workers share the cores, so CPU per message is
the figure that carries over to a machine with spare cores.
"""
import argparse
import array
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from _bench_env import FIXED_MALLOC, raise_nofile, server_cpu
from _echo_load import BenchError, Load, machine_busy, pct

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVERS = {
    # name: (program and its arguments before the port, what it is)
    "echo": ([str(HERE / "_echo_server.py"), "--impl", "compat"], "asyncore echo, 64 B"),
    "line": ([str(HERE / "line_protocol.py"), "--serve", "--impl", "compat"], "asynchat CRLF lines"),
}
SATURATED = 0.9  # of the CPUs it can use: a process (or the machine) at this is the bottleneck


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> Dict[str, str]:
    e = dict(os.environ, **FIXED_MALLOC)
    paths = [str(REPO)] + [p for p in e.get("PYTHONPATH", "").split(os.pathsep) if p]
    e["PYTHONPATH"] = os.pathsep.join(paths)
    e.pop("PYTHONDEVMODE", None)
    e.pop("PYTHONASYNCIODEBUG", None)
    return e


# -- one load process ----------------------------------------------------------


def load_main(args: argparse.Namespace) -> int:
    """Drive the server from ``--start`` to ``--end`` (monotonic); print JSON, write latencies."""
    raise_nofile(args.conns + 256)
    shift = time.perf_counter() - time.monotonic()
    start, end = args.start + shift, args.end + shift
    lat: List[float] = []
    out: dict = {}
    try:
        if args.load == "echo":
            load = Load(args.port, 64)
            load.connect_active(args.conns)
            load.run(start, None)
            own0 = os.times()
            n = load.run(end, lat)
            own1 = os.times()
            load.run(end, None, send_more=False)
            for c in load.conns.values():
                c.sock.close()
            load.ep.close()
        else:
            import select

            from line_protocol import BenchError as LineError
            from line_protocol import Conn, _pingpong

            ep = select.epoll()
            conns: Dict[int, Conn] = {}
            try:
                for cid in range(args.conns):
                    s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    s.setblocking(False)
                    conns[s.fileno()] = Conn(s, cid)
                    ep.register(s.fileno(), select.EPOLLIN)
                _pingpong(conns, ep, start)
                own0 = os.times()
                n = _pingpong(conns, ep, end, lat)
                own1 = os.times()
            except LineError as exc:
                raise BenchError(str(exc)) from None
            finally:
                for c in conns.values():
                    c.sock.close()
                ep.close()
        out = dict(msgs=n, cpu_s=(own1.user - own0.user) + (own1.system - own0.system))
        with open(args.lat, "wb") as f:
            array.array("d", lat).tofile(f)
    except (BenchError, OSError) as exc:
        out = {"error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(out))
    return 0


# -- the harness -----------------------------------------------------------------


def _cpu(pids: List[int]) -> float:
    total = 0.0
    for pid in pids:
        user, system = server_cpu(pid)
        total += user + system
    return total


def run_once(kind: str, workers: str, args: argparse.Namespace, tmp: str) -> dict:
    port = free_port()
    program, _ = SERVERS[kind]
    sup = subprocess.Popen(
        [sys.executable, "-m", "compat", "run", "--workers", workers, "--graceful-timeout", "5",
         *program, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env(),
    )  # fmt: skip
    loaders: List[subprocess.Popen] = []
    try:
        assert sup.stderr is not None
        want = usable_cpus() if workers == "auto" else int(workers)
        pids: List[int] = []
        deadline = time.monotonic() + 30
        log: List[str] = []
        while len(pids) < want:
            line = sup.stderr.readline()
            if not line or time.monotonic() > deadline:
                raise BenchError("workers did not start:\n" + "".join(log))
            log.append(line)
            m = re.search(r"\(pid (\d+)\) listening", line)
            if m:
                pids.append(int(m.group(1)))
        start = time.monotonic() + 0.5 + args.warmup  # connect, then warm up until start
        end = start + args.duration
        for i in range(args.loaders):
            loaders.append(subprocess.Popen(
                [sys.executable, __file__, "--load", kind, "--port", str(port), "--conns", str(args.conns),
                 "--start", repr(start), "--end", repr(end), "--lat", os.path.join(tmp, "lat%d" % i)],
                stdout=subprocess.PIPE, text=True, env=env(),
            ))  # fmt: skip
        time.sleep(max(0.0, start - time.monotonic()))
        cpu0, busy0 = _cpu(pids), machine_busy()
        time.sleep(max(0.0, end - time.monotonic()))
        cpu1, busy1 = _cpu(pids), machine_busy()
        results = []
        for p in loaders:
            out, _ = p.communicate(timeout=60)
            results.append(json.loads(out.strip().splitlines()[-1]))
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            raise BenchError("; ".join(errors))
        lat: List[float] = []
        for i in range(args.loaders):
            a = array.array("d")
            with open(os.path.join(tmp, "lat%d" % i), "rb") as f:
                a.frombytes(f.read())
            lat.extend(a)
        lat.sort()
        msgs = sum(r["msgs"] for r in results)
        elapsed = end - start
        server = cpu1 - cpu0
        return dict(
            workers=want, rate=msgs / elapsed, p50_us=pct(lat, 0.5) * 1e6, p99_us=pct(lat, 0.99) * 1e6,
            cpu_per_msg_us=server / msgs * 1e6 if msgs else float("nan"),
            server_cpu_pct=server / elapsed * 100,
            client_cpu_pct=[r["cpu_s"] / elapsed * 100 for r in results],
            machine_pct=(busy1 - busy0) / elapsed * 100,
        )  # fmt: skip
    finally:
        for p in loaders:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()
        if sup.poll() is None:
            sup.send_signal(signal.SIGTERM)
        try:
            sup.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sup.kill()
            sup.wait()
        if sup.stderr:
            sup.stderr.close()


def median_run(runs: List[dict]) -> dict:
    out = dict(runs[0])
    for key in ("rate", "p50_us", "p99_us", "cpu_per_msg_us", "server_cpu_pct", "machine_pct"):
        out[key] = statistics.median(r[key] for r in runs)
    out["client_cpu_pct"] = [statistics.median(c) for c in zip(*(r["client_cpu_pct"] for r in runs))]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--load", choices=sorted(SERVERS), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--start", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--end", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--lat", help=argparse.SUPPRESS)
    ap.add_argument("--servers", default="echo,line", help="comma list of: echo, line")
    ap.add_argument("--workers", default="1,2,auto", help="comma list of worker counts (1 first: the reference)")
    ap.add_argument("--loaders", type=int, default=2, help="load generator processes")
    ap.add_argument("--conns", type=int, default=50, help="connections per load process")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds of the timed window")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds of load before it")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row (medians)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    if args.load:
        return load_main(args)

    counts = args.workers.split(",")
    ncpu = usable_cpus()
    print("compat run --workers: Python %s, %d usable CPUs, %d load processes x %d connections, %gs windows"
          % (sys.version.split()[0], ncpu, args.loaders, args.conns, args.duration))  # fmt: skip
    rows: Dict[str, List[dict]] = {}
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.servers.split(","):
            print("\n%s (%s)" % (kind, SERVERS[kind][1]))
            print("%-9s %10s %8s %9s %9s %11s %8s %8s %8s %9s  %s" % (
                "workers", "msg/s", "ratio", "p50 us", "p99 us", "CPU/msg us", "CPU/msg", "server%",
                "client%", "machine%", "note"))  # fmt: skip
            rows[kind] = []
            base: Optional[dict] = None
            for count in counts:
                try:
                    row = median_run([run_once(kind, count, args, tmp) for _ in range(args.repeat)])
                except (BenchError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
                    print("%-9s FAILED: %s" % (count, exc))
                    failed = True
                    continue
                row["label"] = "auto(%d)" % row["workers"] if count == "auto" else count
                base = base or row
                notes = []
                if row["machine_pct"] >= SATURATED * ncpu * 100:
                    other = row["machine_pct"] - row["server_cpu_pct"] - sum(row["client_cpu_pct"])
                    notes.append("machine saturated (other processes: %.0f%% of a CPU): the msg/s ratio "
                                 "measures the CPUs, not the server" % max(other, 0.0))  # fmt: skip
                busy_clients = [c for c in row["client_cpu_pct"] if c >= SATURATED * 100]
                if busy_clients:
                    notes.append("client saturated (%d of %d load processes at >= %d%% CPU)"
                                 % (len(busy_clients), args.loaders, SATURATED * 100))  # fmt: skip
                print("%-9s %10.0f %7.2fx %9.0f %9.0f %11.1f %7.2fx %8.0f %8.0f %9.0f  %s" % (
                    row["label"], row["rate"], row["rate"] / base["rate"], row["p50_us"], row["p99_us"],
                    row["cpu_per_msg_us"], row["cpu_per_msg_us"] / base["cpu_per_msg_us"],
                    row["server_cpu_pct"], sum(row["client_cpu_pct"]), row["machine_pct"],
                    "; ".join(notes) or "ok"))  # fmt: skip
                row["notes"] = notes
                rows[kind].append(row)
    print(
        "\nratio: msg/s against 1 worker in this run; CPU/msg: the workers' CPU per message against"
        "\n1 worker (1.00x: adding workers costs nothing per message). Goal (issue 19):"
        "\nN workers >= 0.8 x N x one worker's msg/s, judged only where the machine was not saturated."
    )
    for kind, krows in rows.items():
        if not krows:
            continue
        one = krows[0]
        for row in krows[1:]:
            if row["workers"] == 1:
                continue
            if row["notes"]:
                verdict = "not measurable here (%s)" % row["notes"][0].split(":")[0]
            else:
                ok = row["rate"] >= 0.8 * row["workers"] * one["rate"]
                verdict = "%s (%.2fx, goal %.2fx)" % ("ok" if ok else "MISSED", row["rate"] / one["rate"],
                                                      0.8 * row["workers"])  # fmt: skip
            print("  %s, %s workers: %s" % (kind, row["label"], verdict))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
