"""The codemod: legacy ``@asyncio.coroutine``/``yield from`` code to ``async``/``await``.

Needs libcst (the ``codemod`` extra) only when a file is rewritten;
importing this package, and the ``report`` command, work without it.

>>> from compat.codemod import transform_source   # doctest: +SKIP
>>> transform_source(old_source, "app.py").new     # doctest: +SKIP
"""
from typing import TYPE_CHECKING, Any

from ._deps import INSTALL_HINT, LibcstMissing, require_libcst
from .diagnostics import Diagnostic

if TYPE_CHECKING:  # pragma: no cover
    from .engine import FileResult


def transform_source(source: str, path: str = "<string>", unsafe_fixes: bool = False) -> "FileResult":
    """Rewrite one module's source (raises :class:`LibcstMissing` without libcst)."""
    from .engine import transform_source as run

    return run(source, path, unsafe_fixes)


def inventory_source(source: str, path: str = "<string>") -> Any:
    """Legacy constructs of one module, as the ``report`` command lists them."""
    from .report import inventory_source as run

    return run(source, path)


__all__ = ["Diagnostic", "INSTALL_HINT", "LibcstMissing", "inventory_source", "require_libcst", "transform_source"]
