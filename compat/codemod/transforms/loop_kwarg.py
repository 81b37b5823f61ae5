"""Drop ``loop=`` from the asyncio calls that Python 3.10 stopped accepting it in."""
import libcst as cst

from ..analysis.names import LOOP_REMOVED
from .base import Transform


class RemoveLoopArgument(Transform):
    """``asyncio.sleep(1, loop=loop)`` -> ``asyncio.sleep(1)``."""

    DESCRIPTION = "remove loop= where Python 3.10 removed it"

    def leave_Call(self, original: cst.Call, updated: cst.CSTNode) -> cst.CSTNode:
        if not isinstance(updated, cst.Call):
            return updated
        path = self.state.path(updated.func)
        if not path or len(path) != 1 or path[0] not in LOOP_REMOVED:
            return updated
        args = list(updated.args)
        for i, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == "loop":
                break
        else:
            return updated
        removed = args.pop(i)
        if args and i == len(args):
            # the new last argument takes over the removed one's comma style
            args[-1] = args[-1].with_changes(comma=removed.comma)
        return updated.with_changes(args=args)
