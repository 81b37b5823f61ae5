"""``@asyncio.coroutine`` + ``yield from`` -> ``async def`` + ``await``.

Acts only inside functions the analysis decided to convert: drops the
coroutine decorator (keeping the others and any comment on it), turns
``yield from x`` into ``await x`` with the parentheses precedence needs,
bare ``yield`` into ``await asyncio.sleep(0)``, ``with (yield from lock):``
into ``async with lock:``, a bare ``yield from lock`` into ``await
lock.acquire()``, ``raise Return(v)``/``raise StopIteration(v)`` into
``return v`` and adds ``await`` to returns proven awaitable.
"""
from typing import Any, Dict, List, Sequence, Set, Union

import libcst as cst

from .base import Transform

# Operands ``await`` takes without parentheses (primaries).
_PRIMARIES = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def parenthesize(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``expr`` wrapped in parentheses unless it is a primary already."""
    if expr.lpar or isinstance(expr, _PRIMARIES):
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _multiline(ws: object) -> bool:
    return isinstance(ws, cst.ParenthesizedWhitespace)


def drop_coroutine_decorators(node: cst.FunctionDef, indices: Sequence[int]) -> cst.FunctionDef:
    """``node`` without the decorators at ``indices``, keeping their comments."""
    drop = set(indices)
    if not drop:
        return node
    kept: List[cst.Decorator] = []
    carried: List[cst.EmptyLine] = []
    for i, dec in enumerate(node.decorators):
        if i in drop:
            carried.extend(dec.leading_lines)
            comment = dec.trailing_whitespace.comment
            if comment is not None:
                # a comment on the decorator line survives on its own line
                carried.append(cst.EmptyLine(indent=True, comment=comment))
            continue
        if carried:
            dec = dec.with_changes(leading_lines=list(carried) + list(dec.leading_lines))
            carried = []
        kept.append(dec)
    changes: Dict[str, Any] = {"decorators": kept}
    if not kept:
        changes["leading_lines"] = list(node.leading_lines) + carried + list(node.lines_after_decorators)
        changes["lines_after_decorators"] = []
    elif carried:
        changes["lines_after_decorators"] = carried + list(node.lines_after_decorators)
    return node.with_changes(**changes)


class CoroutineToAsync(Transform):
    """Rewrite the own body of each converted coroutine."""

    DESCRIPTION = "generator-based coroutines to async def / await"

    def __init__(self, state) -> None:  # type: ignore[no-untyped-def]
        super().__init__(state)
        # ids of (original) yields whose parentheses must stay: ``(await x).y``
        self.keep_parens: Set[int] = set()

    # -- parentheses the result still needs --------------------------------
    def visit_Attribute(self, node: cst.Attribute) -> None:
        if isinstance(node.value, cst.Yield):
            self.keep_parens.add(id(node.value))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Yield):
            self.keep_parens.add(id(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Yield):
            self.keep_parens.add(id(node.func))

    # -- the rewrites ----------------------------------------------------
    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        info = self.state.frame.info  # type: ignore[union-attr]
        if not info.convert:
            return updated
        updated = drop_coroutine_decorators(updated, info.coro_decorators)
        if updated.asynchronous is None:
            updated = updated.with_changes(asynchronous=cst.Asynchronous())
        return updated

    def leave_Yield(self, original: cst.Yield, updated: cst.Yield) -> Union[cst.Yield, cst.Await]:
        if not self.state.in_converted:
            return updated
        value = updated.value
        if isinstance(value, cst.From):
            operand = parenthesize(value.item)
            ws = value.whitespace_after_from
            multiline = _multiline(ws) or _multiline(value.whitespace_before_from)
        elif value is None:
            operand = cst.Call(func=self.state.asyncio_attr("sleep"), args=[cst.Arg(cst.Integer("0"))])
            ws, multiline = cst.SimpleWhitespace(" "), False
        else:
            return updated  # ``yield value``: the analysis refused the function
        multiline = multiline or _multiline(updated.whitespace_after_yield) or any(
            _multiline(p.whitespace_after) for p in updated.lpar
        ) or any(_multiline(p.whitespace_before) for p in updated.rpar)
        keep = multiline or id(original) in self.keep_parens
        if _multiline(ws) and not updated.lpar:
            ws = cst.SimpleWhitespace(" ")
        return cst.Await(
            expression=operand,
            whitespace_after_await=ws,
            lpar=updated.lpar if keep else [],
            rpar=updated.rpar if keep else [],
        )

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With:
        if not self.state.in_converted or not updated.items:
            return updated
        items = []
        for orig_item, item in zip(original.items, updated.items):
            awaited = orig_item.item
            if not (
                isinstance(awaited, cst.Await)
                or (isinstance(awaited, cst.Yield) and isinstance(awaited.value, cst.From))
            ) or not isinstance(item.item, cst.Await):
                return updated
            target = item.item.expression
            if isinstance(target, (cst.Name, cst.Attribute)) and target.lpar:
                target = target.with_changes(lpar=[], rpar=[])
            items.append(item.with_changes(item=target))
        return updated.with_changes(asynchronous=cst.Asynchronous(), items=items)

    def leave_Expr(self, original: cst.Expr, updated: cst.Expr) -> cst.Expr:
        if not self.state.in_converted:
            return updated
        y = original.value
        if not (isinstance(y, cst.Yield) and isinstance(y.value, cst.From)):
            return updated
        from ..analysis.names import cst_dotted

        if cst_dotted(y.value.item) not in self.state.frame.info.locks:  # type: ignore[union-attr]
            return updated
        lock = y.value.item
        acquire = cst.Call(func=cst.Attribute(value=lock, attr=cst.Name("acquire")))
        return updated.with_changes(value=cst.Await(expression=acquire))

    def leave_Raise(self, original: cst.Raise, updated: cst.Raise) -> Union[cst.Raise, cst.Return]:
        if not self.state.in_converted or updated.cause is not None:
            return updated
        exc = updated.exc
        call = exc if isinstance(exc, cst.Call) else None
        func = call.func if call is not None else exc
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if name not in ("Return", "StopIteration"):
            return updated
        value = None
        if call is not None:
            if len(call.args) > 1 or any(a.keyword or a.star for a in call.args):
                return updated
            if call.args:
                value = call.args[0].value
        return cst.Return(value=value, semicolon=updated.semicolon)

    def leave_Return(self, original: cst.Return, updated: cst.Return) -> cst.Return:
        frame = self.state.frame
        if frame is None or not self.state.in_converted or not frame.info.return_await:
            return updated
        i = frame.returns_seen
        frame.returns_seen += 1
        if i < len(frame.info.return_await) and frame.info.return_await[i] and updated.value is not None:
            return updated.with_changes(value=cst.Await(expression=parenthesize(updated.value)))
        return updated
