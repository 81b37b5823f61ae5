"""Per-function decisions, made on the stdlib ``ast`` (fast, with positions).

The libcst transforms only carry out what this module decides: which
functions become ``async def``, which ``return`` gets an ``await``, which
``with (yield from x)`` targets are known locks, and what is refused (and
why, and where). Decisions are per function, never per file.
"""
import ast
from typing import Dict, Iterable, List, Optional, Set, Tuple, Union

from .collect import DEF_NAME, FUNC_NODES, ITERABLE_BUILTINS, PLAIN_VALUES, Collector, plain_iterable
from ..diagnostics import Diagnostic
from .facts import Analysis, ClassInfo, FuncInfo, RunPattern, Site, pos, refuse
from .names import AWAITABLE_CALLS, LOCK_TYPES, AsyncioNames, ast_dotted, collect_names

__all__ = ["Analysis", "Analyzer", "FuncInfo", "analyze"]

# Protocol methods that must return an iterator: they stay generators.
PROTOCOL_GENERATORS = frozenset({"__iter__", "__await__"})
# Must return the async iterator itself, not an awaitable.
PROTOCOL_PLAIN = frozenset({"__aiter__"})
# Dunder methods whose protocol wants an awaitable: ``async def`` is right.
PROTOCOL_ASYNC = frozenset({"__aenter__", "__aexit__", "__anext__", "__call__"})


def _dunder(f: FuncInfo) -> str:
    """The method's name if it is a dunder method of a class, else ''."""
    name = f.node.name
    if f.cls is not None and f.parent is None and len(name) > 4 and name[:2] == name[-2:] == "__":
        return name
    return ""


