"""What the file calls asyncio: module aliases, names imported from it.

Shared by the ``ast`` analysis and the libcst transforms, which both ask
"is this expression ``asyncio.X``?" through :func:`asyncio_path`.
"""
import ast
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Set, Tuple

# Calls whose ``loop=`` argument Python 3.10 removed.
LOOP_REMOVED = frozenset(
    {
        "sleep", "gather", "wait_for", "wait", "shield", "as_completed",
        "Queue", "PriorityQueue", "LifoQueue", "Lock", "Event", "Semaphore",
        "BoundedSemaphore", "Condition", "open_connection", "start_server",
        "open_unix_connection", "start_unix_server", "create_subprocess_exec",
        "create_subprocess_shell",
    }
)
# ``with (yield from x)`` is ``async with x`` only for these.
LOCK_TYPES = frozenset({"Lock", "Semaphore", "BoundedSemaphore", "Condition"})
# asyncio calls that return an awaitable: ``return asyncio.X(...)`` in a
# coroutine without ``yield`` may become ``return await asyncio.X(...)``.
AWAITABLE_CALLS = frozenset(
    {
        "sleep", "gather", "wait_for", "wait", "shield", "ensure_future",
        "open_connection", "start_server", "open_unix_connection",
        "start_unix_server", "create_subprocess_exec", "create_subprocess_shell",
        "create_task", "wrap_future", "Task",
    }
)
FUTURE_WRAPPERS = frozenset({"ensure_future", "create_task", "Task"})
_SUBMODULES = frozenset(
    {"locks", "queues", "tasks", "streams", "subprocess", "events", "futures", "coroutines"}
)

# What ``from asyncio import *`` binds that the codemod acts on (asyncio's
# public names of the 3.4-3.7 era; ``async`` is renamed by the pre-pass).
STAR_NAMES = frozenset(
    LOOP_REMOVED | AWAITABLE_CALLS
    | {"coroutine", "Task", "Future", "ensure_future", "get_event_loop", "new_event_loop",
       "set_event_loop", "run_coroutine_threadsafe", "JoinableQueue", "iscoroutine",
       "iscoroutinefunction", "CancelledError"}
)

Path = Tuple[str, ...]


@dataclass
class AsyncioNames:
    """Import facts of one module."""

    aliases: Set[str] = field(default_factory=set)  # import asyncio [as a]
    imported: Dict[str, str] = field(default_factory=dict)  # local -> asyncio attr
    star: bool = False  # ``from asyncio import *``

    @property
    def prefix(self) -> Optional[str]:
        """A module alias to spell ``asyncio.X`` with, if the file has one."""
        if "asyncio" in self.aliases:
            return "asyncio"
        return min(self.aliases) if self.aliases else None

    def decorator_names(self) -> Set[str]:
        """Local names bound to ``asyncio.coroutine``."""
        return {local for local, attr in self.imported.items() if attr == "coroutine"}

    def path(self, dotted: Optional[str]) -> Optional[Path]:
        """``aio.locks.Lock`` -> ``("Lock",)``; ``Task.all_tasks`` -> ``("Task", "all_tasks")``."""
        if not dotted:
            return None
        parts = dotted.split(".")
        if parts[0] in self.aliases and len(parts) > 1:
            rest = parts[1:]
            if len(rest) > 1 and rest[0] in _SUBMODULES:
                rest = rest[1:]
            return tuple(rest)
        if parts[0] in self.imported:
            return (self.imported[parts[0]],) + tuple(parts[1:])
        return None


def collect_names(tree: ast.Module) -> AsyncioNames:
    """Read the module-level imports of asyncio (any alias, also inside ``try``/``if``)."""
    names = AsyncioNames()
    star = False
    bound: Set[str] = set()  # other module-level bindings (a star import does not shadow them)
    for node in _module_statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "asyncio":
                    names.aliases.add(alias.asname or "asyncio")
                else:
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
            node.module == "asyncio" or node.module.startswith("asyncio.")
        ):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names.imported[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            bound.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    names.star = star
    if star:
        for name in STAR_NAMES - bound:
            names.imported.setdefault(name, name)
    return names


def _module_statements(body: List[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, also those inside ``if``/``try``/``with`` blocks."""
    for node in body:
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field_name in ("body", "orelse", "finalbody"):
            inner = getattr(node, field_name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from _module_statements(inner)
        for handler in getattr(node, "handlers", ()):
            yield from _module_statements(handler.body)


def ast_dotted(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def cst_dotted(node: object) -> Optional[str]:
    """The libcst twin of :func:`ast_dotted`."""
    import libcst as cst

    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))
