"""One recursive ``ast`` walk gathering functions, references and rewrite sites."""
import ast
import re
from typing import Dict, List, Optional, Set, Tuple, Union

from ..diagnostics import Diagnostic
from .facts import ClassInfo, FuncInfo, Site, pos
from .names import (
    AWAITABLE_CALLS,
    FUTURE_WRAPPERS,
    LOCK_TYPES,
    LOOP_REMOVED,
    AsyncioNames,
    ast_dotted,
)

FUNC_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# Operands of ``yield from`` that are plain iterables, never awaitables.
_ITERABLE_NODES = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.JoinedStr) + _COMPS
ITERABLE_BUILTINS = frozenset(
    {"range", "iter", "zip", "enumerate", "map", "filter", "reversed", "sorted",
     "list", "tuple", "set", "dict", "str", "bytes", "open"}
)
# ``return X`` in a coroutine without yield: X is certainly not awaitable.
PLAIN_VALUES = (
    ast.Constant, ast.JoinedStr, ast.BinOp, ast.UnaryOp, ast.Compare, ast.List,
    ast.Tuple, ast.Set, ast.Dict, ast.Lambda,
) + _COMPS
DEF_NAME = re.compile(r"\bdef\s+(\w+)")
# Nodes some transform rewrites (inside functions; module level is always walked).
_ACTED_ON = (ast.Yield, ast.YieldFrom, ast.Await, ast.Return, ast.Raise, ast.With)
_DRIVERS = frozenset({"send", "throw"})

