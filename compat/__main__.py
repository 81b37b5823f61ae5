"""``python -m compat ...``: the command line (see :mod:`compat.cli.main`)."""
import sys

from compat.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
