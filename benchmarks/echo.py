"""Echo ping-pong: compat's asyncore facade against CPython 3.11's asyncore.

The same asyncore echo server (benchmarks/_echo_server.py) runs on stdlib
asyncore under python3.11 and on ``compat.asyncore`` under each interpreter
asked for; the same epoll load generator (benchmarks/_echo_load.py) drives
it from another process.  The two processes are pinned to different CPUs,
so the server's own cost shows (on 2 cores both would otherwise saturate).

    python benchmarks/echo.py [--scenarios 1x64,50x64,50x16k,idle]
                              [--duration 3] [--repeat 3] [--idle 10000]
                              [--servers stdlib@3.11,compat@3.11,...]
                              [--json results.json]

Server specs are ``IMPL[+poll][+uvloop][+nodelay]@X.Y``: IMPL is ``stdlib``
(3.11 or older) or ``compat``; ``+poll`` passes ``use_poll=True``; ``+uvloop``
calls ``uvloop.install()`` first; ``+nodelay`` sets TCP_NODELAY on accepted
sockets in the server code (to tell Nagle's cost from the loop's).  Unavailable ones (no interpreter, no uvloop,
compat not importable) are skipped with a note.  Medians over the repeats
are printed per scenario, then the issue's targets.  See benchmarks/README.md.
"""
import argparse
import json
import os
import select
import shutil
import signal
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from _bench_env import FIXED_MALLOC

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVER = HERE / "_echo_server.py"
LOAD = HERE / "_echo_load.py"

SCENARIOS = {
    # name: (active connections, message size, idle connections?)
    "1x64": (1, 64, False),
    "50x64": (50, 64, False),
    "50x16k": (50, 16384, False),
    "idle": (50, 64, True),
    # issue 9: 10,000 concurrent active echo connections, every byte checked
    "10k": (10000, 64, False),
}
DEFAULT_SERVERS = "stdlib@3.11,compat@3.11,compat@3.12,compat+uvloop@3.12"
# A delayed ACK holds a Nagle-blocked segment for at least 40 ms on Linux: a
# p99 under that means fewer than 1 message in 100 stalled.
STALL_US = 40000.0

_live: List[subprocess.Popen] = []


class Spec:
    """One server configuration: implementation, interpreter, loop options."""

    def __init__(self, text: str) -> None:
        self.text = text
        head, _, version = text.partition("@")
        parts = head.split("+")
        self.impl = parts[0]
        self.poll = "poll" in parts[1:]
        self.uvloop = "uvloop" in parts[1:]
        self.nodelay = "nodelay" in parts[1:]
        self.version = version or "3.11"
        if self.impl not in ("stdlib", "compat", "raw") or set(parts[1:]) - {"poll", "uvloop", "nodelay"}:
            raise ValueError("bad server spec %r" % text)
        if self.impl != "compat" and self.uvloop:
            raise ValueError("%r: uvloop only applies to compat" % text)
        self.exe: Optional[str] = None
        self.note = ""

    def with_poll(self) -> "Spec":
        other = Spec(self.text)
        other.poll, other.exe, other.note = True, self.exe, self.note
        return other

    @property
    def label(self) -> str:
        extra = ""
        if self.impl == "raw":
            extra = " epoll (floor)"
        elif self.impl == "stdlib":
            extra = " poll" if self.poll else " select"
        elif self.poll:
            extra = " use_poll"
        if self.uvloop:
            extra += " uvloop"
        if self.nodelay:
            extra += " nodelay"
        return "%s %s%s" % (self.impl, self.version, extra)

    def env(self) -> Dict[str, str]:
        env = dict(os.environ, **FIXED_MALLOC)
        # compat comes from this checkout; the stdlib server must not see it.
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if self.impl == "compat":
            paths.insert(0, str(REPO))
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env.pop("PYTHONDEVMODE", None)  # dev mode would tax one server, not the other
        env.pop("PYTHONASYNCIODEBUG", None)
        return env


