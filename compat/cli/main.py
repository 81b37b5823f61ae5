"""Command line: ``compat run|doctor|codemod|report|demo ...`` (also ``python -m compat``)."""
import contextlib
import io
import os
import sys
from typing import Callable, Dict, List, Optional

COMMANDS = """\
commands:
  run [-W ARG] SCRIPT [ARGS...] | -m MODULE [ARGS...]
                         run a legacy program as python would, with the
                         asyncore/asynchat modules and the legacy asyncio APIs
                         restored (compat.install())
  run --workers N|auto [--graceful-timeout S] SCRIPT [ARGS...]
                         the same in N processes sharing its listening
                         ports (SO_REUSEPORT, Linux; guide chapter 9)
  doctor                 which asyncore/asynchat an import gives, what shadows
                         them, which loops asyncore.loop() and asyncio.run() use
  codemod [--diff|--write|--check] [--jobs N] PATH...
                         rewrite @asyncio.coroutine / yield from to async/await
  report [--json] PATH...
                         inventory of the legacy constructs in a tree
  demo [--serve]         one loop serving asyncore, asynchat and asyncio
                         channels side by side, checked end to end

options:
  -h, --help             show this help and exit
  --version              print compat's version and exit

`COMMAND --help` describes each command, its options and its exit status.

exit status: the command's (see its --help); 2 for an unknown command.
"""

# Exit statuses of the commands whose --help is written elsewhere.
_EXIT_STATUS = {
    "codemod": ("0  done (--check: no file would change)\n"
                "  1  --check: some file would change\n"
                "  2  bad arguments, libcst missing, or a file that cannot be read or parsed"),
    "report": ("0  inventory printed\n"
               "  2  bad arguments, or a file that cannot be read or parsed"),
}


def prog_name(argv0: Optional[str] = None) -> str:
    """How the user started us: ``python -m compat`` or the console script's own name."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    base = os.path.basename(argv0 or "")
    if not base or base in ("__main__.py", "-c") or base.startswith("python"):
        return "python -m compat"
    return os.path.splitext(base)[0] if base.endswith((".py", ".exe")) else base


def usage(prog: str) -> str:
    """The top-level help."""
    return f"usage: {prog} [--version] COMMAND [ARGS...]\n\n{COMMANDS}"


def _with_help_fixed(command: str, run: Callable[[List[str]], int], rest: List[str], prog: str) -> int:
    """Run a command written with ``python -m compat`` in its usage; fix its --help."""
    if not any(a in ("-h", "--help") for a in rest):
        return run(rest)
    out = io.StringIO()
    status: object = 0
    with contextlib.redirect_stdout(out):
        try:
            status = run(rest)
        except SystemExit as exc:
            status = exc.code
    text = _rename(out.getvalue(), prog)
    if "exit status" not in text and command in _EXIT_STATUS:
        text = text.rstrip("\n") + f"\n\nexit status:\n  {_EXIT_STATUS[command]}\n"
    sys.stdout.write(text)
    return status if isinstance(status, int) else (0 if status is None else 1)


def _rename(text: str, prog: str) -> str:
    """argparse's usage with *prog* for ``python -m compat``, continuation lines re-aligned."""
    old = "python -m compat"
    head, sep, tail = text.partition("\n\n")
    lines = head.replace(old, prog).splitlines()
    shift = len(old) - len(prog)
    for i in range(1, len(lines)):
        if shift > 0 and lines[i].startswith(" " * shift):
            lines[i] = lines[i][shift:]
        elif shift < 0:
            lines[i] = " " * -shift + lines[i]
    return "\n".join(lines) + sep + tail.replace(old, prog)


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch to the sub-command named by the first argument; its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    prog = prog_name()
    if not args or args[0] in ("-h", "--help", "help"):
        if args:
            print(usage(prog), end="")
            return 0
        sys.stderr.write(usage(prog))
        return 2
    if args[0] == "--version":
        from compat import __version__

        print(f"compat {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command == "run":
        from compat.cli.run import main as run_main

        return run_main(rest, prog)
    if command == "doctor":
        from compat.cli.doctor import main as doctor_main

        return doctor_main(rest, prog)
    commands: Dict[str, Callable[[], Callable[[List[str]], int]]] = {
        "codemod": _codemod,
        "report": _report,
        "demo": _demo,
    }
    if command in commands:
        return _with_help_fixed(command, commands[command](), rest, prog)
    print(f"{prog}: unknown command {command!r}\n", file=sys.stderr)
    sys.stderr.write(usage(prog))
    return 2


def _codemod() -> Callable[[List[str]], int]:
    from compat.codemod.cli import codemod_main

    return codemod_main


def _report() -> Callable[[List[str]], int]:
    from compat.codemod.cli import report_main

    return report_main


def _demo() -> Callable[[List[str]], int]:
    from compat.cli.demo import main as demo_main

    return demo_main
