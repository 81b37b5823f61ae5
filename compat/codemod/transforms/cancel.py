"""--unsafe-fixes: ``except Exception`` around awaits also names ``CancelledError``.

Up to Python 3.7 ``asyncio.CancelledError`` was an ``Exception``, so such a
handler in a coroutine caught the cancellation of what its ``try`` awaited;
since 3.8 it is a ``BaseException`` and passes the handler. The analysis
picks the handlers (and notes each); this adds ``CancelledError``, spelled
the way the module names asyncio, so they catch what they caught then.
"""
from typing import List, Union

import libcst as cst

from .base import Transform


def _with_cancelled(kind: cst.BaseExpression, cancelled: cst.BaseExpression) -> cst.BaseExpression:
    """``Exception`` -> ``(Exception, C)``; ``(A, Exception)`` -> ``(A, Exception, C)``."""
    if isinstance(kind, cst.Tuple) and kind.elements:
        elements = list(kind.elements)
        last = elements[-1]
        comma = last.comma
        before = elements[-2].comma if len(elements) > 1 else None
        if isinstance(before, cst.Comma) and isinstance(before.whitespace_after, cst.ParenthesizedWhitespace):
            # one element a line: the new one on its own line, like the others
            elements[-1] = last.with_changes(comma=before)
            elements.append(cst.Element(cancelled, comma=comma))
            return kind.with_changes(elements=elements)
        if not isinstance(comma, cst.Comma) or comma.whitespace_after.empty:
            elements[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        trailing = comma if isinstance(comma, cst.Comma) and not comma.whitespace_after.empty else cst.MaybeSentinel.DEFAULT
        elements.append(cst.Element(cancelled, comma=trailing))
        return kind.with_changes(elements=elements)
    bare = kind.with_changes(lpar=[], rpar=[])
    return cst.Tuple(
        elements=[cst.Element(bare, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                  cst.Element(cancelled)],
        lpar=[cst.LeftParen()], rpar=[cst.RightParen()],
    )


class CancelledErrorHandlers(Transform):
    """Rewrite the handlers the analysis chose (only under ``--unsafe-fixes``)."""

    DESCRIPTION = "except Exception around awaits also catches CancelledError (3.8 made it a BaseException)"

    def __init__(self, state) -> None:  # type: ignore[no-untyped-def]
        super().__init__(state)
        self.indices: List[int] = []  # statement index of each enclosing ``try``

    def visit_Try(self, node: cst.Try) -> None:
        # the pipeline has counted this statement already
        self.indices.append(self.state.next_stmt - 1)

    def leave_Try(self, original: cst.Try, updated: cst.Try) -> Union[cst.Try, cst.BaseStatement]:
        idx = self.indices.pop()
        state = self.state
        if not state.analysis.cancel_fix or not state.in_converted:
            return updated
        chosen = state.frame.info.cancel_handlers.get(idx)  # type: ignore[union-attr]
        if not chosen:
            return updated
        handlers = list(updated.handlers)
        for h in chosen:
            handler = handlers[h]
            if handler.type is None:
                continue
            cancelled = state.asyncio_attr("CancelledError")
            handlers[h] = handler.with_changes(
                type=_with_cancelled(handler.type, cancelled),
                whitespace_after_except=cst.SimpleWhitespace(" "),
            )
        return updated.with_changes(handlers=handlers)
