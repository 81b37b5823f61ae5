"""Module-level ``loop = get_event_loop(); loop.run_until_complete(main()); loop.close()``
-> ``asyncio.run(main())``, when the analysis proved the loop is used for nothing else.
"""
from typing import List, Optional, Sequence

import libcst as cst

from .base import Transform


class RunMain(Transform):
    """Replace a single-use module-level loop by ``asyncio.run``."""

    DESCRIPTION = "module-level run_until_complete of a single-use loop to asyncio.run"

    @property
    def _loop(self) -> Optional[str]:
        run = self.state.analysis.run
        return run.loop_name if run is not None and not self.state.frames else None

    def _is_loop_stmt(self, stmt: cst.BaseStatement, what: str) -> bool:
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return False
        small = stmt.body[0]
        if what == "assign":
            return (
                isinstance(small, cst.Assign) and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
                and small.targets[0].target.value == self._loop
                and isinstance(small.value, cst.Call)
                and self.state.path(small.value.func) == ("get_event_loop",)
            )
        return (
            isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
            and not small.value.args
            and isinstance(small.value.func, cst.Attribute)
            and small.value.func.attr.value == "close"
            and isinstance(small.value.func.value, cst.Name)
            and small.value.func.value.value == self._loop
        )

    def leave_Call(self, original: cst.Call, updated: cst.CSTNode) -> cst.CSTNode:
        if self._loop is None or not isinstance(updated, cst.Call):
            return updated
        func = updated.func
        if (
            isinstance(func, cst.Attribute) and func.attr.value == "run_until_complete"
            and isinstance(func.value, cst.Name) and func.value.value == self._loop
        ):
            return updated.with_changes(func=self.state.asyncio_attr("run"))
        return updated

    def _rewrite(self, body: Sequence[cst.BaseStatement]) -> List[cst.BaseStatement]:
        out: List[cst.BaseStatement] = []
        carried: List[cst.EmptyLine] = []
        for stmt in body:
            if self._is_loop_stmt(stmt, "assign") or self._is_loop_stmt(stmt, "close"):
                carried.extend(stmt.leading_lines)  # type: ignore[attr-defined]
                continue
            replacement: List[cst.BaseStatement] = [stmt]
            if (
                isinstance(stmt, cst.Try) and not stmt.handlers and stmt.orelse is None
                and stmt.finalbody is not None
                and all(self._is_loop_stmt(s, "close") for s in stmt.finalbody.body.body)
                and isinstance(stmt.body, cst.IndentedBlock)
            ):
                # ``try: run finally: loop.close()``: asyncio.run closes the loop
                inner = list(stmt.body.body)
                carried.extend(stmt.leading_lines)
                replacement = inner
            for s in replacement:
                if carried:
                    s = s.with_changes(leading_lines=carried + list(s.leading_lines))  # type: ignore[attr-defined]
                    carried = []
                out.append(s)
        return out

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        if self._loop is None:
            return updated
        return updated.with_changes(body=self._rewrite(updated.body))

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        if self._loop is None:
            return updated
        body = self._rewrite(updated.body)
        if not body:
            # a ``finally: loop.close()``: the enclosing try is unwrapped later
            return updated
        return updated.with_changes(body=body)
