"""Masked L1 reconstruction terms of L_inp."""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["MaskedL1"]


class MaskedL1(nn.Module):
    """mean(|ŷ − y| ⊙ R) with R = M (region 'valid') or 1 − M (region 'hole'); ŷ = out['image']."""

    def __init__(self, region: str = "hole", weight: float = 1.0) -> None:
        super().__init__()
        if region not in ("valid", "hole"):
            raise ValueError(f"region must be 'valid' or 'hole', got {region!r}")
        self.region, self.weight = region, weight

    def forward(self, out: dict[str, Any], batch: dict[str, Tensor]) -> Tensor:
        m = batch["mask"] if self.region == "valid" else 1 - batch["mask"]
        return ((out["image"] - batch["image"]).abs() * m).mean()  # [paper:L_inp-L1]
