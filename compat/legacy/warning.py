"""``LegacyWarning``: raised once per call site for every restored legacy asyncio use."""
import warnings

__all__ = ["LegacyWarning", "warn_legacy"]


class LegacyWarning(DeprecationWarning):
    """A legacy asyncio API that only works because ``compat.install()`` restored it.

    It is a DeprecationWarning, so Python shows it once per location in
    ``__main__`` by default; ``-W always::compat.LegacyWarning`` (or
    ``-W error::...``) lists every use, which is how to inventory them.
    """


def warn_legacy(message: str, stacklevel: int = 2) -> None:
    """Warn with *message*, attributed *stacklevel* frames above the caller."""
    # +1: this helper's own frame is not the user's.
    warnings.warn(message, LegacyWarning, stacklevel=stacklevel + 1)
