"""``python -m compat report``: what legacy code a tree still holds.

Built on the stdlib ``ast`` and the codemod's analysis, so it needs no
libcst. Per file it lists each construct with its position; totals make it
the inventory a team tracks its migration with.
"""
import ast
import warnings
from typing import Any, Dict, List, Optional

from .analysis import analyze
from .files import read_source
from .analysis.names import LOOP_REMOVED, AsyncioNames, ast_dotted
from .prepass import prepass

# Report order and the words used in text output (one, many).
KINDS = {
    "asyncore_import": ("asyncore import", "asyncore imports"),
    "asynchat_import": ("asynchat import", "asynchat imports"),
    "smtpd_import": ("smtpd import", "smtpd imports"),
    "dispatcher_subclass": ("dispatcher subclass", "dispatcher subclasses"),
    "async_chat_subclass": ("async_chat subclass", "async_chat subclasses"),
    "decorated_coroutine": ("decorated coroutine", "decorated coroutines"),
    "yield_from": ("yield from", "yield from"),
    "loop_kwarg": ("loop= argument", "loop= arguments"),
    "removed_api": ("removed API", "removed APIs"),
    "cancellation": ("except Exception no longer catching cancellation (3.8+)",
                     "except Exception no longer catching cancellation (3.8+)"),
    "refusal": ("left for a human (codemod refuses)", "left for a human (codemod refuses)"),
}
# Coroutines the codemod leaves as they are (each has a refusal saying why).
LEFT = "coroutines_left"


def label(kind: str, n: int) -> str:
    """``1 decorated coroutine``, ``2 decorated coroutines``."""
    one, many = KINDS[kind]
    return f"{n} {one if n == 1 else many}"
_LEGACY_MODULES = {"asyncore": "asyncore_import", "asynchat": "asynchat_import", "smtpd": "smtpd_import"}
_DISPATCHERS = {"dispatcher", "dispatcher_with_send", "file_dispatcher"}
_SITE_DETAIL = {
    "task_classmethod": "Task.current_task()/all_tasks() (gone in 3.9)",
    "getattr_async": "getattr(asyncio, 'async') (gone in 3.7)",
    "wait_coroutines": "asyncio.wait() of bare coroutines (TypeError from 3.11)",
}


def _finding(node: Any, kind: str, detail: str) -> Dict[str, Any]:
    return {"line": getattr(node, "lineno", 1), "col": getattr(node, "col_offset", 0) + 1,
            "kind": kind, "detail": detail}


