"""Findings the codemod reports: refusals, errors and notes, as plain data."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One finding at ``line:col`` (1-based, like compilers and flake8)."""

    line: int
    col: int
    reason: str
    kind: str = "refused"  # "refused" | "error" | "note"

    def format(self, path: str) -> str:
        """Render as ``path:line:col: kind: reason`` (kind: refused, error, note)."""
        return f"{path}:{self.line}:{self.col}: {self.kind}: {self.reason}"
