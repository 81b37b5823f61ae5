"""The facts the analysis gathers about a module, as plain dataclasses."""
import ast
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple, Union

from ..diagnostics import Diagnostic
from .names import AsyncioNames


@dataclass
class ClassInfo:
    """A class: its methods and the attributes assigned on it."""

    name: str
    index: int
    methods: Dict[str, "FuncInfo"] = field(default_factory=dict)
    # class-level ``name = other_name`` (``__iter__ = __await__``)
    aliases: Dict[str, str] = field(default_factory=dict)

    @property
    def awaitable(self) -> bool:
        """Whether the class defines ``__await__`` (as a method or an alias)."""
        return "__await__" in self.methods or "__await__" in self.aliases

    @property
    def scope_key(self) -> int:
        """Key of ``self.x`` attributes in the lock bookkeeping."""
        return -2 - self.index


@dataclass
class FuncInfo:
    """What one function's own body (nested defs excluded) contains."""

    index: int  # pre-order position among all defs of the module
    node: Union[ast.FunctionDef, ast.AsyncFunctionDef]
    parent: Optional["FuncInfo"]
    cls: Optional[ClassInfo]
    defs: Dict[str, "FuncInfo"] = field(default_factory=dict)
    coro_decorators: List[int] = field(default_factory=list)
    value_yields: List[ast.Yield] = field(default_factory=list)
    bare_yields: List[ast.Yield] = field(default_factory=list)
    yield_froms: List[ast.YieldFrom] = field(default_factory=list)
    comp_yields: List[ast.AST] = field(default_factory=list)
    has_await: bool = False
    returns: List[ast.Return] = field(default_factory=list)
    withs: List[ast.expr] = field(default_factory=list)
    mixed_withs: List[ast.AST] = field(default_factory=list)
    stmt_yield_froms: List[ast.YieldFrom] = field(default_factory=list)
    stmt_index: int = -1  # of its ``def`` among the module's statements
    stores: Set[str] = field(default_factory=set)  # names bound in the own body
    iterables: Set[str] = field(default_factory=set)  # local names bound to plain iterables
    globals: Set[str] = field(default_factory=set)
    # who refers to this function, and how: (site function, context, node)
    refs: List[Tuple[Optional["FuncInfo"], str, ast.AST]] = field(default_factory=list)
    candidate: bool = False
    refusals: List[Diagnostic] = field(default_factory=list)
    return_await: List[bool] = field(default_factory=list)
    locks: Set[str] = field(default_factory=set)
    touch: bool = False
    # "generator": an ``__iter__``/``__await__`` that stays a generator and
    # delegates with ``.__await__()``; "plain": an ``__aiter__`` that loses
    # its coroutine decorator and stays a plain method
    protocol: str = ""
    # which ``yield from`` operands of a protocol generator get
    # ``.__await__()``: calls of these dotted names, and other expressions?
    wrap_calls: Set[str] = field(default_factory=set)
    wrap_other: bool = False
    # ``try`` statements of the own body: (statement index, node)
    tries: List[Tuple[int, ast.Try]] = field(default_factory=list)
    # ``except Exception`` handlers that caught cancellation up to 3.7:
    # statement index of their ``try`` -> handler positions in it
    cancel_handlers: Dict[int, List[int]] = field(default_factory=dict)
    cancel_notes: List[Diagnostic] = field(default_factory=list)

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)

    @property
    def is_generator(self) -> bool:
        return bool(self.value_yields or self.bare_yields or self.yield_froms)

    @property
    def convert(self) -> bool:
        return self.candidate and not self.refusals

    def ancestors(self) -> Iterable["FuncInfo"]:
        f: Optional[FuncInfo] = self
        while f is not None:
            yield f
            f = f.parent


@dataclass
class Site:
    """A call the file-wide transforms rewrite (``loop=``, ``Task(...)``...)."""

    kind: str
    line: int
    col: int


@dataclass
class RunPattern:
    """``loop = get_event_loop(); loop.run_until_complete(c()); loop.close()``."""

    loop_name: str
    line: int


@dataclass
class Analysis:
    """Everything the transforms and the report need to know about a module."""

    names: AsyncioNames
    funcs: List[FuncInfo]
    sites: List[Site]
    run: Optional[RunPattern]
    unused_decorator_imports: Set[str]
    manual: List[Diagnostic] = field(default_factory=list)
    notes: List[Diagnostic] = field(default_factory=list)  # what --unsafe-fixes changed
    # --unsafe-fixes: ``except Exception`` around awaits also names CancelledError
    cancel_fix: bool = False
    # statement indices of ``loop = get_event_loop()`` under a main guard,
    # made ``new_event_loop()`` + ``set_event_loop()``
    new_loops: Set[int] = field(default_factory=set)
    # per statement in pre-order: worth walking? and how many statements
    # and function definitions it holds (to skip over them)
    stmt_relevant: List[bool] = field(default_factory=list)
    stmt_nested: List[int] = field(default_factory=list)
    stmt_defs: List[int] = field(default_factory=list)

    @property
    def refusals(self) -> List[Diagnostic]:
        out = [d for f in self.funcs for d in f.refusals] + self.manual
        return sorted(set(out), key=lambda d: (d.line, d.col, d.reason))

    @property
    def changes_expected(self) -> bool:
        return bool(self.sites or self.run or any(f.convert or f.protocol for f in self.funcs))


def pos(node: ast.AST) -> Tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


def refuse(func: FuncInfo, node: ast.AST, reason: str) -> None:
    line, col = pos(node)
    func.refusals.append(Diagnostic(line, col, reason))