class _Inventory(ast.NodeVisitor):
    """Module-level facts the codemod analysis does not collect."""

    def __init__(self, names: AsyncioNames) -> None:
        self.names = names
        self.findings: List[Dict[str, Any]] = []
        self.legacy_names: Dict[str, str] = {}  # local name -> asyncore/asynchat(.attr)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            top = alias.name.split(".")[0]
            if top in _LEGACY_MODULES:
                self.legacy_names[alias.asname or top] = top
                self.findings.append(_finding(node, _LEGACY_MODULES[top], f"import {alias.name}"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        top = (node.module or "").split(".")[0]
        if node.level == 0 and top in _LEGACY_MODULES:
            for alias in node.names:
                self.legacy_names[alias.asname or alias.name] = f"{top}.{alias.name}"
            names = ", ".join(a.name for a in node.names)
            self.findings.append(_finding(node, _LEGACY_MODULES[top], f"from {node.module} import {names}"))
        if node.level == 0 and node.module == "asyncio":
            for alias in node.names:
                if alias.name in ("async", "JoinableQueue"):
                    self.findings.append(_finding(node, "removed_api", f"from asyncio import {alias.name}"))

    def _resolve(self, base: ast.expr) -> Optional[str]:
        dotted = ast_dotted(base)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head not in self.legacy_names:
            return None
        full = self.legacy_names[head]
        return f"{full}.{rest}" if rest else full

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            full = self._resolve(base)
            if full is None:
                continue
            attr = full.rsplit(".", 1)[-1]
            if full.startswith("asynchat.") and attr == "async_chat":
                self.findings.append(_finding(node, "async_chat_subclass", f"class {node.name}({ast_dotted(base)})"))
            elif full.startswith("asyncore.") and attr in _DISPATCHERS:
                self.findings.append(_finding(node, "dispatcher_subclass", f"class {node.name}({ast_dotted(base)})"))
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        self.findings.append(_finding(node, "yield_from", "yield from"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if any(k.arg == "loop" for k in node.keywords):
            self.findings.append(_finding(node, "loop_kwarg", f"{ast_dotted(node.func) or 'call'}(..., loop=...)"))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "JoinableQueue" and self.names.path(ast_dotted(node)) == ("JoinableQueue",):
            self.findings.append(_finding(node, "removed_api", "asyncio.JoinableQueue (gone in 3.5): use Queue"))
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if isinstance(item.context_expr, (ast.YieldFrom, ast.Await)):
                keyword = "yield from" if isinstance(item.context_expr, ast.YieldFrom) else "await"
                what = ast_dotted(item.context_expr.value) or "..."
                self.findings.append(_finding(node, "removed_api", f"with ({keyword} {what}) (TypeError from 3.9)"))
        self.generic_visit(node)


def inventory_source(source: str, path: str = "<string>") -> Dict[str, Any]:
    """Findings and counts for one module's source."""
    text, renames = prepass(source)
    entry: Dict[str, Any] = {"path": path, "lines": source.count("\n"), "findings": [], "error": None}
    try:
        with warnings.catch_warnings():
            # the analysed code's own SyntaxWarnings (invalid escapes...) are not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(text, path)
    except (SyntaxError, ValueError) as exc:
        entry["error"] = f"cannot parse: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})"
        entry["counts"] = {}
        return entry
    findings = [{"line": line, "col": col, "kind": "removed_api", "detail": "asyncio.async() (gone in 3.7)"}
                for line, col, why in renames if "ensure_future" in why]
    analysis = analyze(tree, text)
    inv = _Inventory(analysis.names)
    inv.visit(tree)
    async_lines = {line for line, _, why in renames if "ensure_future" in why}
    for x in inv.findings:
        if x["line"] in async_lines and x["kind"] == "loop_kwarg":
            # name what the source says, not what the pre-pass made of it
            x["detail"] = x["detail"].replace("ensure_future(", "async(")
    findings += inv.findings
    for f in analysis.funcs:
        if f.coro_decorators:
            findings.append(_finding(f.node, "decorated_coroutine", f"def {f.node.name}"))
    for site in analysis.sites:
        if site.kind in _SITE_DETAIL:
            findings.append({"line": site.line, "col": site.col, "kind": "removed_api", "detail": _SITE_DETAIL[site.kind]})
    for f in analysis.funcs:
        if f.convert:
            for d in f.cancel_notes:
                findings.append({"line": d.line, "col": d.col, "kind": "cancellation", "detail": d.reason})
    for d in analysis.refusals:
        findings.append({"line": d.line, "col": d.col, "kind": "refusal", "detail": d.reason})
    removed_loop = sum(1 for s in analysis.sites if s.kind == "loop_kwarg")
    findings.sort(key=lambda x: (x["line"], x["col"], x["kind"]))
    entry["findings"] = findings
    counts = {k: 0 for k in KINDS}
    for x in findings:
        counts[x["kind"]] += 1
    counts["loop_kwarg_removed_in_3_10"] = removed_loop
    counts[LEFT] = sum(1 for f in analysis.funcs if f.coro_decorators and not f.convert and not f.protocol)
    entry["counts"] = counts
    return entry


def inventory(paths: List[str]) -> Dict[str, Any]:
    """The report over many files, with totals."""
    files = []
    for path in paths:
        try:
            source, _ = read_source(path)
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            files.append({"path": path, "lines": 0, "findings": [], "counts": {}, "error": f"cannot read: {exc}"})
            continue
        files.append(inventory_source(source, path))
    totals: Dict[str, int] = {k: 0 for k in KINDS}
    totals["loop_kwarg_removed_in_3_10"] = 0
    totals[LEFT] = 0
    for entry in files:
        for k, v in entry["counts"].items():
            totals[k] += v
    totals["files"] = len(files)
    totals["files_with_legacy"] = sum(1 for e in files if any(x["kind"] in KINDS for x in e["findings"]))
    totals["lines"] = sum(e["lines"] for e in files)
    totals["errors"] = sum(1 for e in files if e["error"])
    return {"files": files, "totals": totals}


def format_text(data: Dict[str, Any], summary: bool = False) -> str:
    """Human-readable report: per file findings (unless ``summary``), then totals.

    Errors are not in it: :func:`format_errors` gives them (for stderr).
    """
    out = []
    for entry in data["files"]:
        if summary or entry["error"] or not entry["findings"]:
            continue
        counts = entry["counts"]
        parts = [label(k, counts[k]) for k in KINDS if counts[k]]
        if counts.get(LEFT):
            parts.append(f"{counts[LEFT]} of them left as they are")
        out.append(f"{entry['path']}: {', '.join(parts)}")
        for x in entry["findings"]:
            out.append(f"  {entry['path']}:{x['line']}:{x['col']}: {x['kind']}: {x['detail']}")
    t = data["totals"]
    out.append(f"total: {t['files']} file{'s' if t['files'] != 1 else ''} "
               f"({t['files_with_legacy']} with legacy constructs), {t['lines']} lines, "
               f"{t['errors']} error{'s' if t['errors'] != 1 else ''}")
    for k, (_, many) in KINDS.items():
        out.append(f"  {many}: {t[k]}")
    out.append(f"  loop= arguments Python 3.10 rejects: {t['loop_kwarg_removed_in_3_10']}")
    out.append(f"  decorated coroutines the codemod leaves as they are: {t[LEFT]}")
    return "\n".join(out) + "\n"


def format_errors(data: Dict[str, Any], command: str = "report") -> str:
    """One ``compat report: error: path: reason`` line per file that failed."""
    return "".join(f"compat {command}: error: {e['path']}: {e['error']}\n" for e in data["files"] if e["error"])


__all__ = ["inventory", "inventory_source", "format_errors", "format_text", "KINDS", "LOOP_REMOVED"]
