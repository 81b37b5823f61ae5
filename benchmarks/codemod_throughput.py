"""Throughput of ``python -m compat codemod`` over a generated legacy tree.

Generates (in a temp dir) a tree of >= 20,000 lines in the style of
Python 3.4-era asyncio applications -- decorated coroutines, ``yield from``,
``loop=``, ``with (yield from lock)``, ``asyncio.async``, plus the ordinary
classes and helpers such code lives among -- then:

* runs the codemod in this process (one core) several times and prints the
  median lines/s;
* runs ``python -m compat codemod --check --jobs N`` and prints lines/s per
  core (wall time x N), median of several runs.

Target: >= 5,000 lines/s per core. Usage:
``python benchmarks/codemod_throughput.py [--lines 20000] [--runs 5] [--jobs N]``
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

COROUTINES = '''
@asyncio.coroutine
def fetch_{n}(host, port, loop):
    """Fetch one page from host:port ({n})."""
    reader, writer = yield from asyncio.open_connection(host, port, loop=loop)
    writer.write(b'GET / HTTP/1.0\\r\\n\\r\\n')  # old-style request
    yield from writer.drain()
    data = yield from asyncio.wait_for(reader.read(), 5, loop=loop)
    writer.close()
    return parse_{n}(data)


def parse_{n}(data):
    """Split headers from body."""
    head, _, body = data.partition(b'\\r\\n\\r\\n')
    headers = {{}}
    for line in head.split(b'\\r\\n')[1:]:
        key, _, value = line.partition(b':')
        headers[key.strip().lower()] = value.strip()
    return headers, body


class Worker{n}(object):
    """A pool worker guarded by a lock."""

    def __init__(self, loop, queue):
        self.loop = loop
        self.queue = queue
        self._lock = asyncio.Lock(loop=loop)
        self.done = 0

    @asyncio.coroutine
    def run(self):
        while True:
            item = yield from self.queue.get()
            if item is None:
                break
            with (yield from self._lock):
                result = yield from self.handle(item) + 0
            self.done += 1
            yield from asyncio.sleep(0.01 * (result or 0), loop=self.loop)

    @asyncio.coroutine
    def handle(self, item):
        yield
        return len(item)

    def stats(self):
        return {{'done': self.done, 'pending': self.queue.qsize()}}


@asyncio.coroutine
def supervise_{n}(loop, workers):
    tasks = [asyncio.async(w.run()) for w in workers]
    yield from asyncio.wait([w.run() for w in workers], loop=loop)
    current = asyncio.Task.current_task(loop=loop)
    return tasks, current


def numbers_{n}(limit):
    """A plain generator: left alone."""
    for i in range(limit):
        if i % 3:
            yield i
    yield from range(limit, limit + 3)


class Config{n}:
    defaults = dict(host='localhost', port={port}, retries=3, timeout=5.0)

    def __init__(self, **overrides):
        self.values = dict(self.defaults)
        self.values.update(overrides)

    def get(self, key, default=None):
        return self.values.get(key, default)

    def __repr__(self):
        return 'Config{n}(%r)' % (self.values,)
'''

HEADER = '''"""Generated legacy module {m} (benchmark input)."""
import asyncio
import logging
import sys

log = logging.getLogger(__name__)
'''

FOOTER = '''

@asyncio.coroutine
def main_{m}():
    loop = asyncio.get_event_loop()
    queue = asyncio.Queue(loop=loop)
    workers = [Worker0(loop, queue) for _ in range(4)]
    yield from supervise_0(loop, workers)


if __name__ == '__main__':
    loop = asyncio.get_event_loop()
    try:
        loop.run_until_complete(main_{m}())
    finally:
        loop.close()
'''


def generate(root: str, min_lines: int) -> Tuple[List[str], int]:
    """Write modules of ~250 lines until ``min_lines``; return paths and lines."""
    paths, total, m = [], 0, 0
    while total < min_lines:
        body = HEADER.format(m=m) + "".join(COROUTINES.format(n=n, port=8000 + n) for n in range(3))
        body += FOOTER.format(m=m)
        pkg = os.path.join(root, f"pkg{m % 8}")
        os.makedirs(pkg, exist_ok=True)
        path = os.path.join(pkg, f"legacy_{m}.py")
        with open(path, "w") as f:
            f.write(body)
        paths.append(path)
        total += body.count("\n")
        m += 1
    return paths, total


def in_process(paths: List[str], lines: int, runs: int) -> Tuple[float, float]:
    """Median lines/s (wall, CPU) of the codemod on one core, files read in memory."""
    from compat.codemod import transform_source

    sources = []
    for p in paths:
        with open(p) as f:
            sources.append((p, f.read()))
    rates, cpu_rates = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        changed = refused = 0
        for p, src in sources:
            r = transform_source(src, p)
            changed += r.changed
            refused += sum(d.kind == "refused" for d in r.diagnostics)
        rates.append(lines / (time.perf_counter() - t0))
        cpu_rates.append(lines / (time.process_time() - c0))
    print(f"  {changed}/{len(sources)} files rewritten, {refused} refusals per run")
    return statistics.median(rates), statistics.median(cpu_rates)


def cli(root: str, lines: int, runs: int, jobs: int) -> Tuple[float, float]:
    """Median lines/s per core of ``python -m compat codemod --check --jobs N``.

    Two measures: wall time x N, and the CPU seconds the workers used (which
    a busy machine does not distort).
    """
    import resource

    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rates, cpu_rates = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "compat", "codemod", "--check", "--quiet",
                            "--jobs", str(jobs), root], env=env, capture_output=True, timeout=600)
        wall = time.perf_counter() - t0
        if p.returncode not in (0, 1):
            raise SystemExit(p.stderr.decode()[-2000:])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rates.append(lines / wall / jobs)
        cpu_rates.append(lines / cpu)
    return statistics.median(rates), statistics.median(cpu_rates)


def main() -> None:
    """Generate the tree, measure, print medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="codemod-bench-") as root:
        paths, lines = generate(root, args.lines)
        print(f"tree: {len(paths)} files, {lines} lines; Python {sys.version.split()[0]}")
        wall, cpu = in_process(paths, lines, args.runs)
        print(f"in-process, 1 core: median {wall:,.0f} lines/s wall, "
              f"{cpu:,.0f} lines per CPU-second, over {args.runs} runs")
        wall, cpu = cli(root, lines, args.runs, args.jobs)
        print(f"CLI --check --jobs {args.jobs} (incl. interpreter start-up): median "
              f"{wall:,.0f} lines/s per core (wall x jobs), {cpu:,.0f} lines per CPU-second, "
              f"over {args.runs} runs")
        print("target: >= 5,000 lines/s per core")


if __name__ == "__main__":
    main()