class Collector:
    """One recursive walk gathering functions, references and sites."""

    def __init__(self, names: AsyncioNames) -> None:
        self.names = names
        self.decorators = names.decorator_names()
        self.funcs: List[FuncInfo] = []
        self.module_defs: Dict[str, FuncInfo] = {}
        self.classes: Dict[str, ClassInfo] = {}
        self.sites: List[Tuple[Site, Optional[FuncInfo]]] = []
        self.def_names: Set[str] = set()
        # per statement, in source pre-order (libcst walks them in the same order)
        self.stmt_relevant: List[bool] = []
        self.stmt_nested: List[int] = []  # statements inside it
        self.stmt_defs: List[int] = []  # function definitions inside it
        self.stmt_parent: List[int] = []
        self._stmt_stack: List[int] = []
        # every Name node (with its function) for a few names: decorator
        # aliases and module-level loop variables
        self.tracked: Dict[str, List[Tuple[Optional[FuncInfo], ast.Name]]] = {}
        # (site func, site class, referring node, context)
        self.raw_refs: List[Tuple[Optional[FuncInfo], Optional[ClassInfo], ast.AST, str]] = []
        self.contexts: Dict[int, str] = {}
        # lock bookkeeping: scope key -> dotted target -> all values are locks?
        self.assigns: Dict[Tuple[int, str], bool] = {}
        # ``v = f()`` per scope, for coroutines driven by hand through ``v``
        self.assigned_calls: Dict[Tuple[int, str], ast.Call] = {}
        self.drivers: List[Tuple[Optional[FuncInfo], Optional[ClassInfo], ast.AST, ast.AST]] = []
        self.class_count = 0
        self.decorator_uses: Dict[str, int] = {}
        self.manual: List[Diagnostic] = []  # refusals tied to no function
        self.calls_by_func: Dict[int, ast.Call] = {}  # id(call.func) -> call
        self.assign_index: Dict[int, int] = {}  # id(Assign) -> its statement index
        self.module_loop_calls: List[ast.Call] = []  # get_event_loop() outside functions

    # -- helpers ---------------------------------------------------------
    def is_coro_decorator(self, expr: ast.expr) -> Optional[str]:
        """The local name used if ``expr`` is asyncio's coroutine decorator."""
        dotted = ast_dotted(expr)
        if dotted is None:
            return None
        if dotted in self.decorators:
            return dotted
        if self.names.path(dotted) == ("coroutine",) and "." in dotted:
            return dotted
        return None

    def _scope_key(self, func: Optional[FuncInfo]) -> int:
        return -1 if func is None else func.index

    def _record_assign(self, target: ast.expr, value: Optional[ast.expr],
                       func: Optional[FuncInfo], cls: Optional[ClassInfo],
                       in_class_body: bool) -> None:
        dotted = ast_dotted(target)
        if dotted is None:
            return
        is_lock = (
            isinstance(value, ast.Call)
            and (self.names.path(ast_dotted(value.func)) or ("",))[-1] in LOCK_TYPES
        )
        if dotted.startswith(("self.", "cls.")) and cls is not None:
            key: Tuple[int, str] = (cls.scope_key, "self." + dotted.split(".", 1)[1])
        elif in_class_body and cls is not None and isinstance(target, ast.Name):
            key = (cls.scope_key, "self." + dotted)
            if isinstance(value, ast.Name):
                cls.aliases[target.id] = value.id
        else:
            key = (self._scope_key(func), dotted)
        self.assigns[key] = self.assigns.get(key, True) and is_lock
        if isinstance(value, ast.Call) and isinstance(target, ast.Name):
            self.assigned_calls[(self._scope_key(func), target.id)] = value

    # -- the walk --------------------------------------------------------
    def walk(self, node: ast.AST, func: Optional[FuncInfo], cls: Optional[ClassInfo],
             container: object, own: bool, in_comp: bool) -> bool:
        """Visit ``node``; ``own``: it belongs to ``func``'s own body.

        Returns whether the subtree holds anything a transform may act on
        (so the libcst walk can skip statements that hold nothing).
        """
        if not isinstance(node, ast.stmt):
            return self._walk(node, func, cls, container, own, in_comp)
        idx = len(self.stmt_relevant)
        if isinstance(node, ast.Assign):
            self.assign_index[id(node)] = idx
        self.stmt_relevant.append(False)
        self.stmt_nested.append(0)
        self.stmt_defs.append(0)
        self.stmt_parent.append(self._stmt_stack[-1] if self._stmt_stack else -1)
        self._stmt_stack.append(idx)
        funcs_before = len(self.funcs)
        relevant = self._walk(node, func, cls, container, own, in_comp)
        self._stmt_stack.pop()
        self.stmt_relevant[idx] = relevant
        self.stmt_nested[idx] = len(self.stmt_relevant) - idx - 1
        self.stmt_defs[idx] = len(self.funcs) - funcs_before - isinstance(node, FUNC_NODES)
        return relevant

    def _walk(self, node: ast.AST, func: Optional[FuncInfo], cls: Optional[ClassInfo],
              container: object, own: bool, in_comp: bool) -> bool:
        if isinstance(node, FUNC_NODES):
            self._walk_def(node, func, cls, container)
            return False  # relevant through ``touch``, decided later
        if isinstance(node, ast.ClassDef):
            info = ClassInfo(node.name, self.class_count)
            self.class_count += 1
            if container is None:
                self.classes[node.name] = info
            rel = False
            for child in node.bases + [k.value for k in node.keywords] + node.decorator_list:
                rel |= self.walk(child, func, cls, container, own, in_comp)
            for stmt in node.body:
                rel |= self.walk(stmt, func, info, info, False, False)
            return rel
        if isinstance(node, ast.Lambda):
            return self.walk(node.body, func, cls, container, False, in_comp)
        if isinstance(node, _COMPS):
            gens = node.generators
            rel = self.walk(gens[0].iter, func, cls, container, own, in_comp)
            self._driver_iter(gens[0].iter, func, cls)
            elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            rest: List[ast.AST] = elts + [g.target for g in gens] + [i for g in gens for i in g.ifs]
            rest += [g.iter for g in gens[1:]]
            for child in rest:
                rel |= self.walk(child, func, cls, container, own, True)
            return rel
        rel = isinstance(node, _ACTED_ON)
        if own and func is not None:
            self._own(node, func, in_comp)
        if isinstance(node, ast.Call):
            rel |= self._call(node, func, cls)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                self._record_assign(t, node.value, func, cls, container is cls and cls is not None)
                if own and func is not None and isinstance(t, ast.Name) and plain_iterable(node.value):
                    func.iterables.add(t.id)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._driver_iter(node.iter, func, cls)
        elif isinstance(node, ast.Global) and func is not None:
            func.globals.update(node.names)
        elif isinstance(node, ast.Name):
            name = node.id
            if name in self.tracked:
                if own and func is not None and isinstance(node.ctx, ast.Store):
                    func.stores.add(name)
                self.tracked[name].append((func, node))
            if name in self.def_names and isinstance(node.ctx, ast.Load):
                self.raw_refs.append((func, cls, node, self.contexts.get(id(node), "other")))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in self.def_names and node.value.id in ("self", "cls") | self.classes.keys():
                self.raw_refs.append((func, cls, node, self.contexts.get(id(node), "other")))
        for child in ast.iter_child_nodes(node):
            rel |= self.walk(child, func, cls, container, own, in_comp)
        return rel

    def _walk_def(self, node: Union[ast.FunctionDef, ast.AsyncFunctionDef],
                  func: Optional[FuncInfo], cls: Optional[ClassInfo], container: object) -> None:
        info = FuncInfo(len(self.funcs), node, func, cls, stmt_index=self._stmt_stack[-1])
        self.funcs.append(info)
        if isinstance(container, ClassInfo):
            container.methods[node.name] = info
        elif isinstance(container, FuncInfo):
            container.defs[node.name] = info
        else:
            self.module_defs[node.name] = info
        for i, dec in enumerate(node.decorator_list):
            used = self.is_coro_decorator(dec)
            if used is not None:
                info.coro_decorators.append(i)
                self.decorator_uses[used] = self.decorator_uses.get(used, 0) + 1
            else:
                self.walk(dec, func, cls, container, True, False)
        args = node.args
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.walk(default, func, cls, container, True, False)
        for stmt in node.body:
            self.walk(stmt, info, cls, info, True, False)

    def _own(self, node: ast.AST, func: FuncInfo, in_comp: bool) -> None:
        if isinstance(node, (ast.Yield, ast.YieldFrom)) and in_comp:
            func.comp_yields.append(node)
        elif isinstance(node, ast.Yield):
            (func.bare_yields if node.value is None else func.value_yields).append(node)
        elif isinstance(node, ast.YieldFrom):
            func.yield_froms.append(node)
            if isinstance(node.value, ast.Call):
                self.contexts[id(node.value.func)] = "yield_from"
        elif isinstance(node, ast.Await):
            func.has_await = True
        elif isinstance(node, ast.Return):
            func.returns.append(node)
        elif isinstance(node, ast.With):
            awaited = [i.context_expr for i in node.items if isinstance(i.context_expr, (ast.YieldFrom, ast.Await))]
            func.withs.extend(awaited)
            if awaited and len(awaited) != len(node.items):
                func.mixed_withs.append(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.YieldFrom):
            func.stmt_yield_froms.append(node.value)
        elif isinstance(node, ast.Try):
            func.tries.append((self._stmt_stack[-1], node))

    def _driver_iter(self, expr: ast.expr, func: Optional[FuncInfo], cls: Optional[ClassInfo]) -> None:
        self.drivers.append((func, cls, expr, expr))

    def _call(self, node: ast.Call, func: Optional[FuncInfo], cls: Optional[ClassInfo]) -> bool:
        """Record a call; True when a file-wide transform rewrites it."""
        self.calls_by_func[id(node.func)] = node
        path = self.names.path(ast_dotted(node.func))
        if func is None and path == ("get_event_loop",):
            self.module_loop_calls.append(node)
        line, col = pos(node)
        kw = {k.arg for k in node.keywords}
        kind = None
        if path and len(path) == 1 and path[0] in LOOP_REMOVED and "loop" in kw:
            kind = "loop_kwarg"
        if path == ("wait",) and node.args and bare_coroutines(node.args[0], self.names):
            kind = "wait_coroutines"
        elif path == ("Task",) and node.args and isinstance(node.args[0], ast.Call) and kw <= {"loop"}:
            kind = "task_constructor"
        elif path in (("Task", "current_task"), ("Task", "all_tasks")):
            kind = "task_classmethod"
        elif (
            isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) == 2
            and ast_dotted(node.args[0]) in self.names.aliases
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in ("async", "ensure_future")
        ):
            kind = "getattr_async"
        if kind is not None:
            self.sites.append((Site(kind, line, col), func))
        if path == ("coroutine",) and node.args:
            self.manual.append(Diagnostic(line, col, "asyncio.coroutine() called directly (gone in 3.11): rewrite the function as async def by hand"))
        if path and path[-1] in AWAITABLE_CALLS | {"run_until_complete", "gather"}:
            for arg in node.args:
                if isinstance(arg, ast.Call):
                    self.contexts[id(arg.func)] = "asyncio_arg"
        dotted = ast_dotted(node.func)
        if dotted == "next" and node.args:
            self.drivers.append((func, cls, node.args[0], node))
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _DRIVERS:
            self.drivers.append((func, cls, node.func.value, node))
        elif dotted in ("inspect.isgenerator", "inspect.isgeneratorfunction") and node.args:
            self.drivers.append((func, cls, node.args[0], node))
        elif dotted == "isinstance" and len(node.args) == 2 and ast_dotted(node.args[1]) == "types.GeneratorType":
            self.drivers.append((func, cls, node.args[0], node))
        return kind is not None


