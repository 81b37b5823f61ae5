"""``asyncio.Task(c())`` and ``getattr(asyncio, 'async')`` -> ``asyncio.ensure_future``.

``asyncio.async(c())`` itself is not parseable; the token pre-pass
(:mod:`compat.codemod.prepass`) turns it into ``asyncio.ensure_future`` first.
"""
import libcst as cst

from .base import Transform


class EnsureFuture(Transform):
    """Spell task creation the way every supported Python accepts."""

    DESCRIPTION = "asyncio.Task(coro) / getattr(asyncio, 'async') to asyncio.ensure_future"

    def leave_Call(self, original: cst.Call, updated: cst.CSTNode) -> cst.CSTNode:
        if not isinstance(updated, cst.Call):
            return updated
        func = updated.func
        if isinstance(func, cst.Name) and func.value == "getattr" and len(updated.args) == 2:
            owner, attr = updated.args[0].value, updated.args[1].value
            if (
                isinstance(owner, cst.Name)
                and owner.value in self.state.names.aliases
                and isinstance(attr, cst.SimpleString)
                and attr.evaluated_value in ("async", "ensure_future")
            ):
                return cst.Attribute(value=owner, attr=cst.Name("ensure_future"), lpar=updated.lpar, rpar=updated.rpar)
            return updated
        if self.state.path(func) != ("Task",) or not updated.args:
            return updated
        if not isinstance(updated.args[0].value, cst.Call) or updated.args[0].keyword is not None:
            return updated
        if any(a.keyword is not None and a.keyword.value != "loop" for a in updated.args):
            return updated
        if isinstance(func, cst.Attribute):
            new_func: cst.BaseExpression = func.with_changes(attr=cst.Name("ensure_future"))
        else:
            new_func = self.state.asyncio_attr("ensure_future")
        return updated.with_changes(func=new_func)
