"""Per-function decisions, made on the stdlib ``ast`` (fast, with positions).

The libcst transforms only carry out what this module decides: which
functions become ``async def``, which ``return`` gets an ``await``, which
``with (yield from x)`` targets are known locks, and what is refused (and
why, and where). Decisions are per function, never per file.
"""
import ast
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple, Union

from .diagnostics import Diagnostic
from .names import (
    AWAITABLE_CALLS,
    FUTURE_WRAPPERS,
    LOCK_TYPES,
    LOOP_REMOVED,
    AsyncioNames,
    ast_dotted,
    collect_names,
)

_FUNC = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
# Operands of ``yield from`` that are plain iterables, never awaitables.
_ITERABLE_NODES = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.JoinedStr) + _COMPS
_ITERABLE_BUILTINS = frozenset(
    {"range", "iter", "zip", "enumerate", "map", "filter", "reversed", "sorted",
     "list", "tuple", "set", "dict", "str", "bytes", "open"}
)
# ``return X`` in a coroutine without yield: X is certainly not awaitable.
_PLAIN_VALUES = (
    ast.Constant, ast.JoinedStr, ast.BinOp, ast.UnaryOp, ast.Compare, ast.List,
    ast.Tuple, ast.Set, ast.Dict, ast.Lambda,
) + _COMPS
_DEF_NAME = re.compile(r"\bdef\s+(\w+)")
_DRIVERS = frozenset({"send", "throw"})


@dataclass
class ClassInfo:
    """A class: its methods and the attributes assigned on it."""

    name: str
    index: int
    methods: Dict[str, "FuncInfo"] = field(default_factory=dict)

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
    nested_count: int = 0
    stores: Set[str] = field(default_factory=set)  # names bound in the own body
    globals: Set[str] = field(default_factory=set)
    # who refers to this function, and how: (site function, context, node)
    refs: List[Tuple[Optional["FuncInfo"], str, ast.AST]] = field(default_factory=list)
    candidate: bool = False
    refusals: List[Diagnostic] = field(default_factory=list)
    return_await: List[bool] = field(default_factory=list)
    locks: Set[str] = field(default_factory=set)
    touch: bool = False

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
    loop_kwargs: int = 0
    driven: List[Diagnostic] = field(default_factory=list)
    manual: List[Diagnostic] = field(default_factory=list)

    @property
    def refusals(self) -> List[Diagnostic]:
        out = [d for f in self.funcs for d in f.refusals] + self.manual
        return sorted(set(out), key=lambda d: (d.line, d.col, d.reason))

    @property
    def changes_expected(self) -> bool:
        return bool(self.sites or self.run or any(f.convert for f in self.funcs))


def _pos(node: ast.AST) -> Tuple[int, int]:
    return getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1


def _refuse(func: FuncInfo, node: ast.AST, reason: str) -> None:
    line, col = _pos(node)
    func.refusals.append(Diagnostic(line, col, reason))


