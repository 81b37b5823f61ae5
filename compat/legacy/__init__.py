"""``compat.install()`` / ``compat.uninstall()``: the legacy asyncio runtime.

``install()`` restores, on Python 3.9-3.15, what 3.4-3.8 era asyncio code
reaches for: ``asyncio.coroutine``, ``loop=`` arguments, ``yield from lock``,
``asyncio.wait()`` of bare coroutines, ``asyncio.async``,
``Task.current_task()/all_tasks()``, a ``get_event_loop()`` that makes a loop
when none is set, plain generators that ``yield from`` legacy coroutines,
``asyncio.test_utils``, and ``asyncore``/``asynchat`` as compat's facades.
Each restored use warns ``LegacyWarning`` once per call site.

``uninstall()`` puts back every attribute it changed - the same objects - and
removes those it added, leaving ``asyncio`` and ``sys.modules`` as found.
Both are idempotent and thread-safe.
"""
import threading
from typing import Optional

from compat.legacy.patch import Patcher
from compat.legacy.warning import LegacyWarning

__all__ = ["LegacyWarning", "install", "installed", "uninstall"]

_state_lock = threading.Lock()
_patch: Optional[Patcher] = None


def install() -> None:
    """Restore the legacy asyncio APIs and the asyncore/asynchat modules (idempotent)."""
    global _patch
    with _state_lock:
        if _patch is not None:
            return
        import asyncio

        from compat.legacy import event_loop, locks, loop_args, modules, tasks
        from compat.legacy.decorator import legacy_coroutine

        patch = Patcher()
        try:
            patch.set_attr(asyncio, "coroutine", legacy_coroutine)
            if not hasattr(asyncio.coroutines, "coroutine"):
                patch.set_attr(asyncio.coroutines, "coroutine", legacy_coroutine)
            if "coroutine" not in asyncio.__all__:  # so `from asyncio import *` finds it
                patch.set_attr(asyncio, "__all__", tuple(asyncio.__all__) + ("coroutine",))
            event_loop.install(patch, asyncio)
            loop_args.install(patch, asyncio)
            locks.install(patch, asyncio)
            tasks.install(patch, asyncio)
            modules.install(patch)
        except BaseException:
            patch.restore()
            raise
        _patch = patch


def uninstall() -> None:
    """Undo ``install()`` exactly; does nothing if it is not installed."""
    global _patch
    with _state_lock:
        if _patch is None:
            return
        _patch.restore()
        _patch = None


def installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _patch is not None
