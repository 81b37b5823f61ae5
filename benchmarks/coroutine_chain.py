"""Cost of a ``@compat.coroutine`` call+await chain against native ``async def``.

Two chains of the same depth are built: one of native ``async def`` functions
each awaiting the next, one of ``@compat.coroutine`` generator functions each
doing ``yield from`` on the next.  Both are timed in the same process,
interleaved run by run, in two settings:

* ``direct``: the chain is driven by ``coro.send(None)``, so only the
  call+await machinery is measured;
* ``loop``: the chain runs as asyncio tasks and its innermost level gives up
  one loop iteration, which is what real code looks like.

Prints the median of each setting and the legacy/native ratio (target <= 1.3).

    python benchmarks/coroutine_chain.py [--depth N] [--calls N] [--runs N]
"""
import argparse
import asyncio
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

import compat


def native_chain(depth: int, yield_once: bool) -> Callable[[int], Any]:
    """Outermost function of a chain of *depth* native coroutine functions."""

    async def leaf(x: int) -> int:
        if yield_once:
            await asyncio.sleep(0)
        return x + 1

    func = leaf
    for _ in range(depth - 1):

        async def level(x: int, inner: Callable[[int], Any] = func) -> int:
            return await inner(x) + 1

        func = level
    return func


def legacy_chain(depth: int, yield_once: bool) -> Callable[[int], Any]:
    """Outermost function of a chain of *depth* ``@compat.coroutine`` functions."""

    @compat.coroutine
    def leaf(x: int) -> Any:
        if yield_once:
            yield from asyncio.sleep(0)
        return x + 1

    func = leaf
    for _ in range(depth - 1):

        @compat.coroutine
        def level(x: int, inner: Callable[[int], Any] = func) -> Any:
            return (yield from inner(x)) + 1

        func = level
    return func


def time_direct(top: Callable[[int], Any], calls: int, depth: int) -> float:
    """Seconds to drive *calls* chains to completion with send()."""
    start = time.perf_counter()
    for i in range(calls):
        coro = top(i)
        try:
            coro.send(None)
        except StopIteration as done:
            if done.value != i + depth:
                raise AssertionError("chain returned a wrong value")
        else:
            raise AssertionError("chain did not finish in one step")
    return time.perf_counter() - start


def time_loop(top: Callable[[int], Any], calls: int, depth: int) -> float:
    """Seconds to run *calls* chains as tasks in batches on one event loop."""

    async def main() -> None:
        batch = 100
        for base in range(0, calls, batch):
            results = await asyncio.gather(*(top(i) for i in range(base, base + batch)))
            if results[0] != base + depth:
                raise AssertionError("chain returned a wrong value")

    loop = asyncio.new_event_loop()
    try:
        start = time.perf_counter()
        loop.run_until_complete(main())
        return time.perf_counter() - start
    finally:
        loop.close()


def measure(depth: int, calls: int, runs: int) -> Dict[str, Dict[str, float]]:
    """Medians (seconds) per setting and kind, interleaving the kinds run by run."""
    settings = {
        "direct": (time_direct, False),
        "loop": (time_loop, True),
    }
    out: Dict[str, Dict[str, float]] = {}
    for name, (timer, yield_once) in settings.items():
        chains = {
            "native": native_chain(depth, yield_once),
            "legacy": legacy_chain(depth, yield_once),
        }
        samples: Dict[str, List[float]] = {kind: [] for kind in chains}
        for _ in range(runs):
            for kind, top in chains.items():
                samples[kind].append(timer(top, calls, depth))
        out[name] = {kind: statistics.median(values) for kind, values in samples.items()}
    return out


def main(argv: Any = None) -> int:
    """Run the benchmark and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=10, help="functions in each chain")
    parser.add_argument("--calls", type=int, default=20000, help="chains per run")
    parser.add_argument("--runs", type=int, default=7, help="runs per kind (median taken)")
    args = parser.parse_args(argv)
    if args.depth < 1 or args.calls < 100 or args.runs < 1:
        parser.error("need --depth >= 1, --calls >= 100, --runs >= 1")
    calls = args.calls - args.calls % 100  # whole batches for the loop setting
    print(f"python {sys.version.split()[0]}, depth {args.depth}, {calls} chains, {args.runs} runs")
    worst = 0.0
    for name, medians in measure(args.depth, calls, args.runs).items():
        ratio = medians["legacy"] / medians["native"]
        worst = max(worst, ratio)
        per_call = 1e9 / calls
        print(
            f"{name:>6}: native {medians['native'] * per_call:8.0f} ns/chain"
            f"  legacy {medians['legacy'] * per_call:8.0f} ns/chain  ratio {ratio:.2f}x"
        )
    print(f"worst ratio {worst:.2f}x (target <= 1.30x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