class _Collector:
    """One recursive walk gathering functions, references and sites."""

    def __init__(self, names: AsyncioNames) -> None:
        self.names = names
        self.decorators = names.decorator_names()
        self.funcs: List[FuncInfo] = []
        self.module_defs: Dict[str, FuncInfo] = {}
        self.classes: Dict[str, ClassInfo] = {}
        self.sites: List[Tuple[Site, Optional[FuncInfo]]] = []
        self.def_names: Set[str] = set()
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
        self.loop_kwargs = 0
        self.class_count = 0
        self.decorator_uses: Dict[str, int] = {}
        self.manual: List[Diagnostic] = []  # refusals tied to no function

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
        else:
            key = (self._scope_key(func), dotted)
        self.assigns[key] = self.assigns.get(key, True) and is_lock
        if isinstance(value, ast.Call) and isinstance(target, ast.Name):
            self.assigned_calls[(self._scope_key(func), target.id)] = value

    # -- the walk --------------------------------------------------------
    def walk(self, node: ast.AST, func: Optional[FuncInfo], cls: Optional[ClassInfo],
             container: object, own: bool, in_comp: bool) -> None:
        """Visit ``node``; ``own``: it belongs to ``func``'s own body."""
        if isinstance(node, _FUNC):
            self._walk_def(node, func, cls, container)
            return
        if isinstance(node, ast.ClassDef):
            info = ClassInfo(node.name, self.class_count)
            self.class_count += 1
            if container is None:
                self.classes[node.name] = info
            for child in node.bases + [k.value for k in node.keywords] + node.decorator_list:
                self.walk(child, func, cls, container, own, in_comp)
            for stmt in node.body:
                self.walk(stmt, func, info, info, False, False)
            return
        if isinstance(node, ast.Lambda):
            self.walk(node.body, func, cls, container, False, in_comp)
            return
        if isinstance(node, _COMPS):
            gens = node.generators
            self.walk(gens[0].iter, func, cls, container, own, in_comp)
            self._driver_iter(gens[0].iter, func, cls)
            elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            rest: List[ast.AST] = elts + [g.target for g in gens] + [i for g in gens for i in g.ifs]
            rest += [g.iter for g in gens[1:]]
            for child in rest:
                self.walk(child, func, cls, container, own, True)
            return
        if own and func is not None:
            self._own(node, func, in_comp)
        if isinstance(node, ast.Call):
            self._call(node, func, cls)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                self._record_assign(t, node.value, func, cls, container is cls and cls is not None)
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
            self.walk(child, func, cls, container, own, in_comp)

    def _walk_def(self, node: Union[ast.FunctionDef, ast.AsyncFunctionDef],
                  func: Optional[FuncInfo], cls: Optional[ClassInfo], container: object) -> None:
        info = FuncInfo(len(self.funcs), node, func, cls)
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
        info.nested_count = len(self.funcs) - info.index - 1

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

    def _driver_iter(self, expr: ast.expr, func: Optional[FuncInfo], cls: Optional[ClassInfo]) -> None:
        self.drivers.append((func, cls, expr, expr))

    def _call(self, node: ast.Call, func: Optional[FuncInfo], cls: Optional[ClassInfo]) -> None:
        path = self.names.path(ast_dotted(node.func))
        line, col = _pos(node)
        kw = {k.arg for k in node.keywords}
        if "loop" in kw:
            self.loop_kwargs += 1
        kind = None
        if path and len(path) == 1 and path[0] in LOOP_REMOVED and "loop" in kw:
            kind = "loop_kwarg"
        if path == ("wait",) and node.args and _bare_coroutines(node.args[0], self.names):
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
        # Attribute loads of ``loop.run_until_complete``/``run`` are ordinary
        # and need no bookkeeping here.


