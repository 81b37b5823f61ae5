"""``python -m compat codemod`` and ``python -m compat report``.

Importable without libcst: only running the codemod needs it, and then the
error says how to install it.
"""
import argparse
import difflib
import json
import os
import signal
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


def _process(path: str, want_diff: bool, want_text: bool, unsafe: bool = False) -> _Outcome:
    from .engine import transform_source

    try:
        source, encoding = read_source(path)
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        return _Outcome(path, None, False, "utf-8", [Diagnostic(1, 1, f"cannot read: {exc}", "error")], "")
    result = transform_source(source, path, unsafe)
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


def plural(n: int, word: str, many: str = "") -> str:
    """``1 file``, ``2 files`` (``many``: an irregular plural)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


class _Progress:
    """``[done/total]`` on stderr, for runs over many files.

    On a terminal it is one line redrawn in place; :meth:`clear` erases it
    before anything else is printed, so output never lands on it.
    """

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total, self.stream = total, stream
        self.enabled = enabled and total >= PROGRESS_MIN_FILES
        self.tty = stream.isatty() if hasattr(stream, "isatty") else False
        self.step = max(1, total // 20)
        self.done = 0
        self.shown = False  # a progress line is on the terminal

    def clear(self) -> None:
        """Erase the progress line (terminal only) before other output."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def tick(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.tty:
            self.stream.write(f"\r\x1b[Kcompat codemod: {self.done}/{self.total} files")
            self.shown = True
        elif self.done % self.step == 0 or self.done == self.total:
            self.stream.write(f"compat codemod: {self.done}/{self.total} files\n")
        self.stream.flush()


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which reports it once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(paths: List[str], jobs: int, want_diff: bool, want_text: bool, unsafe: bool) -> Iterator[_Outcome]:
    if jobs <= 1 or len(paths) < 2:
        for p in paths:
            yield _process(p, want_diff, want_text, unsafe)
        return
    chunk = max(1, min(32, len(paths) // (jobs * 4)))
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_ignore_sigint)
    try:
        yield from pool.map(_process_star, [(p, want_diff, want_text, unsafe) for p in paths], chunksize=chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _codemod_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m compat codemod",
        description="Rewrite @asyncio.coroutine / yield from code to async def / await.",
        epilog="Exit status: 0 when the tree needs nothing; 1 when files were (or would be) "
               "rewritten or refusals remain; 2 on errors; 130 when interrupted.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--diff", dest="mode", action="store_const", const="diff",
                      help="print a unified diff (default)")
    mode.add_argument("--write", dest="mode", action="store_const", const="write",
                      help="rewrite the files in place")
    mode.add_argument("--check", dest="mode", action="store_const", const="check",
                      help="exit 1 when any file would change")
    p.add_argument("--unsafe-fixes", action="store_true",
                   help="also apply fixes that may change behaviour (each one is listed): "
                        "`with (yield from x)` -> `async with x` where x is not known to be an asyncio "
                        "lock, and `except Exception` around an await -> `except (Exception, "
                        "asyncio.CancelledError)`")
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="worker processes (0: one per CPU; default 1)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or summary on stderr")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="also list skipped directories and files needing nothing")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(mode="diff")
    return p


def _selection(paths: List[str], verbose: bool, command: str) -> Optional[List[str]]:
    """The files to process, or None after printing why there are none."""
    skipped: List[str] = []
    files = list(iter_python_files(paths, skipped))
    missing = [p for p in files if not os.path.exists(p)]
    for p in missing:
        print(f"compat {command}: error: no such file or directory: {p}", file=sys.stderr)
    if verbose:
        for d in skipped:
            print(f"compat {command}: skipped directory {d}", file=sys.stderr)
    if missing:
        return None
    if not files:
        where = ", ".join(paths)
        extra = f" ({plural(len(skipped), 'directory', 'directories')} skipped: --verbose lists them)" \
            if skipped and not verbose else ""
        print(f"compat {command}: error: no Python files in {where}{extra}", file=sys.stderr)
        return None
    return files


