"""The codemod's one optional dependency, libcst, with a clear error."""

INSTALL_HINT = "the codemod needs libcst: pip install libcst (or pip install '.[codemod]' in compat's checkout)"


class LibcstMissing(RuntimeError):
    """libcst is not installed (it is the ``codemod`` extra)."""


def require_libcst() -> None:
    """Raise :class:`LibcstMissing` unless libcst can be imported."""
    try:
        import libcst  # noqa: F401
    except ImportError as exc:
        raise LibcstMissing(INSTALL_HINT) from exc
