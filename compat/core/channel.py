"""The channel contract, and which predicates the core may trust.

A channel is what asyncore called a dispatcher: any object with the
attributes and methods of :class:`Channel`. The facades register their stock
``readable()``/``writable()`` here (:func:`register_stock_predicates`): a
channel whose class keeps them is asked only when a facade reports a change
(:func:`compat.core.sync_channel`); any other channel is asked before every
poll, as asyncore asked every channel.
"""
from typing import Any, Callable, Dict, Protocol, Set, Tuple

__all__ = ["Channel", "ExitNow", "REraised", "register_stock_predicates", "register_stock_read_event", "is_polled", "reads_directly"]


class Channel(Protocol):
    """What the core reads and calls on a channel in a map."""

    connected: bool
    accepting: bool

    def readable(self) -> bool: ...

    def writable(self) -> bool: ...

    def handle_read_event(self) -> None: ...

    def handle_write_event(self) -> None: ...

    def handle_expt_event(self) -> None: ...

    def handle_close(self) -> None: ...

    def handle_error(self) -> None: ...


class ExitNow(Exception):
    """Raised by a handler to make ``loop()`` return at once."""


# Exceptions that leave loop() instead of going to the channel's handle_error.
REraised = (ExitNow, KeyboardInterrupt, SystemExit)

_stock_predicates: Set[Callable[..., Any]] = set()
_polled_by_class: Dict[type, bool] = {}
# A tuple, not a set: `in` compares by identity first and never hashes
# whatever a channel's handle_read_event happens to wrap.
_stock_read_events: Tuple[Callable[..., Any], ...] = ()


def register_stock_predicates(*funcs: Callable[..., Any]) -> None:
    """Declare predicate functions whose answer changes only on reported events."""
    _stock_predicates.update(funcs)
    _polled_by_class.clear()


def register_stock_read_event(func: Callable[..., Any]) -> None:
    """Declare a ``handle_read_event`` that, for a channel that is
    ``connected`` and not ``accepting``, only calls ``handle_read``."""
    global _stock_read_events
    if func not in _stock_read_events:
        _stock_read_events += (func,)


def is_polled(obj: Any) -> bool:
    """True when the channel's predicates must be asked before every poll."""
    cls = type(obj)
    polled = _polled_by_class.get(cls)
    if polled is None:
        polled = not (
            getattr(cls, "readable", None) in _stock_predicates
            and getattr(cls, "writable", None) in _stock_predicates
        )
        _polled_by_class[cls] = polled
    if not polled:
        # Predicates set on the instance itself. Looked up as attributes, not
        # through obj.__dict__: touching __dict__ turns off CPython's inline
        # attribute values for the object, slowing every later attribute access.
        for name in ("readable", "writable"):
            func = getattr(getattr(obj, name, None), "__func__", None)
            if func not in _stock_predicates:
                return True
    return polled




def reads_directly(obj: Any) -> bool:
    """Whether ``obj``'s handle_read_event is a stock one: for a connected,
    non-listening channel the core may call ``handle_read`` itself."""
    return getattr(getattr(obj, "handle_read_event", None), "__func__", None) in _stock_read_events
