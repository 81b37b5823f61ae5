"""Runs several transforms in ONE walk of the libcst tree.

Each transform is a small ``CSTTransformer`` subclass in the style of
libcst's codemod commands (a ``DESCRIPTION``, ``visit_*``/``leave_*``
methods). Walking the tree once per transform would multiply libcst's cost
(the slow part of the codemod), so :class:`Pipeline` fans every node out to
all of them, and skips whole functions the analysis found nothing to do in.
"""
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import libcst as cst

from ..analysis import Analysis, FuncInfo
from ..analysis.names import Path, cst_dotted


@dataclass
class Frame:
    """The function being walked."""

    info: FuncInfo
    lambda_depth: int = 0
    returns_seen: int = 0


class State:
    """What the transforms of one file share."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.names = analysis.names
        self.frames: List[Frame] = []
        self.next_index = 0
        self.next_stmt = 0
        self.need_asyncio_import = False

    @property
    def frame(self) -> Optional[Frame]:
        """The innermost function, or None at module or class level."""
        return self.frames[-1] if self.frames else None

    @property
    def in_converted(self) -> bool:
        """Inside the own body of a function becoming ``async def``."""
        f = self.frame
        return f is not None and f.info.convert and f.lambda_depth == 0

    def path(self, node: cst.CSTNode) -> Optional[Path]:
        """``asyncio.X`` path of an expression (any alias), or None."""
        return self.names.path(cst_dotted(node))

    def asyncio_attr(self, attr: str) -> cst.BaseExpression:
        """``asyncio.attr`` spelled with the file's alias (importing it if needed)."""
        if self.names.imported.get(attr) == attr:
            return cst.Name(attr)  # ``from asyncio import attr`` or ``*``
        prefix = self.names.prefix
        if prefix is None:
            self.need_asyncio_import = True
            prefix = "asyncio"
        return cst.Attribute(value=cst.Name(prefix), attr=cst.Name(attr))


class Transform(cst.CSTTransformer):
    """Base of the codemod's transforms; ``state`` is shared by all of them."""

    DESCRIPTION = ""

    def __init__(self, state: State) -> None:
        super().__init__()
        self.state = state


_HOOKS: Dict[type, Tuple[List[str], List[str]]] = {}
# Node classes that are statements (the ``ast.stmt`` of libcst), by name.
_STATEMENTS = frozenset(
    name for name, obj in vars(cst).items()
    if isinstance(obj, type) and issubclass(obj, (cst.BaseSmallStatement, cst.BaseCompoundStatement))
    and not name.startswith("Base")
)


def _hooks(cls: type) -> Tuple[List[str], List[str]]:
    """Node names a transform class has ``visit_``/``leave_`` methods for (cached)."""
    if cls not in _HOOKS:
        base = cst.CSTTransformer
        own = [
            a for a in dir(cls)
            if a.startswith(("visit_", "leave_")) and a.count("_") == 1
            and getattr(cls, a) is not getattr(base, a, None)
        ]
        _HOOKS[cls] = (
            [a[6:] for a in own if a.startswith("visit_")],
            [a[6:] for a in own if a.startswith("leave_")],
        )
    return _HOOKS[cls]


Result = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]


class Pipeline(cst.CSTTransformer):
    """Fan each visit/leave out to every transform, in order."""

    def __init__(self, state: State, transforms: Sequence[Transform]) -> None:
        super().__init__()
        self.state = state
        self.transforms = list(transforms)
        self._visit: Dict[str, List[Callable]] = {}
        self._leave: Dict[str, List[Callable]] = {}
        for t in self.transforms:
            visits, leaves = _hooks(type(t))
            for name in visits:
                self._visit.setdefault(name, []).append(getattr(t, "visit_" + name))
            for name in leaves:
                self._leave.setdefault(name, []).append(getattr(t, "leave_" + name))

    # The transforms use no per-attribute hooks; libcst's lookups of them
    # are skipped.
    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        return None

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        return None

    def on_visit(self, node: cst.CSTNode) -> bool:
        name = type(node).__name__
        state = self.state
        descend = True
        if name in _STATEMENTS:
            a = state.analysis
            idx = state.next_stmt
            state.next_stmt += 1
            if name == "FunctionDef":
                info = a.funcs[state.next_index]
                state.next_index += 1
                state.frames.append(Frame(info))
                descend = info.touch
            elif state.frames and not a.stmt_relevant[idx]:
                descend = False
            if not descend:
                # nothing to do inside: skip it, its statements and its defs
                state.next_stmt += a.stmt_nested[idx]
                state.next_index += a.stmt_defs[idx]
        elif name == "Lambda" and state.frames:
            state.frames[-1].lambda_depth += 1
        for fn in self._visit.get(name, ()):
            if fn(node) is False:
                descend = False
        return descend

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Result:
        name = type(original_node).__name__
        result: Result = updated_node
        for fn in self._leave.get(name, ()):
            result = fn(original_node, result)
            if not isinstance(result, cst.CSTNode):
                break
        state = self.state
        if name == "FunctionDef":
            state.frames.pop()
        elif name == "Lambda" and state.frames:
            state.frames[-1].lambda_depth -= 1
        return result
