"""``python -m compat run SCRIPT [ARGS...]``: a legacy script, unchanged."""
import os
import runpy
import sys
from typing import List

USAGE = "usage: python -m compat run SCRIPT [ARGS...] | -m MODULE [ARGS...]"


def prepare() -> None:
    """Restore what legacy programs reach for (``compat.install()``)."""
    from compat.legacy import install

    install()


def main(argv: List[str]) -> int:
    """Run ``argv[0]`` (or ``-m module``) as ``__main__`` with compat installed."""
    from compat.cli import workers

    if workers.requested(argv):
        return workers.main(argv)  # a supervisor; each worker comes back here without --workers
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    prepare()
    if argv[0] == "-m":
        if len(argv) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        sys.argv = argv[1:]
        sys.path.insert(0, os.getcwd())
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    if not os.path.exists(script):
        print(f"compat run: no such file: {script}", file=sys.stderr)
        return 2
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0
