"""The `diversity` column of an evaluation: K fills per input from each method that can sample, scored by the
mean pairwise perceptual distance between them (mminvert.metrics.diversity). Methods that give one fill per
input get no value (None, shown as n/a) and a reason in results.json's `diversity.unavailable`, never a 0.

Fills of the batch that starts at test image `start` are drawn with seed `seed + start`: the numbers are
deterministic for a given `seed` and batch size.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ..metrics.diversity import pairwise_diversity

__all__ = ["DiversityColumn"]


class DiversityColumn:
    def __init__(self, methods: Sequence[Any], num_samples: int = 2, seed: int = 0,
                 distance: torch.nn.Module | None = None, distance_name: str | None = None) -> None:
        if int(num_samples) < 2:
            raise ValueError(f"diversity.num_samples must be at least 2 (pairs of fills), got {num_samples}")
        self.num_samples, self.seed = int(num_samples), int(seed)
        self.unavailable = {m.name: getattr(m, "no_sampling_reason", "one fill per input") for m in methods
                            if getattr(m, "no_sampling_reason", "one fill per input")}
        self.sampling = [m for m in methods if m.name not in self.unavailable]
        self.distance, self.distance_name = distance, distance_name
        self.reset()

    def reset(self) -> None:
        self.sums = {m.name: 0.0 for m in self.sampling}
        self.count = 0

    @torch.no_grad()
    def update(self, batch: dict[str, Tensor], start: int) -> None:
        """Draw K fills per image of `batch` from every sampling method and add their diversities."""
        if self.sampling and self.distance is None:
            raise ValueError("a distance is needed to score the fills of sampling methods")
        for m in self.sampling:
            fills = m.sample(batch, self.num_samples, self.seed + int(start))
            self.sums[m.name] += float(pairwise_diversity(fills, self.distance).sum())
        self.count += batch["image"].shape[0]

    def compute(self) -> dict[str, float | None]:
        """{method: mean diversity over the images, or None for methods that cannot sample}."""
        values: dict[str, float | None] = dict.fromkeys(self.unavailable)
        values.update({name: s / max(self.count, 1) for name, s in self.sums.items()})
        return values

    def info(self) -> dict[str, Any]:
        """What results.json records about the column: distance used, K, seed, and why methods have no value."""
        return {"distance": self.distance_name, "num_samples": self.num_samples, "seed": self.seed,
                "unavailable": dict(self.unavailable)}