def probe(spec: Spec) -> None:
    """Find the interpreter and check that the server can start there."""
    found = shutil.which("python" + spec.version)
    if not found:
        spec.note = "no python%s on PATH (try PYENV_VERSION)" % spec.version
        return
    want = ["import sys", "print(sys.executable)"]
    if spec.impl == "raw":
        want.append("import select; select.epoll")
    elif spec.impl == "stdlib":
        want.append("import warnings; warnings.simplefilter('ignore')")
        want.append("import asyncore")
    else:
        want.append("from compat import asyncore")
    if spec.uvloop:
        want.append("import uvloop")
    proc = subprocess.run(
        [found, "-c", "; ".join(want)], env=spec.env(), capture_output=True, text=True, timeout=60
    )
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        spec.note = "python%s cannot run it: %s" % (spec.version, last)
        return
    # Run the real executable, not a version manager's shim script.
    spec.exe = proc.stdout.strip().splitlines()[0]


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _live:
        _live.remove(proc)


def _tail(path: str, lines: int = 3) -> str:
    try:
        with open(path, errors="replace") as f:
            text = f.read().strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def run_once(spec: Spec, scenario: str, args, cpus, windows: int) -> dict:
    """One server process, one load process; returns the load's JSON or an error."""
    conns, size, with_idle = SCENARIOS[scenario]
    idle = args.idle if with_idle else 0
    nofile = conns + idle + 256
    server_cpu, client_cpu = cpus
    with tempfile.TemporaryDirectory(prefix="echo-bench-") as tmp:
        s_err = os.path.join(tmp, "server.err")
        c_err = os.path.join(tmp, "load.err")
        cmd = [spec.exe, str(SERVER), "--impl", spec.impl, "--nofile", str(nofile)]
        if spec.poll:
            cmd.append("--poll")
        if spec.uvloop:
            cmd.append("--uvloop")
        if spec.nodelay:
            cmd.append("--nodelay")
        if server_cpu is not None:
            cmd += ["--cpu", str(server_cpu)]
        with open(s_err, "w") as err:
            server = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=err, env=spec.env(), text=True
            )
        _live.append(server)
        try:
            ready, _, _ = select.select([server.stdout], [], [], 30)
            line = server.stdout.readline() if ready else ""
            if not line.startswith("listening "):
                _kill(server)
                return {"error": "server did not start: %s" % (_tail(s_err) or line.strip())}
            port = int(line.split()[1])
            lcmd = [
                args.client_python, str(LOAD), "--port", str(port), "--server-pid", str(server.pid),
                "--conns", str(conns), "--size", str(size), "--idle", str(idle),
                "--duration", str(args.duration), "--warmup", str(args.warmup),
                "--windows", str(windows),
            ]  # fmt: skip
            if client_cpu is not None:
                lcmd += ["--cpu", str(client_cpu)]
            budget = 60 + (args.warmup + args.duration) * windows * 2 + (400 if idle else 0)
            with open(c_err, "w") as err:
                load = subprocess.Popen(lcmd, stdout=subprocess.PIPE, stderr=err, text=True)
            _live.append(load)
            try:
                out, _ = load.communicate(timeout=budget)
            except subprocess.TimeoutExpired:
                _kill(load)
                return {"error": "load generator timed out after %.0f s" % budget}
            _live.remove(load)
            died = server.poll()
            try:
                res = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                res = {"error": "load generator exit %d: %s" % (load.returncode, _tail(c_err))}
            if died is not None:
                # The server's own last words explain more than the client's.
                res = {
                    "error": "server exited %s: %s" % (died, _tail(s_err, 1)),
                    "load_error": res.get("error", ""),
                }
            return res
        finally:
            _kill(server)


def median_of(samples: List[dict], key: str) -> float:
    vals = [s[key] for s in samples if key in s]
    return statistics.median(vals) if vals else float("nan")