def _bare_coroutines(arg: ast.expr, names: AsyncioNames) -> bool:
    """Whether ``asyncio.wait(arg)`` hands it coroutine calls to wrap."""
    if isinstance(arg, (ast.List, ast.Tuple, ast.Set)):
        elts = arg.elts
    elif isinstance(arg, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        elts = [arg.elt]
    else:
        return False
    return any(
        isinstance(e, ast.Call)
        and (names.path(ast_dotted(e.func)) or ("",))[-1] not in FUTURE_WRAPPERS
        for e in elts
    )


class Analyzer:
    """Turns a parsed module into an :class:`Analysis`."""

    def __init__(self, tree: ast.Module, source: Optional[str] = None) -> None:
        self.tree = tree
        self.names = collect_names(tree)
        self.c = _Collector(self.names)
        if source is not None:
            # a regex over the text is far cheaper than a second tree walk
            self.c.def_names = set(_DEF_NAME.findall(source))
        else:
            self.c.def_names = {n.name for n in ast.walk(tree) if isinstance(n, _FUNC)}
        self.loop_candidates = [(stmt, block) for block in self._module_blocks() for stmt in block
                                if self._is_loop_assign(stmt)]
        for name in self.c.decorators | {s.targets[0].id for s, _ in self.loop_candidates}:  # type: ignore[attr-defined]
            self.c.tracked[name] = []

    def run(self) -> Analysis:
        """Walk, then decide per function."""
        c = self.c
        for stmt in self.tree.body:
            c.walk(stmt, None, None, None, False, False)
        self._resolve_refs()
        for f in c.funcs:
            f.candidate = bool(f.coro_decorators)
        self._grow_candidates()
        driven = self._driven_by_hand()
        for f in c.funcs:
            if f.candidate:
                self._check(f)
        self._propagate_refusals()
        for site, func in c.sites:
            for f in (func.ancestors() if func else ()):
                f.touch = True
        for f in c.funcs:
            if f.convert:
                for a in f.ancestors():
                    a.touch = True
        run = self._run_pattern()
        return Analysis(
            names=self.names,
            funcs=c.funcs,
            sites=[s for s, _ in c.sites],
            run=run,
            unused_decorator_imports=self._unused_decorator_imports(),
            loop_kwargs=c.loop_kwargs,
            driven=driven,
            manual=c.manual,
        )

    # -- references ------------------------------------------------------
    def resolve(self, expr: ast.AST, site: Optional[FuncInfo], cls: Optional[ClassInfo]) -> Optional[FuncInfo]:
        """The module's function ``expr`` names from ``site``, if any."""
        if isinstance(expr, ast.Name):
            f = site
            while f is not None:
                if expr.id in f.defs:
                    return f.defs[expr.id]
                f = f.parent
            return self.c.module_defs.get(expr.id)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            owner = expr.value.id
            if owner in ("self", "cls") and cls is not None:
                return cls.methods.get(expr.attr)
            if owner in self.c.classes:
                return self.c.classes[owner].methods.get(expr.attr)
        return None

    def _resolve_refs(self) -> None:
        for site, cls, node, context in self.c.raw_refs:
            target = self.resolve(node, site, cls)
            if target is not None:
                target.refs.append((site, context, node))

    def _grow_candidates(self) -> None:
        """Wrappers of coroutines and helpers only awaited become coroutines."""
        changed = True
        while changed:
            changed = False
            for g in self.c.funcs:
                if g.candidate or g.is_async or not g.is_generator:
                    continue
                if g.value_yields or g.comp_yields:
                    continue
                if self._wraps_coroutine(g) or self._only_awaited(g):
                    g.candidate = True
                    changed = True

    def _wraps_coroutine(self, g: FuncInfo) -> bool:
        for yf in g.yield_froms:
            if isinstance(yf.value, ast.Call):
                if self.names.path(ast_dotted(yf.value.func)) is not None:
                    return True
                callee = self.resolve(yf.value.func, g, g.cls)
                if callee is not None and (callee.candidate or callee.is_async):
                    return True
        return False

    def _only_awaited(self, g: FuncInfo) -> bool:
        if not g.refs:
            return False
        for site, context, _ in g.refs:
            if context == "asyncio_arg":
                continue
            if context == "yield_from" and site is not None and site.candidate:
                continue
            return False
        return any(context == "yield_from" for _, context, _ in g.refs)

    def _driven_by_hand(self) -> List[Diagnostic]:
        out = []
        for site, cls, expr, node in self.c.drivers:
            target = None
            if isinstance(expr, ast.Call):
                target = self.resolve(expr.func, site, cls)
            elif isinstance(expr, ast.Name):
                call = self.c.assigned_calls.get((-1 if site is None else site.index, expr.id))
                if call is not None:
                    target = self.resolve(call.func, site, cls)
                elif isinstance(node, ast.Call) and ast_dotted(node.func) == "inspect.isgeneratorfunction":
                    target = self.resolve(expr, site, cls)
            if target is not None and target.candidate:
                line, col = _pos(node)
                name = target.node.name
                d = Diagnostic(line, col, f"coroutine {name}() is driven by hand (next/send/iteration/isgenerator); not converted")
                target.refusals.append(d)
                out.append(d)
        return out

    # -- per function checks -------------------------------------------
    def _check(self, f: FuncInfo) -> None:
        for y in f.value_yields:
            _refuse(f, y, "bare `yield <value>` in a coroutine (Tornado/Trollius style): cannot tell what it waits for")
        for y in f.comp_yields:
            _refuse(f, y, "`yield` inside a comprehension is a SyntaxError since Python 3.8: rewrite it as a loop")
        for yf in f.yield_froms:
            self._check_yield_from(f, yf)
        for w in f.withs:
            dotted = ast_dotted(w.value)
            if dotted is None or not self._is_lock(f, dotted):
                _refuse(f, w, "`with (yield from x)` where x is not known to be an asyncio Lock/Semaphore/Condition")
        for w in f.mixed_withs:
            _refuse(f, w, "`with` mixing `(yield from lock)` and plain context managers: split it by hand")
        for yf in f.stmt_yield_froms:
            dotted = ast_dotted(yf.value)
            if dotted is not None and self._is_lock(f, dotted):
                f.locks.add(dotted)
        if not f.is_generator and not f.has_await and not f.is_async:
            for r in f.returns:
                verdict = self._return_verdict(r.value, f)
                if verdict is None:
                    _refuse(f, r, "return value of a coroutine without `yield`: cannot prove whether it is awaitable")
                f.return_await.append(bool(verdict))

    def _check_yield_from(self, f: FuncInfo, yf: ast.YieldFrom) -> None:
        value = yf.value
        if isinstance(value, _ITERABLE_NODES) or (
            isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes))
        ):
            _refuse(f, yf, "`yield from` a plain iterable inside a coroutine")
            return
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _ITERABLE_BUILTINS:
            if self.resolve(value.func, f, f.cls) is None:
                _refuse(f, yf, f"`yield from {value.func.id}(...)`: a plain iterable inside a coroutine")
                return
        if isinstance(value, ast.Call):
            g = self.resolve(value.func, f, f.cls)
            if g is not None and g.is_generator and not g.candidate and not g.is_async:
                if any(ctx not in ("yield_from", "asyncio_arg") for _, ctx, _ in g.refs):
                    why = f"{g.node.name}() is a generator that is both iterated and awaited"
                else:
                    why = f"`yield from {g.node.name}()`: a plain generator (it yields values), not a coroutine"
                _refuse(f, yf, why)

    def _is_lock(self, f: FuncInfo, dotted: str) -> bool:
        assigns = self.c.assigns
        if dotted.startswith(("self.", "cls.")):
            if f.cls is None:
                return False
            key = (f.cls.scope_key, "self." + dotted.split(".", 1)[1])
            return assigns.get(key, False)
        scope: Optional[FuncInfo] = f
        while scope is not None:
            if (scope.index, dotted) in assigns:
                return assigns[(scope.index, dotted)]
            scope = scope.parent
        return assigns.get((-1, dotted), False)

    def _return_verdict(self, value: Optional[ast.expr], f: FuncInfo) -> Optional[bool]:
        """False: plain value; True: awaitable (add ``await``); None: unknown."""
        if value is None or isinstance(value, _PLAIN_VALUES):
            return False
        if isinstance(value, ast.BoolOp):
            return None
        if isinstance(value, ast.Call):
            if (self.names.path(ast_dotted(value.func)) or ("",))[-1] in AWAITABLE_CALLS:
                return True
            g = self.resolve(value.func, f, f.cls)
            if g is not None and (g.candidate or g.is_async):
                return True
        return None

    def _propagate_refusals(self) -> None:
        """A coroutine awaiting a helper left as a plain generator is refused too."""
        changed = True
        while changed:
            changed = False
            for f in self.c.funcs:
                if not f.convert:
                    continue
                for yf in f.yield_froms:
                    if not isinstance(yf.value, ast.Call):
                        continue
                    g = self.resolve(yf.value.func, f, f.cls)
                    if g is not None and g.candidate and not g.convert and not g.coro_decorators:
                        _refuse(f, yf, f"`yield from {g.node.name}()`: that helper could not be converted")
                        changed = True
                        break

    # -- module level ----------------------------------------------------
    def _unused_decorator_imports(self) -> Set[str]:
        """Imported decorator names whose every use goes away."""
        removed: Dict[str, int] = {}
        for f in self.c.funcs:
            if f.convert:
                for i in f.coro_decorators:
                    used = self.c.is_coro_decorator(f.node.decorator_list[i])
                    if used is not None:
                        removed[used] = removed.get(used, 0) + 1
        out = set()
        for name in self.c.decorators:
            other_uses = len(self.c.tracked.get(name, ()))
            as_decorator = self.c.decorator_uses.get(name, 0)
            if not other_uses and as_decorator and as_decorator == removed.get(name, 0):
                out.add(name)
        return out

    def _is_loop_assign(self, stmt: ast.stmt) -> bool:
        return (
            isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call) and not stmt.value.args
            and not stmt.value.keywords
            and self.names.path(ast_dotted(stmt.value.func)) == ("get_event_loop",)
        )

    def _run_pattern(self) -> Optional[RunPattern]:
        """``loop = get_event_loop()`` used once to run a coroutine, then closed."""
        for stmt, block in self.loop_candidates:
            name = stmt.targets[0].id  # type: ignore[attr-defined]
            if self._loop_used_once(name, block):
                return RunPattern(name, stmt.lineno)
        return None

    def _module_blocks(self) -> Iterable[List[ast.stmt]]:
        yield self.tree.body
        for stmt in self.tree.body:
            if isinstance(stmt, ast.If):
                yield stmt.body

    def _loop_used_once(self, name: str, block: List[ast.stmt]) -> bool:
        uses = []
        for func, node in self.c.tracked.get(name, ()):
            # a parameter or local of that name (of this or an enclosing def) shadows it
            if func is not None and any(
                name in (_params(f.node) | f.stores) - f.globals for f in func.ancestors()
            ):
                continue
            uses.append(node)
        if len(uses) not in (2, 3):
            return False
        run_ok = close_ok = False
        for stmt in block:
            for call, inside_try in _statement_calls(stmt):
                if not (isinstance(call.func, ast.Attribute) and ast_dotted(call.func.value) == name):
                    continue
                if call.func.attr == "run_until_complete" and len(call.args) == 1 and not call.keywords:
                    arg = call.args[0]
                    if isinstance(arg, ast.Call):
                        target = self.resolve(arg.func, None, None)
                        if target is not None and (target.convert or target.is_async):
                            if not any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(arg)):
                                run_ok = True
                elif call.func.attr == "close" and not call.args:
                    close_ok = True
        return run_ok and len(uses) == 2 + close_ok


def _params(node: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> Set[str]:
    a = node.args
    names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
    return names | {x.arg for x in (a.vararg, a.kwarg) if x is not None}


def _statement_calls(stmt: ast.stmt) -> Iterable[Tuple[ast.Call, bool]]:
    """Calls of a module-level statement, looking into a plain try/finally."""
    if isinstance(stmt, ast.Try) and not stmt.handlers and not stmt.orelse:
        for inner in stmt.body + stmt.finalbody:
            for call, _ in _statement_calls(inner):
                yield call, True
        return
    if isinstance(stmt, (ast.Expr, ast.Assign)):
        for n in ast.walk(stmt):
            if isinstance(n, ast.Call):
                yield n, False


def analyze(tree: ast.Module, source: Optional[str] = None) -> Analysis:
    """Analyse a parsed module (``source``, if given, speeds it up)."""
    return Analyzer(tree, source).run()
