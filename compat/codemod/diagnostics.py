"""Findings the codemod reports: refusals, errors and notes, as plain data."""
from dataclasses import asdict, dataclass
from typing import Any, Dict


@dataclass(frozen=True)
class Diagnostic:
    """One finding at ``line:col`` (1-based, like compilers and flake8)."""

    line: int
    col: int
    reason: str
    kind: str = "refused"  # "refused" | "error"

    def format(self, path: str) -> str:
        """Render as ``path:line:col: reason``."""
        return f"{path}:{self.line}:{self.col}: {self.reason}"

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict for JSON output."""
        return asdict(self)