class Analyzer:
    """Turns a parsed module into an :class:`Analysis`."""

    def __init__(self, tree: ast.Module, source: Optional[str] = None, unsafe_fixes: bool = False) -> None:
        self.tree = tree
        self.unsafe_fixes = unsafe_fixes
        self.unsafe: List[Tuple[FuncInfo, Diagnostic]] = []  # notes of the unsafe fixes made
        self.names = collect_names(tree)
        self.c = Collector(self.names)
        if source is not None:
            # a regex over the text instead of a second tree walk
            self.c.def_names = set(DEF_NAME.findall(source))
        else:
            self.c.def_names = {n.name for n in ast.walk(tree) if isinstance(n, FUNC_NODES)}
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
            self._protocol(f)
        self._grow_candidates()
        self._driven_by_hand()
        for f in c.funcs:
            if f.candidate:
                self._check(f)
        changed = True
        while changed:
            changed = self._propagate_refusals() | self._refuse_callees_of_generators()
        for f in c.funcs:
            if f.protocol == "generator":
                self._delegations(f)
        cancel_fix = self._cancel_handlers()
        run = self._run_pattern()
        new_loops = self._module_loops(run)
        for site, func in c.sites:
            for f in (func.ancestors() if func else ()):
                f.touch = True
        for f in c.funcs:
            if f.convert or f.protocol:
                for a in f.ancestors():
                    a.touch = True
        for f in c.funcs:
            i = f.stmt_index if f.touch else -1
            while i >= 0 and not c.stmt_relevant[i]:
                c.stmt_relevant[i] = True
                i = c.stmt_parent[i]
        for i in new_loops:
            while i >= 0:
                c.stmt_relevant[i] = True
                i = c.stmt_parent[i]
        return Analysis(
            names=self.names,
            funcs=c.funcs,
            sites=[s for s, _ in c.sites],
            run=run,
            unused_decorator_imports=self._unused_decorator_imports(),
            manual=c.manual,
            notes=sorted([d for f, d in self.unsafe if f.convert] + [d for f in c.funcs if f.convert for d in f.cancel_notes],
                         key=lambda d: (d.line, d.col)),
            cancel_fix=cancel_fix,
            new_loops=new_loops,
            stmt_relevant=c.stmt_relevant,
            stmt_nested=c.stmt_nested,
            stmt_defs=c.stmt_defs,
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
                if g.candidate or g.is_async or not g.is_generator or g.protocol:
                    continue
                if _dunder(g) and _dunder(g) not in PROTOCOL_ASYNC:
                    continue
                if g.value_yields or g.comp_yields:
                    continue
                if self._wraps_coroutine(g) or self._only_awaited(g):
                    g.candidate = True
                    changed = True

    def _protocol(self, f: FuncInfo) -> None:
        """Dunder methods keep their protocol: never a coroutine where it wants an iterator."""
        name = _dunder(f)
        if not name or f.is_async or name in PROTOCOL_ASYNC:
            return
        if name in PROTOCOL_GENERATORS:
            f.candidate = False
            if f.is_generator and not f.value_yields:
                f.protocol = "generator"
        elif name in PROTOCOL_PLAIN and f.coro_decorators:
            f.candidate = False
            if f.is_generator:
                refuse(f, f.node, f"{name}() must return its async iterator, not a coroutine: rewrite it by hand")
            else:
                f.protocol = "plain"
        elif f.coro_decorators:
            f.candidate = False
            refuse(f, f.node, f"{name}() is a protocol method: as `async def` it would return a coroutine")

    def _delegations(self, f: FuncInfo) -> None:
        """Which ``yield from`` of a protocol generator get ``.__await__()``."""
        # an ``__iter__`` of a class that is not awaitable may delegate to any
        # iterable: only calls known to become coroutines get ``.__await__()``
        known_only = f.node.name == "__iter__" and not f.coro_decorators and not f.cls.awaitable  # type: ignore[union-attr]
        for yf in f.yield_froms:
            value = yf.value
            if plain_iterable(value):
                continue
            func = value.func if isinstance(value, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr in ("__await__", "__iter__"):
                continue  # already delegating
            dotted = ast_dotted(func) if func is not None else None
            if dotted is None:
                f.wrap_other = f.wrap_other or not known_only
                continue
            g = self.resolve(value.func, f, f.cls)  # type: ignore[union-attr]
            if g is not None and not g.convert and not g.is_async:
                continue  # stays a plain generator (or function)
            if known_only and g is None and self.names.path(dotted) is None:
                continue
            f.wrap_calls.add(dotted)
        if not (f.wrap_calls or f.wrap_other or f.coro_decorators):
            f.protocol = ""  # nothing to change

    def _refuse_callees_of_generators(self) -> bool:
        """A callee a plain generator delegates to stays a generator-based coroutine."""
        changed = False
        for g in self.c.funcs:
            if g.candidate or g.is_async or not g.is_generator or g.protocol:
                continue
            for yf in g.yield_froms:
                if not isinstance(yf.value, ast.Call):
                    continue
                callee = self.resolve(yf.value.func, g, g.cls)
                if callee is not None and callee.convert:
                    refuse(callee, callee.node, f"{callee.node.name}() is delegated to by plain generator "
                                                f"{g.node.name}() (line {yf.lineno}), which stays a generator")
                    changed = True
        return changed

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

    def _driven_by_hand(self) -> None:
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
                line, col = pos(node)
                name = target.node.name
                d = Diagnostic(line, col, f"coroutine {name}() is driven by hand (next/send/iteration/isgenerator); not converted")
                target.refusals.append(d)

    # -- per function checks -------------------------------------------
    def _check(self, f: FuncInfo) -> None:
        for y in f.value_yields:
            refuse(f, y, "bare `yield <value>` in a coroutine (Tornado/Trollius style): cannot tell what it waits for")
        for y in f.comp_yields:
            refuse(f, y, "`yield` inside a comprehension is a SyntaxError since Python 3.8: rewrite it as a loop")
        for yf in f.yield_froms:
            self._check_yield_from(f, yf)
        for w in f.withs:
            if self._is_lock_expr(f, w.value, set()):
                continue
            if self.unsafe_fixes:
                line, col = pos(w)
                self.unsafe.append((f, Diagnostic(line, col, "unsafe fix: `with (yield from x)` made `async with x` "
                                                         "though x is not known to be an asyncio lock", "note")))
            else:
                refuse(f, w, "`with (yield from x)` where x is not known to be an asyncio Lock/Semaphore/Condition"
                             " (--unsafe-fixes converts it)")
        for w in f.mixed_withs:
            refuse(f, w, "`with` mixing `(yield from lock)` and plain context managers: split it by hand")
        for yf in f.stmt_yield_froms:
            dotted = ast_dotted(yf.value)
            if dotted is not None and self._is_lock(f, dotted):
                f.locks.add(dotted)
        if not f.is_generator and not f.has_await and not f.is_async:
            for r in f.returns:
                verdict = self._return_verdict(r.value, f)
                if verdict is None:
                    refuse(f, r, "return value of a coroutine without `yield`: cannot prove whether it is awaitable")
                f.return_await.append(bool(verdict))

    def _check_yield_from(self, f: FuncInfo, yf: ast.YieldFrom) -> None:
        value = yf.value
        if plain_iterable(value, with_calls=False) or (
            isinstance(value, ast.Name) and value.id in f.iterables
        ):
            refuse(f, yf, "`yield from` a plain iterable inside a coroutine")
            return
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ITERABLE_BUILTINS:
            if self.resolve(value.func, f, f.cls) is None:
                refuse(f, yf, f"`yield from {value.func.id}(...)`: a plain iterable inside a coroutine")
                return
        if isinstance(value, ast.Call):
            g = self.resolve(value.func, f, f.cls)
            if g is not None and g.is_generator and not g.candidate and not g.is_async:
                if any(ctx not in ("yield_from", "asyncio_arg") for _, ctx, _ in g.refs):
                    why = f"{g.node.name}() is a generator that is both iterated and awaited"
                else:
                    why = f"`yield from {g.node.name}()`: a plain generator (it yields values), not a coroutine"
                refuse(f, yf, why)

    def _is_lock_expr(self, f: Optional[FuncInfo], expr: ast.expr, seen: Set[Tuple[int, str]]) -> bool:
        """Whether ``expr`` (seen from ``f``) is known to be an asyncio lock."""
        if isinstance(expr, ast.Call):
            return (self.names.path(ast_dotted(expr.func)) or ("",))[-1] in LOCK_TYPES
        dotted = ast_dotted(expr)
        return dotted is not None and self._is_lock(f, dotted, seen)

    def _is_lock(self, f: Optional[FuncInfo], dotted: str, seen: Optional[Set[Tuple[int, str]]] = None) -> bool:
        assigns = self.c.assigns
        if dotted.startswith(("self.", "cls.")):
            if f is None or f.cls is None:
                return False
            key = (f.cls.scope_key, "self." + dotted.split(".", 1)[1])
            return assigns.get(key, False)
        scope: Optional[FuncInfo] = f
        while scope is not None:
            if (scope.index, dotted) in assigns:
                return assigns[(scope.index, dotted)] and dotted not in _params(scope.node)
            if dotted in _params(scope.node):
                return self._param_is_lock(scope, dotted, set() if seen is None else seen)
            scope = scope.parent
        return assigns.get((-1, dotted), False)

    def _param_is_lock(self, g: FuncInfo, name: str, seen: Set[Tuple[int, str]]) -> bool:
        """Every call of ``g`` in the module passes a known lock as ``name``."""
        key = (g.index, name)
        if key in seen:
            return True  # a recursive call passes on what the other sites give
        seen.add(key)
        a = g.node.args
        positional = [x.arg for x in a.posonlyargs + a.args]
        index = positional.index(name) if name in positional else None
        decorators = {ast_dotted(d) for d in g.node.decorator_list}
        calls = 0
        for site, _, node in g.refs:
            call = self.c.calls_by_func.get(id(node))
            if call is None:
                return False  # passed around: its callers are not known
            shift = 0
            if g.cls is not None and g.parent is None and "staticmethod" not in decorators:
                owner = node.value.id if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) else ""
                shift = 1 if owner in ("self", "cls") or "classmethod" in decorators else 0
            arg = next((k.value for k in call.keywords if k.arg == name), None)
            if arg is None and index is not None:
                at = index - shift
                if any(isinstance(x, ast.Starred) for x in call.args[:at + 1]):
                    return False
                if 0 <= at < len(call.args):
                    arg = call.args[at]
            if arg is None or not self._is_lock_expr(site, arg, seen):
                return False
            calls += 1
        return calls > 0

    def _return_verdict(self, value: Optional[ast.expr], f: FuncInfo) -> Optional[bool]:
        """False: plain value; True: awaitable (add ``await``); None: unknown."""
        if value is None or isinstance(value, PLAIN_VALUES):
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

    def _propagate_refusals(self) -> bool:
        """A coroutine awaiting a helper left as a plain generator is refused too."""
        changed, any_change = True, False
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
                        refuse(f, yf, f"`yield from {g.node.name}()`: that helper could not be converted")
                        changed = any_change = True
                        break
        return any_change

    # -- cancellation --------------------------------------------------
    def _cancel_handlers(self) -> bool:
        """Note each ``except Exception`` of a converted coroutine that caught cancellation.

        Up to Python 3.7 ``asyncio.CancelledError`` was an ``Exception``: such
        a handler around an await caught the cancellation; since 3.8 it passes
        it on. Returns whether --unsafe-fixes may rewrite them (the name the
        rewrite needs shadows nothing), noting each one either way.
        """
        found = [(f, i, h, n) for f in self.c.funcs if f.convert for i, n in f.tries
                 for h in _cancel_catchers(n, self.names)]
        if not found:
            return False
        spelling, clash = self._cancel_spelling()
        for f, idx, h, node in found:
            handler = node.handlers[h]
            what = f"`except {ast.unparse(handler.type)}`"  # type: ignore[arg-type]
            head = spelling.split(".")[0]
            shadowed = clash or any(head in _bound_in(g.node) for g in f.ancestors())
            line, col = pos(handler)
            if self.unsafe_fixes and not shadowed:
                f.cancel_handlers.setdefault(idx, []).append(h)
                i = idx  # the libcst walk must reach this ``try``
                while i >= 0 and not self.c.stmt_relevant[i]:
                    self.c.stmt_relevant[i] = True
                    i = self.c.stmt_parent[i]
                reason = (f"unsafe fix: {what} made to also name {spelling}: up to Python 3.7 it caught "
                          "the cancellation of the awaits in its try, since 3.8 it does not")
            else:
                reason = (f"{what} around an await caught asyncio.CancelledError up to Python 3.7; since 3.8 "
                          "CancelledError is a BaseException and the cancellation passes this handler")
                if not self.unsafe_fixes:
                    reason += f" (--unsafe-fixes makes it also name {spelling})"
                else:
                    reason += f" (not rewritten: `{head}` is bound to something else here)"
            f.cancel_notes.append(Diagnostic(line, col, reason, "note"))
        return self.unsafe_fixes

    def _cancel_spelling(self) -> Tuple[str, bool]:
        """How the module names ``asyncio.CancelledError``; and whether that needs a clashing import."""
        if self.names.imported.get("CancelledError") == "CancelledError":
            return "CancelledError", False
        if self.names.prefix is not None:
            return self.names.prefix + ".CancelledError", False
        # ``import asyncio`` would be added: only where nothing else is called asyncio
        return "asyncio.CancelledError", "asyncio" in _bound_in(self.tree)

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

    def _module_loops(self, run: Optional[RunPattern]) -> Set[int]:
        """``get_event_loop()`` outside functions: rewritten where a program starts, else reported.

        A program starts under ``if __name__ == "__main__":`` or where the
        module runs the loop itself (``loop.run_until_complete``/``run_forever``
        outside functions): there ``new_event_loop()`` + ``set_event_loop()``
        is what ``get_event_loop()`` did up to 3.13.
        """
        handled: Set[int] = set()
        out = self._program_functions()
        runs = {
            ast_dotted(n.func.value) for stmt in self.tree.body for n in _module_nodes(stmt)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr in ("run_until_complete", "run_forever")
        }
        for stmt, block, guarded in _module_blocks_deep(self.tree.body, False):
            if not self._is_loop_assign(stmt):
                continue
            name = stmt.targets[0].id  # type: ignore[attr-defined]
            before = block[:block.index(stmt)]
            sets_loop = any(
                isinstance(n, ast.Call) and self.names.path(ast_dotted(n.func)) == ("set_event_loop",)
                for b in before for n in _module_nodes(b)
            )
            if run is not None and stmt.lineno == run.line:
                handled.add(id(stmt.value))
            elif (guarded or name in runs) and not sets_loop:
                out.add(self.c.assign_index[id(stmt)])
                line, col = pos(stmt)
                self.c.sites.append((Site("new_event_loop", line, col), None))
                handled.add(id(stmt.value))
        for call in self.c.module_loop_calls:
            if id(call) not in handled:
                line, col = pos(call)
                self.c.manual.append(Diagnostic(
                    line, col, "asyncio.get_event_loop() at module level raises RuntimeError from 3.14 when no "
                    "loop is set: create the loop where the program starts (asyncio.new_event_loop() and "
                    "set_event_loop(), or asyncio.run())"))
        return out

    def _program_functions(self) -> Set[int]:
        """``loop = get_event_loop()`` in a ``main()`` called only under the main guard."""
        guarded = {id(n) for stmt, _, under in _module_blocks_deep(self.tree.body, False) if under
                   for n in _module_nodes(stmt)}
        out: Set[int] = set()
        for f in self.c.module_defs.values():
            if f.is_async or f.candidate or f.is_generator or not f.refs:
                continue
            if not all(site is None and id(node) in guarded for site, _, node in f.refs):
                continue
            runs = {
                ast_dotted(n.func.value) for stmt in f.node.body for n in _module_nodes(stmt)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr in ("run_until_complete", "run_forever")
            }
            for stmt, block, _ in _module_blocks_deep(f.node.body, False):
                if not self._is_loop_assign(stmt) or stmt.targets[0].id not in runs:  # type: ignore[attr-defined]
                    continue
                if any(isinstance(n, ast.Call) and self.names.path(ast_dotted(n.func)) == ("set_event_loop",)
                       for b in block[:block.index(stmt)] for n in _module_nodes(b)):
                    continue
                out.add(self.c.assign_index[id(stmt)])
                line, col = pos(stmt)
                self.c.sites.append((Site("new_event_loop", line, col), f))
        return out

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
            for call in _statement_calls(stmt):
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


def _module_nodes(stmt: ast.stmt) -> Iterable[ast.AST]:
    """Nodes of a module-level statement, not entering functions or classes."""
    todo: List[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _module_blocks_deep(body: List[ast.stmt], guarded: bool) -> Iterable[Tuple[ast.stmt, List[ast.stmt], bool]]:
    """(statement, its block, under a main guard?) for module-level code in if/try/with blocks."""
    for stmt in body:
        yield stmt, body, guarded
        if isinstance(stmt, ast.If):
            inner = guarded or _is_main_guard(stmt.test)
            yield from _module_blocks_deep(stmt.body, inner)
            yield from _module_blocks_deep(stmt.orelse, guarded)
        elif isinstance(stmt, (ast.Try, ast.With)):
            for name in ("body", "orelse", "finalbody"):
                yield from _module_blocks_deep(getattr(stmt, name, []), guarded)
            for handler in getattr(stmt, "handlers", ()):
                yield from _module_blocks_deep(handler.body, guarded)


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {ast_dotted(test.left) or getattr(test.left, "value", None),
             ast_dotted(test.comparators[0]) or getattr(test.comparators[0], "value", None)}
    return sides == {"__name__", "__main__"}


def _is_cancel_name(expr: ast.expr, names: "AsyncioNames") -> bool:
    """``BaseException`` or any ``...CancelledError``: the handler sees cancellation anyway."""
    dotted = ast_dotted(expr) or ""
    last = (names.path(dotted) or dotted.split("."))[-1]
    return dotted == "BaseException" or last == "CancelledError"


def _awaits(body: List[ast.stmt]) -> bool:
    """Whether statements await (``yield``, ``yield from``, ``await``, ``async for/with``) in their own scope."""
    todo: List[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await, ast.AsyncFor, ast.AsyncWith)):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return False


def _cancel_catchers(node: ast.Try, names: "AsyncioNames") -> List[int]:
    """Positions of the handlers of ``node`` that caught cancellation up to 3.7 and not since 3.8."""
    if not node.handlers or not _awaits(node.body):
        return []
    out = []
    for i, handler in enumerate(node.handlers):
        t = handler.type
        if t is None:
            break  # a bare except catches everything, then and now
        elts = t.elts if isinstance(t, ast.Tuple) else [t]
        if any(_is_cancel_name(e, names) for e in elts):
            break  # cancellation stops here, then and now
        if any(isinstance(e, ast.Name) and e.id == "Exception" for e in elts):
            out.append(i)
            break  # up to 3.7 this one took the cancellation; later handlers never saw it
    return out


def _bound_in(node: ast.AST) -> Set[str]:
    """Names ``node`` binds anywhere in it (assignments, imports, defs, parameters)."""
    out: Set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            out.add(n.id)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                if a.name != "asyncio" or a.asname or isinstance(n, ast.ImportFrom):
                    out.add(a.asname or a.name.split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
    return out


def _params(node: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> Set[str]:
    a = node.args
    names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
    return names | {x.arg for x in (a.vararg, a.kwarg) if x is not None}


def _statement_calls(stmt: ast.stmt) -> Iterable[ast.Call]:
    """Calls of a module-level statement, looking into a plain try/finally."""
    if isinstance(stmt, ast.Try) and not stmt.handlers and not stmt.orelse:
        for inner in stmt.body + stmt.finalbody:
            yield from _statement_calls(inner)
        return
    for n in ast.walk(stmt):
        if isinstance(n, ast.Call):
            yield n


def analyze(tree: ast.Module, source: Optional[str] = None, unsafe_fixes: bool = False) -> Analysis:
    """Analyse a parsed module (``source``, if given, speeds it up)."""
    return Analyzer(tree, source, unsafe_fixes).run()