def codemod_main(argv: List[str]) -> int:
    """Entry point of ``python -m compat codemod``; returns the exit status.

    0: the tree needs nothing; 1: files were (``--write``) or would be
    rewritten, or refusals remain (pyupgrade's convention); 2: usage errors,
    libcst missing, no files, or unreadable/unparseable files; 130: Ctrl-C.
    """
    args = _codemod_parser().parse_args(argv)
    try:
        require_libcst()
    except LibcstMissing as exc:
        print(f"compat codemod: error: {exc}", file=sys.stderr)
        return 2
    paths = _selection(args.paths, args.verbose, "codemod")
    if paths is None:
        return 2
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    progress = _Progress(len(paths), sys.stderr, not args.quiet)
    changed = failed = refused = unsafe = untouched = 0
    outcomes = _run(paths, jobs, args.mode == "diff", args.mode == "write", args.unsafe_fixes)
    try:
        for out in outcomes:
            progress.tick()
            if out.diagnostics or out.changed or args.verbose:
                progress.clear()
            for d in out.diagnostics:
                print(d.format(out.path), file=sys.stderr)
                refused += d.kind == "refused"
                unsafe += d.reason.startswith("unsafe fix")
            if any(d.kind == "error" for d in out.diagnostics):
                failed += 1
            if not out.changed:
                if not out.diagnostics:
                    untouched += 1
                    if args.verbose:
                        print(f"{out.path}: nothing to change", file=sys.stderr)
                continue
            changed += 1
            if args.mode == "diff":
                sys.stdout.flush()
                # in the file's own encoding, so that the diff applies
                encoding = "utf-8" if out.encoding == "utf-8-sig" else out.encoding
                sys.stdout.buffer.write(out.diff.encode(encoding, "backslashreplace"))
                sys.stdout.buffer.flush()
            elif args.mode == "write" and out.new is not None:
                write_source(out.path, out.new, out.encoding)
            elif args.mode == "check":
                print(f"would rewrite {out.path}", file=sys.stderr)
    except KeyboardInterrupt:
        progress.clear()
        outcomes.close()
        print(f"compat codemod: interrupted after {progress.done} of {plural(len(paths), 'file')}",
              file=sys.stderr)
        return 130
    progress.clear()
    if not args.quiet:
        verb = {"write": "rewritten", "diff": "would be rewritten", "check": "would be rewritten"}[args.mode]
        parts = [f"{changed} of {plural(len(paths), 'file')} {verb}", plural(refused, "refusal"),
                 plural(failed, "error"), f"{untouched} needing nothing"]
        if args.unsafe_fixes:
            parts.insert(2, plural(unsafe, "unsafe fix", "unsafe fixes"))
        print("compat codemod: " + ", ".join(parts), file=sys.stderr)
    if failed:
        return 2
    return 1 if changed or refused else 0


def report_main(argv: List[str]) -> int:
    """Entry point of ``python -m compat report``: the legacy inventory of a tree.

    0: done; 2: no files, or a file could not be read or parsed (listed on stderr).
    """
    from .report import format_errors, format_text, inventory

    p = argparse.ArgumentParser(prog="python -m compat report",
                                description="Inventory of the legacy asyncore/asynchat/asyncio constructs in a tree.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--summary", action="store_true", help="totals only, no per-file findings")
    p.add_argument("--verbose", "-v", action="store_true", help="also list skipped directories")
    p.add_argument("paths", nargs="+", metavar="PATH")
    args = p.parse_args(argv)
    paths = _selection(args.paths, args.verbose, "report")
    if paths is None:
        return 2
    data = inventory(paths)
    if args.json:
        json.dump({"totals": data["totals"]} if args.summary else data, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_text(data, args.summary))
    sys.stdout.flush()
    sys.stderr.write(format_errors(data))
    return 2 if data["totals"]["errors"] else 0
