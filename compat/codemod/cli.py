"""``python -m compat codemod`` and ``python -m compat report``.

Importable without libcst: only running the codemod needs it, and then the
error says how to install it.
"""
import argparse
import difflib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator, List, Optional, TextIO

from ._deps import LibcstMissing, require_libcst
from .diagnostics import Diagnostic
from .files import iter_python_files, read_source, write_source

# From this many files on, progress goes to stderr.
PROGRESS_MIN_FILES = 20


class _Outcome:
    """What a worker sends back for one file (picklable, no source kept twice)."""

    __slots__ = ("path", "new", "changed", "encoding", "diagnostics", "diff")

    def __init__(self, path: str, new: Optional[str], changed: bool, encoding: str,
                 diagnostics: List[Diagnostic], diff: str) -> None:
        self.path = path
        self.new = new
        self.changed = changed
        self.encoding = encoding
        self.diagnostics = diagnostics
        self.diff = diff


def _process(path: str, want_diff: bool, want_text: bool) -> _Outcome:
    from .engine import transform_source

    try:
        source, encoding = read_source(path)
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return _Outcome(path, None, False, "utf-8", [Diagnostic(1, 1, f"cannot read: {exc}", "error")], "")
    result = transform_source(source, path)
    diff = ""
    if want_diff and result.changed:
        diff = "".join(difflib.unified_diff(
            source.splitlines(keepends=True), result.new.splitlines(keepends=True),
            fromfile=_diff_name("a", path), tofile=_diff_name("b", path),
        ))
        if diff and not diff.endswith("\n"):
            diff += "\n"
    return _Outcome(path, result.new if want_text and result.changed else None,
                    result.changed, encoding, result.diagnostics, diff)


def _diff_name(side: str, path: str) -> str:
    """``a/rel/path.py`` like git for relative paths; absolute ones as they are."""
    return path if os.path.isabs(path) else f"{side}/{path}"


def _process_star(args: tuple) -> _Outcome:
    return _process(*args)


class _Progress:
    """``[done/total]`` on stderr, for runs over many files."""

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream = total, stream
        self.enabled = enabled and total >= PROGRESS_MIN_FILES
        self.tty = stream.isatty() if hasattr(stream, "isatty") else False
        self.step = max(1, total // 20)
        self.done = 0

    def tick(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.tty:
            end = "\n" if self.done == self.total else ""
            self.stream.write(f"\rcompat codemod: {self.done}/{self.total} files{end}")
        elif self.done % self.step == 0 or self.done == self.total:
            self.stream.write(f"compat codemod: {self.done}/{self.total} files\n")
        self.stream.flush()


def _run(paths: List[str], jobs: int, want_diff: bool, want_text: bool) -> Iterator[_Outcome]:
    if jobs <= 1 or len(paths) < 2:
        for p in paths:
            yield _process(p, want_diff, want_text)
        return
    chunk = max(1, min(32, len(paths) // (jobs * 4)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_process_star, [(p, want_diff, want_text) for p in paths], chunksize=chunk)


def _codemod_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m compat codemod",
        description="Rewrite @asyncio.coroutine / yield from code to async def / await.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--diff", dest="mode", action="store_const", const="diff",
                      help="print a unified diff (default)")
    mode.add_argument("--write", dest="mode", action="store_const", const="write",
                      help="rewrite the files in place")
    mode.add_argument("--check", dest="mode", action="store_const", const="check",
                      help="exit 1 when any file would change")
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="worker processes (0: one per CPU; default 1)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or summary on stderr")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(mode="diff")
    return p


def codemod_main(argv: List[str]) -> int:
    """Entry point of ``python -m compat codemod``; returns the exit status.

    0: done (nothing to change, for ``--check``); 1: ``--check`` found files
    that would change; 2: usage errors, libcst missing, or unreadable files.
    """
    args = _codemod_parser().parse_args(argv)
    try:
        require_libcst()
    except LibcstMissing as exc:
        print(f"compat codemod: error: {exc}", file=sys.stderr)
        return 2
    paths = list(iter_python_files(args.paths))
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        for p in missing:
            print(f"compat codemod: error: no such file or directory: {p}", file=sys.stderr)
        return 2
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    progress = _Progress(len(paths), sys.stderr, not args.quiet)
    changed = failed = refused = 0
    for out in _run(paths, jobs, args.mode == "diff", args.mode == "write"):
        progress.tick()
        for d in out.diagnostics:
            print(d.format(out.path), file=sys.stderr)
            refused += d.kind == "refused"
        if any(d.kind == "error" for d in out.diagnostics):
            failed += 1
        if not out.changed:
            continue
        changed += 1
        if args.mode == "diff":
            sys.stdout.write(out.diff)
        elif args.mode == "write" and out.new is not None:
            write_source(out.path, out.new, out.encoding)
        elif args.mode == "check":
            print(f"would rewrite {out.path}", file=sys.stderr)
    if not args.quiet:
        verb = {"write": "rewritten", "diff": "would be rewritten", "check": "would be rewritten"}[args.mode]
        print(f"compat codemod: {changed} of {len(paths)} files {verb}, {refused} refusals, "
              f"{failed} errors", file=sys.stderr)
    if failed:
        return 2
    return 1 if args.mode == "check" and changed else 0


def report_main(argv: List[str]) -> int:
    """Entry point of ``python -m compat report``: the legacy inventory of a tree."""
    from .report import format_text, inventory

    p = argparse.ArgumentParser(prog="python -m compat report",
                                description="Inventory of the legacy asyncore/asynchat/asyncio constructs in a tree.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("paths", nargs="+", metavar="PATH")
    args = p.parse_args(argv)
    paths = list(iter_python_files(args.paths))
    data = inventory(paths)
    if args.json:
        json.dump(data, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_text(data))
    return 2 if data["totals"].get("errors") else 0


