"""The event loop class the core creates when no loop is set for a thread."""
import asyncio

from compat.core import HookedSelector


class CoreEventLoop(asyncio.SelectorEventLoop):  # type: ignore[misc,valid-type]
    """asyncio's selector loop whose selector asks overriding channels before each poll."""

    def __init__(self) -> None:
        super().__init__(HookedSelector())
