"""Support for the top-level ``asyncore``/``asynchat`` drop-in modules."""
import importlib
import sys
from types import ModuleType


def load_facade(name: str) -> ModuleType:
    """Import ``compat.<name>``, explaining clearly when ``compat`` is shadowed."""
    try:
        facade = importlib.import_module("compat." + name)
    except ImportError as exc:
        compat = sys.modules.get("compat")
        if compat is not None and not hasattr(compat, "__path__"):
            raise ImportError(
                f"cannot provide {name!r}: the module 'compat' found at "
                f"{getattr(compat, '__file__', '?')} is not the compat package "
                f"(a module of yours shadows it); rename it so that "
                f"'import {name}' can use compat's facade"
            ) from exc
        raise
    return facade


def alias(name: str) -> ModuleType:
    """Make ``import <name>`` give compat's facade module itself."""
    facade = load_facade(name)
    sys.modules[name] = facade
    return facade
