"""``asyncio.wait([c1(), c2()])`` -> each coroutine wrapped in ``ensure_future``.

Since 3.11 ``asyncio.wait`` refuses bare coroutines.
"""
import libcst as cst

from ..analysis.names import FUTURE_WRAPPERS
from .base import Transform


class WaitWrapsCoroutines(Transform):
    """Wrap the coroutine calls handed to ``asyncio.wait``."""

    DESCRIPTION = "asyncio.wait([coro(), ...]) to asyncio.wait([ensure_future(coro()), ...])"

    def _wrap(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        if not isinstance(expr, cst.Call):
            return expr
        path = self.state.path(expr.func)
        if path is not None and path[-1] in FUTURE_WRAPPERS:
            return expr
        return cst.Call(func=self.state.asyncio_attr("ensure_future"), args=[cst.Arg(expr)])

    def leave_Call(self, original: cst.Call, updated: cst.CSTNode) -> cst.CSTNode:
        if not isinstance(updated, cst.Call) or not updated.args:
            return updated
        if self.state.path(updated.func) != ("wait",):
            return updated
        first = updated.args[0]
        value = first.value
        if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
            elements = [e.with_changes(value=self._wrap(e.value)) if isinstance(e, cst.Element) else e
                        for e in value.elements]
            value = value.with_changes(elements=elements)
        elif isinstance(value, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            value = value.with_changes(elt=self._wrap(value.elt))
        elif isinstance(value, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)) and not first.star:
            # ``wait(tasks)``: what ``tasks`` holds is not known here
            element = cst.Name("aw")
            value = cst.ListComp(
                elt=cst.Call(func=self.state.asyncio_attr("ensure_future"), args=[cst.Arg(element)]),
                for_in=cst.CompFor(target=element, iter=value),
            )
        else:
            return updated
        return updated.with_changes(args=[first.with_changes(value=value)] + list(updated.args[1:]))
