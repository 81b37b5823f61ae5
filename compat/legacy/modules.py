"""Modules legacy code imports that are gone: ``asyncore``/``asynchat`` (3.12)
as compat's facades, and ``asyncio.test_utils`` (3.7) as compat's own helpers."""
import importlib
import sys
from typing import Dict

from compat.legacy.patch import Patcher

__all__ = ["FACADES", "install"]

#: legacy module name -> compat module serving it
FACADES: Dict[str, str] = {
    "asyncore": "compat.asyncore",
    "asynchat": "compat.asynchat",
    "asyncio.test_utils": "compat.legacy.test_utils",
}


def install(patch: Patcher) -> None:
    """Alias each legacy name in ``sys.modules`` to its compat module."""
    for legacy_name, facade in FACADES.items():
        module = importlib.import_module(facade)
        patch.set_item(sys.modules, legacy_name, module)
        parent, _, child = legacy_name.rpartition(".")
        if parent:  # `from asyncio import test_utils` reads the attribute
            patch.set_attr(sys.modules[parent], child, module)
