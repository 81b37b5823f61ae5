"""``import asyncore`` / ``import asynchat`` give compat's facades while installed."""
import importlib
import importlib.util
import sys
from typing import Dict

from compat.legacy.patch import Patcher

__all__ = ["FACADES", "install"]

#: legacy module name -> compat facade serving it
FACADES: Dict[str, str] = {"asyncore": "compat.asyncore", "asynchat": "compat.asynchat"}


def install(patch: Patcher) -> None:
    """Alias each legacy name in ``sys.modules`` to its facade, if the facade exists."""
    for legacy_name, facade in FACADES.items():
        if importlib.util.find_spec(facade) is None:
            continue  # not written yet in this tree: nothing to alias
        # Errors inside an existing facade are real bugs: let them propagate.
        patch.set_item(sys.modules, legacy_name, importlib.import_module(facade))