def plain_iterable(value: Optional[ast.expr], with_calls: bool = True) -> bool:
    """A literal, comprehension or (``with_calls``) builtin iterable call."""
    if isinstance(value, _ITERABLE_NODES):
        return True
    if isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes)):
        return True
    return (
        with_calls and isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
        and value.func.id in ITERABLE_BUILTINS
    )


def _already_wrapped(arg: ast.expr) -> bool:
    """``[ensure_future(aw) for aw in x]``: what the codemod itself writes."""
    return (
        isinstance(arg, ast.ListComp) and isinstance(arg.elt, ast.Call)
        and (ast_dotted(arg.elt.func) or "").endswith("ensure_future")
    )


def bare_coroutines(arg: ast.expr, names: AsyncioNames) -> bool:
    """Whether ``asyncio.wait(arg)`` hands it coroutine calls to wrap."""
    if isinstance(arg, (ast.List, ast.Tuple, ast.Set)):
        elts = arg.elts
    elif isinstance(arg, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        elts = [arg.elt]
    elif isinstance(arg, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        # an iterable built elsewhere may hold coroutines: each element is
        # wrapped (ensure_future returns a future as it is)
        return not _already_wrapped(arg)
    else:
        return False
    return any(
        isinstance(e, ast.Call)
        and (names.path(ast_dotted(e.func)) or ("",))[-1] not in FUTURE_WRAPPERS
        for e in elts
    )


