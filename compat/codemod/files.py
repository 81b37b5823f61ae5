"""Finding Python files and reading/writing them without changing encoding or newlines."""
import io
import os
import tokenize
from typing import Iterable, Iterator, Tuple

# Directories no one wants rewritten.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__", "node_modules",
     ".mypy_cache", ".pytest_cache", "build", "dist", ".eggs"}
)


def iter_python_files(paths: Iterable[str]) -> Iterator[str]:
    """Files named on the command line, and ``*.py`` under named directories."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
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
    """Replace ``path`` atomically, keeping its permissions."""
    tmp = f"{path}.compat-codemod.tmp"
    with open(tmp, "wb") as f:
        f.write(text.encode(encoding))
    try:
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    except OSError:
        pass
    os.replace(tmp, path)

