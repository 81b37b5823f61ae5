"""compat: asyncore, asynchat and legacy asyncio coroutines on one asyncio loop.

The public surface is a short, flat list; each name is imported on first use
so that ``import compat`` stays cheap and pulls in no facade it does not need.
"""
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it (relative to this package)
_PUBLIC = {
    "coroutine": "coroutines",
    "iscoroutinefunction": "coroutines",
    "install": "legacy",
    "uninstall": "legacy",
    "LegacyWarning": "legacy",
    "run": "aio",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'compat' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_PUBLIC))
