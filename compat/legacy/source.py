"""Run source that Python 3.7+ cannot parse: ``asyncio.async(...)``, ``from asyncio import async``.

2014-2016 code calls ``asyncio.async`` (renamed ``ensure_future`` in 3.4.4,
a keyword since 3.7), which is a SyntaxError before any runtime patch can
help. :func:`compile_legacy` compiles source as Python would and, only when
that fails, retries on the output of the codemod's token pre-pass
(:func:`compat.codemod.prepass.prepass`), which keeps every line where it
was: tracebacks and ``linecache`` still show the file on disk. Each rewrite
warns :class:`compat.LegacyWarning` at its line.

:func:`install_hook` makes imports from a project's directories go through
the same compiler (a path hook whose source loader calls
:func:`compile_legacy`); files on disk are never changed, and no bytecode is
cached for a rewritten module, so plain ``python`` still sees the original.
"""
import importlib.machinery
import importlib.util
import os
import sys
import threading
import warnings
from types import CodeType
from typing import Any, Callable, Iterable, List, Optional, Tuple, Union

from compat.legacy.warning import LegacyWarning

__all__ = ["LegacySourceLoader", "compile_legacy", "install_hook", "uninstall_hook"]


def compile_legacy(source: Union[bytes, str], path: str, module: Optional[str] = None,
                   optimize: int = -1) -> CodeType:
    """Compile *source* like ``compile()``; if it is legacy syntax the pre-pass fixes, compile that.

    Raises the original SyntaxError when the pre-pass changes nothing, and
    the rewritten source's (lines are kept) when that does not compile either. *module* names the module in the
    LegacyWarning of each rewrite (``__main__`` for a script).
    """
    return _compile(source, path, module, optimize)[0]


def _compile(source: Union[bytes, str], path: str, module: Optional[str],
             optimize: int) -> Tuple[CodeType, bool]:
    """The code object, and whether the pre-pass had to rewrite the source."""
    try:
        return compile(source, path, "exec", dont_inherit=True, optimize=optimize), False
    except SyntaxError as exc:
        error = exc
    from compat.codemod.prepass import prepass

    text = importlib.util.decode_source(source) if isinstance(source, bytes) else source
    new, changes = prepass(text)
    if not changes:
        raise error.with_traceback(None)
    # If something else is wrong too, its error (same line numbers) is the one to fix.
    code = compile(new, path, "exec", dont_inherit=True, optimize=optimize)
    lines = text.splitlines()
    for line, col, why in changes:
        message = f"{why}: rewritten as the module was compiled (`compat codemod` makes it permanent)"
        try:
            warnings.warn_explicit(message, LegacyWarning, path, line, module=module or _module_name(path))
        except LegacyWarning:
            # Made an error (-W error::compat.LegacyWarning): report it where it
            # is, as python reports a SyntaxWarning made an error.
            text_line = lines[line - 1] + "\n" if line <= len(lines) else None
            raise SyntaxError(f"{message} [LegacyWarning made an error]",
                              (path, line, col, text_line)) from None
    return code, True


def _module_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


class LegacySourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader compiling with :func:`compile_legacy`; caches no bytecode for rewrites."""

    _rewritten = False

    def source_to_code(self, data: Any, path: Any, *args: Any, **kwargs: Any) -> CodeType:  # type: ignore[override]
        """Compile the module's source, rewriting legacy syntax when it does not parse."""
        code, self._rewritten = _compile(data, path, self.name, kwargs.get("_optimize", -1))
        return code

    def set_data(self, path: str, data: Any, *, _mode: int = 0o666) -> None:
        """Write bytecode, except for a rewritten module (plain python must not load it)."""
        if self._rewritten:
            return
        super().set_data(path, data, _mode=_mode)


_lock = threading.Lock()
_hook: Optional[Callable[[str], Any]] = None
_roots: List[str] = []


def _normal(path: str) -> str:
    return os.path.normcase(os.path.realpath(path or os.curdir))


def _under_roots(path: str) -> bool:
    real = _normal(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in _roots)


def _make_hook() -> Callable[[str], Any]:
    details = [
        (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES),
        (LegacySourceLoader, importlib.machinery.SOURCE_SUFFIXES),
        (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
    ]
    file_finder = importlib.machinery.FileFinder.path_hook(*details)

    def legacy_source_hook(path: str) -> Any:
        if not _under_roots(path):
            raise ImportError("not a project directory of `compat run`", path=path)
        return file_finder(path)

    return legacy_source_hook


def install_hook(roots: Iterable[str]) -> None:
    """Compile modules imported from under *roots* (and their subdirectories) with :func:`compile_legacy`."""
    global _hook
    with _lock:
        _roots.extend(r for r in (_normal(p) for p in roots) if r not in _roots)
        if _hook is None:
            _hook = _make_hook()
            sys.path_hooks.insert(0, _hook)
        # Finders cached for these directories were made without the hook.
        for entry in list(sys.path_importer_cache):
            if _under_roots(entry):
                del sys.path_importer_cache[entry]


def uninstall_hook() -> None:
    """Remove the hook and forget the roots (modules already imported stay)."""
    global _hook
    with _lock:
        if _hook is None:
            return
        if _hook in sys.path_hooks:
            sys.path_hooks.remove(_hook)
        for entry in list(sys.path_importer_cache):
            if _under_roots(entry):
                del sys.path_importer_cache[entry]
        _roots.clear()
        _hook = None
