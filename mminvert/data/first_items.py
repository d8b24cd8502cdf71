"""`FirstItems`: the first `n` items of a source (a split cut to an evaluation's image count)."""
from __future__ import annotations

from typing import Any

__all__ = ["FirstItems"]


class FirstItems:
    """The first `min(n, len(source))` items of `source`, with its `class_names`; `source` stays reachable
    (e.g. for its per-item `key`)."""

    def __init__(self, source: Any, n: int) -> None:
        self.source, self.n = source, min(int(n), len(source))
        self.class_names = getattr(source, "class_names", ())

    def __len__(self) -> int:
        return self.n

    def load(self, i: int):
        return self.source.load(i)
