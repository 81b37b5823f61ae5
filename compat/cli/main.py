"""Command line: ``python -m compat run|codemod|report|demo ...``."""
import sys
from typing import List, Optional

USAGE = """usage: python -m compat COMMAND [ARGS...]

commands:
  run SCRIPT [ARGS...]   run a legacy script with asyncore/asynchat and the
                         legacy asyncio APIs restored (compat.install())
  run --workers N|auto [--graceful-timeout S] SCRIPT [ARGS...]
                         the same in N processes sharing its listening
                         ports (SO_REUSEPORT, Linux; guide chapter 9)
  codemod [--diff|--write|--check] [--jobs N] PATH...
                         rewrite @asyncio.coroutine / yield from to async/await
  report [--json] PATH...
                         inventory of the legacy constructs in a tree
  demo [--serve]         one loop serving asyncore, asynchat and asyncio
                         channels side by side, checked end to end
"""


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch to the sub-command named by the first argument."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "run":
        from compat.cli.run import main as run_main

        return run_main(rest)
    if command == "codemod":
        from compat.codemod.cli import codemod_main

        return codemod_main(rest)
    if command == "report":
        from compat.codemod.cli import report_main

        return report_main(rest)
    if command == "demo":
        from compat.cli.demo import main as demo_main

        return demo_main(rest)
    print(f"compat: unknown command {command!r}\n\n{USAGE}", file=sys.stderr, end="")
    return 2