def summarize(runs: List[dict]) -> dict:
    """Medians over every timed window of *runs* (one server, one scenario)."""
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        return {"error": errors[0], "runs": runs}
    samples = []
    for r in runs:
        for w in r["windows"]:
            sample = {k: v for k, v in r.items() if k != "windows"}
            sample.update(w)
            samples.append(sample)
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float))]
    med = {k: median_of(samples, k) for k in keys}
    med["samples"] = len(samples)
    med["runs"] = runs
    return med


def measure(specs: List[Spec], scenario: str, args, cpus, repeat: int) -> List[tuple]:
    """(spec, medians) for each server in one scenario."""
    _, _, with_idle = SCENARIOS[scenario]
    runs: Dict[int, List[dict]] = {i: [] for i in range(len(specs))}
    if with_idle:
        # Opening 10,000 idle connections costs stdlib about a minute: open
        # them once per server and time several windows on it.
        for i, spec in enumerate(specs):
            sys.stderr.write("running %s on %s ...\n" % (scenario, spec.label))
            runs[i].append(run_once(spec, scenario, args, cpus, windows=repeat))
    else:
        # Fresh processes, servers taken in turn: a slow spell on a shared
        # machine then spreads over all servers instead of hitting one.
        for r in range(repeat):
            for i, spec in enumerate(specs):
                if any("error" in x for x in runs[i]):
                    continue
                sys.stderr.write("running %s on %s (%d/%d) ...\n" % (scenario, spec.label, r + 1, repeat))
                runs[i].append(run_once(spec, scenario, args, cpus, windows=1))
    return [(spec, summarize(runs[i])) for i, spec in enumerate(specs)]


def fmt_lat(us: float) -> str:
    if us != us:
        return "-"
    if us >= 10000:
        return "%.1f ms" % (us / 1000)
    if us >= 1000:
        return "%.2f ms" % (us / 1000)
    return "%.0f us" % us


def fmt_ratio(a: float, b: float) -> str:
    if not b or a != a or b != b:
        return "-"
    return "%.2fx" % (a / b)


def print_scenario(scenario: str, rows: List[tuple], args) -> None:
    conns, size, with_idle = SCENARIOS[scenario]
    title = "%d connection%s x %d B" % (conns, "s" if conns > 1 else "", size)
    if with_idle:
        title += " + %d idle" % args.idle
    how = "%d x %g s windows on one server" if with_idle else "%d runs x %g s"
    print("\n== %s: %s (%s, medians)" % (scenario, title, how % (args.repeat, args.duration)))
    wide = max([24] + [len(spec.label) for spec, _ in rows])
    head = "%-*s %9s %9s %9s %8s %7s %5s %5s %6s %8s" % (
        wide, "server", "msg/s", "p50", "p99", "CPU/msg", "usr/msg", "srv%", "cli%", "other%", "peakRSS",
    )  # fmt: skip
    if with_idle:
        head += " %8s %7s" % ("B/idle", "setup")
    head += "  | vs baseline: msg/s CPU/msg   p50   RSS"
    print(head)
    print("-" * len(head))
    base = next((m for s, m in rows if s.impl == "stdlib" and "error" not in m), None)
    for spec, m in rows:
        if "error" in m:
            print("%-*s FAILED: %s" % (wide, spec.label, m["error"]))
            continue
        line = "%-*s %9.0f %9s %9s %6.2fus %5.2fus %5.0f %5.0f %6.0f %6.1fMB" % (
            wide, spec.label, m["rate"], fmt_lat(m["p50_us"]), fmt_lat(m["p99_us"]),
            m["server_cpu_per_msg_us"], m["server_user_per_msg_us"], m["server_cpu_pct"], m["client_cpu_pct"],
            m.get("other_cpu_pct", float("nan")), m["hwm_kb"] / 1024.0,
        )  # fmt: skip
        if with_idle:
            line += " %8.0f %6.1fs" % (m.get("hwm_per_idle_b", float("nan")), m.get("idle_setup_s", 0))
        if base is not None:
            line += "  | %18s %7s %5s %5s" % (
                fmt_ratio(m["rate"], base["rate"]),
                fmt_ratio(m["server_cpu_per_msg_us"], base["server_cpu_per_msg_us"]),
                fmt_ratio(m["p50_us"], base["p50_us"]),
                fmt_ratio(m["hwm_kb"], base["hwm_kb"]),
            )
        print(line)
    busy = [m["other_cpu_pct"] for _, m in rows if "other_cpu_pct" in m]
    if busy and max(busy) > 20:
        print("note: other programs used up to %.0f%% of a CPU during the timed windows;"
              " expect noise" % max(busy))  # fmt: skip


