"""Drop ``loop=`` from the asyncio calls that Python 3.10 stopped accepting it in.

``gather``/``shield`` outside a coroutine are different: without ``loop=``
they would look for a current loop, which may not be the one passed (or may
not exist: 3.14 raises). There each awaitable is bound to that loop with
``ensure_future(x, loop=loop)``, which every supported Python accepts, and
``gather``/``shield`` take the loop from those futures.
"""
from typing import List

import libcst as cst

from ..analysis.names import LOOP_REMOVED
from .base import Transform

# Take their loop from their (future) arguments when given no loop=.
_BIND_ARGUMENTS = ("gather", "shield")


class RemoveLoopArgument(Transform):
    """``asyncio.sleep(1, loop=loop)`` -> ``asyncio.sleep(1)``."""

    DESCRIPTION = "remove loop= where Python 3.10 removed it"

    def _in_coroutine(self) -> bool:
        frame = self.state.frame
        return frame is not None and frame.lambda_depth == 0 and (frame.info.convert or frame.info.is_async)

    def _bind(self, arg: cst.Arg, loop: cst.BaseExpression) -> cst.Arg:
        """``x`` -> ``ensure_future(x, loop=loop)``; ``*xs`` -> ``*[ensure_future(aw, loop=loop) for aw in xs]``."""
        def bound(value: cst.BaseExpression) -> cst.Call:
            return cst.Call(
                func=self.state.asyncio_attr("ensure_future"),
                args=[cst.Arg(value), cst.Arg(loop, keyword=cst.Name("loop"),
                                              equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))],
            )
        if arg.star == "*":
            element = cst.Name("aw")
            comp = cst.ListComp(elt=bound(element), for_in=cst.CompFor(target=element, iter=arg.value))
            return arg.with_changes(value=comp)
        return arg.with_changes(value=bound(arg.value))

    def leave_Call(self, original: cst.Call, updated: cst.CSTNode) -> cst.CSTNode:
        if not isinstance(updated, cst.Call):
            return updated
        path = self.state.path(updated.func)
        if not path or len(path) != 1 or path[0] not in LOOP_REMOVED:
            return updated
        args: List[cst.Arg] = list(updated.args)
        for i, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == "loop":
                break
        else:
            return updated
        removed = args.pop(i)
        if path[0] in _BIND_ARGUMENTS and not self._in_coroutine():
            args = [self._bind(a, removed.value) if a.keyword is None and a.star != "**" else a for a in args]
        if args and i == len(args):
            # the new last argument takes over the removed one's comma style
            args[-1] = args[-1].with_changes(comma=removed.comma)
        return updated.with_changes(args=args)
