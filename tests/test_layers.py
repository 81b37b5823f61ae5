"""The import contract: the folders are the layers and imports only point down.

core (imports nothing else of compat) -> facades (asyncore, asynchat, aio;
framing is shared by asynchat and aio) -> legacy, codemod -> cli. Read from
the source with ``ast``, including imports inside functions.
"""
import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

import compat

PACKAGE = Path(compat.__file__).resolve().parent


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "compat"


def _imports(path: Path) -> Iterator[Tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = ".".join(("compat",) + path.relative_to(PACKAGE).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(("compat",) + path.relative_to(PACKAGE).parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield name, node.lineno
            if name == "compat":
                for alias in node.names:  # from compat import asyncore (a module, not a name)
                    if (PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").is_file():
                        yield f"compat.{alias.name}", node.lineno


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["compat"] + parts)


# layer -> layers of compat it may import (besides itself)
ALLOWED: Dict[str, Set[str]] = {
    "core": set(),
    "framing": set(),
    "asyncore": {"core"},
    "asynchat": {"core", "asyncore", "framing"},
    "aio": {"core", "framing"},
    "coroutines": {"core"},
    "legacy": {"core", "coroutines", "asyncore", "asynchat", "codemod"},
    "codemod": set(),
    "_shim": {"asyncore", "asynchat"},
    "_build": set(),  # setuptools hook writing the precedence .pth (build time only)
    "cli": {"core", "asyncore", "asynchat", "aio", "coroutines", "legacy", "codemod", "framing"},
    "compat": {"coroutines", "legacy", "aio", "cli"},  # compat/__init__ (lazy) and __main__
    "__main__": {"cli"},
}


def _violations() -> Iterator[str]:
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        layer = _layer(module)
        allowed = ALLOWED[layer] | {layer}
        for name, line in _imports(path):
            if name != "compat" and not name.startswith("compat."):
                continue
            target = _layer(name)
            if name == "compat" or target in allowed:
                continue
            yield f"{path.relative_to(PACKAGE.parent)}:{line}: {layer} imports {name}"


def test_imports_point_down() -> None:
    problems = list(_violations())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_nothing_below_cli_imports_cli(layer: str) -> None:
    if layer in ("cli", "compat", "__main__"):
        return
    assert "cli" not in ALLOWED[layer]


def test_every_module_belongs_to_a_layer() -> None:
    unknown = {_layer(_module_name(p)) for p in PACKAGE.rglob("*.py")} - set(ALLOWED)
    assert not unknown, unknown
