"""Record attribute and mapping changes so they can be undone exactly.

``install()`` changes ``asyncio`` (and ``sys.modules``) only through a
``Patcher``; ``uninstall()`` replays the record backwards, putting back the very
objects that were there, and removing what was absent.
"""
from typing import Any, List, MutableMapping, Tuple

__all__ = ["Patcher"]

_ABSENT = object()


class Patcher:
    """An undo log of ``setattr`` on modules/classes and of mapping items."""

    def __init__(self) -> None:
        self._undo: List[Tuple[str, Any, str, Any]] = []

    def set_attr(self, target: Any, name: str, value: Any) -> Any:
        """Set ``target.name`` (own attribute) to *value*; return what it was, or None."""
        old = vars(target).get(name, _ABSENT)
        self._undo.append(("attr", target, name, old))
        setattr(target, name, value)
        return None if old is _ABSENT else old

    def set_item(self, mapping: MutableMapping[str, Any], key: str, value: Any) -> None:
        """Set ``mapping[key]`` to *value*, remembering what was there."""
        self._undo.append(("item", mapping, key, mapping.get(key, _ABSENT)))
        mapping[key] = value

    def restore(self) -> None:
        """Undo every change, last first; the patcher is empty afterwards."""
        while self._undo:
            kind, target, name, old = self._undo.pop()
            if kind == "attr":
                if old is _ABSENT:
                    if name in vars(target):
                        delattr(target, name)
                else:
                    setattr(target, name, old)
            elif old is _ABSENT:
                target.pop(name, None)
            else:
                target[name] = old
