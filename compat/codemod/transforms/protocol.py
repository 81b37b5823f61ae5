"""Dunder protocol methods keep their protocol.

``__iter__``/``__await__`` must return an iterator, so they stay generators:
the coroutine decorator goes and each ``yield from x`` of something that is
(or becomes) a native coroutine delegates through ``x.__await__()``, which a
plain generator may ``yield from``. A decorated ``__aiter__`` must return
its async iterator directly: it only loses the decorator.
"""
import libcst as cst

from ..analysis.names import cst_dotted
from .base import Transform
from .coroutine import drop_coroutine_decorators

# Operands a plain generator may ``yield from`` as they are.
_ITERABLE_NODES = (
    cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp,
    cst.GeneratorExp, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
)


class ProtocolMethods(Transform):
    """``__iter__``/``__await__`` delegate with ``.__await__()``; ``__aiter__`` stays plain."""

    DESCRIPTION = "keep __iter__/__await__ generators and __aiter__ plain, delegating to native coroutines"

    def _in_protocol_generator(self) -> bool:
        f = self.state.frame
        return f is not None and f.info.protocol == "generator" and f.lambda_depth == 0

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        info = self.state.frame.info  # type: ignore[union-attr]
        if not info.protocol or not info.coro_decorators:
            return updated
        return drop_coroutine_decorators(updated, info.coro_decorators)

    def leave_From(self, original: cst.From, updated: cst.From) -> cst.From:
        if not self._in_protocol_generator():
            return updated
        info = self.state.frame.info  # type: ignore[union-attr]
        item = updated.item
        if isinstance(item, _ITERABLE_NODES):
            return updated
        if isinstance(item, cst.Call) and isinstance(item.func, cst.Attribute) \
                and item.func.attr.value in ("__await__", "__iter__"):
            return updated
        if isinstance(item, cst.Call) and cst_dotted(item.func) is not None:
            if cst_dotted(item.func) not in info.wrap_calls:
                return updated
        elif not info.wrap_other:
            return updated
        if not item.lpar and not isinstance(item, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            item = item.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        call = cst.Call(func=cst.Attribute(value=item, attr=cst.Name("__await__")))
        return updated.with_changes(item=call)
