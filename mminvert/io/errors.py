"""The error raised for any checkpoint that cannot be read as asked."""
from __future__ import annotations

from pathlib import Path

__all__ = ["CheckpointError"]


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of an unknown format, unsafe, or does not fit the request.

    The message always names the file and the problem.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
