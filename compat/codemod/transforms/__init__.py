"""The libcst transforms, one per module, and the order they run in.

Each transform only carries out what :mod:`compat.codemod.analysis` decided.
They all run in one walk of the tree (:class:`.base.Pipeline`); for a node
several transforms act on, ``ORDER`` is the order they see it in.
"""
from typing import List, Type

from .base import Pipeline, State, Transform
from .cancel import CancelledErrorHandlers
from .coroutine import CoroutineToAsync
from .ensure_future import EnsureFuture
from .event_loop import NewEventLoop
from .imports import FixImports
from .loop_kwarg import RemoveLoopArgument
from .protocol import ProtocolMethods
from .run import RunMain
from .task_methods import TaskClassMethods
from .wait import WaitWrapsCoroutines

ORDER: List[Type[Transform]] = [
    CoroutineToAsync,
    CancelledErrorHandlers,
    ProtocolMethods,
    RemoveLoopArgument,
    EnsureFuture,
    TaskClassMethods,
    WaitWrapsCoroutines,
    RunMain,
    NewEventLoop,
    FixImports,  # last: it acts on what the others left behind
]

__all__ = ["ORDER", "Pipeline", "State", "Transform"]