def paired_ratios(m: dict, b: dict, key: str) -> List[float]:
    """Ratio of each run of ``m`` to the run of ``b`` taken just before it."""
    ratios = []
    for mine, base in zip(m.get("runs", []), b.get("runs", [])):
        if len(mine.get("windows", ())) == 1 and len(base.get("windows", ())) == 1:
            ratios.append(mine["windows"][0][key] / base["windows"][0][key])
    return ratios


def median_interval(values: List[float], draws: int = 2000) -> Tuple[float, float]:
    """95% bootstrap interval of the median (fixed seed: the same data prints the same)."""
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return medians[int(draws * 0.025)], medians[int(draws * 0.975) - 1]


def print_targets(results: Dict[str, List[tuple]]) -> None:
    """The issue's closing-note targets, for each compat server measured."""

    def base_of(scenario: str) -> Optional[dict]:
        return next(
            (m for s, m in results.get(scenario, []) if s.impl == "stdlib" and "error" not in m), None
        )

    compat_labels = []
    for rows in results.values():
        for s, _ in rows:
            if s.impl == "compat" and s.label not in compat_labels:
                compat_labels.append(s.label)
    if not compat_labels:
        return
    print("\n== targets (issue 3)")

    def row(scenario: str, label: str) -> Optional[dict]:
        return next((m for s, m in results.get(scenario, []) if s.label == label), None)

    for label in compat_labels:
        print(label)
        checks = []
        b, m = base_of("50x64"), row("50x64", label)
        if b and m and "error" not in m:
            r = m["server_cpu_per_msg_us"] / b["server_cpu_per_msg_us"]
            value = "%.2fx (%.2f vs %.2f us)" % (r, m["server_cpu_per_msg_us"], b["server_cpu_per_msg_us"])
            checks.append(("server CPU/msg at 50 x 64 B <= 1.0x stdlib", value, r <= 1.0))
            paired = paired_ratios(m, b, "server_cpu_per_msg_us")
            if len(paired) > 1:
                # Run k of every server ran back to back: their ratio is
                # what a slow spell of the machine affects least.
                low, high = median_interval(paired)
                value = "%d of %d below 1.0x; median %.3fx, 95%% interval %.3f-%.3fx (min %.2fx, max %.2fx)" % (
                    sum(x < 1.0 for x in paired), len(paired), statistics.median(paired), low, high,
                    min(paired), max(paired))  # fmt: skip
                # Below 1.0 only if the whole interval is: else it is parity.
                checks.append(("  the same, run by run", value, high <= 1.0))
        b, m = base_of("idle"), row("idle", label)
        if b and m and "error" not in m:
            r = m["rate"] / b["rate"]
            # msg/s also depends on how much CPU each side got; per server
            # CPU second is the capacity a dedicated CPU would give.
            cap = b["server_cpu_per_msg_us"] / m["server_cpu_per_msg_us"]
            value = "%.1fx (%.0f vs %.0f msg/s; per server CPU second %.1fx)" % (
                r, m["rate"], b["rate"], cap)  # fmt: skip
            checks.append(("msg/s with idle connections >= 10x stdlib poll", value, r >= 10))
            r = m["hwm_per_idle_b"] / b["hwm_per_idle_b"]
            checks.append((
                "peak RSS per idle channel <= 2x stdlib",
                "%.0f B vs %.0f B = %.2fx" % (m["hwm_per_idle_b"], b["hwm_per_idle_b"], r), r <= 2,
            ))  # fmt: skip
        b, m = base_of("50x16k"), row("50x16k", label)
        if m and "error" not in m:
            value = "p50 %s, p99 %s" % (fmt_lat(m["p50_us"]), fmt_lat(m["p99_us"]))
            if b:
                value += " (stdlib p50 %s)" % fmt_lat(b["p50_us"])
            checks.append(("no Nagle stall at 50 x 16 KiB", value, m["p99_us"] < STALL_US))
        for scenario in ("1x64", "50x64", "50x16k", "idle"):
            m = row(scenario, label)
            if m and "error" in m:
                checks.append(("runs at %s" % scenario, m["error"], False))
        for what, value, ok in checks:
            print("  %-4s %-48s %s" % ("ok" if ok else "MISS", what, value))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma list of %s" % ", ".join(SCENARIOS))
    ap.add_argument("--servers", default=DEFAULT_SERVERS, help="comma list of IMPL[+poll][+uvloop][+nodelay]@X.Y")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per timed window")
    ap.add_argument("--repeat", type=int, default=3, help="timed windows per server and scenario")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds of ping-pong before timing")
    ap.add_argument("--idle", type=int, default=10000, help="idle connections in the idle scenario")
    ap.add_argument("--no-select-demo", action="store_true",
                    help="skip showing stdlib select() fail in the idle scenario")  # fmt: skip
    ap.add_argument("--client-python", default=sys.executable, help="interpreter of the load generator")
    ap.add_argument("--json", help="also write every sample to this file")
    args = ap.parse_args()

    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %r" % s)
    try:
        specs = [Spec(t.strip()) for t in args.servers.split(",") if t.strip()]
    except ValueError as exc:
        ap.error(str(exc))

    avail = sorted(os.sched_getaffinity(0))
    if len(avail) >= 2:
        cpus = (avail[-1], avail[0])  # (server, load generator)
    else:
        cpus = (None, None)
        print("note: one CPU only, processes are not pinned")

    # Turn SIGTERM into an exception so the finally below reaps the children.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    for spec in specs:
        probe(spec)
    usable = [s for s in specs if s.exe]
    print("echo benchmark: load generator %s (Python %s), server on CPU %s, load on CPU %s"
          % (args.client_python, sys.version.split()[0], cpus[0], cpus[1]))  # fmt: skip
    for s in specs:
        print("  %-28s %s" % (s.label, s.exe or "skipped: " + s.note))
    if not usable:
        print("no server can run")
        return 1

    results: Dict[str, List[tuple]] = {}
    failed = False
    started = time.monotonic()
    try:
        for scenario in scenarios:
            with_idle = SCENARIOS[scenario][2]
            todo = []
            for spec in usable:
                if with_idle and spec.impl == "stdlib" and not spec.poll:
                    # select() cannot watch fds past 1023: stdlib needs poll here.
                    spec = spec.with_poll()
                if spec.label not in [t.label for t in todo]:
                    todo.append(spec)
            rows = measure(todo, scenario, args, cpus, args.repeat)
            failed |= any("error" in m for _, m in rows)
            if with_idle and not args.no_select_demo:
                stdlib = next((s for s in usable if s.impl == "stdlib"), None)
                if stdlib is not None:
                    demo = Spec(stdlib.text)
                    demo.exe, demo.poll = stdlib.exe, False
                    sys.stderr.write("(stdlib select() is expected to fail here)\n")
                    spec, m = measure([demo], scenario, args, cpus, 1)[0]
                    if "error" in m:
                        m["error"] = "(expected) " + m["error"]
                    rows.append((spec, m))
            results[scenario] = rows
            print_scenario(scenario, rows, args)
            sys.stdout.flush()
    finally:
        for proc in list(_live):
            _kill(proc)

    print_targets(results)
    print("\ntotal %.0f s" % (time.monotonic() - started))
    if args.json:
        dump = {
            sc: [{"server": s.label, "exe": s.exe, **m} for s, m in rows] for sc, rows in results.items()
        }
        with open(args.json, "w") as f:
            json.dump(dump, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
