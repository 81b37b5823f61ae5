"""Imports: drop decorator imports no longer used, add ``import asyncio`` when needed."""
from typing import List, Union

import libcst as cst

from .base import Transform


class FixImports(Transform):
    """Must run last: it acts on what the other transforms left behind."""

    DESCRIPTION = "remove unused coroutine decorator imports; import asyncio where needed"

    def leave_ImportFrom(
        self, original: cst.ImportFrom, updated: cst.ImportFrom
    ) -> Union[cst.ImportFrom, cst.RemovalSentinel]:
        unused = self.state.analysis.unused_decorator_imports
        if not unused or self.state.frames or isinstance(updated.names, cst.ImportStar):
            return updated
        from ..analysis.names import cst_dotted

        module = cst_dotted(updated.module) if updated.module is not None else None
        if updated.relative or module is None or not (module == "asyncio" or module.startswith("asyncio.")):
            return updated
        names = list(updated.names)
        kept = [a for a in names if (a.evaluated_alias or a.evaluated_name) not in unused]
        if len(kept) == len(names):
            return updated
        if not kept:
            return cst.RemoveFromParent()
        if kept[-1] is not names[-1]:
            kept[-1] = kept[-1].with_changes(comma=names[-1].comma)
        return updated.with_changes(names=kept)

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if not self.state.need_asyncio_import:
            return updated
        body: List[cst.BaseStatement] = list(updated.body)
        index = 0
        for i, stmt in enumerate(body):
            if not isinstance(stmt, cst.SimpleStatementLine):
                break
            small = stmt.body[0]
            is_doc = i == 0 and isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString))
            is_future = isinstance(small, cst.ImportFrom) and cst_module(small) == "__future__"
            if is_doc or is_future:
                index = i + 1
            elif isinstance(small, (cst.Import, cst.ImportFrom)):
                index = i + 1
                break
            else:
                break
        line = cst.SimpleStatementLine(body=[cst.Import(names=[cst.ImportAlias(name=cst.Name("asyncio"))])])
        body.insert(index, line)
        return updated.with_changes(body=body)


def cst_module(node: cst.ImportFrom) -> str:
    """Dotted module name of a ``from X import`` (empty when relative-only)."""
    from ..analysis.names import cst_dotted

    return (cst_dotted(node.module) or "") if node.module is not None else ""
