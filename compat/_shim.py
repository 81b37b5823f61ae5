"""Support for the top-level ``asyncore``/``asynchat`` drop-in modules (shims/)."""
import importlib
import sys
from types import ModuleType


def alias(name: str) -> ModuleType:
    """Make ``import <name>`` give the facade module ``compat.<name>`` itself."""
    facade = importlib.import_module("compat." + name)
    sys.modules[name] = facade
    return facade
