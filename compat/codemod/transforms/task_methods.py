"""``asyncio.Task.current_task()``/``all_tasks()`` -> the module functions (gone in 3.9)."""
import libcst as cst

from .base import Transform

_METHODS = ("current_task", "all_tasks")


class TaskClassMethods(Transform):
    """``asyncio.Task.all_tasks()`` -> ``asyncio.all_tasks()``."""

    DESCRIPTION = "Task.current_task()/all_tasks() to asyncio.current_task()/all_tasks()"

    def leave_Call(self, original: cst.Call, updated: cst.CSTNode) -> cst.CSTNode:
        if not isinstance(updated, cst.Call):
            return updated
        func = updated.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in _METHODS):
            return updated
        if self.state.path(func.value) != ("Task",):
            return updated
        owner = func.value
        if isinstance(owner, cst.Attribute) and isinstance(owner.value, cst.Name):
            new_func: cst.BaseExpression = cst.Attribute(value=owner.value, attr=func.attr)
        else:
            new_func = self.state.asyncio_attr(func.attr.value)
        return updated.with_changes(func=new_func)
