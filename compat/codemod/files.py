"""Finding Python files and reading/writing them without changing encoding or newlines."""
import io
import os
import tokenize
from typing import Iterable, Iterator, List, Optional, Tuple

# Directories no one wants rewritten.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", "node_modules",
     ".mypy_cache", ".pytest_cache", "build", "dist", ".eggs"}
)


def iter_python_files(paths: Iterable[str], skipped: Optional[List[str]] = None) -> Iterator[str]:
    """Files named on the command line, and ``*.py`` under named directories.

    Directories left out (``SKIP_DIRS``, ``*.egg-info``) are appended to
    ``skipped`` when it is given.
    """
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                kept = []
                for d in sorted(dirs):
                    if d in SKIP_DIRS or d.endswith(".egg-info"):
                        if skipped is not None:
                            skipped.append(os.path.join(root, d))
                    else:
                        kept.append(d)
                dirs[:] = kept
                for name in sorted(files):
                    if name.endswith(".py"):
                        yield os.path.join(root, name)
        else:
            yield path


def read_source(path: str) -> Tuple[str, str]:
    """Text and encoding of a file; newlines are kept as they are."""
    with open(path, "rb") as f:
        data = f.read()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding


def write_source(path: str, text: str, encoding: str) -> None:
    """Replace ``path`` atomically, keeping its permissions.

    A symbolic link is followed: its target gets the new text and the link
    stays a link.
    """
    path = os.path.realpath(path)
    tmp = f"{path}.compat-codemod.tmp"
    with open(tmp, "wb") as f:
        f.write(text.encode(encoding))
    try:
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    except OSError:
        pass
    os.replace(tmp, path)

