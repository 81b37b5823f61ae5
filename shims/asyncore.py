"""Drop-in ``asyncore`` for Python 3.12+: compat's facade under the old name.

The module replaces itself with ``compat.asyncore`` so that ``asyncore.socket_map``
and every other name are the very objects compat's core serves.
"""
import sys

try:
    from compat._shim import alias
except ImportError as exc:  # the compat package is missing or shadowed
    _compat = sys.modules.get("compat")
    if _compat is not None and not hasattr(_compat, "__path__"):
        raise ImportError(
            "cannot provide 'asyncore': the module 'compat' found at %s is not the "
            "compat package (a module of yours shadows it); rename it"
            % getattr(_compat, "__file__", "?")
        ) from exc
    raise

alias("asyncore")
