"""``loop = asyncio.get_event_loop()`` under ``if __name__ == "__main__":``
-> ``loop = asyncio.new_event_loop(); asyncio.set_event_loop(loop)``.

Also where a program starts its loop (a module running it at module level,
a ``main()`` called only under the guard). There that is what
``get_event_loop()`` did up to 3.13; from 3.14 it raises when no loop is
set. Elsewhere at module level (a library's import time) the analysis
only reports it.
"""
from typing import Dict, Union

import libcst as cst

from .base import Transform


class NewEventLoop(Transform):
    """Create and set the program's loop explicitly."""

    DESCRIPTION = "module-level get_event_loop() under a main guard to new_event_loop() + set_event_loop()"

    def __init__(self, state) -> None:  # type: ignore[no-untyped-def]
        super().__init__(state)
        self.index: Dict[int, int] = {}  # id(Assign) -> statement index

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.state.analysis.new_loops:
            self.index[id(node)] = self.state.next_stmt - 1

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> Union[cst.SimpleStatementLine, cst.FlattenSentinel]:
        if len(original.body) != 1 or self.index.get(id(original.body[0])) not in self.state.analysis.new_loops:
            return updated
        assign = updated.body[0]
        if not isinstance(assign, cst.Assign) or not isinstance(assign.value, cst.Call):
            return updated
        target = assign.targets[0].target
        create = updated.with_changes(body=[assign.with_changes(
            value=cst.Call(func=self.state.asyncio_attr("new_event_loop")))])
        set_it = cst.SimpleStatementLine(body=[cst.Expr(cst.Call(
            func=self.state.asyncio_attr("set_event_loop"), args=[cst.Arg(target)]))])
        return cst.FlattenSentinel([create, set_it])
