"""Loop stalls with a big output queue: compat's dispatcher_with_send against CPython 3.11's.

A ``dispatcher_with_send`` queues ``--mb`` MB (default 100) in ``--chunk``
MB ``send()`` calls (default 1), one per loop pass, while its peer reads
nothing; then the peer (another process, on 127.0.0.1) reads as fast as it
can while the loop drains the queue. Every pass of the loop
(``asyncore.loop(0, map, count=1)``, with that pass's ``send()`` included)
is timed: the longest pass is the longest time the loop could serve nothing
else. The peer checks every byte (SHA-256 of the stream).

    python3.11 benchmarks/send_stall.py
    python3.11 benchmarks/send_stall.py --mb 20 --repeat 5 --servers stdlib@3.11,compat@3.11,compat@3.13

Server specs are ``IMPL@X.Y`` with IMPL ``stdlib`` (that interpreter's own
asyncore: 3.11 or older) or ``compat`` (this checkout, on ``PYTHONPATH``);
``pythonX.Y`` is looked up on PATH, and a spec that cannot run is skipped
with the reason. Printed: medians over ``--repeat`` runs of the longest pass
while queueing and while draining, the time to drain, and each compat
figure as a ratio to the first stdlib row of the same run.
"""
import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from _bench_env import FIXED_MALLOC, die_with_parent

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MB = 1 << 20
HOST = "127.0.0.1"
TIMEOUT = 600.0


def chunks(total: int, size: int):  # type: ignore[no-untyped-def]
    """The stream: ``total`` bytes in ``size`` pieces, each one distinct."""
    base = os.urandom(size)
    sent = 0
    index = 0
    while sent < total:
        n = min(size, total - sent)
        yield index.to_bytes(8, "big") + base[8:n] if n > 8 else base[:n]
        sent += n
        index += 1


def read(total: int, port: int) -> None:
    """The peer: connect, wait for ``go`` on stdin, read everything, print count and digest."""
    die_with_parent()
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    sys.stdin.readline()
    digest = hashlib.sha256()
    got = 0
    buf = bytearray(MB)
    view = memoryview(buf)
    while got < total:
        n = sock.recv_into(buf)
        if not n:
            break
        digest.update(view[:n])
        got += n
    sock.close()
    print(got, digest.hexdigest())


def run(impl: str, total: int, chunk: int) -> None:
    """One measured run; prints a JSON line."""
    die_with_parent()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if impl == "stdlib":
            import asyncore
        else:
            from compat import asyncore  # type: ignore[no-redef]
    with socket.create_server((HOST, 0)) as listener:
        listener.settimeout(TIMEOUT)
        peer = subprocess.Popen(
            [sys.executable, __file__, "--read", str(total), str(listener.getsockname()[1])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        sock, _ = listener.accept()
    try:
        channel_map: Dict[int, object] = {}
        chan = asyncore.dispatcher_with_send(sock, map=channel_map)
        # Not timed: the first pass sets the loop up (compat makes its loop).
        asyncore.loop(0, False, channel_map, 1)
        digest = hashlib.sha256()
        queueing: List[float] = []
        clock = time.perf_counter
        for data in chunks(total, chunk):
            digest.update(data)
            start = clock()
            chan.send(data)
            asyncore.loop(0, False, channel_map, 1)
            queueing.append(clock() - start)
        assert peer.stdin is not None
        peer.stdin.write(b"go\n")
        peer.stdin.flush()
        draining: List[float] = []
        began = clock()
        while chan.writable():
            start = clock()
            asyncore.loop(0, False, channel_map, 1)
            draining.append(clock() - start)
        drained = clock() - began
        chan.close()
        out, _ = peer.communicate(timeout=TIMEOUT)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    got, hexdigest = out.decode().split()
    if int(got) != total or hexdigest != digest.hexdigest():
        sys.exit("the peer got %s bytes, digest %s: wrong" % (got, hexdigest))
    print(
        json.dumps(
            {
                "queueing_max": max(queueing),
                "draining_max": max(draining),
                "drain_s": drained,
                "passes": len(queueing) + len(draining),
            }
        )
    )


def python_for(spec: str) -> "tuple[Optional[str], str]":
    """(interpreter path or None, why not) for ``IMPL@X.Y``."""
    impl, _, version = spec.partition("@")
    if impl not in ("stdlib", "compat") or not version:
        return None, "not IMPL@X.Y with IMPL stdlib or compat"
    exe = shutil.which("python" + version)
    if exe is None:
        return None, "python%s is not on PATH" % version
    if impl == "stdlib":
        probe = subprocess.run(
            [exe, "-W", "ignore", "-c", "import asyncore"], capture_output=True, env=dict(os.environ, PYTHONPATH="")
        )
        if probe.returncode:
            return None, "python%s has no stdlib asyncore" % version
    return exe, ""


def measure(exe: str, impl: str, total: int, chunk: int) -> Dict[str, float]:
    env = dict(os.environ, **FIXED_MALLOC)
    env["PYTHONPATH"] = str(REPO) if impl == "compat" else ""
    proc = subprocess.run(
        [exe, __file__, "--run", impl, str(total), str(chunk)],
        capture_output=True, text=True, env=env, timeout=TIMEOUT,
    )  # fmt: skip
    if proc.returncode:
        raise RuntimeError("%s failed: %s" % (impl, (proc.stderr or proc.stdout)[-600:]))
    result: Dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=100.0, help="MB queued (default 100)")
    ap.add_argument("--chunk", type=float, default=1.0, help="MB per send() (default 1)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--servers", default="stdlib@3.11,compat@3.11")
    ap.add_argument("--run", nargs=3, metavar=("IMPL", "TOTAL", "CHUNK"), help=argparse.SUPPRESS)
    ap.add_argument("--read", nargs=2, metavar=("TOTAL", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.read:
        read(int(args.read[0]), int(args.read[1]))
        return
    if args.run:
        run(args.run[0], int(args.run[1]), int(args.run[2]))
        return
    total, chunk = int(args.mb * MB), max(1, int(args.chunk * MB))
    print(
        "send_stall: %g MB queued in %g MB send() calls, one per pass, then drained; medians of %d runs"
        % (args.mb, args.chunk, args.repeat)
    )
    print("%-14s %22s %22s %18s" % ("server", "longest pass queueing", "longest pass draining", "drain time"))
    base: Optional[Dict[str, float]] = None
    failed = False
    for spec in args.servers.split(","):
        exe, why = python_for(spec)
        if exe is None:
            print("%-14s skipped: %s" % (spec, why))
            continue
        impl = spec.partition("@")[0]
        try:
            runs = [measure(exe, impl, total, chunk) for _ in range(args.repeat)]
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print("%-14s FAILED: %s" % (spec, exc))
            failed = True
            continue
        med = {key: statistics.median(r[key] for r in runs) for key in ("queueing_max", "draining_max", "drain_s")}
        if impl == "stdlib" and base is None:
            base = med

        def cell(key: str, scale: float, unit: str) -> str:
            text = "%.2f %s" % (med[key] * scale, unit)
            if base is not None and impl != "stdlib":
                text += " (%.3fx)" % (med[key] / base[key])
            return text

        print(
            "%-14s %22s %22s %18s"
            % (spec, cell("queueing_max", 1e3, "ms"), cell("draining_max", 1e3, "ms"), cell("drain_s", 1.0, "s"))
        )
    if base is None:
        print("(no stdlib row: no ratios)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
