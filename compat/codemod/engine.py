"""One file through the codemod: pre-pass, analysis, transforms, compile check."""
import ast
import warnings
from dataclasses import dataclass, field
from typing import List

from ._deps import require_libcst
from .analysis import Analysis, analyze
from .diagnostics import Diagnostic
from .prepass import prepass


@dataclass
class FileResult:
    """Outcome for one file: the new text and what was refused or failed."""

    path: str
    old: str
    new: str
    diagnostics: List[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the codemod rewrote anything."""
        return self.new != self.old

    @property
    def failed(self) -> bool:
        """Whether the file could not be processed at all."""
        return any(d.kind == "error" for d in self.diagnostics)


def _compiles(source: str, path: str) -> str:
    """Empty string if ``source`` compiles, else the error message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the file's own SyntaxWarnings are not ours
            compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        return f"{getattr(exc, 'msg', exc)} (line {line})"
    return ""


def _transform(text: str, analysis: Analysis) -> str:
    import libcst as cst

    from .transforms import ORDER, Pipeline, State

    state = State(analysis)
    transforms = [cls(state) for cls in ORDER]
    module = cst.parse_module(text)
    new = module.visit(Pipeline(state, transforms))
    if state.next_index != len(analysis.funcs) or state.next_stmt != len(analysis.stmt_relevant):
        raise RuntimeError("libcst and ast disagree about the functions of this file")
    return new.code


def transform_source(source: str, path: str = "<string>", unsafe_fixes: bool = False) -> FileResult:
    """Rewrite one module's source; refusals and errors come back as diagnostics.

    ``unsafe_fixes``: also make ``with (yield from x)`` ``async with x`` where
    ``x`` is not known to be an asyncio lock, and ``except Exception`` around
    an await also name ``CancelledError`` (each one listed as a note).
    """
    require_libcst()
    text, renames = prepass(source)
    notes = [Diagnostic(line, col, why, "note") for line, col, why in renames if "renamed" in why]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        col = getattr(exc, "offset", None) or 1
        msg = getattr(exc, "msg", str(exc))
        return FileResult(path, source, source, [Diagnostic(line, col, f"cannot parse: {msg}", "error")])
    analysis = analyze(tree, text, unsafe_fixes)
    diagnostics = notes + analysis.refusals + analysis.notes
    if not analysis.changes_expected:
        return FileResult(path, source, text, diagnostics)
    try:
        new = _transform(text, analysis)
    except Exception as exc:  # libcst parser errors and our own consistency check
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return FileResult(path, source, source, diagnostics + [Diagnostic(1, 1, f"cannot rewrite: {first}", "error")])
    if new != text:
        error = _compiles(new, path)
        # A file that did not compile before (e.g. ``yield`` in a comprehension,
        # refused above) may keep its old error; any new error is ours.
        if error and not _compiles(text, path):
            reason = f"rewritten code does not compile ({error}); file left unchanged"
            return FileResult(path, source, source, diagnostics + [Diagnostic(1, 1, reason, "error")])
    return FileResult(path, source, new, diagnostics)
