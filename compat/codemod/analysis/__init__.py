"""What the codemod knows about a module, found with the stdlib ``ast`` (no libcst).

``names`` reads the module's asyncio imports, ``collect`` walks the tree once,
``facts`` holds what the walk found and ``analyzer`` decides per function
what the transforms do and what is refused. The ``report`` command uses the
same analysis, so it needs no libcst either.
"""
from .analyzer import Analyzer, analyze
from .facts import Analysis, ClassInfo, FuncInfo

__all__ = ["Analysis", "Analyzer", "ClassInfo", "FuncInfo", "analyze"]
